/* http_route.c - routing and the request accessors of the HTTP front (server/http.c):
 * the route tables and the metrics slot of each row, percent-decoding (libmicrohttpd's is off so
 * that an encoded '/' stays inside its path segment), matching a path against the patterns
 * with its parameters decoded into the request's arena, and what handlers read from a request:
 * parameters, query values, headers, body, the authenticated user or origin, the client
 * address. Everything a getter returns lives in the request's arena or in libmicrohttpd's
 * connection, and is valid until the request completes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/arena.h"
#include "server/http_internal.h"
#include "server/metrics.h"

#define MAX_TABLES 16
#define MAX_SEGMENTS 24

static const struct http_route *tables[MAX_TABLES];
static unsigned table_res[MAX_TABLES];
static size_t table_slot[MAX_TABLES]; /* metrics slot of each table's first row */
static size_t n_tables;

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
size_t http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
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
const struct http_route *http_route_find(struct http_req *r, const char *method, const char *url,
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

static void http_gauges(struct metrics_gauges *g)
{
    g->http_inflight = atomic_load(&http_inflight);
}

/* Number every route row for server/metrics.c (once: tables are fixed by now). */
void http_routes_number(void)
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
            metrics_route_name(table_slot[t] + (size_t)(rt - tables[t]), rt->method, rt->pattern);
    metrics_add_gauges(http_gauges);
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
    return http_cfg;
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
