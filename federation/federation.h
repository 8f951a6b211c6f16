/* federation.h - the Server-Server API: route table, start-up, and the outbound request that
 * every federation sender (keys, joins, transactions) goes through. */
#ifndef AMTSBOTE_FEDERATION_H
#define AMTSBOTE_FEDERATION_H
#include <jansson.h>

#include "server/http.h"
#include "server/outbound.h"

/* The federation route table (federation/routes.c). Rows with HTTP_AUTH_SERVER get X-Matrix
 * authentication, the origin allow-list and the signing-key checks before their handler runs;
 * the handler reads the origin with http_origin(req). */
extern const struct http_route federation_routes[];

/* Start-up, before serving and after outbound_set_ip_range_filter: keep cfg (it must outlive
 * the server), load federation_custom_ca_list, register the X-Matrix authenticator with
 * server/http.c, the key fetcher with server/keyring.c and federation_request with
 * server/remote.c. Returns 0, or -1 with a message in err. */
int federation_init(const struct config *cfg, char *err, size_t errlen);
/* Release what federation_init loaded. */
void federation_shutdown(void);

/* What federation_request returns besides an HTTP status. */
enum {
    FED_ERR_TRANSPORT = -1, /* no answer: DNS, connect, TLS (certificate), timeout, size */
    FED_ERR_REFUSED = -2,   /* never sent: destination off federation_domain_whitelist, not a
                               server name, or this server itself */
};

/* Send a signed request to another server and wait for its JSON answer.
 *
 * destination: the server name (before delegation), e.g. "example.org" or "1.2.3.4:8448".
 * path_query: path and query, already percent-encoded ("/_matrix/federation/v1/query/profile
 *   ?user_id=%40a%3Aexample.org"); it is what X-Matrix signs.
 * body: the JSON content (borrowed), or NULL for none (GET).
 * The request is refused without being sent when the destination is not on a configured
 * federation_domain_whitelist; the destination is resolved as the spec's "Resolving server
 * names" says (results cached); the connection refuses addresses in ip_range_blacklist
 * (unless in ip_range_whitelist) and checks the certificate as federation_verify_certificates
 * and federation_custom_ca_list say; redirects are not followed; answers over 32 MiB are
 * transport errors.
 * Returns the HTTP status with *out the parsed JSON answer (new reference; NULL if the body
 * was not JSON), or FED_ERR_TRANSPORT / FED_ERR_REFUSED with *out NULL and a reason in err
 * (never secrets). Blocks up to timeout_ms plus resolution when the destination is not
 * cached (the well-known fetch at most 10 s, each SRV query at most about 8 s); any worker
 * thread, never an outbound callback. */
int federation_request(const char *destination, const char *method, const char *path_query,
                       json_t *body, long timeout_ms, json_t **out, char *err, size_t errlen);

/* A signed federation request ready for the outbound client, for senders that submit it
 * themselves with a callback (outbound_submit: many destinations concurrently, nothing
 * blocks). `req` points into this struct; outbound_submit copies what it needs, so the struct
 * may be cleared as soon as it returns. */
struct federation_prepared {
    struct outbound_req req; /* url, method, headers (X-Matrix, JSON), body, destination (the
                                concurrency key), connect_to, CA list, verification, address
                                filter, timeout, 32 MiB response limit: all set */
    char url[4096];
    char connect_to[300];
    char destination[256];
    char *auth; /* "Authorization: X-Matrix ..." */
    char *body; /* the JSON text, or NULL */
    const char *headers[4];
};

/* The first half of federation_request: the checks, resolution and signing. Returns 0 with *p
 * filled (release with federation_prepared_clear), or FED_ERR_REFUSED (never to be sent) /
 * FED_ERR_TRANSPORT (the destination could not be resolved) with a reason in err. Blocks for
 * resolution when the destination is not cached: call it from a worker thread, not from an
 * outbound callback. */
int federation_prepare(const char *destination, const char *method, const char *path_query,
                       json_t *body, long timeout_ms, struct federation_prepared *p, char *err,
                       size_t errlen);
/* Free what federation_prepare allocated; NULL-safe, idempotent. */
void federation_prepared_clear(struct federation_prepared *p);

/* A signed GET whose answer is kept as bytes (media over federation: multipart/mixed), over
 * the server's outbound client with the same policy as federation_request (allow-list,
 * discovery, address policy, TLS trust). Returns the HTTP status with *res filled (release
 * with outbound_res_clear; res->content_type set), or FED_ERR_TRANSPORT / FED_ERR_REFUSED
 * with *res empty and a reason in err. Answers over max_body bytes are transport errors. */
int federation_request_raw(const char *destination, const char *path_query, size_t max_body,
                           long timeout_ms, struct outbound_res *res, char *err, size_t errlen);

/* Whether `server_name` may be talked to at all under federation_domain_whitelist. */
bool federation_domain_allowed(const char *server_name);

/* The key fetcher registered with keyring_init: notaries of trusted_key_servers first, then
 * the server itself (federation/keyfetch.c). */
int federation_fetch_keys(const char *server_name, const char *key_id, int64_t min_valid_ts);
/* Fetch server_name's keys from itself only (GET /_matrix/key/v2/server), as a notary does.
 * 0 when a verified answer was stored, else -1. */
int federation_fetch_keys_direct(const char *server_name);

/* The X-Matrix check of HTTP_AUTH_SERVER routes (federation/auth.c). */
bool federation_authenticate(struct http_req *req);

