/* http.h - the HTTP front: listeners, routing, request bodies, JSON replies, errors.
 *
 * Handlers see a `struct http_req` and answer with exactly one http_reply_* call. All memory
 * obtained through http_alloc/http_strdup/http_printf lives until the response is sent. */
#ifndef AMTSBOTE_HTTP_H
#define AMTSBOTE_HTTP_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct http_req;

/* Who made an authenticated request (filled by the authenticator). */
struct http_user {
    const char *user_id;   /* "@alice:example.org" */
    const char *device_id; /* may be NULL for tokens without a device */
    int64_t token_id;      /* row id of the access token */
    bool is_admin;
    bool suspended;     /* may read, may not send, join, invite (M_USER_SUSPENDED) */
    bool shadow_banned; /* sends and invites answer success and do nothing */
};

enum http_auth {
    HTTP_AUTH_NONE,     /* no access token looked at */
    HTTP_AUTH_OPTIONAL, /* token used if present; invalid token still rejected */
    HTTP_AUTH_REQUIRED, /* M_MISSING_TOKEN / M_UNKNOWN_TOKEN without a valid token */
    HTTP_AUTH_SERVER,   /* a federation request signed with X-Matrix, checked by the server
                           authenticator; the origin is then http_origin(req) */
};

enum {
    HTTP_BODY_JSON = 1 << 0, /* body must be a JSON object (empty body = {}) */
    HTTP_BODY_FILE = 1 << 1, /* body streamed to a temporary file under
                                media_store_path/tmp as it arrives, limited by
                                max_upload_size (media uploads); see http_body_file */
    HTTP_BODY_TXN = 1 << 2,  /* a federation transaction (50 PDUs of up to 64 KiB and 100
                                EDUs): the limit is HTTP_TXN_BODY_LIMIT, or
                                max_request_body_size when that is larger */
};
#define HTTP_TXN_BODY_LIMIT (8 * 1024 * 1024)

typedef void (*http_handler)(struct http_req *req);

/* One row of a route table: method, path pattern, handler, auth, flags. Patterns are literal
 * segments and "{name}" parameters ("/_matrix/client/v3/profile/{userId}"); a pattern under
 * /_matrix/client/v3/ also answers /_matrix/client/r0/. A table ends with a zeroed row. */
struct http_route {
    const char *method;
    const char *pattern;
    http_handler handler;
    enum http_auth auth;
    unsigned flags;
};

/* Look up an access token. Returns 1 and fills *out (strings allocated with http_strdup) when
 * valid, 0 when unknown, -1 on an internal error; may instead answer the request itself (e.g.
 * M_USER_DEACTIVATED) and return -2. */
typedef int (*http_authenticator)(struct http_req *req, const char *token, struct http_user *out);

/* Which listener resource a route table belongs to (Synapse's listeners[].resources names). */
enum http_resource { HTTP_RES_CLIENT = 1, HTTP_RES_FEDERATION = 2, HTTP_RES_METRICS = 4 };

/* Register route tables (kept, not copied) and the authenticator before http_start. A table
 * is served only on listeners that name its resource (`res` may be several, or'ed). Every
 * request is counted in server/metrics.c under its route's pattern. */
void http_add_routes(const struct http_route *table, enum http_resource res);
void http_set_authenticator(http_authenticator fn);
/* While `probe` returns true (the database cannot be reached), an answer of 500 goes out as
 * 503 M_UNKNOWN with Retry-After instead. */
void http_set_unavailable_probe(bool (*probe)(void));

/* Check the X-Matrix signature of a HTTP_AUTH_SERVER request. Returns true after
 * http_set_origin, or false after answering the request (401/403/500). Without one
 * registered, such routes answer 401. */
typedef bool (*http_server_authenticator)(struct http_req *req);
void http_set_server_authenticator(http_server_authenticator fn);

/* A check run after authentication and before every handler: returns true to let the
 * handler run, or false after answering the request itself (a suspended account). */
typedef bool (*http_gate)(struct http_req *req);
void http_set_gate(http_gate fn);
/* Called once when a routed request ends (answered, or cut off: status 0), on the HTTP
 * thread, before its memory is released: the admin audit log. */
typedef void (*http_end_observer)(struct http_req *req, int status);
void http_set_end_observer(http_end_observer fn);

/* Start one daemon per listener bind address. Returns 0, or -1 (logged). */
int http_start(const struct config *cfg);
/* Stop accepting, close connections that wait for a request, answer the requests in flight
 * (waiting up to `grace_ms`) with Connection: close, then stop. */
void http_stop(int grace_ms);

/* --- inside a handler ------------------------------------------------------------------- */
/* Decoded path parameter i (0-based, in pattern order); never NULL inside a matched route. */
const char *http_param(struct http_req *req, size_t i);
/* Decoded query parameter, or NULL. */
const char *http_query(struct http_req *req, const char *name);
/* Every value of a repeated query parameter (`ver`, `via`), decoded, in order, at most max:
 * a new array of strings (invalid UTF-8 values left out). */
