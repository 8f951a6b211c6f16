/* admin.c - the parts of Synapse's admin API that Amtsbote implements, with Synapse's paths,
 * fields and answers so that admins' tools keep working:
 *   - shared-secret registration: GET/POST /_synapse/admin/v1/register (nonce + HMAC-SHA1),
 *     what `amtsbote register-user` and Synapse's register_new_matrix_user speak;
 *   - registration tokens: /_synapse/admin/v1/registration_tokens (list, new, get, update,
 *     delete), for server admins only;
 *   - GET /_synapse/admin/v1/server_version, which synapse-admin asks at login (no token). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/ratelimit.h"
#include "server/regtoken.h"
#include "server/uia.h"
#include "server/version.h"

#define MAX_PASSWORD 512
#define MAX_DISPLAYNAME 256

/* GET /_synapse/admin/v1/register: unauthenticated, so limited per client address
 * (rc_registration's rate, a bucket of its own) and in the nonces outstanding. */
void api_admin_register_nonce(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    char nonce[33];
    int64_t retry;
    if (!cfg->registration_shared_secret) {
        http_reply_error(req, 400, "M_UNKNOWN", "Shared secret registration is not enabled");
        return;
    }
    if (!ratelimit_take("admin_nonce", http_client_ip(req), &cfg->rc_registration, true,
                        &retry)) {
        api_reply_limited(req, retry);
        return;
    }
    int rc = regtoken_nonce_new(nonce);
    if (rc < 0) {
        http_reply_internal(req);
        return;
    }
    if (rc == 0) {
        api_reply_limited(req, REGTOKEN_NONCE_TTL_MS);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "nonce", nonce));
}

void api_admin_register(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    json_t *body = http_json(req);
    bool bad = false;

    if (!cfg->registration_shared_secret) {
        http_reply_error(req, 400, "M_UNKNOWN", "Shared secret registration is not enabled");
        return;
    }
    const char *nonce = api_opt_string(req, body, "nonce", &bad);
    const char *username = api_opt_string(req, body, "username", &bad);
    const char *password = api_opt_string(req, body, "password", &bad);
    const char *displayname = api_opt_string(req, body, "displayname", &bad);
    const char *user_type = api_opt_string(req, body, "user_type", &bad);
    const char *mac = api_opt_string(req, body, "mac", &bad);
    bool admin = api_opt_bool(req, body, "admin", false, &bad);
    if (bad)
        return;
    if (!nonce || !username || !password || !mac) {
        http_reply_error(req, 400, "M_MISSING_PARAM",
                         "nonce, username, password and mac are required");
        return;
    }
    if (strlen(password) > MAX_PASSWORD ||
        (displayname && strlen(displayname) > MAX_DISPLAYNAME)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Password or displayname too long");
        return;
    }
    int fresh = regtoken_nonce_take(nonce);
    if (fresh < 0) {
        http_reply_internal(req);
        return;
    }
    if (!fresh) {
        http_reply_error(req, 400, "M_UNKNOWN", "unrecognised nonce");
        return;
    }
    if (!regtoken_mac_ok(cfg->registration_shared_secret, nonce, username, password, admin,
                         user_type, mac)) {
        http_reply_error(req, 403, "M_FORBIDDEN", "HMAC incorrect");
        return;
    }
    /* the MAC covers the name as given; the account is lower-case, as Synapse registers it */
    char *lower = http_printf(req, "%s", username);
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    username = lower;
    if (!ids_localpart_valid(username, strlen(username))) {
        http_reply_error(req, 400, "M_INVALID_USERNAME",
                         "User ID may contain only a-z, 0-9, '.', '_', '=', '-', '/' and '+'");
        return;
    }
    char *uid = http_printf(req, "@%s:%s", username, cfg->server_name);
    if (strlen(uid) > IDS_USER_ID_MAX) {
        http_reply_error(req, 400, "M_INVALID_USERNAME", "User ID is too long");
        return;
    }
    struct account_login l;
    enum account_rc rc = account_register(uid, password, admin, displayname ? displayname : username,
                                          NULL, true, NULL, NULL, &l);
    if (rc == ACCOUNT_EXISTS) {
        http_reply_error(req, 400, "M_USER_IN_USE", "User ID already taken");
        return;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:s,s:s}", "access_token", l.access_token, "user_id",
                              l.user_id, "home_server", cfg->server_name, "device_id",
                              l.device_id));
    account_login_clear(&l);
}

