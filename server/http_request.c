/* http_request.c - the life of one request on the HTTP front (server/http.c): created on
 * libmicrohttpd's first callback and routed there, before any body arrives (a body over the
 * limit is refused with 413 M_TOO_LARGE unread); the body gathered in memory or streamed to a
 * temporary file; JSON parsed (duplicate keys rejected, depth limited); authenticated by the
 * route's policy; handed to its handler; parked and resumed for long polls; logged and
 * released on completion. http.c's invariants 1, 2, 3 and 5 are kept here. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/accesslog.h"
#include "server/arena.h"
#include "server/cjson.h"
#include "server/http_guard.h"
#include "server/http_internal.h"
#include "server/log.h"
#include "server/metrics.h"

static http_authenticator authenticator;
static http_server_authenticator server_authenticator;
static http_gate request_gate;
static http_end_observer end_observer;
static http_origin_enter_fn origin_enter;
static http_origin_leave_fn origin_leave;
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER; /* invariant 5 */

#define MAX_JSON_DEPTH 100

void http_set_authenticator(http_authenticator fn)
{
    authenticator = fn;
}

void http_set_server_authenticator(http_server_authenticator fn)
{
    server_authenticator = fn;
}

void http_set_origin_limiter(http_origin_enter_fn enter, http_origin_leave_fn leave)
{
    origin_enter = enter;
    origin_leave = leave;
}

void http_set_gate(http_gate fn)
{
    request_gate = fn;
}

void http_set_end_observer(http_end_observer fn)
{
    end_observer = fn;
}

/* Release what the request holds, but not the struct itself. */
static void req_release(struct http_req *r)
{
    if (r->on_end)
        r->on_end(r->ctx);
    json_decref(r->json);
    free(r->body);
    free(r->resp_body);
    if (r->body_fd >= 0)
        close(r->body_fd);
    if (r->body_path) {
        unlink(r->body_path);
        free(r->body_path);
    }
    if (r->resp_fd >= 0)
        close(r->resp_fd);
    arena_free(r->arena);
    r->arena = NULL;
}

static enum MHD_Result access_log_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    accesslog_query(cls, key, value);
    return MHD_YES;
}

/* The access log line of a finished request (server/accesslog.c masks the secrets): at
 * info, as Synapse writes it. The client address honours the listener's x_forwarded. */
