/* admin_rooms.c - Synapse's admin API for rooms, event reports and server notices, with
 * Synapse's paths, fields, offset paging and errors (docs/admin_api/rooms.md,
 * event_reports.md, server_notices.md), for server admins only (403 M_FORBIDDEN otherwise):
 *   - GET /_synapse/admin/v1/rooms, /rooms/{roomId}, .../members, .../state, .../messages,
 *     .../forward_extremities;
 *   - GET/PUT /_synapse/admin/v1/rooms/{roomId}/block;
 *   - DELETE /_synapse/admin/v2/rooms/{roomId} (server/roompurge.c runs it in the background)
 *     and its status by room and by delete_id; DELETE /_synapse/admin/v1/rooms/{roomId}, the
 *     same answered once done;
 *   - GET /_synapse/admin/v1/event_reports, GET/DELETE /event_reports/{reportId};
 *   - POST /_synapse/admin/v1/send_server_notice and PUT .../send_server_notice/{txnId}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/adminrooms.h"
#include "server/filter.h"
#include "server/ids.h"
#include "server/notices.h"
#include "server/room_txn.h"

#define DEFAULT_LIMIT 100

bool api_admin_only(struct http_req *req)
{
    if (!http_user(req)->is_admin) {
        http_reply_error(req, 403, "M_FORBIDDEN", "You are not a server admin");
        return false;
    }
    return true;
}

/* A non-negative integer query parameter (`dflt` when absent). 0, or -1 answered 400. */
static int query_count(struct http_req *req, const char *name, int64_t dflt, int64_t *out)
{
    const char *s = http_query(req, name);
    *out = dflt;
    if (!s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > INT32_MAX) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "Query parameter %s must be a string representing a positive integer.",
                         name);
        return -1;
    }
    *out = v;
    return 0;
}

int api_admin_paging(struct http_req *req, int64_t *from, int64_t *limit)
{
    return query_count(req, "from", 0, from) < 0 ||
                   query_count(req, "limit", DEFAULT_LIMIT, limit) < 0
               ? -1
               : 0;
}

int api_admin_dir(struct http_req *req, const char *dflt, bool *backwards)
{
    const char *d = http_query(req, "dir");
    if (!d)
        d = dflt;
    if (strcmp(d, "f") && strcmp(d, "b")) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Unknown direction: %s", d);
        return -1;
    }
    *backwards = strcmp(d, "b") == 0;
    return 0;
}

int api_admin_query_bool(struct http_req *req, const char *name, int dflt)
{
    const char *s = http_query(req, name);
    if (!s)
        return dflt;
    if (strcmp(s, "true") == 0)
        return 1;
    if (strcmp(s, "false") == 0)
        return 0;
    http_reply_error(req, 400, "M_INVALID_PARAM",
                     "Boolean query parameter %s must be one of "
                     "['true', 'false']",
                     name);
    return -2;
}

