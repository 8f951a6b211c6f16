/* auth.c - inbound X-Matrix authentication (Server-Server API "Request Authentication") for
 * every route whose table row says HTTP_AUTH_SERVER, and the server ACL answer for
 * room-scoped endpoints ("Server Access Control Lists").
 *
 * Order of the checks, each answering as the spec says:
 *   1. at least one Authorization header in the X-Matrix scheme, every one of them parsing and
 *      naming the same origin (a server signing with several keys sends one header per key;
 *      each must be valid): else 401 M_UNAUTHORIZED;
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
#include <strings.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/fedacl.h"
#include "server/keyring.h"
#include "server/log.h"
#include "server/room.h"
#include "server/xmatrix.h"

#define AUTH_MAX_HEADERS 8 /* signatures by several keys: one header each */

static bool unauthorized(struct http_req *req, const char *why)
{
    http_reply_error(req, 401, "M_UNAUTHORIZED", "%s", why);
    return false;
}

/* Check one parsed header; the destination and allow-list checks are done. Returns 1 when
 * valid, 0 when not (answered), -1 when answered with an internal error. */
static int check_signature(struct http_req *req, const struct xmatrix_auth *a, json_t *content,
                           const char *target)
{
    uint8_t pk[32];
    int rc = keyring_lookup_request(a->origin, a->key, pk);
    if (rc < 0) {
        unauthorized(req, "The origin's signing keys could not be fetched");
        return 0;
    }
    if (rc == 0) {
        unauthorized(req, "The signing key is unknown or not valid now");
        return 0;
    }
    if (xmatrix_verify(a, http_method(req), target, http_config(req)->server_name, content, pk) <
        0) {
        log_info("federation: bad X-Matrix signature from %s on %s", a->origin, http_path(req));
        unauthorized(req, "Invalid X-Matrix signature");
        return 0;
    }
    return 1;
}

bool federation_authenticate(struct http_req *req)
{
    struct xmatrix_auth a[AUTH_MAX_HEADERS];
    const char *hdrs[AUTH_MAX_HEADERS];
    const char *me = http_config(req)->server_name;
    size_t n = 0, all = http_header_all(req, "Authorization", hdrs, AUTH_MAX_HEADERS);

    /* 1. every X-Matrix header parses (other schemes are not ours to judge), one origin */
    if (all > AUTH_MAX_HEADERS)
        return unauthorized(req, "Too many Authorization headers");
    for (size_t i = 0; i < all; i++) {
        if (strncasecmp(hdrs[i], "X-Matrix ", 9) != 0)
            continue;
        if (xmatrix_parse(hdrs[i], strlen(hdrs[i]), &a[n]) < 0)
            return unauthorized(req, "Malformed X-Matrix Authorization header");
        if (n && strcmp(a[n].origin, a[0].origin) != 0)
            return unauthorized(req, "X-Matrix headers name different origins");
        n++;
    }
    if (!n)
        return unauthorized(req, "Missing X-Matrix Authorization header");
    /* 2. the destination, when given, is this server */
    for (size_t i = 0; i < n; i++)
        if (a[i].destination[0] && strcmp(a[i].destination, me) != 0)
            return unauthorized(req, "The request is for another server (destination)");
    /* 3. the allow-list, before any key is fetched */
    if (!federation_domain_allowed(a[0].origin)) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Federation denied with %s", a[0].origin);
        return false;
    }
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
    /* 4, 5. each signature by a current key of the origin, over the request as received */
    const char *target = http_target(req);
    int ok = target ? 1 : -1;
    if (!target)
        http_reply_internal(req);
    for (size_t i = 0; i < n && ok == 1; i++)
        ok = check_signature(req, &a[i], content, target);
    json_decref(content);
    if (ok != 1)
        return false;
    http_set_origin(req, a[0].origin);
    /* a valid signed request from a server we are backing off from: it is probably up */
    federation_sender_wake(a[0].origin);
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

bool federation_room_acl_allows(struct http_req *req, const char *room_id)
{
    json_t *acl = room_server_acl(room_id);
    bool ok = federation_acl_allows(req, acl);
    json_decref(acl);
    return ok;
}
