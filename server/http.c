/* http.c - the HTTP front on libmicrohttpd: listeners, routing, bodies, JSON and errors. This
 * file starts and stops the daemons (one per bind address) and holds the accept policy; the
 * routes and the request accessors are in http_route.c, a request's life cycle (body, JSON,
 * authentication, dispatch, parking) in http_request.c, the responses in http_reply.c.
 *
 * These four are the only files that speak libmicrohttpd. Each listener bind address gets one
 * daemon with an epoll thread pool (config `worker_threads`); handlers run on those threads and may
 * block on the database. The request path is routed on the first callback, before any body arrives,
 * so a body over the limit is refused with 413 M_TOO_LARGE without being read. MHD's own
 * percent-decoding is switched off so that an encoded '/' inside a room alias or user ID stays
 * inside its path segment; segments and query values are decoded in http_route.c.
 *
 * Invariants:
 *  1. Every request gets exactly one response, and every response carries the CORS headers
 *     (web clients need them on errors too).
 *  2. A request's memory (arena, body, parsed JSON) is released in http_mhd_completed, whatever
 *     path the request took.
 *  3. `http_inflight` counts requests between their first callback and completion; shutdown waits
 *     for it to drain (bounded) after the listening sockets are closed, closing connections
 *     that wait for a request at once and answering the rest with `Connection: close`.
 *  4. Every connection passes http_guard (server/http_guard.c): admitted by the accept policy
 *     against max_connections and the listener's per-address limit, and given deadlines for
 *     its request head and body. libmicrohttpd's own connection limit is set above ours so
 *     that it never stops accepting silently.
 *  5. A parked request is resumed once: by the http_resume its arm arranged, or, when its
 *     client went away, by http_park_cancel_gone, which ends it; `waiter_pending` and `cancelled`
 *     (under park_mu) decide which. Parkers call http_resume only while the request lives
 *     (http.h). MHD_resume_connection is never called with park_mu held. */
#include "server/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/clock.h"
#include "server/http_guard.h"
#include "server/http_internal.h"
#include "server/log.h"
#include "server/metrics.h"

#define MAX_DAEMONS 32
#define MHD_LOG_BURST 20 /* libmicrohttpd's messages logged per 10 s */

const struct config *http_cfg;
atomic_int http_inflight;
atomic_bool http_stopping; /* http_stop has begun: responses close their connection */
static struct MHD_Daemon *daemons[MAX_DAEMONS];
static size_t n_daemons;

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
    return http_guard_admit((unsigned)(l - http_cfg->listeners), per_address, sa, len) ? MHD_YES
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
    unsigned mhd_limit = ((unsigned)http_cfg->max_connections + 1) * (unsigned)threads;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)l->port, on_accept, (void *)l, http_mhd_request, (void *)l,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED,
        http_mhd_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, http_no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
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

int http_start(const struct config *cfg)
{
    http_cfg = cfg;
    atomic_store(&http_stopping, false);
    http_routes_number();
    struct http_guard_limits gl = {.max_connections = (unsigned)cfg->max_connections,
                                   .header_timeout_ms = cfg->request_header_timeout_ms,
                                   .body_timeout_ms = cfg->request_body_timeout_ms};
    http_guard_on_gone(http_park_claim_gone, http_park_cancel_gone);
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
    atomic_store(&http_stopping, true);
    http_guard_stop(); /* no sweeps (nor cancels) while the daemons stop */
    for (size_t i = 0; i < n_daemons; i++)
        MHD_quiesce_daemon(daemons[i]);
    /* Keep-alive connections between requests close now; the others with their response
     * (Connection: close), so clients that keep sending cannot hold the stop. */
    struct timespec step = {0, 10 * 1000 * 1000};
    for (int waited = 0; waited < grace_ms; waited += 10) {
        http_guard_close_waiting();
        if (atomic_load(&http_inflight) == 0)
            break;
        nanosleep(&step, NULL);
    }
    for (size_t i = 0; i < n_daemons; i++)
        MHD_stop_daemon(daemons[i]);
    n_daemons = 0;
}
