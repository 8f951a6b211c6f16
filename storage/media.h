/* media.h - SQL for the media repository (migration 0012). */
#ifndef AMTSBOTE_STORAGE_MEDIA_H
#define AMTSBOTE_STORAGE_MEDIA_H
#include <stdint.h>

#include "storage/db.h"

struct db_media {
    char *user_id, *content_type, *upload_name, *sha256; /* malloc'd; sha256 NULL: pending */
    int64_t size, expires_ts;
};
void db_media_clear(struct db_media *m);

/* Record an uploaded file. 0 or -1. */
int db_media_insert(struct dbc *c, const char *media_id, const char *user_id,
                    const char *content_type, const char *upload_name, int64_t size,
                    const char *sha256, int64_t now_ms);
/* Reserve a media ID for an asynchronous upload, unless the user already has `max_pending`
 * unexpired ones. 1, 0 when over the limit, -1. */
int db_media_reserve(struct dbc *c, const char *media_id, const char *user_id, int64_t now_ms,
                     int64_t expires_ts, int max_pending);
/* Fill a reserved ID with its content, if it is the user's, still pending and unexpired.
 * 1 done, 0 not (the caller looks at why with db_media_get), -1. */
int db_media_fill(struct dbc *c, const char *media_id, const char *user_id,
                  const char *content_type, const char *upload_name, int64_t size,
                  const char *sha256, int64_t now_ms);
/* One media row. 1 (fill *out; free with db_media_clear), 0 unknown, -1. */
int db_media_get(struct dbc *c, const char *media_id, struct db_media *out);
/* A stored thumbnail: 1 with *content_type, *sha256 (malloc'd) and *size, 0 none, -1. */
int db_thumbnail_get(struct dbc *c, const char *media_id, int width, int height,
                     const char *method, char **content_type, char **sha256, int64_t *size);
int db_thumbnail_put(struct dbc *c, const char *media_id, int width, int height,
                     const char *method, const char *content_type, const char *sha256,
                     int64_t size);

#endif
