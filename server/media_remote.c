/* media_remote.c - media across servers (Server-Server API "Content Repository", v1.11
 * authenticated media): this server's media for other servers as multipart/mixed (a JSON part,
 * then the media), and other servers' media for local clients, fetched through
 * /_matrix/federation/v1/media/download and /thumbnail with X-Matrix and kept in the media
 * store (by SHA-256, as local media; rows in remote_media and remote_media_thumbnails).
 *
 * Invariants:
 *  1. Nothing larger than max_upload_size is fetched or kept: the answer is cut off at that
 *     size plus the multipart framing, and the media part is checked again. At most
 *     FETCHES_MAX fetches run at once (each holds its answer in memory; 429 beyond).
 *  2. Every connection (to the other server, and to a Location it redirects the media part to)
 *     goes through the address policy (ip_range_blacklist / ip_range_whitelist), and the other
 *     server through federation_domain_whitelist.
 *  3. What a remote server says is untrusted: its content type is served only when harmless
 *     (media.c's list), its file name only as a Content-Disposition parameter, and the media
 *     and server names are checked against the spec's grammar before any request.
 *  4. A remote thumbnail is asked of the other server when the original is not cached here;
 *     when the original is cached, or the other server has no thumbnail to give, it is made
 *     here from the original (fetched then).
 *  5. With media_scanner.enabled, what is fetched (originals and thumbnails) is scanned by
 *     clamd before it is kept or served (scan_bytes). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "server/avscan.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/media_internal.h"
#include "server/multipart.h"
#include "server/outbound.h"
#include "server/remote.h"
#include "storage/remote.h"

#define REMOTE_MEDIA_TIMEOUT_MS 20000
#define MULTIPART_SLACK (64 * 1024) /* framing and JSON part on top of the media */
#define FETCHES_MAX 8 /* remote media fetches at once: each may hold max_upload_size in memory */

static atomic_int fetching;

/* --- multipart/mixed ------------------------------------------------------------------- */

int media_multipart_wrap(struct media_out *out)
{
    char boundary[33], head[1024], tail[64];
    ids_random_alnum(boundary, 32);
    boundary[32] = '\0';
    int hl = snprintf(head, sizeof head,
                      "--%s\r\nContent-Type: application/json\r\n\r\n{}\r\n--%s\r\n"
                      "Content-Type: %s\r\n%s%s%s\r\n",
                      boundary, boundary, out->content_type,
                      out->disposition[0] ? "Content-Disposition: " : "", out->disposition,
                      out->disposition[0] ? "\r\n" : "");
    int tl = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", boundary);
    if (hl < 0 || (size_t)hl >= sizeof head || tl < 0 || (size_t)tl >= sizeof tail ||
        out->len > (uint64_t)media_max_size + MULTIPART_SLACK)
        return -1;
    size_t total = (size_t)hl + (size_t)out->len + (size_t)tl;
    char *buf = malloc(total);
    if (!buf)
        return -1;
    memcpy(buf, head, (size_t)hl);
    if (out->buf) {
        memcpy(buf + hl, out->buf, (size_t)out->len);
    } else {
        for (size_t off = 0; off < out->len;) {
            ssize_t r = pread(out->fd, buf + hl + off, (size_t)out->len - off, (off_t)off);
            if (r <= 0 && errno != EINTR) {
                free(buf);
                return -1;
            }
            off += r > 0 ? (size_t)r : 0;
        }
        close(out->fd);
        out->fd = -1;
    }
    memcpy(buf + hl + out->len, tail, (size_t)tl);
    free(out->buf);
    out->buf = buf;
    out->len = total;
    snprintf(out->content_type, sizeof out->content_type, "multipart/mixed; boundary=%s", boundary);
    out->disposition[0] = '\0';
    return 0;
}

/* --- this server's media for others ------------------------------------------------------ */

int media_fed_download(const char *media_id, struct media_out *out, struct media_error *err)
{
    if (media_download(ids_local_server(), media_id, NULL, out, err) < 0)
        return -1;
    if (media_multipart_wrap(out) < 0) {
        if (out->fd >= 0)
            close(out->fd);
        free(out->buf);
        out->buf = NULL;
        out->fd = -1;
        media_fail_internal(err);
        return -1;
    }
    return 0;
}

