/* pushers.c - SQL for pushers, the push delivery queue and /notifications (migration 0013).
 * Deliveries are queued by the push-action inserts themselves (PUSH_ENQUEUE_SQL); here the
 * sender reads what is due with everything a notification needs in one statement. */
#include "storage/pushers.h"

#include <stdlib.h>

#include "storage/db_internal.h"

json_t *db_pushers_list(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_strip_nulls(json_build_object('app_id', app_id, "
        "'pushkey', pushkey, 'kind', kind, 'app_display_name', app_display_name, "
        "'device_display_name', device_display_name, 'profile_tag', profile_tag, 'lang', lang, "
        "'data', data::json)) ORDER BY created_ts), '[]'::json) FROM pushers WHERE user_id = $1",
        1, p));
}

int db_pushers_set(struct dbc *c, const char *user_id, const char *device_id, const json_t *p,
                   bool append, int max, int64_t now_ms)
{
    char *data = json_dumps(json_object_get(p, "data"), JSON_COMPACT);
    char mx[24], ts[24];
    const char *v[] = {user_id,
                       device_id,
                       json_string_value(json_object_get(p, "app_id")),
                       json_string_value(json_object_get(p, "pushkey")),
                       json_string_value(json_object_get(p, "kind")),
                       json_string_value(json_object_get(p, "app_display_name")),
                       json_string_value(json_object_get(p, "device_display_name")),
                       json_string_value(json_object_get(p, "profile_tag")),
                       json_string_value(json_object_get(p, "lang")),
                       data,
                       db_i64(ts, now_ms),
                       db_i64(mx, max),
                       append ? "t" : "f"};
    if (!data)
        return -1;
    PGresult *res = db_exec(
        c,
        "WITH others AS (DELETE FROM pushers WHERE NOT $13::boolean AND app_id = $3 AND pushkey "
        "= $4 AND user_id <> $1) "
        "INSERT INTO pushers AS o (user_id, device_id, app_id, pushkey, kind, app_display_name, "
        "device_display_name, profile_tag, lang, data, created_ts) SELECT $1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11 WHERE (SELECT count(*) FROM pushers WHERE user_id = $1 AND "
        "NOT (app_id = $3 AND pushkey = $4)) < $12 "
        "ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET device_id = EXCLUDED.device_id, "
        "kind = EXCLUDED.kind, app_display_name = EXCLUDED.app_display_name, "
        "device_display_name = EXCLUDED.device_display_name, profile_tag = "
        "EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data RETURNING 1",
        13, v);
    free(data);
    if (!res)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

int db_pushers_delete(struct dbc *c, const char *user_id, const char *app_id, const char *pushkey)
{
    const char *p[] = {user_id, app_id, pushkey};
    return db_run(c, "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3", 3,
                  p);
}

json_t *db_push_queue_due(struct dbc *c, int64_t now_ms, int limit, bool with_event,
                          const char *skip_urls)
{
    char n[24], l[24];
    const char *p[] = {db_i64(n, now_ms), db_i64(l, limit), with_event ? "t" : "f",
                       skip_urls ? skip_urls : "[]"};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('id', q.id, 'user_id', q.user_id, "
        "'app_id', q.app_id, 'pushkey', q.pushkey, 'pushkey_ts', p.created_ts, 'data', "
        "p.data::json, 'event_id', q.event_id, 'room_id', q.room_id, 'attempts', q.attempts, "
        "'created_ts', q.created_ts, 'highlight', pa.highlight, 'tweaks', pa.tweaks::json, "
        "'unread', (SELECT count(*) FROM event_push_actions a "
        "WHERE a.user_id = q.user_id AND a.stream > coalesce((SELECT max(r.event_stream) FROM "
        "receipts r WHERE r.user_id = a.user_id AND r.room_id = a.room_id AND r.receipt_type "
        "IN ('m.read', 'm.read.private')), 0)), 'event', CASE WHEN $3::boolean THEN (SELECT "
        "e.json::json FROM events e WHERE e.event_id = q.event_id) END) ORDER BY q.id), "
        "'[]'::json) FROM (SELECT * FROM push_queue WHERE next_ts <= $1 AND (json_array_length($4::json) "
        "= 0 OR NOT EXISTS (SELECT 1 FROM pushers s WHERE s.app_id = push_queue.app_id AND "
        "s.pushkey = push_queue.pushkey AND s.user_id = push_queue.user_id AND s.data::json->>'url' "
        "IN (SELECT json_array_elements_text($4::json)))) ORDER BY id LIMIT $2) q JOIN pushers p ON p.app_id = q.app_id AND p.pushkey = q.pushkey AND p.user_id = "
        "q.user_id LEFT JOIN LATERAL (SELECT a.highlight, a.tweaks FROM event_push_actions a "
        "WHERE a.user_id = q.user_id AND a.room_id = q.room_id AND a.stream = (SELECT "
        "e.stream_ordering FROM events e WHERE e.event_id = q.event_id)) pa ON true",
        4, p));
}

int db_push_queue_done(struct dbc *c, int64_t id)
{
    char i[24];
    const char *p[] = {db_i64(i, id)};
    return db_run(c, "DELETE FROM push_queue WHERE id = $1", 1, p);
}

int db_push_queue_retry(struct dbc *c, int64_t id, int64_t next_ts)
{
    char i[24], t[24];
    const char *p[] = {db_i64(i, id), db_i64(t, next_ts)};
    return db_run(c, "UPDATE push_queue SET attempts = attempts + 1, next_ts = $2 WHERE id = $1", 2,
                  p);
}

int db_push_queue_lease(struct dbc *c, const int64_t *ids, size_t n, int64_t until_ts)
{
    if (n == 0)
        return 0;
    char *list = malloc(n * 21 + 3), t[24];
    if (!list)
        return -1;
    size_t o = 0;
    list[o++] = '{';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(list + o, 22, "%s%lld", i ? "," : "", (long long)ids[i]);
    list[o++] = '}';
    list[o] = '\0';
    const char *p[] = {list, db_i64(t, until_ts)};
    int rc = db_run(c, "UPDATE push_queue SET next_ts = $2 WHERE id = ANY($1::bigint[])", 2, p);
    free(list);
    return rc;
}

json_t *db_notifications(struct dbc *c, const char *user_id, int64_t before, int limit,
                         bool only_highlight)
{
    char b[24], l[24];
    const char *p[] = {user_id, db_i64(b, before), db_i64(l, limit), only_highlight ? "t" : "f"};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('stream', a.stream, 'room_id', a.room_id, "
        "'highlight', a.highlight, 'tweaks', a.tweaks::json, 'event_id', a.event_id, 'ts', "
        "e.origin_server_ts, 'event', "
        "e.json::json, 'redacted_by', e.redacted_by, 'read', a.stream <= coalesce((SELECT "
        "max(r.event_stream) FROM receipts r WHERE r.user_id = $1 AND r.room_id = a.room_id "
        "AND r.receipt_type IN ('m.read', 'm.read.private')), 0)) ORDER BY a.stream DESC), "
        "'[]'::json) FROM (SELECT * FROM event_push_actions WHERE user_id = $1 AND stream < $2 "
        "AND (NOT $4::boolean OR highlight) ORDER BY stream DESC LIMIT $3) a JOIN events e ON "
        "e.event_id = a.event_id",
        4, p));
}
