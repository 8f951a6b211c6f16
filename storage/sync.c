/* sync.c - the SQL behind /sync (server/sync.c): memberships, timelines by stream position,
 * state, summaries, stripped state, to-device inboxes, device-list changes.
 *
 * Each function is one statement that builds its JSON answer in PostgreSQL, so a sync costs
 * a handful of round trips however many rooms it covers. Timelines use the index
 * events_room_stream; memberships the partial index current_state_members. */
#include "storage/sync.h"

#include <stdlib.h>

#include "storage/db_internal.h"

json_t *db_sync_memberships(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(m.j), '[]'::json) FROM (SELECT json_build_object('room_id', "
        "cs.room_id, 'membership', cs.membership, 'event_id', cs.event_id, 'stream', "
        "e.stream_ordering, 'depth', e.depth) AS j FROM current_state cs JOIN events e ON "
        "e.event_id = cs.event_id WHERE cs.type = 'm.room.member' AND cs.state_key = $1 AND NOT "
        "EXISTS (SELECT 1 FROM room_forgotten f WHERE f.user_id = $1 AND f.room_id = "
        "cs.room_id) UNION ALL SELECT json_build_object('room_id', r.room_id, 'membership', "
        "r.membership, 'event_id', r.event_id, 'stream', r.stream_ordering, 'depth', 0, "
        "'stripped', r.stripped, 'pdu', r.pdu::json) FROM remote_memberships r WHERE r.user_id "
        "= $1 AND NOT EXISTS (SELECT 1 FROM current_state cs WHERE cs.room_id = r.room_id AND "
        "cs.type = 'm.room.member' AND cs.state_key = $1) AND NOT EXISTS (SELECT 1 FROM "
        "room_forgotten f WHERE f.user_id = $1 AND f.room_id = r.room_id)) m",
        1, p));
}

static const char timelines_sql[] =
    "SELECT coalesce(json_object_agg(x.room_id, t.evs), '{}'::json) FROM "
        "jsonb_to_recordset($1::jsonb) AS x(room_id text, since bigint, upto bigint) "
        "CROSS JOIN LATERAL (SELECT json_agg(json_build_object('event_id', e.event_id, "
        "'depth', e.depth, 'stream', e.stream_ordering, 'group', e.state_group, "
        "'redacted_by', e.redacted_by, 'txn_id', (SELECT t.txn_id FROM event_txns t WHERE "
        "t.event_id = e.event_id AND t.user_id = $3 AND t.device_id = $4), 'related', "
        "EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to = e.event_id), 'pdu', "
        "e.json::json) ORDER BY e.stream_ordering DESC) "
        "AS evs FROM (SELECT * FROM events e WHERE e.room_id = x.room_id AND "
        "e.stream_ordering > x.since AND e.stream_ordering <= x.upto AND e.rejected IS NULL "
        "ORDER BY e.stream_ordering DESC LIMIT $2) e) t WHERE t.evs IS NOT NULL";

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
                          const char *device_id)
{
    char l[24];
    char *r = json_dumps(ranges, JSON_COMPACT);
    if (!r)
        return NULL;
    const char *p[] = {r, db_i64(l, limit), user_id, device_id ? device_id : ""};
    json_t *v = db_json(db_exec(c, timelines_sql, 4, p));
    free(r);
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

int db_sync_timelines_counts(struct dbc *c, json_t *ranges, int limit, const char *user_id,
                             const char *device_id, json_t *rooms, int64_t upto, json_t **tls,
                             json_t **counts)
{
    char l[24], u[24];
    char *r = json_dumps(ranges, JSON_COMPACT), *ids = json_dumps(rooms, JSON_COMPACT);
    int rc = -1;
    *tls = *counts = NULL;
    if (r && ids) {
        const char *tp[] = {r, db_i64(l, limit), user_id, device_id ? device_id : ""};
        const char *cp[] = {user_id, ids, db_i64(u, upto)};
        const char *const sqls[] = {timelines_sql, counts_sql};
        const int ns[] = {4, 3};
        const char *const *ps[] = {tp, cp};
        PGresult *rs[2];
        if (db_exec_many(c, 2, sqls, ns, ps, rs) == 0) {
            *tls = db_json(rs[0]);
            *counts = db_json(rs[1]);
            rc = *tls && *counts ? 0 : -1;
            if (rc < 0) {
                json_decref(*tls);
                json_decref(*counts);
                *tls = *counts = NULL;
            }
        }
    }
    free(r);
    free(ids);
    return rc;
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
        "WHERE event_id IN (SELECT jsonb_array_elements_text($1::jsonb))",
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
        "cs.room_id IN (SELECT jsonb_array_elements_text($1::jsonb)) GROUP BY cs.room_id) x",
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
