/* login.c - password login and logout (Client-Server API s. "Login", "Logout").
 *
 * Login is rate limited per client address (rc_login.address), per account
 * (rc_login.account), and failed attempts per account (rc_login.failed_attempts), as Synapse
 * does. An unknown user and a wrong password give the same answer in the same time. Refresh
 * tokens are not issued: a client asking for one gets a non-expiring access token, as the
 * spec allows. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/ratelimit.h"

#define MAX_PASSWORD 512
#define MAX_DEVICE_ID 255
#define MAX_DEVICE_NAME 255

void api_login_flows(struct http_req *req)
{
    json_t *flows = json_array();
    if (http_config(req)->password_enabled)
        json_array_append_new(flows, json_pack("{s:s}", "type", "m.login.password"));
    http_reply_json(req, 200, json_pack("{s:o}", "flows", flows));
}

/* The user the client names, from identifier {type: m.id.user} or the legacy "user" field.
 * Answers and returns NULL when the request names none (or a third-party identifier). */
static const char *login_user(struct http_req *req, json_t *body)
{
    json_t *ident = json_object_get(body, "identifier");
    bool bad = false;
    if (ident) {
        if (!json_is_object(ident)) {
            http_reply_error(req, 400, "M_BAD_JSON", "'identifier' must be an object");
            return NULL;
        }
        const char *type = api_opt_string(req, ident, "type", &bad);
        if (bad)
            return NULL;
        if (!type || strcmp(type, "m.id.user") != 0) {
            http_reply_error(req, 400, "M_UNKNOWN",
                             "Only m.id.user identifiers are supported (no third-party IDs)");
            return NULL;
        }
        const char *user = api_opt_string(req, ident, "user", &bad);
        if (bad)
            return NULL;
        if (!user)
            http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'identifier.user'");
        return user;
    }
    const char *user = api_opt_string(req, body, "user", &bad);
    if (bad)
        return NULL;
    if (!user)
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'identifier'");
    return user;
}

void api_login(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    json_t *body = http_json(req);
    bool bad = false;
    int64_t retry;

    const char *type = api_opt_string(req, body, "type", &bad);
    if (bad)
        return;
    if (!type || strcmp(type, "m.login.password") != 0 || !cfg->password_enabled) {
        http_reply_error(req, 400, "M_UNKNOWN", "Unknown login type");
        return;
    }
    const char *password = api_opt_string(req, body, "password", &bad);
    const char *device_id = api_opt_string(req, body, "device_id", &bad);
    const char *device_name = api_opt_string(req, body, "initial_device_display_name", &bad);
    api_opt_bool(req, body, "refresh_token", false, &bad);
    if (bad)
        return;
    const char *given = login_user(req, body);
    if (!given)
        return;
    if (!password) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'password'");
        return;
    }
    if (strlen(password) > MAX_PASSWORD || strlen(given) > 255 ||
        (device_id && (!*device_id || strlen(device_id) > MAX_DEVICE_ID)) ||
        (device_name && strlen(device_name) > MAX_DEVICE_NAME)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "A field is too long");
        return;
    }
    if (!ratelimit_take("login_addr", http_client_ip(req), &cfg->rc_login_address, true, &retry)) {
        api_reply_limited(req, retry);
        return;
    }

    char *user_id = NULL;
    enum account_rc rc = account_resolve_user(given, cfg->server_name, &user_id);
    if (rc == ACCOUNT_ERR) {
        http_reply_internal(req);
        return;
    }
    const char *who = user_id ? user_id : given;
    if (!ratelimit_take("login_account", who, &cfg->rc_login_account, true, &retry) ||
        !ratelimit_take("login_failed", who, &cfg->rc_login_failed, false, &retry)) {
        free(user_id);
        api_reply_limited(req, retry);
        return;
    }

    struct account_login l = {0};
    if (user_id)
        rc = account_login_password(user_id, password, device_id, device_name, &l);
    else /* unknown user: same cost and answer as a wrong password */
        rc = account_verify_password("", password) == ACCOUNT_ERR ? ACCOUNT_ERR
                                                                   : ACCOUNT_FORBIDDEN;
    switch (rc) {
    case ACCOUNT_OK:
    {
        json_t *out = json_pack("{s:s,s:s,s:s,s:s}", "user_id", l.user_id, "access_token",
                                l.access_token, "device_id", l.device_id, "home_server",
                                cfg->server_name);
        if (cfg->public_baseurl) /* clients switch to it: only what the operator set */
            json_object_set_new(out, "well_known",
                                json_pack("{s:{s:s}}", "m.homeserver", "base_url",
                                          cfg->public_baseurl));
        http_reply_json(req, 200, out);
        break;
    }
    case ACCOUNT_FORBIDDEN:
        ratelimit_take("login_failed", who, &cfg->rc_login_failed, true, &retry);
        http_reply_error(req, 403, "M_FORBIDDEN", "Invalid username or password");
        break;
    case ACCOUNT_DEACTIVATED:
        http_reply_error(req, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
        break;
    case ACCOUNT_LOCKED: /* spec "Account locking": no new token until unlocked */
        http_reply_error_extra(req, 401, "M_USER_LOCKED", json_pack("{s:b}", "soft_logout", 1),
                               "This account has been locked");
        break;
    default:
        http_reply_internal(req);
    }
    account_login_clear(&l);
    free(user_id);
}

void api_logout(struct http_req *req)
{
    if (account_logout(http_user(req)) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, NULL);
}

void api_logout_all(struct http_req *req)
{
    if (account_logout_all(http_user(req)->user_id) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, NULL);
}
