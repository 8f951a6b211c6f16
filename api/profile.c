/* profile.c - user profiles (Client-Server API s. "Profiles"): displayname and avatar_url
 * of local users, and of other servers' users through a federation profile query
 * (server/remote.c). A user sets only their own profile. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/account.h"
#include "server/ids.h"
#include "server/ratelimit.h"
#include "server/remote.h"
#include "server/room.h"

#define MAX_DISPLAYNAME 256
#define MAX_AVATAR_URL 1000

/* field name, size limit */
static const struct {
    const char *name;
    size_t max;
} fields[] = {{"displayname", MAX_DISPLAYNAME}, {"avatar_url", MAX_AVATAR_URL}};

static size_t field_max(const char *name)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].name, name) == 0)
            return fields[i].max;
    return 0;
}

/* Fetch the profile of the user in path parameter 0; answers and returns NULL on error.
 * Requests without an access token are limited per client address (rc_registration, as
 * /register/available): unauthenticated lookups must not be a free way to probe accounts. */
static json_t *load_profile(struct http_req *req)
{
    int64_t retry;
    if (!http_user(req) && !ratelimit_take("profile", http_client_ip(req),
                                           &http_config(req)->rc_registration, true, &retry)) {
        api_reply_limited(req, retry);
        return NULL;
    }
    const char *uid = http_param(req, 0);
    const char *lp, *server;
    size_t lp_len, server_len;
    json_t *profile = NULL;

    if (ids_user_id_split(uid, &lp, &lp_len, &server, &server_len) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return NULL;
    }
    const char *me = http_config(req)->server_name;
    if (server_len != strlen(me) || memcmp(server, me, server_len) != 0) {
        /* only users of this server make it ask others: no anonymous amplification */
        if (!http_user(req)) {
            http_reply_error(req, 401, "M_MISSING_TOKEN",
                             "Profiles of other servers' users need an access token");
            return NULL;
        }
        char *name = http_strdup(req, server);
        enum remote_rc rr = remote_profile(uid, name, &profile);
        if (rr == REMOTE_OK)
            return profile;
        /* the spec's answers for a profile are 200, 403 and 404 */
        if (rr == REMOTE_REFUSED)
            http_reply_error(req, 403, "M_FORBIDDEN", "Federation with %s is not allowed", name);
        else
            http_reply_error(req, 404, "M_NOT_FOUND", "Profile was not found%s",
                             rr == REMOTE_UNREACHABLE ? " (the user's server did not answer)" : "");
        return NULL;
    }
    enum account_rc rc = account_profile(uid, &profile);
    if (rc == ACCOUNT_NOT_FOUND) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Profile was not found");
        return NULL;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        return NULL;
    }
    return profile;
}

void api_profile(struct http_req *req)
{
    json_t *profile = load_profile(req);
    if (profile)
        http_reply_json(req, 200, profile);
}

void api_profile_field_get(struct http_req *req)
{
    const char *field = http_param(req, 1);
    if (!field_max(field)) {
        http_reply_error(req, 404, "M_UNRECOGNIZED", "Unsupported profile field");
        return;
    }
    json_t *profile = load_profile(req);
    if (!profile)
        return;
    json_t *v = json_object_get(profile, field);
    if (!v)
        http_reply_error(req, 404, "M_NOT_FOUND", "The user has no %s", field);
    else
        http_reply_json(req, 200, json_pack("{s:O}", field, v));
    json_decref(profile);
}

void api_profile_field_put(struct http_req *req)
{
    const char *uid = http_param(req, 0), *field = http_param(req, 1);
    size_t max = field_max(field);
    bool bad = false;

    if (!max) {
        http_reply_error(req, 404, "M_UNRECOGNIZED", "Unsupported profile field");
        return;
    }
    if (strcmp(uid, http_user(req)->user_id) != 0) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Cannot set another user's profile");
        return;
    }
    json_t *body = http_json(req);
    if (!json_object_get(body, field)) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing '%s'", field);
        return;
    }
    const char *value = api_opt_string(req, body, field, &bad);
    if (bad)
        return;
    if (value && strlen(value) > max) {
        http_reply_error(req, 400, "M_BAD_JSON", "'%s' is longer than %zu bytes", field, max);
        return;
    }
    if (value && !*value)
        value = NULL; /* an empty value clears the field */
    if (account_profile_set(uid, field, value) != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    /* the member events of every joined room carry the profile (spec "Events on change of
     * profile information"); a room that refuses does not fail the profile change */
    json_t *rooms = NULL;
    if (room_joined_rooms(uid, &rooms) == ROOM_OK) {
        size_t i;
        json_t *v;
        json_array_foreach(rooms, i, v)
        {
            char why[256], *eid = NULL;
            room_membership(json_string_value(v), uid, uid, "join", NULL, NULL, &eid, why,
                            sizeof why);
            free(eid);
        }
        json_decref(rooms);
    }
    http_reply_json(req, 200, NULL);
}
