/* events.c - SQL for PDUs, their edges, transaction IDs, relations and reports.
 *
 * Stream orderings come from one sequence for all rooms, taken when the event is inserted
 * inside the room's append transaction; /sync reads by stream, /messages by (depth, stream).
 * Outliers (events known but not part of the room's timeline) get no stream ordering. */
#include "storage/events.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

/* The row, its edges, the extremities and the transaction ID in one statement. */
static const char insert_sql[] =
    "WITH ins AS (INSERT INTO events (event_id, room_id, type, state_key, sender, "
    "origin_server_ts, depth, state_group, rejected, outlier, json, soft_failed, stream_ordering) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $16, CASE WHEN $10 THEN NULL ELSE "
    "nextval('stream_ordering_seq') END) RETURNING event_nid, stream_ordering), "
    "edges AS (INSERT INTO event_edges (event_nid, prev_event_id) SELECT DISTINCT "
    "ins.event_nid, p FROM ins, jsonb_array_elements_text($12::jsonb) AS p), "
    "gone AS (DELETE FROM room_extremities WHERE NOT $10 AND room_id = $2 AND event_id IN "
    "(SELECT jsonb_array_elements_text($12::jsonb))), "
    "ext AS (INSERT INTO room_extremities (room_id, event_id) SELECT $2, $1 FROM ins "
    "WHERE NOT $10 ON CONFLICT DO NOTHING), "
    "txn AS (INSERT INTO event_txns (user_id, device_id, txn_id, scope, event_id, created_ts) "
    "SELECT $5, $13, " DB_TXN_ID_SQL("$14") ", " DB_TXN_SCOPE_SQL("$14") ", $1, $15 FROM ins "
    "WHERE $14::text IS NOT NULL) "
    "SELECT stream_ordering FROM ins";

#define NPARAMS 16
_Static_assert(DB_TXN_SCOPE_HEX == 64, "DB_TXN_ID_SQL and DB_TXN_SCOPE_SQL count 64 + 1");

/* A transaction key's shape (storage/events.h): what server/room_txn.c makes, never input. */
__attribute__((unused)) static bool txn_key_ok(const char *key)
{
    size_t len = key ? strlen(key) : 0;
    return !key || (len > DB_TXN_SCOPE_HEX && key[len - DB_TXN_SCOPE_HEX - 1] == '\x1f');
}

/* Text parameters of insert_sql for one event (bufs: 4 x 24 bytes of number text). */
static void insert_params(const struct db_event_meta *m, const char *json, const char *prev,
                          const char *txn_device, const char *txn_id, int64_t now_ms,
                          char bufs[4][24], const char *p[NPARAMS])
{
    assert(txn_key_ok(txn_id));
    const char *v[NPARAMS] = {m->event_id,
                         m->room_id,
                         m->type,
                         m->state_key,
                         m->sender,
                         db_i64(bufs[0], m->origin_server_ts),
                         db_i64(bufs[1], m->depth),
                         m->state_group > 0 ? db_i64(bufs[2], m->state_group) : NULL,
                         m->rejected,
                         m->outlier ? "t" : "f",
                         json,
                         prev,
                         txn_device ? txn_device : "",
                         txn_id,
                         db_i64(bufs[3], now_ms),
                         m->soft_failed ? "t" : "f"};
    memcpy(p, v, sizeof v);
}

