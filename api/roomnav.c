/* roomnav.c - reading around and about rooms: /context, /relations, /timestamp_to_event,
 * the room summary; and knocking, reports and upgrades (Client-Server API "Rooms",
 * "Relationships", "Reporting content", "Room Upgrades", "Knocking on rooms"). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/filter.h"
#include "server/ids.h"
#include "server/room.h"

#define MAX_REASON 1024
#define MAX_ADDITIONAL_CREATORS 100 /* per upgrade, as createRoom allows */

static bool int_query(struct http_req *req, const char *name, long long *out)
{
    const char *v = http_query(req, name);
    char *end;
    if (!v)
        return true;
    *out = strtoll(v, &end, 10);
    if (!*v || *end) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "'%s' must be an integer", name);
        return false;
    }
    return true;
}

void api_knock(struct http_req *req)
{
    api_join_target(req, http_param(req, 0), "knock");
}

void api_context(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    long long limit = 10;
    char why[512] = "";
    json_t *out = NULL, *filter = NULL;
    if (!room_id || !int_query(req, "limit", &limit))
        return;
    const char *ft = http_query(req, "filter");
    if (ft && !(filter = filter_parse_param(ft, FILTER_KIND_ROOM_EVENT, why, sizeof why))) {
        http_reply_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", why);
        return;
    }
    enum room_rc rc = room_context(room_id, http_user(req)->user_id, http_param(req, 1), (int)limit,
                                   filter, &out, why, sizeof why);
    json_decref(filter);
    api_reply_room(req, rc, out, why);
}

void api_relations(struct http_req *req)
{
    const char *room_id = api_room_param(req), *dir = http_query(req, "dir");
    long long limit = 10;
    char why[512] = "";
    json_t *out = NULL;
    if (!room_id || !int_query(req, "limit", &limit))
        return;
    if (dir && strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "dir must be 'b' or 'f'");
        return;
    }
    const char *recurse = http_query(req, "recurse");
    if (recurse && strcmp(recurse, "true") != 0 && strcmp(recurse, "false") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "recurse must be true or false");
        return;
    }
    enum room_rc rc =
        room_relations(room_id, http_user(req)->user_id, http_param(req, 1), http_param(req, 2),
                       http_param(req, 3), api_token_query(req, "from"), dir ? dir[0] : 'b', (int)limit,
                       recurse && strcmp(recurse, "true") == 0, &out, why, sizeof why);
    if (rc == ROOM_FORBIDDEN) { /* spec: 404 when "the user does not have permission to read" */
        rc = ROOM_NOT_FOUND;
        snprintf(why, sizeof why, "Event not found");
    }
    api_reply_room(req, rc, out, why);
}

