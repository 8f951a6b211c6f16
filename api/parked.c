/* parked.c - Client-Server calls that wait on other servers without holding an HTTP worker:
 * joins, leaves, invites, alias lookups and backfilling /messages through other servers
 * (api/roomfed.c), /keys/query and /keys/claim naming other servers' users, and downloads and
 * thumbnails of other servers' media. A blocked epoll worker would also hold the other
 * server's requests back to us (its key fetch), so such calls park their request
 * (server/httpjob.h) and run on a thread of their own, at most PARKED_THREADS at once (beyond
 * that on the HTTP thread, as before). The work reads only what its job copied. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "api/api.h"
#include "server/httpjob.h"
#include "server/log.h"

#define PARKED_THREADS 32

struct parked {
    void (*work)(void *arg);
    void (*finish)(struct http_req *req, void *arg);
    void (*free_arg)(void *arg);
    void *arg;
    struct http_job *hj;
};

static atomic_int running;

static void parked_free(void *p)
{
    struct parked *j = p;
    if (j && j->free_arg)
        j->free_arg(j->arg);
    free(j);
}

static void *parked_thread(void *p)
{
    struct parked *j = p;
    j->work(j->arg);
    atomic_fetch_sub(&running, 1);
    http_job_done(j->hj, j, parked_free);
    return NULL;
}

static void parked_start(struct http_job *hj, void *p)
{
    struct parked *j = p;
    pthread_t t;
    pthread_attr_t attr;
    j->hj = hj;
    if (atomic_fetch_add(&running, 1) < PARKED_THREADS && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, parked_thread, j);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
    }
    parked_thread(j); /* too many at once: here */
}

static void parked_finish(struct http_req *req, void *arg, void *result)
{
    struct parked *j = result;
    if (!j)
        http_reply_internal(req);
    else
        j->finish(req, j->arg);
}

void api_run_parked(struct http_req *req, void (*work)(void *arg),
                    void (*finish)(struct http_req *req, void *arg), void (*free_arg)(void *arg),
                    void *arg)
{
    struct parked *j = calloc(1, sizeof *j);
    if (!j) {
        if (free_arg)
            free_arg(arg);
        http_reply_internal(req);
        return;
    }
    *j = (struct parked){work, finish, free_arg, arg, NULL};
    http_job_park(req, parked_start, parked_finish, j);
}

void api_parked_drain(int timeout_ms)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int waited = 0; atomic_load(&running) > 0 && waited < timeout_ms; waited += 10)
        nanosleep(&ts, NULL);
    if (atomic_load(&running) > 0)
        log_warn("shutdown: %d calls to other servers still running", atomic_load(&running));
}
