/* http_internal.h - what the HTTP front's files share and nobody else uses: http.c (daemons,
 * start and stop), http_route.c (routing, accessors), http_request.c (a request's life cycle)
 * and http_reply.c (responses). The only header besides them that names libmicrohttpd. */
#ifndef AMTSBOTE_HTTP_INTERNAL_H
#define AMTSBOTE_HTTP_INTERNAL_H
#include <microhttpd.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "server/http.h"

#define MAX_PARAMS 8

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
    const char *origin;         /* HTTP_AUTH_SERVER: the authenticated origin server */
    bool origin_entered;        /* origin_enter let it in: origin_leave at its end */
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

/* http.c: the configuration given to http_start; requests between their first callback and
 * completion (invariant 3); whether http_stop has begun (responses then close their
 * connection). */
extern const struct config *http_cfg;
extern atomic_int http_inflight;
extern atomic_bool http_stopping;

/* http_route.c */

/* libmicrohttpd's unescape callback: leaves the text as it is (we decode per segment and per
 * value ourselves). */
size_t http_no_unescape(void *cls, struct MHD_Connection *c, char *s);
/* Find the route for method+url among the tables r's listener serves, storing the decoded
 * parameters in r. Returns the route, or NULL with *path_known set when some route matches
 * the path with another method; *bad_escape is set on a malformed escape. */
const struct http_route *http_route_find(struct http_req *r, const char *method, const char *url,
                                         bool *path_known, bool *bad_escape);
/* Number every route row for server/metrics.c (once: the tables are fixed by http_start). */
void http_routes_number(void);

/* http_reply.c */

/* Hand the recorded reply (a 500 when there is none) to libmicrohttpd, once. MHD_NO when the
 * response could not be made (the connection is then closed). */
enum MHD_Result http_queue_reply(struct http_req *r);
/* Answer a CORS preflight: 204 with the common headers. */
enum MHD_Result http_queue_options(struct http_req *r);

/* http_request.c: libmicrohttpd's access and completion callbacks, and http_guard's hooks for a
 * parked request whose client went away (invariant 5). */
enum MHD_Result http_mhd_request(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);
void http_mhd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe);
void *http_park_claim_gone(void *owner);
void http_park_cancel_gone(void *token);

#endif
