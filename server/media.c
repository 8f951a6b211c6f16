/* media.c - the media repository (Client-Server API "Content repository", authenticated media
 * of v1.11): uploads, asynchronous uploads, downloads and thumbnails.
 *
 * Invariants:
 *  1. No path is built from user input: files are named by the SHA-256 of their content
 *     (media_store_path/ab/cd/<hash>, thumbnails under thumbnails/), and media IDs are checked
 *     against the alphabet this server generates before any lookup.
 *  2. Uploads arrive in a temporary file (server/http.c streams them there, stopping at
 *     max_upload_size) that is synced and renamed into place: a file in the store is whole.
 *     Identical content is stored once.
 *  3. What is served carries a Content-Type from a list of harmless types (anything else is
 *     application/octet-stream) and a Content-Disposition that is inline only for those;
 *     http.c adds a sandboxing Content-Security-Policy. Uploaded files never run as pages.
 *  4. Media of other servers is fetched through federation and cached (server/media_remote.c);
 *     its thumbnails are asked of the other server or made here from the cached original.
 *  5. media_store_path/tmp holds only files in the making (upload-*, put-*, thumb-*, scan-*);
 *     those a killed process left behind are removed at start-up, before anything is served.
 *  6. With media_scanner.enabled, an upload is scanned by clamd (server/avscan.c) while still
 *     in tmp: infected files (400 M_FORBIDDEN) and, with on_error: refuse, unscannable ones
 *     (503 M_UNKNOWN) never reach the store. Empty uploads are not scanned. */
#include "server/media.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "server/avscan.h"
#include "server/clock.h"
#include "server/httpjob.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/media_internal.h"
#include "server/thumbnail.h"
#include "server/userslots.h"
#include "server/workpool.h"
#include "storage/media.h"
#include "storage/remote.h"

#define MEDIA_ID_LEN 24
_Static_assert(MEDIA_ID_SIZE == MEDIA_ID_LEN + 1, "media.h's MEDIA_ID_SIZE");
#define PENDING_MAX 20                  /* unfinished asynchronous uploads per user */
#define PENDING_MS (24LL * 3600 * 1000) /* how long a created media ID waits for content */
#define THUMB_THREADS 2   /* thumbnails made at once (each a child process) */
#define THUMB_QUEUE 32    /* waiting beyond this: 429 */
#define THUMBS_PER_USER 2 /* thumbnails being made per user; more: 429 */

static char *store; /* media_store_path */
static char server_name[256];
int64_t media_max_size; /* max_upload_size: also the limit on remote media */
static const struct thumbnail_size *sizes = thumbnail_default_sizes;
static size_t n_sizes;
static struct userslots making = USERSLOTS_INIT;
static struct workpool pool = {.name = "thumbnails", .threads = THUMB_THREADS,
                               .max_queued = THUMB_QUEUE};

void media_fail(struct media_error *e, int status, const char *errcode, const char *fmt, ...)
{
    e->status = status;
    e->errcode = errcode;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap);
    va_end(ap);
}

void media_fail_internal(struct media_error *e)
{
    media_fail(e, 500, "M_UNKNOWN", "Internal server error");
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Remove the temporary files of an earlier process (invariant 5) from dir. */
static void remove_stale_temps(const char *dir)
{
    /* the prefixes of files made in tmp: http.c's uploads, put_file, thumbnail.c */
    static const char *const prefixes[] = {"upload-", "put-", "thumb-", "scan-"};
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t removed = 0;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        bool ours = false;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
            ours = ours || strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) == 0;
        if (ours && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed)
        log_info("media: removed %zu temporary file(s) left by an earlier run in %s", removed,
                 dir);
}

int media_init(const struct config *cfg, const char *argv0)
{
    free(store);
    store = strdup(cfg->media_store_path);
    media_max_size = cfg->max_upload_size;
    snprintf(server_name, sizeof server_name, "%s", cfg->server_name);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp", cfg->media_store_path);
    if (!store || mkdir_p(tmp) < 0) {
        log_error("media_store_path %s: cannot create it: %s", cfg->media_store_path,
                  strerror(errno));
        return -1;
    }
    (void)argv0;
    remove_stale_temps(tmp);
    if (avscan_init(cfg) < 0)
        return -1;
    if (avscan_enabled()) {
        char where[300];
        if (cfg->media_scanner.clamd_socket)
            snprintf(where, sizeof where, "%s", cfg->media_scanner.clamd_socket);
        else
            snprintf(where, sizeof where, "%s:%d",
                     cfg->media_scanner.clamd_host ? cfg->media_scanner.clamd_host : "127.0.0.1",
                     cfg->media_scanner.clamd_port);
        log_info("media: uploads are scanned by clamd at %s (on_error: %s)", where,
                 cfg->media_scanner.on_error);
    }
    n_sizes = thumbnail_n_default_sizes;
    if (cfg->n_thumbnail_sizes) {
        sizes = cfg->thumbnail_sizes;
        n_sizes = cfg->n_thumbnail_sizes;
    }
    if (thumbnail_init(tmp) < 0 || workpool_start(&pool) < 0)
        return -1;
    return 0;
}

