/* fedmember.h - what the federation membership handshakes read and write (storage/fedmember.c):
 * the state and auth chain a resident server answers with, the servers in a room, and the
 * memberships of local users in rooms this server is not in (migration 0055). */
#ifndef AMTSBOTE_DB_FEDMEMBER_H
#define AMTSBOTE_DB_FEDMEMBER_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* The room's current state as PDUs (new array of objects, as stored: no event_id key from room
 * version 3 on), or NULL on error. */
json_t *db_fed_current_state_pdus(struct dbc *c, const char *room_id);

/* The room's current create, join rules, name, avatar, canonical alias, topic and encryption
 * events as PDUs (invite_room_state, knock_room_state). New array, or NULL on error. */
json_t *db_fed_stripped_pdus(struct dbc *c, const char *room_id);

/* The auth chain of the events `ids` (borrowed array of event IDs): every event reachable
 * through auth_events, the events themselves excluded unless reached. New array of PDUs (as
 * stored), or NULL on error. At most `limit` events. */
json_t *db_fed_auth_chain(struct dbc *c, const json_t *ids, int limit);

/* The servers of the room's joined members (current state), sorted; new array of strings, or
 * NULL on error. */
json_t *db_fed_servers_in_room(struct dbc *c, const char *room_id);

/* One row of remote_memberships. */
struct db_remote_membership {
    char *membership, *event_id, *room_version, *sender;
    json_t *servers, *stripped, *pdu;
    int64_t stream;
};
void db_remote_membership_clear(struct db_remote_membership *m);

/* Insert or replace user_id's row for room_id with a new stream position (written to
 * *stream). `servers` and `stripped` borrowed; `pdu` canonical JSON text. 0 or -1. */
int db_remote_membership_put(struct dbc *c, const char *user_id, const char *room_id,
                             const char *membership, const char *event_id, const char *room_version,
                             const char *sender, const json_t *servers, const json_t *stripped,
                             const char *pdu, int64_t *stream);

/* The row of (user_id, room_id): 1 found (*out filled, clear it), 0 none, -1 error. */
int db_remote_membership_get(struct dbc *c, const char *user_id, const char *room_id,
                             struct db_remote_membership *out);

#endif
