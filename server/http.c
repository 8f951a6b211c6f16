/* http.c - the HTTP front on libmicrohttpd: listeners, routing, bodies, JSON and errors.
 *
 * The only file that speaks libmicrohttpd. Each listener bind address gets one daemon with an
 * epoll thread pool (config `worker_threads`); handlers run on those threads and may block on
 * the database. The request path is routed on the first callback, before any body arrives, so
 * a body over the limit is refused with 413 M_TOO_LARGE without being read. MHD's own
 * percent-decoding is switched off so that an encoded '/' inside a room alias or user ID stays
 * inside its path segment; segments and query values are decoded here.
 *
 * Invariants:
 *  1. Every request gets exactly one response, and every response carries the CORS headers
 *     (web clients need them on errors too).
 *  2. A request's memory (arena, body, parsed JSON) is released in on_completed, whatever path
 *     the request took.
 *  3. `inflight` counts requests between their first callback and completion; shutdown waits
 *     for it to drain (bounded) after the listening sockets are closed, closing connections
 *     that wait for a request at once and answering the rest with `Connection: close`.
 *  4. Every connection passes http_guard (server/http_guard.c): admitted by the accept policy
 *     against max_connections and the listener's per-address limit, and given deadlines for
 *     its request head and body. libmicrohttpd's own connection limit is set above ours so
 *     that it never stops accepting silently.
 *  5. A parked request is resumed once: by the http_resume its arm arranged, or, when its
 *     client went away, by cancel_gone, which ends it; `waiter_pending` and `cancelled`
 *     (under park_mu) decide which. Parkers call http_resume only while the request lives
 *     (http.h). MHD_resume_connection is never called with park_mu held. */
#include "server/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/accesslog.h"
#include "server/arena.h"
#include "server/cjson.h"
#include "server/clock.h"
#include "server/http_guard.h"
#include "server/log.h"
#include "server/metrics.h"

#define MAX_TABLES 16
#define MAX_SEGMENTS 24
#define MAX_PARAMS 8
#define MAX_DAEMONS 32
#define MAX_JSON_DEPTH 100
#define MHD_LOG_BURST 20 /* libmicrohttpd's messages logged per 10 s */

struct http_req {
    struct MHD_Connection *conn;
    const struct config_listener *listener;
    struct arena *arena;
    const struct http_route *route;
    const char *method;
    const char *path; /* as received, before decoding */
    char *params[MAX_PARAMS];
    size_t n_params;
    char *body;
    size_t body_len, body_cap, body_limit;
    bool too_large;
    bool replied;
    bool queued; /* a response has been handed to MHD */
    bool suspended;
    bool waiter_pending, cancelled; /* invariant 5; under park_mu */
    http_park_fn arm, resumed;
    void *ctx;
    void (*on_end)(void *ctx);
    json_t *json;
    struct http_user user;
    bool have_user;
    struct http_guard_conn *gc; /* the connection's deadlines; may be NULL */
    const char *origin; /* HTTP_AUTH_SERVER: the authenticated origin server */
    char *client_ip;
    /* HTTP_BODY_FILE: the body streamed to a temporary file */
    int body_fd;
    char *body_path; /* malloc'd; unlinked in req_release unless taken */
    crypto_hash_sha256_state sha;
    uint8_t sha_out[32];
    /* the response, built by a handler and queued by the access callback */
    int status;
    char *resp_body;
    size_t resp_len;
    int resp_fd; /* http_reply_bytes from a file, else -1 */
    uint64_t resp_fd_len;
    char *resp_type, *resp_disposition; /* arena; NULL: JSON */
    struct timespec started;            /* first callback, for the access log */
    size_t metric_slot;                 /* the route's slot in server/metrics.c */
};

static const struct http_route *tables[MAX_TABLES];
static unsigned table_res[MAX_TABLES];
static size_t table_slot[MAX_TABLES]; /* metrics slot of each table's first row */
static size_t n_tables;
static http_authenticator authenticator;
static http_server_authenticator server_authenticator;
static http_gate request_gate;
static http_end_observer end_observer;
static const struct config *config;
static struct MHD_Daemon *daemons[MAX_DAEMONS];
static size_t n_daemons;
static atomic_int inflight;
static atomic_bool stopping; /* http_stop has begun: responses close their connection */
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER; /* invariant 5 */
static bool (*unavailable_probe)(void);

