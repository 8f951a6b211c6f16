/* ssconn.c - the connection store of native sliding sync (server/ssconn.h, MSC4186
 * "Connections").
 *
 * A connection is keyed by "user_id \x1f device_id \x1f conn_id" and holds up to SSCONN_SNAPS
 * snapshots, each as compact JSON text: the pos the client last presented and the answers
 * issued to it (a retry, or a request the client cancelled and sent again, presents the same
 * pos and gets another answer). A pos is "<gen>_<n>": gen names the connection's incarnation
 * (a replaced connection never accepts an old pos), n counts the responses. Invariants:
 *  1. At most SSCONN_MAX connections, SSCONN_PER_DEVICE per user and device, SSCONN_BYTES of
 *     snapshots in all; the least recently used connection goes first. A connection unused
 *     for SSCONN_IDLE_MS is forgotten.
 *  2. Presenting pos n (ssconn_get) forgets every other snapshot of the connection but the
 *     answers issued to n: the client acknowledged n, older positions answer M_UNKNOWN_POS.
 *  3. An answer is only recorded while the pos it was computed from is still held
 *     (ssconn_put): a request parked on a pos that a newer request superseded, or on a
 *     connection that was replaced meanwhile, is refused, never revives anything.
 *  4. Snapshots are text in the store: no JSON is shared between threads, and their size is
 *     known exactly. Besides them a connection may keep one cache (the room list its newest
 *     answer read, so that the next request need not read it again); it stands for no pos
 *     and counts towards SSCONN_BYTES. */
#include "server/ssconn.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/token.h"

struct snap {
    int64_t n, parent; /* n 0: the slot is free */
    char *text;
    size_t len;
};

