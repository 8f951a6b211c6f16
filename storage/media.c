/* media.c - SQL for the media repository (migration 0012): media IDs to content hashes, the
 * pending IDs of asynchronous uploads, and the thumbnails made so far. */
#include "storage/media.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

void db_media_clear(struct db_media *m)
{
    free(m->user_id);
    free(m->content_type);
    free(m->upload_name);
    free(m->sha256);
    memset(m, 0, sizeof *m);
}

int db_media_insert(struct dbc *c, const char *media_id, const char *user_id,
                    const char *content_type, const char *upload_name, int64_t size,
                    const char *sha256, int64_t now_ms)
{
    char sz[24], ts[24];
    const char *p[] = {media_id,         user_id, content_type,      upload_name,
                       db_i64(sz, size), sha256,  db_i64(ts, now_ms)};
    return db_run(c,
                  "INSERT INTO media (media_id, user_id, content_type, upload_name, size, "
                  "sha256, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  7, p);
}

int db_media_reserve(struct dbc *c, const char *media_id, const char *user_id, int64_t now_ms,
                     int64_t expires_ts, int max_pending)
{
    char ts[24], ex[24], mx[24];
    const char *p[] = {media_id, user_id, db_i64(ts, now_ms), db_i64(ex, expires_ts),
                       db_i64(mx, max_pending)};
    return db_affected_one(db_exec(
        c,
        "INSERT INTO media (media_id, user_id, created_ts, expires_ts) SELECT $1, $2, $3, $4 "
        "WHERE (SELECT count(*) FROM media WHERE user_id = $2 AND sha256 IS NULL AND "
        "expires_ts > $3) < $5",
        5, p));
}

int db_media_fill(struct dbc *c, const char *media_id, const char *user_id,
                  const char *content_type, const char *upload_name, int64_t size,
                  const char *sha256, int64_t now_ms)
{
    char sz[24], ts[24];
    const char *p[] = {media_id,         user_id, content_type,      upload_name,
                       db_i64(sz, size), sha256,  db_i64(ts, now_ms)};
    return db_affected_one(
        db_exec(c,
                "UPDATE media SET content_type = $3, upload_name = $4, size = $5, sha256 = $6, "
                "expires_ts = NULL WHERE media_id = $1 AND user_id = $2 AND sha256 IS NULL AND "
                "expires_ts > $7",
                7, p));
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int db_media_get(struct dbc *c, const char *media_id, struct db_media *out)
{
    const char *p[] = {media_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT user_id, content_type, upload_name, sha256, size, "
                            "expires_ts FROM media WHERE media_id = $1",
                            1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        out->user_id = dup_or_null(db_val(res, 0, 0));
        out->content_type = dup_or_null(db_val(res, 0, 1));
        out->upload_name = dup_or_null(db_val(res, 0, 2));
        out->sha256 = dup_or_null(db_val(res, 0, 3));
        out->size = db_val(res, 0, 4) ? db_int(res, 0, 4) : 0;
        out->expires_ts = db_val(res, 0, 5) ? db_int(res, 0, 5) : 0;
    }
    PQclear(res);
    return found;
}

int db_thumbnail_get(struct dbc *c, const char *media_id, int width, int height, const char *method,
                     char **content_type, char **sha256, int64_t *size)
{
    char w[24], h[24];
    const char *p[] = {media_id, db_i64(w, width), db_i64(h, height), method};
    PGresult *res = db_exec(c,
                            "SELECT content_type, sha256, size FROM media_thumbnails WHERE "
                            "media_id = $1 AND width = $2 AND height = $3 AND method = $4",
                            4, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        *content_type = strdup(db_val(res, 0, 0));
        *sha256 = strdup(db_val(res, 0, 1));
        *size = db_int(res, 0, 2);
    }
    PQclear(res);
    return found;
}

int db_thumbnail_put(struct dbc *c, const char *media_id, int width, int height, const char *method,
                     const char *content_type, const char *sha256, int64_t size)
{
    char w[24], h[24], sz[24];
    const char *p[] = {media_id,     db_i64(w, width), db_i64(h, height), method,
                       content_type, sha256,           db_i64(sz, size)};
    return db_run(c,
                  "INSERT INTO media_thumbnails (media_id, width, height, method, content_type, "
                  "size, sha256) VALUES ($1, $2, $3, $4, $5, $7, $6) ON CONFLICT DO NOTHING",
                  7, p);
}