void api_admin_rooms_list(struct http_req *req)
{
    int64_t from, limit;
    bool backwards;
    char why[256] = "";
    json_t *out = NULL;
    if (!api_admin_only(req) || api_admin_paging(req, &from, &limit) < 0 ||
        api_admin_dir(req, "f", &backwards) < 0)
        return;
    int pub = api_admin_query_bool(req, "public_rooms", -1),
        empty = pub == -2 ? -2 : api_admin_query_bool(req, "empty_rooms", -1);
    if (pub == -2 || empty == -2)
        return;
    enum room_rc rc =
        adminrooms_list(from, limit, http_query(req, "order_by"), backwards,
                        http_query(req, "search_term"), pub, empty, &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
}

/* Path parameter 0 as a room ID for the admin API; NULL answered 400. */
static const char *admin_room(struct http_req *req)
{
    if (!api_admin_only(req))
        return NULL;
    const char *room_id = http_param(req, 0);
    if (!api_valid_room_id(room_id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "%s is not a legal room ID", room_id);
        return NULL;
    }
    return room_id;
}

static void reply_room_lookup(struct http_req *req, enum room_rc rc, json_t *out)
{
    if (rc == ROOM_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Room not found");
    else
        api_reply_room(req, rc, out, "");
}

void api_admin_room_get(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    enum room_rc rc = adminrooms_details(room_id, &out); /* before `out` is read */
    reply_room_lookup(req, rc, out);
}

void api_admin_room_members(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    enum room_rc rc = adminrooms_members(room_id, &out);
    reply_room_lookup(req, rc, out);
}

void api_admin_room_state(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    enum room_rc rc = adminrooms_state(room_id, http_query(req, "type"), &out);
    reply_room_lookup(req, rc, out);
}

void api_admin_room_extremities(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    enum room_rc rc = adminrooms_extremities(room_id, &out);
    reply_room_lookup(req, rc, out);
}

void api_admin_room_messages(struct http_req *req)
{
    json_t *out = NULL, *filter = NULL;
    bool backwards;
    int64_t limit;
    char why[256] = "";
    const char *room_id = admin_room(req);
    if (!room_id || api_admin_dir(req, "f", &backwards) < 0 ||
        query_count(req, "limit", 10, &limit) < 0)
        return;
    const char *ft = http_query(req, "filter");
    if (ft && !(filter = filter_parse_param(ft, FILTER_KIND_ROOM_EVENT, why, sizeof why))) {
        http_reply_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", why);
        return;
    }
    enum room_rc rc =
        adminrooms_messages(room_id, api_token_query(req, "from"), api_token_query(req, "to"),
                            !backwards, (int)limit, filter, &out, why, sizeof why);
    json_decref(filter);
    if (rc == ROOM_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Room not found");
    else
        api_reply_room(req, rc, out, why);
}

void api_admin_room_block_get(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    enum room_rc rc = adminrooms_block_get(room_id, &out);
    api_reply_room(req, rc, out, "");
}

void api_admin_room_block_put(struct http_req *req)
{
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    json_t *block = json_object_get(http_json(req), "block");
    if (!json_is_boolean(block)) {
        http_reply_error(req, 400, "M_BAD_JSON", "Param 'block' must be a boolean.");
        return;
    }
    enum room_rc rc = adminrooms_block_set(room_id, json_is_true(block), http_user(req)->user_id);
    api_reply_room(req, rc, json_pack("{s:b}", "block", json_is_true(block)), "");
}

/* Read a room deletion's body (v1 and v2) and start it: the delete ID (malloc'd), or NULL
 * (answered). */
static char *start_delete(struct http_req *req, const char *room_id, bool v1)
{
    json_t *body = http_json(req);
    bool bad = false;
    char why[256] = "", *delete_id = NULL;
    if (!json_is_object(body)) {
        http_reply_error(req, 400, "M_NOT_JSON", "The body must be a JSON object, at least {}");
        return NULL;
    }
    struct roompurge_params p = {
        .new_room_user_id = api_opt_string(req, body, "new_room_user_id", &bad),
        .room_name = bad ? NULL : api_opt_string(req, body, "room_name", &bad),
        .message = bad ? NULL : api_opt_string(req, body, "message", &bad),
        .requester = http_user(req)->user_id,
    };
    static const char *const flags[] = {"block", "purge", "force_purge"};
    bool *dest[] = {&p.block, &p.purge, &p.force_purge};
    for (size_t i = 0; i < 3 && !bad; i++) {
        json_t *v = json_object_get(body, flags[i]);
        if (v && !json_is_boolean(v)) {
            http_reply_error(req, 400, "M_BAD_JSON", "Param '%s' must be a boolean, if given",
                             flags[i]);
            return NULL;
        }
        *dest[i] = v ? json_is_true(v) : strcmp(flags[i], "purge") == 0;
    }
    if (bad)
        return NULL;
    if (p.new_room_user_id && !ids_is_local(p.new_room_user_id)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "User must be our own: %s",
                         p.new_room_user_id);
        return NULL;
    }
    json_t *known = NULL;
    if (v1 && !p.block && adminrooms_details(room_id, &known) == ROOM_NOT_FOUND) {
        /* v1: only a block may name a room unknown here */
        http_reply_error(req, 400, "M_UNKNOWN", "Room not found: %s", room_id);
        return NULL;
    }
    json_decref(known);
    enum room_rc rc = roompurge_start(room_id, &p, &delete_id, why, sizeof why);
    if (rc == ROOM_IN_USE)
        http_reply_error(req, 400, "M_UNKNOWN", "%s", why);
    else if (rc != ROOM_OK)
        http_reply_failure(req, 503, "M_UNKNOWN", why[0] ? why : "Could not start the deletion");
    return rc == ROOM_OK ? delete_id : NULL;
}

void api_admin_room_delete(struct http_req *req)
{
    const char *room_id = admin_room(req);
    char *delete_id = room_id ? start_delete(req, room_id, false) : NULL;
    if (!delete_id)
        return;
    http_reply_json(req, 200, json_pack("{s:s}", "delete_id", delete_id));
    free(delete_id);
}

/* DELETE /_synapse/admin/v1/rooms/{roomId}: the same, answered when it has ended (waited for
 * on a parked request's thread). */
#define V1_WAIT_MS (15 * 60 * 1000)
struct v1_job {
    char *delete_id;
    enum room_rc rc;
    json_t *status;
};

static void v1_run(void *arg)
{
    struct v1_job *j = arg;
    j->rc = roompurge_wait(j->delete_id, V1_WAIT_MS, &j->status);
}

static void v1_finish(struct http_req *req, void *arg)
{
    struct v1_job *j = arg;
    const char *st = json_string_value(json_object_get(j->status, "status"));
    if (j->rc != ROOM_OK)
        http_reply_error(req, 503, "M_UNKNOWN", "The deletion %s goes on in the background",
                         j->delete_id);
    else if (strcmp(st, "complete") != 0)
        http_reply_error(req, 400, "M_UNKNOWN", "%s",
                         json_string_value(json_object_get(j->status, "error")));
    else
        http_reply_json(req, 200, json_incref(json_object_get(j->status, "shutdown_room")));
}

static void v1_free(void *arg)
{
    struct v1_job *j = arg;
    free(j->delete_id);
    json_decref(j->status);
    free(j);
}

void api_admin_room_delete_v1(struct http_req *req)
{
    const char *room_id = admin_room(req);
    char *delete_id = room_id ? start_delete(req, room_id, true) : NULL;
    if (!delete_id)
        return;
    struct v1_job *j = calloc(1, sizeof *j);
    if (!j) {
        free(delete_id);
        http_reply_internal(req);
        return;
    }
    j->delete_id = delete_id;
    api_run_parked(req, v1_run, v1_finish, v1_free, j);
}

void api_admin_room_delete_status(struct http_req *req)
{
    json_t *out = NULL;
    const char *room_id = admin_room(req);
    if (!room_id)
        return;
    if (roompurge_status_room(room_id, &out) != ROOM_OK) {
        http_reply_error(req, 404, "M_NOT_FOUND", "No delete task for room_id '%s' found", room_id);
        return;
    }
    http_reply_json(req, 200, out);
}

void api_admin_delete_status(struct http_req *req)
{
    json_t *out = NULL;
    if (!api_admin_only(req))
        return;
    const char *id = http_param(req, 0);
    if (roompurge_status_id(id, &out) != ROOM_OK) {
        http_reply_error(req, 404, "M_NOT_FOUND", "delete id '%s' not found", id);
        return;
    }
    http_reply_json(req, 200, out);
}

/* --- event reports -------------------------------------------------------------------------- */

void api_admin_reports(struct http_req *req)
{
    int64_t from, limit;
    bool backwards;
    json_t *out = NULL;
    if (!api_admin_only(req) || api_admin_paging(req, &from, &limit) < 0 ||
        api_admin_dir(req, "b", &backwards) < 0)
        return;
    enum room_rc rc = adminrooms_reports(from, limit, !backwards, http_query(req, "room_id"),
                                         http_query(req, "user_id"),
                                         http_query(req, "event_sender_user_id"), &out);
    api_reply_room(req, rc, out, "");
}

/* Path parameter 0 as a report ID: 0, or -1 answered 400. */
static int report_id(struct http_req *req, int64_t *id)
{
    const char *s = http_param(req, 0);
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "The report_id parameter must be a string representing a positive "
                         "integer.");
        return -1;
    }
    *id = v;
    return 0;
}

