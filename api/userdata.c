/* userdata.c - the per-user endpoints around /sync (Client-Server API "Filtering", "Client
 * Config", "Room Tagging", "Receipts", "Fully read markers", "Typing Notifications",
 * "Presence"). A user reads and writes only their own data; presence of others is readable
 * only when presence is enabled and they share a room. The handlers validate and call
 * server/userdata.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/filter.h"
#include "server/ids.h"
#include "server/userdata.h"

#define MAX_TYPE 255

json_t *api_filter_parse(const char *text, size_t len, char *why, size_t n)
{
    char *copy = strndup(text, len); /* filter_parse_param reads a C string */
    if (!copy) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    json_t *f = filter_parse_param(copy, FILTER_KIND_SYNC, why, n);
    free(copy);
    return f;
}

/* --- helpers ---------------------------------------------------------------------------- */

/* Path parameter 0 must be the requesting user. Answers otherwise. */
static bool own_user(struct http_req *req, const char *what)
{
    if (strcmp(http_param(req, 0), http_user(req)->user_id) == 0)
        return true;
    http_reply_error(req, 403, "M_FORBIDDEN", "Cannot %s for other users", what);
    return false;
}

static void reply_rc(struct http_req *req, enum room_rc rc, json_t *out, const char *why)
{
    if (rc == ROOM_OK)
        http_reply_json(req, 200, out ? out : json_object());
    else {
        json_decref(out);
        api_reply_room_error(req, rc, why);
    }
}

/* --- filters ---------------------------------------------------------------------------- */

void api_filter_post(struct http_req *req)
{
    if (!own_user(req, "create filters"))
        return;
    char why[256] = "";
    size_t len;
    const char *body = http_body(req, &len);
    json_t *f = api_filter_parse(len ? body : "{}", len ? len : 2, why, sizeof why);
    if (!f) {
        http_reply_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", why);
        return;
    }
    char *id = NULL;
    enum room_rc rc = userdata_filter_put(http_user(req)->user_id, f, &id);
    json_decref(f);
    reply_rc(req, rc, rc == ROOM_OK ? json_pack("{s:s}", "filter_id", id) : NULL, "");
    free(id);
}

void api_filter_get(struct http_req *req)
{
    if (!own_user(req, "read filters"))
        return;
    json_t *f = NULL;
    enum room_rc rc = userdata_filter_get(http_user(req)->user_id, http_param(req, 1), &f);
    reply_rc(req, rc, f, "Unknown filter");
}

/* --- account data and tags -------------------------------------------------------------- */

static bool managed_type(struct http_req *req, const char *type)
{
    if (strcmp(type, "m.fully_read") != 0 && strcmp(type, "m.push_rules") != 0)
        return false;
    http_reply_error(req, 405, "M_BAD_JSON", "Cannot set %s through this API", type);
    return true;
}

static bool type_ok(struct http_req *req, const char *type)
{
    if (*type && strlen(type) <= MAX_TYPE)
        return true;
    http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid account data type");
    return false;
}

void api_account_data_put(struct http_req *req)
{
    const char *type = http_param(req, 1);
    if (!own_user(req, "add account data") || !type_ok(req, type) || managed_type(req, type))
        return;
    char why[256] = "";
    enum room_rc rc = userdata_account_data_put(http_user(req)->user_id, NULL, type,
                                                http_json(req), why, sizeof why);
    reply_rc(req, rc, NULL, why);
}

void api_account_data_get(struct http_req *req)
{
    const char *type = http_param(req, 1);
    if (!own_user(req, "get account data"))
        return;
    json_t *out = NULL;
    enum room_rc rc = userdata_account_data_get(http_user(req)->user_id, NULL, type, &out);
    reply_rc(req, rc, out, "Account data not found");
}

/* Path parameter 1 as a room ID. */
static const char *room_of(struct http_req *req)
{
    const char *room_id = http_param(req, 1);
    if (api_valid_room_id(room_id))
        return room_id;
    http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
    return NULL;
}

void api_room_account_data_put(struct http_req *req)
{
    const char *type = http_param(req, 2);
    const char *room_id;
    if (!own_user(req, "add account data") || !(room_id = room_of(req)) || !type_ok(req, type) ||
        managed_type(req, type))
        return;
    char why[256] = "";
    enum room_rc rc = userdata_account_data_put(http_user(req)->user_id, room_id, type,
                                                http_json(req), why, sizeof why);
    reply_rc(req, rc, NULL, why);
}

void api_room_account_data_get(struct http_req *req)
{
    const char *room_id;
    if (!own_user(req, "get account data") || !(room_id = room_of(req)))
        return;
    json_t *out = NULL;
    enum room_rc rc =
        userdata_account_data_get(http_user(req)->user_id, room_id, http_param(req, 2), &out);
    reply_rc(req, rc, out, "Account data not found");
}

void api_tags_get(struct http_req *req)
{
    const char *room_id;
    if (!own_user(req, "get tags") || !(room_id = room_of(req)))
        return;
    json_t *out = NULL;
    enum room_rc rc = userdata_tags_get(http_user(req)->user_id, room_id, &out);
    reply_rc(req, rc, out, "");
}

