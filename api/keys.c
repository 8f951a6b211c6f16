/* keys.c - the end-to-end encryption endpoints (Client-Server API "End-to-End Encryption":
 * /keys/upload, /keys/query, /keys/claim, /keys/changes, /keys/device_signing/upload,
 * /keys/signatures/upload; "Send-to-Device messaging": /sendToDevice). The handlers check
 * the path and the request's shape and call server/e2e.h, which owns the rules. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/e2e.h"
#include "server/ids.h"
#include "server/uia.h"

#define MAX_TXN_ID 255
#define MAX_TYPE 255

static const struct uia_flow password_flow = {1, {"m.login.password"}};

static void reply(struct http_req *req, json_t *out, const struct e2e_error *err)
{
    if (out)
        http_reply_json(req, 200, out);
    else
        http_reply_failure(req, err->status, err->errcode, err->why);
}

void api_keys_upload(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    struct e2e_error err = {0};
    reply(req, e2e_upload(u->user_id, u->device_id, http_json(req), &err), &err);
}

/* A query or claim naming other servers' users waits on them: on a thread of its own. */
struct keys_job {
    bool claim;
    char *user_id;
    json_t *body, *out;
    struct e2e_error err;
};

static void keys_job_free(void *p)
{
    struct keys_job *j = p;
    free(j->user_id);
    json_decref(j->body);
    json_decref(j->out);
    free(j);
}

static void keys_work(void *p)
{
    struct keys_job *j = p;
    j->out = j->claim ? e2e_claim(j->body, &j->err) : e2e_query(j->user_id, j->body, &j->err);
}

static void keys_finish(struct http_req *req, void *p)
{
    struct keys_job *j = p;
    reply(req, j->out, &j->err);
    j->out = NULL; /* the reply took it */
}

/* Whether the object `users` (user IDs as keys) names a user of another server. */
static bool names_remote(const json_t *users)
{
    const char *u;
    json_t *v;
    json_object_foreach((json_t *)users, u, v)
    {
        if (!ids_is_local(u))
            return true;
    }
    return false;
}

static void keys_run(struct http_req *req, bool claim, const char *field)
{
    json_t *body = http_json(req);
    if (!names_remote(json_object_get(body, field))) {
        struct e2e_error err = {0};
        reply(req,
              claim ? e2e_claim(body, &err) : e2e_query(http_user(req)->user_id, body, &err),
              &err);
        return;
    }
    struct keys_job *j = calloc(1, sizeof *j);
    if (j) {
        j->claim = claim;
        j->user_id = strdup(http_user(req)->user_id);
        j->body = json_deep_copy(body);
    }
    if (!j || !j->user_id || !j->body) {
        if (j)
            keys_job_free(j);
        http_reply_internal(req);
        return;
    }
    api_run_parked(req, keys_work, keys_finish, keys_job_free, j);
}

void api_keys_query(struct http_req *req)
{
    keys_run(req, false, "device_keys");
}

void api_keys_claim(struct http_req *req)
{
    keys_run(req, true, "one_time_keys");
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
