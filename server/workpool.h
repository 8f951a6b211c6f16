/* workpool.h - a few threads for blocking work (thumbnails being made), with a bounded queue,
 * so the HTTP worker threads never wait for it. */
#ifndef AMTSBOTE_WORKPOOL_H
#define AMTSBOTE_WORKPOOL_H
#include <pthread.h>
#include <stdbool.h>

/* One piece of work; cancelled: the pool is stopping and the work must only clean up (and
 * report that it did not run). */
typedef void (*workpool_fn)(void *arg, bool cancelled);

struct workpool_item;
#define WORKPOOL_MAX_THREADS 8

struct workpool {
    const char *name;
    int threads;    /* 1..WORKPOOL_MAX_THREADS */
    int max_queued; /* waiting items beyond this: workpool_submit fails */
    /* private */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t tids[WORKPOOL_MAX_THREADS];
    int started, queued;
    bool stopping;
    struct workpool_item *head, *tail;
};

/* Start p (name, threads, max_queued set). 0 or -1. */
int workpool_start(struct workpool *p);
/* Queue fn(arg, false). 0, or -1 when the queue is full or the pool is not running (fn is
 * then not called). */
int workpool_submit(struct workpool *p, workpool_fn fn, void *arg);
/* Stop: work waiting is called with cancelled = true, work running is waited for. Safe if not
 * started; the pool may be started again afterwards. */
void workpool_stop(struct workpool *p);

#endif
