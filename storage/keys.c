/* keys.c - SQL for end-to-end encryption (migration 0004_e2ee.sql): device keys, one-time and
 * fallback keys, cross-signing keys and verified signatures, device-list changes and the
 * to-device queue.
 *
 * Invariants:
 *  1. A one-time key is handed out at most once: the claim deletes the row it returns in the
 *     same statement, and rows locked by a concurrent claim are skipped, not waited for.
 *  2. Key objects are stored as the text given and served through PostgreSQL's json type,
 *     which keeps the text as it is: what a client uploaded is what others download.
 *  3. Batches go in as one JSON parameter (json_to_recordset), so a request costs one
 *     statement whatever its size. */
#include "storage/keys.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

/* A borrowed JSON value as a text parameter (malloc'd; NULL when out of memory). */
static char *param(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* --- device keys -------------------------------------------------------------------------- */

int db_keys_device_get(struct dbc *c, const char *user_id, const char *device_id, char **out)
{
    const char *p[] = {user_id, device_id};
    return db_string(db_exec(c,
                             "SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND "
                             "device_id = $2",
                             2, p),
                     out);
}

int db_keys_device_put(struct dbc *c, const char *user_id, const char *device_id, const char *json)
{
    const char *p[] = {user_id, device_id, json};
    return db_affected_one(db_exec(
        c,
        "INSERT INTO e2e_device_keys (user_id, device_id, key_json) SELECT $1, $2, $3 WHERE "
        "EXISTS (SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2) "
        "ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json",
        3, p));
}

json_t *db_keys_devices_query(struct dbc *c, const json_t *query)
{
    char *q = param(query);
    if (!q)
        return NULL;
    const char *p[] = {q};
    json_t *out = db_json(
        db_exec(c,
                "SELECT coalesce(json_agg(json_build_object('user_id', k.user_id, 'device_id', "
                "k.device_id, 'keys', k.key_json::json, 'display_name', d.display_name) ORDER BY "
                "k.user_id, k.device_id), '[]'::json) FROM json_each($1::json) q "
                "JOIN e2e_device_keys k ON k.user_id = q.key "
                "JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id "
                "WHERE json_array_length(q.value) = 0 OR k.device_id IN "
                "(SELECT json_array_elements_text(q.value))",
                1, p));
    free(q);
    return out;
}

/* --- one-time and fallback keys ----------------------------------------------------------- */

int db_keys_otk_add(struct dbc *c, const char *user_id, const char *device_id, const json_t *keys,
                    char **conflict)
{
    *conflict = NULL;
    char *k = param(keys);
    if (!k)
        return -1;
    const char *p[] = {user_id, device_id, k};
    int rc = db_string(
        db_exec(c,
                "WITH n AS (SELECT * FROM json_to_recordset($3::json) AS n(algorithm text, "
                "key_id text, json text)), "
                "bad AS (SELECT n.algorithm || ':' || n.key_id AS k FROM n JOIN "
                "e2e_one_time_keys o ON o.user_id = $1 AND o.device_id = $2 AND "
                "o.algorithm = n.algorithm AND o.key_id = n.key_id WHERE o.key_json <> n.json "
                "LIMIT 1), "
                "ins AS (INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, "
                "key_json) SELECT $1, $2, algorithm, key_id, json FROM n WHERE NOT EXISTS "
                "(SELECT 1 FROM bad) ON CONFLICT DO NOTHING) "
                "SELECT k FROM bad",
                3, p),
        conflict);
    free(k);
    return rc;
}

int db_keys_fallback_put(struct dbc *c, const char *user_id, const char *device_id,
                         const char *algorithm, const char *key_id, const char *json)
{
    const char *p[] = {user_id, device_id, algorithm, key_id, json};
    return db_run(c,
                  "INSERT INTO e2e_fallback_keys AS f (user_id, device_id, algorithm, key_id, "
                  "key_json) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, device_id, "
                  "algorithm) DO UPDATE SET key_id = EXCLUDED.key_id, key_json = "
                  "EXCLUDED.key_json, used = f.used AND f.key_id = EXCLUDED.key_id AND "
                  "f.key_json = EXCLUDED.key_json",
                  5, p);
}

#define COUNTS_SQL                                                                                 \
    "SELECT json_build_object('counts', (SELECT coalesce(json_object_agg(algorithm, n), "          \
    "'{}'::json) FROM (SELECT algorithm, count(*) AS n FROM e2e_one_time_keys WHERE "              \
    "user_id = $1 AND device_id = $2 GROUP BY algorithm) x), 'unused_fallback', (SELECT "          \
    "coalesce(json_agg(algorithm ORDER BY algorithm), '[]'::json) FROM e2e_fallback_keys "         \
    "WHERE user_id = $1 AND device_id = $2 AND NOT used))"

json_t *db_keys_counts(struct dbc *c, const char *user_id, const char *device_id)
{
    const char *p[] = {user_id, device_id};
    return db_json(db_exec(c, COUNTS_SQL, 2, p));
}

json_t *db_keys_claim(struct dbc *c, const json_t *want)
{
    char *w = param(want);
    if (!w)
        return NULL;
    const char *p[] = {w};
    json_t *out = db_json(
        db_exec(c,
                "WITH q AS (SELECT DISTINCT * FROM json_to_recordset($1::json) AS q(user_id text, "
                "device_id text, algorithm text)), "
                "pick AS (SELECT o.* FROM q CROSS JOIN LATERAL (SELECT k.user_id, k.device_id, "
                "k.algorithm, k.key_id FROM e2e_one_time_keys k WHERE k.user_id = q.user_id AND "
                "k.device_id = q.device_id AND k.algorithm = q.algorithm ORDER BY k.key_id LIMIT 1 "
                "FOR UPDATE SKIP LOCKED) o), "
                "del AS (DELETE FROM e2e_one_time_keys t USING pick WHERE t.user_id = pick.user_id "
                "AND t.device_id = pick.device_id AND t.algorithm = pick.algorithm AND t.key_id = "
                "pick.key_id RETURNING t.user_id, t.device_id, t.algorithm, t.key_id, t.key_json), "
                "fb AS (UPDATE e2e_fallback_keys f SET used = true FROM q WHERE f.user_id = "
                "q.user_id AND f.device_id = q.device_id AND f.algorithm = q.algorithm AND NOT "
                "EXISTS (SELECT 1 FROM pick WHERE pick.user_id = q.user_id AND pick.device_id = "
                "q.device_id AND pick.algorithm = q.algorithm) RETURNING f.user_id, f.device_id, "
                "f.algorithm, f.key_id, f.key_json) "
                "SELECT coalesce(json_agg(json_build_object('user_id', user_id, 'device_id', "
                "device_id, 'key_id', algorithm || ':' || key_id, 'key', key_json::json)), "
                "'[]'::json) FROM (SELECT * FROM del UNION ALL SELECT * FROM fb) r",
                1, p));
    free(w);
    return out;
}

/* --- cross-signing ------------------------------------------------------------------------ */

json_t *db_keys_cross_signing_get(struct dbc *c, const json_t *users)
{
    char *u = param(users);
    if (!u)
        return NULL;
    const char *p[] = {u};
    json_t *out = db_json(
        db_exec(c,
                "SELECT coalesce(json_agg(json_build_object('user_id', user_id, 'usage', "
                "usage, 'public_key', public_key, 'key', key_json::json)), '[]'::json) FROM "
                "e2e_cross_signing_keys WHERE user_id IN (SELECT "
                "json_array_elements_text($1::json))",
                1, p));
    free(u);
    return out;
}

int db_keys_cross_signing_put(struct dbc *c, const char *user_id, const char *usage,
                              const char *public_key, const char *json)
{
    const char *p[] = {user_id, usage, public_key, json};
    return db_run(c,
                  "INSERT INTO e2e_cross_signing_keys (user_id, usage, public_key, key_json) "
                  "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, usage) DO UPDATE SET "
                  "public_key = EXCLUDED.public_key, key_json = EXCLUDED.key_json",
                  4, p);
}

int db_keys_signatures_drop(struct dbc *c, const char *user_id, const char *public_key)
{
    const char *p[] = {user_id, public_key};
    return db_run(c,
                  "DELETE FROM e2e_signatures WHERE (target_user = $1 AND target_key = $2) OR "
                  "(signer_user = $1 AND signer_key = 'ed25519:' || $2)",
                  2, p);
}

int db_keys_signature_put(struct dbc *c, const char *signer_user, const char *signer_key,
                          const char *target_user, const char *target_key, const char *signature)
{
    const char *p[] = {signer_user, signer_key, target_user, target_key, signature};
    return db_run(c,
                  "INSERT INTO e2e_signatures (signer_user, signer_key, target_user, "
                  "target_key, signature) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_user, "
                  "target_key, signer_user, signer_key) DO UPDATE SET signature = "
                  "EXCLUDED.signature",
                  5, p);
}

json_t *db_keys_signatures_on(struct dbc *c, const json_t *users)
{
    char *u = param(users);
    if (!u)
        return NULL;
    const char *p[] = {u};
    json_t *out = db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('target_user', target_user, 'target_key', "
        "target_key, 'signer_user', signer_user, 'signer_key', signer_key, 'signature', "
        "signature)), '[]'::json) FROM e2e_signatures WHERE target_user IN (SELECT "
        "json_array_elements_text($1::json))",
        1, p));
    free(u);
    return out;
}

