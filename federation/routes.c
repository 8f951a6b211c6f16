/* routes.c - the Server-Server API route table. Authentication is a property of the row:
 * HTTP_AUTH_SERVER rows are checked by federation_authenticate (X-Matrix signature, origin
 * allow-list, current key) before the handler runs; the key endpoints and OpenID userinfo
 * are public by the spec. */
#include "federation/federation.h"

/* method, pattern, handler, auth, flags */
const struct http_route federation_routes[] = {
    {"GET", "/_matrix/key/v2/server", federation_key_server, HTTP_AUTH_NONE, 0},
    /* the older form with a key ID, still requested by Synapse 1.67: the same answer */
    {"GET", "/_matrix/key/v2/server/{keyId}", federation_key_server, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/key/v2/query/{serverName}", federation_key_query_get, HTTP_AUTH_NONE, 0},
    {"POST", "/_matrix/key/v2/query", federation_key_query_post, HTTP_AUTH_NONE, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/version", federation_version, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/federation/v1/openid/userinfo", federation_openid_userinfo, HTTP_AUTH_NONE,
     0},
    {"PUT", "/_matrix/federation/v1/send/{txnId}", federation_send_txn, HTTP_AUTH_SERVER,
     HTTP_BODY_JSON | HTTP_BODY_TXN},
    {"GET", "/_matrix/federation/v1/query/profile", federation_query_profile, HTTP_AUTH_SERVER,
     0},
    {"GET", "/_matrix/federation/v1/query/directory", federation_query_directory,
     HTTP_AUTH_SERVER, 0},
    {"GET", "/_matrix/federation/v1/make_join/{roomId}/{userId}", federation_make_join,
     HTTP_AUTH_SERVER, 0},
    {"PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", federation_send_join,
     HTTP_AUTH_SERVER, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/make_leave/{roomId}/{userId}", federation_make_leave,
     HTTP_AUTH_SERVER, 0},
    {"PUT", "/_matrix/federation/v2/send_leave/{roomId}/{eventId}", federation_send_leave,
     HTTP_AUTH_SERVER, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/make_knock/{roomId}/{userId}", federation_make_knock,
     HTTP_AUTH_SERVER, 0},
    {"PUT", "/_matrix/federation/v1/send_knock/{roomId}/{eventId}", federation_send_knock,
     HTTP_AUTH_SERVER, HTTP_BODY_JSON},
    {"PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}", federation_invite,
     HTTP_AUTH_SERVER, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/event/{eventId}", federation_event, HTTP_AUTH_SERVER, 0},
    {"GET", "/_matrix/federation/v1/state/{roomId}", federation_state, HTTP_AUTH_SERVER, 0},
    {"GET", "/_matrix/federation/v1/state_ids/{roomId}", federation_state_ids, HTTP_AUTH_SERVER,
     0},
    {"GET", "/_matrix/federation/v1/event_auth/{roomId}/{eventId}", federation_event_auth,
     HTTP_AUTH_SERVER, 0},
    {"POST", "/_matrix/federation/v1/get_missing_events/{roomId}",
     federation_get_missing_events, HTTP_AUTH_SERVER, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/backfill/{roomId}", federation_backfill, HTTP_AUTH_SERVER,
     0},
    {0},
};
