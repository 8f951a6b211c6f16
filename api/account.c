/* account.c - the signed-in user's account (Client-Server API s. "Account registration and
 * management": whoami, password change, deactivation). Password change and deactivation
 * require user-interactive auth with the account's password. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/uia.h"
#include "server/useradmin.h"

#define MAX_PASSWORD 512

static const struct uia_flow password_flow = {1, {"m.login.password"}};

void api_whoami(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    json_t *res = json_pack("{s:s,s:b}", "user_id", u->user_id, "is_guest", 0);
    if (u->device_id)
        json_object_set_new(res, "device_id", json_string(u->device_id));
    http_reply_json(req, 200, res);
}

void api_password(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    json_t *body = http_json(req);
    bool bad = false;
    char *reg_token = NULL;

    const char *password = api_opt_string(req, body, "new_password", &bad);
    bool logout_devices = api_opt_bool(req, body, "logout_devices", true, &bad);
    if (bad)
        return;
    if (!http_config(req)->password_enabled) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Password changes are disabled");
        return;
    }
    if (!password) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'new_password'");
        return;
    }
    if (strlen(password) > MAX_PASSWORD) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Password longer than %d bytes",
                         MAX_PASSWORD);
        return;
    }
    if (uia_run(req, &password_flow, 1, u->user_id, &reg_token) != 1)
        return;
    free(reg_token);
    if (account_set_password(u, password, logout_devices) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, NULL);
}

void api_deactivate(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    json_t *body = http_json(req);
    bool bad = false;
    char *reg_token = NULL;

    bool erase = api_opt_bool(req, body, "erase", false, &bad);
    api_opt_string(req, body, "id_server", &bad);
    if (bad)
        return;
    if (uia_run(req, &password_flow, 1, u->user_id, &reg_token) != 1)
        return;
    free(reg_token);
    if (useradmin_deactivate(u->user_id, erase) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "no-support"));
}

/* --- third-party identifiers ------------------------------------------------------------
 * Amtsbote binds no e-mail addresses or phone numbers to accounts (agency accounts come from
 * the admin or the directory, and no identity server is involved), and /capabilities says so
 * with m.3pid_changes disabled. The list is therefore always empty, adding one is refused
 * with M_THREEPID_DENIED, and removing one finds nothing to unbind. */

void api_threepids(struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:[]}", "threepids"));
}

void api_threepid_denied(struct http_req *req)
{
    http_reply_error(req, 403, "M_THREEPID_DENIED",
                     "Third-party identifiers (e-mail, phone) are not supported on this server");
}

void api_threepid_remove(struct http_req *req)
{
    json_t *body = http_json(req);
    if (!json_is_string(json_object_get(body, "medium")) ||
        !json_is_string(json_object_get(body, "address"))) {
        http_reply_error(req, 400, "M_BAD_JSON", "'medium' and 'address' are required");
        return;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "no-support"));
}

/* GET /admin/whois/{userId} (Client-Server API "Server Administration"): server admins may
 * look up anyone, users themselves. Users of other servers are not known here. */
void api_whois(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *target = http_param(req, 0);
    if (!u->is_admin && strcmp(target, u->user_id) != 0) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Only server admins can look up other users");
        return;
    }
    json_t *out = account_whois(target);
    if (out)
        http_reply_json(req, 200, out);
    else
        http_reply_internal(req);
}