/* --- device lists ------------------------------------------------------------------------- */

int db_device_list_changed(struct dbc *c, const char *user_id, const char *only_for,
                           const char *device_id, int64_t *pos, int64_t *prev, json_t **rooms)
{
    const char *p[] = {user_id, only_for, device_id};
    const char *const *pp[] = {p, p};
    /* RETURNING's subquery sees the table as the statement began: the previous position */
    const char *sqls[] = {
        "INSERT INTO device_list_changes (user_id, stream, only_for, device_id) VALUES ($1, "
        "nextval('stream_ordering_seq'), $2, $3) RETURNING stream, (SELECT coalesce(max("
        "d.stream), 0) FROM device_list_changes d WHERE d.user_id = $1 AND d.device_id IS NOT "
        "NULL AND d.only_for IS NULL)",
        "SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 "
        "AND membership = 'join' AND $2::text IS NULL",
    };
    const int ns[] = {3, 2}; /* the second statement takes $1 and $2 */
    PGresult *res[2];
    if (db_exec_many(c, 2, sqls, ns, pp, res) < 0)
        return -1;
    *pos = PQntuples(res[0]) ? db_int(res[0], 0, 0) : 0;
    if (prev)
        *prev = PQntuples(res[0]) ? db_int(res[0], 0, 1) : 0;
    PQclear(res[0]);
    *rooms = db_strings(res[1]);
    return *rooms && *pos ? 0 : -1;
}

