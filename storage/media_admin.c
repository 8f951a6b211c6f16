/* media_admin.c - SQL for Synapse's media admin API (migration 0100): a user's media listed
 * in any of Synapse's orders, deletion (the caller removes files nothing else uses),
 * delete-older-than, quarantine (media_quarantine, local and remote alike) and protection.
 * Amtsbote does not record accesses: last_access_ts is always null, and "older than" means
 * created before. */
#include "storage/media_admin.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

/* Synapse's media object of local media m with quarantine row q. */
#define MEDIA_OBJECT_SQL                                                                           \
    "json_build_object('media_id', m.media_id, 'created_ts', m.created_ts, "                       \
    "'last_access_ts', NULL, 'media_length', m.size, 'media_type', m.content_type, "               \
    "'upload_name', m.upload_name, 'quarantined_by', q.quarantined_by, "                           \
    "'safe_from_quarantine', m.safe_from_quarantine)"

/* Sort keys by order_by ($3) and direction ($4): text keys, then numeric keys, then the ID. */
#define MEDIA_ORDER_SQL                                                                            \
    " ORDER BY CASE WHEN $4 = 'f' THEN CASE $3 WHEN 'media_id' THEN m.media_id WHEN "              \
    "'upload_name' THEN m.upload_name WHEN 'media_type' THEN m.content_type WHEN "                 \
    "'quarantined_by' THEN q.quarantined_by END END ASC, "                                         \
    "CASE WHEN $4 = 'b' THEN CASE $3 WHEN 'media_id' THEN m.media_id WHEN 'upload_name' "          \
    "THEN m.upload_name WHEN 'media_type' THEN m.content_type WHEN 'quarantined_by' THEN "         \
    "q.quarantined_by END END DESC, "                                                              \
    "CASE WHEN $4 = 'f' THEN CASE $3 WHEN 'created_ts' THEN m.created_ts WHEN "                    \
    "'media_length' THEN m.size WHEN 'safe_from_quarantine' THEN "                                 \
    "m.safe_from_quarantine::int END END ASC, "                                                    \
    "CASE WHEN $4 = 'b' THEN CASE $3 WHEN 'created_ts' THEN m.created_ts WHEN "                    \
    "'media_length' THEN m.size WHEN 'safe_from_quarantine' THEN "                                 \
    "m.safe_from_quarantine::int END END DESC, m.media_id ASC "