void http_add_routes(const struct http_route *table, enum http_resource res)
{
    if (n_tables < MAX_TABLES) {
        table_res[n_tables] = res;
        tables[n_tables++] = table;
    }
}

static bool listener_serves(const struct config_listener *l, unsigned res)
{
    return ((res & HTTP_RES_CLIENT) && l->res_client) ||
           ((res & HTTP_RES_FEDERATION) && l->res_federation) ||
           ((res & HTTP_RES_METRICS) && l->res_metrics);
}

void http_set_authenticator(http_authenticator fn)
{
    authenticator = fn;
}

void http_set_unavailable_probe(bool (*probe)(void))
{
    unavailable_probe = probe;
}

void http_set_server_authenticator(http_server_authenticator fn)
{
    server_authenticator = fn;
}

/* --- decoding --------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *http_pct_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
                (lo = hexval((unsigned char)s[i + 2])) < 0)
                goto bad;
            out[o] = (char)(hi << 4 | lo);
            if (out[o] == '\0')
                goto bad;
            o++;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Keep MHD from decoding: we decode per segment / per value ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

/* --- routing ---------------------------------------------------------------------------- */

/* Compare one pattern against path segments; on a match store decoded params. Returns 1 on a
 * match, 0 on no match, -1 on a malformed percent-escape in a parameter. */
static int match_pattern(struct http_req *r, const char *pattern, const char *const *segs,
                         const size_t *lens, size_t nsegs, bool store)
{
    const char *p = pattern;
    size_t i = 0, np = 0;

    if (*p != '/')
        return 0;
    p++;
    for (;; i++) {
        const char *end = strchr(p, '/');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (i >= nsegs)
            return 0;
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (lens[i] == 0)
                return 0;
            if (store) {
                char *dec = http_pct_decode(segs[i], lens[i]);
                if (!dec || np >= MAX_PARAMS) {
                    free(dec);
                    return -1;
                }
                r->params[np] = arena_strdup(r->arena, dec);
                free(dec);
                np++;
            }
        } else if (plen != lens[i] || memcmp(p, segs[i], plen) != 0) {
            return 0;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (i + 1 != nsegs)
        return 0;
    if (store)
        r->n_params = np;
    return 1;
}

/* Find the route for method+url. Returns the route, or NULL with *path_known set when some
 * route matches the path with another method. *bad_escape is set on a malformed escape. */
static const struct http_route *route_find(struct http_req *r, const char *method, const char *url,
                                           bool *path_known, bool *bad_escape)
{
    const char *segs[MAX_SEGMENTS];
    size_t lens[MAX_SEGMENTS], nsegs = 0;
    char norm[2048];
    static const char r0[] = "/_matrix/client/r0/";

    *path_known = false;
    *bad_escape = false;
    size_t ulen = strlen(url);
    if (ulen >= sizeof norm || url[0] != '/')
        return NULL;
    memcpy(norm, url, ulen + 1);
    /* Old clients' r0 paths are the v3 endpoints. */
    if (strncmp(norm, r0, sizeof r0 - 1) == 0)
        memcpy(norm + sizeof r0 - 4, "v3", 2);

    const char *p = norm + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        if (nsegs == MAX_SEGMENTS)
            return NULL;
        segs[nsegs] = p;
        lens[nsegs] = end ? (size_t)(end - p) : strlen(p);
        nsegs++;
        if (!end)
            break;
        p = end + 1;
    }

    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t t = 0; t < n_tables; t++) {
        if (!listener_serves(r->listener, table_res[t]))
            continue;
        for (const struct http_route *rt = tables[t]; rt->pattern; rt++) {
            if (match_pattern(r, rt->pattern, segs, lens, nsegs, false) != 1)
                continue;
            if (strcmp(rt->method, method) != 0) {
                *path_known = true;
                continue;
            }
            if (match_pattern(r, rt->pattern, segs, lens, nsegs, true) < 0) {
                *bad_escape = true;
                return NULL;
            }
            r->metric_slot = table_slot[t] + (size_t)(rt - tables[t]);
            return rt;
        }
    }
    return NULL;
}

/* --- accessors -------------------------------------------------------------------------- */

const char *http_param(struct http_req *req, size_t i)
{
    return i < req->n_params ? req->params[i] : NULL;
}

const char *http_query(struct http_req *req, const char *name)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return NULL;
    char *dec = http_pct_decode(raw, strlen(raw));
    if (!dec)
        return NULL;
    char *v = arena_strdup(req->arena, dec);
    free(dec);
    return v;
}

