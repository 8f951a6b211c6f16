/* events.h - the events table: PDUs, their DAG edges, transaction IDs, relations and
 * reports, and the orderings /sync and /messages read. */
#ifndef AMTSBOTE_STORAGE_EVENTS_H
#define AMTSBOTE_STORAGE_EVENTS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* What the engine records with a PDU. */
struct db_event_meta {
    const char *event_id, *room_id, *type, *state_key, *sender; /* state_key NULL: not state */
    int64_t origin_server_ts, depth;
    int64_t state_group; /* the state after the event */
    const char *rejected; /* NULL when accepted */
    bool outlier;         /* not in the timeline: no stream ordering, no extremity */
    bool soft_failed;     /* received, soft failed (stored as an outlier with its state) */
};

/* Client transaction keys (server/room_txn.c; Client-Server API "Transaction identifiers"):
 * where a txn_id parameter below is not NULL it is a key: the client's txnId, "\x1f", then
 * DB_TXN_SCOPE_HEX lower-case hex digits naming the request path it came on. event_txns keeps
 * the two apart: a retransmission is the same (user, device, txnId, scope); /sync shows the
 * sending device the bare txnId. */
#define DB_TXN_SCOPE_HEX 64

/* Append the PDU (`json`: its canonical JSON) in one statement: the row, its prev_events
 * edges (array, borrowed), the room's forward extremities (the prev events replaced by this
 * one; outliers leave them alone) and, when txn_id (a key, see above) is non-NULL, the
 * client's transaction. Sets *stream to its stream ordering (0 for outliers). Returns 0, 1 if
 * the event ID (or the transaction) is already stored, -1. */
int db_events_insert(struct dbc *c, const struct db_event_meta *m, const char *json,
                     json_t *prev_events, const char *txn_device, const char *txn_id,
                     int64_t now_ms, int64_t *stream);

/* Give a stored outlier without state (the send_join answer's, or one fetched as an auth
 * event) the standing `m` describes (state group, outlier, soft_failed, rejected; the other
 * fields are the stored ones): a stream position and the extremities as db_events_insert
 * would. Returns 0 (*stream set), 1 if there is no such outlier, -1. */
int db_events_promote(struct dbc *c, const struct db_event_meta *m, json_t *prev_events,
                      int64_t *stream);
/* One event for db_events_insert_commit: what db_events_insert takes (prev as JSON text). */
struct db_event_row {
    struct db_event_meta m;
    const char *json, *prev, *txn_device, *txn_id;
};
/* Insert the rows (as db_events_insert would, in order), then the notifications `push_rows`
 * (array of {user_id, room_id, event_id, sender, thread_id, highlight}, may be NULL; none
 * for a user who ignores the event's sender), then COMMIT
 * when `commit`: one round trip for all. streams[i] gets each row's stream ordering. 0, or
 * -1 (a unique violation included; nothing committed: roll back). */
int db_events_insert_commit(struct dbc *c, const struct db_event_row *rows, size_t n,
                            int64_t now_ms, json_t *push_rows, bool commit, int64_t *streams);

/* A stored event. */
struct db_event {
    json_t *pdu;          /* parsed PDU (owned); for v3+ rooms without an "event_id" key */
    char *event_id, *room_id, *redacted_by; /* malloc'd; redacted_by may be NULL */
    int64_t stream, depth, state_group;
    bool rejected, outlier, soft_failed;
};
/* Returns 1 (fill *out; free with db_event_clear), 0 if unknown, -1. */
int db_events_get(struct dbc *c, const char *event_id, struct db_event *out);
void db_event_clear(struct db_event *e);

/* Replace the stored PDU of `event_id` by its redacted form and record the redaction.
 * Returns 0 or -1. */
int db_events_redact(struct dbc *c, const char *event_id, const char *redacted_json,
                     const char *redacted_by);

/* Redactions whose target is not here yet: remember one (0 or -1), or take those waiting for
 * `target` (a new array of redaction event IDs, empty when none; NULL on error). */