int db_events_insert(struct dbc *c, const struct db_event_meta *m, const char *json,
                     json_t *prev_events, const char *txn_device, const char *txn_id,
                     int64_t now_ms, int64_t *stream)
{
    char bufs[4][24];
    const char *p[NPARAMS];
    char *prev = prev_events ? json_dumps(prev_events, JSON_COMPACT) : strdup("[]");
    if (!prev)
        return -1;
    insert_params(m, json, prev, txn_device, txn_id, now_ms, bufs, p);
    PGresult *res = db_exec(c, insert_sql, NPARAMS, p);
    free(prev);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    *stream = db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

/* An outlier (stored without state) joins the timeline: its state group, standing and stream
 * position, and the extremities as insert_sql moves them (its edges are already stored). */
static const char promote_sql[] =
    "WITH up AS (UPDATE events SET state_group = $3, outlier = $4, soft_failed = $5, "
    "rejected = $6, stream_ordering = CASE WHEN $4 THEN NULL ELSE "
    "nextval('stream_ordering_seq') END WHERE event_id = $1 AND room_id = $2 AND outlier AND "
    "NOT soft_failed AND rejected IS NULL AND state_group IS NULL RETURNING stream_ordering), "
    "gone AS (DELETE FROM room_extremities WHERE NOT $4 AND room_id = $2 AND event_id IN "
    "(SELECT jsonb_array_elements_text($7::jsonb)) AND EXISTS (SELECT 1 FROM up)), "
    "ext AS (INSERT INTO room_extremities (room_id, event_id) SELECT $2, $1 FROM up "
    "WHERE NOT $4 ON CONFLICT DO NOTHING) "
    "SELECT stream_ordering FROM up";

int db_events_promote(struct dbc *c, const struct db_event_meta *m, json_t *prev_events,
                      int64_t *stream)
{
    char g[24];
    char *prev = prev_events ? json_dumps(prev_events, JSON_COMPACT) : strdup("[]");
    if (!prev)
        return -1;
    const char *p[7] = {m->event_id,
                        m->room_id,
                        m->state_group > 0 ? db_i64(g, m->state_group) : NULL,
                        m->outlier ? "t" : "f",
                        m->soft_failed ? "t" : "f",
                        m->rejected,
                        prev};
    PGresult *res = db_exec(c, promote_sql, 7, p);
    free(prev);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    *stream = found ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return found ? 0 : 1;
}

/* Notifications of events stored in this transaction; the stream position is read from the
 * event's row, so rows may name events inserted earlier in the same pipeline. A scalar
 * subquery per row, not a join: a join lets a generic plan hash the whole events table
 * (jsonb_to_recordset is estimated at 100 rows), which made every send slower as the
 * database grew. */
/* Not for a user who ignores the event's sender (m.ignored_user_list, spec "Ignoring
 * Users"): `ign` finds them through the index account_data_ignorers, one probe per sender. */
static const char push_insert_sql[] =
    "WITH y AS (SELECT x.*, (SELECT e.stream_ordering FROM events e WHERE e.event_id = "
    "x.event_id) AS stream FROM jsonb_to_recordset($1::jsonb) AS x(user_id text, room_id text, "
    "event_id text, sender text, thread_id text, highlight boolean, tweaks text)), "
    "ign AS (SELECT s.sender, a.user_id FROM (SELECT DISTINCT sender FROM y) s JOIN "
    "account_data a ON a.type = 'm.ignored_user_list' AND a.room_id = '' AND (a.content::jsonb "
    "-> 'ignored_users') ? s.sender), "
    "ins AS (INSERT INTO event_push_actions (user_id, room_id, stream, event_id, "
    "thread_id, highlight, tweaks) SELECT user_id, room_id, stream, event_id, thread_id, "
    "highlight, tweaks FROM y WHERE stream IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ign "
    "WHERE ign.sender = y.sender AND ign.user_id = y.user_id) ON "
    "CONFLICT DO NOTHING RETURNING user_id, room_id, event_id) " PUSH_ENQUEUE_SQL;

int db_events_insert_commit(struct dbc *c, const struct db_event_row *rows, size_t n,
                            int64_t now_ms, json_t *push_rows, bool commit, int64_t *streams)
{
    static const char commit_sql[] = "COMMIT";
    if (!n && !commit)
        return 0;
    size_t k = n + (json_array_size(push_rows) ? 1 : 0) + (commit ? 1 : 0);
    const char **sqls = calloc(k, sizeof *sqls);
    int *ns = calloc(k, sizeof *ns);
    const char *const **ps = calloc(k, sizeof *ps);
    const char **pbuf = calloc(n ? n * NPARAMS : 1, sizeof *pbuf);
    char(*bufs)[4][24] = calloc(n ? n : 1, sizeof *bufs);
    PGresult **rs = calloc(k, sizeof *rs);
    char *push = json_array_size(push_rows) ? json_dumps(push_rows, JSON_COMPACT) : NULL;
    const char *push_p[1] = {push};
    int rc = -1;
    if (!sqls || !ns || !ps || !pbuf || !bufs || !rs || (json_array_size(push_rows) && !push))
        goto out;
    size_t j = 0;
    for (size_t i = 0; i < n; i++, j++) {
        insert_params(&rows[i].m, rows[i].json, rows[i].prev, rows[i].txn_device, rows[i].txn_id,
                      now_ms, bufs[i], pbuf + i * NPARAMS);
        sqls[j] = insert_sql;
        ns[j] = NPARAMS;
        ps[j] = pbuf + i * NPARAMS;
    }
    if (push) {
        sqls[j] = push_insert_sql;
        ns[j] = 1;
        ps[j] = push_p;
        j++;
    }
    if (commit) {
        sqls[j] = commit_sql;
        ns[j] = 0;
        ps[j] = NULL;
    }
    if (db_exec_many(c, k, sqls, ns, ps, rs) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        streams[i] = db_int(rs[i], 0, 0);
    for (size_t i = 0; i < k; i++)
        PQclear(rs[i]);
    rc = 0;
out:
    free(sqls);
    free(ns);
    free(ps);
    free(pbuf);
    free(bufs);
    free(rs);
    free(push);
    return rc;
}

#define EVENT_COLS                                                                                 \
    "event_id, room_id, redacted_by, stream_ordering, depth, state_group, "                        \
    "rejected IS NOT NULL, outlier, json, soft_failed"

static void fill_event(PGresult *res, int i, struct db_event *out)
{
    out->event_id = strdup(db_val(res, i, 0));
    out->room_id = strdup(db_val(res, i, 1));
    out->redacted_by = db_val(res, i, 2) ? strdup(db_val(res, i, 2)) : NULL;
    out->stream = db_int(res, i, 3);
    out->depth = db_int(res, i, 4);
    out->state_group = db_int(res, i, 5);
    out->rejected = db_bool(res, i, 6);
    out->outlier = db_bool(res, i, 7);
    out->pdu = json_loads(db_val(res, i, 8), JSON_ALLOW_NUL, NULL);
    out->soft_failed = db_bool(res, i, 9);
}

int db_events_get(struct dbc *c, const char *event_id, struct db_event *out)
{
    const char *p[] = {event_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c, "SELECT " EVENT_COLS " FROM events WHERE event_id = $1", 1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found)
        fill_event(res, 0, out);
    PQclear(res);
    if (found && !out->pdu) {
        db_event_clear(out);
        return -1;
    }
    return found;
}

void db_event_clear(struct db_event *e)
{
    json_decref(e->pdu);
    free(e->event_id);
    free(e->room_id);
    free(e->redacted_by);
    memset(e, 0, sizeof *e);
}

int db_events_redact(struct dbc *c, const char *event_id, const char *redacted_json,
                     const char *redacted_by)
{
    const char *p[] = {event_id, redacted_json, redacted_by};
    if (db_run(c, "UPDATE events SET json = $2, redacted_by = $3 WHERE event_id = $1", 3, p) < 0)
        return -1;
    /* a redacted relation no longer relates (spec: redacted edits and reactions vanish) */
    return db_run(c, "DELETE FROM event_relations WHERE event_id = $1", 1, p);
}

json_t *db_txn_lookup_many(struct dbc *c, const char *const *users, const char *const *devices,
                           const char *const *txns, size_t n)
{
    json_t *u = json_array(), *d = json_array(), *t = json_array();
    for (size_t i = 0; i < n; i++) {
        assert(txn_key_ok(txns[i]));
        json_array_append_new(u, json_string(users[i]));
        json_array_append_new(d, json_string(devices[i]));
        json_array_append_new(t, json_string(txns[i]));
    }
    char *us = json_dumps(u, JSON_COMPACT), *ds = json_dumps(d, JSON_COMPACT),
         *ts = json_dumps(t, JSON_COMPACT);
    json_decref(u);
    json_decref(d);
    json_decref(t);
    json_t *out = NULL;
    const char *p[] = {us, ds, ts};
    if (!us || !ds || !ts)
        goto done;
    /* a scalar subquery per item: always an index lookup, whatever the table's size was when
     * the plan was made */
    PGresult *res =
        db_exec(c,
                "SELECT * FROM (SELECT q.u, q.d, q.t, (SELECT event_id FROM event_txns WHERE "
                "user_id = q.u AND device_id = q.d AND txn_id = " DB_TXN_ID_SQL("q.t")
                " AND scope = " DB_TXN_SCOPE_SQL("q.t") ") AS ev FROM ROWS FROM "
                "(jsonb_array_elements_text($1::jsonb), jsonb_array_elements_text($2::jsonb), "
                "jsonb_array_elements_text($3::jsonb)) AS q(u, d, t)) x WHERE ev IS NOT NULL",
                3, p);
    if (!res)
        goto done;
    out = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        char key[1200]; /* as server/room_send.c's txn_key */
        snprintf(key, sizeof key, "%s\x1f%s\x1f%s", db_val(res, i, 0), db_val(res, i, 1),
                 db_val(res, i, 2));
        json_object_set_new(out, key, json_string(db_val(res, i, 3)));
    }
    PQclear(res);
done:
    free(us);
    free(ds);
    free(ts);
    return out;
}

int db_relations_put(struct dbc *c, const char *event_id, const char *room_id,
                     const char *relates_to, const char *rel_type, const char *key,
                     const char *sender)
{
    const char *p[] = {event_id, room_id, relates_to, rel_type, key, sender};
    return db_run(c,
                  "INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, "
                  "aggregation_key, sender) VALUES ($1, $2, $3, $4, $5, $6) "
                  "ON CONFLICT DO NOTHING",
                  6, p);
}

/* Rows (event_id, depth, stream_ordering, state_group, redacted_by, json) as the page shape
 * of db_events_page; clears res. NULL when res is NULL. */
static json_t *page_rows(PGresult *res)
{
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *pdu = json_loads(db_val(res, i, 5), JSON_ALLOW_NUL, NULL);
        if (!pdu)
            continue;
        json_t *row =
            json_pack("{s:s,s:I,s:I,s:I,s:o}", "event_id", db_val(res, i, 0), "depth",
                      (json_int_t)db_int(res, i, 1), "stream", (json_int_t)db_int(res, i, 2),
                      "state_group", (json_int_t)db_int(res, i, 3), "pdu", pdu);
        if (db_val(res, i, 4))
            json_object_set_new(row, "redacted_by", json_string(db_val(res, i, 4)));
        if (PQnfields(res) > 6) /* a seventh column: the ordering key of the page */
            json_object_set_new(row, "order", json_integer(db_int(res, i, 6)));
        json_array_append_new(arr, row);
    }
    PQclear(res);
    return arr;
}

