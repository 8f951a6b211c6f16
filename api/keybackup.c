/* keybackup.c - the /room_keys endpoints of the Client-Server API ("End-to-End Encryption",
 * "Server-side key backups"): backup versions (/room_keys/version[/{version}]) and the keys
 * in them (/room_keys/keys[/{roomId}[/{sessionId}]]?version=). Every endpoint needs an access
 * token and acts on the requesting user's own backups. The handlers check the path and query
 * and call server/keybackup.h, which validates bodies; one reply function maps its errors,
 * adding current_version to M_WRONG_ROOM_KEYS_VERSION. The keys routes share one handler per
 * method: a route without {roomId} or {sessionId} leaves that parameter NULL. */
#include "api/api.h"
#include "server/keybackup.h"

/* Answer 200 with `out` (stolen), or the error. */
static void reply(struct http_req *req, json_t *out, const struct keybackup_error *err)
{
    if (out)
        http_reply_json(req, 200, out);
    else if (err->status == 500 || !err->errcode)
        http_reply_internal(req);
    else if (err->current_version[0])
        http_reply_error_extra(req, err->status, err->errcode,
                               json_pack("{s:s}", "current_version", err->current_version), "%s",
                               err->why);
    else
        http_reply_error(req, err->status, err->errcode, "%s", err->why);
}

/* --- versions ---------------------------------------------------------------------------- */

void api_keybackup_version_create(struct http_req *req)
{
    struct keybackup_error err = {0};
    reply(req, keybackup_version_create(http_user(req)->user_id, http_json(req), &err), &err);
}

void api_keybackup_version_current(struct http_req *req)
{
    struct keybackup_error err = {0};
    reply(req, keybackup_version_get(http_user(req)->user_id, NULL, &err), &err);
}

void api_keybackup_version_get(struct http_req *req)
{
    struct keybackup_error err = {0};
    reply(req, keybackup_version_get(http_user(req)->user_id, http_param(req, 0), &err), &err);
}

void api_keybackup_version_put(struct http_req *req)
{
    struct keybackup_error err = {0};
    reply(
        req,
        keybackup_version_update(http_user(req)->user_id, http_param(req, 0), http_json(req), &err),
        &err);
}

void api_keybackup_version_delete(struct http_req *req)
{
    struct keybackup_error err = {0};
    reply(req, keybackup_version_delete(http_user(req)->user_id, http_param(req, 0), &err), &err);
}

/* --- keys -------------------------------------------------------------------------------- */

/* The required `version` query parameter and the optional room ID path parameter, checked;
 * answers and returns false when one is missing or malformed. */
static bool keys_params(struct http_req *req, const char **version, const char **room_id)
{
    *version = http_query(req, "version");
    *room_id = http_param(req, 0);
    if (!*version) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'version' query parameter");
        return false;
    }
    if (*room_id && !api_valid_room_id(*room_id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
        return false;
    }
    return true;
}

void api_keybackup_keys_put(struct http_req *req)
{
    const char *version, *room_id;
    if (!keys_params(req, &version, &room_id))
        return;
    struct keybackup_error err = {0};
    reply(req,
          keybackup_keys_put(http_user(req)->user_id, version, room_id, http_param(req, 1),
                             http_json(req), &err),
          &err);
}

void api_keybackup_keys_get(struct http_req *req)
{
    const char *version, *room_id;
    if (!keys_params(req, &version, &room_id))
        return;
    struct keybackup_error err = {0};
    reply(req,
          keybackup_keys_get(http_user(req)->user_id, version, room_id, http_param(req, 1), &err),
          &err);
}

void api_keybackup_keys_delete(struct http_req *req)
{
    const char *version, *room_id;
    if (!keys_params(req, &version, &room_id))
        return;
    struct keybackup_error err = {0};
    reply(
        req,
        keybackup_keys_delete(http_user(req)->user_id, version, room_id, http_param(req, 1), &err),
        &err);
}
