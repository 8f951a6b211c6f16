/* directory.c - the public room directory (Client-Server API "Room discovery": GET/POST
 * /publicRooms, /directory/list/room/{roomId}). The `server` parameter naming another server
 * asks that server (/_matrix/federation/v1/publicRooms, server/remote.c); that needs an access
 * token, so that anonymous clients cannot make this server send requests. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/ids.h"
#include "server/remote.h"
#include "server/room.h"

/* Answer from another server's directory; false when `server` is this server (or absent). */
static bool other_server(struct http_req *req, const char *server, const char *since, int limit,
                         const json_t *filter)
{
    if (!server || ids_is_local_server(server))
        return false;
    if (!http_user(req)) {
        http_reply_error(req, 401, "M_MISSING_TOKEN",
                         "Other servers' directories need an access token");
        return true;
    }
    json_t *out = NULL;
    int status = 0;
    switch (remote_public_rooms(server, since, limit, filter, &out, &status)) {
    case REMOTE_OK:
        http_reply_json(req, 200, out);
        break;
    case REMOTE_REFUSED:
        http_reply_error(req, 403, "M_FORBIDDEN", "Federation with %s is not allowed", server);
        break;
    default:
        if (status == 403)
            http_reply_error(req, 403, "M_FORBIDDEN", "%s does not share its room directory",
                             server);
        else
            http_reply_error(req, 502, "M_UNKNOWN", "Could not fetch the room directory of %s",
                             server);
    }
    return true;
}

static void list(struct http_req *req, const char *search, const char *since, int limit)
{
    char why[256] = "";
    json_t *out = NULL;
    enum room_rc rc = room_public_rooms(search, since, limit, &out, why, sizeof why);
    api_reply_room(req, rc, out, why);
}

void api_public_rooms_get(struct http_req *req)
{
    const char *limit = http_query(req, "limit");
    if (other_server(req, http_query(req, "server"), http_query(req, "since"),
                     limit ? atoi(limit) : 0, NULL))
        return;
    list(req, NULL, api_token_query(req, "since"), limit ? atoi(limit) : 0);
}

void api_public_rooms_post(struct http_req *req)
{
    json_t *body = http_json(req), *filter = json_object_get(body, "filter");
    json_t *limit = json_object_get(body, "limit");
    bool bad = false;
    const char *since = api_opt_string(req, body, "since", &bad);
    const char *search = filter ? api_opt_string(req, filter, "generic_search_term", &bad) : NULL;
    if (bad)
        return;
    if ((limit && !json_is_integer(limit)) || (filter && !json_is_object(filter))) {
        http_reply_error(req, 400, "M_BAD_JSON", "limit must be an integer, filter an object");
        return;
    }
    if (other_server(req, http_query(req, "server"), since && *since ? since : NULL,
                     limit ? (int)json_integer_value(limit) : 0,
                     filter))
        return;
    list(req, search, since && *since ? since : NULL, limit ? (int)json_integer_value(limit) : 0);
}

void api_directory_list_get(struct http_req *req)
{
    bool pub;
    const char *room_id = api_room_param(req);
    if (!room_id)
        return;
    enum room_rc rc = room_visibility(room_id, &pub);
    if (rc == ROOM_OK)
        http_reply_json(req, 200, json_pack("{s:s}", "visibility", pub ? "public" : "private"));
    else
        api_reply_room_error(req, rc, "Unknown room");
}

void api_directory_list_put(struct http_req *req)
{
    const char *room_id = api_room_param(req);
    bool bad = false;
    char why[256] = "";
    if (!room_id)
        return;
    const char *vis = api_opt_string(req, http_json(req), "visibility", &bad);
    if (bad)
        return;
    if (vis && strcmp(vis, "public") != 0 && strcmp(vis, "private") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "visibility must be public or private");
        return;
    }
    const struct http_user *u = http_user(req);
    enum room_rc rc = room_set_visibility(room_id, u->user_id, u->is_admin,
                                          vis && strcmp(vis, "public") == 0, why, sizeof why);
    api_reply_room(req, rc, NULL, why);
}