json_t *db_events_page(struct dbc *c, const char *room_id, int64_t depth, int64_t stream,
                       bool forward, int limit)
{
    char d[24], s[24], l[24];
    const char *p[] = {room_id, db_i64(d, depth), db_i64(s, stream), db_i64(l, limit)};
    PGresult *res =
        forward ? db_exec(c,
                          "SELECT event_id, depth, stream_ordering, state_group, redacted_by, json "
                          "FROM events WHERE room_id = $1 AND NOT outlier AND rejected IS NULL AND "
                          "(depth, stream_ordering) > ($2, $3) ORDER BY depth, stream_ordering "
                          "LIMIT $4",
                          4, p)
                : db_exec(c,
                          "SELECT event_id, depth, stream_ordering, state_group, redacted_by, json "
                          "FROM events WHERE room_id = $1 AND NOT outlier AND rejected IS NULL AND "
                          "(depth, stream_ordering) < ($2, $3) ORDER BY depth DESC, "
                          "stream_ordering DESC LIMIT $4",
                          4, p);
    return page_rows(res);
}

int db_events_position(struct dbc *c, const char *event_id, int64_t *depth, int64_t *stream)
{
    const char *p[] = {event_id};
    PGresult *res =
        db_exec(c, "SELECT depth, stream_ordering FROM events WHERE event_id = $1", 1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        *depth = db_int(res, 0, 0);
        *stream = db_int(res, 0, 1);
    }
    PQclear(res);
    return found;
}

