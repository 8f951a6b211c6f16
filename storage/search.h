/* search.h - SQL for full-text search over room events (migration 0008). */
#ifndef AMTSBOTE_STORAGE_SEARCH_H
#define AMTSBOTE_STORAGE_SEARCH_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* Index the searchable events (m.room.message bodies, room names and topics) with stream
 * ordering up to `upto`, at most `batch` positions past where the index stands. Sets *done to
 * the position the index reached. 0 or -1. */
int db_search_index(struct dbc *c, int64_t upto, int64_t batch, int64_t *done);

/* For a transaction that deletes events (a purge), as its first statement: waits for an
 * indexer round in progress to commit and keeps the next from starting until this
 * transaction ends, so the indexer cannot insert rows for events the purge deletes
 * (storage/search.c). Purges do not wait for each other. 0 or -1 (the caller rolls back). */
int db_search_fence(struct dbc *c);

/* Events of `rooms` (borrowed array of room IDs) whose `keys` (borrowed array, e.g.
 * "content.body") match every word of `words` (borrowed array of lower-case words, each
 * matched as a prefix), not redacted. Ordered by rank (then newest) or, with `recent`, newest
 * first, skipping `offset`; at most `limit`. A new object {total, rows: [{event_id, room_id,
 * rank}]}, or NULL on error. */
json_t *db_search_events(struct dbc *c, const json_t *words, const json_t *rooms,
                         const json_t *keys, bool recent, int64_t offset, int limit);

#endif