/* --- other servers' media for local clients ---------------------------------------------- */

/* The spec's media ID grammar ([A-Za-z0-9_-]+) and a server name: invariant 3. */
static bool remote_ids_ok(const char *server, const char *media_id, struct media_error *err)
{
    size_t n = media_id ? strlen(media_id) : 0;
    bool ok = server && ids_server_name_valid(server, strlen(server)) && n > 0 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)media_id[i]) || media_id[i] == '_' || media_id[i] == '-';
    if (!ok)
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
    return ok;
}

/* GET a federation media endpoint of `server` and take its media part: *body (malloc'd),
 * *len, the part's type and file name. The part may redirect (Location): followed once,
 * under the same address policy. 0, or -1 with *err (404 when the other server says so). */
static int fetch_counted(const char *server, const char *path, size_t max, char **body, size_t *len,
                         char *type, size_t type_cap, char *name, size_t name_cap,
                         struct media_error *err);

static int fetch_part(const char *server, const char *path, char **body, size_t *len, char *type,
                      size_t type_cap, char *name, size_t name_cap, struct media_error *err)
{
    *body = NULL;
    if (atomic_fetch_add(&fetching, 1) >= FETCHES_MAX) {
        atomic_fetch_sub(&fetching, 1);
        media_fail(err, 429, "M_LIMIT_EXCEEDED", "Too many remote media fetches; try again");
        return -1;
    }
    size_t max = (size_t)media_max_size + MULTIPART_SLACK;
    int rc = fetch_counted(server, path, max, body, len, type, type_cap, name, name_cap, err);
    atomic_fetch_sub(&fetching, 1);
    return rc;
}

/* fetch_part's work, while counted in `fetching`. */
static int fetch_counted(const char *server, const char *path, size_t max, char **body, size_t *len,
                         char *type, size_t type_cap, char *name, size_t name_cap,
                         struct media_error *err)
{
    char why[256];
    struct outbound_res res;
    struct multipart_part p[2];
    int st = remote_get_raw(server, path, max, REMOTE_MEDIA_TIMEOUT_MS, &res, why, sizeof why);
    if (st != 200) {
        if (st == 404)
            media_fail(err, 404, "M_NOT_FOUND", "%s does not have this media", server);
        else if (st == -2)
            media_fail(err, 403, "M_FORBIDDEN", "Federation with %s is not allowed", server);
        else if (res.err == OUTBOUND_E_TOO_LARGE)
            media_fail(err, 502, "M_TOO_LARGE", "The media is larger than this server takes");
        else
            media_fail(err, 502, "M_UNKNOWN", "Could not fetch the media from %s", server);
        log_info("remote media %s%s: %d %s", server, path, st, st < 0 ? why : "");
        outbound_res_clear(&res);
        return -1;
    }
    if (multipart_parse(res.body, res.len, res.content_type, p) < 0) {
        media_fail(err, 502, "M_UNKNOWN", "%s answered with a malformed media response", server);
        outbound_res_clear(&res);
        return -1;
    }
    multipart_filename(p[1].disposition, name, name_cap);
    if (p[1].location[0]) { /* the media is elsewhere: one plain GET, same address policy */
        struct outbound_req r = {.url = p[1].location,
                                 .timeout_ms = REMOTE_MEDIA_TIMEOUT_MS,
                                 .max_body = (size_t)media_max_size,
                                 .filter = outbound_ip_range_filter()};
        struct outbound_res loc;
        outbound_res_clear(&res);
        if (outbound_fetch(&r, &loc) < 0 || loc.status != 200) {
            media_fail(err, 502, loc.err == OUTBOUND_E_TOO_LARGE ? "M_TOO_LARGE" : "M_UNKNOWN",
                       "Could not fetch the media from where %s sent us", server);
            outbound_res_clear(&loc);
            return -1;
        }
        snprintf(type, type_cap, "%s", loc.content_type);
        *body = loc.body;
        *len = loc.len;
        loc.body = NULL;
        outbound_res_clear(&loc);
    } else {
        if (p[1].len > (size_t)media_max_size) {
            media_fail(err, 502, "M_TOO_LARGE", "The media is larger than this server takes");
            outbound_res_clear(&res);
            return -1;
        }
        *body = malloc(p[1].len ? p[1].len : 1);
        if (!*body) {
            outbound_res_clear(&res);
            media_fail_internal(err);
            return -1;
        }
        memcpy(*body, p[1].body, p[1].len);
        *len = p[1].len;
        snprintf(type, type_cap, "%s", p[1].type);
        outbound_res_clear(&res);
    }
    if (!type[0])
        snprintf(type, type_cap, "application/octet-stream");
    return 0;
}