int db_events_latest(struct dbc *c, const char *room_id, int64_t *depth, int64_t *stream)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c,
                            "SELECT depth, stream_ordering FROM events WHERE room_id = $1 AND "
                            "NOT outlier ORDER BY depth DESC, stream_ordering DESC LIMIT 1",
                            1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        *depth = db_int(res, 0, 0);
        *stream = db_int(res, 0, 1);
    }
    PQclear(res);
    return found;
}

json_t *db_relations_page(struct dbc *c, const char *room_id, const char *parent,
                          const char *rel_type, const char *event_type, int64_t depth,
                          int64_t stream, bool forward, int limit, int levels)
{
    char d[24], s[24], l[24], lv[24];
    const char *p[] = {room_id,           parent,           rel_type,
                       event_type,        db_i64(d, depth), db_i64(s, stream),
                       db_i64(l, limit),  forward ? "t" : "f", db_i64(lv, levels)};
    PGresult *res = db_exec(
        c,
        "WITH RECURSIVE rel(event_id, lvl) AS (SELECT r.event_id, 1 FROM event_relations r "
        "WHERE r.relates_to = $2 UNION SELECT r.event_id, rel.lvl + 1 FROM event_relations r "
        "JOIN rel ON r.relates_to = rel.event_id WHERE rel.lvl < $9) "
        "SELECT e.event_id, e.depth, e.stream_ordering, "
        "e.state_group, e.redacted_by, e.json FROM rel JOIN event_relations r ON r.event_id = "
        "rel.event_id JOIN events e ON e.event_id = rel.event_id "
        "WHERE e.room_id = $1 AND e.rejected IS NULL "
        "AND ($3::text IS NULL OR r.rel_type = $3) AND ($4::text IS NULL OR e.type = $4) "
        "AND CASE WHEN $8 THEN (e.depth, e.stream_ordering) > ($5, $6) "
        "ELSE (e.depth, e.stream_ordering) < ($5, $6) END "
        "ORDER BY CASE WHEN $8 THEN e.depth END, CASE WHEN $8 THEN e.stream_ordering END, "
        "e.depth DESC, e.stream_ordering DESC LIMIT $7",
        9, p);
    return page_rows(res);
}

