/* admin_users.c - Synapse's user admin API (docs/admin_api/user_admin_api.md), with its paths,
 * fields, paging (from, limit, next_token, total) and errors, so that synapse-admin and
 * admins' scripts work unchanged, and the Client-Server API's v1.18 /admin/suspend and
 * /admin/lock. Server admins only (users.admin): everyone else gets 403 M_FORBIDDEN, checked
 * before the target user is looked at (no enumeration). Only local users can be targets.
 *
 * Not implemented, ignored when given: threepids and external_ids in PUT /v2/users (Amtsbote
 * binds no third-party identifiers), guests (there are none: is_guest is always false). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/ids.h"
#include "server/pusher.h"
#include "server/room.h"
#include "server/useradmin.h"

#define MAX_PASSWORD 512
#define MAX_PROFILE 1024
#define MAX_LIMIT 1000

/* Path parameter 0 as a user ID (of this server unless any_server), after the admin check;
 * NULL after answering. */
static const char *admin_target(struct http_req *req, bool any_server)
{
    if (!api_admin_only(req))
        return NULL;
    const char *uid = http_param(req, 0);
    if (uid[0] != '@' || !strchr(uid, ':') || strlen(uid) > IDS_USER_ID_MAX) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return NULL;
    }
    if (!any_server && !ids_is_local(uid)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Can only look up local users");
        return NULL;
    }
    return uid;
}

static const char *local_target(struct http_req *req)
{
    return admin_target(req, false);
}

/* Answer a failed account call. */
static void reply_rc(struct http_req *req, enum account_rc rc)
{
    if (rc == ACCOUNT_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "User not found");
    else
        http_reply_internal(req);
}

/* The account uid as Synapse describes it (new), or NULL after answering 404 (also for a
 * deactivated account when live_only) or 500. */
static json_t *target_user(struct http_req *req, const char *uid, bool live_only)
{
    json_t *u = NULL;
    enum account_rc rc = useradmin_get(uid, &u);
    if (rc == ACCOUNT_OK && live_only && json_is_true(json_object_get(u, "deactivated")))
        rc = ACCOUNT_NOT_FOUND; /* the spec's /admin endpoints: not found, or deactivated */
    if (rc != ACCOUNT_OK) {
        json_decref(u);
        reply_rc(req, rc);
        return NULL;
    }
    return u;
}

/* order_by values of GET /v2/users and the column each sorts by */
static const struct {
    const char *order_by, *column;
} user_orders[] = {
    {"name", "user_id"},
    {"is_guest", "user_id"}, /* there are no guests */
    {"admin", "admin"},
    {"user_type", "user_type"},
    {"deactivated", "deactivated"},
    {"shadow_banned", "shadow_banned"},
    {"displayname", "displayname"},
    {"avatar_url", "avatar_url"},
    {"creation_ts", "created_ts"},
    {"last_seen_ts", "last_seen_ts"},
};

#define MAX_NOT_USER_TYPES 8

void api_admin_users_list(struct http_req *req)
{
    if (!api_admin_only(req))
        return;
    struct db_user_query q = {.order_sql = "user_id"};
    if (api_admin_paging(req, &q.from, &q.limit) < 0)
        return;
    if (q.limit > MAX_LIMIT)
        q.limit = MAX_LIMIT;
    /* v3 reads `deactivated` as a filter (absent: both), v2 as "include them too" */
    bool v3 = strstr(http_route_pattern(req), "/admin/v3/") != NULL;
    int guests = api_admin_query_bool(req, "guests", 1),
        deact = api_admin_query_bool(req, "deactivated", v3 ? -1 : 0),
        locked = api_admin_query_bool(req, "locked", 0),
        admins = api_admin_query_bool(req, "admins", -1);
    if (guests == -2 || deact == -2 || locked == -2 || admins == -2)
        return;
    q.deactivated = v3 && deact == 1 ? 2 : deact;
    json_t *not_types = http_query_all(req, "not_user_type", MAX_NOT_USER_TYPES);
    char *nt = json_array_size(not_types) ? json_dumps(not_types, JSON_COMPACT) : NULL;
    json_decref(not_types);
    q.not_user_types = nt ? http_strdup(req, nt) : NULL;
    free(nt);
    q.locked = locked == 1;
    q.admins = admins;
    q.name = http_query(req, "name");
    q.user_id = q.name ? NULL : http_query(req, "user_id"); /* name wins, as in Synapse */
    const char *order = http_query(req, "order_by");
    if (order) {
        q.order_sql = NULL;
        for (size_t i = 0; i < sizeof user_orders / sizeof user_orders[0]; i++)
            if (strcmp(order, user_orders[i].order_by) == 0)
                q.order_sql = user_orders[i].column;
        if (!q.order_sql) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "Unknown value for order_by: %s", order);
            return;
        }
    }
    if (api_admin_dir(req, "f", &q.backwards) < 0)
        return;
    json_t *out = useradmin_list(&q);
    if (!out) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, out);
}