const char *http_header(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct header_all {
    const char *name;
    const char **out;
    size_t max, n;
};

static enum MHD_Result header_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct header_all *h = cls;
    if (strcasecmp(key, h->name) == 0) {
        if (h->n < h->max)
            h->out[h->n] = value;
        h->n++;
    }
    return MHD_YES;
}

size_t http_header_all(struct http_req *req, const char *name, const char **out, size_t max)
{
    struct header_all h = {name, out, max, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_one, &h);
    return h.n;
}

json_t *http_json(struct http_req *req)
{
    return req->json;
}

const char *http_body(struct http_req *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : "";
}

const char *http_origin(struct http_req *req)
{
    return req->origin;
}

void http_set_origin(struct http_req *req, const char *origin)
{
    req->origin = arena_strdup(req->arena, origin);
}

struct target_buf {
    struct arena *arena;
    char *s;
    size_t len;
    bool failed;
};

/* Append to the target; MHD turned '+' into ' ' before our (identity) unescape callback, and
 * a raw query holds no spaces, so ' ' is put back as '+'. */
static void target_add(struct target_buf *t, const char *s, size_t n)
{
    char *ns = t->failed ? NULL : arena_alloc(t->arena, t->len + n + 1);
    if (!ns) {
        t->failed = true;
        return;
    }
    memcpy(ns, t->s, t->len);
    for (size_t i = 0; i < n; i++)
        ns[t->len + i] = s[i] == ' ' ? '+' : s[i];
    t->len += n;
    ns[t->len] = '\0';
    t->s = ns;
}

static enum MHD_Result target_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct target_buf *t = cls;
    target_add(t, t->s[t->len - 1] == '?' ? "" : "&", t->s[t->len - 1] == '?' ? 0 : 1);
    target_add(t, key, strlen(key));
    if (value) {
        target_add(t, "=", 1);
        target_add(t, value, strlen(value));
    }
    return MHD_YES;
}

const char *http_target(struct http_req *req)
{
    struct target_buf t = {.arena = req->arena, .s = (char *)"", .len = 0};
    if (MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) <= 0)
        return req->path;
    target_add(&t, req->path, strlen(req->path));
    target_add(&t, "?", 1);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, target_arg, &t);
    return t.failed ? NULL : t.s;
}

struct query_all {
    const char *name;
    json_t *out;
    size_t max;
};

static enum MHD_Result query_all_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_all *qa = cls;
    if (!value || strcmp(key, qa->name) != 0 || json_array_size(qa->out) >= qa->max)
        return MHD_YES;
    char *dec = http_pct_decode(value, strlen(value));
    if (dec)
        json_array_append_new(qa->out, json_string(dec));
    free(dec);
    return MHD_YES;
}

json_t *http_query_all(struct http_req *req, const char *name, size_t max)
{
    struct query_all qa = {name, json_array(), max};
    if (qa.out)
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_all_arg, &qa);
    return qa.out;
}

void http_set_gate(http_gate fn)
{
    request_gate = fn;
}

void http_set_end_observer(http_end_observer fn)
{
    end_observer = fn;
}

const char *http_route_pattern(struct http_req *req)
{
    return req->route ? req->route->pattern : NULL;
}

const struct http_user *http_user(struct http_req *req)
{
    return req->have_user ? &req->user : NULL;
}

const char *http_method(struct http_req *req)
{
    return req->method;
}

const char *http_path(struct http_req *req)
{
    return req->path;
}

const struct config *http_config(struct http_req *req)
{
    return config;
}

const char *http_client_ip(struct http_req *req)
{
    if (req->client_ip)
        return req->client_ip;
    if (req->listener && req->listener->x_forwarded) {
        const char *xff = http_header(req, "X-Forwarded-For");
        if (xff && *xff) {
            size_t n = strcspn(xff, ",");
            while (n > 0 && xff[n - 1] == ' ')
                n--;
            req->client_ip = arena_strndup(req->arena, xff, n);
            return req->client_ip;
        }
    }
    char buf[INET6_ADDRSTRLEN] = "unknown";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                      sizeof buf);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                      sizeof buf);
    }
    req->client_ip = arena_strdup(req->arena, buf);
    return req->client_ip;
}

void *http_alloc(struct http_req *req, size_t n)
{
    return arena_alloc(req->arena, n);
}

