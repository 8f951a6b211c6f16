/* worker.c - background threads with a period (see worker.h). The wait is a condition
 * variable with a deadline, so stopping or waking never waits for a tick to pass. */
#include "server/worker.h"

#include <time.h>

static void *loop(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        w->woken = false;
        pthread_mutex_unlock(&w->mu);
        w->round(w);
        pthread_mutex_lock(&w->mu);
        if (w->stopping || w->woken)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)w->tick_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int worker_start(struct worker *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->stopping = w->woken = false;
    if (pthread_create(&w->thread, NULL, loop, w) != 0)
        return -1;
    w->running = true;
    return 0;
}

void worker_stop(struct worker *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->running = false;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void worker_wake(struct worker *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->woken = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool worker_stopping(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}
