/* media.h - the media repository (Client-Server API "Content repository"). */
#ifndef AMTSBOTE_MEDIA_H
#define AMTSBOTE_MEDIA_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"

struct media_error {
    int status; /* 500: internal (logged) */
    const char *errcode;
    char why[200];
};

/* What a download or thumbnail answers: an open file (fd >= 0) or a buffer (malloc'd). */
struct media_out {
    int fd;
    char *buf;
    uint64_t len;
    char content_type[128];
    char disposition[600];
};

/* Start-up: the store's directories and libvips. 0 or -1 (logged). */
int media_init(const struct config *cfg, const char *argv0);
void media_shutdown(void);

/* An upload (the body in the temporary file `tmp`, NULL when empty, of `len` bytes with
 * SHA-256 `sha`) by user_id, stored content-addressed. With media_id non-NULL it fills that
 * ID reserved by media_create (PUT /_matrix/media/v3/upload/{server}/{id}). Returns
 * {content_uri} (new; {} for the PUT), or NULL with *err. The temporary file is moved away on
 * success (the caller then calls http_body_file_take). */
json_t *media_upload(const char *user_id, const char *media_id, const char *tmp, uint64_t len,
                     const uint8_t sha[32], const char *content_type, const char *filename,
                     struct media_error *err);
/* POST /_matrix/media/v1/create: a media ID to upload to later. */
json_t *media_create(const char *user_id, struct media_error *err);
/* The content of mxc://server_name/media_id (download_name overrides the stored file name in
 * Content-Disposition; may be NULL). 0 with *out, or -1 with *err. */
int media_download(const char *server_name, const char *media_id, const char *download_name,
                   struct media_out *out, struct media_error *err);
/* A thumbnail (method "crop" or "scale"), made on first request and kept. */
int media_thumbnail(const char *server_name, const char *media_id, int width, int height,
                    const char *method, struct media_out *out, struct media_error *err);

#endif
