/* sync.c - the SQL behind /sync (server/sync.c): memberships, timelines by stream position,
 * state, summaries, stripped state, to-device inboxes, device-list changes.
 *
 * Each function is one statement that builds its JSON answer in PostgreSQL, so a sync costs
 * a handful of round trips however many rooms it covers. Timelines use the index
 * events_room_stream; memberships the partial index current_state_members. */
#include "storage/sync.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

json_t *db_sync_memberships(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(m.j), '[]'::json) FROM (SELECT json_build_object('room_id', "
        "cs.room_id, 'membership', cs.membership, 'event_id', cs.event_id, 'stream', "
        "e.stream_ordering, 'depth', e.depth, 'sender', e.sender) AS j FROM current_state cs "
        "JOIN events e ON e.event_id = cs.event_id WHERE cs.type = 'm.room.member' AND "
        "cs.state_key = $1 AND NOT EXISTS (SELECT 1 FROM room_forgotten f WHERE f.user_id = $1 "
        "AND f.room_id = cs.room_id) UNION ALL SELECT json_build_object('room_id', r.room_id, "
        "'membership', r.membership, 'event_id', r.event_id, 'stream', r.stream_ordering, "
        "'depth', 0, 'sender', r.sender, 'stripped', r.stripped, 'pdu', r.pdu::json) FROM "
        "remote_memberships r WHERE r.user_id = $1 AND NOT EXISTS (SELECT 1 FROM current_state "
        "cs WHERE cs.room_id = r.room_id AND cs.type = 'm.room.member' AND cs.state_key = $1) "
        "AND NOT EXISTS (SELECT 1 FROM room_forgotten f WHERE f.user_id = $1 AND f.room_id = "
        "r.room_id)) m",
        1, p));
}

json_t *db_sync_joined_throughout(struct dbc *c, const char *user_id, json_t *rooms,
                                  int64_t since, int64_t upto)
{
    char s[24], u[24];
    char *r = json_dumps(rooms, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {r, user_id, db_i64(s, since), db_i64(u, upto)};
    /* per room: the state group after its newest event at `since`, the user's member event
     * in that group (the overlay of the deltas on its base chain, as db_state_group_get
     * reads it), and no member event of the user in the range other than a join */
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(r.room_id), '[]'::json) FROM "
        "jsonb_array_elements_text($1::jsonb) AS r(room_id) "
        "CROSS JOIN LATERAL (SELECT e.state_group AS g FROM events e WHERE e.room_id = "
        "r.room_id AND e.stream_ordering <= $3 AND e.rejected IS NULL ORDER BY "
        "e.stream_ordering DESC LIMIT 1) at "
        "CROSS JOIN LATERAL (WITH RECURSIVE chain(id, base, seq) AS (SELECT id, base, seq "
        "FROM state_groups WHERE id = at.g UNION ALL SELECT g.id, g.base, g.seq FROM "
        "state_groups g JOIN chain ch ON g.id = ch.base) SELECT x.event_id FROM "
        "state_group_entries x JOIN chain ch ON ch.id = x.state_group WHERE x.type = "
        "'m.room.member' AND x.state_key = $2 ORDER BY ch.seq DESC LIMIT 1) se "
        "JOIN events me ON me.event_id = se.event_id WHERE (me.json::json) -> 'content' ->> "
        "'membership' = 'join' AND NOT EXISTS (SELECT 1 FROM events m WHERE m.room_id = "
        "r.room_id AND m.stream_ordering > $3 AND m.stream_ordering <= $4 AND m.type = "
        "'m.room.member' AND m.state_key = $2 AND m.rejected IS NULL AND (m.json::json) -> "
        "'content' ->> 'membership' <> 'join')",
        4, p));
    free(r);
    return v;
}

/* The timelines query (see db_sync_timelines) is assembled from these: its start, the
 * condition for the user's ignored users (their state events only), the optional timeline
 * filter condition ($5, see filter_sql; only in the filtered variant, so that unfiltered
 * syncs, the hot path, do not pay for planning it) and its end. */