json_t *http_query_all(struct http_req *req, const char *name, size_t max);
/* Request header (case-insensitive name), or NULL. */
const char *http_header(struct http_req *req, const char *name);
/* Every value of a header that may repeat (case-insensitive name), in order: up to max into
 * out. Returns how many there are (possibly more than max). */
size_t http_header_all(struct http_req *req, const char *name, const char **out, size_t max);
/* The parsed body (borrowed) for HTTP_BODY_JSON routes, else NULL. */
json_t *http_json(struct http_req *req);
/* Raw body bytes (borrowed) and length. */
const char *http_body(struct http_req *req, size_t *len);
/* For HTTP_BODY_FILE routes: the temporary file holding the body (NULL when the body was
 * empty), its length and SHA-256. The file is deleted when the request ends unless the
 * handler took it with http_body_file_take (e.g. after renaming it). */
const char *http_body_file(struct http_req *req, uint64_t *len, uint8_t sha256[32]);
void http_body_file_take(struct http_req *req);
/* The authenticated origin server of a HTTP_AUTH_SERVER request (else NULL); set by the
 * server authenticator. */
const char *http_origin(struct http_req *req);
void http_set_origin(struct http_req *req, const char *origin);
/* The request target as received: the path, then '?' and the query when there is one
 * (rebuilt from the arguments in their order; what X-Matrix signs). Request memory. */
const char *http_target(struct http_req *req);
/* The pattern of the route the request matched ("/_matrix/client/v3/rooms/{roomId}/..."). */
const char *http_route_pattern(struct http_req *req);
/* Authenticated user, or NULL. */
const struct http_user *http_user(struct http_req *req);
/* Client address (X-Forwarded-For when the listener trusts it). */
const char *http_client_ip(struct http_req *req);
const char *http_method(struct http_req *req);
/* The request path as received (still percent-encoded, without the query). */
const char *http_path(struct http_req *req);
const struct config *http_config(struct http_req *req);

void *http_alloc(struct http_req *req, size_t n);
char *http_strdup(struct http_req *req, const char *s);
char *http_printf(struct http_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Answer with `body` (stolen; NULL means {}). */
void http_reply_json(struct http_req *req, int status, json_t *body);
/* Answer {"errcode": errcode, "error": message}. */
void http_reply_error(struct http_req *req, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As http_reply_error, with the fields of `extra` (stolen, may be NULL) merged in. */
void http_reply_error_extra(struct http_req *req, int status, const char *errcode, json_t *extra,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answer with raw bytes: `body` (malloc'd, stolen) of `len`, or the open file `fd` (stolen,
 * closed when sent) of `len` bytes when body is NULL; content_type and disposition (may be
 * NULL) are copied. Media answers also carry a sandboxing Content-Security-Policy. */
void http_reply_bytes(struct http_req *req, int status, char *body, int fd, uint64_t len,
                      const char *content_type, const char *disposition);
/* 500 M_UNKNOWN "Internal server error" (the cause goes to the log, not the client). Every
 * reply with a status of 500 or more leaves an error-level log line naming the route and the
 * message; http_reply_internal_cause adds the cause (no secrets in it) to that line. */
void http_reply_internal(struct http_req *req);
/* The answer of a layer's error struct (status, errcode, message): 500 or no errcode is
 * http_reply_internal, anything else http_reply_error with the message. */
void http_reply_failure(struct http_req *req, int status, const char *errcode, const char *why);
void http_reply_internal_cause(struct http_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool http_replied(struct http_req *req);

/* Long-polling. A handler that has nothing to say yet calls http_suspend and returns without
 * replying. Once the connection is parked, `arm(req)` runs (on the same thread): it arranges
 * for http_resume(req) to be called, from any thread, at most once and possibly at once, and
 * never after the request has ended (see http_on_end: a parker that may fire later holds
 * something the on_end hook can disarm). After that, `resumed(req)` runs on an HTTP thread
 * and either replies or suspends again. A parked request holds no thread. */
typedef void (*http_park_fn)(struct http_req *req);
void http_suspend(struct http_req *req, http_park_fn arm, http_park_fn resumed);
void http_resume(struct http_req *req);
/* Called with the ctx when the request ends, however it ends (also when the server stops
 * with the request still parked, or when its client goes away while it is parked: the HTTP
 * front notices within about a second and ends it): release what ctx owns there, and make
 * sure no http_resume(req) comes afterwards. */
void http_on_end(struct http_req *req, void (*fn)(void *ctx));
/* A pointer the handler keeps with the request across parking (e.g. from http_alloc). */
void http_set_ctx(struct http_req *req, void *ctx);
void *http_ctx(struct http_req *req);

/* Percent-decode s[0..len) into a new malloc'd string; NULL if malformed or contains NUL. */
char *http_pct_decode(const char *s, size_t len);

#endif
