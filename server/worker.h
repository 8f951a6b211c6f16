/* worker.h - a background thread that does a round of work every `tick_ms`, or sooner when
 * woken, until stopped (the search indexer, the push sender). */
#ifndef AMTSBOTE_WORKER_H
#define AMTSBOTE_WORKER_H
#include <pthread.h>
#include <stdbool.h>

struct worker {
    const char *name;
    int tick_ms;
    void (*round)(struct worker *w); /* one round; may check worker_stopping between items */
    /* private */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stopping, woken;
};

/* Start w (name, tick_ms and round set by the caller). 0 or -1. */
int worker_start(struct worker *w);
/* Ask it to stop and wait for the round in progress to end. Safe if not started. */
void worker_stop(struct worker *w);
/* Do a round now rather than at the next tick. */
void worker_wake(struct worker *w);
/* Whether the worker is being stopped (for long rounds to cut short). */
bool worker_stopping(struct worker *w);

#endif
