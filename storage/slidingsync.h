/* slidingsync.h - the reads native sliding sync (MSC4186) adds to those of /sync
 * (storage/sync.h): the user's room list with its activity orderings, and space children.
 * Every function returns NULL on error. */
#ifndef AMTSBOTE_STORAGE_SLIDINGSYNC_H
#define AMTSBOTE_STORAGE_SLIDINGSYNC_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* Every room the user has a membership in and has not forgotten, as of stream position upto:
 * new array of {room_id, membership, event_id, stream, depth, sender (of the member event),
 * last (the stream position of the newest event the user may know of: at most the member
 * event's for a user no longer in the room), bump (the same over the event types that bump
 * a room, `bump_types`, a JSON array of strings, borrowed; 0 when none), encrypted (bool),
 * room_type (the create event's content.type, or null), tags (the `tags` object of the user's
 * m.tag for the room, or null)}. */
json_t *db_ss_rooms(struct dbc *c, const char *user_id, int64_t upto, const json_t *bump_types);

/* What moved in rooms (array of room IDs, borrowed) in (since, upto]: new object {room_id:
 * {last, bump (null when no event of `bump_types` came), encrypted (an m.room.encryption
 * arrived)}} holding the rooms with an accepted event in that range. The update of a room
 * list db_ss_rooms read at `since`, for rooms the user stayed joined to. */
json_t *db_ss_rooms_moved(struct dbc *c, const json_t *rooms, int64_t since, int64_t upto,
                          const json_t *bump_types);

/* The rooms named by the m.space.child events (with a non-empty `via`) in the current state
 * of `spaces` (array of room IDs, borrowed) that user_id is joined to: new array of IDs. */
json_t *db_ss_space_children(struct dbc *c, const char *user_id, const json_t *spaces);

/* The part of two states of room_id that an update of a room already sent needs: for the
 * states at stream positions `since` and `upto` (as db_sync_group_at_stream finds them), the
 * entries of the keys of the accepted state events with since < stream <= upto (the room's
 * state changes in between, on a linear DAG), of m.room.name and m.room.avatar, and of the
 * m.room.member events of `users` (array of user IDs, borrowed). In one query. New object
 * {"then": [[type, state_key, event_id]...], "now": [...]}. */
json_t *db_ss_state_delta(struct dbc *c, const char *room_id, int64_t since, int64_t upto,
                          const json_t *users);

#endif
