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

struct outbound_res;
/* The shape of federation_request_raw: a signed GET whose answer stays bytes (media). */
typedef int (*remote_raw_fn)(const char *destination, const char *path_query, size_t max_body,
                             long timeout_ms, struct outbound_res *res, char *err,
                             size_t errlen);
/* Register it; once at start-up. */
void remote_init_raw(remote_raw_fn fn);
/* Call it: as remote_raw_fn; -1 with err and *res empty when none is registered. */
int remote_get_raw(const char *destination, const char *path_query, size_t max_body,
                   long timeout_ms, struct outbound_res *res, char *err, size_t errlen);

/* One request of a batch sent with remote_send_all. The caller fills destination, method,
 * path_query and body (borrowed, may be NULL); remote_send_all fills status (as
 * remote_send's result), answer (new reference or NULL; the caller releases it) and err. */
struct remote_call {
    const char *destination, *method, *path_query;
    json_t *body;
    int status;
    json_t *answer;
    char err[160];
};
#define REMOTE_BATCH_MAX 64 /* calls in one batch; the rest answer -1 "too many" */
/* Send the calls concurrently (a thread each, so one slow server delays none of the others)
 * and return when every one has ended: each waits at most timeout_ms (plus discovery). */
void remote_send_all(struct remote_call *calls, size_t n, long timeout_ms);

enum remote_rc {
    REMOTE_OK,
    REMOTE_NOT_FOUND,  /* the server answered that there is no such thing */
    REMOTE_REFUSED,    /* federation with that server is not allowed (allow-list) */
    REMOTE_UNREACHABLE /* no usable answer: network, TLS, timeout, bad JSON, not configured */
};

/* The public profile of a user of another server (GET /_matrix/federation/v1/query/profile):
 * *out a new object with displayname and avatar_url when they are strings. */
enum remote_rc remote_profile(const char *user_id, const char *server, json_t **out);

/* Another server's public room directory (GET or, with a filter, POST
 * /_matrix/federation/v1/publicRooms). REMOTE_OK with *out a new object holding only the
 * spec's fields (chunk, next_batch, prev_batch, total_room_count_estimate); otherwise *status
 * is the other server's refusal (403, 404...) or 0 when it could not be reached. */
enum remote_rc remote_public_rooms(const char *server, const char *since, int limit,
                                   const json_t *filter, json_t **out, int *status);

/* The registered request function itself (room_remote.c's handshakes): as remote_request_fn;
 * -1 with err set when none is registered. */
int remote_send(const char *destination, const char *method, const char *path_query,
                json_t *body, long timeout_ms, json_t **out, char *err, size_t errlen);

/* Percent-encode s as one path segment or query value into out (cap bytes): 0, or -1 when it
 * does not fit. */
int remote_encode(const char *s, char *out, size_t cap);

#endif
