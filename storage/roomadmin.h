/* roomadmin.h - SQL for Synapse's room admin API (migration 0100): the room listing, blocked
 * rooms, a room's purge, event reports and server-notice rooms. */
#ifndef AMTSBOTE_STORAGE_ROOMADMIN_H
#define AMTSBOTE_STORAGE_ROOMADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* Every room (room_id NULL) or one: a new array of objects {room_id, version, creator, public,
 * joined_members, joined_local_members, joined_local_devices, state_events, forgotten, st}
 * where st maps the state types the admin API shows (create, name, topic, avatar, canonical
 * alias, join rules, guest access, history visibility, encryption, tombstone) to their
 * contents. `local_suffix` is ":" and this server's name. NULL on error. */
json_t *db_admin_rooms(struct dbc *c, const char *room_id, const char *local_suffix);
/* Joined members of the room (current state), sorted: a new array of user IDs, NULL on error. */
json_t *db_admin_room_members(struct dbc *c, const char *room_id);
/* The room's current state events (only of `type` when non-NULL): a new array of objects
 * {pdu, event_id, redacted_by}; NULL on error. */
json_t *db_admin_room_state(struct dbc *c, const char *room_id, const char *type);
/* The room's forward extremities: a new array of {event_id, state_group, depth, received_ts
 * (null: not recorded)}, deepest first; NULL on error. */
json_t *db_admin_room_extremities(struct dbc *c, const char *room_id);
/* Local users joined, invited or knocking (user IDs ending in local_suffix): a new array of
 * [user_id, membership]; NULL on error. */
json_t *db_admin_room_local_members(struct dbc *c, const char *room_id, const char *local_suffix);

/* 1 blocked (*by, malloc'd, the admin who did it; by may be NULL), 0 not, -1. */
int db_blocked_room_get(struct dbc *c, const char *room_id, char **by);
/* Block (by the admin user_id) or unblock room_id. 0 or -1. */
int db_blocked_room_set(struct dbc *c, const char *room_id, bool block, const char *user_id,
                        int64_t now_ms);

/* Remove every row of room_id from every table that holds rooms' data, in one transaction
 * holding the room's writer lock (the rooms row FOR UPDATE), so no append interleaves. Kept:
 * event reports (an admin's record), the block, users' key backups. 1 purged, 0 unknown room,
 * -1 (rolled back). */
int db_room_purge(struct dbc *c, const char *room_id);

/* Event reports (reports of a room without event are not listed), most recent first unless
 * forwards, filtered by room, reporter and the reported event's sender (NULL: any): a new
 * array of Synapse's report objects, *total the count matching. NULL on error. */
json_t *db_event_reports(struct dbc *c, int64_t from, int64_t limit, bool forwards,
                         const char *room_id, const char *user_id, const char *sender,
                         int64_t *total);
/* One report with event_json: 1 with *out (new), 0 unknown, -1. */
int db_event_report_get(struct dbc *c, int64_t id, json_t **out);
/* 1 deleted, 0 unknown, -1. */
int db_event_report_delete(struct dbc *c, int64_t id);

/* The server-notices room of user_id: 1 with *room_id (malloc'd), 0 none, -1. */
int db_notice_room_get(struct dbc *c, const char *user_id, char **room_id);
int db_notice_room_set(struct dbc *c, const char *user_id, const char *room_id);
#endif
