/* routes.c - the Server-Server API route table. Authentication is a property of the row:
 * HTTP_AUTH_SERVER rows are checked by federation_authenticate (X-Matrix signature, origin
 * allow-list, current key) before the handler runs; the key endpoints and OpenID userinfo
 * are public by the spec. */
#include "federation/federation.h"

/* method, pattern, handler, auth, flags */
const struct http_route federation_routes[] = {
    {"GET", "/_matrix/key/v2/server", federation_key_server, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/key/v2/query/{serverName}", federation_key_query_get, HTTP_AUTH_NONE, 0},
    {"POST", "/_matrix/key/v2/query", federation_key_query_post, HTTP_AUTH_NONE, HTTP_BODY_JSON},
    {"GET", "/_matrix/federation/v1/version", federation_version, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/federation/v1/openid/userinfo", federation_openid_userinfo, HTTP_AUTH_NONE,
     0},
    {"GET", "/_matrix/federation/v1/query/profile", federation_query_profile, HTTP_AUTH_SERVER, 0},
    {0},
};