char *http_strdup(struct http_req *req, const char *s)
{
    return s ? arena_strdup(req->arena, s) : NULL;
}

char *http_printf(struct http_req *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(req->arena, fmt, ap);
    va_end(ap);
    return p;
}

/* --- replies ---------------------------------------------------------------------------- */

bool http_replied(struct http_req *req)
{
    return req->replied;
}

/* The error-level line every 5xx leaves: route (not the path: it may carry user IDs and the
 * query string is never logged), status, errcode, the client message and the cause. */
static void log_server_error(const struct http_req *req, int status, const char *errcode,
                             const char *msg, const char *cause)
{
    log_error("%s %s answered %d %s: %s%s%s", req->method ? req->method : "?",
              req->route ? req->route->pattern : "(no route)", status, errcode, msg,
              cause ? "; cause: " : "", cause ? cause : "");
}

void http_reply_json(struct http_req *req, int status, json_t *body)
{
    if (req->replied) {
        log_error("second reply to one request (%s); ignored",
                  req->route ? req->route->pattern : "?");
        json_decref(body);
        return;
    }
    if (!body)
        body = json_object();
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}";
        text = strdup(oom);
        status = 500;
        log_server_error(req, status, "M_UNKNOWN", "Internal server error",
                         "the reply could not be encoded (out of memory)");
    }
    req->replied = true;
    req->status = status;
    req->resp_body = text;
    req->resp_len = text ? strlen(text) : 0;
}

static void reply_error_v(struct http_req *req, int status, const char *errcode, json_t *extra,
                          const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (status >= 500 && !req->replied && strcmp(errcode, "M_NOT_YET_UPLOADED") != 0)
        log_server_error(req, status, errcode, msg, NULL);
    json_t *body = extra ? extra : json_object();
    json_object_set_new(body, "errcode", json_string(errcode));
    json_object_set_new(body, "error", json_string(msg));
    http_reply_json(req, status, body);
}

void http_reply_error(struct http_req *req, int status, const char *errcode, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, status, errcode, NULL, fmt, ap);
    va_end(ap);
}

void http_reply_error_extra(struct http_req *req, int status, const char *errcode, json_t *extra,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, status, errcode, extra, fmt, ap);
    va_end(ap);
}

void http_reply_internal(struct http_req *req)
{
    http_reply_error(req, 500, "M_UNKNOWN", "Internal server error");
}

void http_reply_failure(struct http_req *req, int status, const char *errcode, const char *why)
{
    if (status == 500 || !errcode)
        http_reply_internal(req);
    else
        http_reply_error(req, status, errcode, "%s", why);
}

