/* keys.c - the server's published signing key and version (Server-Server API s. "Retrieving
 * server keys": GET /_matrix/key/v2/server, and GET /_matrix/federation/v1/version).
 *
 * The key response is signed with the key it publishes, so that other servers (and notary
 * servers) can verify it. valid_until_ts is a day ahead, as Synapse publishes by default. */
#include <stdlib.h>

#include "federation/federation.h"
#include "server/clock.h"
#include "server/keyring.h"
#include "server/version.h"

#define KEY_VALIDITY_MS (24LL * 60 * 60 * 1000)

static void key_server(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    const struct sign_key *k = keyring_own();
    char *pub = sign_key_public_b64(k);
    if (!pub) {
        http_reply_internal(req);
        return;
    }
    json_t *body = json_pack("{s:s,s:I,s:{s:{s:s}},s:{}}", "server_name", cfg->server_name,
                             "valid_until_ts", (json_int_t)(clock_now_ms() + KEY_VALIDITY_MS),
                             "verify_keys", k->key_id, "key", pub, "old_verify_keys");
    free(pub);
    if (!body || sign_json(body, cfg->server_name, k) < 0) {
        json_decref(body);
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, body);
}

static void fed_version(struct http_req *req)
{
    http_reply_json(req, 200,
                    json_pack("{s:{s:s,s:s}}", "server", "name", "Amtsbote", "version",
                              AMTSBOTE_VERSION));
}

/* method, pattern, handler, auth, flags */
const struct http_route federation_routes[] = {
    {"GET", "/_matrix/key/v2/server", key_server, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/federation/v1/version", fed_version, HTTP_AUTH_NONE, 0},
    {"GET", "/_matrix/federation/v1/openid/userinfo", federation_openid_userinfo, HTTP_AUTH_NONE,
     0},
    {0},
};