#define TIMELINES_HEAD                                                                          \
    "SELECT coalesce(json_object_agg(x.room_id, t.evs), '{}'::json) FROM "                      \
    "jsonb_to_recordset($1::jsonb) AS x(room_id text, since bigint, upto bigint) "              \
    "CROSS JOIN LATERAL (SELECT json_agg(json_build_object('event_id', e.event_id, "           \
    "'depth', e.depth, 'stream', e.stream_ordering, 'group', e.state_group, 'parent', "        \
    "(SELECT sg.parent FROM state_groups sg WHERE e.state_key IS NOT NULL AND sg.id = "         \
    "e.state_group), "                                                                          \
    "'redacted_by', e.redacted_by, 'txn_id', (SELECT t.txn_id FROM event_txns t WHERE "         \
    "t.event_id = e.event_id AND t.user_id = $3 AND t.device_id = $4), 'related', "             \
    "EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to = e.event_id), 'pdu', "         \
    "e.json::json) ORDER BY e.stream_ordering DESC) "                                           \
    "AS evs FROM (SELECT * FROM events e WHERE e.room_id = x.room_id AND "                      \
    "e.stream_ordering > x.since AND e.stream_ordering <= x.upto AND e.rejected IS NULL "
#define TIMELINES_IGNORED                                                                       \
    "AND NOT (e.state_key IS NULL AND e.sender IN (SELECT k FROM account_data a, "              \
    "jsonb_object_keys(CASE WHEN jsonb_typeof(a.content::jsonb -> 'ignored_users') = "          \
    "'object' THEN a.content::jsonb -> 'ignored_users' ELSE '{}'::jsonb END) k WHERE "          \
    "a.user_id = $3 AND a.room_id = '' AND a.type = 'm.ignored_user_list')) "
#define TIMELINES_FILTER                                                                        \
    "AND (NOT ($5::jsonb ? 'types') OR EXISTS (SELECT 1 FROM "                                   \
    "jsonb_array_elements_text($5::jsonb -> 'types') p WHERE e.type LIKE p)) AND NOT "          \
    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(coalesce($5::jsonb -> 'not_types', "       \
    "'[]')) p WHERE e.type LIKE p) AND (NOT ($5::jsonb ? 'senders') OR e.sender IN (SELECT "    \
    "jsonb_array_elements_text($5::jsonb -> 'senders'))) AND e.sender NOT IN (SELECT "          \
    "jsonb_array_elements_text(coalesce($5::jsonb -> 'not_senders', '[]'))) AND CASE WHEN "     \
    "$5::jsonb ? 'contains_url' THEN coalesce(jsonb_typeof((e.json::jsonb) -> 'content' "       \
    "-> 'url') = 'string', false) = ($5::jsonb ->> 'contains_url')::boolean ELSE true END "
#define TIMELINES_TAIL                                                                          \
    "ORDER BY e.stream_ordering DESC LIMIT $2) e) t WHERE t.evs IS NOT NULL"

static const char timelines_sql[] = TIMELINES_HEAD TIMELINES_IGNORED TIMELINES_TAIL;
static const char timelines_filtered_sql[] =
    TIMELINES_HEAD TIMELINES_IGNORED TIMELINES_FILTER TIMELINES_TAIL;

/* A filter glob ('*' any bytes) as a LIKE pattern: '\', '%' and '_' escaped. New string. */
static json_t *glob_to_like(const char *g)
{
    size_t n = strlen(g);
    char *out = malloc(2 * n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (g[i] == '\\' || g[i] == '%' || g[i] == '_')
            out[k++] = '\\';
        out[k++] = g[i] == '*' ? '%' : g[i];
    }
    json_t *v = json_stringn(out, k);
    free(out);
    return v;
}

/* The RoomEventFilter's event conditions as the timelines query reads them ($5): types and
 * not_types as LIKE patterns, senders, not_senders and contains_url as given. NULL (the
 * parameter) when nothing narrows; *text malloc'd JSON otherwise. -1 when out of memory. */
static int filter_sql(const json_t *tf, char **text)
{
    static const char *const globs[] = {"types", "not_types"};
    static const char *const plain[] = {"senders", "not_senders", "contains_url"};
    *text = NULL;
    json_t *f = json_object();
    for (size_t g = 0; g < 2; g++) {
        const json_t *list = json_object_get(tf, globs[g]);
        if (!json_is_array(list))
            continue;
        json_t *likes = json_array();
        size_t i;
        const json_t *v;
        json_array_foreach(list, i, v)
        {
            if (json_is_string(v))
                json_array_append_new(likes, glob_to_like(json_string_value(v)));
        }
        json_object_set_new(f, globs[g], likes);
    }
    for (size_t k = 0; k < 3; k++) {
        const json_t *v = json_object_get(tf, plain[k]);
        if (k < 2 ? json_is_array(v) : json_is_boolean(v))
            json_object_set(f, plain[k], (json_t *)v);
    }
    if (json_object_size(f))
        *text = json_dumps(f, JSON_COMPACT);
    int rc = json_object_size(f) && !*text ? -1 : 0;
    json_decref(f);
    return rc;
}

