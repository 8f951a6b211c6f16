/* media_internal.h - what server/media.c shares with media_remote.c (remote media over
 * federation): the store's file layout, the serving rules and the thumbnail slots. Not for
 * other files. */
#ifndef AMTSBOTE_MEDIA_INTERNAL_H
#define AMTSBOTE_MEDIA_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/media.h"

extern int64_t media_max_size; /* max_upload_size: the limit on remote media too */

void media_fail(struct media_error *e, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void media_fail_internal(struct media_error *e);
/* Lower-case hex of a SHA-256. */
void media_hex(const uint8_t sha[32], char out[65]);
/* The stored file of a content hash (thumb: under thumbnails/). */
void media_file_of(const char *sha_hex, bool thumb, char *out, size_t n);
/* Move the file tmp (or write buf of len bytes when tmp is NULL) into the store under its
 * hash. 0 or -1. */
int media_put_file(const char *tmp, const char *buf, size_t len, const char *sha_hex, bool thumb);
/* Whether a content type is served as it is (and inline). */
bool media_safe_type(const char *t);
/* Content-Disposition for a file name (may be NULL). */
void media_disposition(const char *name, bool inl, char *out, size_t n);
/* Serve the stored file of hash sha (an original): *out with the file open (a buffer when it
 * is empty), the type served only when harmless, the name in Content-Disposition (may be
 * NULL). 0, or -1 with *err (404 when the file is missing, logged). */
int media_serve_file(const char *sha, const char *content_type, const char *name, int64_t size,
                     struct media_out *out, struct media_error *err);
/* Whether server/media_id (server NULL: this server's) is quarantined by an admin
 * (server/media_admin.c): true with *err 404 M_NOT_FOUND (also when the database cannot say:
 * the quarantine is not lifted by an outage, *err 500 then). */
bool media_quarantined(const char *server, const char *media_id, struct media_error *err);
/* A thumbnail slot of user_id's: true when taken (give it back with media_thumb_slot_give). */
bool media_thumb_slot_take(const char *user_id);
void media_thumb_slot_give(const char *user_id);

/* Remote media (server/media_remote.c): the download of mxc://server/media_id, from the cache
 * or fetched now (blocking up to 20 s); and the thumbnail: 0 with *out (cached, or fetched
 * from the other server), 1 with *t to make locally from the cached original (a slot of
 * user_id's taken, as media_thumbnail_find), -1 with *err. */
int media_remote_download(const char *server, const char *media_id, const char *download_name,
                          struct media_out *out, struct media_error *err);
int media_remote_thumbnail(const char *server, const char *media_id,
                           const struct thumbnail_size *sz, const char *user_id,
                           struct media_out *out, struct media_thumb *t, struct media_error *err);

#endif