/* Invariant 5: fetched bytes are scanned by clamd (media_scanner) before they are kept or
 * served, through a temporary file in media_store_path/tmp ("scan-", removed at once; a
 * start-up removes any a crash left). 0 to keep them, or -1 with err filled as for an upload:
 * 403 M_FORBIDDEN when infected, 503 when no verdict could be had and on_error refuses. */
static int scan_bytes(const char *server, const char *media_id, const char *body, size_t len,
                      struct media_error *err)
{
    if (!avscan_enabled())
        return 0;
    char tmp[600];
    int fd = -1;
    enum avscan_verdict v = AVSCAN_UNSCANNED;
    if (media_tmp_path(tmp, sizeof tmp, "scan-XXXXXX") == 0 && (fd = mkstemp(tmp)) >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, body + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
        if (off == len)
            v = avscan_check(tmp, server, media_id, NULL, 0);
        else
            log_error("media: remote media %s from %s: cannot write it for the scan", media_id,
                      server);
        unlink(tmp);
    } else {
        log_error("media: remote media %s from %s: no temporary file for the scan", media_id,
                  server);
    }
    if (v == AVSCAN_INFECTED) {
        media_fail(err, 403, "M_FORBIDDEN",
                   "This file was refused: the virus scanner found malware");
        return -1;
    }
    if (v == AVSCAN_UNSCANNED) {
        media_fail(err, 503, "M_UNKNOWN", "This file could not be checked for viruses; try later");
        return -1;
    }
    return 0;
}

/* Store bytes in the media store (thumb: under thumbnails/); the hash into sha. 0 or -1. */
static int store_bytes(const char *body, size_t len, bool thumb, char sha[65])
{
    uint8_t digest[32];
    crypto_hash_sha256(digest, (const unsigned char *)body, len);
    media_hex(digest, sha);
    return media_put_file(NULL, body, len, sha, thumb);
}

/* Fetch the original of server/media_id and cache it; *m as db_remote_media_get gives it. */
static int fetch_original(const char *server, const char *media_id, struct db_remote_media *m,
                          struct media_error *err)
{
    char path[512], type[128], name[256], sha[65];
    char *body = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "/_matrix/federation/v1/media/download/%s?timeout_ms=%d", media_id,
             REMOTE_MEDIA_TIMEOUT_MS);
    if (fetch_part(server, path, &body, &len, type, sizeof type, name, sizeof name, err) < 0)
        return -1;
    int rc = -1;
    struct dbc *c = NULL;
    if (scan_bytes(server, media_id, body, len, err) < 0)
        goto out;
    if (store_bytes(body, len, false, sha) < 0 || !(c = db_get()) ||
        db_remote_media_put(c, server, media_id, type, name[0] ? name : NULL, (int64_t)len, sha,
                            clock_now_ms()) < 0) {
        media_fail_internal(err);
        goto out;
    }
    memset(m, 0, sizeof *m);
    m->content_type = strdup(type);
    m->upload_name = name[0] ? strdup(name) : NULL;
    m->sha256 = strdup(sha);
    m->size = (int64_t)len;
    if (!m->content_type || !m->sha256) {
        db_remote_media_clear(m);
        media_fail_internal(err);
        goto out;
    }
    rc = 0;
out:
    db_put(c);
    free(body);
    return rc;
}

int media_remote_download(const char *server, const char *media_id, const char *download_name,
                          struct media_out *out, struct media_error *err)
{
    struct db_remote_media m;
    if (!remote_ids_ok(server, media_id, err))
        return -1;
    struct dbc *c = db_get();
    int got = c ? db_remote_media_get(c, server, media_id, &m) : -1;
    db_put(c);
    if (got < 0) {
        media_fail_internal(err);
        return -1;
    }
    if (got == 0 && fetch_original(server, media_id, &m, err) < 0)
        return -1;
    int rc = media_serve_file(m.sha256, m.content_type,
                              download_name ? download_name : m.upload_name, m.size, out, err);
    db_remote_media_clear(&m);
    return rc;
}