/* per room and thread: rows after the newest of the user's unthreaded receipt and the
 * receipt for that thread (m.read or m.read.private, whichever is later) */
static const char counts_sql[] =
    "WITH rooms AS (SELECT jsonb_array_elements_text($2::jsonb) AS room_id), "
        "rc AS (SELECT room_id, thread_id, max(event_stream) AS s FROM receipts WHERE "
        "user_id = $1 AND room_id IN (SELECT room_id FROM rooms) GROUP BY room_id, thread_id), "
        "n AS (SELECT a.room_id, a.thread_id, count(*) AS notes, count(*) FILTER (WHERE "
        "a.highlight) AS hl FROM event_push_actions a WHERE a.user_id = $1 AND a.room_id IN "
        "(SELECT room_id FROM rooms) AND a.stream <= $3 AND a.stream > greatest("
        "coalesce((SELECT s FROM rc WHERE rc.room_id = a.room_id AND rc.thread_id = ''), 0), "
        "coalesce((SELECT s FROM rc WHERE rc.room_id = a.room_id AND rc.thread_id = "
        "a.thread_id), 0)) GROUP BY a.room_id, a.thread_id) "
        "SELECT coalesce(json_object_agg(room_id, threads), '{}'::json) FROM (SELECT room_id, "
        "json_object_agg(thread_id, json_build_array(notes, hl)) AS threads FROM n GROUP BY "
        "room_id) x";

json_t *db_sync_timelines(struct dbc *c, json_t *ranges, int limit, const char *user_id,
                          const char *device_id, const json_t *tf)
{
    char l[24], *f = NULL;
    char *r = json_dumps(ranges, JSON_COMPACT);
    if (!r || filter_sql(tf, &f) < 0) {
        free(r);
        return NULL;
    }
    const char *p[] = {r, db_i64(l, limit), user_id, device_id ? device_id : "", f};
    json_t *v = db_json(db_exec(c, f ? timelines_filtered_sql : timelines_sql, f ? 5 : 4, p));
    free(r);
    free(f);
    return v;
}

json_t *db_push_counts(struct dbc *c, const char *user_id, json_t *rooms, int64_t upto)
{
    char u[24];
    char *ids = json_dumps(rooms, JSON_COMPACT);
    if (!ids)
        return NULL;
    const char *p[] = {user_id, ids, db_i64(u, upto)};
    json_t *v = db_json(db_exec(c, counts_sql, 3, p));
    free(ids);
    return v;
}

/* per range: the state group after the newest event at or below `since`, and at `upto` */
static const char groups_sql[] =
    "SELECT coalesce(json_object_agg(x.room_id, json_build_array(coalesce((SELECT "
    "e.state_group FROM events e WHERE e.room_id = x.room_id AND e.stream_ordering <= "
    "x.since AND e.rejected IS NULL ORDER BY e.stream_ordering DESC LIMIT 1), 0), "
    "coalesce((SELECT e.state_group FROM events e WHERE e.room_id = x.room_id AND "
    "e.stream_ordering <= x.upto AND e.rejected IS NULL ORDER BY e.stream_ordering DESC "
    "LIMIT 1), 0))), '{}'::json) FROM jsonb_to_recordset($1::jsonb) AS x(room_id text, "
    "since bigint, upto bigint)";

