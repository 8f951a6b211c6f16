/* devices.c - device management (Client-Server API s. "Device management"). Deleting
 * devices requires user-interactive auth with the account's password; deleting a device
 * also invalidates its access tokens. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/uia.h"

#define MAX_DEVICE_NAME 255
#define MAX_DELETE 1000

static const struct uia_flow password_flow = {1, {"m.login.password"}};

void api_devices(struct http_req *req)
{
    json_t *list = account_devices(http_user(req)->user_id);
    if (!list) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "devices", list));
}

void api_device_get(struct http_req *req)
{
    json_t *dev = NULL;
    enum account_rc rc = account_device(http_user(req)->user_id, http_param(req, 0), &dev);
    if (rc == ACCOUNT_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Unknown device");
    else if (rc != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, dev);
}

void api_device_put(struct http_req *req)
{
    bool bad = false;
    json_t *body = http_json(req);
    const char *name = api_opt_string(req, body, "display_name", &bad);
    if (bad)
        return;
    if (name && strlen(name) > MAX_DEVICE_NAME) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Device name longer than %d bytes",
                         MAX_DEVICE_NAME);
        return;
    }
    enum account_rc rc;
    json_t *dev = NULL;
    if (json_object_get(body, "display_name"))
        rc = account_device_rename(http_user(req)->user_id, http_param(req, 0), name);
    else
        rc = account_device(http_user(req)->user_id, http_param(req, 0), &dev);
    json_decref(dev);
    if (rc == ACCOUNT_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Unknown device");
    else if (rc != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, NULL);
}

/* UIA, then delete the devices listed in `ids` (borrowed). */
static void delete_with_uia(struct http_req *req, json_t *ids)
{
    const struct http_user *u = http_user(req);
    char *reg_token = NULL;
    if (uia_run(req, &password_flow, 1, u->user_id, &reg_token) != 1)
        return;
    free(reg_token);
    if (account_devices_delete(u->user_id, ids) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, NULL);
}

void api_device_delete(struct http_req *req)
{
    json_t *dev = NULL;
    enum account_rc rc = account_device(http_user(req)->user_id, http_param(req, 0), &dev);
    json_decref(dev);
    if (rc == ACCOUNT_NOT_FOUND) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Unknown device");
        return;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    json_t *ids = json_pack("[s]", http_param(req, 0));
    delete_with_uia(req, ids);
    json_decref(ids);
}

void api_delete_devices(struct http_req *req)
{
    json_t *ids = json_object_get(http_json(req), "devices");
    size_t i;
    json_t *v;
    if (!ids) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'devices'");
        return;
    }
    if (!json_is_array(ids) || json_array_size(ids) > MAX_DELETE) {
        http_reply_error(req, 400, "M_BAD_JSON", "'devices' must be an array of device IDs");
        return;
    }
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v)) {
            http_reply_error(req, 400, "M_BAD_JSON", "'devices' must be an array of strings");
            return;
        }
    }
    delete_with_uia(req, ids);
}
