/* ratelimit.c - token buckets keyed by (kind, key), kept in memory.
 *
 * Rate limits are a cache, not state that matters: a restart forgets them, and several server
 * processes each limit on their own (the roadmap allows this; nothing is lost). A bucket holds
 * up to burst_count tokens and gains per_second tokens per second; an action takes one.
 * The table is an open hash with linear probing. When it is three quarters full, buckets that
 * have refilled completely are dropped (they carry no information), and if more than half of
 * the table is still in use the fullest buckets go until half is free (among equally full
 * ones the least recently used): a new key always finds a bucket, so a flood of keys
 * (spoofed forwarded addresses) never refuses an innocent address, and the buckets that
 * limit most, an address or account that used up its burst, are the last to be forgotten.
 * An evicted key starts again with a full bucket. */
#include "server/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"

#define SLOTS 8192 /* power of two */
#define KEY_MAX 300

struct bucket {
    char key[KEY_MAX]; /* "kind\x1fkey"; empty = free slot */
    double tokens;
    int64_t updated_ms; /* last refill */
    int64_t used_ms;    /* last take: the order of eviction */
    double per_second, burst;
};

static struct bucket *slots;
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void refill(struct bucket *b, int64_t now)
{
    double add = (double)(now - b->updated_ms) / 1000.0 * b->per_second;
    b->tokens = fmin(b->burst, b->tokens + add);
    b->updated_ms = now;
}

/* The order of keeping: the emptiest first (relative to its burst), then the most recently
 * used. The buckets have just been refilled. */
static int by_keep(const void *a, const void *b)
{
    const struct bucket *x = *(const struct bucket *const *)a;
    const struct bucket *y = *(const struct bucket *const *)b;
    double fx = x->tokens / x->burst, fy = y->tokens / y->burst;
    if (fx != fy)
        return fx < fy ? -1 : 1;
    return x->used_ms < y->used_ms ? 1 : x->used_ms > y->used_ms ? -1 : 0;
}

/* Drop buckets that are full again, then the fullest beyond half the table; rehash the
 * rest. Caller holds the lock. */
static void prune(int64_t now)
{
    struct bucket *old = slots, **keep = malloc(SLOTS * sizeof *keep);
    slots = calloc(SLOTS, sizeof *slots);
    if (!slots || !keep) {
        free(slots);
        free(keep);
        slots = old;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!old[i].key[0])
            continue;
        refill(&old[i], now);
        if (old[i].tokens < old[i].burst)
            keep[n++] = &old[i];
    }
    if (n > SLOTS / 2) {
        qsort(keep, n, sizeof *keep, by_keep);
        n = SLOTS / 2;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = hash(keep[i]->key) & (SLOTS - 1);
        while (slots[j].key[0])
            j = (j + 1) & (SLOTS - 1);
        slots[j] = *keep[i];
    }
    used = n;
    free(keep);
    free(old);
}

bool ratelimit_take(const char *kind, const char *key, const struct config_ratelimit *rl,
                    bool consume, int64_t *retry_after_ms)
{
    char full[KEY_MAX];
    bool ok = true;

    if (rl->per_second <= 0)
        return true;
    snprintf(full, sizeof full, "%s\x1f%s", kind, key ? key : "");
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&lock);
    if (!slots && !(slots = calloc(SLOTS, sizeof *slots))) {
        pthread_mutex_unlock(&lock);
        return true; /* out of memory: fail open rather than lock everyone out */
    }
    if (used > SLOTS * 3 / 4)
        prune(now);
    if (used >= SLOTS * 15 / 16) { /* pruning found no memory: fail open, as above */
        pthread_mutex_unlock(&lock);
        return true;
    }
    size_t j = hash(full) & (SLOTS - 1);
    while (slots[j].key[0] && strcmp(slots[j].key, full) != 0)
        j = (j + 1) & (SLOTS - 1);
    struct bucket *b = &slots[j];
    if (!b->key[0]) { /* a free slot: at most three quarters are in use */
        snprintf(b->key, sizeof b->key, "%s", full);
        b->tokens = rl->burst_count;
        b->updated_ms = now;
        used++;
    }
    b->used_ms = now;
    b->per_second = rl->per_second;
    b->burst = rl->burst_count < 1 ? 1 : rl->burst_count;
    refill(b, now);
    if (b->tokens < 1.0) {
        ok = false;
        *retry_after_ms = (int64_t)ceil((1.0 - b->tokens) / b->per_second * 1000.0);
    } else if (consume) {
        b->tokens -= 1.0;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

void ratelimit_reset(void)
{
    pthread_mutex_lock(&lock);
    free(slots);
    slots = NULL;
    used = 0;
    pthread_mutex_unlock(&lock);
}
