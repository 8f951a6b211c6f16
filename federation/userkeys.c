/* userkeys.c - the Server-Server API's end-to-end encryption endpoints (GET
 * /_matrix/federation/v1/user/devices/{userId}, POST /user/keys/query, POST /user/keys/claim),
 * X-Matrix authenticated by their route rows; the rules are in server/e2e_fed.c. */
#include "federation/federation.h"
#include "server/e2e.h"

static void reply(struct http_req *req, json_t *out, const struct e2e_error *err)
{
    if (out)
        http_reply_json(req, 200, out);
    else
        http_reply_failure(req, err->status, err->errcode, err->why);
}

void federation_user_devices(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_fed_user_devices(http_param(req, 0), &err), &err);
}

void federation_user_keys_query(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_fed_query(http_origin(req), http_json(req), &err), &err);
}

void federation_user_keys_claim(struct http_req *req)
{
    struct e2e_error err = {0};
    reply(req, e2e_fed_claim(http_origin(req), http_json(req), &err), &err);
}