int db_sync_timelines_counts(struct dbc *c, json_t *ranges, int limit, const char *user_id,
                             const char *device_id, const json_t *tf, json_t *rooms, int64_t upto,
                             json_t **tls, json_t **counts, json_t **groups)
{
    char l[24], u[24], *f = NULL;
    char *r = json_dumps(ranges, JSON_COMPACT), *ids = json_dumps(rooms, JSON_COMPACT);
    int rc = -1;
    *tls = *counts = NULL;
    if (groups)
        *groups = NULL;
    if (r && ids && filter_sql(tf, &f) == 0) {
        const char *tp[] = {r, db_i64(l, limit), user_id, device_id ? device_id : "", f};
        const char *cp[] = {user_id, ids, db_i64(u, upto)};
        const char *gp[] = {r};
        const char *const sqls[] = {f ? timelines_filtered_sql : timelines_sql, counts_sql,
                                    groups_sql};
        const int ns[] = {f ? 5 : 4, 3, 1};
        const char *const *ps[] = {tp, cp, gp};
        PGresult *rs[3];
        size_t k = groups ? 3 : 2;
        if (db_exec_many(c, k, sqls, ns, ps, rs) == 0) {
            *tls = db_json(rs[0]);
            *counts = db_json(rs[1]);
            json_t *g = groups ? db_json(rs[2]) : NULL;
            rc = *tls && *counts && (!groups || g) ? 0 : -1;
            if (rc < 0) {
                json_decref(*tls);
                json_decref(*counts);
                json_decref(g);
                *tls = *counts = g = NULL;
            }
            if (groups)
                *groups = g;
        }
    }
    free(r);
    free(ids);
    free(f);
    return rc;
}

