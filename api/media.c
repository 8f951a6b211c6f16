/* media.c - the content repository endpoints (Client-Server API "Content repository"):
 * uploads under /_matrix/media/v3 and v1/create, downloads and thumbnails under the
 * authenticated /_matrix/client/v1/media (v1.11), the configuration, and the legacy
 * unauthenticated /_matrix/media/v3 reads, frozen (404 M_NOT_FOUND) while
 * enable_authenticated_media is on, as the spec's freeze describes. URL previews are off
 * unless configured (server/preview.c). The rules are in server/media.c. Previews and
 * thumbnails that must be made park their request (server/httpjob.h) instead of holding an
 * HTTP worker while a site or an image decoder takes its time. The content scanner's
 * scan_encrypted lets clients have an encrypted attachment scanned (server/media_scan.c). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "server/avscan.h"
#include "server/b64.h"
#include "server/httpjob.h"
#include "server/ids.h"
#include "server/media.h"
#include "server/preview.h"

static void reply_err(struct http_req *req, const struct media_error *e)
{
    http_reply_failure(req, e->status, e->errcode, e->why);
}

static void reply_out(struct http_req *req, struct media_out *o)
{
    http_reply_bytes(req, 200, o->buf, o->fd, o->len, o->content_type,
                     o->disposition[0] ? o->disposition : NULL);
}

/* An upload waiting for its virus scan (request memory). */
struct upload_park {
    const char *media_id, *user_id, *tmp, *content_type, *filename;
    char new_id[MEDIA_ID_SIZE];
    uint64_t len;
    uint8_t sha[32];
};

static void upload_answer(struct http_req *req, const struct upload_park *u,
                          enum avscan_verdict v)
{
    struct media_error err = {0};
    json_t *out = media_upload_verdict(u->user_id, u->media_id, u->new_id, u->tmp, u->len,
                                       u->sha, u->content_type, u->filename, v, &err);
    if (!out) {
        reply_err(req, &err);
        return;
    }
    if (u->tmp)
        http_body_file_take(req); /* moved into the store */
    http_reply_json(req, 200, out);
}

static void scanned(void *job, enum avscan_verdict v)
{
    enum avscan_verdict *r = malloc(sizeof *r);
    if (r)
        *r = v;
    http_job_done(job, r, free);
}

static void scan_start(struct http_job *job, void *arg)
{
    struct upload_park *u = arg;
    avscan_check_async(u->tmp, u->user_id, u->media_id ? u->media_id : u->new_id, scanned, job);
}

static void scan_finish(struct http_req *req, void *arg, void *result)
{
    if (!result)
        http_reply_internal(req);
    else
        upload_answer(req, arg, *(enum avscan_verdict *)result);
}

/* Uploads are scanned (media_scanner) on the scan pool while the request is parked, so no
 * HTTP worker waits for clamd. */
static void upload(struct http_req *req, const char *media_id)
{
    struct upload_park *u = http_alloc(req, sizeof *u);
    if (!u) {
        http_reply_internal(req);
        return;
    }
    u->tmp = http_body_file(req, &u->len, u->sha);
    u->media_id = media_id;
    u->user_id = http_user(req)->user_id;
    u->content_type = http_header(req, "Content-Type");
    u->filename = http_query(req, "filename");
    media_new_id(u->new_id);
    if (u->tmp && avscan_enabled())
        http_job_park(req, scan_start, scan_finish, u);
    else
        upload_answer(req, u, AVSCAN_ACCEPT);
}

void api_media_upload(struct http_req *req)
{
    upload(req, NULL);
}

void api_media_upload_to(struct http_req *req)
{
    if (!ids_is_local_server(http_param(req, 0))) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Media IDs of other servers");
        return;
    }
    upload(req, http_param(req, 1));
}

void api_media_create(struct http_req *req)
{
    struct media_error err = {0};
    json_t *out = media_create(http_user(req)->user_id, &err);
    if (out)
        http_reply_json(req, 200, out);
    else
        reply_err(req, &err);
}

void api_media_config(struct http_req *req)
{
    http_reply_json(
        req, 200,
        json_pack("{s:I}", "m.upload.size", (json_int_t)http_config(req)->max_upload_size));
}

/* Whose work this is, for the per-user limits: the user, or the address of an
 * unauthenticated legacy read. */
static const char *who(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *ip = u ? NULL : http_printf(req, "ip:%s", http_client_ip(req));
    return u ? u->user_id : ip ? ip : "ip:?";
}

/* Another server's media: fetched (when not cached) on a thread of its own, the request
 * parked meanwhile (api/parked.c). */
