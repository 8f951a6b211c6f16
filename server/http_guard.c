/* http_guard.c - connection limits and request deadlines for the HTTP front (http_guard.h).
 *
 * libmicrohttpd on its own stops accepting, silently, at its connection limit, and closes a
 * connection only after 120 s without a byte: a client dripping one header byte every few
 * seconds holds its connection forever. So the front admits connections here (its accept
 * policy) and a sweeper thread shuts down the socket of any connection whose current phase
 * has run past its deadline; libmicrohttpd then sees the end of the stream and closes it.
 *
 * Invariants:
 *  1. `open_count` is the number of connections admitted and not yet closed (reservations
 *     included); each address node counts the same for its (listener, address) key, and a
 *     node with count 0 is freed.
 *  2. A socket is shut down only while its connection is in the list, under `mu`, and
 *     http_guard_close removes it under `mu` before the socket is closed: a reused descriptor
 *     number is never touched.
 *  3. Only a connection waiting for its head or receiving its body has a deadline; a request
 *     being handled, parked (long-polling /sync) or answered has none.
 *  4. A parked connection whose client closed is handed to the `claim`/`cancel` hooks once,
 *     so that a client that parks a /sync and leaves frees its slot within about a second
 *     rather than at the sync's timeout. Lock order: `mu`, then whatever `claim` takes. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "server/http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/worker.h"

#define ADDR_BUCKETS 4096
#define LOG_EVERY_MS 10000
#define KEY_LEN 18 /* listener, family, 16 address bytes */

/* PH_HEAD: a new connection waits for its first request head; PH_IDLE: a kept-alive one for
 * its next (both under request_header_timeout); PH_BODY: a body arrives; PH_BUSY: none. */
enum phase { PH_HEAD, PH_IDLE, PH_BODY, PH_BUSY };

struct addr_node {
    struct addr_node *next;
    uint8_t key[KEY_LEN];
    unsigned count;
};

struct http_guard_conn {
    struct http_guard_conn *prev, *next;
    int fd;
    bool shut;
    struct addr_node *addr;        /* NULL: not counted per address */
    _Atomic int64_t deadline;      /* monotonic ms; 0: none */
    _Atomic int phase;             /* enum phase */
    int64_t body_start, body_bytes; /* owned by the connection's thread */
    void *owner;                    /* parked for this (http_guard_park); under mu */
};

/* One rate-limited log line: when it was last written, how many were not written since. */
struct ratelog {
    int64_t last_ms;
    unsigned suppressed;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_guard_limits lim = {.max_connections = 10000,
                                       .header_timeout_ms = 30000,
                                       .body_timeout_ms = 60000};
static struct http_guard_conn *conns;
static unsigned open_count;
static struct addr_node *buckets[ADDR_BUCKETS];
static struct ratelog log_total, log_addr, log_head, log_body;
static struct worker sweeper;
static unsigned sweeps;
static void *(*gone_claim)(void *owner);
static void (*gone_cancel)(void *token);

/* This thread's admitted connection not yet claimed by http_guard_open. */
static _Thread_local struct {
    bool pending;
    struct addr_node *addr;
} reservation;

/* --- addresses -------------------------------------------------------------------------- */

/* The key of sa on a listener: IPv4 as itself, IPv4-mapped IPv6 as IPv4, other IPv6 by its
 * /64 prefix (one subscriber usually holds a whole /64). false for other families. */
static bool addr_key(unsigned listener, const struct sockaddr *sa, socklen_t len,
                     uint8_t key[KEY_LEN])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, KEY_LEN);
    key[0] = (uint8_t)listener;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        key[1] = 4;
        memcpy(key + 2, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof mapped) == 0) {
            key[1] = 4;
            memcpy(key + 2, a + 12, 4);
        } else {
            key[1] = 6;
            memcpy(key + 2, a, 8);
        }
        return true;
    }
    return false;
}

/* The key's address for a log line ("192.0.2.1", "2001:db8::/64"). */
static void key_text(const uint8_t key[KEY_LEN], char *out, size_t n)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (key[1] == 4) {
        inet_ntop(AF_INET, key + 2, buf, sizeof buf);
        snprintf(out, n, "%s", buf);
    } else {
        inet_ntop(AF_INET6, key + 2, buf, sizeof buf);
        snprintf(out, n, "%s/64", buf);
    }
}

static size_t key_hash(const uint8_t key[KEY_LEN])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < KEY_LEN; i++)
        h = (h ^ key[i]) * 16777619u;
    return h % ADDR_BUCKETS;
}

/* The node for key, created with count 0 when absent (NULL: out of memory). Under mu. */
static struct addr_node *addr_get(const uint8_t key[KEY_LEN])
{
    struct addr_node **b = &buckets[key_hash(key)];
    for (struct addr_node *n = *b; n; n = n->next)
        if (memcmp(n->key, key, KEY_LEN) == 0)
            return n;
    struct addr_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    memcpy(n->key, key, KEY_LEN);
    n->next = *b;
    *b = n;
    return n;
}

