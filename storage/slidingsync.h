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

/* The rooms named by the m.space.child events (with a non-empty `via`) in the current state
 * of `spaces` (array of room IDs, borrowed) that user_id is joined to: new array of IDs. */
json_t *db_ss_space_children(struct dbc *c, const char *user_id, const json_t *spaces);

#endif