json_t *db_device_lists(struct dbc *c, const char *user_id, int64_t since, int64_t upto)
{
    char s[24], u[24];
    const char *p[] = {user_id, db_i64(s, since), db_i64(u, upto)};
    return db_json(db_exec(
        c,
        "WITH mine AS (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND "
        "state_key = $1 AND membership = 'join'), "
        "ch AS (SELECT e.room_id, e.state_key AS u, e.json::json -> 'content' ->> "
        "'membership' AS m FROM events e WHERE e.stream_ordering > $2 AND e.stream_ordering "
        "<= $3 AND e.type = 'm.room.member' AND e.rejected IS NULL), "
        "cand AS ("
        " SELECT d.user_id AS u, true AS news FROM device_list_changes d WHERE d.stream > $2 "
        " AND d.stream <= $3 AND d.only_for IS NULL"
        " UNION SELECT ch.u, true FROM ch WHERE ch.m = 'join' AND ch.u <> $1 AND ch.room_id "
        " IN (SELECT room_id FROM mine)"
        " UNION SELECT cs.state_key, true FROM ch JOIN current_state cs ON cs.room_id = "
        " ch.room_id AND cs.type = 'm.room.member' AND cs.membership = 'join' WHERE ch.u = $1 "
        " AND ch.m = 'join' AND cs.state_key <> $1"
        " UNION SELECT ch.u, false FROM ch WHERE ch.m IN ('leave', 'ban') AND ch.u <> $1 AND "
        " (ch.room_id IN (SELECT room_id FROM mine) OR ch.room_id IN (SELECT room_id FROM ch "
        " WHERE u = $1))"
        " UNION SELECT cs.state_key, false FROM ch JOIN current_state cs ON cs.room_id = "
        " ch.room_id AND cs.type = 'm.room.member' AND cs.membership = 'join' WHERE ch.u = $1 "
        " AND ch.m IN ('leave', 'ban') AND cs.state_key <> $1), "
        "judged AS (SELECT cand.u, cand.news, (cand.u = $1 OR EXISTS (SELECT 1 FROM "
        "current_state cs JOIN mine USING (room_id) WHERE cs.type = 'm.room.member' AND "
        "cs.state_key = cand.u AND cs.membership = 'join')) AS shared FROM cand), "
        "private AS (SELECT d.user_id AS u FROM device_list_changes d WHERE d.stream > $2 "
        "AND d.stream <= $3 AND d.only_for = $1) "
        "SELECT json_build_object("
        "'changed', (SELECT coalesce(json_agg(DISTINCT u), '[]'::json) FROM (SELECT u FROM "
        "judged WHERE news AND shared UNION SELECT u FROM private) x), "
        "'left', (SELECT coalesce(json_agg(DISTINCT u), '[]'::json) FROM judged WHERE NOT news "
        "AND NOT shared))",
        3, p));
}

