/* fedqueue.h - federation transactions in PostgreSQL (migration 0060): the answers given to
 * received transactions, and the per-destination queue of PDUs and EDUs to send. */
#ifndef AMTSBOTE_STORAGE_FEDQUEUE_H
#define AMTSBOTE_STORAGE_FEDQUEUE_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

enum { DB_FEDQ_PDU = 0, DB_FEDQ_EDU = 1 };
/* A transaction carries at most this many bytes of PDUs and as many of EDUs (but always at
 * least one of each kind queued), so that it stays within a receiver's body limit (8 MiB
 * here, HTTP_TXN_BODY_LIMIT). */
#define DB_FEDQ_MAX_BYTES (3 * 1024 * 1024)

/* The stored answer to origin's transaction txn_id into *response (malloc'd JSON text; NULL
 * when it was not seen). 0 or -1. */
int db_fedtxn_get(struct dbc *c, const char *origin, const char *txn_id, char **response);
/* Store the answer (a repeat keeps the first one); answers older than a day are dropped.
 * 0 or -1. */
int db_fedtxn_put(struct dbc *c, const char *origin, const char *txn_id, const char *response,
                  int64_t now_ms);

/* Queue `body` (JSON text) of `kind` for every destination in `destinations` (borrowed array
 * of server names). 0 or -1. */
int db_fedq_add(struct dbc *c, const json_t *destinations, int kind, const char *body);

/* The destinations with something queued: new array of [destination, next_ts]. NULL on
 * error. */
json_t *db_fedq_pending(struct dbc *c);

/* The transaction to send to `dest`: the one in flight when there is one (same txn_id,
 * same rows), else a new one of the oldest max_pdus PDUs and max_edus EDUs under the ID
 * `new_txn_id`. *txn_id (malloc'd) and *pdus / *edus (new arrays of JSON text strings) are
 * set; both arrays empty when nothing is queued. Each kind is also bounded by
 * DB_FEDQ_MAX_BYTES. No PDU goes before an EDU queued ahead of it: when EDUs are left
 * for a later transaction, so are the PDUs queued after the first of them (a room key sent
 * as a to-device message before the message it opens must not arrive after it). 0 or -1. */
int db_fedq_take(struct dbc *c, const char *dest, const char *new_txn_id, int max_pdus,
                 int max_edus, char **txn_id, json_t **pdus, json_t **edus);
/* Catch-up after `dest` failed (Synapse's per_destination_queue does the same): the
 * transaction in flight is given up (its rows return to the queue; a new transaction takes
 * them under a new ID, which the spec allows: PDUs are idempotent by event ID), and of the
 * PDUs queued for `dest` only the newest of each room is kept. The destination learns the
 * others through that event's prev_events (/get_missing_events), so an outage of any length
 * costs one PDU per room instead of a replay of every one. EDUs are all kept. Returns the
 * number of PDUs dropped, -1 on error. Run in the caller's transaction, before db_fedq_take. */
long db_fedq_catch_up(struct dbc *c, const char *dest);
/* `dest` answered txn_id: drop its rows, forget the transaction and the back-off. 0 or -1. */
int db_fedq_done(struct dbc *c, const char *dest, const char *txn_id);
/* Sending to `dest` failed: wait retry_ms (kept for the next failure) until next_ts. 0/-1. */
int db_fedq_failed(struct dbc *c, const char *dest, int64_t retry_ms, int64_t next_ts);
/* The back-off of `dest` so far (0 when none). -1 on error. */
int64_t db_fedq_retry_ms(struct dbc *c, const char *dest);

#endif