struct conn {
    char *key;
    uint64_t hash;
    size_t prefix; /* length of "user \x1f device \x1f" */
    int64_t gen, next, used, used_ms;
    struct snap s[SSCONN_SNAPS];
    char *cache; /* ssconn_cache's text, or NULL */
    size_t cache_len;
    int64_t cache_pos;
    uint64_t cache_serial;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns[SSCONN_MAX];
static size_t nconns, nbytes;
static int64_t gen_seq, use_seq, swept_ms;
static uint64_t cache_seq;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

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

/* Under the lock. */
static void snap_clear(struct snap *s)
{
    nbytes -= s->len;
    free(s->text);
    memset(s, 0, sizeof *s);
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    for (int k = 0; k < SSCONN_SNAPS; k++)
        snap_clear(&c->s[k]);
    nbytes -= c->cache_len;
    free(c->cache);
    free(c->key);
    free(c);
}

static size_t find(const char *key, uint64_t hash)
{
    for (size_t i = 0; i < nconns; i++)
        if (conns[i]->hash == hash && strcmp(conns[i]->key, key) == 0)
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
    if (!pos || token_parse(pos, "#_#", v, 2) < 0 || v[1] <= 0)
        return -1;
    *gen = v[0];
    *n = v[1];
    return 0;
}

/* The slot of pos (gen, n) on the connection, or NULL. Under the lock. */
static struct snap *held(struct conn *c, int64_t gen, int64_t n)
{
    if (c->gen != gen)
        return NULL;
    for (int k = 0; k < SSCONN_SNAPS; k++)
        if (c->s[k].n == n)
            return &c->s[k];
    return NULL;
}

/* Invariant 2: keep n and the answers to n. Under the lock. */
static void acknowledge(struct conn *c, int64_t n)
{
    for (int k = 0; k < SSCONN_SNAPS; k++)
        if (c->s[k].n && c->s[k].n != n && c->s[k].parent != n)
            snap_clear(&c->s[k]);
}

/* The connection and slot that (key, pos) names, acknowledged; NULL if not held. Under the
 * lock. */
static struct snap *lookup(const char *u, const char *d, const char *c, const char *pos,
                           struct conn **conn)
{
    int64_t gen, n;
    size_t prefix;
    if (parse_pos(pos, &gen, &n) < 0)
        return NULL;
    char *key = make_key(u, d, c, &prefix);
    if (!key)
        return NULL;
    size_t i = find(key, fnv(key));
    free(key);
    if (i == SIZE_MAX)
        return NULL;
    struct snap *s = held(conns[i], gen, n);
    if (!s)
        return NULL;
    if (clock_mono_ms() - conns[i]->used_ms >= SSCONN_IDLE_MS) {
        drop(i); /* expired: honest even before the next sweep */
        return NULL;
    }
    acknowledge(conns[i], n);
    conns[i]->used = ++use_seq;
    conns[i]->used_ms = clock_mono_ms();
    *conn = conns[i];
    return s;
}

int ssconn_get(const char *user_id, const char *device_id, const char *conn_id, const char *pos,
               json_t **snap)
{
    *snap = NULL;
    char *text = NULL;
    size_t len = 0;
    struct conn *c;
    pthread_mutex_lock(&lock);
    struct snap *s = lookup(user_id, device_id, conn_id, pos, &c);
    if (s && (text = malloc(s->len + 1))) {
        memcpy(text, s->text, s->len + 1);
        len = s->len;
    }
    pthread_mutex_unlock(&lock);
    if (!text)
        return -1;
    *snap = json_loadb(text, len, 0, NULL);
    free(text);
    return *snap ? 0 : -1;
}

json_t *ssconn_cache(const char *user_id, const char *device_id, const char *conn_id, int64_t *pos,
                     uint64_t *serial)
{
    size_t prefix, len = 0;
    char *key = make_key(user_id, device_id, conn_id, &prefix), *text = NULL;
    *pos = 0;
    *serial = 0;
    if (!key)
        return NULL;
    pthread_mutex_lock(&lock);
    size_t i = find(key, fnv(key));
    if (i != SIZE_MAX && conns[i]->cache && (text = malloc(conns[i]->cache_len + 1))) {
        memcpy(text, conns[i]->cache, conns[i]->cache_len + 1);
        len = conns[i]->cache_len;
        *pos = conns[i]->cache_pos;
        *serial = conns[i]->cache_serial;
    }
    pthread_mutex_unlock(&lock);
    free(key);
    json_t *v = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    return v;
}

int ssconn_valid(const char *user_id, const char *device_id, const char *conn_id, const char *pos)
{
    int64_t gen, n;
    size_t prefix;
    if (parse_pos(pos, &gen, &n) < 0)
        return 0;
    char *key = make_key(user_id, device_id, conn_id, &prefix);
    if (!key)
        return 0;
    pthread_mutex_lock(&lock);
    size_t i = find(key, fnv(key));
    int ok = i != SIZE_MAX && held(conns[i], gen, n) != NULL;
    pthread_mutex_unlock(&lock);
    free(key);
    return ok;
}

/* The least recently used connection other than `keep`, of the device `key` names when key
 * is not NULL; SIZE_MAX if none. Under the lock. */
static size_t oldest(const char *key, size_t prefix, const struct conn *keep, size_t *count)
{
    size_t o = SIZE_MAX;
    *count = 0;
    for (size_t i = 0; i < nconns; i++) {
        if (conns[i] == keep ||
            (key && (conns[i]->prefix != prefix || strncmp(conns[i]->key, key, prefix) != 0)))
            continue;
        ++*count;
        if (o == SIZE_MAX || conns[i]->used < conns[o]->used)
            o = i;
    }
    return o;
}

/* Invariant 1: room for one more connection of the key's device (key not NULL) and for
 * `need` more bytes; never drops `keep`. Under the lock. */
static void evict(const char *key, size_t prefix, size_t need, const struct conn *keep)
{
    size_t count, i;
    if (key) {
        while ((i = oldest(key, prefix, keep, &count)) != SIZE_MAX && count >= SSCONN_PER_DEVICE)
            drop(i);
        while (nconns >= SSCONN_MAX && (i = oldest(NULL, 0, keep, &count)) != SIZE_MAX)
            drop(i);
    }
    while (nbytes + need > SSCONN_BYTES && (i = oldest(NULL, 0, keep, &count)) != SIZE_MAX)
        drop(i);
}

static void expire_locked(int64_t idle_ms)
{
    int64_t now = clock_mono_ms();
    for (size_t i = nconns; i-- > 0;)
        if (now - conns[i]->used_ms >= idle_ms)
            drop(i);
}

int ssconn_put(const char *user_id, const char *device_id, const char *conn_id, const char *from,
               json_t *snap, char *out, size_t n)
{
    return ssconn_put_cached(user_id, device_id, conn_id, from, snap, NULL, 0, 0, out, n);
}

int ssconn_put_cached(const char *user_id, const char *device_id, const char *conn_id,
                      const char *from, json_t *snap, const json_t *cache, int64_t cache_pos,
                      uint64_t unchanged, char *out, size_t n)
{
    size_t prefix, len, clen = 0;
    out[0] = 0;
    char *text = json_dumps(snap, JSON_COMPACT);
    char *ctext = cache ? json_dumps(cache, JSON_COMPACT) : NULL;
    json_decref(snap);
    if (ctext && (clen = strlen(ctext)) > SSCONN_SNAP_MAX) {
        free(ctext); /* too large to keep: the next request reads the list */
        ctext = NULL;
        clen = 0;
    }
    char *key = make_key(user_id, device_id, conn_id, &prefix);
    int rc = -1;
    if (!text || !key)
        goto out;
    len = strlen(text);
    if (len > SSCONN_SNAP_MAX) {
        log_warn("slidingsync: a connection state of %zu bytes is not kept", len);
        goto out;
    }
    pthread_mutex_lock(&lock);
    if (clock_mono_ms() - swept_ms >= 60 * 1000) { /* idle ones, once a minute */
        swept_ms = clock_mono_ms();
        expire_locked(SSCONN_IDLE_MS);
    }
    struct conn *c = NULL;
    int64_t parent = 0;
    if (from) { /* invariant 3 */
        if (!lookup(user_id, device_id, conn_id, from, &c)) {
            pthread_mutex_unlock(&lock);
            goto out;
        }
        int64_t gen;
        parse_pos(from, &gen, &parent);
    } else {
        uint64_t h = fnv(key);
        size_t i = find(key, h);
        if (i != SIZE_MAX)
            drop(i); /* a new connection of the same conn_id replaces the old one */
        evict(key, prefix, len, NULL);
        if (!(c = calloc(1, sizeof *c))) {
            pthread_mutex_unlock(&lock);
            goto out;
        }
        c->key = key;
        key = NULL;
        c->hash = h;
        c->prefix = prefix;
        c->gen = clock_now_ms() * 1000 + (++gen_seq % 1000);
        c->next = 1;
        c->used_ms = clock_mono_ms();
        conns[nconns++] = c;
    }
    if (ctext || !unchanged || unchanged != c->cache_serial) { /* replace, or drop */
        nbytes -= c->cache_len;
        free(c->cache);
        c->cache = ctext;
        c->cache_len = clen;
        c->cache_serial = ctext ? ++cache_seq : 0;
        nbytes += clen;
        ctext = NULL;
    }
    c->cache_pos = cache_pos;
    evict(NULL, 0, len, c);
    /* a free slot, else the oldest answer to the same pos */
    struct snap *slot = NULL;
    for (int k = 0; k < SSCONN_SNAPS; k++) {
        struct snap *s = &c->s[k];
        if (!s->n) {
            slot = s;
            break;
        }
        if (s->n != parent && (!slot || s->n < slot->n))
            slot = s;
    }
    snap_clear(slot);
    slot->n = c->next++;
    slot->parent = parent;
    slot->text = text;
    slot->len = len;
    nbytes += len;
    text = NULL;
    c->used = ++use_seq;
    c->used_ms = clock_mono_ms();
    snprintf(out, n, "%" PRId64 "_%" PRId64, c->gen, slot->n);
    pthread_mutex_unlock(&lock);
    rc = 0;
out:
    free(text);
    free(ctext);
    free(key);
    return rc;
}

void ssconn_drop_caches(const char *user_id)
{
    size_t lu = strlen(user_id);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = conns[i];
        if (strncmp(c->key, user_id, lu) != 0 || c->key[lu] != '\x1f')
            continue;
        nbytes -= c->cache_len;
        free(c->cache);
        c->cache = NULL;
        c->cache_len = 0;
        c->cache_serial = 0;
    }
    pthread_mutex_unlock(&lock);
}

void ssconn_expire(int64_t idle_ms)
{
    pthread_mutex_lock(&lock);
    expire_locked(idle_ms);
    pthread_mutex_unlock(&lock);
}

size_t ssconn_bytes(void)
{
    pthread_mutex_lock(&lock);
    size_t b = nbytes;
    pthread_mutex_unlock(&lock);
    return b;
}

void ssconn_cleanup(void)
{
    pthread_mutex_lock(&lock);
    while (nconns)
        drop(nconns - 1);
    pthread_mutex_unlock(&lock);
}