void api_tag_put(struct http_req *req)
{
    const char *room_id;
    if (!own_user(req, "add tags") || !(room_id = room_of(req)))
        return;
    char why[256] = "";
    enum room_rc rc = userdata_tag_put(http_user(req)->user_id, room_id, http_param(req, 2),
                                       http_json(req), why, sizeof why);
    reply_rc(req, rc, NULL, why);
}

void api_tag_delete(struct http_req *req)
{
    const char *room_id;
    if (!own_user(req, "remove tags") || !(room_id = room_of(req)))
        return;
    enum room_rc rc = userdata_tag_delete(http_user(req)->user_id, room_id, http_param(req, 2));
    reply_rc(req, rc, NULL, "");
}

/* --- receipts, markers, typing ---------------------------------------------------------- */

static bool event_id_ok(const char *id)
{
    return id && id[0] == '$' && strlen(id) <= 255;
}

void api_receipt(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    if (!room_id)
        return;
    const char *type = http_param(req, 1), *event_id = http_param(req, 2);
    bool marker = strcmp(type, "m.fully_read") == 0;
    if (!marker && strcmp(type, "m.read") != 0 && strcmp(type, "m.read.private") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Unknown receipt type %s", type);
        return;
    }
    if (!event_id_ok(event_id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid event ID");
        return;
    }
    json_t *thread = json_object_get(http_json(req), "thread_id");
    if (thread && (!json_is_string(thread) || !*json_string_value(thread) ||
                   strlen(json_string_value(thread)) > 255 || marker)) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         marker ? "thread_id does not apply to m.fully_read"
                                : "thread_id field must be a non-empty string");
        return;
    }
    char why[256] = "";
    enum room_rc rc = userdata_receipt(http_user(req)->user_id, room_id, type, event_id,
                                       json_string_value(thread), why, sizeof why);
    reply_rc(req, rc, NULL, why);
}

void api_read_markers(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    if (!room_id)
        return;
    static const char *const keys[] = {"m.fully_read", "m.read", "m.read.private"};
    json_t *body = http_json(req);
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if (v && !json_is_null(v) && !event_id_ok(json_string_value(v))) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "%s must be an event ID", keys[i]);
            return;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        const char *id = json_string_value(json_object_get(body, keys[i]));
        if (!id)
            continue;
        char why[256] = "";
        enum room_rc rc =
            userdata_receipt(http_user(req)->user_id, room_id, keys[i], id, NULL, why, sizeof why);
        if (rc != ROOM_OK) {
            api_reply_room_error(req, rc, why);
            return;
        }
    }
    http_reply_json(req, 200, json_object());
}

void api_typing(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    if (!room_id)
        return;
    if (strcmp(http_param(req, 1), http_user(req)->user_id) != 0) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Cannot set typing for other users");
        return;
    }
    json_t *body = http_json(req);
    json_t *typing = json_object_get(body, "typing");
    json_t *timeout = json_object_get(body, "timeout");
    if (!json_is_boolean(typing)) {
        http_reply_error(req, 400, "M_BAD_JSON", "'typing' must be a boolean");
        return;
    }
    if (timeout && !json_is_integer(timeout)) {
        http_reply_error(req, 400, "M_BAD_JSON", "'timeout' must be an integer");
        return;
    }
    char why[256] = "";
    enum room_rc rc = userdata_typing(http_user(req)->user_id, room_id, json_is_true(typing),
                                      timeout ? json_integer_value(timeout) : 30000, why,
                                      sizeof why);
    reply_rc(req, rc, NULL, why);
}

/* --- presence --------------------------------------------------------------------------- */

void api_presence_put(struct http_req *req)
{
    if (!own_user(req, "set presence"))
        return;
    bool bad = false;
    json_t *body = http_json(req);
    const char *presence = api_opt_string(req, body, "presence", &bad);
    const char *msg = api_opt_string(req, body, "status_msg", &bad);
    if (bad)
        return;
    if (!presence) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'presence'");
        return;
    }
    char why[256] = "";
    if (!http_config(req)->presence_enabled) { /* accepted, kept nowhere */
        static const char *const ok[] = {"online", "offline", "unavailable"};
        for (size_t i = 0; i < 3; i++)
            if (strcmp(presence, ok[i]) == 0) {
                http_reply_json(req, 200, json_object());
                return;
            }
        http_reply_error(req, 400, "M_BAD_JSON", "presence must be online, offline or unavailable");
        return;
    }
    enum room_rc rc = userdata_presence_put(http_user(req)->user_id, presence, msg, why, sizeof why);
    reply_rc(req, rc, NULL, why);
}

void api_presence_get(struct http_req *req)
{
    const char *uid = http_param(req, 0);
    const char *lp, *server;
    size_t lpn, sn;
    if (ids_user_id_split(uid, &lp, &lpn, &server, &sn) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return;
    }
    /* with presence off nobody's presence is known: everyone looks offline */
    if (!http_config(req)->presence_enabled) {
        http_reply_json(req, 200, json_pack("{s:s}", "presence", "offline"));
        return;
    }
    json_t *out = NULL;
    enum room_rc rc = userdata_presence_get(uid, http_user(req)->user_id, &out);
    if (rc == ROOM_NOT_FOUND) {
        http_reply_json(req, 200, json_pack("{s:s}", "presence", "offline"));
        return;
    }
    reply_rc(req, rc, out, "You are not allowed to see this user's presence");
}
