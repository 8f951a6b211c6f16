/* httpjob.h - slow work off the HTTP worker threads: the request parks (http_suspend, no
 * thread held) while the work runs elsewhere (the outbound client, a thumbnail pool), and is
 * answered on an HTTP thread when the work is done. */
#ifndef AMTSBOTE_HTTPJOB_H
#define AMTSBOTE_HTTPJOB_H
#include "server/http.h"

struct http_job;

/* Runs once the connection is parked, on the HTTP thread that parked it: sets the work going.
 * `arg` is the handler's (e.g. from http_alloc): valid until the request ends, which may be
 * before the work ends, so the work must copy what it needs. */
typedef void (*http_job_start_fn)(struct http_job *job, void *arg);
/* Runs on an HTTP thread after http_job_done: replies. `result` stays the job's. */
typedef void (*http_job_finish_fn)(struct http_req *req, void *arg, void *result);

/* Park req (the handler then returns without replying). Uses the request's ctx and end hook:
 * the handler must not set them itself. */
void http_job_park(struct http_req *req, http_job_start_fn start, http_job_finish_fn finish,
                   void *arg);
/* The work is done: call exactly once, from any thread, possibly from within start. The job
 * takes `result` (may be NULL) and frees it with free_result (may be NULL) when the request
 * has been answered, or at once if the request already ended (server stopping). */
void http_job_done(struct http_job *job, void *result, void (*free_result)(void *));

/* A waker: what a waiter on another thread (the notifier) holds on a parked request, so that
 * it resumes the request only while the request lives (http.h: never after its end, which
 * can come first when the client goes away). Two owners, the waiter and the request; freed
 * when both have let go. */
struct http_waker;

/* A waker for req, to hand to the waiter (NULL when out of memory: answer at once). */
struct http_waker *http_waker_new(struct http_req *req);
/* The waiter's side, once: resume the request if it still lives, and let go. The signature
 * is the notifier's callback (`arg` is the waker). */
void http_waker_fire(void *arg);
/* The request's side (when it is resumed, answers or ends): after this the waker resumes
 * nothing; sets *w to NULL. NULL or *w NULL: nothing. */
void http_waker_detach(struct http_waker **w);

#endif