void api_admin_report_get(struct http_req *req)
{
    int64_t id;
    json_t *out = NULL;
    if (!api_admin_only(req) || report_id(req, &id) < 0)
        return;
    enum room_rc rc = adminrooms_report_get(id, &out);
    if (rc == ROOM_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Event report not found");
    else
        api_reply_room(req, rc, out, "");
}

void api_admin_report_delete(struct http_req *req)
{
    int64_t id;
    if (!api_admin_only(req) || report_id(req, &id) < 0)
        return;
    enum room_rc rc = adminrooms_report_delete(id);
    if (rc == ROOM_NOT_FOUND)
        http_reply_error(req, 404, "M_NOT_FOUND", "Event report not found");
    else
        api_reply_room(req, rc, json_object(), "");
}

/* --- server notices ------------------------------------------------------------------------- */

static void send_notice(struct http_req *req, const char *txn_id)
{
    json_t *body = http_json(req);
    bool bad = false;
    char why[256] = "", *event_id = NULL;
    if (!api_admin_only(req))
        return;
    const char *user_id = api_opt_string(req, body, "user_id", &bad);
    const char *type = bad ? NULL : api_opt_string(req, body, "type", &bad);
    const char *state_key = bad ? NULL : api_opt_string(req, body, "state_key", &bad);
    if (bad)
        return;
    json_t *content = json_object_get(body, "content");
    if (!user_id || !json_is_object(content)) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "user_id and content are required");
        return;
    }
    /* retransmissions of one admin device's txnId give the first event again (the path
     * has no other part: the same txnId for another user is the same request, as in
     * Synapse); migration 0140 knows this device shape */
    char dev[600], key[ROOM_TXN_KEY_MAX];
    snprintf(dev, sizeof dev, "admin:%s:%s", http_user(req)->user_id,
             http_user(req)->device_id ? http_user(req)->device_id : "");
    static const char *const path[] = {"send_server_notice"};
    if (txn_id && room_txn_key(key, sizeof key, txn_id, path, 1) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Transaction ID too long");
        return;
    }
    struct room_txn txn = {.device_id = dev, .txn_id = key};
    enum room_rc rc = notices_send(http_config(req), user_id, type, state_key, content,
                                   txn_id ? &txn : NULL, &event_id, why, sizeof why);
    if (rc == ROOM_BAD_PARAM)
        http_reply_error(req, 400, "M_UNKNOWN", "%s", why);
    else if (rc == ROOM_OK)
        http_reply_json(req, 200, json_pack("{s:s}", "event_id", event_id));
    else
        api_reply_room_error(req, rc, why);
    free(event_id);
}

void api_admin_server_notice(struct http_req *req)
{
    send_notice(req, NULL);
}

void api_admin_server_notice_txn(struct http_req *req)
{
    send_notice(req, http_param(req, 0));
}
