/* auth.c - inbound X-Matrix authentication (Server-Server API "Request Authentication") for
 * every route whose table row says HTTP_AUTH_SERVER, and the server ACL answer for
 * room-scoped endpoints ("Server Access Control Lists").
 *
 * Order of the checks, each answering as the spec says:
 *   1. an Authorization header in the X-Matrix scheme that parses: else 401 M_UNAUTHORIZED;
 *   2. destination, when present, is this server's name: else 401 M_UNAUTHORIZED;
 *   3. the origin is on federation_domain_whitelist when one is configured: else 403
 *      M_FORBIDDEN (checked before any key is fetched, so unlisted origins cost nothing);
 *   4. the key is a current verify key of the origin, valid now (fetched on a miss; keys only
 *      in old_verify_keys never sign requests): else 401 M_UNAUTHORIZED;
 *   5. the signature over method, target as received (path and query), origin, destination
 *      and the parsed body verifies: else 401 M_UNAUTHORIZED.
 *
 * Replays. X-Matrix has no nonce and no timestamp, and ed25519 signatures are deterministic:
 * a server retrying the same request (Synapse resends a /send transaction with the same
 * txnId and body) produces byte-identical headers, so a cache of recently seen (origin, sig)
 * pairs would refuse legitimate retries while adding nothing the endpoints' own idempotency
 * (transaction IDs, event IDs) does not already give. What bounds a captured request instead:
 * TLS keeps it from being captured on the way; the destination parameter stops it from being
 * replayed against another server (step 2); and a request is accepted only while its key is
 * current (step 4), so once the origin rotates its key, or its valid_until_ts passes without
 * renewal, every request it ever signed with that key is refused. Like Synapse, Amtsbote
 * keeps no replay cache. */
#include <string.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/fedacl.h"
#include "server/keyring.h"
#include "server/log.h"
#include "server/xmatrix.h"

static bool unauthorized(struct http_req *req, const char *why)
{
    http_reply_error(req, 401, "M_UNAUTHORIZED", "%s", why);
    return false;
}

bool federation_authenticate(struct http_req *req)
{
    struct xmatrix_auth a;
    uint8_t pk[32];
    const char *hdr = http_header(req, "Authorization");
    const char *me = http_config(req)->server_name;

    if (!hdr || xmatrix_parse(hdr, strlen(hdr), &a) < 0)
        return unauthorized(req, "Missing or malformed X-Matrix Authorization header");
    if (a.destination[0] && strcmp(a.destination, me) != 0)
        return unauthorized(req, "The request is for another server (destination)");
    if (!federation_domain_allowed(a.origin)) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Federation denied with %s", a.origin);
        return false;
    }
    int rc = keyring_lookup_request(a.origin, a.key, pk);
    if (rc < 0) {
        http_reply_internal(req);
        return false;
    }
    if (rc == 0)
        return unauthorized(req, "The signing key is unknown or not valid now");
    json_t *content = NULL;
    size_t len = 0;
    const char *body = http_body(req, &len);
    if (len) {
        content = http_json(req);
        if (content) {
            json_incref(content);
        } else if (!(content = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL))) {
            http_reply_error(req, 400, "M_NOT_JSON", "Content not JSON");
            return false;
        }
    }
    const char *target = http_target(req);
    rc = target ? xmatrix_verify(&a, http_method(req), target, me, content, pk) : -1;
    json_decref(content);
    if (rc < 0) {
        log_info("federation: bad X-Matrix signature from %s on %s", a.origin, http_path(req));
        return unauthorized(req, "Invalid X-Matrix signature");
    }
    http_set_origin(req, a.origin);
    return true;
}

bool federation_acl_allows(struct http_req *req, const json_t *acl)
{
    const char *origin = http_origin(req);
    if (origin && fedacl_allowed(acl, origin))
        return true;
    http_reply_error(req, 403, "M_FORBIDDEN", "Server is banned from this room");
    return false;
}