/* --- to-device ---------------------------------------------------------------------------- */

int db_to_device_send(struct dbc *c, const char *sender, const char *txn_device, const char *txn_id,
                      const char *type, const json_t *msgs, int64_t now_ms, int64_t *pos,
                      json_t **users)
{
    *pos = 0;
    *users = NULL;
    char *m = param(msgs);
    if (!m)
        return -1;
    char ts[24];
    const char *p[] = {sender, txn_device, txn_id, db_i64(ts, now_ms), type, m};
    PGresult *res = db_exec(
        c,
        "WITH t AS (INSERT INTO to_device_txns (user_id, device_id, txn_id, event_type, ts) "
        "SELECT $1, $2, $3, $5, $4 WHERE NOT EXISTS (SELECT 1 FROM to_device_txns WHERE "
        "user_id = $1 AND device_id = $2 AND txn_id = $3 AND event_type = '') "
        "ON CONFLICT DO NOTHING RETURNING nextval('stream_ordering_seq') AS pos), "
        "ins AS (INSERT INTO device_inbox (user_id, device_id, stream, sender, type, content) "
        "SELECT d.user_id, d.device_id, t.pos, $1, $5, x.content FROM t, "
        "json_to_recordset($6::json) AS x(user_id text, device_id text, content text) "
        "JOIN devices d ON d.user_id = x.user_id AND (x.device_id = '*' OR d.device_id = "
        "x.device_id) ON CONFLICT DO NOTHING RETURNING user_id) "
        "SELECT (SELECT pos FROM t), (SELECT coalesce(json_agg(DISTINCT user_id), "
        "'[]'::json) FROM ins)",
        6, p);
    free(m);
    if (!res)
        return -1;
    const char *v = db_val(res, 0, 0);
    *pos = v ? strtoll(v, NULL, 10) : 0;
    *users = json_loads(db_val(res, 0, 1) ? db_val(res, 0, 1) : "[]", 0, NULL);
    PQclear(res);
    return *users ? 0 : -1;
}

