/* media.h - the media repository (Client-Server API "Content repository"). */
#ifndef AMTSBOTE_MEDIA_H
#define AMTSBOTE_MEDIA_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/avscan.h"
#include "server/config.h"
#include "server/thumbnail.h"

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
 * SHA-256 `sha`) by user_id, scanned (media_scanner; on this thread) and stored
 * content-addressed. With media_id non-NULL it fills that
 * ID reserved by media_create (PUT /_matrix/media/v3/upload/{server}/{id}). Returns
 * {content_uri} (new; {} for the PUT), or NULL with *err. The temporary file is moved away on
 * success (the caller then calls http_body_file_take). */
json_t *media_upload(const char *user_id, const char *media_id, const char *tmp, uint64_t len,
                     const uint8_t sha[32], const char *content_type, const char *filename,
                     struct media_error *err);
/* A fresh media ID (24 letters and digits). */
#define MEDIA_ID_SIZE 25
void media_new_id(char out[MEDIA_ID_SIZE]);
/* media_upload with the scan done already (avscan_check_async): v is its verdict, new_id (from
 * media_new_id, may be NULL) the ID a new upload gets, as the scan's log line named it. */
json_t *media_upload_verdict(const char *user_id, const char *media_id, const char *new_id,
                             const char *tmp, uint64_t len, const uint8_t sha[32],
                             const char *content_type, const char *filename,
                             enum avscan_verdict v, struct media_error *err);
/* POST /_matrix/media/v1/create: a media ID to upload to later. */
json_t *media_create(const char *user_id, struct media_error *err);
/* The content of mxc://server_name/media_id (download_name overrides the stored file name in
 * Content-Disposition; may be NULL). 0 with *out, or -1 with *err. */
int media_download(const char *server_name, const char *media_id, const char *download_name,
                   struct media_out *out, struct media_error *err);
/* A thumbnail to make: the source file and the configured size serving the request. */
struct media_thumb {
    char server[256]; /* "" for this server's media, else the remote media's server */
    char media_id[256];
    char user_id[256];
    char src[4096];
    struct thumbnail_size size;
};
/* GET thumbnail, the quick part: the configured size (thumbnail_sizes) serving width x height
 * by method ("crop" or "scale"). Returns 0 with *out when that thumbnail was made before, 1
 * with *t when it must be made (a slot of user_id's is taken: the caller must call
 * media_thumbnail_run exactly once, which gives it back), -1 with *err (429 when user_id
 * has enough thumbnails being made). */
int media_thumbnail_find(const char *server_name, const char *media_id, int width, int height,
                         const char *method, const char *user_id, struct media_out *out,
                         struct media_thumb *t, struct media_error *err);

struct media_thumb_result {
    int rc; /* 0: out, -1: err */
    struct media_out out;
    struct media_error err;
};
/* The made thumbnail (a new result, or NULL when out of memory: free with
 * media_thumb_result_free), on a pool thread or the caller's. */
typedef void (*media_thumb_done_fn)(void *arg, struct media_thumb_result *r);
/* Make t's thumbnail on the thumbnail pool (never on the caller's thread) and store it; done
 * runs exactly once, possibly before this returns (429 when the pool's queue is full). */
void media_thumbnail_run(const struct media_thumb *t, media_thumb_done_fn done, void *arg);
void media_thumb_result_free(void *r);
struct http_job;
/* An http_job_start_fn (server/httpjob.h) for a parked thumbnail request: arg is the struct
 * media_thumb from media_thumbnail_find (request memory); the job's result is a struct
 * media_thumb_result (freed with media_thumb_result_free). */
void media_thumbnail_job(struct http_job *job, void *arg);
/* The thumbnail query of the client and federation APIs: width and height (positive integers
 * up to 100000, required) and method ("crop" or "scale", NULL: "scale"). 0 with *w, *h,
 * *method set, or -1 with *err (400 M_INVALID_PARAM). */
int media_thumb_query(const char *width, const char *height, const char *method, int *w, int *h,
                      const char **method_out, struct media_error *err);

/* media_thumbnail_run, waiting for it on the caller's thread (a thread that may block, never
 * an HTTP worker). 0 with *out, or -1 with *err. */
int media_thumbnail_wait(const struct media_thumb *t, struct media_out *out,
                         struct media_error *err);

/* The path of a new file in media_store_path/tmp: `name` (e.g. "scan-XXXXXX" for mkstemp)
 * appended; the prefix must be one remove_stale_temps knows. 0, or -1 when it does not fit. */
int media_tmp_path(char *out, size_t n, const char *name);

/* scan_encrypted (server/media_scan.c): scan the local media server/media_id, an encrypted
 * attachment, by decrypting it (AES-256-CTR with key and iv) after checking its SHA-256.
 * Callers check avscan_enabled first. Returns 0 with *clean, or -1 with *err (404 unknown media, 400 MCS_MEDIA_FAILED_TO_DECRYPT on a hash
 * mismatch, 503 when clamd gives no verdict and on_error is refuse). The plaintext is written
 * to a temporary file only for the scan. */
int media_scan_encrypted(const char *user_id, const char *server, const char *media_id,
                         const uint8_t key[32], const uint8_t iv[16], const uint8_t sha[32],
                         bool *clean, struct media_error *err);

/* Shutdown, before the HTTP front stops: thumbnails being made or waiting end (their
 * requests are answered). */
void media_quiesce(void);

/* Over federation (server/media_remote.c): the answer of GET
 * /_matrix/federation/v1/media/download/{mediaId} for this server's media: *out becomes a
 * multipart/mixed buffer (a JSON part, then the media). 0, or -1 with *err. */
int media_fed_download(const char *media_id, struct media_out *out, struct media_error *err);
/* Turn a download or thumbnail answer (buf or fd) into the federation's multipart/mixed
 * answer, in place (out->buf, content_type with the boundary, no disposition). 0 or -1
 * (out unchanged then). */
int media_multipart_wrap(struct media_out *out);

#endif
