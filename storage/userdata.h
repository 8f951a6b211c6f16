/* userdata.h - per-user data that /sync reports: filters, account data (global and per room,
 * room tags among it), receipts, push actions (notification counts), presence. Writers that
 * take a stream position return it in *pos so the caller can tell the notifier. */
#ifndef AMTSBOTE_STORAGE_USERDATA_H
#define AMTSBOTE_STORAGE_USERDATA_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* The highest stream position ever taken (0 if none); for start-up. -1 on error. */
int64_t db_stream_max(struct dbc *c);

/* Store a filter (canonical JSON text); its new ID into *id. 0 or -1. */
int db_filter_put(struct dbc *c, const char *user_id, const char *json, int64_t *id);
/* A user's filter (new object) or JSON null when unknown; NULL on error. */
json_t *db_filter_get(struct dbc *c, const char *user_id, int64_t id);

/* Set account data (room_id "" = global; content JSON text). 0 or -1. */
int db_account_data_put(struct dbc *c, const char *user_id, const char *room_id,
                        const char *type, const char *content, int64_t *pos);
/* Content (new object) or JSON null when unset; NULL on error. */
json_t *db_account_data_get(struct dbc *c, const char *user_id, const char *room_id,
                            const char *type);
/* Account data changed in (since, upto] (since 0: all): new object {"global": [{type,
 * content}], "rooms": {room_id: [{type, content}]}}; NULL on error. */
json_t *db_account_data_since(struct dbc *c, const char *user_id, int64_t since, int64_t upto);

/* Put a receipt for event_id (which must be in room_id: 0 when it is not, 1 when stored);
 * -1 on error. thread_id "" = unthreaded. */
int db_receipt_put(struct dbc *c, const char *room_id, const char *type, const char *user_id,
                   const char *thread_id, const char *event_id, int64_t ts, int64_t *pos);
/* m.receipt content per room for receipts in (since, upto] of `rooms` (array of IDs), private
 * receipts only the user's own: new object {room_id: content}; NULL on error. */
json_t *db_receipts_since(struct dbc *c, json_t *rooms, const char *user_id, int64_t since,
                          int64_t upto);

/* Record notifications and commit, in one round trip: `rows` is an array of {user_id,
 * room_id, stream, event_id, thread_id, highlight}. 0, or -1 (nothing committed: roll back). */
int db_push_actions_commit(struct dbc *c, json_t *rows);
/* Who an event in room_id may notify, in one query: {"members": [{user_id, displayname,
 * rules (their push rule store, or null)}] of joined users other than `sender` (plus
 * `invitee` when non-NULL), "count": joined
 * members, "power_levels": content or null}; NULL on error. displayname is null for users
 * without rules of their own (only their rules can read it). With rules_only, "members" holds
 * only users with rules of their own and the invitee. */
json_t *db_push_targets(struct dbc *c, const char *room_id, const char *sender,
                        const char *invitee, bool rules_only);

/* Presence: set (status_msg may be NULL) and read. */
int db_presence_put(struct dbc *c, const char *user_id, const char *presence,
                    const char *status_msg, int64_t now_ms, int64_t *pos);
/* {presence, status_msg?, last_active_ts} or JSON null; NULL on error. */
json_t *db_presence_get(struct dbc *c, const char *user_id);
/* 1 if the two users are both joined to some room, 0 if not, -1 on error. */
int db_users_share_room(struct dbc *c, const char *a, const char *b);
/* Presence of users sharing a room with user_id (themselves included) changed in
 * (since, upto]: new array of {user_id, presence, status_msg, last_active_ts}. */
json_t *db_presence_since(struct dbc *c, const char *user_id, int64_t since, int64_t upto);

#endif
