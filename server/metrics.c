/* metrics.c - Prometheus metrics in the text exposition format (version 0.0.4), served at
 * /_synapse/metrics on listeners that name the `metrics` resource (Synapse's name).
 *
 * Requests are counted per route slot (server/http.c numbers every row of every route table
 * at start-up), so the label is the route pattern ("/_matrix/client/v3/rooms/{roomId}/send/
 * {eventType}/{txnId}"), never a raw path: no user data reaches the metrics and the number of
 * series is bounded by the route tables.
 *
 * Invariants:
 *  1. The hot path (metrics_request, metrics_add) is a handful of relaxed atomic adds on
 *     memory allocated before the listeners start: no lock, no allocation.
 *  2. Scrapes read the counters without stopping writers: a scrape may see a request counted
 *     in one series and not yet in another; each counter alone only grows. */
#include "server/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GAUGE_FNS 8

/* Statuses with a series of their own; others are counted under code="other". */
static const int codes[] = {200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404,
                            405, 409, 411, 413, 415, 429, 500, 501, 502, 503, 504};
#define N_CODES (sizeof codes / sizeof codes[0])
/* Latency buckets (upper bounds, microseconds); the last bucket is +Inf. */
static const int64_t bounds_us[] = {5000,    10000,   25000,   50000,    100000,   250000,  500000,
                                    1000000, 2500000, 5000000, 10000000, 30000000, 60000000};
#define N_BOUNDS (sizeof bounds_us / sizeof bounds_us[0])

struct slot {
    const char *method, *pattern;
    atomic_uint_fast64_t by_code[N_CODES + 1];
    atomic_uint_fast64_t buckets[N_BOUNDS + 1];
    atomic_uint_fast64_t sum_us, count;
};

static struct slot *slots;
static size_t n_slots; /* route slots + the unmatched one */
static atomic_uint_fast64_t counters[METRICS_N_COUNTERS];
static metrics_gauge_fn gauge_fns[MAX_GAUGE_FNS];
static size_t n_gauge_fns;

static const struct {
    const char *name, *help;
} counter_info[METRICS_N_COUNTERS] = {
    [METRICS_EVENTS_PERSISTED] = {"amtsbote_events_persisted_total",
                                  "Events persisted by the room engine"},
    [METRICS_MEDIA_SCANNED] = {"amtsbote_media_scanned_total",
                               "Files sent to clamd (whatever the outcome)"},
    [METRICS_MEDIA_INFECTED] = {"amtsbote_media_infected_total",
                                "Files refused because clamd found malware"},
    [METRICS_MEDIA_UNSCANNED] = {"amtsbote_media_scan_errors_total",
                                 "Scans that gave no verdict (clamd down, timeout, too large)"},
    [METRICS_FED_PDUS_SENT] = {"amtsbote_federation_pdus_sent_total",
                               "PDUs in outbound federation transactions answered 200"},
    [METRICS_FED_CATCHUP_SKIPPED] = {"amtsbote_federation_catchup_pdus_skipped_total",
                                     "Queued PDUs not sent after an outage: the destination "
                                     "fetches them through the newest one's prev_events"},
};

int metrics_routes_init(size_t n)
{
    free(slots);
    slots = calloc(n + 1, sizeof *slots);
    n_slots = slots ? n + 1 : 0;
    if (!slots)
        return -1;
    slots[n].method = "";
    slots[n].pattern = "unmatched";
    return 0;
}

void metrics_route_name(size_t i, const char *method, const char *pattern)
{
    if (i + 1 < n_slots) {
        slots[i].method = method;
        slots[i].pattern = pattern;
    }
}

size_t metrics_unmatched_slot(void)
{
    return n_slots ? n_slots - 1 : 0;
}