/* --- registration tokens --------------------------------------------------------------- */

/* Read an optional non-negative integer or null field. Returns 0 and sets *present and *out (-1
 * for null); answers 400 M_INVALID_PARAM and returns -1 when malformed. */
static int opt_count(struct http_req *req, json_t *body, const char *key, int *present,
                     int64_t *out, int64_t min)
{
    json_t *v = json_object_get(body, key);
    *present = v != NULL;
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "%s must be an integer >= %lld or null",
                         key, (long long)min);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Answer a token lookup: rc 1 with the token, 0 not found, < 0 internal error. */
static void reply_token(struct http_req *req, int rc, json_t *tok)
{
    if (rc == 0)
        http_reply_error(req, 404, "M_NOT_FOUND", "No such registration token");
    else if (rc < 0)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, tok);
}

void api_admin_regtokens_list(struct http_req *req)
{
    if (!api_admin_only(req))
        return;
    const char *valid = http_query(req, "valid");
    int which = -1;
    if (valid) {
        if (strcmp(valid, "true") == 0)
            which = 1;
        else if (strcmp(valid, "false") == 0)
            which = 0;
        else {
            http_reply_error(req, 400, "M_INVALID_PARAM", "valid must be true or false");
            return;
        }
    }
    json_t *list = regtoken_list(which);
    if (!list) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "registration_tokens", list));
}

void api_admin_regtokens_new(struct http_req *req)
{
    json_t *body = http_json(req), *tok = NULL;
    bool bad = false;
    int has_uses, has_expiry, has_length;
    int64_t uses, expiry, length;
    char gen[65];

    if (!api_admin_only(req))
        return;
    const char *token = api_opt_string(req, body, "token", &bad);
    if (bad || opt_count(req, body, "uses_allowed", &has_uses, &uses, 0) < 0 ||
        opt_count(req, body, "expiry_time", &has_expiry, &expiry, clock_now_ms()) < 0 ||
        opt_count(req, body, "length", &has_length, &length, 1) < 0)
        return;
    if (token && !uia_token_syntax_ok(token)) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "token must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
        return;
    }
    if (!token) {
        if (length < 0)
            length = 16;
        if (length > 64) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "length must be 1 to 64");
            return;
        }
        ids_random_alnum(gen, (size_t)length);
        token = gen;
    }
    int rc = regtoken_create(token, uses, expiry, &tok);
    if (rc == 1)
        http_reply_error(req, 400, "M_INVALID_PARAM", "Token already exists");
    else if (rc < 0)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, tok);
}

void api_admin_regtoken_get(struct http_req *req)
{
    json_t *tok = NULL;
    if (!api_admin_only(req))
        return;
    int rc = regtoken_get(http_param(req, 0), &tok);
    reply_token(req, rc, tok);
}

void api_admin_regtoken_put(struct http_req *req)
{
    json_t *body = http_json(req), *tok = NULL;
    int has_uses, has_expiry;
    int64_t uses, expiry;

    if (!api_admin_only(req))
        return;
    if (opt_count(req, body, "uses_allowed", &has_uses, &uses, 0) < 0 ||
        opt_count(req, body, "expiry_time", &has_expiry, &expiry, clock_now_ms()) < 0)
        return;
    int rc = regtoken_update(http_param(req, 0), has_uses, uses, has_expiry, expiry, &tok);
    reply_token(req, rc, tok);
}

void api_admin_regtoken_delete(struct http_req *req)
{
    if (!api_admin_only(req))
        return;
    reply_token(req, regtoken_delete(http_param(req, 0)), NULL);
}

/* GET /_synapse/admin/v1/server_version: Synapse answers it without a token. */
void api_admin_server_version(struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:s}", "server_version", "Amtsbote " AMTSBOTE_VERSION));
}