struct remote_job {
    char *server, *media_id, *name, *who, *method;
    int width, height; /* 0: a download */
    int rc;
    struct media_out out;
    struct media_error err;
    struct media_thumb t;
};

static void remote_free(void *p)
{
    struct remote_job *j = p;
    free(j->server);
    free(j->media_id);
    free(j->name);
    free(j->who);
    free(j->method);
    if (j->rc == 0 && j->out.fd >= 0)
        close(j->out.fd);
    if (j->rc == 0)
        free(j->out.buf);
    free(j);
}

static void remote_work(void *p)
{
    struct remote_job *j = p;
    if (!j->width) {
        j->rc = media_download(j->server, j->media_id, j->name, &j->out, &j->err);
        return;
    }
    j->rc = media_thumbnail_find(j->server, j->media_id, j->width, j->height, j->method, j->who,
                                 &j->out, &j->t, &j->err);
    if (j->rc == 1)
        j->rc = media_thumbnail_wait(&j->t, &j->out, &j->err);
}

static void remote_finish(struct http_req *req, void *p)
{
    struct remote_job *j = p;
    if (j->rc < 0) {
        reply_err(req, &j->err);
        return;
    }
    reply_out(req, &j->out); /* takes buf or fd */
    j->out.buf = NULL;
    j->out.fd = -1;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Park a download (width 0) or thumbnail of another server's media. */
static void remote_run(struct http_req *req, int width, int height, const char *method)
{
    struct remote_job *j = calloc(1, sizeof *j);
    if (j) {
        j->rc = -1;
        j->out.fd = -1;
        j->server = strdup(http_param(req, 0));
        j->media_id = strdup(http_param(req, 1));
        j->name = width ? NULL : dup_or_null(http_param(req, 2));
        j->who = strdup(who(req));
        j->method = strdup(method);
        j->width = width;
        j->height = height;
    }
    if (!j || !j->server || !j->media_id || !j->who || !j->method) {
        if (j)
            remote_free(j);
        http_reply_internal(req);
        return;
    }
    api_run_parked(req, remote_work, remote_finish, remote_free, j);
}

void api_media_download(struct http_req *req)
{
    struct media_out out;
    struct media_error err = {0};
    if (!ids_is_local_server(http_param(req, 0))) {
        remote_run(req, 0, 0, "");
        return;
    }
    if (media_download(http_param(req, 0), http_param(req, 1), http_param(req, 2), &out, &err) < 0)
        reply_err(req, &err);
    else
        reply_out(req, &out);
}

static void thumb_finish(struct http_req *req, void *arg, void *result)
{
    struct media_thumb_result *r = result;
    if (!r) {
        http_reply_internal(req);
    } else if (r->rc < 0) {
        reply_err(req, &r->err);
    } else {
        reply_out(req, &r->out); /* the reply takes buf or fd */
        r->out.buf = NULL;
        r->out.fd = -1;
    }
}

void api_media_thumbnail(struct http_req *req)
{
    int w, h;
    const char *method;
    struct media_error qerr = {0};
    if (media_thumb_query(http_query(req, "width"), http_query(req, "height"),
                          http_query(req, "method"), &w, &h, &method, &qerr) < 0) {
        reply_err(req, &qerr);
        return;
    }
    if (!ids_is_local_server(http_param(req, 0))) {
        remote_run(req, w, h, method);
        return;
    }
    struct media_out out;
    struct media_error err = {0};
    struct media_thumb *t = http_alloc(req, sizeof *t);
    if (!t) {
        http_reply_internal(req);
        return;
    }
    int rc = media_thumbnail_find(http_param(req, 0), http_param(req, 1), w, h, method,
                                  who(req), &out, t, &err);
    if (rc < 0)
        reply_err(req, &err);
    else if (rc == 0)
        reply_out(req, &out);
    else /* made on the thumbnail pool while the request is parked */
        http_job_park(req, media_thumbnail_job, thumb_finish, t);
}

/* The legacy reads: the spec's freeze of unauthenticated media. */
void api_media_legacy_read(struct http_req *req)
{
    if (http_config(req)->enable_authenticated_media) {
        http_reply_error(req, 404, "M_NOT_FOUND",
                         "Unauthenticated media is frozen: use /_matrix/client/v1/media");
        return;
    }
    if (strstr(http_path(req), "/thumbnail/"))
        api_media_thumbnail(req);
    else
        api_media_download(req);
}

/* A preview being fetched: what the parked request needs (request memory). */
struct preview_park {
    const char *url, *user_id;
};

static void free_json(void *j)
{
    json_decref(j);
}

static void preview_fetched(void *job, json_t *og)
{
    http_job_done(job, og, free_json);
}

static void preview_start(struct http_job *job, void *arg)
{
    struct preview_park *p = arg;
    preview_fetch(p->url, p->user_id, preview_fetched, job);
}

static void preview_finish(struct http_req *req, void *arg, void *result)
{
    struct preview_park *p = arg;
    json_t *og = result;
    if (!og) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Could not fetch a preview of that URL");
        return;
    }
    preview_store(p->url, og);
    http_reply_json(req, 200, json_incref(og));
}

