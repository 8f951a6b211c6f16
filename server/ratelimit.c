/* ratelimit.c - token buckets keyed by (kind, key), kept in memory.
 *
 * Rate limits are a cache, not state that matters: a restart forgets them, and several server
 * processes each limit on their own (the roadmap allows this; nothing is lost). A bucket holds
 * up to burst_count tokens and gains per_second tokens per second; an action takes one.
 * The table is an open hash with linear probing; when it fills up, buckets that have refilled
 * completely are dropped (they carry no information). */
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
    int64_t updated_ms;
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

/* Drop buckets that are full again; rehash the rest. Caller holds the lock. */
static void prune(int64_t now)
{
    struct bucket *old = slots;
    slots = calloc(SLOTS, sizeof *slots);
    if (!slots) {
        slots = old;
        return;
    }
    used = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!old[i].key[0])
            continue;
        refill(&old[i], now);
        if (old[i].tokens >= old[i].burst)
            continue;
        size_t j = hash(old[i].key) & (SLOTS - 1);
        while (slots[j].key[0])
            j = (j + 1) & (SLOTS - 1);
        slots[j] = old[i];
        used++;
    }
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
    size_t j = hash(full) & (SLOTS - 1);
    while (slots[j].key[0] && strcmp(slots[j].key, full) != 0)
        j = (j + 1) & (SLOTS - 1);
    struct bucket *b = &slots[j];
    if (!b->key[0]) {
        if (used > SLOTS * 15 / 16) { /* still full of active buckets: refuse */
            pthread_mutex_unlock(&lock);
            *retry_after_ms = 1000;
            return false;
        }
        snprintf(b->key, sizeof b->key, "%s", full);
        b->tokens = rl->burst_count;
        b->updated_ms = now;
        used++;
    }
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
