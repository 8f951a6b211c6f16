/* httpc.h - JSON over outbound HTTP: the client half that federation and the admin command
 * use, a thin layer over the server's one HTTP client (server/outbound.h). */
#ifndef AMTSBOTE_HTTPC_H
#define AMTSBOTE_HTTPC_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* Until federation moves onto server/outbound.h: federation_request and discovery still use
 * their own libcurl easy handle (redirects, Cache-Control and a per-address callback that the
 * shared client does not offer yet). */
/* What federation needs beyond httpc_json. Every field may be left zero. */
struct httpc_opts {
    const char *const *headers; /* NULL-terminated "Name: value" lines */
    const char *connect_to;     /* "host:port:connect-host:connect-port": connect elsewhere
                                   while the URL's host stays in Host, SNI and the
                                   certificate check (resolved SRV targets) */
    const char *ca_pem;         /* PEM text of the CAs to trust instead of the system's */
    size_t ca_pem_len;
    bool insecure; /* do not verify the peer's certificate */
    /* Asked before every connection; false refuses the address (then the request fails with
     * "address not allowed"). NULL: every address. */
    bool (*addr_ok)(const struct sockaddr *sa);
    int max_redirects;  /* 0: redirects are not followed */
    int64_t *max_age_s; /* out: Cache-Control max-age of the answer, -1 when none */
    size_t max_body;    /* largest response body; 0: 1 MiB */
};

/* httpc_json with options (o may be NULL). Same contract, with o->max_body as the limit. */
int httpc_json_opts(const char *method, const char *url, json_t *body, const struct httpc_opts *o,
                    long timeout_ms, json_t **out, char *err, size_t errlen);

#endif
