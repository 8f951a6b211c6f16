/* sync.h - the reads /sync is made of: a user's memberships, timelines by stream position,
 * state before a position, room summaries, stripped state, to-device inboxes and device-list
 * changes. Results are JSON built in PostgreSQL; every function returns NULL on error. */
#ifndef AMTSBOTE_STORAGE_SYNC_H
#define AMTSBOTE_STORAGE_SYNC_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* The user's current membership in every room they have not forgotten: new array of
 * {room_id, membership, event_id, stream, depth, sender} (the member event's orderings and
 * sender). Rooms this server is not in (remote_memberships, migration 0055) add `stripped`
 * (the stripped state to show) and `pdu` (the membership event), depth 0. */
json_t *db_sync_memberships(struct dbc *c, const char *user_id);

/* The rooms of `rooms` (array of IDs, borrowed) where the user was joined at stream position
 * `since` and has no member event other than a join in (since, upto]: new array of IDs. */
json_t *db_sync_joined_throughout(struct dbc *c, const char *user_id, json_t *rooms,
                                  int64_t since, int64_t upto);

/* Timelines: for each {room_id, since, upto} of `ranges` (array, borrowed), the newest `limit`
 * events with since < stream <= upto that user_id may be shown, newest first: not the
 * non-state events of the users in their m.ignored_user_list (spec: "Ignoring Users"), and
 * only those passing the types, not_types, senders, not_senders and contains_url of `tf`
 * (a RoomEventFilter, borrowed, may be NULL; matched as filter_event_ok does), so the limit
 * is filled from matching events. New object {room_id: [{event_id, depth, stream, group,
 * parent, redacted_by, txn_id, related, pdu}]} holding only rooms that have such events;
 * parent is, for a state event, the parent of its state group (the state before it), else
 * null; txn_id is the client transaction ID when user_id's device_id sent the event, else
 * null; related is true when relations point at the event (threads, edits, reactions). */
json_t *db_sync_timelines(struct dbc *c, json_t *ranges, int limit, const char *user_id,
                          const char *device_id, const json_t *tf);

/* Unread counts of the user in `rooms` after their read receipts: new object {room_id:
 * {thread_id: [notifications, highlights]}} (thread "main" for the main timeline and
 * unthreaded events); NULL on error. */
json_t *db_push_counts(struct dbc *c, const char *user_id, json_t *rooms, int64_t upto);
/* db_sync_timelines, db_push_counts(rooms) and, when groups is non-NULL, db_sync_groups_at
 * (ranges) in one round trip. 0 (all set) or -1. */
int db_sync_timelines_counts(struct dbc *c, json_t *ranges, int limit, const char *user_id,
                             const char *device_id, const json_t *tf, json_t *rooms, int64_t upto,
                             json_t **tls, json_t **counts, json_t **groups);
/* For each {room_id, since, upto} of `ranges` (borrowed): the state groups at `since` and at
 * `upto` (as db_sync_group_at_stream; 0 when none). New object {room_id: [g_since, g_upto]}. */
json_t *db_sync_groups_at(struct dbc *c, json_t *ranges);

/* Events by ID: new object {event_id: {pdu, redacted_by, stream}}. */
json_t *db_events_many(struct dbc *c, json_t *ids);

/* The state group after the newest accepted timeline event of the room with stream <= pos
 * (0 when there is none). -1 on error. */
int64_t db_sync_group_at_stream(struct dbc *c, const char *room_id, int64_t pos);

/* Topological position (depth, stream) of the room's newest timeline event with stream <= pos:
 * 1 with them set, 0 if there is none, -1 on error. */
int db_events_at_stream(struct dbc *c, const char *room_id, int64_t pos, int64_t *depth,
                        int64_t *stream);

/* Member counts and heroes of rooms: new object {room_id: {"joined": n, "invited": n,
 * "heroes": [up to 5 user IDs other than user_id, joined or invited first, else left], or
 * null when the room has a non-empty name or canonical alias (spec: heroes are for naming)}}. */
json_t *db_sync_summaries(struct dbc *c, json_t *rooms, const char *user_id);

/* Stripped state for invites and knocks (create, join rules, name, avatar, canonical alias,
 * topic, encryption, and the user's own member event): new array of {type, state_key,
 * content, sender}. */
json_t *db_sync_stripped_state(struct dbc *c, const char *room_id, const char *user_id);


/* The member events of `users` (array of user IDs, borrowed) in state group `group`: new
 * object {user_id: event_id} holding those that have one. */
json_t *db_state_group_members(struct dbc *c, int64_t group, json_t *users);

/* Lazy-loading record of a device (migration 0020): the member events /sync sent it. */
/* Forget everything sent to the device (a sync without `since`). 0 or -1. */
int db_lazy_members_reset(struct dbc *c, const char *user_id, const char *device_id);
/* What was sent to the device in `rooms` (array, borrowed) by responses up to position
 * `since` (a later response the client never acknowledged does not count): new object
 * {room_id: {state_key: event_id}}. */
json_t *db_lazy_members_get(struct dbc *c, const char *user_id, const char *device_id,
                            json_t *rooms, int64_t since);
/* Record `rows` (array of {room_id, state_key, event_id}, borrowed; for a repeated room and
 * state_key the first counts) as sent at position pos, then keep only the device's newest
 * `keep` rows. 0 or -1. */
int db_lazy_members_put(struct dbc *c, const char *user_id, const char *device_id, json_t *rows,
                        int64_t pos, int keep);

#endif