/* Serve a stored thumbnail file. 0, or -1 when it is gone. */
static int serve_thumb(const struct db_remote_media *m, struct media_out *out)
{
    char path[4096];
    media_file_of(m->sha256, true, path, sizeof path);
    out->fd = open(path, O_RDONLY);
    if (out->fd < 0)
        return -1;
    out->len = (uint64_t)m->size;
    snprintf(out->content_type, sizeof out->content_type, "%s", m->content_type);
    snprintf(out->disposition, sizeof out->disposition, "inline");
    return 0;
}

/* Make it here from the original: fill t and take a slot (1), or -1 with *err. */
static int make_here(const char *server, const char *media_id, const struct thumbnail_size *sz,
                     const char *user_id, const struct db_remote_media *orig, struct media_thumb *t,
                     struct media_error *err)
{
    if (!media_thumb_slot_take(user_id)) {
        media_fail(err, 429, "M_LIMIT_EXCEEDED",
                   "Too many thumbnails in progress; try again shortly");
        return -1;
    }
    snprintf(t->server, sizeof t->server, "%s", server);
    snprintf(t->media_id, sizeof t->media_id, "%s", media_id);
    snprintf(t->user_id, sizeof t->user_id, "%s", user_id);
    media_file_of(orig->sha256, false, t->src, sizeof t->src);
    t->size = *sz;
    return 1;
}

int media_remote_thumbnail(const char *server, const char *media_id,
                           const struct thumbnail_size *sz, const char *user_id,
                           struct media_out *out, struct media_thumb *t, struct media_error *err)
{
    const char *method = sz->crop ? "crop" : "scale";
    struct db_remote_media m, orig;
    if (!remote_ids_ok(server, media_id, err))
        return -1;
    struct dbc *c = db_get();
    int thumb =
        c ? db_remote_thumb_get(c, server, media_id, sz->width, sz->height, method, &m) : -1;
    int have = thumb >= 0 && c ? db_remote_media_get(c, server, media_id, &orig) : -1;
    db_put(c);
    if (thumb < 0 || have < 0) {
        if (thumb == 1)
            db_remote_media_clear(&m);
        media_fail_internal(err);
        return -1;
    }
    int rc = -1;
    if (thumb == 1 && serve_thumb(&m, out) == 0) {
        rc = 0;
        goto out;
    }
    if (have == 1) { /* invariant 4: the original is here */
        rc = make_here(server, media_id, sz, user_id, &orig, t, err);
        goto out;
    }
    char path[600], type[128], name[256], sha[65];
    char *body = NULL;
    size_t len = 0;
    snprintf(path, sizeof path,
             "/_matrix/federation/v1/media/thumbnail/%s?width=%d&height=%d&method=%s"
             "&timeout_ms=%d",
             media_id, sz->width, sz->height, method, REMOTE_MEDIA_TIMEOUT_MS);
    if (fetch_part(server, path, &body, &len, type, sizeof type, name, sizeof name, err) == 0 &&
        strncasecmp(type, "image/", 6) == 0) {
        if (scan_bytes(server, media_id, body, len, err) < 0) {
            free(body);
            goto out;
        }
        if (store_bytes(body, len, true, sha) == 0 && (c = db_get())) {
            db_remote_thumb_put(c, server, media_id, sz->width, sz->height, method, type,
                                (int64_t)len, sha);
            db_put(c);
        }
        out->buf = body;
        out->len = len;
        snprintf(out->content_type, sizeof out->content_type, "%s",
                 media_safe_type(type) ? type : "application/octet-stream");
        snprintf(out->disposition, sizeof out->disposition, "inline");
        rc = 0;
        goto out;
    }
    free(body);
    if (err->status == 404 || err->status == 403)
        goto out;
    /* no thumbnail from there: the original, and a thumbnail made here */
    memset(err, 0, sizeof *err);
    if (fetch_original(server, media_id, &orig, err) < 0)
        goto out;
    have = 1;
    rc = make_here(server, media_id, sz, user_id, &orig, t, err);
out:
    if (thumb == 1)
        db_remote_media_clear(&m);
    if (have == 1)
        db_remote_media_clear(&orig);
    return rc;
}
