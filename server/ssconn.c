/* ssconn.c - the connection store of native sliding sync (server/ssconn.h).
 *
 * A connection is keyed by "user_id \x1f device_id \x1f conn_id" and holds at most two
 * snapshots: the one the client last presented and the newest issued (a retry of the same
 * request, or a request the client cancelled, presents the older one again). A pos is
 * "<gen>_<n>": gen names the connection's incarnation (a replaced or restarted connection
 * never accepts an old pos), n counts the responses. Invariants:
 *  1. At most SSCONN_MAX connections, and SSCONN_PER_DEVICE per user and device; the least
 *     recently used goes first.
 *  2. Snapshots are deep copies on the way in and out: no JSON is shared between threads. */
#include "server/ssconn.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/token.h"

struct snap {
    int64_t n;
    json_t *v;
};

struct conn {
    char *key;
    size_t prefix; /* length of "user \x1f device \x1f" */
    int64_t gen, next, used;
    struct snap s[2];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns[SSCONN_MAX];
static size_t nconns;
static int64_t gen_seq, use_seq;

static char *make_key(const char *u, const char *d, const char *c, size_t *prefix)
{
    size_t lu = strlen(u), ld = strlen(d), lc = strlen(c);
    char *k = malloc(lu + ld + lc + 3);
    if (!k)
        return NULL;
    memcpy(k, u, lu);
    k[lu] = '\x1f';
    memcpy(k + lu + 1, d, ld);
    k[lu + 1 + ld] = '\x1f';
    memcpy(k + lu + ld + 2, c, lc + 1);
    *prefix = lu + ld + 2;
    return k;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    json_decref(c->s[0].v);
    json_decref(c->s[1].v);
    free(c->key);
    free(c);
}

static size_t find(const char *key)
{
    for (size_t i = 0; i < nconns; i++)
        if (strcmp(conns[i]->key, key) == 0)
            return i;
    return SIZE_MAX;
}

static void drop(size_t i)
{
    conn_free(conns[i]);
    conns[i] = conns[--nconns];
}

static int parse_pos(const char *pos, int64_t *gen, int64_t *n)
{
    int64_t v[2];
    if (token_parse(pos, "#_#", v, 2) < 0)
        return -1;
    *gen = v[0];
    *n = v[1];
    return 0;
}

int ssconn_get(const char *user_id, const char *device_id, const char *conn_id, const char *pos,
               json_t **snap)
{
    int64_t gen, n;
    size_t prefix;
    *snap = NULL;
    if (parse_pos(pos, &gen, &n) < 0)
        return -1;
    char *key = make_key(user_id, device_id, conn_id, &prefix);
    if (!key)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&lock);
    size_t i = find(key);
    if (i != SIZE_MAX && conns[i]->gen == gen) {
        for (int k = 0; k < 2; k++) {
            if (conns[i]->s[k].v && conns[i]->s[k].n == n) {
                *snap = json_deep_copy(conns[i]->s[k].v);
                conns[i]->used = ++use_seq;
                rc = *snap ? 0 : -1;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    free(key);
    return rc;
}

/* Make room for one more connection of the key's device (invariant 1). Under the lock. */
static void evict(const char *key, size_t prefix)
{
    size_t same = 0, oldest_same = SIZE_MAX, oldest = SIZE_MAX;
    for (size_t i = 0; i < nconns; i++) {
        if (oldest == SIZE_MAX || conns[i]->used < conns[oldest]->used)
            oldest = i;
        if (conns[i]->prefix == prefix && strncmp(conns[i]->key, key, prefix) == 0) {
            same++;
            if (oldest_same == SIZE_MAX || conns[i]->used < conns[oldest_same]->used)
                oldest_same = i;
        }
    }
    if (same >= SSCONN_PER_DEVICE)
        drop(oldest_same);
    else if (nconns >= SSCONN_MAX)
        drop(oldest);
}

void ssconn_put(const char *user_id, const char *device_id, const char *conn_id,
                const char *from, json_t *snap, char *out, size_t n)
{
    int64_t fgen = 0, fn = -1;
    size_t prefix;
    bool fresh = parse_pos(from, &fgen, &fn) < 0;
    char *key = make_key(user_id, device_id, conn_id, &prefix);
    json_t *copy = json_deep_copy(snap);
    json_decref(snap);
    out[0] = 0;
    if (!key || !copy) {
        free(key);
        json_decref(copy);
        return;
    }
    pthread_mutex_lock(&lock);
    size_t i = find(key);
    if (i != SIZE_MAX && (fresh || conns[i]->gen != fgen)) {
        drop(i); /* a new connection of the same conn_id replaces the old one */
        i = SIZE_MAX;
    }
    if (i == SIZE_MAX) {
        evict(key, prefix);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            pthread_mutex_unlock(&lock);
            free(key);
            json_decref(copy);
            return;
        }
        c->key = key;
        key = NULL;
        c->prefix = prefix;
        c->gen = clock_now_ms() * 1000 + (++gen_seq % 1000);
        c->next = 1;
        i = nconns++;
        conns[i] = c;
    }
    struct conn *c = conns[i];
    /* keep the presented snapshot and the new one */
    struct snap keep = {0};
    for (int k = 0; k < 2; k++) {
        if (c->s[k].v && c->s[k].n == fn && !fresh) {
            keep = c->s[k];
            c->s[k].v = NULL;
        }
        json_decref(c->s[k].v);
        c->s[k].v = NULL;
    }
    c->s[0] = keep;
    c->s[1].n = c->next++;
    c->s[1].v = copy;
    c->used = ++use_seq;
    snprintf(out, n, "%" PRId64 "_%" PRId64, c->gen, c->s[1].n);
    pthread_mutex_unlock(&lock);
    free(key);
}

void ssconn_cleanup(void)
{
    pthread_mutex_lock(&lock);
    while (nconns)
        drop(nconns - 1);
    pthread_mutex_unlock(&lock);
}