json_t *db_admin_user_media(struct dbc *c, const char *user_id, const char *server_name,
                            const char *order_by, bool desc, int64_t from, int64_t limit,
                            int64_t *total)
{
    char f[24], l[24];
    const char *p[] = {user_id,          server_name,     order_by,
                       desc ? "b" : "f", db_i64(f, from), db_i64(l, limit)};
    PGresult *res =
        db_exec(c,
                "SELECT " MEDIA_OBJECT_SQL "::text, count(*) OVER () FROM media m "
                "LEFT JOIN media_quarantine q ON q.server_name = $2 AND "
                "q.media_id = m.media_id WHERE m.user_id = $1" MEDIA_ORDER_SQL "LIMIT $6 OFFSET $5",
                6, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    int rows = PQntuples(res);
    *total = 0;
    for (int i = 0; i < rows; i++) {
        json_t *o = json_loads(db_val(res, i, 0), 0, NULL);
        if (o)
            json_array_append_new(out, o);
        *total = db_int(res, i, 1);
    }
    PQclear(res);
    if (!rows && from > 0) { /* past the end: the total still */
        const char *q[] = {user_id};
        res = db_exec(c, "SELECT count(*) FROM media WHERE user_id = $1", 1, q);
        if (res) {
            *total = db_int(res, 0, 0);
            PQclear(res);
        }
    }
    return out;
}

int db_admin_media_delete(struct dbc *c, const char *media_id, const char *server_name,
                          json_t **out)
{
    const char *p[] = {media_id, server_name};
    *out = NULL;
    PGresult *res = db_exec(
        c,
        "WITH t AS (SELECT coalesce(json_agg(sha256), '[]') AS thumbs FROM media_thumbnails "
        "WHERE media_id = $1), q AS (DELETE FROM media_quarantine WHERE server_name = $2 AND "
        "media_id = $1), d AS (DELETE FROM media WHERE media_id = $1 RETURNING sha256) "
        "SELECT json_build_object('sha256', d.sha256, 'thumbs', t.thumbs)::text FROM d, t",
        2, p);
    if (!res)
        return -1;
    if (PQntuples(res))
        *out = json_loads(db_val(res, 0, 0), 0, NULL);
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (found && !*out)
        return -1;
    return found;
}

int db_admin_media_file_used(struct dbc *c, const char *sha256, bool thumb)
{
    const char *p[] = {sha256};
    PGresult *res = thumb ? db_exec(c,
                                    "SELECT EXISTS (SELECT 1 FROM media_thumbnails WHERE "
                                    "sha256 = $1) OR EXISTS (SELECT 1 FROM "
                                    "remote_media_thumbnails WHERE sha256 = $1)",
                                    1, p)
                          : db_exec(c,
                                    "SELECT EXISTS (SELECT 1 FROM media WHERE sha256 = $1) OR "
                                    "EXISTS (SELECT 1 FROM remote_media WHERE sha256 = $1)",
                                    1, p);
    if (!res)
        return -1;
    int used = db_bool(res, 0, 0);
    PQclear(res);
    return used;
}

json_t *db_admin_media_older(struct dbc *c, const char *server_name, int64_t before_ts,
                             int64_t size_gt, bool keep_profiles, int limit)
{
    char b[24], s[24], l[24];
    const char *p[] = {server_name, db_i64(b, before_ts), db_i64(s, size_gt),
                       keep_profiles ? "t" : "f", db_i64(l, limit)};
    /* an avatar's URI compared as JSON text: canonical JSON writes an mxc URI unescaped */
    return db_strings(db_exec(
        c,
        "WITH av AS (SELECT to_json(avatar_url)::text AS u FROM users WHERE $4 AND avatar_url IS "
        "NOT NULL UNION SELECT (e.json::json -> 'content' -> 'url')::text FROM current_state s "
        "JOIN events e ON e.event_id = s.event_id WHERE $4 AND s.type = 'm.room.avatar' AND "
        "s.state_key = '' UNION SELECT (e.json::json -> 'content' -> 'avatar_url')::text FROM "
        "current_state s JOIN events e ON e.event_id = s.event_id WHERE $4 AND s.type = "
        "'m.room.member' AND right(s.state_key, length($1) + 1) = ':' || $1) "
        "SELECT m.media_id FROM media m WHERE m.created_ts < $2 AND coalesce(m.size, 0) > $3 "
        "AND NOT m.safe_from_quarantine AND NOT EXISTS (SELECT 1 FROM av WHERE av.u = "
        "to_json('mxc://' || $1 || '/' || m.media_id)::text) ORDER BY m.created_ts LIMIT $5",
        5, p));
}

int db_media_quarantine(struct dbc *c, const char *server_name, const char *media_id, bool local,
                        const char *by, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {server_name, media_id, by, db_i64(ts, now_ms), local ? "t" : "f"};
    PGresult *res = db_exec(c,
                            "INSERT INTO media_quarantine (server_name, media_id, "
                            "quarantined_by, created_ts) SELECT $1, $2, $3, $4 WHERE NOT ($5 AND "
                            "EXISTS (SELECT 1 FROM media WHERE media_id = $2 AND "
                            "safe_from_quarantine)) ON CONFLICT (server_name, media_id) DO "
                            "UPDATE SET quarantined_by = $3 RETURNING 1",
                            5, p);
    if (!res)
        return -1;
    int done = PQntuples(res) > 0;
    PQclear(res);
    return done;
}

int db_media_unquarantine(struct dbc *c, const char *server_name, const char *media_id)
{
    const char *p[] = {server_name, media_id};
    return db_run(c, "DELETE FROM media_quarantine WHERE server_name = $1 AND media_id = $2", 2, p);
}

int64_t db_media_quarantine_user(struct dbc *c, const char *user_id, const char *server_name,
                                 const char *by, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {user_id, server_name, by, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO media_quarantine (server_name, media_id, "
                            "quarantined_by, created_ts) SELECT $2, media_id, $3, $4 FROM media "
                            "WHERE user_id = $1 AND NOT safe_from_quarantine ON CONFLICT "
                            "(server_name, media_id) DO NOTHING",
                            4, p);
    long n = db_affected(res);
    if (res)
        PQclear(res);
    return n;
}

int db_media_is_quarantined(struct dbc *c, const char *server_name, const char *media_id)
{
    const char *p[] = {server_name, media_id};
    PGresult *res = db_exec(c,
                            "SELECT 1 FROM media_quarantine WHERE server_name = $1 AND "
                            "media_id = $2",
                            2, p);
    if (!res)
        return -1;
    int q = PQntuples(res) > 0;
    PQclear(res);
    return q;
}

int db_media_protect(struct dbc *c, const char *media_id, bool protect)
{
    const char *p[] = {media_id, protect ? "t" : "f"};
    return db_affected_one(
        db_exec(c, "UPDATE media SET safe_from_quarantine = $2 WHERE media_id = $1", 2, p));
}

int db_admin_media_info(struct dbc *c, const char *server_name, const char *media_id, bool local,
                        json_t **out)
{
    const char *p[] = {server_name, media_id};
    PGresult *res =
        local ? db_exec(c,
                        "SELECT json_build_object('media_origin', $1::text, 'user_id', "
                        "m.user_id, 'media_id', m.media_id, 'media_type', m.content_type, "
                        "'media_length', m.size, 'upload_name', m.upload_name, 'created_ts', "
                        "m.created_ts, 'filesystem_id', m.sha256, 'url_cache', NULL, "
                        "'last_access_ts', NULL, 'quarantined_by', q.quarantined_by, "
                        "'authenticated', true, 'safe_from_quarantine', "
                        "m.safe_from_quarantine, 'sha256', m.sha256)::text FROM media m LEFT "
                        "JOIN media_quarantine q ON q.server_name = $1 AND q.media_id = "
                        "m.media_id WHERE m.media_id = $2",
                        2, p)
              : db_exec(c,
                        "SELECT json_build_object('media_origin', m.server_name, 'user_id', "
                        "NULL, 'media_id', m.media_id, 'media_type', m.content_type, "
                        "'media_length', m.size, 'upload_name', m.upload_name, 'created_ts', "
                        "m.fetched_ts, 'filesystem_id', m.sha256, 'url_cache', NULL, "
                        "'last_access_ts', NULL, 'quarantined_by', q.quarantined_by, "
                        "'authenticated', true, 'safe_from_quarantine', NULL, 'sha256', "
                        "m.sha256)::text FROM remote_media m LEFT JOIN media_quarantine q ON "
                        "q.server_name = $1 AND q.media_id = m.media_id WHERE m.server_name = "
                        "$1 AND m.media_id = $2",
                        2, p);
    if (!res)
        return -1;
    *out = PQntuples(res) ? json_loads(db_val(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    return *out ? 1 : 0;
}

json_t *db_admin_room_media_contents(struct dbc *c, const char *room_id, int limit)
{
    char l[24];
    const char *p[] = {room_id, db_i64(l, limit)};
    PGresult *res = db_exec(c,
                            "SELECT (json::json -> 'content')::text FROM events WHERE room_id = "
                            "$1 AND type IN ('m.room.message', 'm.sticker') AND redacted_by IS "
                            "NULL AND rejected IS NULL AND json LIKE '%mxc://%' ORDER BY "
                            "event_nid DESC LIMIT $2",
                            2, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *o = json_loads(db_val(res, i, 0), JSON_ALLOW_NUL, NULL);
        if (json_is_object(o))
            json_array_append_new(out, o);
        else
            json_decref(o);
    }
    PQclear(res);
    return out;
}
