/* avscan.h - virus scanning of media with clamd (config media_scanner). */
#ifndef AMTSBOTE_AVSCAN_H
#define AMTSBOTE_AVSCAN_H
#include <stddef.h>

#include "server/config.h"

enum avscan_verdict {
    AVSCAN_ACCEPT,    /* clean, or scanning off, or unscannable with on_error: allow */
    AVSCAN_INFECTED,  /* clamd found a signature: do not store, do not serve */
    AVSCAN_UNSCANNED, /* clamd could not be asked or gave no verdict, on_error: refuse */
};

/* Start-up: remember cfg->media_scanner (kept, not copied; cfg outlives the server) and,
 * when scanning is on, start the scan pool. 0, or -1 (logged). */
int avscan_init(const struct config *cfg);
/* Shutdown: scans waiting end as AVSCAN_UNSCANNED (their done runs), running ones finish. */
void avscan_quiesce(void);
/* Whether scanning is on. */
int avscan_enabled(void);

/* Scan the file at `path` (a whole file: an upload in media_store_path/tmp, or remote media
 * fetched to a temporary file) before it is stored or served. Blocks the calling thread for at
 * most media_scanner.timeout (connect, send, verdict together). Thread-safe.
 *   AVSCAN_ACCEPT    store it (also when scanning is off, at no cost);
 *   AVSCAN_INFECTED  refuse it; `sig` (may be NULL) holds the signature name;
 *   AVSCAN_UNSCANNED refuse it (clamd down, timeout, file over max_scan_size, clamd error)
 *                    because on_error is refuse; with on_error: allow this is ACCEPT.
 * `who` (the uploading user, or the origin server of remote media) and `media_id` are only
 * for the log line written for every refusal and every failed scan (never file content or
 * names). The file is neither changed nor removed: the caller does that. */
enum avscan_verdict avscan_check(const char *path, const char *who, const char *media_id, char *sig,
                                 size_t siglen);

/* avscan_check on the scan pool (AVSCAN_THREADS threads), so that no HTTP worker waits for
 * clamd: done(arg, verdict) runs exactly once, on a pool thread, or at once on the caller's
 * when the queue is full or the pool stopping (then as for no verdict: on_error decides).
 * path, who and media_id are copied. */
typedef void (*avscan_done_fn)(void *arg, enum avscan_verdict v);
void avscan_check_async(const char *path, const char *who, const char *media_id,
                        avscan_done_fn done, void *arg);

/* The protocol step, for tests: scan `path` with clamd. Returns 0 clean, 1 infected (sig
 * filled), -1 no verdict (why filled). Ignores `enabled` and on_error. */
int avscan_file(const char *path, char *sig, size_t siglen, char *why, size_t whylen);

#endif
