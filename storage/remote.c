/* remote.c - SQL for remote users' device lists and remote media (migration 0065). The
 * cached objects are stored as the JSON text received and handed back parsed; nothing here
 * interprets them. */
#include "storage/remote.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

static char *param(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *db_remote_devices_get(struct dbc *c, const json_t *users)
{
    char *u = param(users);
    if (!u)
        return NULL;
    const char *p[] = {u};
    json_t *out = db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('user_id', user_id, 'stream_id', stream_id, "
        "'stale', stale, 'devices', devices::json, 'master_key', master_key::json, "
        "'self_signing_key', self_signing_key::json)), '[]'::json) FROM remote_device_lists "
        "WHERE user_id IN (SELECT json_array_elements_text($1::json))",
        1, p));
    free(u);
    if (out && !json_is_array(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int db_remote_devices_put(struct dbc *c, const char *user_id, int64_t stream_id,
                          const char *devices, const char *master_key, const char *self_signing_key,
                          int64_t now_ms)
{
    char s[24], t[24];
    const char *p[] = {user_id,    db_i64(s, stream_id), devices,
                       master_key, self_signing_key,     db_i64(t, now_ms)};
    return db_run(c,
                  "INSERT INTO remote_device_lists (user_id, stream_id, stale, devices, "
                  "master_key, self_signing_key, fetched_ts) VALUES ($1, $2, false, $3, $4, $5, "
                  "$6) ON CONFLICT (user_id) DO UPDATE SET stream_id = $2, stale = false, "
                  "devices = $3, master_key = $4, self_signing_key = $5, fetched_ts = $6 "
                  "WHERE remote_device_lists.stale OR remote_device_lists.stream_id <= $2",
                  6, p);
}

int db_remote_devices_apply(struct dbc *c, const char *user_id, int64_t old_stream_id,
                            int64_t stream_id, const char *devices)
{
    char o[24], n[24];
    const char *p[] = {user_id, db_i64(o, old_stream_id), db_i64(n, stream_id), devices};
    return db_affected_one(db_exec(c,
                                   "UPDATE remote_device_lists SET stream_id = $3, devices = $4 "
                                   "WHERE user_id = $1 AND stream_id = $2 AND NOT stale",
                                   4, p));
}

int db_remote_devices_mark_stale(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_run(c, "UPDATE remote_device_lists SET stale = true WHERE user_id = $1", 1, p);
}

int db_remote_devices_forget(struct dbc *c, const json_t *users)
{
    char *u = param(users);
    if (!u)
        return -1;
    const char *p[] = {u};
    int rc = db_run(c,
                    "DELETE FROM remote_device_lists WHERE user_id IN (SELECT "
                    "json_array_elements_text($1::json))",
                    1, p);
    free(u);
    return rc;
}

json_t *db_users_sharing_with_server(struct dbc *c, const json_t *users, const char *server_name)
{
    char *u = param(users);
    if (!u)
        return NULL;
    const char *p[] = {u, server_name};
    json_t *out = db_strings(db_exec(
        c,
        "SELECT DISTINCT a.state_key FROM current_state a JOIN current_state b ON b.room_id = "
        "a.room_id AND b.type = 'm.room.member' AND b.membership = 'join' AND "
        "right(b.state_key, length($2) + 1) = ':' || $2 WHERE a.type = 'm.room.member' AND "
        "a.membership = 'join' AND a.state_key IN (SELECT json_array_elements_text($1::json))",
        2, p));
    free(u);
    return out;
}

int db_device_list_stream_id(struct dbc *c, const char *user_id, int64_t *out)
{
    const char *p[] = {user_id};
    PGresult *res = db_exec(
        c, "SELECT coalesce(max(stream), 0) FROM device_list_changes WHERE user_id = $1", 1, p);
    if (!res)
        return -1;
    *out = PQntuples(res) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

/* --- remote media -------------------------------------------------------------------------- */

void db_remote_media_clear(struct db_remote_media *m)
{
    free(m->content_type);
    free(m->upload_name);
    free(m->sha256);
    memset(m, 0, sizeof *m);
}

/* Fill *out from a (content_type, upload_name, size, sha256) row; clears res. 1, 0, -1. */
static int media_row(PGresult *res, struct db_remote_media *out)
{
    memset(out, 0, sizeof *out);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    const char *t = db_val(res, 0, 0), *n = db_val(res, 0, 1), *h = db_val(res, 0, 3);
    out->content_type = strdup(t ? t : "application/octet-stream");
    out->upload_name = n ? strdup(n) : NULL;
    out->size = db_int(res, 0, 2);
    out->sha256 = h ? strdup(h) : NULL;
    PQclear(res);
    if (!out->content_type || !out->sha256 || (n && !out->upload_name)) {
        db_remote_media_clear(out);
        return -1;
    }
    return 1;
}

int db_remote_media_get(struct dbc *c, const char *server, const char *media_id,
                        struct db_remote_media *out)
{
    const char *p[] = {server, media_id};
    return media_row(db_exec(c,
                             "SELECT content_type, upload_name, size, sha256 FROM remote_media "
                             "WHERE server_name = $1 AND media_id = $2",
                             2, p),
                     out);
}

int db_remote_media_put(struct dbc *c, const char *server, const char *media_id,
                        const char *content_type, const char *upload_name, int64_t size,
                        const char *sha256, int64_t now_ms)
{
    char s[24], t[24];
    const char *p[] = {server,          media_id, content_type,     upload_name,
                       db_i64(s, size), sha256,   db_i64(t, now_ms)};
    return db_run(c,
                  "INSERT INTO remote_media (server_name, media_id, content_type, upload_name, "
                  "size, sha256, fetched_ts) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO "
                  "NOTHING",
                  7, p);
}

int db_remote_thumb_get(struct dbc *c, const char *server, const char *media_id, int width,
                        int height, const char *method, struct db_remote_media *out)
{
    char w[24], h[24];
    const char *p[] = {server, media_id, db_i64(w, width), db_i64(h, height), method};
    return media_row(db_exec(c,
                             "SELECT content_type, NULL, size, sha256 FROM "
                             "remote_media_thumbnails WHERE server_name = $1 AND media_id = $2 "
                             "AND width = $3 AND height = $4 AND method = $5",
                             5, p),
                     out);
}

int db_remote_thumb_put(struct dbc *c, const char *server, const char *media_id, int width,
                        int height, const char *method, const char *content_type, int64_t size,
                        const char *sha256)
{
    char w[24], h[24], s[24];
    const char *p[] = {server, media_id,     db_i64(w, width), db_i64(h, height),
                       method, content_type, db_i64(s, size),  sha256};
    return db_run(c,
                  "INSERT INTO remote_media_thumbnails (server_name, media_id, width, height, "
                  "method, content_type, size, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                  "ON CONFLICT DO NOTHING",
                  8, p);
}