void http_reply_internal_cause(struct http_req *req, const char *fmt, ...)
{
    char cause[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    if (!req->replied) {
        log_server_error(req, 500, "M_UNKNOWN", "Internal server error", cause);
        http_reply_json(req, 500,
                        json_pack("{s:s,s:s}", "errcode", "M_UNKNOWN", "error",
                                  "Internal server error"));
    } else {
        http_reply_internal(req); /* logs the second reply */
    }
}

static void add_common_headers(struct MHD_Response *resp)
{
    /* header, value */
    static const char *const headers[][2] = {
        {"Access-Control-Allow-Origin", "*"},
        {"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"},
        {"Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization, Date"},
        {"Access-Control-Expose-Headers", "ETag"},
        {"Cache-Control", "no-cache, no-store, must-revalidate"},
        {"X-Content-Type-Options", "nosniff"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        MHD_add_response_header(resp, headers[i][0], headers[i][1]);
    if (atomic_load(&stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* A 500 while the database cannot be reached is a 503 the client may retry (Retry-After):
 * the server is fine and recovers by itself once PostgreSQL is back. */
static bool database_unavailable(struct http_req *r)
{
    static const char body[] =
        "{\"errcode\":\"M_UNKNOWN\",\"error\":\"The database is unavailable; try again later\"}";
    if (r->status != 500 || r->resp_type || !unavailable_probe || !unavailable_probe())
        return false;
    char *text = strdup(body);
    if (!text)
        return false;
    free(r->resp_body);
    r->resp_body = text;
    r->resp_len = sizeof body - 1;
    r->status = 503;
    return true;
}

static enum MHD_Result queue_reply(struct http_req *r)
{
    struct MHD_Response *resp;
    if (r->queued)
        return MHD_YES;
    if (!r->replied)
        http_reply_internal_cause(r, "no reply was made");
    r->queued = true;
    bool retry_after = database_unavailable(r);
    if (r->resp_fd >= 0) {
        resp = MHD_create_response_from_fd((uint64_t)r->resp_fd_len, r->resp_fd);
        if (resp)
            r->resp_fd = -1; /* closed by MHD */
    } else {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp_body, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->resp_body = NULL; /* owned by MHD now */
    }
    if (!resp)
        return MHD_NO;
    add_common_headers(resp);
    if (retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    if (r->resp_type) {
        MHD_add_response_header(resp, "Content-Type", r->resp_type);
        if (r->resp_disposition)
            MHD_add_response_header(resp, "Content-Disposition", r->resp_disposition);
        /* media: never run as a page, usable from other origins */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "sandbox; default-src 'none'; script-src 'none'; plugin-types "
                                "application/pdf; style-src 'unsafe-inline'; media-src 'self'; "
                                "object-src 'self';");
        MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "cross-origin");
    } else {
        MHD_add_response_header(resp, "Content-Type", "application/json");
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result queue_options(struct http_req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->replied = r->queued = true;
    r->status = 204;
    add_common_headers(resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --- request life cycle ----------------------------------------------------------------- */

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

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
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
    req_release(r);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&inflight, 1);
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
        if (server_authenticator)
            return server_authenticator(r);
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
        char *dir = arena_printf(r->arena, "%s/tmp", config->media_store_path);
        if (!dir)
            return -1;
        mkdir(config->media_store_path, 0700);
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

void http_reply_bytes(struct http_req *req, int status, char *body, int fd, uint64_t len,
                      const char *content_type, const char *disposition)
{
    if (req->replied) {
        free(body);
        if (fd >= 0)
            close(fd);
        return;
    }
    req->replied = true;
    req->status = status;
    req->resp_body = body;
    req->resp_len = body ? (size_t)len : 0;
    req->resp_fd = body ? -1 : fd;
    if (body && fd >= 0)
        close(fd);
    req->resp_fd_len = len;
    req->resp_type =
        arena_strdup(req->arena, content_type ? content_type : "application/octet-stream");
    req->resp_disposition = disposition ? arena_strdup(req->arena, disposition) : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
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
        atomic_fetch_add(&inflight, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->gc = ci ? ci->socket_context : NULL;
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        http_guard_head_done(r->gc, te || (len && strcmp(len, "0") != 0));

        if (strcmp(method, "OPTIONS") == 0)
            return queue_options(r);

        bool path_known, bad_escape;
        r->route = route_find(r, method, url, &path_known, &bad_escape);
        if (!r->route) {
            if (bad_escape)
                http_reply_error(r, 400, "M_INVALID_PARAM", "Malformed percent-encoding in path");
            else if (path_known)
                http_reply_error(r, 405, "M_UNRECOGNIZED", "Method not allowed for this path");
            else
                http_reply_error(r, 404, "M_UNRECOGNIZED", "Unrecognized request");
            return queue_reply(r);
        }
        r->body_limit =
            (size_t)((r->route->flags & HTTP_BODY_FILE) ? config->max_upload_size
                                                        : config->max_request_body_size);
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
                return queue_reply(r);
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
    if (r->suspended) { /* back from http_resume */
        http_guard_unpark(r->gc);
        if (r->cancelled) /* the client went away (cancel_gone): close the connection */
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
    return queue_reply(r);
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
 * here to end it (on_request closes a cancelled request's connection). */
static void *claim_gone(void *owner)
{
    struct http_req *r = owner;
    pthread_mutex_lock(&park_mu);
    bool mine = r->waiter_pending && !r->cancelled && !atomic_load(&stopping);
    if (mine)
        r->cancelled = true;
    pthread_mutex_unlock(&park_mu);
    return mine ? r->conn : NULL;
}

static void cancel_gone(void *token)
{
    MHD_resume_connection(token);
}

/* --- daemons ---------------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* a client that went away (or was cut off by http_guard) is routine, not a warning */
    if (strstr(msg, "connection closure") || strstr(msg, "reset by peer") ||
        strstr(msg, "Broken pipe")) {
        log_debug("http: %s", msg);
        return;
    }
    /* at most MHD_LOG_BURST lines per 10 s, so that no client can flood the log */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t window;
    static unsigned lines, dropped;
    pthread_mutex_lock(&mu);
    int64_t now = clock_mono_ms();
    if (now - window >= 10000) {
        if (dropped)
            log_warn("http: %u libmicrohttpd messages not logged in the last 10 s", dropped);
        window = now;
        lines = dropped = 0;
    }
    bool show = lines < MHD_LOG_BURST;
    lines += show;
    dropped += !show;
    pthread_mutex_unlock(&mu);
    if (show)
        log_warn("http: %s", msg);
}

/* The accept policy (before libmicrohttpd allocates anything for the connection). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    const struct config_listener *l = cls;
    unsigned per_address = (unsigned)l->max_connections_per_address;
    return http_guard_admit((unsigned)(l - config->listeners), per_address, sa, len) ? MHD_YES
                                                                                    : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = http_guard_open(ci ? ci->connect_fd : -1);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        http_guard_close(*socket_context);
        *socket_context = NULL;
    }
}

static int start_daemon(const struct config_listener *l, const char *addr, int threads)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)l->port);
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)l->port);
        flags |= MHD_USE_IPv6;
    } else {
        log_error("listener: bind address '%s' is not an IP address", addr);
        return -1;
    }
    if (n_daemons == MAX_DAEMONS) {
        log_error("listener: too many bind addresses (max %d)", MAX_DAEMONS);
        return -1;
    }
    /* libmicrohttpd splits its limit between the pool's threads and, at it, stops accepting
     * without a word: give each thread room for all of ours, so http_guard decides. */
    unsigned mhd_limit = ((unsigned)config->max_connections + 1) * (unsigned)threads;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)l->port, on_accept, (void *)l, on_request, (void *)l,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(32 * 1024), MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!d) {
        log_error("listener: cannot listen on %s port %d (in use, or no permission?)", addr,
                  l->port);
        return -1;
    }
    daemons[n_daemons++] = d;
    log_info("listening on %s%s%s:%d", strchr(addr, ':') ? "[" : "", addr,
             strchr(addr, ':') ? "]" : "", l->port);
    return 0;
}

static void http_gauges(struct metrics_gauges *g)
{
    g->http_inflight = atomic_load(&inflight);
}

/* Number every route row for server/metrics.c (once: tables are fixed by now). */
static void metrics_setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    size_t n = 0;
    for (size_t t = 0; t < n_tables; t++) {
        table_slot[t] = n;
        for (const struct http_route *rt = tables[t]; rt->pattern; rt++)
            n++;
    }
    if (metrics_routes_init(n) < 0)
        return;
    for (size_t t = 0; t < n_tables; t++)
        for (const struct http_route *rt = tables[t]; rt->pattern; rt++)
            metrics_route_name(table_slot[t] + (size_t)(rt - tables[t]), rt->method,
                               rt->pattern);
    metrics_add_gauges(http_gauges);
}

int http_start(const struct config *cfg)
{
    config = cfg;
    atomic_store(&stopping, false);
    metrics_setup();
    struct http_guard_limits gl = {.max_connections = (unsigned)cfg->max_connections,
                                   .header_timeout_ms = cfg->request_header_timeout_ms,
                                   .body_timeout_ms = cfg->request_body_timeout_ms};
    http_guard_on_gone(claim_gone, cancel_gone);
    if (http_guard_start(&gl) < 0) {
        log_error("http: cannot start the connection deadline thread");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *l = &cfg->listeners[i];
        for (size_t j = 0; j < l->n_bind_addresses; j++) {
            if (start_daemon(l, l->bind_addresses[j], cfg->worker_threads) < 0) {
                http_stop(0);
                return -1;
            }
        }
    }
    return 0;
}

void http_stop(int grace_ms)
{
    atomic_store(&stopping, true);
    http_guard_stop(); /* no sweeps (nor cancels) while the daemons stop */
    for (size_t i = 0; i < n_daemons; i++)
        MHD_quiesce_daemon(daemons[i]);
    /* Keep-alive connections between requests close now; the others with their response
     * (Connection: close), so clients that keep sending cannot hold the stop. */
    struct timespec step = {0, 10 * 1000 * 1000};
    for (int waited = 0; waited < grace_ms; waited += 10) {
        http_guard_close_waiting();
        if (atomic_load(&inflight) == 0)
            break;
        nanosleep(&step, NULL);
    }
    for (size_t i = 0; i < n_daemons; i++)
        MHD_stop_daemon(daemons[i]);
    n_daemons = 0;
}