void api_admin_user_get(struct http_req *req)
{
    const char *uid = local_target(req);
    json_t *u = uid ? target_user(req, uid, false) : NULL;
    if (u)
        http_reply_json(req, 200, u);
}

/* A string-or-null field of the PUT body: 1 present (value in *out, NULL for null), 0 absent,
 * -1 after answering 400. */
static int opt_nullable(struct http_req *req, json_t *body, const char *key, size_t max,
                        const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v)
        return 0;
    if (json_is_null(v))
        return 1;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "%s must be a string of at most %zu bytes",
                         key, max);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

/* PUT /_synapse/admin/v2/users/{userId}: create (201) or modify (200) an account. */
void api_admin_user_put(struct http_req *req)
{
    json_t *body = http_json(req), *out = NULL;
    bool bad = false;
    const char *uid = local_target(req);
    if (!uid)
        return;
    const char *password = NULL, *displayname = NULL, *avatar = NULL, *user_type = NULL;
    int has_pw = opt_nullable(req, body, "password", MAX_PASSWORD, &password);
    int has_dn =
        has_pw < 0 ? -1 : opt_nullable(req, body, "displayname", MAX_PROFILE, &displayname);
    int has_av = has_dn < 0 ? -1 : opt_nullable(req, body, "avatar_url", MAX_PROFILE, &avatar);
    int has_ut = has_av < 0 ? -1 : opt_nullable(req, body, "user_type", 64, &user_type);
    if (has_ut < 0)
        return;
    /* Synapse: "" removes the display name or the avatar */
    if (displayname && !*displayname)
        displayname = NULL;
    if (avatar && !*avatar)
        avatar = NULL;
    if (avatar && strncmp(avatar, "mxc://", 6) != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "avatar_url must be an MXC URI");
        return;
    }
    if (user_type && strcmp(user_type, "bot") != 0 && strcmp(user_type, "support") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user type");
        return;
    }
    bool logout = api_opt_bool(req, body, "logout_devices", true, &bad);
    json_t *adm = json_object_get(body, "admin"), *deact = json_object_get(body, "deactivated"),
           *lock = json_object_get(body, "locked");
    if (bad)
        return;
    if ((adm && !json_is_boolean(adm)) || (deact && !json_is_boolean(deact)) ||
        (lock && !json_is_boolean(lock))) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "admin, deactivated and locked must be "
                         "booleans");
        return;
    }
    enum account_rc rc = useradmin_get(uid, &out);
    if (rc == ACCOUNT_ERR) {
        http_reply_internal(req);
        return;
    }
    bool created = rc == ACCOUNT_NOT_FOUND;
    json_decref(out);
    out = NULL;
    if (created) {
        const char *at = strchr(uid, ':');
        if (!ids_localpart_valid(uid + 1, (size_t)(at - uid - 1))) {
            http_reply_error(req, 400, "M_INVALID_USERNAME", "Invalid user ID");
            return;
        }
        char *lp = http_strdup(req, uid + 1); /* Synapse's display name when none is given */
        *strchr(lp, ':') = '\0';
        struct account_login l;
        rc = account_register(uid, password, adm && json_is_true(adm),
                              displayname ? displayname : lp, NULL, false, NULL, NULL, &l);
        if (rc == ACCOUNT_OK)
            account_login_clear(&l);
        if (rc == ACCOUNT_EXISTS) { /* the same ID in other letter case */
            http_reply_error(req, 400, "M_USER_IN_USE", "User ID already taken");
            return;
        }
    } else {
        if (has_pw && password) {
            struct http_user who = {.user_id = uid};
            rc = account_set_password(&who, password, logout);
        }
        if (rc == ACCOUNT_OK && has_dn)
            rc = account_profile_set(uid, "displayname", displayname);
        if (rc == ACCOUNT_OK && adm)
            rc = account_set_admin(uid, json_is_true(adm));
        if (rc == ACCOUNT_OK && deact && json_is_true(deact))
            rc = useradmin_deactivate(uid, false);
        else if (rc == ACCOUNT_OK && deact)
            rc = useradmin_reactivate(uid);
    }
    if (rc == ACCOUNT_OK && has_av)
        rc = account_profile_set(uid, "avatar_url", avatar);
    if (rc == ACCOUNT_OK && has_ut)
        rc = useradmin_set_user_type(uid, user_type);
    if (rc == ACCOUNT_OK && lock)
        rc = useradmin_set_flag(uid, DB_FLAG_LOCKED, json_is_true(lock));
    if (rc == ACCOUNT_OK)
        rc = useradmin_get(uid, &out);
    if (rc != ACCOUNT_OK) {
        reply_rc(req, rc);
        return;
    }
    http_reply_json(req, created ? 201 : 200, out);
}

