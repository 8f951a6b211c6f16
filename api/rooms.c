/* rooms.c - the room endpoints of the Client-Server API ("Rooms": creation, sending, state,
 * membership, /messages, redactions, aliases). Handlers validate the request and call the
 * room engine (server/room.h); the engine's codes map onto the spec's errors in one table. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/filter.h"
#include "server/ids.h"
#include "server/notices.h"
#include "server/retention.h"
#include "server/room.h"
#include "server/room_txn.h"

#define MAX_TXN_ID 255
#define MAX_REASON 1024

/* Answer a failed engine call. */
void api_reply_room_error(struct http_req *req, int rc, const char *why)
{
    const char *errcode;
    int status = room_rc_http(rc, &errcode);
    if (status)
        http_reply_error(req, status, errcode, "%s", why);
    else /* ROOM_ERR: the engine's why says what failed (callers start it empty) */
        http_reply_internal_cause(req, "%s", why && *why ? why : "room engine error");
}

void api_reply_room(struct http_req *req, int rc, json_t *out, const char *why)
{
    if (rc == ROOM_OK)
        http_reply_json(req, 200, out);
    else {
        json_decref(out);
        api_reply_room_error(req, rc, why);
    }
}

/* Answer {"event_id": id} or the error. Frees id. Call it with the engine's result held in
 * a variable: C does not order the evaluation of arguments. */
static void reply_event_id(struct http_req *req, enum room_rc rc, char *id, const char *why)
{
    api_reply_room(req, rc, json_pack("{s:s}", "event_id", id), why);
    free(id);
}

bool api_valid_room_id(const char *id)
{
    return id && id[0] == '!' && strlen(id) <= 255 && strlen(id) > 1;
}

/* The room ID in path parameter 0; answers and returns NULL when malformed. */
const char *api_room_param(struct http_req *req)
{
    const char *id = http_param(req, 0);
    if (!api_valid_room_id(id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
        return NULL;
    }
    return id;
}

void api_create_room(struct http_req *req)
{
    char why[512] = "", *room_id = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(http_json(req), "invite"), i, v)
    {
        if (json_is_string(v) && !ids_is_local(json_string_value(v))) {
            api_remote_create(req, http_json(req)); /* invites through other servers */
            return;
        }
    }
    enum room_rc rc =
        room_create(http_user(req)->user_id, http_json(req), &room_id, why, sizeof why);
    if (rc != ROOM_OK) {
        api_reply_room_error(req, rc, why);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
    free(room_id);
}

/* The client transaction of this request: its device and the key of txnId `txn` on the
 * request path `path` (server/room_txn.h) in `key`. Answers 400 and returns false when the
 * transaction ID is too long. */
static bool request_txn(struct http_req *req, const char *txn, const char *const *path,
                        size_t n_path, char key[ROOM_TXN_KEY_MAX], struct room_txn *t)
{
    const struct http_user *u = http_user(req);
    if (strlen(txn) > MAX_TXN_ID || room_txn_key(key, ROOM_TXN_KEY_MAX, txn, path, n_path) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Transaction ID too long");
        return false;
    }
    *t = (struct room_txn){.device_id = u->device_id ? u->device_id : "", .txn_id = key};
    return true;
}

void api_send(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *room_id = api_room_param(req), *type = http_param(req, 1),
               *txn = http_param(req, 2);
    char why[512] = "", *id = NULL, key[ROOM_TXN_KEY_MAX];
    struct room_txn t;
    if (!room_id)
        return;
    if (strlen(type) > 255) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Event type too long");
        return;
    }
    const char *path[] = {"send", room_id, type};
    if (!request_txn(req, txn, path, 3, key, &t) || !api_message_allowed(req))
        return;
    enum room_rc rc =
        room_send(room_id, u->user_id, type, NULL, http_json(req), &t, &id, why, sizeof why);
    reply_event_id(req, rc, id, why);
}

void api_state_put(struct http_req *req)
{
    const char *room_id = api_room_param(req), *type = http_param(req, 1);
    const char *key = http_param(req, 2) ? http_param(req, 2) : "";
    char why[512] = "", *id = NULL;
    if (!room_id)
        return;
    if (strlen(type) > 255 || strlen(key) > 255) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Event type or state key too long");
        return;
    }
    if (strcmp(type, "m.room.retention") == 0 &&
        !retention_content_ok(http_json(req), why, sizeof why)) {
        http_reply_error(req, 400, "M_BAD_JSON", "%s", why);
        return;
    }
    if (!api_message_allowed(req))
        return;
    enum room_rc rc = room_send(room_id, http_user(req)->user_id, type, key, http_json(req), NULL,
                                &id, why, sizeof why);
    reply_event_id(req, rc, id, why);
}