json_t *db_relations_summary(struct dbc *c, const char *parent, const char *sender,
                             const char *user_id)
{
    const char *p[] = {parent, sender, user_id};
    PGresult *res =
        db_exec(c,
                "SELECT r.rel_type, count(*), "
                " (array_agg(r.event_id ORDER BY e.depth DESC, e.stream_ordering DESC))[1], "
                " bool_or(r.sender = $3), "
                " (array_agg(r.event_id ORDER BY e.depth DESC, e.stream_ordering DESC) "
                "   FILTER (WHERE r.sender = $2))[1], "
                " array_to_json(array_agg(r.event_id ORDER BY e.stream_ordering))::text "
                "FROM event_relations r JOIN events e ON e.event_id = r.event_id "
                "WHERE r.relates_to = $1 AND e.rejected IS NULL AND e.redacted_by IS NULL "
                "AND r.rel_type IN ('m.thread', 'm.replace', 'm.reference') GROUP BY r.rel_type",
                3, p);
    if (!res)
        return NULL;
    json_t *out = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        const char *t = db_val(res, i, 0);
        if (strcmp(t, "m.thread") == 0)
            json_object_set_new(out, t,
                                json_pack("{s:I,s:s,s:b}", "count", (json_int_t)db_int(res, i, 1),
                                          "latest", db_val(res, i, 2), "participated",
                                          db_bool(res, i, 3)));
        else if (strcmp(t, "m.replace") == 0 && db_val(res, i, 4))
            json_object_set_new(out, t, json_string(db_val(res, i, 4)));
        else if (strcmp(t, "m.reference") == 0)
            json_object_set_new(out, t, json_loads(db_val(res, i, 5), 0, NULL));
    }
    PQclear(res);
    return out;
}

