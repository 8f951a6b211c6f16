/* http_reply.c - the responses of the HTTP front (server/http.c): JSON bodies, the Matrix
 * error envelope {errcode, error}, raw bytes or a file for media, and queueing the response
 * on libmicrohttpd with the CORS and security headers every answer carries (invariant 1 of
 * http.c), a 500 during a database outage turned into a 503 with Retry-After. A handler's
 * reply is only recorded in the request; http_request.c queues it once the handler returns.
 * Every 5xx leaves one error-level log line with the route and the cause, never the path. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/arena.h"
#include "server/http_internal.h"
#include "server/log.h"

static bool (*unavailable_probe)(void);

void http_set_unavailable_probe(bool (*probe)(void))
{
    unavailable_probe = probe;
}

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
        http_reply_json(
            req, 500,
            json_pack("{s:s,s:s}", "errcode", "M_UNKNOWN", "error", "Internal server error"));
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
    if (atomic_load(&http_stopping))
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

enum MHD_Result http_queue_reply(struct http_req *r)
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

enum MHD_Result http_queue_options(struct http_req *r)
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