void metrics_request(size_t slot, int status, int64_t usec)
{
    if (slot >= n_slots)
        return;
    struct slot *s = &slots[slot];
    size_t c = 0;
    while (c < N_CODES && codes[c] != status)
        c++;
    size_t b = 0;
    while (b < N_BOUNDS && usec > bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&s->by_code[c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, usec > 0 ? (uint64_t)usec : 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void metrics_add(enum metrics_counter c, uint64_t n)
{
    if ((unsigned)c < METRICS_N_COUNTERS)
        atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void metrics_add_gauges(metrics_gauge_fn fn)
{
    if (n_gauge_fns < MAX_GAUGE_FNS)
        gauge_fns[n_gauge_fns++] = fn;
}

static uint64_t ld(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void render_requests(FILE *f)
{
    fputs("# HELP amtsbote_http_requests_total HTTP requests answered, by route and status\n"
          "# TYPE amtsbote_http_requests_total counter\n",
          f);
    for (size_t i = 0; i < n_slots; i++) {
        if (!slots[i].pattern || !ld(&slots[i].count))
            continue;
        for (size_t c = 0; c <= N_CODES; c++) {
            uint64_t v = ld(&slots[i].by_code[c]);
            if (!v)
                continue;
            char code[16] = "other";
            if (c < N_CODES)
                snprintf(code, sizeof code, "%d", codes[c]);
            fprintf(f,
                    "amtsbote_http_requests_total{method=\"%s\",endpoint=\"%s\",code=\"%s\"} "
                    "%llu\n",
                    slots[i].method, slots[i].pattern, code, (unsigned long long)v);
        }
    }
    fputs("# HELP amtsbote_http_request_duration_seconds Time from the request's first byte "
          "to its answer (parked /sync included), by route\n"
          "# TYPE amtsbote_http_request_duration_seconds histogram\n",
          f);
    for (size_t i = 0; i < n_slots; i++) {
        uint64_t count = slots[i].pattern ? ld(&slots[i].count) : 0;
        if (!count)
            continue;
        const char *m = slots[i].method, *p = slots[i].pattern;
        uint64_t cum = 0;
        for (size_t b = 0; b <= N_BOUNDS; b++) {
            cum += ld(&slots[i].buckets[b]);
            char le[32];
            if (b < N_BOUNDS)
                snprintf(le, sizeof le, "%g", (double)bounds_us[b] / 1e6);
            else
                snprintf(le, sizeof le, "+Inf");
            fprintf(f,
                    "amtsbote_http_request_duration_seconds_bucket{method=\"%s\",endpoint=\"%s\","
                    "le=\"%s\"} %llu\n",
                    m, p, le, (unsigned long long)cum);
        }
        fprintf(f,
                "amtsbote_http_request_duration_seconds_sum{method=\"%s\",endpoint=\"%s\"} "
                "%.6f\n"
                "amtsbote_http_request_duration_seconds_count{method=\"%s\",endpoint=\"%s\"} "
                "%llu\n",
                m, p, (double)ld(&slots[i].sum_us) / 1e6, m, p, (unsigned long long)count);
    }
}

static void gauge(FILE *f, const char *name, const char *help, long v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %ld\n", name, help, name, name, v);
}

char *metrics_render(size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    render_requests(f);
    for (size_t c = 0; c < METRICS_N_COUNTERS; c++)
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_info[c].name,
                counter_info[c].help, counter_info[c].name, counter_info[c].name,
                (unsigned long long)ld(&counters[c]));
    struct metrics_gauges g = {0};
    for (size_t i = 0; i < n_gauge_fns; i++)
        gauge_fns[i](&g);
    gauge(f, "amtsbote_http_requests_in_flight", "Requests being handled or parked",
          g.http_inflight);
    gauge(f, "amtsbote_sync_waiters", "Parked /sync requests waiting for news", g.sync_waiters);
    gauge(f, "amtsbote_db_pool_connections", "Database connections open", g.db_open);
    gauge(f, "amtsbote_db_pool_in_use", "Database connections lent out", g.db_in_use);
    gauge(f, "amtsbote_db_pool_max", "Database pool size limit (cp_max)", g.db_max);
    gauge(f, "amtsbote_outbound_requests_in_flight",
          "Outbound HTTP requests (federation, push) on the wire", g.outbound_in_flight);
    gauge(f, "amtsbote_outbound_requests_queued", "Outbound HTTP requests waiting to be sent",
          g.outbound_queued);
    gauge(f, "amtsbote_federation_sender_inbox",
          "Events and EDUs not yet written to the outbound transaction queue", g.fed_inbox);
    gauge(f, "amtsbote_federation_destinations_queued",
          "Destination servers with queued transactions", g.fed_dests_waiting);
    gauge(f, "amtsbote_federation_transactions_in_flight",
          "Outbound federation transactions being sent", g.fed_txn_in_flight);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
