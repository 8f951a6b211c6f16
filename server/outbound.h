/* outbound.h - the server's one outbound HTTP client (libcurl appears nowhere else): push
 * gateways, URL previews, and federation (transactions, keys, joins) through
 * federation/httpc.h or directly.
 *
 * Requests to many destinations run concurrently on one thread; each destination (by default
 * the URL's host:port) has at most `max_in_flight` requests on the wire and the rest wait in
 * a queue, so one slow destination holds up only its own requests. Every request has a
 * deadline (queueing included), a response-size limit, and optionally an address filter
 * checked on the address actually connected to (after DNS, so rebinding gains nothing).
 * Redirects are never followed; only http and https; no proxy from the environment. */
#ifndef AMTSBOTE_OUTBOUND_H
#define AMTSBOTE_OUTBOUND_H
#include <stdbool.h>
#include <stddef.h>

struct ipfilter;

#define OUTBOUND_PER_DESTINATION 4 /* default max_in_flight */
#define OUTBOUND_TIMEOUT_MS 30000  /* default timeout_ms */
#define OUTBOUND_MAX_BODY (1 << 20) /* default max_body */
#define OUTBOUND_MAX_QUEUED 4096   /* submissions beyond this many waiting: OUTBOUND_E_BUSY */

enum outbound_err {
    OUTBOUND_OK = 0,      /* a response arrived (any status) */
    OUTBOUND_E_CONNECT,   /* DNS or TCP failure, or the peer closed */
    OUTBOUND_E_TIMEOUT,   /* the deadline passed (in the queue or on the wire) */
    OUTBOUND_E_TOO_LARGE, /* the body passed max_body (and truncate was not set) */
    OUTBOUND_E_BLOCKED,   /* every address of the host was refused by the filter */
    OUTBOUND_E_TLS,       /* certificate or handshake failure */
    OUTBOUND_E_STOPPED,   /* outbound_stop ran before the request ended */
    OUTBOUND_E_BUSY,      /* too many requests queued */
    OUTBOUND_E_BAD_URL,   /* not an http(s) URL libcurl accepts */
    OUTBOUND_E_OTHER,
};

/* A request. outbound_submit copies every string and the body; `filter` and `ca_pem` are
 * borrowed and must outlive the request (keep them for the server's life). */
struct outbound_req {
    const char *method;          /* NULL: GET, or POST when body is set */
    const char *url;             /* http:// or https:// */
    const char *const *headers;  /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;            /* may be NULL; body_len bytes */
    size_t body_len;
    const char *destination;     /* the concurrency key; NULL: the URL's host:port */
    int max_in_flight;           /* per destination; 0: OUTBOUND_PER_DESTINATION */
    long timeout_ms;             /* from submission to the end of the response; 0: default */
    size_t max_body;             /* response bytes kept; 0: OUTBOUND_MAX_BODY */
    bool truncate;               /* a longer body is cut at max_body and counts as OK */
    const struct ipfilter *filter; /* addresses refused at connect time; NULL: none */
    const char *connect_to;      /* "IP:PORT" or "[IPv6]:PORT" (or "name:port") to connect to
                                    instead of resolving the URL's host (federation's SRV /
                                    .well-known result); TLS still checks the URL's host name
                                    (SNI, certificate); the filter still applies. NULL: none */
    bool tls_no_verify;          /* federation_verify_certificates: false */
    const char *ca_pem;          /* trust only these CAs (concatenated PEM: Synapse's
                                    federation_custom_ca_list, read by the caller); NULL: the
                                    system's store */
    size_t ca_pem_len;
    const char *user_agent;      /* NULL: "Amtsbote/<version>" */
};

/* A result. Valid during the callback only; the callback may take `body` (set it to NULL and
 * free it later). */
struct outbound_res {
    enum outbound_err err;
    long status;            /* the HTTP status when err == OUTBOUND_OK, else 0 */
    char *body;             /* malloc'd and NUL-terminated (the NUL not counted), or NULL */
    size_t len;
    bool truncated;         /* truncate was set and the body was cut at max_body */
    char content_type[128]; /* "" when none */
    char cache_control[128]; /* the Cache-Control header, "" when none (federation caches
                                /.well-known/matrix/server answers by it) */
    char location[512];     /* a 3xx answer's redirect target, absolute; "" when none or too
                               long (redirects are not followed: callers that must follow
                               them, as server discovery, do so themselves) */
    char why[160];          /* what went wrong, for logs (no URL: it may hold secrets) */
};

/* Called once per submitted request, on the client's thread: must not block (no database,
 * no outbound_fetch); hand the result to another thread or resume a parked HTTP request. It
 * may call outbound_submit (a follow-up request). */
typedef void (*outbound_cb)(void *arg, struct outbound_res *res);

/* Queue a request; cb(arg, res) runs once when it ends, however it ends. Starts the client's
 * thread on first use. Returns 0, or -1 when the request cannot be queued (bad arguments,
 * out of memory, stopped, OUTBOUND_MAX_QUEUED reached): then cb is never called. */
int outbound_submit(const struct outbound_req *req, outbound_cb cb, void *arg);

/* Blocking convenience for worker threads (never the client's own thread, i.e. never from an
 * outbound_cb): submit and wait. Fills *res (release with outbound_res_clear); returns 0 when
 * res->err == OUTBOUND_OK, else -1 (res->err and res->why say why). */
int outbound_fetch(const struct outbound_req *req, struct outbound_res *res);
/* Free res->body; NULL-safe. */
void outbound_res_clear(struct outbound_res *res);

/* A short name of an error ("timeout", "blocked address", ...): static. */
const char *outbound_strerror(enum outbound_err e);

/* The parts of an http(s) URL, parsed as libcurl will read it (curl_url). */
struct outbound_url {
    bool https;
    char host[256];  /* lower-case; an IPv6 literal without brackets */
    bool host_is_ip; /* an IPv4 or IPv6 literal */
    int port;        /* explicit or the scheme's default */
    char path[2048]; /* "/" when empty; still percent-encoded */
    bool has_query, has_fragment, has_userinfo;
};
/* Parse `url`. 0, or -1 when it is not an absolute http(s) URL with a host, or a part is too
 * long for the fields above. */
int outbound_url_parse(const char *url, struct outbound_url *out);

/* Stop the client: requests queued or in flight end with OUTBOUND_E_STOPPED (callbacks run
 * before this returns), later submissions fail. Safe if never started; call once at shutdown,
 * before the database closes. */
void outbound_stop(void);

/* The server's filter for push gateways and federation (ip_range_blacklist /
 * ip_range_whitelist), set once at start-up by main.c; NULL before. Federation requests pass
 * it as outbound_req.filter. */
void outbound_set_ip_range_filter(const struct ipfilter *f);
const struct ipfilter *outbound_ip_range_filter(void);

/* Requests in flight and queued (for tests and logs). */
void outbound_stats(int *in_flight, int *queued);

#endif