json_t *db_sync_groups_at(struct dbc *c, json_t *ranges)
{
    char *r = json_dumps(ranges, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {r};
    json_t *v = db_json(db_exec(c, groups_sql, 1, p));
    free(r);
    return v;
}

json_t *db_events_many(struct dbc *c, json_t *ids)
{
    char *r = json_dumps(ids, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {r};
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(event_id, json_build_object('pdu', json::json, "
        "'redacted_by', redacted_by, 'stream', stream_ordering)), '{}'::json) FROM events "
        "WHERE event_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
        1, p));
    free(r);
    return v;
}

int64_t db_sync_group_at_stream(struct dbc *c, const char *room_id, int64_t pos)
{
    char s[24];
    const char *p[] = {room_id, db_i64(s, pos)};
    PGresult *res = db_exec(c,
                            "SELECT state_group FROM events WHERE room_id = $1 AND "
                            "stream_ordering <= $2 AND rejected IS NULL ORDER BY "
                            "stream_ordering DESC LIMIT 1",
                            2, p);
    if (!res)
        return -1;
    int64_t g = PQntuples(res) && db_val(res, 0, 0) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return g;
}

int db_events_at_stream(struct dbc *c, const char *room_id, int64_t pos, int64_t *depth,
                        int64_t *stream)
{
    char s[24];
    const char *p[] = {room_id, db_i64(s, pos)};
    PGresult *res = db_exec(c,
                            "SELECT depth, stream_ordering FROM events WHERE room_id = $1 AND "
                            "stream_ordering <= $2 AND rejected IS NULL ORDER BY "
                            "stream_ordering DESC LIMIT 1",
                            2, p);
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

json_t *db_sync_summaries(struct dbc *c, json_t *rooms, const char *user_id)
{
    char *r = json_dumps(rooms, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {r, user_id};
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(room_id, json_build_object('joined', j, 'invited', "
        "i, 'heroes', CASE WHEN named THEN NULL ELSE coalesce(h, '[]'::json) END)), "
        "'{}'::json) FROM (SELECT cs.room_id, EXISTS (SELECT 1 FROM current_state n JOIN "
        "events e ON e.event_id = n.event_id WHERE n.room_id = cs.room_id AND n.state_key = '' "
        "AND ((n.type = 'm.room.name' AND coalesce(e.json::json -> 'content' ->> 'name', '') "
        "<> '') OR (n.type = 'm.room.canonical_alias' AND coalesce(e.json::json -> 'content' "
        "->> 'alias', '') <> ''))) AS named, "
        "count(*) FILTER (WHERE membership = 'join') AS j, count(*) FILTER (WHERE membership "
        "= 'invite') AS i, (SELECT json_agg(u) FROM (SELECT h.state_key AS u FROM "
        "current_state h WHERE h.room_id = cs.room_id AND h.type = 'm.room.member' AND "
        "h.state_key <> $2 ORDER BY h.membership NOT IN ('join', 'invite'), h.state_key "
        "LIMIT 5) hs) AS h FROM current_state cs WHERE cs.type = 'm.room.member' AND "
        "cs.room_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) GROUP BY "
        "cs.room_id) x",
        2, p));
    free(r);
    return v;
}

json_t *db_sync_stripped_state(struct dbc *c, const char *room_id, const char *user_id)
{
    const char *p[] = {room_id, user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('type', e.type, 'state_key', "
        "e.state_key, 'content', (e.json::json)->'content', 'sender', e.sender)), "
        "'[]'::json) FROM current_state cs JOIN events e ON e.event_id = cs.event_id WHERE "
        "cs.room_id = $1 AND ((cs.state_key = '' AND cs.type IN ('m.room.create', "
        "'m.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', "
        "'m.room.topic', 'm.room.encryption')) OR (cs.type = 'm.room.member' AND "
        "cs.state_key = $2))",
        2, p));
}

/* --- lazy-loading record (migration 0020) ------------------------------------------------- */

json_t *db_state_group_members(struct dbc *c, int64_t group, json_t *users)
{
    char g[24];
    char *u = json_dumps(users, JSON_COMPACT);
    if (!u)
        return NULL;
    const char *p[] = {db_i64(g, group), u};
    json_t *v = db_json(db_exec(
        c,
        "WITH RECURSIVE chain(id, base, seq) AS (SELECT id, base, seq FROM state_groups WHERE "
        "id = $1 UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g JOIN chain ch ON "
        "g.id = ch.base) "
        "SELECT coalesce(json_object_agg(state_key, event_id) FILTER (WHERE event_id IS NOT "
        "NULL), '{}'::json) FROM (SELECT DISTINCT ON (x.state_key) x.state_key, x.event_id "
        "FROM state_group_entries x JOIN state_groups sg ON sg.id = x.state_group WHERE "
        "x.state_group = ANY (ARRAY(SELECT id FROM chain)) AND x.type = 'm.room.member' AND "
        "x.state_key = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb))) "
        "ORDER BY x.state_key, sg.seq DESC) m",
        2, p));
    free(u);
    return v;
}

int db_lazy_members_reset(struct dbc *c, const char *user_id, const char *device_id)
{
    const char *p[] = {user_id, device_id};
    return db_run(c, "DELETE FROM sync_lazy_members WHERE user_id = $1 AND device_id = $2", 2,
                  p);
}

json_t *db_lazy_members_get(struct dbc *c, const char *user_id, const char *device_id,
                            json_t *rooms, int64_t since)
{
    char s[24];
    char *r = json_dumps(rooms, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {user_id, device_id, r, db_i64(s, since)};
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(room_id, m), '{}'::json) FROM (SELECT room_id, "
        "json_object_agg(state_key, event_id) AS m FROM sync_lazy_members WHERE user_id = $1 "
        "AND device_id = $2 AND room_id IN (SELECT jsonb_array_elements_text($3::jsonb)) AND "
        "stream <= $4 GROUP BY room_id) x",
        4, p));
    free(r);
    return v;
}

int db_lazy_members_put(struct dbc *c, const char *user_id, const char *device_id, json_t *rows,
                        int64_t pos, int keep)
{
    char s[24], k[24];
    char *r = json_dumps(rows, JSON_COMPACT);
    if (!r)
        return -1;
    const char *p[] = {user_id, device_id, r, db_i64(s, pos)};
    const char *pk[] = {user_id, device_id, db_i64(k, keep)};
    const char *const sqls[] = {
        /* the device may have gone meanwhile (logged out): then nothing is recorded */
        "INSERT INTO sync_lazy_members (user_id, device_id, room_id, state_key, event_id, "
        "stream) SELECT DISTINCT ON (x.room_id, x.state_key) $1, $2, x.room_id, x.state_key, "
        "x.event_id, $4::bigint FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS r(v, "
        "n), jsonb_to_record(r.v) AS x(room_id text, state_key text, event_id text) "
        "WHERE EXISTS (SELECT 1 FROM devices d WHERE d.user_id = $1 AND d.device_id = $2) "
        "ORDER BY x.room_id, x.state_key, r.n "
        "ON CONFLICT (user_id, device_id, room_id, state_key) DO UPDATE SET event_id = "
        "EXCLUDED.event_id, stream = EXCLUDED.stream",
        /* the bound: the newest `keep` rows of the device stay */
        "DELETE FROM sync_lazy_members WHERE user_id = $1 AND device_id = $2 AND stream < "
        "(SELECT stream FROM sync_lazy_members WHERE user_id = $1 AND device_id = $2 ORDER BY "
        "stream DESC OFFSET $3 LIMIT 1)",
    };
    const int ns[] = {4, 3};
    const char *const *pp[] = {p, pk};
    PGresult *res[2];
    int rc = db_exec_many(c, 2, sqls, ns, pp, res);
    free(r);
    if (rc < 0)
        return -1;
    PQclear(res[0]);
    PQclear(res[1]);
    return 0;
}