void api_state_get(struct http_req *req)
{
    const char *room_id = api_room_param(req), *type = http_param(req, 1);
    const char *key = http_param(req, 2) ? http_param(req, 2) : "";
    char why[512] = "";
    json_t *content = NULL;
    if (!room_id)
        return;
    enum room_rc rc =
        room_state_event(room_id, http_user(req)->user_id, type, key, &content, why, sizeof why);
    api_reply_room(req, rc, content, why);
}

/* A read of the path's room by the requesting user (server/room.h: room_state and the like):
 * answer its result, as {key: result} when key is not NULL, or its error. */
typedef enum room_rc (*room_read_fn)(const char *room_id, const char *user_id, json_t **out,
                                     char *why, size_t n);
static void reply_room_read(struct http_req *req, room_read_fn fn, const char *key)
{
    const char *room_id = api_room_param(req);
    char why[512] = "";
    json_t *out = NULL;
    if (!room_id)
        return;
    enum room_rc rc = fn(room_id, http_user(req)->user_id, &out, why, sizeof why);
    if (rc == ROOM_OK && key)
        out = json_pack("{s:o}", key, out); /* steals out */
    api_reply_room(req, rc, out, why);
}

void api_state_all(struct http_req *req)
{
    reply_room_read(req, room_state, NULL);
}

void api_event_get(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    char why[512] = "";
    json_t *ev = NULL;
    if (!room_id)
        return;
    enum room_rc rc =
        room_event(room_id, http_user(req)->user_id, http_param(req, 1), &ev, why, sizeof why);
    if (rc == ROOM_FORBIDDEN) { /* spec: 404 also when "you do not have permission to read" */
        rc = ROOM_NOT_FOUND;
        snprintf(why, sizeof why, "Event not found");
    }
    api_reply_room(req, rc, ev, why);
}

/* Reason from the body: optional string, bounded. Answers on error. */
static bool body_reason(struct http_req *req, const char **reason)
{
    bool bad = false;
    *reason = api_opt_string(req, http_json(req), "reason", &bad);
    if (bad)
        return false;
    if (*reason && strlen(*reason) > MAX_REASON) {
        http_reply_error(req, 400, "M_BAD_JSON", "reason longer than %d bytes", MAX_REASON);
        return false;
    }
    return true;
}

/* Is user_id local and known? Answers and returns false when not. */
static bool local_user(struct http_req *req, const char *user_id)
{
    const char *lp, *srv;
    size_t ll, sl;
    if (!user_id || ids_user_id_split(user_id, &lp, &ll, &srv, &sl) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return false;
    }
    if (!ids_is_local(user_id)) {
        http_reply_error(req, 403, "M_FORBIDDEN",
                         "%s is on another server: federation is not available yet", user_id);
        return false;
    }
    json_t *profile = NULL;
    enum account_rc rc = account_profile(user_id, &profile);
    json_decref(profile);
    if (rc == ACCOUNT_NOT_FOUND) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Unknown user %s", user_id);
        return false;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        return false;
    }
    return true;
}

void api_membership(struct http_req *req, const char *room_id, const char *target, const char *m,
                    bool reply_room)
{
    const char *reason;
    char why[512] = "", *id = NULL;
    enum room_rc rc;
    if (!body_reason(req, &reason))
        return;
    const char *me = http_user(req)->user_id;
    if (strcmp(m, "leave") == 0 && strcmp(target, me) == 0 && !reply_room) {
        api_remote_leave(req, room_id, reason); /* through other servers when needed */
        return;
    }
    if (strcmp(m, "invite") == 0 && !ids_is_local(target)) {
        api_remote_invite(req, room_id, target, reason); /* signed by the invitee's server */
        return;
    }
    if (strcmp(m, "kick") == 0)
        rc = room_kick(room_id, me, target, reason, &id, why, sizeof why);
    else
        rc = room_membership(room_id, me, target, m, reason, NULL, &id, why, sizeof why);
    free(id);
    if (rc != ROOM_OK)
        api_reply_room_error(req, rc, why);
    else if (reply_room)
        http_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
    else
        http_reply_json(req, 200, NULL);
}

