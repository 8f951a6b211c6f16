/* ops.c - what operators' tools ask: GET /health (as Synapse: 200 "OK", on every listener)
 * and GET /_synapse/metrics (Prometheus text format, only on listeners naming the `metrics`
 * resource, as Synapse's listener resource of that name; server/metrics.c renders it).
 *
 * Neither needs an access token: the metrics hold route patterns and counts, never user data,
 * and the `metrics` resource belongs on a listener that only the monitoring system reaches. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/metrics.h"

static void health(struct http_req *req)
{
    char *ok = strdup("OK");
    if (!ok) {
        http_reply_internal(req);
        return;
    }
    http_reply_bytes(req, 200, ok, -1, 2, "text/plain; charset=utf-8", NULL);
}

static void metrics(struct http_req *req)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (!text) {
        http_reply_internal_cause(req, "the metrics could not be rendered (out of memory)");
        return;
    }
    http_reply_bytes(req, 200, text, -1, len, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

/* Columns: method, pattern, handler, auth, flags. */
const struct http_route api_health_routes[] = {
    {"GET", "/health", health, HTTP_AUTH_NONE, 0},
    {0},
};

const struct http_route api_metrics_routes[] = {
    {"GET", "/_synapse/metrics", metrics, HTTP_AUTH_NONE, 0},
    {"GET", "/metrics", metrics, HTTP_AUTH_NONE, 0},
    {0},
};