void api_media_preview_url(struct http_req *req)
{
    int status;
    const char *errcode;
    char why[256];
    json_t *out;
    struct preview_park *p = http_alloc(req, sizeof *p);
    if (!p) {
        http_reply_internal(req);
        return;
    }
    p->url = http_query(req, "url");
    p->user_id = who(req);
    if (preview_check(http_config(req), p->url, p->user_id, &out, &status, &errcode, why,
                      sizeof why) == PREVIEW_FETCH) {
        http_job_park(req, preview_start, preview_finish, p); /* answered off this thread */
    } else if (out) {
        http_reply_json(req, 200, out);
    } else {
        http_reply_error(req, status, errcode, "%s", why);
    }
}

/* Decode base64 field `name` of obj into exactly n bytes. */
static bool field_bytes(json_t *obj, const char *name, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(obj, name));
    size_t got = 0;
    return s && b64_decode(s, strlen(s), out, n, &got) == 0 && got == n;
}

/* An error of the content scanner's API: its "reason" and "info", and the same as errcode and
 * error for Matrix clients. */
static void mcs_error(struct http_req *req, int status, const char *reason, const char *info)
{
    http_reply_error_extra(req, status, reason,
                           json_pack("{s:s,s:s}", "reason", reason, "info", info), "%s", info);
}

/* POST /_matrix/media_proxy/unstable/scan_encrypted (matrix-content-scanner's API): scan an
 * encrypted attachment of this server with the decryption material the client sends as the
 * spec's EncryptedFile in `file`. {"clean": bool, "info": text}, as the content scanner. */
void api_media_scan_encrypted(struct http_req *req)
{
    if (!avscan_enabled()) {
        http_reply_error(req, 404, "M_UNRECOGNIZED", "Media scanning is not enabled");
        return;
    }
    json_t *file = json_object_get(http_json(req), "file");
    json_t *key = json_object_get(file, "key");
    const char *url = json_string_value(json_object_get(file, "url"));
    const char *alg = json_string_value(json_object_get(key, "alg"));
    uint8_t k[32], iv[16], sha[32];
    if (json_object_get(http_json(req), "encrypted_body")) {
        mcs_error(req, 400, "MCS_MALFORMED_JSON",
                  "encrypted_body is not supported: send file in the clear over TLS");
        return;
    }
    if (!json_is_object(file) || !url || strncmp(url, "mxc://", 6) != 0 ||
        (alg && strcmp(alg, "A256CTR") != 0) || !field_bytes(key, "k", k, sizeof k) ||
        !field_bytes(file, "iv", iv, sizeof iv) ||
        !field_bytes(json_object_get(file, "hashes"), "sha256", sha, sizeof sha)) {
        sodium_memzero(k, sizeof k);
        mcs_error(req, 400, "MCS_MALFORMED_JSON",
                  "file must be an EncryptedFile (url, key.k, iv, hashes.sha256)");
        return;
    }
    const char *sm = url + 6, *slash = strchr(sm, '/');
    char *server = slash ? http_printf(req, "%.*s", (int)(slash - sm), sm) : NULL;
    struct media_error err = {0};
    bool clean = false;
    int rc = server ? media_scan_encrypted(http_user(req)->user_id, server, slash + 1, k, iv,
                                           sha, &clean, &err)
                    : -1;
    sodium_memzero(k, sizeof k);
    if (!server) {
        mcs_error(req, 400, "MCS_MALFORMED_JSON", "file.url is not an mxc:// URI");
        return;
    }
    if (rc < 0 && err.errcode && strncmp(err.errcode, "MCS_", 4) == 0)
        mcs_error(req, err.status, err.errcode, err.why);
    else if (rc < 0)
        reply_err(req, &err);
    else
        http_reply_json(req, 200,
                        json_pack("{s:b,s:s}", "clean", clean, "info",
                                  clean ? "File is clean" : "***VIRUS DETECTED***"));
}