/* Drop one count from node (may be NULL); free it at 0. Under mu. */
static void addr_put(struct addr_node *node)
{
    if (!node || --node->count > 0)
        return;
    for (struct addr_node **p = &buckets[key_hash(node->key)]; *p; p = &(*p)->next) {
        if (*p == node) {
            *p = node->next;
            free(node);
            return;
        }
    }
}

/* --- logging ---------------------------------------------------------------------------- */

/* Whether to write the line now (then *suppressed holds how many were skipped before it). */
static bool ratelog_due(struct ratelog *rl, int64_t now, unsigned *suppressed)
{
    if (rl->last_ms && now - rl->last_ms < LOG_EVERY_MS) {
        rl->suppressed++;
        return false;
    }
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    rl->last_ms = now;
    return true;
}

/* "; N more since the last such line", or "" when none were skipped; into buf. */
static const char *since_last(unsigned skipped, char *buf, size_t n)
{
    if (!skipped)
        return "";
    snprintf(buf, n, "; %u more since the last such line", skipped);
    return buf;
}

/* --- admission -------------------------------------------------------------------------- */

/* Release this thread's unclaimed reservation (its connection failed before opening). */
static void drop_reservation(void)
{
    if (!reservation.pending)
        return;
    open_count--;
    addr_put(reservation.addr);
    reservation.pending = false;
    reservation.addr = NULL;
}

bool http_guard_admit(unsigned listener, unsigned per_address, const struct sockaddr *sa,
                      socklen_t len)
{
    uint8_t key[KEY_LEN];
    bool have_key = sa && addr_key(listener, sa, len, key);
    unsigned skipped;
    char who[INET6_ADDRSTRLEN + 8] = "an unknown address", buf[64];

    pthread_mutex_lock(&mu);
    drop_reservation();
    int64_t now = clock_mono_ms();
    if (have_key)
        key_text(key, who, sizeof who);
    if (open_count >= lim.max_connections) {
        if (ratelog_due(&log_total, now, &skipped))
            log_warn("http: refused a connection from %s: %u connections open "
                     "(max_connections)%s",
                     who, open_count, since_last(skipped, buf, sizeof buf));
        pthread_mutex_unlock(&mu);
        return false;
    }
    struct addr_node *node = NULL;
    if (have_key && per_address) {
        node = addr_get(key);
        if (node && node->count >= per_address) {
            if (ratelog_due(&log_addr, now, &skipped))
                log_warn("http: refused a connection from %s: it has %u open to listeners[%u] "
                         "(max_connections_per_address; behind a reverse proxy every connection "
                         "comes from the proxy: set x_forwarded: true or raise the limit)%s",
                         who, node->count, listener, since_last(skipped, buf, sizeof buf));
            pthread_mutex_unlock(&mu);
            return false;
        }
        if (node)
            node->count++;
    }
    open_count++;
    reservation.pending = true;
    reservation.addr = node;
    pthread_mutex_unlock(&mu);
    return true;
}

