/* httpc.h - outbound HTTP on libcurl: the client half that federation and the admin command
 * use. The only libcurl user besides the push sender. */
#ifndef AMTSBOTE_HTTPC_H
#define AMTSBOTE_HTTPC_H
#include <jansson.h>

/* Send `body` (borrowed, may be NULL) as JSON with `method` to `url`, wait at most
 * timeout_ms. Returns the HTTP status and sets *out to the parsed JSON response (new
 * reference, NULL if the body was not JSON), or -1 on a transport error (message in err).
 * Responses over 1 MiB are cut off and count as transport errors. */
int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen);

#endif
