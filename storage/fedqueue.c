/* fedqueue.c - SQL for federation transactions (migration 0060): answers to received
 * transactions (idempotency per origin and transaction ID) and the per-destination outbound
 * queue (with the catch-up that follows an outage, db_fedq_catch_up). Invariant: the rows of a
 * destination's transaction in flight carry its txn_id, and fed_destinations.txn_id names it, until
 * the destination answers (db_fedq_done). */
#include "storage/fedqueue.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

#define DAY_MS (24LL * 3600 * 1000)

int db_fedtxn_get(struct dbc *c, const char *origin, const char *txn_id, char **response)
{
    const char *p[] = {origin, txn_id};
    return db_string(
        db_exec(c, "SELECT response FROM fed_txns_in WHERE origin = $1 AND txn_id = $2", 2, p),
        response);
}

int db_fedtxn_put(struct dbc *c, const char *origin, const char *txn_id, const char *response,
                  int64_t now_ms)
{
    char n[24], old[24];
    const char *p[] = {origin, txn_id, response, db_i64(n, now_ms), db_i64(old, now_ms - DAY_MS)};
    return db_run(c,
                  "WITH gone AS (DELETE FROM fed_txns_in WHERE ts < $5) "
                  "INSERT INTO fed_txns_in (origin, txn_id, response, ts) VALUES ($1, $2, $3, $4) "
                  "ON CONFLICT DO NOTHING",
                  5, p);
}

int db_fedq_add(struct dbc *c, const json_t *destinations, int kind, const char *body)
{
    char *dests = json_dumps(destinations, JSON_COMPACT);
    char k[24];
    if (!dests)
        return -1;
    const char *p[] = {dests, db_i64(k, kind), body};
    int rc = db_run(c,
                    "INSERT INTO fed_queue (destination, kind, body) "
                    "SELECT d, $2::smallint, $3 FROM json_array_elements_text($1::json) d",
                    3, p);
    free(dests);
    return rc;
}

json_t *db_fedq_pending(struct dbc *c)
{
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_array(q.destination, coalesce(d.next_ts, 0))), "
        "'[]') FROM (SELECT DISTINCT destination FROM fed_queue) q "
        "LEFT JOIN fed_destinations d USING (destination)",
        0, NULL));
}

int db_fedq_take(struct dbc *c, const char *dest, const char *new_txn_id, int max_pdus,
                 int max_edus, char **txn_id, json_t **pdus, json_t **edus)
{
    char mp[24], me[24];
    *txn_id = NULL;
    *pdus = *edus = NULL;
    const char *p1[] = {dest};
    char *cur = NULL;
    if (db_string(db_exec(c, "SELECT txn_id FROM fed_destinations WHERE destination = $1", 1, p1),
                  &cur) < 0)
        return -1;
    if (!cur) {
        char mb[24];
        const char *p2[] = {dest, new_txn_id, db_i64(mp, max_pdus), db_i64(me, max_edus),
                            db_i64(mb, DB_FEDQ_MAX_BYTES)};
        if (db_run(c,
                   "WITH x AS (SELECT id, kind, row_number() OVER w <= CASE kind WHEN 0 "
                   "THEN $3::int ELSE $4::int END AND (sum(length(body)) OVER w <= "
                   "$5::bigint OR row_number() OVER w = 1) AS fits FROM fed_queue WHERE "
                   "destination = $1 AND txn_id IS NULL WINDOW w AS (PARTITION BY kind "
                   "ORDER BY id)), "
                   "cut AS (SELECT min(id) AS id FROM x WHERE kind = 1 AND NOT fits), "
                   "u AS (UPDATE fed_queue SET txn_id = $2 WHERE id IN (SELECT x.id FROM x, "
                   "cut WHERE x.fits AND (x.kind = 1 OR cut.id IS NULL OR x.id < cut.id)) "
                   "RETURNING 1) "
                   "INSERT INTO fed_destinations (destination, txn_id) SELECT $1, $2 "
                   "WHERE EXISTS (SELECT 1 FROM u) ON CONFLICT (destination) DO UPDATE "
                   "SET txn_id = EXCLUDED.txn_id",
                   5, p2) < 0)
            return -1;
        if (!(cur = strdup(new_txn_id)))
            return -1;
    }
    const char *p3[] = {dest, cur};
    PGresult *r = db_exec(c,
                          "SELECT kind, body FROM fed_queue WHERE destination = $1 AND "
                          "txn_id = $2 ORDER BY id",
                          2, p3);
    if (!r) {
        free(cur);
        return -1;
    }
    *pdus = json_array();
    *edus = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(db_int(r, i, 0) == DB_FEDQ_PDU ? *pdus : *edus,
                              json_string(db_val(r, i, 1)));
    PQclear(r);
    *txn_id = cur;
    return 0;
}

long db_fedq_catch_up(struct dbc *c, const char *dest)
{
    const char *p[] = {dest};
    if (db_run(c,
               "WITH d AS (UPDATE fed_destinations SET txn_id = NULL WHERE destination = $1) "
               "UPDATE fed_queue SET txn_id = NULL WHERE destination = $1 AND txn_id IS NOT NULL",
               1, p) < 0)
        return -1;
    /* the newest queued PDU of each room stays; its prev_events lead the destination to the
     * others (a PDU without room_id, which no room event lacks, is kept as it is) */
    PGresult *r = db_exec(c,
                          "DELETE FROM fed_queue WHERE id IN (SELECT id FROM (SELECT id, "
                          "row_number() OVER (PARTITION BY coalesce(body::json->>'room_id', "
                          "id::text) ORDER BY id DESC) AS rn FROM fed_queue "
                          "WHERE destination = $1 AND kind = 0) x WHERE rn > 1)",
                          1, p);
    long n = db_affected(r);
    PQclear(r);
    return n;
}

int db_fedq_done(struct dbc *c, const char *dest, const char *txn_id)
{
    const char *p[] = {dest, txn_id};
    return db_run(c,
                  "WITH gone AS (DELETE FROM fed_queue WHERE destination = $1 AND txn_id = $2) "
                  "UPDATE fed_destinations SET txn_id = NULL, retry_ms = 0, next_ts = 0 "
                  "WHERE destination = $1",
                  2, p);
}

int db_fedq_failed(struct dbc *c, const char *dest, int64_t retry_ms, int64_t next_ts)
{
    char r[24], n[24];
    const char *p[] = {dest, db_i64(r, retry_ms), db_i64(n, next_ts)};
    return db_run(c,
                  "INSERT INTO fed_destinations (destination, retry_ms, next_ts) VALUES ($1, $2, "
                  "$3) ON CONFLICT (destination) DO UPDATE SET retry_ms = $2, next_ts = $3",
                  3, p);
}

int64_t db_fedq_retry_ms(struct dbc *c, const char *dest)
{
    const char *p[] = {dest};
    PGresult *r = db_exec(c, "SELECT retry_ms FROM fed_destinations WHERE destination = $1", 1, p);
    if (!r)
        return -1;
    int64_t v = PQntuples(r) ? db_int(r, 0, 0) : 0;
    PQclear(r);
    return v;
}
