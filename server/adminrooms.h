/* adminrooms.h - Synapse's room admin API as the engine sees it: the room listing and
 * details (server/adminrooms.c), blocked rooms, event reports, and the background deletion
 * of rooms with its status (server/roompurge.c). The HTTP side is api/admin_rooms.c. */
#ifndef AMTSBOTE_ADMINROOMS_H
#define AMTSBOTE_ADMINROOMS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"
#include "server/room.h"

/* GET /_synapse/admin/v1/rooms. order_by (NULL: name) one of Synapse's keys, dir "f"/"b",
 * search_term and the public_rooms / empty_rooms filters (-1: no filter, 0, 1). On ROOM_OK
 * *out is Synapse's answer {rooms, offset, total_rooms, next_batch?, prev_batch?};
 * ROOM_BAD_PARAM (why says which) for an unknown order_by. */
enum room_rc adminrooms_list(int64_t from, int64_t limit, const char *order_by, bool backwards,
                             const char *search_term, int public_rooms, int empty_rooms,
                             json_t **out, char *why, size_t n);
/* GET /_synapse/admin/v1/rooms/{roomId}: the details object (new), ROOM_NOT_FOUND. */
enum room_rc adminrooms_details(const char *room_id, json_t **out);
/* .../members: {members, total}; .../state: {state} in the client format, only of `type` when
 * non-NULL. ROOM_NOT_FOUND for an unknown room. */
enum room_rc adminrooms_members(const char *room_id, json_t **out);
enum room_rc adminrooms_state(const char *room_id, const char *type, json_t **out);
/* .../forward_extremities: {count, results: [{event_id, state_group, depth, received_ts}]}. */
enum room_rc adminrooms_extremities(const char *room_id, json_t **out);

/* .../messages: the room's timeline as /messages pages it (tokens t<depth>_<stream>, from
 * NULL: the start (forwards) or the newest event (backwards); `to` may be NULL), every event
 * whatever the history visibility, filtered by a RoomEventFilter (borrowed, may be NULL):
 * {chunk, start, end?, state: []}. ROOM_NOT_FOUND, ROOM_BAD_PARAM (a token). */
enum room_rc adminrooms_messages(const char *room_id, const char *from, const char *to,
                                 bool forward, int limit, json_t *filter, json_t **out, char *why,
                                 size_t n);
/* Whether local users may not join room_id nor other servers join it through this one (a
 * database error answers true: the block is not lifted by an outage). */
bool adminrooms_blocked(const char *room_id);
/* GET .../block: {block, user_id?} (new). PUT: block or unblock (by admin). ROOM_OK or ERR. */
enum room_rc adminrooms_block_get(const char *room_id, json_t **out);
enum room_rc adminrooms_block_set(const char *room_id, bool block, const char *admin);

/* GET /_synapse/admin/v1/event_reports: {event_reports, total, next_token?} (new); the
 * filters (NULL: any) are the room, the reporter and the reported event's sender. */
enum room_rc adminrooms_reports(int64_t from, int64_t limit, bool forwards, const char *room_id,
                                const char *user_id, const char *sender, json_t **out);
/* One report (with event_json), or delete one: ROOM_OK, ROOM_NOT_FOUND, ROOM_ERR. */
enum room_rc adminrooms_report_get(int64_t id, json_t **out);
enum room_rc adminrooms_report_delete(int64_t id);

/* --- deleting rooms (server/roompurge.c) --------------------------------------------------- */

/* What DELETE /_synapse/admin/v2/rooms/{roomId} asks for. Strings are copied. */
struct roompurge_params {
    const char *new_room_user_id, *room_name, *message; /* NULL: no new room / defaults */
    const char *requester;                              /* the admin */
    bool block, purge, force_purge;
};
/* Start the background pool. 0 or -1. */
int roompurge_init(const struct config *cfg);
/* Stop it: work waiting is marked failed, work running is waited for. */
void roompurge_shutdown(void);
/* Queue the deletion of room_id: local members leave (and join the new room when one is
 * made), local aliases go (or move), the room leaves the directory, is blocked when asked,
 * and is purged from the database when asked (refused while local users are still joined,
 * unless force_purge). On ROOM_OK *delete_id (malloc'd). ROOM_IN_USE: a deletion of that room
 * is already running; ROOM_ERR: the queue is full or the pool is not running. */
enum room_rc roompurge_start(const char *room_id, const struct roompurge_params *p,
                             char **delete_id, char *why, size_t n);
/* Wait (at most timeout_ms; less once roompurge_quiesce was called) for a deletion to end:
 * ROOM_OK with its status object, ROOM_NOT_FOUND, ROOM_ERR when it has not ended. For the
 * synchronous v1 API, on a thread that may block. */
enum room_rc roompurge_wait(const char *delete_id, int64_t timeout_ms, json_t **out);
/* Shutdown, before parked requests are drained: waiters return at once. */
void roompurge_quiesce(void);
/* Status objects {delete_id, room_id, status, error?, shutdown_room}: all of a room's
 * deletions of the last 24 h ({results: [...]}, ROOM_NOT_FOUND when none), or one by ID. */
enum room_rc roompurge_status_room(const char *room_id, json_t **out);
enum room_rc roompurge_status_id(const char *delete_id, json_t **out);
#endif