void api_admin_user_admin_get(struct http_req *req)
{
    const char *uid = local_target(req);
    json_t *u = uid ? target_user(req, uid, false) : NULL;
    if (!u)
        return;
    http_reply_json(req, 200, json_pack("{s:O}", "admin", json_object_get(u, "admin")));
    json_decref(u);
}

void api_admin_user_admin_put(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *v = json_object_get(http_json(req), "admin");
    if (!json_is_boolean(v)) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'admin' boolean");
        return;
    }
    if (strcmp(uid, http_user(req)->user_id) == 0 && !json_is_true(v)) {
        http_reply_error(req, 400, "M_UNKNOWN", "You may not demote yourself.");
        return;
    }
    enum account_rc rc = account_set_admin(uid, json_is_true(v));
    if (rc != ACCOUNT_OK) {
        reply_rc(req, rc);
        return;
    }
    http_reply_json(req, 200, NULL);
}

void api_admin_deactivate(struct http_req *req)
{
    bool bad = false;
    const char *uid = local_target(req);
    if (!uid)
        return;
    bool erase = api_opt_bool(req, http_json(req), "erase", false, &bad);
    if (bad)
        return;
    enum account_rc rc = useradmin_deactivate(uid, erase);
    if (rc != ACCOUNT_OK) {
        reply_rc(req, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "success"));
}

void api_admin_reset_password(struct http_req *req)
{
    json_t *body = http_json(req);
    bool bad = false;
    const char *uid = local_target(req);
    if (!uid)
        return;
    const char *pw = api_opt_string(req, body, "new_password", &bad);
    bool logout = api_opt_bool(req, body, "logout_devices", true, &bad);
    if (bad)
        return;
    if (!pw || strlen(pw) > MAX_PASSWORD) {
        http_reply_error(req, 400, "M_MISSING_PARAM",
                         "new_password: a string of at most %d "
                         "bytes is required",
                         MAX_PASSWORD);
        return;
    }
    struct http_user who = {.user_id = uid};
    enum account_rc rc = account_set_password(&who, pw, logout);
    if (rc != ACCOUNT_OK) {
        reply_rc(req, rc);
        return;
    }
    http_reply_json(req, 200, NULL);
}

/* Answer 404 unless the user exists; true when it does. */
static bool user_exists(struct http_req *req, const char *uid)
{
    json_t *u = target_user(req, uid, false);
    json_decref(u);
    return u != NULL;
}

void api_admin_user_joined_rooms(struct http_req *req)
{
    json_t *rooms = NULL;
    const char *uid = admin_target(req, true); /* other servers' users too, as Synapse */
    if (!uid || (ids_is_local(uid) && !user_exists(req, uid)))
        return;
    if (room_joined_rooms(uid, &rooms) != ROOM_OK) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(
        req, 200,
        json_pack("{s:o,s:I}", "joined_rooms", rooms, "total", (json_int_t)json_array_size(rooms)));
}

/* GET /_synapse/admin/v1/users/{userId}/memberships: every membership, any server's user */
void api_admin_user_memberships(struct http_req *req)
{
    const char *uid = admin_target(req, true);
    if (!uid || (ids_is_local(uid) && !user_exists(req, uid)))
        return;
    json_t *m = useradmin_memberships(uid);
    if (!m) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "memberships", m));
}

/* GET /_synapse/admin/v1/users/{userId}/pushers: {pushers, total} */
void api_admin_user_pushers(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid || !user_exists(req, uid))
        return;
    json_t *out = pusher_list(uid);
    if (!out) {
        http_reply_internal(req);
        return;
    }
    json_object_set_new(out, "total",
                        json_integer((json_int_t)json_array_size(json_object_get(out, "pushers"))));
    http_reply_json(req, 200, out);
}

void api_admin_user_devices(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid || !user_exists(req, uid))
        return;
    json_t *list = useradmin_devices(uid, NULL);
    if (!list) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(
        req, 200,
        json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(list), "devices", list));
}

/* POST /_synapse/admin/v2/users/{userId}/devices {"device_id"}: a device without a token */
void api_admin_user_device_create(struct http_req *req)
{
    bool bad = false;
    const char *uid = local_target(req);
    if (!uid || !user_exists(req, uid))
        return;
    const char *id = api_opt_string(req, http_json(req), "device_id", &bad);
    if (bad)
        return;
    if (!id || !*id || strlen(id) > 255) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "device_id: a string of 1 to 255 bytes");
        return;
    }
    if (useradmin_device_create(uid, id) != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 201, NULL);
}

