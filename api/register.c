/* register.c - account registration (Client-Server API s. "Account registration and
 * management": POST /register, GET /register/available, and the registration token validity
 * endpoint).
 *
 * Registration is open only with enable_registration; with registration_requires_token the
 * only flow is m.login.registration_token, otherwise m.login.dummy. The username is checked
 * (grammar, availability) before user-interactive auth starts, so a client learns of
 * M_USER_IN_USE / M_INVALID_USERNAME on its first request. Guest accounts are refused. Every
 * attempt is rate limited per client address (rc_registration). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/ids.h"
#include "server/ratelimit.h"
#include "server/uia.h"
#include "server/regtoken.h"

#define MAX_PASSWORD 512
#define MAX_DEVICE_ID 255
#define MAX_DEVICE_NAME 255

/* Lower-case copy of the requested username in the request arena. */
static char *fold_username(struct http_req *req, const char *u)
{
    char *out = http_strdup(req, u);
    for (char *p = out; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

/* Validate a requested localpart and build the user ID; answers and returns NULL on error. */
static char *check_username(struct http_req *req, const char *localpart)
{
    const struct config *cfg = http_config(req);
    if (!ids_localpart_valid(localpart, strlen(localpart))) {
        http_reply_error(req, 400, "M_INVALID_USERNAME",
                         "User ID may contain only a-z, 0-9, '.', '_', '=', '-', '/' and '+'");
        return NULL;
    }
    char *uid = http_printf(req, "@%s:%s", localpart, cfg->server_name);
    if (strlen(uid) > IDS_USER_ID_MAX) {
        http_reply_error(req, 400, "M_INVALID_USERNAME", "User ID is longer than %d bytes",
                         IDS_USER_ID_MAX);
        return NULL;
    }
    int avail = account_available(uid);
    if (avail < 0) {
        http_reply_internal(req);
        return NULL;
    }
    if (!avail) {
        http_reply_error(req, 400, "M_USER_IN_USE", "User ID already taken");
        return NULL;
    }
    return uid;
}

static bool registration_open(struct http_req *req)
{
    if (!http_config(req)->enable_registration) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Registration has been disabled");
        return false;
    }
    return true;
}

void api_register(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    json_t *body = http_json(req);
    const char *kind = http_query(req, "kind");
    bool bad = false;
    int64_t retry;
    char *reg_token = NULL, *uid = NULL;

    if (kind && strcmp(kind, "user") != 0) {
        if (strcmp(kind, "guest") == 0)
            http_reply_error(req, 403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
        else
            http_reply_error(req, 400, "M_INVALID_PARAM", "Unknown kind of account");
        return;
    }
    if (!registration_open(req))
        return;
    const char *username = api_opt_string(req, body, "username", &bad);
    const char *password = api_opt_string(req, body, "password", &bad);
    const char *device_id = api_opt_string(req, body, "device_id", &bad);
    const char *device_name = api_opt_string(req, body, "initial_device_display_name", &bad);
    bool inhibit_login = api_opt_bool(req, body, "inhibit_login", false, &bad);
    if (bad)
        return;
    if (password && strlen(password) > MAX_PASSWORD) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Password longer than %d bytes",
                         MAX_PASSWORD);
        return;
    }
    if ((device_id && (strlen(device_id) == 0 || strlen(device_id) > MAX_DEVICE_ID)) ||
        (device_name && strlen(device_name) > MAX_DEVICE_NAME)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "device_id or device name too long");
        return;
    }
    if (!ratelimit_take("register", http_client_ip(req), &cfg->rc_registration, false, &retry)) {
        api_reply_limited(req, retry);
        return;
    }
    if (username && !(uid = check_username(req, fold_username(req, username))))
        return;

    static const struct uia_flow dummy = {1, {"m.login.dummy"}};
    static const struct uia_flow token = {1, {"m.login.registration_token"}};
    if (uia_run(req, cfg->registration_requires_token ? &token : &dummy, 1, NULL, &reg_token) !=
        1)
        return;

    if (!password) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing params: password");
        goto out;
    }
    if (!uid) {
        char lp[13];
        ids_random_alnum(lp, 12);
        if (!(uid = check_username(req, fold_username(req, lp))))
            goto out;
    }
    if (!ratelimit_take("register", http_client_ip(req), &cfg->rc_registration, true, &retry)) {
        api_reply_limited(req, retry);
        goto out;
    }
    struct account_login l;
    const char *localpart = uid + 1;
    char *displayname = http_printf(req, "%.*s", (int)strcspn(localpart, ":"), localpart);
    enum account_rc rc = account_register(uid, password, false, displayname, reg_token,
                                          !inhibit_login, device_id, device_name, &l);
    if (rc == ACCOUNT_EXISTS) {
        http_reply_error(req, 400, "M_USER_IN_USE", "User ID already taken");
        goto out;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        goto out;
    }
    json_t *res = json_pack("{s:s,s:s}", "user_id", l.user_id, "home_server", cfg->server_name);
    if (!inhibit_login) {
        json_object_set_new(res, "access_token", json_string(l.access_token));
        json_object_set_new(res, "device_id", json_string(l.device_id));
    }
    account_login_clear(&l);
    http_reply_json(req, 200, res);
out:
    free(reg_token);
}

void api_register_available(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    const char *username = http_query(req, "username");
    int64_t retry;

    if (!registration_open(req))
        return;
    if (!username) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'username' query parameter");
        return;
    }
    if (!ratelimit_take("register_available", http_client_ip(req), &cfg->rc_registration, true,
                        &retry)) {
        api_reply_limited(req, retry);
        return;
    }
    if (check_username(req, fold_username(req, username)))
        http_reply_json(req, 200, json_pack("{s:b}", "available", 1));
}

void api_regtoken_validity(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    const char *token = http_query(req, "token");
    int64_t retry;

    if (!registration_open(req))
        return;
    if (!token) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'token' query parameter");
        return;
    }
    if (!ratelimit_take("regtoken_validity", http_client_ip(req), &cfg->rc_registration, true,
                        &retry)) {
        api_reply_limited(req, retry);
        return;
    }
    int valid = uia_token_syntax_ok(token) ? regtoken_valid(token) : 0;
    if (valid < 0) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:b}", "valid", valid));
}
