/* discovery.c - what a client asks before anything else: /versions,
 * /.well-known/matrix/{client,server}, /capabilities (Client-Server API s. "Server Discovery",
 * "Capabilities negotiation").
 *
 * /versions advertises only what works: the client-server features of v1.1 to v1.11 are all
 * here (spaces, threads, relations with recursion, timestamp lookup, asynchronous and
 * authenticated media, cross-signing without UIA for the first upload); the optional ones
 * (refresh tokens, login tokens, 3PIDs, URL previews) are declared absent through
 * /capabilities or answered as the spec allows. Clients switch to authenticated media only
 * when they see v1.11, which the frozen legacy media endpoints need. */
#include <string.h>

#include "api/api.h"
#include "server/roomver.h"

void api_versions(struct http_req *req)
{
    /* spec versions whose endpoints this server implements */
    static const char *const versions[] = {"r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4",  "v1.5",
                                           "v1.6",   "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"};
    json_t *v = json_array();
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        json_array_append_new(v, json_string(versions[i]));
    /* unstable features that work: dehydrated devices (MSC3814), native sliding sync
     * (MSC4186, api/slidingsync.c) */
    http_reply_json(
        req, 200,
        json_pack("{s:o,s:{s:b,s:b}}", "versions", v, "unstable_features", "org.matrix.msc3814", 1,
                  "org.matrix.simplified_msc3575", 1));
}

/* Only what the operator configured: a guessed https://<server_name>/ sends clients that
 * reached the server some other way (plain http on a test machine) to an address that does
 * not answer. Without public_baseurl, 404 (as Synapse). */
void api_wellknown_client(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    if (!cfg->public_baseurl) {
        http_reply_error(req, 404, "M_NOT_FOUND", "No .well-known/matrix/client configured");
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:{s:s}}", "m.homeserver", "base_url", cfg->public_baseurl));
}

/* host[:port] of public_baseurl, with 443 when the URL names no port; server_name:443
 * without public_baseurl (federation through the reverse proxy on the usual port). */
static char *delegated_server(struct http_req *req, const struct config *cfg)
{
    const char *baseurl = cfg->public_baseurl ? cfg->public_baseurl : cfg->server_name;
    const char *p = strstr(baseurl, "://");
    p = p ? p + 3 : baseurl;
    size_t n = strcspn(p, "/");
    const char *host_end = p[0] == '[' ? memchr(p, ']', n) : p;
    if (!host_end)
        host_end = p;
    if (memchr(host_end, ':', n - (size_t)(host_end - p)))
        return http_printf(req, "%.*s", (int)n, p);
    return http_printf(req, "%.*s:443", (int)n, p);
}

void api_wellknown_server(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    if (!cfg->serve_server_wellknown) {
        http_reply_error(req, 404, "M_NOT_FOUND", "No .well-known/matrix/server configured");
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s}", "m.server", delegated_server(req, cfg)));
}

void api_capabilities(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    json_t *caps =
        json_pack("{s:{s:b},s:{s:b},s:{s:b},s:{s:b},s:{s:b}}", "m.change_password", "enabled",
                  cfg->password_enabled, "m.set_displayname", "enabled", 1, "m.set_avatar_url",
                  "enabled", 1, "m.3pid_changes", "enabled", 0, "m.get_login_token", "enabled", 0);
    json_t *avail = json_object();
    size_t n;
    const struct room_version *all = roomver_all(&n);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(avail, all[i].id, json_string(all[i].stable ? "stable" : "unstable"));
    json_object_set_new(
        caps, "m.room_versions",
        json_pack("{s:s,s:o}", "default", cfg->default_room_version, "available", avail));
    /* v1.18: admins may suspend and lock (api/admin_users.c); omitted for everyone else */
    if (http_user(req)->is_admin)
        json_object_set_new(caps, "m.account_moderation",
                            json_pack("{s:b,s:b}", "suspend", 1, "lock", 1));
    http_reply_json(req, 200, json_pack("{s:o}", "capabilities", caps));
}