#define MAX_VIA 20 /* servers named by via and server_name, each */

void api_join_target(struct http_req *req, const char *target, const char *m)
{
    const char *reason;
    json_t *servers = NULL;
    if (!body_reason(req, &reason))
        return;
    if (target[0] == '#') {
        const char *srv = ids_server_of(target);
        if (!srv || !ids_server_name_valid(srv, strlen(srv))) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room alias");
            return;
        }
    } else if (!api_valid_room_id(target)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Expected a room ID or alias");
        return;
    } else { /* server_name (deprecated) and via name servers to join through */
        servers = http_query_all(req, "via", MAX_VIA);
        json_t *more = http_query_all(req, "server_name", MAX_VIA);
        json_array_extend(servers, more);
        json_decref(more);
    }
    api_remote_join(req, target, m, reason, servers); /* resolves the alias, joins or knocks */
}

void api_join_room_id(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    if (room_id)
        api_join_target(req, room_id, "join");
}

void api_join(struct http_req *req)
{
    api_join_target(req, http_param(req, 0), "join");
}

/* Handlers whose body names a target user: invite, kick, ban, unban. */
static void target_membership(struct http_req *req, const char *m, bool must_be_local)
{
    const char *room_id = api_room_param(req);
    bool bad = false;
    if (!room_id)
        return;
    const char *target = api_opt_string(req, http_json(req), "user_id", &bad);
    if (bad)
        return;
    if (!target) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'user_id'");
        return;
    }
    if (must_be_local && ids_is_local(target) && !local_user(req, target))
        return;
    const char *lp, *srv;
    size_t ll, sl;
    if (ids_user_id_split(target, &lp, &ll, &srv, &sl) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return;
    }
    api_membership(req, room_id, target, m, false);
}

void api_invite(struct http_req *req)
{
    target_membership(req, "invite", true);
}

void api_kick(struct http_req *req)
{
    target_membership(req, "kick", false); /* a leave, of a user in the room only */
}

void api_ban(struct http_req *req)
{
    target_membership(req, "ban", false);
}

void api_unban(struct http_req *req)
{
    target_membership(req, "leave", false);
}

void api_leave(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    if (!room_id)
        return;
    /* Synapse's server notices: the invite to one's notices room cannot be rejected */
    if (notices_invite_pending(room_id, http_user(req)->user_id)) {
        http_reply_error(req, 403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
                         "You cannot reject this invite");
        return;
    }
    api_membership(req, room_id, http_user(req)->user_id, "leave", false);
}

void api_forget(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    char why[512] = "";
    if (!room_id)
        return;
    enum room_rc rc = room_forget(room_id, http_user(req)->user_id, why, sizeof why);
    api_reply_room(req, rc, NULL, why);
}

void api_joined_rooms(struct http_req *req)
{
    json_t *rooms = NULL;
    if (room_joined_rooms(http_user(req)->user_id, &rooms) != ROOM_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "joined_rooms", rooms));
}

void api_joined_members(struct http_req *req)
{
    reply_room_read(req, room_joined_members, NULL);
}

void api_members(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    char why[512] = "";
    json_t *out = NULL;
    if (!room_id)
        return;
    enum room_rc rc = room_members(room_id, http_user(req)->user_id, api_token_query(req, "at"),
                                   http_query(req, "membership"),
                                   http_query(req, "not_membership"), &out, why, sizeof why);
    api_reply_room(req, rc, rc == ROOM_OK ? json_pack("{s:o}", "chunk", out) : NULL, why);
}

