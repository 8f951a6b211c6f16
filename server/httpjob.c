/* httpjob.c - parked requests whose answer comes from work on another thread, and wakers:
 * the handles long-polling waiters hold on parked requests.
 *
 * Invariants:
 *  1. A job has two owners, the request and the work; it is freed when both let go (the
 *     request when it ends however it ends, the work in http_job_done), so neither side
 *     can touch freed memory whichever ends first.
 *  2. http_resume is called at most once, under the job's lock, and only while the request
 *     has not ended.
 *  3. The same two rules hold for a waker, under its own lock. */
#include "server/httpjob.h"

#include <pthread.h>
#include <stdlib.h>

struct http_job {
    pthread_mutex_t mu;
    int refs;
    struct http_req *req; /* NULL once the request ended */
    http_job_start_fn start;
    http_job_finish_fn finish;
    void *arg;
    void *result;
    void (*free_result)(void *);
};

static void job_unref(struct http_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    if (j->free_result && j->result)
        j->free_result(j->result);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void on_end(void *ctx)
{
    struct http_job *j = ctx;
    pthread_mutex_lock(&j->mu);
    j->req = NULL;
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

static void arm(struct http_req *req)
{
    struct http_job *j = http_ctx(req);
    j->start(j, j->arg);
}

static void resumed(struct http_req *req)
{
    struct http_job *j = http_ctx(req);
    pthread_mutex_lock(&j->mu);
    void *result = j->result;
    pthread_mutex_unlock(&j->mu);
    j->finish(req, j->arg, result);
}

void http_job_park(struct http_req *req, http_job_start_fn start, http_job_finish_fn finish,
                   void *arg)
{
    struct http_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    pthread_mutex_init(&j->mu, NULL);
    j->refs = 2;
    j->req = req;
    j->start = start;
    j->finish = finish;
    j->arg = arg;
    http_set_ctx(req, j);
    http_on_end(req, on_end);
    http_suspend(req, arm, resumed);
}

void http_job_done(struct http_job *j, void *result, void (*free_result)(void *))
{
    pthread_mutex_lock(&j->mu);
    j->result = result;
    j->free_result = free_result;
    if (j->req)
        http_resume(j->req);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

struct http_waker {
    pthread_mutex_t mu;
    int refs;
    struct http_req *req; /* NULL once the request let go */
};

static void waker_unref(struct http_waker *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

struct http_waker *http_waker_new(struct http_req *req)
{
    struct http_waker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    w->refs = 2;
    w->req = req;
    return w;
}

void http_waker_fire(void *arg)
{
    struct http_waker *w = arg;
    pthread_mutex_lock(&w->mu);
    if (w->req)
        http_resume(w->req);
    w->req = NULL; /* resumed at most once */
    pthread_mutex_unlock(&w->mu);
    waker_unref(w);
}

void http_waker_detach(struct http_waker **wp)
{
    struct http_waker *w = wp ? *wp : NULL;
    if (!w)
        return;
    *wp = NULL;
    pthread_mutex_lock(&w->mu);
    w->req = NULL;
    pthread_mutex_unlock(&w->mu);
    waker_unref(w);
}
