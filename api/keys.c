/* keys.c - the end-to-end encryption endpoints (Client-Server API "End-to-End Encryption":
 * /keys/upload, /keys/query, /keys/claim, /keys/changes, /keys/device_signing/upload,
 * /keys/signatures/upload; "Send-to-Device messaging": /sendToDevice). The handlers check
 * the path and the request's shape and call server/e2e.h, which owns the rules. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/e2e.h"
#include "server/uia.h"

#define MAX_TXN_ID 255
#define MAX_TYPE 255

static const struct uia_flow password_flow = {1, {"m.login.password"}};

static void reply(struct http_req *req, json_t *out, const struct e2e_error *err)
{
    if (out)
        http_reply_json(req, 200, out);
    else if (err->status == 500 || !err->errcode)
        http_reply_internal(req);
    else
        http_reply_error(req, err->status, err->errcode, "%s", err->why);
}

void api_keys_upload(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    struct e2e_error err = {0};
    reply(req, e2e_upload(u->user_id, u->device_id, http_json(req), &err), &err);
}

void api_keys_query(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_query(http_user(req)->user_id, http_json(req), &err), &err);
}

void api_keys_claim(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_claim(http_json(req), &err), &err);
}

void api_keys_changes(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(
        req,
        e2e_changes(http_user(req)->user_id, http_query(req, "from"), http_query(req, "to"), &err),
        &err);
}

void api_send_to_device(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *type = http_param(req, 0), *txn = http_param(req, 1);
    if (!*type || strlen(type) > MAX_TYPE || !*txn || strlen(txn) > MAX_TXN_ID) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Event type or transaction ID invalid");
        return;
    }
    struct e2e_error err = {0};
    if (e2e_send_to_device(u->user_id, u->device_id, type, txn, http_json(req), &err) < 0)
        reply(req, NULL, &err);
    else
        http_reply_json(req, 200, NULL);
}

/* The first upload of cross-signing keys needs no user-interactive auth (spec v1.11);
 * replacing keys does. */
void api_device_signing_upload(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    struct e2e_error err = {0};
    int need = e2e_cross_signing_needs_auth(u->user_id, http_json(req), &err);
    if (need < 0) {
        reply(req, NULL, &err);
        return;
    }
    if (need) {
        char *reg_token = NULL;
        if (uia_run(req, &password_flow, 1, u->user_id, &reg_token) != 1)
            return;
        free(reg_token);
    }
    if (e2e_cross_signing_upload(u->user_id, http_json(req), &err) < 0)
        reply(req, NULL, &err);
    else
        http_reply_json(req, 200, NULL);
}

void api_signatures_upload(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_signatures_upload(http_user(req)->user_id, http_json(req), &err), &err);
}

/* --- dehydrated devices (MSC3814) --------------------------------------------------------- */

void api_dehydrated_put(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_dehydrated_put(http_user(req)->user_id, http_json(req), &err), &err);
}

void api_dehydrated_get(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_dehydrated_get(http_user(req)->user_id, &err), &err);
}

void api_dehydrated_delete(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_dehydrated_delete(http_user(req)->user_id, &err), &err);
}

void api_dehydrated_events(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req,
          e2e_dehydrated_events(http_user(req)->user_id, http_param(req, 0), http_json(req), &err),
          &err);
}