void api_timestamp_to_event(struct http_req *req)
{
    const char *room_id = api_room_param(req), *dir = http_query(req, "dir");
    long long ts = -1;
    char why[512] = "";
    json_t *out = NULL;
    if (!room_id || !int_query(req, "ts", &ts))
        return;
    if (ts < 0 || !dir || (strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "ts and dir ('f' or 'b') are required");
        return;
    }
    enum room_rc rc =
        room_timestamp(room_id, http_user(req)->user_id, ts, dir[0], &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
}

void api_room_summary(struct http_req *req)
{
    const char *target = http_param(req, 0);
    char *room_id = NULL, why[512];
    json_t *out = NULL;
    if (target[0] == '#') {
        enum room_rc rc = room_alias_get(target, &room_id);
        if (rc != ROOM_OK) {
            api_reply_room_error(req, rc, "Room alias not found");
            return;
        }
        target = room_id;
    }
    const struct http_user *u = http_user(req);
    enum room_rc rc = room_summary(target, u ? u->user_id : NULL, &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
    free(room_id);
}

static void report(struct http_req *req, const char *event_id)
{
    const char *room_id = api_room_param(req);
    json_t *body = http_json(req), *score = json_object_get(body, "score");
    bool bad = false;
    char why[512] = "";
    if (!room_id)
        return;
    const char *reason = api_opt_string(req, body, "reason", &bad);
    if (bad)
        return;
    if ((score && !json_is_integer(score)) || (reason && strlen(reason) > MAX_REASON)) {
        http_reply_error(req, 400, "M_BAD_JSON", "score must be an integer, reason short");
        return;
    }
    enum room_rc rc =
        room_report(room_id, http_user(req)->user_id, event_id, reason,
                    score ? (int)json_integer_value(score) : 0, score != NULL, why, sizeof why);
    api_reply_room(req, rc, NULL, why);
}

void api_report_event(struct http_req *req)
{
    report(req, http_param(req, 1));
}

void api_report_room(struct http_req *req)
{
    report(req, NULL);
}

void api_upgrade(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    bool bad = false;
    char why[512] = "", *replacement = NULL;
    if (!room_id)
        return;
    const char *version = api_opt_string(req, http_json(req), "new_version", &bad);
    if (bad)
        return;
    if (!version) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "Missing 'new_version'");
        return;
    }
    json_t *ac = json_object_get(http_json(req), "additional_creators");
    size_t i;
    json_t *v;
    bool ok = !ac || json_is_array(ac);
    json_array_foreach(ac, i, v)
    {
        const char *lp, *srv;
        size_t ll, sl;
        ok = ok && json_is_string(v) &&
             ids_user_id_split(json_string_value(v), &lp, &ll, &srv, &sl) == 0;
    }
    if (!ok || json_array_size(ac) > MAX_ADDITIONAL_CREATORS) {
        http_reply_error(req, 400, "M_BAD_JSON",
                         "additional_creators must be a list of at most %d user IDs",
                         MAX_ADDITIONAL_CREATORS);
        return;
    }
    enum room_rc rc = room_upgrade(room_id, http_user(req)->user_id, version, ac, &replacement,
                                   why, sizeof why);
    api_reply_room(req, rc,
                   rc == ROOM_OK ? json_pack("{s:s}", "replacement_room", replacement) : NULL, why);
    free(replacement);
}

void api_hierarchy(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    const char *so = http_query(req, "suggested_only"), *lim = http_query(req, "limit");
    const char *md = http_query(req, "max_depth"), *from = api_token_query(req, "from");
    char why[256] = "", *end;
    if (!room_id)
        return;
    if (so && strcmp(so, "true") != 0 && strcmp(so, "false") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "suggested_only must be true or false");
        return;
    }
    long limit = lim ? strtol(lim, &end, 10) : 50, depth = md ? strtol(md, &end, 10) : 50;
    if ((lim && (!*lim || *end || limit < 1)) || (md && (!*md || *end || depth < 0))) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "limit and max_depth must be numbers");
        return;
    }
    limit = limit > 100 ? 100 : limit;
    depth = depth > 50 ? 50 : depth;
    json_t *out = NULL;
    enum room_rc rc = room_hierarchy(room_id, http_user(req)->user_id, so && !strcmp(so, "true"),
                                     (int)limit, (int)depth, from, &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
}

void api_threads(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    const char *inc = http_query(req, "include"), *lim = http_query(req, "limit");
    char why[256] = "", *end;
    if (!room_id)
        return;
    if (inc && strcmp(inc, "all") != 0 && strcmp(inc, "participated") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "include must be 'all' or 'participated'");
        return;
    }
    long limit = lim ? strtol(lim, &end, 10) : 10;
    if (lim && (!*lim || *end || limit < 1)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "limit must be a positive number");
        return;
    }
    json_t *out = NULL;
    enum room_rc rc = room_threads(room_id, http_user(req)->user_id,
                                   inc && strcmp(inc, "participated") == 0, api_token_query(req, "from"),
                                   (int)(limit > 1000 ? 1000 : limit), &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
}
