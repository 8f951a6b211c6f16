/* http_guard.h - what the HTTP front allows a connection: how many may be open at once (in
 * total and per client address) and how long one may take to deliver its request.
 *
 * Free of libmicrohttpd: server/http.c calls these from its accept-policy, connection and
 * request callbacks. Thread-safe. */
#ifndef AMTSBOTE_HTTP_GUARD_H
#define AMTSBOTE_HTTP_GUARD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A body must arrive within body_timeout_ms of the request head, plus one second for every
 * HTTP_GUARD_BODY_RATE bytes received: a slow but steady upload completes, a trickle does not. */
#define HTTP_GUARD_BODY_RATE 4096

struct http_guard_limits {
    unsigned max_connections;  /* open at once, all listeners together (config max_connections) */
    int64_t header_timeout_ms; /* request head within this of opening or of the last response */
    int64_t body_timeout_ms;   /* see HTTP_GUARD_BODY_RATE */
};

struct http_guard_conn;

/* Set the limits and start the thread that closes connections past their deadline (it looks
 * four times a second). 0, or -1 if the thread cannot start. */
int http_guard_start(const struct http_guard_limits *limits);
/* Stop that thread. Connections still tracked stay valid for http_guard_close. */
void http_guard_stop(void);

/* The accept policy: whether a new connection from `sa` to listener number `listener` may be
 * opened, where `per_address` (0: none) limits the connections from one address to that
 * listener. IPv6 addresses count by their /64 prefix, IPv4-mapped ones as IPv4. On true a
 * slot is reserved for the next http_guard_open on the same thread (a reservation that no
 * open claims is released by the thread's next admit). On false the refusal is logged, at
 * most once per 10 s per cause with a count of the ones not logged. */
bool http_guard_admit(unsigned listener, unsigned per_address, const struct sockaddr *sa,
                      socklen_t len);
/* Track the connection on socket `fd` (-1: untracked socket, e.g. in tests), taking this
 * thread's reservation. It waits for its request head. NULL when out of memory (the
 * connection then has no deadline). */
struct http_guard_conn *http_guard_open(int fd);
/* Forget it and release its slot; call before the socket is closed. NULL is a no-op. */
void http_guard_close(struct http_guard_conn *gc);

/* The request's phases; each NULL-safe. head_done: the head has arrived (a body follows when
 * `body`); body: n more body bytes; busy: the request is being handled (or parked, or its
 * response sent): no deadline; idle: the response is out, the connection waits for the next
 * request head. */
void http_guard_head_done(struct http_guard_conn *gc, bool body);
void http_guard_body(struct http_guard_conn *gc, size_t n);
void http_guard_busy(struct http_guard_conn *gc);
void http_guard_idle(struct http_guard_conn *gc);

/* Parked requests (long-polls) whose client went away. libmicrohttpd does not watch a
 * suspended socket, so the sweeper looks at them once a second; for each one whose peer
 * closed, `claim(owner)` runs under the guard's lock and returns a token (NULL: nothing to
 * do), and `cancel(token)` runs after the lock is released. Set before http_guard_start. */
void http_guard_on_gone(void *(*claim)(void *owner), void (*cancel)(void *token));
/* Mark the connection parked for `owner` (watched as above) / no longer parked. NULL-safe. */
void http_guard_park(struct http_guard_conn *gc, void *owner);
void http_guard_unpark(struct http_guard_conn *gc);

/* Shut down every connection that waits for a request head (no request in flight on it), for
 * a quick stop. Returns how many. */
size_t http_guard_close_waiting(void);
/* Connections open or reserved now. */
unsigned http_guard_count(void);

#endif