int db_keys_sync(struct dbc *c, const char *user_id, const char *device_id, int64_t acked,
                 int64_t upto, int limit, json_t **msgs, json_t **counts)
{
    *msgs = *counts = NULL;
    char a[24], u[24], l[24];
    const char *p[] = {user_id, device_id, db_i64(a, acked), db_i64(u, upto), db_i64(l, limit)};
    const char *const sqls[] = {
        "DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream <= $3",
        "SELECT coalesce(json_agg(json_build_object('stream', stream, 'sender', sender, "
        "'type', type, 'content', content::json) ORDER BY stream), '[]'::json) FROM (SELECT "
        "* FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream > $3 AND "
        "stream <= $4 ORDER BY stream LIMIT $5) m",
        COUNTS_SQL,
    };
    /* the acknowledged messages go first, in the same round trip as the reads */
    const int ns[] = {3, 5, 2};
    const char *const *pp[] = {p, p, p};
    size_t skip = acked > 0 ? 0 : 1;
    PGresult *res[3] = {NULL, NULL, NULL};
    if (db_exec_many(c, 3 - skip, sqls + skip, ns + skip, pp + skip, res + skip) < 0)
        return -1;
    PQclear(res[0]);
    *msgs = db_json(res[1]);
    *counts = db_json(res[2]);
    if (json_is_array(*msgs) && json_is_object(*counts))
        return 0;
    json_decref(*msgs);
    json_decref(*counts);
    *msgs = *counts = NULL;
    return -1;
}

int db_keys_forget_user(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_run(c,
                  "WITH x AS (DELETE FROM e2e_cross_signing_keys WHERE user_id = $1), "
                  "s AS (DELETE FROM e2e_signatures WHERE signer_user = $1 OR target_user = $1) "
                  "DELETE FROM key_backup_versions WHERE user_id = $1",
                  1, p);
}

/* --- dehydrated devices (MSC3814) -------------------------------------------------------- */

#define DROP_DEVICE_SQL(dev)                                                                       \
    "WITH d AS (DELETE FROM devices WHERE user_id = $1 AND device_id = " dev " RETURNING "         \
    "device_id), i AS (DELETE FROM device_inbox WHERE user_id = $1 AND device_id IN (SELECT "      \
    "device_id FROM d)) SELECT device_id FROM d"

int db_dehydrated_put(struct dbc *c, const char *user_id, const char *device_id,
                      const char *display_name, const char *data, int64_t now_ms, char **old)
{
    char ts[24];
    const char *p1[] = {user_id};
    const char *p2[] = {user_id, device_id, display_name, db_i64(ts, now_ms)};
    const char *p3[] = {user_id, device_id, data};
    *old = NULL;
    if (db_string(db_exec(c,
                          DROP_DEVICE_SQL("(SELECT device_id FROM dehydrated_devices WHERE "
                                          "user_id = $1)"),
                          1, p1),
                  old) < 0)
        return -1;
    PGresult *res = db_exec(c,
                            "INSERT INTO devices (user_id, device_id, display_name, created_ts) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO NOTHING "
                            "RETURNING device_id",
                            4, p2);
    if (!res)
        return -1;
    int created = PQntuples(res);
    PQclear(res);
    if (!created)
        return 0; /* an existing device: never turned into a dehydrated one */
    return db_run(c,
                  "INSERT INTO dehydrated_devices (user_id, device_id, device_data) VALUES ($1, "
                  "$2, $3) ON CONFLICT (user_id) DO UPDATE SET device_id = EXCLUDED.device_id, "
                  "device_data = EXCLUDED.device_data",
                  3, p3) < 0
               ? -1
               : 1;
}

int db_dehydrated_get(struct dbc *c, const char *user_id, char **device_id, char **data)
{
    const char *p[] = {user_id};
    *device_id = *data = NULL;
    PGresult *res = db_exec(
        c, "SELECT device_id, device_data FROM dehydrated_devices WHERE user_id = $1", 1, p);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    if (rows) {
        *device_id = strdup(db_val(res, 0, 0));
        *data = strdup(db_val(res, 0, 1));
    }
    PQclear(res);
    if (rows == 0 || (*device_id && *data))
        return 0;
    free(*device_id);
    free(*data);
    *device_id = *data = NULL;
    return -1;
}

int db_dehydrated_delete(struct dbc *c, const char *user_id, char **device_id)
{
    const char *p[] = {user_id};
    return db_string(db_exec(c,
                             DROP_DEVICE_SQL("(SELECT device_id FROM dehydrated_devices WHERE "
                                             "user_id = $1)"),
                             1, p),
                     device_id);
}