static void access_log(struct http_req *r, enum MHD_RequestTerminationCode toe)
{
    static const char *const ended[] = {
        [MHD_REQUEST_TERMINATED_WITH_ERROR] = "(connection error)",
        [MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "(timed out)",
        [MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "(server shutting down)",
        [MHD_REQUEST_TERMINATED_READ_ERROR] = "(client went away)",
        [MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "(client went away)",
    };
    struct accesslog *l = arena_alloc(r->arena, sizeof *l);
    struct timespec now;
    if (!l || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return;
    /* who: the user of an access token, or the origin server of an X-Matrix request */
    accesslog_begin(l, http_client_ip(r), r->have_user ? r->user.user_id : r->origin, r->method,
                    r->path);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, access_log_arg, l);
    double ms = (double)(now.tv_sec - r->started.tv_sec) * 1e3 +
                (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
    const char *why = (size_t)toe < sizeof ended / sizeof ended[0] ? ended[toe] : NULL;
    accesslog_end(l, r->queued ? r->status : 0, ms, why);
    log_info("%s", l->buf);
}

void http_mhd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;
    if (!r)
        return;
    http_guard_idle(r->gc); /* the connection waits for its next request now */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    metrics_request(r->metric_slot, r->queued ? r->status : 0,
                    (int64_t)(now.tv_sec - r->started.tv_sec) * 1000000 +
                        (now.tv_nsec - r->started.tv_nsec) / 1000);
    access_log(r, toe);
    if (end_observer && r->route)
        end_observer(r, r->queued ? r->status : 0);
    if (r->origin_entered && origin_leave)
        origin_leave(r->origin);
    req_release(r);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&http_inflight, 1);
}

static const char *bearer_token(struct http_req *r)
{
    const char *h = http_header(r, "Authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) == 0) {
            h += 7;
            while (*h == ' ')
                h++;
            return *h ? h : NULL;
        }
        return NULL;
    }
    return http_query(r, "access_token");
}

/* Authenticate per the route's policy. Returns true when the handler may run; otherwise the
 * request has been answered. */
static bool authenticate(struct http_req *r)
{
    if (r->route->auth == HTTP_AUTH_NONE)
        return true;
    if (r->route->auth == HTTP_AUTH_SERVER) {
        if (server_authenticator) {
            if (!server_authenticator(r))
                return false;
            int64_t retry = 0;
            if (origin_enter && r->origin && !origin_enter(r->origin, &retry)) {
                json_t *extra = json_pack("{s:I}", "retry_after_ms", (json_int_t)retry);
                http_reply_error_extra(r, 429, "M_LIMIT_EXCEEDED", extra,
                                       "Too many requests from %s", r->origin);
                return false;
            }
            r->origin_entered = origin_enter && r->origin;
            return true;
        }
        http_reply_error(r, 401, "M_UNAUTHORIZED", "Federation is not enabled");
        return false;
    }
    const char *token = bearer_token(r);
    if (!token) {
        if (r->route->auth == HTTP_AUTH_OPTIONAL)
            return true;
        http_reply_error(r, 401, "M_MISSING_TOKEN", "Missing access token");
        return false;
    }
    int rc = authenticator ? authenticator(r, token, &r->user) : -1;
    if (rc == 1) {
        r->have_user = true;
        return true;
    }
    if (rc == 0) {
        json_t *extra = json_pack("{s:b}", "soft_logout", 0);
        http_reply_error_extra(r, 401, "M_UNKNOWN_TOKEN", extra, "Unrecognised access token");
    } else if (rc == -1) {
        http_reply_internal_cause(r, "the access token could not be looked up");
    }
    return false;
}

static bool parse_json_body(struct http_req *r)
{
    json_error_t err;
    if (r->body_len == 0) {
        r->json = json_object();
        return true;
    }
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!r->json) {
        http_reply_error(r, 400, "M_NOT_JSON", "Content not JSON: %s", err.text);
        return false;
    }
    if (!json_is_object(r->json)) {
        http_reply_error(r, 400, "M_BAD_JSON", "Content must be a JSON object");
        return false;
    }
    if (cjson_depth(r->json) > MAX_JSON_DEPTH) {
        http_reply_error(r, 400, "M_BAD_JSON", "JSON nested deeper than %d levels", MAX_JSON_DEPTH);
        return false;
    }
    return true;
}

static void dispatch(struct http_req *r)
{
    if (r->too_large) {
        http_reply_error(r, 413, "M_TOO_LARGE", "Request body too large (limit %zu bytes)",
                         r->body_limit);
        return;
    }
    if ((r->route->flags & HTTP_BODY_JSON) && !parse_json_body(r))
        return;
    if (!authenticate(r))
        return;
    if (request_gate && !request_gate(r))
        return;
    r->route->handler(r);
    if (!r->replied && !r->suspended)
        http_reply_internal_cause(r, "the handler gave no reply");
}

/* Append a chunk of an HTTP_BODY_FILE body to its temporary file (created at the first
 * chunk under media_store_path/tmp). 0, or -1 (logged; the connection is dropped). */