/* For the room-scoped federation endpoints (make_join, send_join, state, backfill, ... and
 * per PDU/EDU in /send): whether the authenticated origin may act in a room whose current
 * m.room.server_acl content is `acl` (borrowed; NULL when the room has none). Answers 403
 * M_FORBIDDEN and returns false when not. */
bool federation_acl_allows(struct http_req *req, const json_t *acl);
/* federation_acl_allows with room_id's current m.room.server_acl. */
bool federation_room_acl_allows(struct http_req *req, const char *room_id);

/* GET /_matrix/key/v2/server, /_matrix/key/v2/query (federation/keys.c). */
void federation_key_server(struct http_req *req);
void federation_key_query_get(struct http_req *req);
void federation_key_query_post(struct http_req *req);

/* GET /_matrix/federation/v1/version (federation/keys.c). */
void federation_version(struct http_req *req);
/* PUT /_matrix/federation/v1/send/{txnId} (federation/send.c). */
void federation_send_txn(struct http_req *req);

/* The outbound transaction sender (federation/sender.c): start its thread (after the
 * database and the outbound client; queued PDUs and EDUs in PostgreSQL are picked up), and
 * register it as the engine's EDU sink (server/fedout.h) and relay (room_set_relay). Stop: the
 * thread ends (transactions in flight are abandoned and resent after a restart). */
int federation_sender_start(void);
/* Shutdown, before outbound_stop: no transaction starts any more, and one that then fails
 * (the client stopping under it) is not counted as the destination's failure (no back-off
 * carried into the next start). */
void federation_sender_quiesce(void);
void federation_sender_stop(void);
/* For the metrics: items not yet written to the queue, destinations with queued rows, and
 * transactions in flight. Thread-safe; takes the sender's lock (scrape time only). */
void federation_sender_stats(long *inbox, long *dests_waiting, long *in_flight);
/* A request signed by `server` arrived: if transactions for it wait out a back-off, they go
 * now (Synapse does the same when a server it backs off from talks to it), so a server back
 * from an outage gets its queue, to-device messages and device-list updates included, at
 * once rather than after up to SENDER_RETRY_MAX_MS. Cheap: a lock and the list of waiting
 * destinations. */
void federation_sender_wake(const char *server);
/* The room listener (server/room.h) main.c gives room_init: PDUs of local senders are queued
 * for the room's other servers. */
void federation_sender_listener(int64_t stream, const char *room_id, const json_t *pdu);
/* The engine's relay (room_set_relay, registered by federation_sender_start): a membership
 * event another server gave us through send_join/leave/knock is queued for the room's other
 * servers except `origin` (the spec's resident server). */
void federation_sender_relay(const char *room_id, const json_t *ev, const char *origin);

/* Register the engine's event fetcher (federation/fetch.c: /event, /get_missing_events,
 * /state_ids, /backfill; the server asked first, then, when it fails, up to two other servers
 * of the room). Start-up. */
void federation_fetcher_register(void);

/* GET /_matrix/federation/v1/query/profile (federation/query.c). */
void federation_query_profile(struct http_req *req);
/* Any other query type: 404 M_NOT_FOUND (federation/query.c). */
void federation_query_other(struct http_req *req);

/* The membership handshakes and the alias query (federation/membership.c). */
void federation_make_join(struct http_req *req);
void federation_send_join(struct http_req *req);
void federation_make_leave(struct http_req *req);
void federation_send_leave(struct http_req *req);
void federation_make_knock(struct http_req *req);
void federation_send_knock(struct http_req *req);
void federation_invite(struct http_req *req);
/* The deprecated v1 invite: room version "1", answer [200, {event}]. */
void federation_invite_v1(struct http_req *req);
void federation_query_directory(struct http_req *req);

/* Event retrieval (federation/events.c): GET /event/{eventId}, /state/{roomId},
 * /state_ids/{roomId}, /event_auth/{roomId}/{eventId}, /backfill/{roomId}; POST
 * /get_missing_events/{roomId}. */
void federation_event(struct http_req *req);
void federation_state(struct http_req *req);
void federation_state_ids(struct http_req *req);
void federation_event_auth(struct http_req *req);
void federation_get_missing_events(struct http_req *req);
void federation_backfill(struct http_req *req);

/* GET and POST /_matrix/federation/v1/publicRooms (federation/directory.c): 403 unless
 * allow_public_rooms_over_federation. */
void federation_public_rooms_get(struct http_req *req);
void federation_public_rooms_post(struct http_req *req);

/* GET /_matrix/federation/v1/timestamp_to_event/{roomId} (federation/directory.c). */
void federation_timestamp_to_event(struct http_req *req);
/* GET /_matrix/federation/v1/hierarchy/{roomId} (federation/directory.c). */
void federation_hierarchy(struct http_req *req);

/* GET /_matrix/federation/v1/media/download/{mediaId} and /thumbnail/{mediaId}
 * (federation/media.c). */
void federation_media_download(struct http_req *req);
void federation_media_thumbnail(struct http_req *req);

/* End-to-end encryption for other servers (federation/userkeys.c). */
void federation_user_devices(struct http_req *req);
void federation_user_keys_query(struct http_req *req);
void federation_user_keys_claim(struct http_req *req);

/* GET /_matrix/federation/v1/openid/userinfo (federation/openid.c). */
void federation_openid_userinfo(struct http_req *req);

/* amtsbote register-user: create an account through the shared-secret admin API of a running
 * server. argv excludes the subcommand. Returns the process exit code. */
int federation_cmd_register_user(int argc, char **argv);

#endif
