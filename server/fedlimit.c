/* fedlimit.c - per-origin limits on inbound federation requests (issue 13), after Synapse's
 * rc_federation and with its keys and defaults (server/config.h):
 *   concurrent (3)     requests of one origin in progress at once;
 *   reject_limit (50)  requests of one origin in progress or waiting: beyond, 429 at once;
 *   sleep_delay (500)  how long a request beyond `concurrent` waits for a slot before 429;
 *   window_size / sleep_limit (1000 / 10)  the retry_after_ms of a refusal.
 * Synapse also delays every request beyond sleep_limit in a window by sleep_delay; that is not
 * done here: a request waiting holds one of the few HTTP threads (each serving many
 * connections), so only waiting for a slot is done, by at most `waiters_max` requests of all
 * origins together (half the HTTP threads): one origin's flood never stops the others.
 *
 * Invariants:
 *   1. The table is FEDLIMIT_ORIGINS fixed slots (no allocation): an origin has a slot while
 *      it has a request in progress or waiting, and the slot is free again when it has none.
 *   2. Every fedlimit_enter that returns true is matched by one fedlimit_leave (http.c calls it
 *      when the request ends, however it ends). */
#include "server/fedlimit.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define ORIGIN_MAX 256 /* a server name is at most 255 bytes */

struct origin {
    char name[ORIGIN_MAX]; /* "" = free */
    int active, waiting;
};

static struct origin table[FEDLIMIT_ORIGINS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER; /* a slot of some origin came free */
static bool configured;
static int concurrent, reject_limit, waiters_max, waiters;
static int64_t sleep_delay_ms, retry_ms;

void fedlimit_configure(const struct config *cfg, int max_waiters)
{
    pthread_mutex_lock(&mu);
    memset(table, 0, sizeof table);
    concurrent = cfg->rc_federation.concurrent > 0 ? cfg->rc_federation.concurrent : 1;
    reject_limit = cfg->rc_federation.reject_limit > 0 ? cfg->rc_federation.reject_limit : 1;
    sleep_delay_ms = cfg->rc_federation.sleep_delay_ms > 0 ? cfg->rc_federation.sleep_delay_ms : 0;
    int64_t w = cfg->rc_federation.window_size_ms > 0 ? cfg->rc_federation.window_size_ms : 1000;
    int sl = cfg->rc_federation.sleep_limit > 0 ? cfg->rc_federation.sleep_limit : 1;
    retry_ms = w / sl > 0 ? w / sl : 1;
    waiters_max = max_waiters > 0 ? max_waiters : 1;
    waiters = 0;
    configured = true;
    pthread_mutex_unlock(&mu);
}

/* The origin's slot, or a free one taken for it; NULL when the table is full. Under mu. */
static struct origin *slot_of(const char *origin)
{
    struct origin *free_slot = NULL;
    for (size_t i = 0; i < FEDLIMIT_ORIGINS; i++) {
        if (!table[i].name[0]) {
            if (!free_slot)
                free_slot = &table[i];
        } else if (strcmp(table[i].name, origin) == 0) {
            return &table[i];
        }
    }
    if (free_slot)
        memcpy(free_slot->name, origin, strlen(origin) + 1);
    return free_slot;
}

static void release_if_idle(struct origin *o)
{
    if (o->active == 0 && o->waiting == 0)
        o->name[0] = '\0';
}

bool fedlimit_enter(const char *origin, int64_t *retry_after_ms)
{
    *retry_after_ms = 0;
    if (!origin || strlen(origin) >= ORIGIN_MAX)
        return false; /* never authenticated so: refuse rather than track it wrongly */
    pthread_mutex_lock(&mu);
    if (!configured) {
        pthread_mutex_unlock(&mu);
        return true;
    }
    bool ok = false;
    struct origin *o = slot_of(origin);
    if (!o || o->active + o->waiting >= reject_limit)
        goto out;
    if (o->active < concurrent) {
        o->active++;
        ok = true;
        goto out;
    }
    if (sleep_delay_ms <= 0 || waiters >= waiters_max)
        goto out;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += sleep_delay_ms / 1000;
    until.tv_nsec += (long)(sleep_delay_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    o->waiting++;
    waiters++;
    int rc = 0;
    while (o->active >= concurrent && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&freed, &mu, &until);
    o->waiting--;
    waiters--;
    if (o->active < concurrent) {
        o->active++;
        ok = true;
    }
out:
    if (!ok) {
        *retry_after_ms = retry_ms;
        if (o)
            release_if_idle(o);
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

void fedlimit_leave(const char *origin)
{
    if (!origin)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < FEDLIMIT_ORIGINS; i++) {
        struct origin *o = &table[i];
        if (o->name[0] && strcmp(o->name, origin) == 0) {
            if (o->active > 0)
                o->active--;
            if (o->waiting)
                pthread_cond_broadcast(&freed);
            release_if_idle(o);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
}
