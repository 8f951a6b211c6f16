/* fedlimit.h - inbound federation requests limited per origin server (Synapse's
 * rc_federation: `concurrent` in progress at once, at most `reject_limit` in progress or
 * waiting; beyond them 429 M_LIMIT_EXCEEDED). */
#ifndef AMTSBOTE_FEDLIMIT_H
#define AMTSBOTE_FEDLIMIT_H
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"

/* Start-up (and tests): the limits of cfg->rc_federation; at most `waiters_max` requests of
 * all origins together wait for a slot at once (each holds an HTTP thread while it waits).
 * Forgets every origin. */
void fedlimit_configure(const struct config *cfg, int waiters_max);

/* A request of `origin` (authenticated) wants to start. True: go on, and call fedlimit_leave
 * once when it ends. False: refused (answer 429 M_LIMIT_EXCEEDED with *retry_after_ms): its
 * origin already has reject_limit requests in progress or waiting, or had `concurrent` in
 * progress for longer than sleep_delay, or the origin table (FEDLIMIT_ORIGINS) is full of
 * origins with requests in progress. Before fedlimit_configure nothing is limited.
 * Thread-safe. */
#define FEDLIMIT_ORIGINS 1024
bool fedlimit_enter(const char *origin, int64_t *retry_after_ms);
/* The request fedlimit_enter let in has ended. */
void fedlimit_leave(const char *origin);

#endif