void media_shutdown(void)
{
    media_quiesce();
    thumbnail_shutdown();
    free(store);
    store = NULL;
}

int media_tmp_path(char *out, size_t n, const char *name)
{
    int w = snprintf(out, n, "%s/tmp/%s", store, name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static bool valid_media_id(const char *id)
{
    if (!id || strlen(id) != MEDIA_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p))
            return false;
    return true;
}

void media_hex(const uint8_t sha[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

/* The stored file of a content hash (thumbnail: under thumbnails/). */
void media_file_of(const char *sha_hex, bool thumb, char *out, size_t n)
{
    snprintf(out, n, "%s/%s%.2s/%.2s/%s", store, thumb ? "thumbnails/" : "", sha_hex, sha_hex + 2,
             sha_hex);
}

/* Move (or, for a buffer, write) content into the store under its hash. 0 or -1. */
int media_put_file(const char *tmp, const char *buf, size_t len, const char *sha_hex, bool thumb)
{
    char dest[4096], dir[4096];
    media_file_of(sha_hex, thumb, dest, sizeof dest);
    snprintf(dir, sizeof dir, "%s", dest);
    *strrchr(dir, '/') = '\0';
    if (mkdir_p(dir) < 0)
        return -1;
    struct stat st;
    if (stat(dest, &st) == 0 && (uint64_t)st.st_size == (uint64_t)len) {
        if (tmp)
            unlink(tmp); /* the same content is stored already */
        return 0;
    }
    char staged[4200];
    if (!tmp) { /* a buffer (thumbnail, or an empty upload): write it to a staging file */
        snprintf(staged, sizeof staged, "%s/tmp/put-XXXXXX", store);
        int fd = mkstemp(staged);
        if (fd < 0)
            return -1;
        for (size_t off = 0; off < len;) {
            ssize_t w = write(fd, buf + off, len - off);
            if (w <= 0 && errno != EINTR) {
                close(fd);
                unlink(staged);
                return -1;
            }
            off += w > 0 ? (size_t)w : 0;
        }
        if (fsync(fd) < 0) {
            close(fd);
            unlink(staged);
            return -1;
        }
        close(fd);
        tmp = staged;
    } else {
        int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) < 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    if (rename(tmp, dest) < 0) {
        log_error("media: cannot move %s into the store: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static bool header_text_ok(const char *s, size_t max)
{
    if (strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

void media_new_id(char out[MEDIA_ID_SIZE])
{
    ids_random_alnum(out, MEDIA_ID_LEN);
    out[MEDIA_ID_LEN] = '\0';
}

json_t *media_upload(const char *user_id, const char *media_id, const char *tmp, uint64_t len,
                     const uint8_t sha[32], const char *content_type, const char *filename,
                     struct media_error *err)
{
    char id[MEDIA_ID_SIZE];
    media_new_id(id);
    /* scanned before it is stored (invariant 6); the temporary file is removed by the caller */
    enum avscan_verdict v =
        tmp ? avscan_check(tmp, user_id, media_id ? media_id : id, NULL, 0) : AVSCAN_ACCEPT;
    return media_upload_verdict(user_id, media_id, id, tmp, len, sha, content_type, filename, v,
                                err);
}

json_t *media_upload_verdict(const char *user_id, const char *media_id, const char *new_id,
                             const char *tmp, uint64_t len, const uint8_t sha[32],
                             const char *content_type, const char *filename,
                             enum avscan_verdict v, struct media_error *err)
{
    if (!content_type || !*content_type)
        content_type = "application/octet-stream";
    if (!header_text_ok(content_type, 255)) {
        media_fail(err, 400, "M_INVALID_PARAM", "Invalid Content-Type");
        return NULL;
    }
    if (filename && (!*filename || !header_text_ok(filename, 255))) {
        media_fail(err, 400, "M_INVALID_PARAM", "Invalid filename");
        return NULL;
    }
    char sha_hex[65], id[MEDIA_ID_LEN + 1];
    media_hex(sha, sha_hex);
    if (new_id && strlen(new_id) == MEDIA_ID_LEN)
        memcpy(id, new_id, MEDIA_ID_LEN + 1);
    else
        media_new_id(id);
    if (v == AVSCAN_INFECTED) {
        media_fail(err, 400, "M_FORBIDDEN", "This file was refused: the virus scanner found malware");
        return NULL;
    }
    if (v == AVSCAN_UNSCANNED) {
        media_fail(err, 503, "M_UNKNOWN", "This file could not be checked for viruses; try later");
        return NULL;
    }
    if (media_put_file(tmp, "", (size_t)len, sha_hex, false) < 0) {
        media_fail_internal(err);
        return NULL;
    }
    struct dbc *c = db_get();
    if (!c) {
        media_fail_internal(err);
        return NULL;
    }
    json_t *out = NULL;
    if (media_id) { /* filling a created ID */
        struct db_media m;
        int filled = db_media_fill(c, media_id, user_id, content_type, filename, (int64_t)len,
                                   sha_hex, clock_now_ms());
        if (filled == 1) {
            out = json_object();
        } else if (filled == 0) {
            int got = db_media_get(c, media_id, &m);
            if (got == 1 && strcmp(m.user_id, user_id) != 0)
                media_fail(err, 403, "M_FORBIDDEN", "This media ID belongs to someone else");
            else if (got == 1 && m.sha256)
                media_fail(err, 409, "M_CANNOT_OVERWRITE_MEDIA", "This media has been uploaded");
            else if (got >= 0)
                media_fail(err, 404, "M_NOT_FOUND", "Unknown or expired media ID");
            else
                media_fail_internal(err);
            if (got == 1)
                db_media_clear(&m);
        } else {
            media_fail_internal(err);
        }
    } else {
        char uri[400];
        snprintf(uri, sizeof uri, "mxc://%s/%s", server_name, id);
        if (db_media_insert(c, id, user_id, content_type, filename, (int64_t)len, sha_hex,
                            clock_now_ms()) == 0)
            out = json_pack("{s:s}", "content_uri", uri);
        else
            media_fail_internal(err);
    }
    db_put(c);
    return out;
}

json_t *media_create(const char *user_id, struct media_error *err)
{
    char id[MEDIA_ID_LEN + 1];
    ids_random_alnum(id, MEDIA_ID_LEN);
    id[MEDIA_ID_LEN] = '\0';
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    int rc = c ? db_media_reserve(c, id, user_id, now, now + PENDING_MS, PENDING_MAX) : -1;
    db_put(c);
    if (rc < 0) {
        media_fail_internal(err);
        return NULL;
    }
    if (rc == 0) {
        media_fail(err, 429, "M_LIMIT_EXCEEDED", "Too many media IDs waiting for their upload");
        return NULL;
    }
    char uri[400];
    snprintf(uri, sizeof uri, "mxc://%s/%s", server_name, id);
    return json_pack("{s:s,s:I}", "content_uri", uri, "unused_expires_at",
                     (json_int_t)(now + PENDING_MS));
}

/* Content types served as they are (and inline); anything else is an opaque download. */
bool media_safe_type(const char *t)
{
    static const char *const ok[] = {
        "image/jpeg", "image/gif",  "image/png",       "image/apng", "image/webp",
        "image/avif", "video/mp4",  "video/webm",      "video/ogg",  "video/quicktime",
        "audio/mp4",  "audio/webm", "audio/aac",       "audio/mpeg", "audio/ogg",
        "audio/wave", "audio/wav",  "audio/x-wav",     "audio/flac", "audio/x-flac",
        "text/plain", "text/csv",   "application/json"};
    size_t n = strcspn(t, "; ");
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && strncasecmp(t, ok[i], n) == 0)
            return true;
    return false;
}

/* Content-Disposition with the file name in RFC 5987 form (UTF-8, percent-encoded). */
void media_disposition(const char *name, bool inl, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "%s", inl ? "inline" : "attachment");
    if (!name || !*name || o >= n)
        return;
    o += (size_t)snprintf(out + o, n - o, "; filename*=utf-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < n; p++) {
        if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p))
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", *p);
    }
    out[o < n ? o : n - 1] = '\0';
}

static bool local_id(const char *server, const char *media_id, struct media_error *err)
{
    if (!ids_is_local_server(server)) {
        media_fail(err, 404, "M_NOT_FOUND", "Media from other servers needs federation");
        return false;
    }
    if (!valid_media_id(media_id)) {
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
        return false;
    }
    return true;
}

/* The media row, answering "not found" and "not yet uploaded". */
static int lookup(const char *media_id, struct db_media *m, struct media_error *err)
{
    struct dbc *c = db_get();
    int got = c ? db_media_get(c, media_id, m) : -1;
    db_put(c);
    if (got < 0) {
        media_fail_internal(err);
        return -1;
    }
    if (got == 0) {
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
        return -1;
    }
    if (!m->sha256) {
        bool expired = m->expires_ts <= clock_now_ms();
        db_media_clear(m);
        if (expired)
            media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
        else
            media_fail(err, 504, "M_NOT_YET_UPLOADED", "The media has not been uploaded yet");
        return -1;
    }
    return 0;
}

int media_serve_file(const char *sha, const char *content_type, const char *name, int64_t size,
                     struct media_out *out, struct media_error *err)
{
    char path[4096];
    media_file_of(sha, false, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        log_error("media: the file %s is missing", path);
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
        return -1;
    }
    const char *type =
        content_type && media_safe_type(content_type) ? content_type : "application/octet-stream";
    snprintf(out->content_type, sizeof out->content_type, "%s", type);
    media_disposition(name, media_safe_type(type), out->disposition, sizeof out->disposition);
    out->len = (uint64_t)size;
    if (size == 0) { /* an empty file: a buffer, not a descriptor */
        close(fd);
        out->buf = malloc(1);
    } else {
        out->fd = fd;
    }
    return 0;
}

int media_download(const char *server, const char *media_id, const char *download_name,
                   struct media_out *out, struct media_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (media_quarantined(server, media_id, err))
        return -1;
    if (server && !ids_is_local_server(server))
        return media_remote_download(server, media_id, download_name, out, err);
    struct db_media m;
    if (!local_id(server, media_id, err) || lookup(media_id, &m, err) < 0)
        return -1;
    int rc = media_serve_file(m.sha256, m.content_type,
                              download_name ? download_name : m.upload_name, m.size, out, err);
    db_media_clear(&m);
    return rc;
}

int media_thumbnail_find(const char *server, const char *media_id, int width, int height,
                         const char *method, const char *user_id, struct media_out *out,
                         struct media_thumb *t, struct media_error *err)
{
    memset(out, 0, sizeof *out);
    memset(t, 0, sizeof *t);
    out->fd = -1;
    if (media_quarantined(server, media_id, err))
        return -1;
    int i = thumbnail_select(sizes, n_sizes, width, height, strcmp(method, "crop") == 0);
    if (i < 0) {
        media_fail(err, 400, "M_INVALID_PARAM", "width and height must be positive");
        return -1;
    }
    const struct thumbnail_size *sz = &sizes[i];
    if (server && !ids_is_local_server(server))
        return media_remote_thumbnail(server, media_id, sz, user_id, out, t, err);
    struct db_media m;
    if (!local_id(server, media_id, err) || lookup(media_id, &m, err) < 0)
        return -1;
    char *type = NULL, *sha = NULL, path[4096];
    int64_t size = 0;
    struct dbc *c = db_get();
    int got = c ? db_thumbnail_get(c, media_id, sz->width, sz->height, sz->crop ? "crop" : "scale",
                                   &type, &sha, &size)
                : -1;
    db_put(c);
    int rc = -1;
    if (got < 0) {
        media_fail_internal(err);
        goto out;
    }
    if (got == 1) { /* made before */
        media_file_of(sha, true, path, sizeof path);
        out->fd = open(path, O_RDONLY);
        if (out->fd >= 0) {
            out->len = (uint64_t)size;
            snprintf(out->content_type, sizeof out->content_type, "%s", type);
            snprintf(out->disposition, sizeof out->disposition, "inline");
            rc = 0;
            goto out;
        }
    }
    if (!userslots_take(&making, user_id, THUMBS_PER_USER)) {
        media_fail(err, 429, "M_LIMIT_EXCEEDED", "Too many thumbnails in progress; try again shortly");
        goto out;
    }
    snprintf(t->media_id, sizeof t->media_id, "%s", media_id);
    snprintf(t->user_id, sizeof t->user_id, "%s", user_id);
    media_file_of(m.sha256, false, t->src, sizeof t->src);
    t->size = *sz;
    rc = 1;
out:
    free(type);
    free(sha);
    db_media_clear(&m);
    return rc;
}

bool media_thumb_slot_take(const char *user_id)
{
    return userslots_take(&making, user_id, THUMBS_PER_USER);
}

void media_thumb_slot_give(const char *user_id)
{
    userslots_give(&making, user_id);
}

/* Make t's thumbnail (blocking: a pool thread) and store it. 0 with *out, or -1 with *err. */
static int make(const struct media_thumb *t, struct media_out *out, struct media_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    const char *method = t->size.crop ? "crop" : "scale";
    char *buf = NULL;
    size_t len = 0;
    const char *ttype = NULL;
    if (thumbnail_make(t->src, t->size.width, t->size.height, t->size.crop, &buf, &len, &ttype) <
        0) {
        media_fail(err, 400, "M_UNKNOWN", "Cannot make a thumbnail of this media");
        return -1;
    }
    uint8_t digest[32];
    char hexd[65];
    crypto_hash_sha256(digest, (const unsigned char *)buf, len);
    media_hex(digest, hexd);
    struct dbc *c;
    if (media_put_file(NULL, buf, len, hexd, true) == 0 && (c = db_get()) != NULL) {
        if (t->server[0])
            db_remote_thumb_put(c, t->server, t->media_id, t->size.width, t->size.height, method,
                                ttype, (int64_t)len, hexd);
        else
            db_thumbnail_put(c, t->media_id, t->size.width, t->size.height, method, ttype, hexd,
                             (int64_t)len);
        db_put(c);
    }
    out->buf = buf;
    out->len = len;
    snprintf(out->content_type, sizeof out->content_type, "%s", ttype);
    snprintf(out->disposition, sizeof out->disposition, "inline");
    return 0;
}

struct making {
    struct media_thumb t;
    media_thumb_done_fn done;
    void *arg;
};

static void make_work(void *arg, bool cancelled)
{
    struct making *mk = arg;
    struct media_thumb_result *r = calloc(1, sizeof *r);
    if (r) {
        r->out.fd = -1;
        if (cancelled) {
            media_fail(&r->err, 503, "M_UNKNOWN", "The server is stopping");
            r->rc = -1;
        } else {
            r->rc = make(&mk->t, &r->out, &r->err);
        }
    }
    userslots_give(&making, mk->t.user_id);
    mk->done(mk->arg, r);
    free(mk);
}

void media_thumbnail_run(const struct media_thumb *t, media_thumb_done_fn done, void *arg)
{
    struct making *mk = malloc(sizeof *mk);
    if (mk) {
        mk->t = *t;
        mk->done = done;
        mk->arg = arg;
        if (workpool_submit(&pool, make_work, mk) == 0)
            return;
        free(mk);
    }
    userslots_give(&making, t->user_id);
    struct media_thumb_result *r = calloc(1, sizeof *r);
    if (r) {
        r->out.fd = -1;
        r->rc = -1;
        media_fail(&r->err, 429, "M_LIMIT_EXCEEDED", "Too many thumbnails in progress; try again");
    }
    done(arg, r);
}

static void job_made(void *job, struct media_thumb_result *r)
{
    http_job_done(job, r, media_thumb_result_free);
}

void media_thumbnail_job(struct http_job *job, void *arg)
{
    media_thumbnail_run(arg, job_made, job);
}

/* A dimension of the thumbnail query: 0 with *v, -1 with *err. */
static int dimension(const char *name, const char *s, int *v, struct media_error *err)
{
    char *end;
    long n = s ? strtol(s, &end, 10) : -1;
    if (!s || !*s || *end || n < 1 || n > 100000) {
        media_fail(err, 400, "M_INVALID_PARAM", "%s must be a positive integer", name);
        return -1;
    }
    *v = (int)n;
    return 0;
}

int media_thumb_query(const char *width, const char *height, const char *method, int *w, int *h,
                      const char **method_out, struct media_error *err)
{
    if (dimension("width", width, w, err) < 0 || dimension("height", height, h, err) < 0)
        return -1;
    if (method && strcmp(method, "crop") != 0 && strcmp(method, "scale") != 0) {
        media_fail(err, 400, "M_INVALID_PARAM", "method must be crop or scale");
        return -1;
    }
    *method_out = method ? method : "scale";
    return 0;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct media_thumb_result *r;
};

static void waited(void *arg, struct media_thumb_result *r)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->r = r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int media_thumbnail_wait(const struct media_thumb *t, struct media_out *out,
                         struct media_error *err)
{
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL};
    media_thumbnail_run(t, waited, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    int rc = -1;
    if (!w.r) {
        media_fail_internal(err);
    } else if (w.r->rc < 0) {
        *err = w.r->err;
    } else {
        *out = w.r->out;
        w.r->out.buf = NULL;
        w.r->out.fd = -1;
        rc = 0;
    }
    media_thumb_result_free(w.r);
    return rc;
}

void media_thumb_result_free(void *p)
{
    struct media_thumb_result *r = p;
    if (!r)
        return;
    if (r->out.fd >= 0)
        close(r->out.fd);
    free(r->out.buf);
    free(r);
}

void media_quiesce(void)
{
    thumbnail_cancel();
    workpool_stop(&pool);
    avscan_quiesce();
}