int db_pending_redaction_put(struct dbc *c, const char *room_id, const char *target,
                             const char *redaction_id);
json_t *db_pending_redactions_take(struct dbc *c, const char *room_id, const char *target);
/* Which of n (user, device, txn key) triples already produced events: a new object mapping
 * "user\x1fdevice\x1fkey" to the event ID; NULL on error. */
json_t *db_txn_lookup_many(struct dbc *c, const char *const *users, const char *const *devices,
                           const char *const *txns, size_t n);

/* Record an m.relates_to. 0 or -1. */
int db_relations_put(struct dbc *c, const char *event_id, const char *room_id,
                     const char *relates_to, const char *rel_type, const char *key,
                     const char *sender);

/* Page through a room's timeline in topological order (depth, stream). Events strictly
 * after (forward) or before (backward) the position (depth, stream) are returned, at most
 * `limit`, as a new JSON array of {"event_id", "depth", "stream", "pdu" (parsed),
 * "state_group", "redacted_by"} objects. NULL on error. */
json_t *db_events_page(struct dbc *c, const char *room_id, int64_t depth, int64_t stream,
                       bool forward, int limit);
/* Topological position of an event: 1 with *depth and *stream set, 0 if unknown, -1. */
int db_events_position(struct dbc *c, const char *event_id, int64_t *depth, int64_t *stream);
/* The newest position of a room (its last accepted event): 1, 0 if none, -1. */
int db_events_latest(struct dbc *c, const char *room_id, int64_t *depth, int64_t *stream);

/* Events relating to `parent` (optionally of one rel_type and event type), in topological
 * order after/before (depth, stream) like db_events_page. Same row shape. NULL on error. */
/* Thread roots of a room with their latest reply before stream `before`, most recently
 * active first, at most `limit`; with `participant` only threads they started or replied
 * to. Rows as db_relations_page, each with "order" = the latest reply's stream. NULL on
 * error. */
json_t *db_threads_page(struct dbc *c, const char *room_id, const char *participant,
                        int64_t before, int limit);
/* Events relating to `parent` (directly, or with levels > 1 through a chain of relations up
 * to that many steps), filtered by rel_type and event_type (NULL: any), paged from
 * (depth, stream) in the given direction. Rows {event_id, depth, stream, state_group, pdu,
 * redacted_by?}; NULL on error. */
json_t *db_relations_page(struct dbc *c, const char *room_id, const char *parent,
                          const char *rel_type, const char *event_type, int64_t depth,
                          int64_t stream, bool forward, int limit, int levels);
/* Aggregations for `parent`: {"m.thread": {count, latest}, "m.replace": latest edit event ID
 * by the parent's sender, "m.reference": [ids]} as a new object (empty when none); NULL on
 * error. `sender` is the parent's sender (only their edits count). */
json_t *db_relations_summary(struct dbc *c, const char *parent, const char *sender,
                             const char *user_id);
/* The event closest to ts in direction dir ('f': first at or after, 'b': last at or before):
 * 1 with *event_id (malloc'd) and *origin_ts, 0 if none, -1. */
int db_events_by_ts(struct dbc *c, const char *room_id, int64_t ts, char dir, char **event_id,
                    int64_t *origin_ts);

/* The state before the first timeline event at or after (depth, stream) in the DAG: that
 * event's state group, or for a state event its group's parent (0 before the create). Not the
 * state after its neighbour in (depth, stream) order, which after a fork may be an event of
 * another branch. 1 with *group set, 0 if no event is there (*group 0), -1. */
int db_events_group_before(struct dbc *c, const char *room_id, int64_t depth, int64_t stream,
                           int64_t *group);

/* The depth of the room's shallowest timeline event here (for a joined room, usually the join;
 * lower once backfilled): 0 when none, -1 on error. */
int64_t db_events_min_depth(struct dbc *c, const char *room_id);

int db_reports_put(struct dbc *c, const char *room_id, const char *event_id, const char *user_id,
                   const char *reason, int score, bool has_score, int64_t now_ms);

#endif
