/* httpc.h - outbound HTTP on libcurl: the client half that federation and the admin command
 * use. The only libcurl user besides the push sender. */
#ifndef AMTSBOTE_HTTPC_H
#define AMTSBOTE_HTTPC_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Send `body` (borrowed, may be NULL) as JSON with `method` to `url`, wait at most
 * timeout_ms. Returns the HTTP status and sets *out to the parsed JSON response (new
 * reference, NULL if the body was not JSON), or -1 on a transport error (message in err).
 * Responses over 1 MiB are cut off and count as transport errors. */
int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen);

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
