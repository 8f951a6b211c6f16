/* directory.c - finding rooms and events for other servers: GET and POST
 * /_matrix/federation/v1/publicRooms (Server-Server API "Public Room Directory"): this
 * server's published rooms, only when allow_public_rooms_over_federation is set (Synapse's
 * key, default false: 403 M_FORBIDDEN, so that a closed agency's directory is not readable by
 * every server); GET /timestamp_to_event/{roomId} ("Timestamp to event"): for servers with a
 * user in the room, subject to the room's server ACL; GET /hierarchy/{roomId} ("Spaces"): a
 * space and its direct children as the asking server may see them (server/spaces.c), subject
 * to the space's server ACL. X-Matrix authenticated by the route rows. */
#include <stdlib.h>
#include <string.h>

#include "federation/federation.h"
#include "server/room.h"

static bool allowed(struct http_req *req)
{
    if (http_config(req)->allow_public_rooms_over_federation)
        return true;
    http_reply_error(req, 403, "M_FORBIDDEN", "This server does not share its room directory");
    return false;
}

static void list(struct http_req *req, const char *search, const char *since, int limit)
{
    char why[256] = "";
    json_t *out = NULL;
    enum room_rc rc =
        room_public_rooms(search, since && *since ? since : NULL, limit, &out, why, sizeof why);
    if (rc == ROOM_OK)
        http_reply_json(req, 200, out);
    else if (rc == ROOM_BAD_PARAM)
        http_reply_error(req, 400, "M_INVALID_PARAM", "%s", why[0] ? why : "Invalid since");
    else
        http_reply_internal(req);
}

void federation_public_rooms_get(struct http_req *req)
{
    const char *limit = http_query(req, "limit");
    if (allowed(req))
        list(req, NULL, http_query(req, "since"), limit ? atoi(limit) : 0);
}

void federation_public_rooms_post(struct http_req *req)
{
    json_t *body = http_json(req), *filter = json_object_get(body, "filter");
    json_t *limit = json_object_get(body, "limit"), *since = json_object_get(body, "since");
    json_t *term = json_object_get(filter, "generic_search_term");
    if ((limit && !json_is_integer(limit)) || (filter && !json_is_object(filter)) ||
        (since && !json_is_string(since)) || (term && !json_is_string(term))) {
        http_reply_error(req, 400, "M_BAD_JSON",
                         "limit must be an integer, since and generic_search_term strings, "
                         "filter an object");
        return;
    }
    if (allowed(req))
        list(req, json_string_value(term), json_string_value(since),
             limit ? (int)json_integer_value(limit) : 0);
}

/* The engine's answer: `out` (stolen) on ROOM_OK, else the error it names. */
static void reply(struct http_req *req, enum room_rc rc, json_t *out, const char *why)
{
    switch (rc) {
    case ROOM_OK:
        http_reply_json(req, 200, out);
        break;
    case ROOM_NOT_FOUND:
        http_reply_error(req, 404, "M_NOT_FOUND", "%s", why);
        break;
    case ROOM_FORBIDDEN:
        http_reply_error(req, 403, "M_FORBIDDEN", "%s", why);
        break;
    default:
        http_reply_internal(req);
    }
}

/* A room-scoped request: the room ID looks like one (else 400) and the room's server ACL
 * lets the origin in (else 403). Answers and returns false when not. */
static bool room_scope(struct http_req *req, const char *room_id)
{
    if (room_id[0] != '!' || strlen(room_id) > 255) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
        return false;
    }
    json_t *acl = room_server_acl(room_id);
    bool ok = federation_acl_allows(req, acl);
    json_decref(acl);
    return ok;
}

void federation_timestamp_to_event(struct http_req *req)
{
    const char *room_id = http_param(req, 0), *dir = http_query(req, "dir");
    const char *ts_s = http_query(req, "ts");
    char *end = NULL, why[256] = "";
    long long ts = ts_s && *ts_s ? strtoll(ts_s, &end, 10) : -1;
    json_t *out = NULL;
    if (!ts_s || !*ts_s || *end || ts < 0 || !dir ||
        (strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "ts and dir ('f' or 'b') are required");
        return;
    }
    if (!room_scope(req, room_id))
        return;
    enum room_rc rc =
        room_timestamp_server(room_id, http_origin(req), ts, dir[0], &out, why, sizeof why);
    reply(req, rc, out, why); /* after the call: it sets out */
}

void federation_hierarchy(struct http_req *req)
{
    const char *room_id = http_param(req, 0), *so = http_query(req, "suggested_only");
    char why[256] = "";
    json_t *out = NULL;
    if (so && strcmp(so, "true") != 0 && strcmp(so, "false") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "suggested_only must be true or false");
        return;
    }
    if (!room_scope(req, room_id))
        return;
    enum room_rc rc = room_hierarchy_server(room_id, http_origin(req),
                                            so && strcmp(so, "true") == 0, &out, why, sizeof why);
    reply(req, rc, out, why);
}
