/* userdata.c - SQL for filters, account data, receipts, push actions and presence
 * (migration 0003_sync.sql).
 *
 * Rows that /sync reports take their `stream` from stream_ordering_seq in the same statement
 * that writes them; the caller brackets the statement with a notifier ticket
 * (server/notify.c). Reads that feed /sync build their JSON in PostgreSQL (json_agg) and hand
 * it over parsed (db_json). */
#include "storage/userdata.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

int64_t db_stream_max(struct dbc *c)
{
    PGresult *res = db_exec(c,
                            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                            "FROM stream_ordering_seq",
                            0, NULL);
    if (!res)
        return -1;
    int64_t v = PQntuples(res) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return v;
}

/* --- filters ---------------------------------------------------------------------------- */

int db_filter_put(struct dbc *c, const char *user_id, const char *json, int64_t *id)
{
    const char *p[] = {user_id, json};
    PGresult *res = db_exec(
        c, "INSERT INTO filters (user_id, json) VALUES ($1, $2) RETURNING filter_id", 2, p);
    if (!res)
        return -1;
    *id = db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

json_t *db_filter_get(struct dbc *c, const char *user_id, int64_t id)
{
    char b[24];
    const char *p[] = {user_id, db_i64(b, id)};
    return db_json(
        db_exec(c, "SELECT json FROM filters WHERE user_id = $1 AND filter_id = $2", 2, p));
}

/* --- account data ----------------------------------------------------------------------- */

int db_account_data_put(struct dbc *c, const char *user_id, const char *room_id,
                        const char *type, const char *content, int64_t *pos)
{
    const char *p[] = {user_id, room_id, type, content};
    PGresult *res = db_exec(c,
                            "INSERT INTO account_data (user_id, room_id, type, content, stream) "
                            "VALUES ($1, $2, $3, $4, nextval('stream_ordering_seq')) "
                            "ON CONFLICT (user_id, room_id, type) DO UPDATE SET "
                            "content = EXCLUDED.content, stream = EXCLUDED.stream "
                            "RETURNING stream",
                            4, p);
    if (!res)
        return -1;
    *pos = db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

json_t *db_account_data_get(struct dbc *c, const char *user_id, const char *room_id,
                            const char *type)
{
    const char *p[] = {user_id, room_id, type};
    return db_json(db_exec(c,
                           "SELECT content FROM account_data WHERE user_id = $1 AND "
                           "room_id = $2 AND type = $3",
                           3, p));
}

json_t *db_account_data_since(struct dbc *c, const char *user_id, int64_t since, int64_t upto)
{
    char s[24], u[24];
    const char *p[] = {user_id, db_i64(s, since), db_i64(u, upto)};
    json_t *v = db_json(db_exec(
        c,
        "WITH d AS (SELECT room_id, json_agg(json_build_object('type', type, 'content', "
        "content::json) ORDER BY stream) AS evs FROM account_data WHERE user_id = $1 AND "
        "stream > $2 AND stream <= $3 GROUP BY room_id) "
        "SELECT json_build_object('global', coalesce((SELECT evs FROM d WHERE room_id = ''), "
        "'[]'::json), 'rooms', coalesce((SELECT json_object_agg(room_id, evs) FROM d WHERE "
        "room_id <> ''), '{}'::json))",
        3, p));
    return v;
}

/* --- receipts --------------------------------------------------------------------------- */

int db_receipt_put(struct dbc *c, const char *room_id, const char *type, const char *user_id,
                   const char *thread_id, const char *event_id, int64_t ts, int64_t *pos)
{
    char t[24];
    const char *p[] = {room_id, type, user_id, thread_id, event_id, db_i64(t, ts)};
    /* a receipt never moves backwards in the stream of the room's events */
    PGresult *res = db_exec(
        c,
        "WITH e AS (SELECT stream_ordering FROM events WHERE event_id = $5 AND room_id = $1 "
        "AND stream_ordering IS NOT NULL), "
        "up AS (INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, "
        "event_stream, ts, stream) SELECT $1, $2, $3, $4, $5, e.stream_ordering, $6, "
        "nextval('stream_ordering_seq') FROM e ON CONFLICT (room_id, receipt_type, user_id, "
        "thread_id) DO UPDATE SET event_id = EXCLUDED.event_id, event_stream = "
        "EXCLUDED.event_stream, ts = EXCLUDED.ts, stream = EXCLUDED.stream WHERE "
        "receipts.event_stream < EXCLUDED.event_stream RETURNING stream) "
        "SELECT (SELECT count(*) FROM e), (SELECT stream FROM up)",
        6, p);
    if (!res)
        return -1;
    int found = db_int(res, 0, 0) > 0;
    *pos = db_val(res, 0, 1) ? db_int(res, 0, 1) : 0;
    PQclear(res);
    return found;
}

json_t *db_receipts_since(struct dbc *c, json_t *rooms, const char *user_id, int64_t since,
                          int64_t upto)
{
    char s[24], u[24];
    char *ids = json_dumps(rooms, JSON_COMPACT);
    if (!ids)
        return NULL;
    const char *p[] = {ids, user_id, db_i64(s, since), db_i64(u, upto)};
    /* content: {event_id: {type: {user_id: {ts, thread_id?}}}} */
    json_t *v = db_json(db_exec(
        c,
        "WITH r AS (SELECT room_id, event_id, receipt_type, user_id, CASE WHEN thread_id = '' "
        "THEN json_build_object('ts', ts) ELSE json_build_object('ts', ts, 'thread_id', "
        "thread_id) END AS data FROM receipts WHERE room_id IN (SELECT "
        "jsonb_array_elements_text($1::jsonb)) AND stream > $3 AND stream <= $4 AND "
        "(receipt_type <> 'm.read.private' OR user_id = $2)), "
        "t AS (SELECT room_id, event_id, receipt_type, json_object_agg(user_id, data) AS users "
        "FROM r GROUP BY room_id, event_id, receipt_type), "
        "e AS (SELECT room_id, event_id, json_object_agg(receipt_type, users) AS types FROM t "
        "GROUP BY room_id, event_id) "
        "SELECT coalesce(json_object_agg(room_id, content), '{}'::json) FROM (SELECT room_id, "
        "json_object_agg(event_id, types) AS content FROM e GROUP BY room_id) x",
        4, p));
    free(ids);
    return v;
}

/* --- push actions ----------------------------------------------------------------------- */

/* The rows, and a delivery for each pusher of their users (PUSH_ENQUEUE_SQL). */
static const char push_insert_sql[] =
    "WITH ins AS (INSERT INTO event_push_actions (user_id, room_id, stream, event_id, "
    "thread_id, highlight) SELECT x.user_id, x.room_id, x.stream, x.event_id, x.thread_id, "
    "x.highlight FROM jsonb_to_recordset($1::jsonb) AS x(user_id text, room_id text, stream "
    "bigint, event_id text, thread_id text, highlight boolean) ON CONFLICT DO NOTHING "
    "RETURNING user_id, room_id, event_id) " PUSH_ENQUEUE_SQL;

int db_push_actions_commit(struct dbc *c, json_t *rows)
{
    if (!json_array_size(rows))
        return db_commit(c);
    char *r = json_dumps(rows, JSON_COMPACT);
    if (!r)
        return -1;
    const char *p[] = {r};
    int rc = db_commit_after(c, push_insert_sql, 1, p);
    free(r);
    return rc;
}

json_t *db_push_targets(struct dbc *c, const char *room_id, const char *sender,
                        const char *invitee, bool rules_only)
{
    /* The display name (a parse of the member event) only for users with rules of their
     * own: the predefined rules never read it (push.c), and parsing every member's event
     * made each state event in a big room cost tens of milliseconds (issue 13). */
    const char *p[] = {room_id, sender, invitee, rules_only ? "t" : "f"};
    return db_json(db_exec(
        c,
        "WITH m AS (SELECT cs.state_key AS user_id, cs.membership, cs.event_id FROM "
        "current_state cs WHERE cs.room_id = $1 AND cs.type = 'm.room.member' AND "
        "(cs.membership = 'join' OR cs.state_key = $3)) "
        "SELECT json_build_object('members', coalesce((SELECT json_agg(json_build_object("
        "'user_id', m.user_id, 'displayname', CASE WHEN pr.store IS NOT NULL THEN (SELECT "
        "(e.json::json)->'content'->>'displayname' FROM events e WHERE e.event_id = m.event_id) "
        "END, 'rules', pr.store::json)) FROM m LEFT JOIN push_rules pr ON pr.user_id = "
        "m.user_id WHERE m.user_id <> $2 AND (NOT $4::bool OR m.user_id = $3 OR pr.store IS "
        "NOT NULL)), '[]'::json), 'count', (SELECT count(*) FROM m WHERE membership = 'join'), "
        "'power_levels', (SELECT (e.json::json)->'content' FROM current_state cs JOIN events e "
        "ON e.event_id = cs.event_id WHERE cs.room_id = $1 AND cs.type = 'm.room.power_levels' "
        "AND cs.state_key = ''))",
        4, p));
}

/* --- presence --------------------------------------------------------------------------- */

int db_presence_put(struct dbc *c, const char *user_id, const char *presence,
                    const char *status_msg, int64_t now_ms, int64_t *pos)
{
    char t[24];
    const char *p[] = {user_id, presence, status_msg, db_i64(t, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO presence (user_id, presence, status_msg, "
                            "last_active_ts, stream) VALUES ($1, $2, $3, $4, "
                            "nextval('stream_ordering_seq')) ON CONFLICT (user_id) DO UPDATE "
                            "SET presence = EXCLUDED.presence, status_msg = "
                            "EXCLUDED.status_msg, last_active_ts = EXCLUDED.last_active_ts, "
                            "stream = EXCLUDED.stream RETURNING stream",
                            4, p);
    if (!res)
        return -1;
    *pos = db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

json_t *db_presence_get(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(c,
                           "SELECT json_strip_nulls(json_build_object('presence', presence, "
                           "'status_msg', status_msg, 'last_active_ts', last_active_ts)) "
                           "FROM presence WHERE user_id = $1",
                           1, p));
}

json_t *db_presence_since(struct dbc *c, const char *user_id, int64_t since, int64_t upto)
{
    char s[24], u[24];
    const char *p[] = {user_id, db_i64(s, since), db_i64(u, upto)};
    return db_json(db_exec(
        c,
        "WITH mine AS (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND "
        "state_key = $1 AND membership = 'join'), "
        "peers AS (SELECT DISTINCT cs.state_key AS user_id FROM current_state cs JOIN mine "
        "USING (room_id) WHERE cs.type = 'm.room.member' AND cs.membership = 'join' "
        "UNION SELECT $1) "
        "SELECT coalesce(json_agg(json_strip_nulls(json_build_object('user_id', p.user_id, "
        "'presence', p.presence, 'status_msg', p.status_msg, 'last_active_ts', "
        "p.last_active_ts))), '[]'::json) FROM presence p JOIN peers USING (user_id) WHERE "
        "p.stream > $2 AND p.stream <= $3",
        3, p));
}

int db_users_share_room(struct dbc *c, const char *a, const char *b)
{
    const char *p[] = {a, b};
    PGresult *res = db_exec(c,
                            "SELECT EXISTS (SELECT 1 FROM current_state x JOIN current_state y "
                            "USING (room_id) WHERE x.type = 'm.room.member' AND x.state_key = $1 "
                            "AND x.membership = 'join' AND y.type = 'm.room.member' AND "
                            "y.state_key = $2 AND y.membership = 'join')",
                            2, p);
    if (!res)
        return -1;
    int v = db_bool(res, 0, 0);
    PQclear(res);
    return v;
}
