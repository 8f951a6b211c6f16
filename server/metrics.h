/* metrics.h - Prometheus metrics (served on listeners with the `metrics` resource). */
#ifndef AMTSBOTE_METRICS_H
#define AMTSBOTE_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* Counters others bump (each one atomic add). */
enum metrics_counter {
    METRICS_EVENTS_PERSISTED,    /* events written by the room engine (local and received) */
    METRICS_MEDIA_SCANNED,       /* files scanned by clamd */
    METRICS_MEDIA_INFECTED,      /* files refused as infected */
    METRICS_MEDIA_UNSCANNED,     /* scans without a verdict */
    METRICS_FED_PDUS_SENT,       /* PDUs in outbound transactions the destination accepted */
    METRICS_FED_CATCHUP_SKIPPED, /* queued PDUs not sent after an outage (catch-up) */
    METRICS_N_COUNTERS
};

/* Start-up, before any request: room for `n` route slots (0..n-1) plus one for requests that
 * matched no route. 0, or -1 when out of memory (then requests are not counted). */
int metrics_routes_init(size_t n);
/* Name slot i (the strings are kept: route tables are static). */
void metrics_route_name(size_t i, const char *method, const char *pattern);
/* The slot of requests that matched no route. */
size_t metrics_unmatched_slot(void);

/* One finished request: its route slot, status and duration. Lock-free (atomic adds). */
void metrics_request(size_t slot, int status, int64_t usec);
void metrics_add(enum metrics_counter c, uint64_t n);

/* Gauges read at scrape time. */
struct metrics_gauges {
    long sync_waiters;                                    /* parked /sync requests */
    long db_open, db_in_use, db_max;                      /* database pool */
    long outbound_in_flight, outbound_queued;             /* outbound HTTP (federation, push) */
    long fed_inbox, fed_dests_waiting, fed_txn_in_flight; /* the federation sender */
    long http_inflight;                                   /* requests being handled or parked */
};
typedef void (*metrics_gauge_fn)(struct metrics_gauges *g);
/* Register a filler run at each scrape (several may be registered; up to 8). */
void metrics_add_gauges(metrics_gauge_fn fn);

/* The text exposition format (version 0.0.4) of everything: a malloc'd string (caller frees)
 * and its length, or NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
