/* remote.h - what the engine and the Client-Server API ask of other servers, through the
 * outbound request function federation registers at start-up (server/ makes no network
 * requests itself and includes nothing from federation/). */
#ifndef AMTSBOTE_REMOTE_H
#define AMTSBOTE_REMOTE_H
#include <jansson.h>
#include <stddef.h>

/* The shape of federation_request (federation/federation.h): a signed request to another
 * server; the HTTP status with *out the JSON answer (new reference or NULL), or a negative
 * value when nothing was received (-2: refused by policy without being sent). */
typedef int (*remote_request_fn)(const char *destination, const char *method,
                                 const char *path_query, json_t *body, long timeout_ms,
                                 json_t **out, char *err, size_t errlen);

/* Register the request function; call once at start-up, before serving. */
void remote_init(remote_request_fn fn);

enum remote_rc {
    REMOTE_OK,
    REMOTE_NOT_FOUND,  /* the server answered that there is no such thing */
    REMOTE_REFUSED,    /* federation with that server is not allowed (allow-list) */
    REMOTE_UNREACHABLE /* no usable answer: network, TLS, timeout, bad JSON, not configured */
};

/* The public profile of a user of another server (GET /_matrix/federation/v1/query/profile):
 * *out a new object with displayname and avatar_url when they are strings. */
enum remote_rc remote_profile(const char *user_id, const char *server, json_t **out);

/* The registered request function itself (room_remote.c's handshakes): as remote_request_fn;
 * -1 with err set when none is registered. */
int remote_send(const char *destination, const char *method, const char *path_query,
                json_t *body, long timeout_ms, json_t **out, char *err, size_t errlen);

/* Percent-encode s as one path segment or query value into out (cap bytes): 0, or -1 when it
 * does not fit. */
int remote_encode(const char *s, char *out, size_t cap);

#endif