static int body_to_file(struct http_req *r, const char *data, size_t n)
{
    if (r->body_fd < 0) {
        char *dir = arena_printf(r->arena, "%s/tmp", http_cfg->media_store_path);
        if (!dir)
            return -1;
        mkdir(http_cfg->media_store_path, 0700);
        mkdir(dir, 0700);
        r->body_path = malloc(strlen(dir) + sizeof "/upload-XXXXXX");
        if (!r->body_path)
            return -1;
        sprintf(r->body_path, "%s/upload-XXXXXX", dir);
        r->body_fd = mkstemp(r->body_path);
        if (r->body_fd < 0) {
            log_error("upload: cannot create a file in %s: %s", dir, strerror(errno));
            free(r->body_path);
            r->body_path = NULL;
            return -1;
        }
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(r->body_fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_error("upload: cannot write %s: %s", r->body_path, strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(&r->sha, (const unsigned char *)data, n);
    r->body_len += n;
    return 0;
}

const char *http_body_file(struct http_req *req, uint64_t *len, uint8_t sha256[32])
{
    *len = req->body_len;
    crypto_hash_sha256_state copy = req->sha;
    crypto_hash_sha256_final(&copy, sha256);
    return req->body_path;
}

void http_body_file_take(struct http_req *req)
{
    if (req->body_fd >= 0)
        close(req->body_fd);
    req->body_fd = -1;
    free(req->body_path);
    req->body_path = NULL;
}

enum MHD_Result http_mhd_request(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_req *r = *con_cls;

    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->arena = arena_new();
        if (!r->arena) {
            free(r);
            return MHD_NO;
        }
        r->conn = c;
        clock_gettime(CLOCK_MONOTONIC, &r->started);
        r->body_fd = r->resp_fd = -1;
        r->metric_slot = metrics_unmatched_slot();
        r->listener = cls;
        r->method = arena_strdup(r->arena, method);
        r->path = arena_strdup(r->arena, url);
        *con_cls = r;
        atomic_fetch_add(&http_inflight, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->gc = ci ? ci->socket_context : NULL;
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        http_guard_head_done(r->gc, te || (len && strcmp(len, "0") != 0));

        if (strcmp(method, "OPTIONS") == 0)
            return http_queue_options(r);

        bool path_known, bad_escape;
        r->route = http_route_find(r, method, url, &path_known, &bad_escape);
        if (!r->route) {
            if (bad_escape)
                http_reply_error(r, 400, "M_INVALID_PARAM", "Malformed percent-encoding in path");
            else if (path_known)
                http_reply_error(r, 405, "M_UNRECOGNIZED", "Method not allowed for this path");
            else
                http_reply_error(r, 404, "M_UNRECOGNIZED", "Unrecognized request");
            return http_queue_reply(r);
        }
        r->body_limit =
            (size_t)((r->route->flags & HTTP_BODY_FILE) ? http_cfg->max_upload_size
                                                        : http_cfg->max_request_body_size);
        if ((r->route->flags & HTTP_BODY_TXN) && r->body_limit < HTTP_TXN_BODY_LIMIT)
            r->body_limit = HTTP_TXN_BODY_LIMIT;
        if (r->route->flags & HTTP_BODY_FILE)
            crypto_hash_sha256_init(&r->sha);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == '\0' && n > r->body_limit) {
                r->too_large = true;
                dispatch(r);
                return http_queue_reply(r);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        http_guard_body(r->gc, n);
        if (r->too_large || r->queued)
            return MHD_YES;
        if (r->body_len + n > r->body_limit) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return MHD_YES;
        }
        if (r->route->flags & HTTP_BODY_FILE)
            return body_to_file(r, upload_data, n) == 0 ? MHD_YES : MHD_NO;
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 1024;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }

    http_guard_busy(r->gc); /* the whole request is in: no deadline while it is handled */
    if (r->suspended) {     /* back from http_resume */
        http_guard_unpark(r->gc);
        if (r->cancelled) /* the client went away (http_park_cancel_gone): close the connection */
            return MHD_NO;
        r->suspended = false;
        r->resumed(r);
    } else if (!r->replied) {
        dispatch(r);
    }
    if (r->suspended && !r->replied) {
        MHD_suspend_connection(r->conn);
        pthread_mutex_lock(&park_mu);
        r->waiter_pending = true;
        pthread_mutex_unlock(&park_mu);
        http_guard_park(r->gc, r);
        r->arm(r);
        return MHD_YES;
    }
    r->suspended = false;
    return http_queue_reply(r);
}

void http_suspend(struct http_req *req, http_park_fn arm, http_park_fn resumed)
{
    req->suspended = true;
    req->arm = arm;
    req->resumed = resumed;
}

void http_set_ctx(struct http_req *req, void *ctx)
{
    req->ctx = ctx;
}

void http_on_end(struct http_req *req, void (*fn)(void *ctx))
{
    req->on_end = fn;
}

void *http_ctx(struct http_req *req)
{
    return req->ctx;
}

void http_resume(struct http_req *req)
{
    pthread_mutex_lock(&park_mu);
    bool resume = req->waiter_pending && !req->cancelled;
    req->waiter_pending = false;
    pthread_mutex_unlock(&park_mu);
    if (resume)
        MHD_resume_connection(req->conn);
}

/* http_guard's hooks for a parked request whose client went away: claim it (under the
 * guard's lock) so that the waiter's later http_resume does not resume it, then resume it
 * here to end it (http_mhd_request closes a cancelled request's connection). */
void *http_park_claim_gone(void *owner)
{
    struct http_req *r = owner;
    pthread_mutex_lock(&park_mu);
    bool mine = r->waiter_pending && !r->cancelled && !atomic_load(&http_stopping);
    if (mine)
        r->cancelled = true;
    pthread_mutex_unlock(&park_mu);
    return mine ? r->conn : NULL;
}

void http_park_cancel_gone(void *token)
{
    MHD_resume_connection(token);
}