int db_events_by_ts(struct dbc *c, const char *room_id, int64_t ts, char dir, char **event_id,
                    int64_t *origin_ts)
{
    char t[24];
    const char *p[] = {room_id, db_i64(t, ts)};
    PGresult *res =
        dir == 'f'
            ? db_exec(c,
                      "SELECT event_id, origin_server_ts FROM events WHERE room_id = $1 AND NOT "
                      "outlier AND rejected IS NULL AND origin_server_ts >= $2 ORDER BY "
                      "origin_server_ts, stream_ordering LIMIT 1",
                      2, p)
            : db_exec(c,
                      "SELECT event_id, origin_server_ts FROM events WHERE room_id = $1 AND NOT "
                      "outlier AND rejected IS NULL AND origin_server_ts <= $2 ORDER BY "
                      "origin_server_ts DESC, stream_ordering DESC LIMIT 1",
                      2, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        *event_id = strdup(db_val(res, 0, 0));
        *origin_ts = db_int(res, 0, 1);
    }
    PQclear(res);
    return found;
}

int db_events_group_before(struct dbc *c, const char *room_id, int64_t depth, int64_t stream,
                           int64_t *group)
{
    char d[24], st[24];
    const char *p[] = {room_id, db_i64(d, depth), db_i64(st, stream)};
    /* a state event's group is derived from the state before it: that group's parent */
    PGresult *res = db_exec(c,
                            "SELECT CASE WHEN e.state_key IS NULL THEN e.state_group ELSE "
                            "(SELECT sg.parent FROM state_groups sg WHERE sg.id = e.state_group) "
                            "END FROM events e WHERE e.room_id = $1 AND NOT e.outlier AND "
                            "e.rejected IS NULL AND (e.depth, e.stream_ordering) >= ($2, $3) "
                            "ORDER BY e.depth, e.stream_ordering LIMIT 1",
                            3, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    *group = found && db_val(res, 0, 0) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return found;
}

int64_t db_events_min_depth(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c,
                            "SELECT depth FROM events WHERE room_id = $1 AND NOT outlier AND "
                            "rejected IS NULL ORDER BY depth LIMIT 1",
                            1, p);
    if (!res)
        return -1;
    int64_t d = PQntuples(res) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return d;
}

int db_reports_put(struct dbc *c, const char *room_id, const char *event_id, const char *user_id,
                   const char *reason, int score, bool has_score, int64_t now_ms)
{
    char sc[24], ts[24];
    const char *p[] = {
        room_id,           event_id, user_id, reason, has_score ? db_i64(sc, score) : NULL,
        db_i64(ts, now_ms)};
    return db_run(c,
                  "INSERT INTO event_reports (room_id, event_id, user_id, reason, score, "
                  "received_ts) VALUES ($1, $2, $3, $4, $5, $6)",
                  6, p);
}

json_t *db_threads_page(struct dbc *c, const char *room_id, const char *participant, int64_t before,
                        int limit)
{
    char b[24], l[24];
    const char *p[] = {room_id, db_i64(b, before), participant, db_i64(l, limit)};
    PGresult *res = db_exec(
        c,
        "WITH t AS (SELECT r.relates_to AS root, max(e.stream_ordering) AS activity, "
        "bool_or(r.sender = $3) AS mine FROM event_relations r JOIN events e ON e.event_id = "
        "r.event_id WHERE r.room_id = $1 AND r.rel_type = 'm.thread' AND e.rejected IS NULL "
        "GROUP BY r.relates_to) "
        "SELECT e.event_id, e.depth, e.stream_ordering, e.state_group, e.redacted_by, e.json, "
        "t.activity FROM t JOIN events e ON e.event_id = t.root WHERE e.room_id = $1 AND "
        "e.rejected IS NULL AND t.activity < $2 AND ($3::text IS NULL OR t.mine OR e.sender = "
        "$3) ORDER BY t.activity DESC LIMIT $4",
        4, p);
    return page_rows(res);
}

int db_pending_redaction_put(struct dbc *c, const char *room_id, const char *target,
                             const char *redaction_id)
{
    const char *p[] = {target, redaction_id, room_id};
    PGresult *res = db_exec(c,
                            "INSERT INTO pending_redactions (target, redaction_id, room_id) "
                            "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            3, p);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

json_t *db_pending_redactions_take(struct dbc *c, const char *room_id, const char *target)
{
    const char *p[] = {target, room_id};
    PGresult *res = db_exec(c,
                            "DELETE FROM pending_redactions WHERE target = $1 AND room_id = $2 "
                            "RETURNING redaction_id",
                            2, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(out, json_string(db_val(res, i, 0)));
    PQclear(res);
    return out;
}