struct http_guard_conn *http_guard_open(int fd)
{
    struct http_guard_conn *gc = calloc(1, sizeof *gc);
    pthread_mutex_lock(&mu);
    if (!reservation.pending) /* not admitted through http_guard_admit: count it now */
        open_count++;
    struct addr_node *addr = reservation.addr;
    reservation.pending = false;
    reservation.addr = NULL;
    if (!gc) {
        open_count--;
        addr_put(addr);
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    gc->fd = fd;
    gc->addr = addr;
    atomic_store(&gc->phase, PH_HEAD);
    atomic_store(&gc->deadline, clock_mono_ms() + lim.header_timeout_ms);
    gc->next = conns;
    if (conns)
        conns->prev = gc;
    conns = gc;
    pthread_mutex_unlock(&mu);
    return gc;
}

void http_guard_close(struct http_guard_conn *gc)
{
    if (!gc)
        return;
    pthread_mutex_lock(&mu);
    if (gc->prev)
        gc->prev->next = gc->next;
    else
        conns = gc->next;
    if (gc->next)
        gc->next->prev = gc->prev;
    open_count--;
    addr_put(gc->addr);
    pthread_mutex_unlock(&mu);
    free(gc);
}

/* --- phases ----------------------------------------------------------------------------- */

void http_guard_head_done(struct http_guard_conn *gc, bool body)
{
    if (!gc)
        return;
    if (!body) {
        http_guard_busy(gc);
        return;
    }
    gc->body_start = clock_mono_ms();
    gc->body_bytes = 0;
    atomic_store(&gc->phase, PH_BODY);
    atomic_store(&gc->deadline, gc->body_start + lim.body_timeout_ms);
}

void http_guard_body(struct http_guard_conn *gc, size_t n)
{
    if (!gc || atomic_load(&gc->phase) != PH_BODY)
        return;
    gc->body_bytes += (int64_t)n;
    atomic_store(&gc->deadline, gc->body_start + lim.body_timeout_ms +
                                    gc->body_bytes * 1000 / HTTP_GUARD_BODY_RATE);
}

void http_guard_busy(struct http_guard_conn *gc)
{
    if (!gc)
        return;
    atomic_store(&gc->phase, PH_BUSY);
    atomic_store(&gc->deadline, 0);
}

void http_guard_idle(struct http_guard_conn *gc)
{
    if (!gc)
        return;
    atomic_store(&gc->deadline, clock_mono_ms() + lim.header_timeout_ms);
    atomic_store(&gc->phase, PH_IDLE);
}

/* --- the sweeper ------------------------------------------------------------------------ */

static void shut(struct http_guard_conn *gc)
{
    if (gc->fd >= 0)
        shutdown(gc->fd, SHUT_RDWR);
    gc->shut = true;
}

void http_guard_on_gone(void *(*claim)(void *owner), void (*cancel)(void *token))
{
    gone_claim = claim;
    gone_cancel = cancel;
}

void http_guard_park(struct http_guard_conn *gc, void *owner)
{
    if (!gc)
        return;
    pthread_mutex_lock(&mu);
    gc->owner = owner;
    pthread_mutex_unlock(&mu);
}

void http_guard_unpark(struct http_guard_conn *gc)
{
    http_guard_park(gc, NULL);
}

/* Invariant 4: claim the parked connections whose client closed. Under mu; returns how many
 * tokens were put in *out (malloc'd, caller frees; NULL when none). */
static size_t find_gone(void ***out)
{
    size_t n = 0, k = 0, i = 0;
    *out = NULL;
    if (!gone_claim)
        return 0;
    for (struct http_guard_conn *gc = conns; gc; gc = gc->next)
        n += gc->owner && gc->fd >= 0;
    if (!n)
        return 0;
    struct pollfd *pf = calloc(n, sizeof *pf);
    struct http_guard_conn **who = calloc(n, sizeof *who);
    void **tokens = calloc(n, sizeof *tokens);
    if (!pf || !who || !tokens)
        goto out;
    for (struct http_guard_conn *gc = conns; gc && i < n; gc = gc->next) {
        if (gc->owner && gc->fd >= 0) {
            pf[i] = (struct pollfd){.fd = gc->fd, .events = POLLRDHUP};
            who[i++] = gc;
        }
    }
    if (poll(pf, (nfds_t)i, 0) <= 0)
        goto out;
    for (size_t j = 0; j < i; j++) {
        if (!(pf[j].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            continue;
        void *tok = gone_claim(who[j]->owner);
        who[j]->owner = NULL; /* claimed once */
        if (tok)
            tokens[k++] = tok;
    }
out:
    free(pf);
    free(who);
    if (k)
        *out = tokens;
    else
        free(tokens);
    return k;
}

static void sweep(struct worker *w)
{
    void **gone = NULL;
    size_t n_gone = 0;
    size_t heads = 0, idles = 0, bodies = 0;
    unsigned skipped;
    char buf[64];
    pthread_mutex_lock(&mu);
    int64_t now = clock_mono_ms();
    for (struct http_guard_conn *gc = conns; gc; gc = gc->next) {
        int phase = atomic_load(&gc->phase);
        int64_t dl = atomic_load(&gc->deadline);
        if (gc->shut || phase == PH_BUSY || dl == 0 || now < dl)
            continue;
        if (phase == PH_BODY)
            bodies++;
        else if (phase == PH_IDLE)
            idles++;
        else
            heads++;
        shut(gc);
    }
    if (idles) /* kept-alive connections that had nothing more to ask: routine */
        log_debug("http: closed %zu idle keep-alive connection(s)", idles);
    if (heads && ratelog_due(&log_head, now, &skipped))
        log_info("http: closed %zu new connection(s) that sent no complete request head within "
                 "%lld ms (request_header_timeout)%s",
                 heads, (long long)lim.header_timeout_ms, since_last(skipped, buf, sizeof buf));
    if (bodies && ratelog_due(&log_body, now, &skipped))
        log_warn("http: closed %zu connection(s) sending a request body too slowly "
                 "(request_body_timeout)%s",
                 bodies, since_last(skipped, buf, sizeof buf));
    if (++sweeps % 4 == 0) /* once a second */
        n_gone = find_gone(&gone);
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < n_gone; i++)
        gone_cancel(gone[i]);
    if (n_gone)
        log_debug("http: ended %zu parked request(s) whose client went away", n_gone);
    free(gone);
}

int http_guard_start(const struct http_guard_limits *limits)
{
    pthread_mutex_lock(&mu);
    lim = *limits;
    pthread_mutex_unlock(&mu);
    sweeper = (struct worker){.name = "http-guard", .tick_ms = 250, .round = sweep};
    return worker_start(&sweeper);
}

void http_guard_stop(void)
{
    worker_stop(&sweeper);
}

size_t http_guard_close_waiting(void)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (struct http_guard_conn *gc = conns; gc; gc = gc->next) {
        int phase = atomic_load(&gc->phase);
        if (!gc->shut && (phase == PH_HEAD || phase == PH_IDLE)) {
            shut(gc);
            n++;
        }
    }
    pthread_mutex_unlock(&mu);
    return n;
}

unsigned http_guard_count(void)
{
    pthread_mutex_lock(&mu);
    unsigned n = open_count;
    pthread_mutex_unlock(&mu);
    return n;
}
