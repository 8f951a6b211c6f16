/* httpc.c - outbound JSON over HTTP: encodes the request body, adds the JSON headers, waits
 * for the server's HTTP client (server/outbound.c: per-destination concurrency, deadlines,
 * bounded responses, address filter) and parses the answer. Redirects are not followed. */
#include "federation/httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTPC_MAX_HEADERS 16

int httpc_json_req(const struct outbound_req *base, json_t *body, json_t **out,
                   enum outbound_err *why_err, char *err, size_t errlen)
{
    const char *hdrs[HTTPC_MAX_HEADERS + 3];
    size_t n = 0;
    *out = NULL;
    hdrs[n++] = "Accept: application/json";
    if (body)
        hdrs[n++] = "Content-Type: application/json";
    for (size_t i = 0; base->headers && base->headers[i]; i++) {
        if (i == HTTPC_MAX_HEADERS) {
            snprintf(err, errlen, "too many headers");
            return -1;
        }
        hdrs[n++] = base->headers[i];
    }
    hdrs[n] = NULL;
    struct outbound_req r = *base;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    r.headers = hdrs;
    r.body = body ? (text ? text : "{}") : NULL;
    r.body_len = r.body ? strlen(r.body) : 0;
    r.truncate = false;
    struct outbound_res res;
    int rc = outbound_fetch(&r, &res);
    free(text);
    if (why_err)
        *why_err = res.err;
    if (rc < 0) {
        snprintf(err, errlen, "%s", res.why);
        outbound_res_clear(&res);
        return -1;
    }
    if (res.body)
        *out = json_loadb(res.body, res.len, 0, NULL);
    outbound_res_clear(&res);
    return (int)res.status;
}

int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen)
{
    struct outbound_req r = {.method = method, .url = url, .timeout_ms = timeout_ms};
    return httpc_json_req(&r, body, out, NULL, err, errlen);
}
