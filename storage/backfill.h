/* backfill.h - storage for events fetched from other servers to extend a room's history
 * backwards (storage/backfill.c, migration 0070) and the reads the federation event
 * endpoints walk the DAG with. */
#ifndef AMTSBOTE_STORAGE_BACKFILL_H
#define AMTSBOTE_STORAGE_BACKFILL_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"
#include "storage/events.h"

/* Place a backfilled event in the timeline with the next negative stream ordering (migration
 * 0070): a new row with its prev_events edges, or a stored outlier without state (accepted)
 * given the position. m->state_group is the state it is read with; m->outlier and
 * m->soft_failed are ignored; extremities and current state are not touched. `json` is the
 * stored text. Returns 0 (*stream set), 1 when the event already has a place (nothing
 * changed), -1. */
int db_backfill_store(struct dbc *c, const struct db_event_meta *m, const char *json,
                      const json_t *prev_events, int64_t *stream);

/* The room's earliest timeline event (lowest depth, then stream ordering; rejected events
 * excluded): 1 with *event_id (malloc'd), *stream and *group set, 0 when none, -1. */
int db_backfill_earliest(struct dbc *c, const char *room_id, char **event_id, int64_t *stream,
                         int64_t *group);

/* Which of `ids` (borrowed array of event IDs) are stored in room_id with a state group (in
 * the timeline, soft failed, or backfilled): a new object id -> true. NULL on error. */
json_t *db_backfill_placed(struct dbc *c, const char *room_id, const json_t *ids);

/* Which of `ids` (borrowed array of event IDs) are stored in room_id, rejected or not: a new
 * object id -> [type, state_key] (state_key null for non-state events). NULL on error. */
json_t *db_backfill_keys(struct dbc *c, const char *room_id, const json_t *ids);

#endif