void api_messages(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    const char *dir = http_query(req, "dir"), *limit = http_query(req, "limit");
    const char *filter_text = http_query(req, "filter");
    char why[512] = "";
    json_t *out = NULL, *filter = NULL;
    if (!room_id)
        return;
    if (dir && strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "dir must be 'b' or 'f'");
        return;
    }
    long lim = 10;
    if (limit) {
        char *end;
        lim = strtol(limit, &end, 10);
        if (*end || lim < 0) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "limit must be a non-negative integer");
            return;
        }
    }
    if (filter_text) {
        filter = filter_parse_param(filter_text, FILTER_KIND_ROOM_EVENT, why, sizeof why);
        if (!filter) {
            http_reply_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", why);
            return;
        }
    }
    enum room_rc rc = room_messages(room_id, http_user(req)->user_id, api_token_query(req, "from"),
                                    api_token_query(req, "to"), dir ? dir[0] : 'b', (int)lim, filter,
                                    &out, why, sizeof why);
    /* back past the earliest event here: other servers may have more (Server-Server API
     * "Backfilling"); that wait runs off the HTTP thread (api/roomfed.c) */
    if (rc == ROOM_OK && (!dir || dir[0] == 'b') && !api_token_query(req, "to") &&
        !json_object_get(out, "end") && room_backfill_wanted(room_id)) {
        json_decref(out);
        api_remote_messages(req, room_id, api_token_query(req, "from"), (int)lim, filter);
        return;
    }
    json_decref(filter);
    api_reply_room(req, rc, out, why);
}

void api_redact(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *room_id = api_room_param(req), *target = http_param(req, 1),
               *txn = http_param(req, 2);
    const char *reason;
    char why[512] = "", *id = NULL, key[ROOM_TXN_KEY_MAX];
    struct room_txn t;
    if (!room_id || !body_reason(req, &reason))
        return;
    const char *path[] = {"redact", room_id, target};
    if (!request_txn(req, txn, path, 3, key, &t) || !api_message_allowed(req))
        return;
    enum room_rc rc = room_redact(room_id, u->user_id, target, reason, &t, &id, why, sizeof why);
    reply_event_id(req, rc, id, why);
}

/* --- aliases ------------------------------------------------------------------------------- */

/* A local alias "#name:our.server"; answers and returns false otherwise. */
static bool local_alias(struct http_req *req, const char *alias)
{
    const char *colon = alias ? strchr(alias, ':') : NULL;
    if (!alias || alias[0] != '#' || !colon || colon == alias + 1 || strlen(alias) > 255) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room alias");
        return false;
    }
    if (!ids_is_local(alias)) {
        http_reply_error(req, 404, "M_NOT_FOUND",
                         "Room aliases of another server are that server's to change");
        return false;
    }
    return true;
}

void api_alias_put(struct http_req *req)
{
    const char *alias = http_param(req, 0);
    bool bad = false;
    char why[512] = "";
    if (!local_alias(req, alias))
        return;
    const char *room_id = api_opt_string(req, http_json(req), "room_id", &bad);
    if (bad)
        return;
    if (!api_valid_room_id(room_id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Missing or invalid 'room_id'");
        return;
    }
    enum room_rc rc = room_alias_set(alias, room_id, http_user(req)->user_id, why, sizeof why);
    if (rc == ROOM_IN_USE)
        http_reply_error(req, 409, "M_UNKNOWN", "%s", why);
    else if (rc != ROOM_OK)
        api_reply_room_error(req, rc, why);
    else
        http_reply_json(req, 200, NULL);
}

void api_alias_get(struct http_req *req)
{
    const char *alias = http_param(req, 0);
    char *room_id = NULL;
    const char *srv = alias[0] == '#' ? ids_server_of(alias) : NULL;
    if (srv && !ids_is_local(alias) && ids_server_name_valid(srv, strlen(srv)) &&
        strlen(alias) <= 255) {
        if (!http_user(req)) /* no anonymous requests to other servers (amplification) */
            http_reply_error(req, 401, "M_MISSING_TOKEN",
                             "Resolving another server's alias needs an access token");
        else
            api_remote_alias(req, alias); /* GET /query/directory of its server */
        return;
    }
    if (!local_alias(req, alias))
        return;
    enum room_rc rc = room_alias_get(alias, &room_id);
    if (rc == ROOM_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
    else if (rc != ROOM_OK)
        http_reply_internal(req);
    else
        http_reply_json(
            req, 200,
            json_pack("{s:s,s:[s]}", "room_id", room_id, "servers", http_config(req)->server_name));
    free(room_id);
}

void api_alias_delete(struct http_req *req)
{
    const char *alias = http_param(req, 0);
    char why[512] = "";
    if (!local_alias(req, alias))
        return;
    const struct http_user *u = http_user(req);
    enum room_rc rc = room_alias_delete(alias, u->user_id, u->is_admin, why, sizeof why);
    api_reply_room(req, rc, NULL, why);
}

void api_room_aliases(struct http_req *req)
{
    reply_room_read(req, room_aliases, "aliases");
}
