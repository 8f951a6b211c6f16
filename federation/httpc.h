/* httpc.h - JSON over outbound HTTP: the client half that federation and the admin command
 * use, a thin layer over the server's one HTTP client (server/outbound.h). */
#ifndef AMTSBOTE_HTTPC_H
#define AMTSBOTE_HTTPC_H
#include <jansson.h>

#include "server/outbound.h"

/* Send `body` (borrowed, may be NULL) as JSON with `method` to `url`, wait at most
 * timeout_ms. Returns the HTTP status and sets *out to the parsed JSON response (new
 * reference, NULL if the body was not JSON), or -1 on a transport error (message in err).
 * Responses over 1 MiB are cut off and count as transport errors. Blocks: call it from a
 * worker thread, never from an outbound callback. */
int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen);

/* The same with the client's full options: `base` gives method, url, destination,
 * connect_to, filter, TLS options, timeout, max_body and extra headers (e.g. the X-Matrix
 * Authorization); its body fields are ignored: `body` (borrowed, may be NULL) is sent as
 * JSON. Same results as httpc_json; *why_err (may be NULL) gets the client's error kind. */
int httpc_json_req(const struct outbound_req *base, json_t *body, json_t **out,
                   enum outbound_err *why_err, char *err, size_t errlen);

#endif