void api_admin_user_device_get(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *list = useradmin_devices(uid, http_param(req, 1));
    if (!list) {
        http_reply_internal(req);
        return;
    }
    json_t *dev = json_array_get(list, 0);
    if (dev)
        http_reply_json(req, 200, json_incref(dev));
    else
        http_reply_error(req, 404, "M_NOT_FOUND", "Device not found");
    json_decref(list);
}

void api_admin_user_device_put(struct http_req *req)
{
    bool bad = false;
    const char *uid = local_target(req);
    if (!uid)
        return;
    const char *name = api_opt_string(req, http_json(req), "display_name", &bad);
    if (bad)
        return;
    if (name && strlen(name) > MAX_PROFILE) {
        http_reply_error(req, 400, "M_TOO_LARGE", "display_name too long");
        return;
    }
    enum account_rc rc = name ? account_device_rename(uid, http_param(req, 1), name) : ACCOUNT_OK;
    if (rc == ACCOUNT_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Device not found");
    else if (rc != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, NULL);
}

void api_admin_user_device_delete(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *ids = json_pack("[s]", http_param(req, 1));
    enum account_rc rc = account_devices_delete(uid, ids);
    json_decref(ids);
    if (rc != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, NULL); /* Synapse: an unknown device is no error */
}

void api_admin_user_delete_devices(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *ids = json_object_get(http_json(req), "devices"), *v;
    size_t i;
    if (!json_is_array(ids) || json_array_size(ids) > 1000) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "devices: an array of device IDs");
        return;
    }
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v)) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "devices must be strings");
            return;
        }
    }
    if (account_devices_delete(uid, ids) != ACCOUNT_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, NULL);
}

/* The moderation flag a path names, for the handlers shared by several routes. */
static void set_flag(struct http_req *req, const char *uid, enum db_user_flag f, bool on,
                     json_t *answer)
{
    if (strcmp(uid, http_user(req)->user_id) == 0 && on) {
        json_decref(answer);
        http_reply_error(req, 403, "M_FORBIDDEN", "You may not do this to your own account");
        return;
    }
    enum account_rc rc = useradmin_set_flag(uid, f, on);
    if (rc != ACCOUNT_OK) {
        json_decref(answer);
        reply_rc(req, rc);
        return;
    }
    http_reply_json(req, 200, answer);
}

void api_admin_shadow_ban(struct http_req *req)
{
    const char *uid = local_target(req);
    if (uid)
        set_flag(req, uid, DB_FLAG_SHADOW_BANNED, strcmp(http_method(req), "POST") == 0, NULL);
}

/* PUT /_synapse/admin/v1/suspend/{userId} {"suspend": bool} */
void api_admin_suspend(struct http_req *req)
{
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *v = json_object_get(http_json(req), "suspend");
    if (!json_is_boolean(v)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "suspend must be a boolean");
        return;
    }
    /* Synapse answers {"user_<userId>_suspended": bool} */
    set_flag(req, uid, DB_FLAG_SUSPENDED, json_is_true(v),
             json_pack("{s:b}", http_printf(req, "user_%s_suspended", uid), json_is_true(v)));
}

/* GET/PUT /_matrix/client/v1/admin/suspend|lock/{userId} (spec v1.18): which flag and its
 * field name, by the route's pattern. */
static bool spec_flag(struct http_req *req, enum db_user_flag *f, const char **field)
{
    bool lock = strstr(http_route_pattern(req), "/admin/lock/") != NULL;
    *f = lock ? DB_FLAG_LOCKED : DB_FLAG_SUSPENDED;
    *field = lock ? "locked" : "suspended";
    return lock;
}

void api_admin_moderation_get(struct http_req *req)
{
    enum db_user_flag f;
    const char *field;
    spec_flag(req, &f, &field);
    const char *uid = local_target(req);
    json_t *u = uid ? target_user(req, uid, true) : NULL;
    if (!u)
        return;
    http_reply_json(req, 200, json_pack("{s:O}", field, json_object_get(u, field)));
    json_decref(u);
}

void api_admin_moderation_put(struct http_req *req)
{
    enum db_user_flag f;
    const char *field;
    json_t *u = NULL;
    spec_flag(req, &f, &field);
    const char *uid = local_target(req);
    if (!uid)
        return;
    json_t *v = json_object_get(http_json(req), field);
    if (!json_is_boolean(v)) {
        http_reply_error(req, 400, "M_BAD_JSON", "%s must be a boolean", field);
        return;
    }
    if (!(u = target_user(req, uid, true)))
        return;
    bool other_admin = json_is_true(json_object_get(u, "admin"));
    json_decref(u);
    if (other_admin && json_is_true(v)) { /* the spec: not another administrator */
        http_reply_error(req, 403, "M_FORBIDDEN", "The target user is a server administrator");
        return;
    }
    set_flag(req, uid, f, json_is_true(v), json_pack("{s:b}", field, json_is_true(v)));
}
