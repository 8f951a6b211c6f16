/* workpool.c - a fixed set of threads taking work from a bounded FIFO.
 *
 * Invariant: every item accepted by workpool_submit is called exactly once, either by a
 * thread (cancelled = false) or by workpool_stop (cancelled = true). */
#include "server/workpool.h"

#include <stdlib.h>

#include "server/log.h"

struct workpool_item {
    struct workpool_item *next;
    workpool_fn fn;
    void *arg;
};

static void *run(void *arg)
{
    struct workpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        struct workpool_item *it = p->head;
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        it->fn(it->arg, false);
        free(it);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int workpool_start(struct workpool *p)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->head = p->tail = NULL;
    p->queued = p->started = 0;
    p->stopping = false;
    int n = p->threads < 1 ? 1 : p->threads > WORKPOOL_MAX_THREADS ? WORKPOOL_MAX_THREADS
                                                                    : p->threads;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->tids[i], NULL, run, p) != 0) {
            log_error("%s: cannot start a thread", p->name);
            workpool_stop(p);
            return -1;
        }
        p->started++;
    }
    return 0;
}

int workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
    struct workpool_item *it = malloc(sizeof *it);
    if (!it)
        return -1;
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&p->mu);
    if (p->started == 0 || p->stopping || p->queued >= p->max_queued) {
        pthread_mutex_unlock(&p->mu);
        free(it);
        return -1;
    }
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void workpool_stop(struct workpool *p)
{
    if (p->started == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->tids[i], NULL);
    p->started = 0;
    struct workpool_item *it = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    while (it) {
        struct workpool_item *next = it->next;
        it->fn(it->arg, true);
        free(it);
        it = next;
    }
}
