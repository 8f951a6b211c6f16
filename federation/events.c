/* events.c - GET /_matrix/federation/v1/event/{eventId} and POST
 * /_matrix/federation/v1/get_missing_events/{roomId} (Server-Server API "Retrieving events",
 * "Backfilling and retrieving missing events"): what another server's fetcher asks for when a
 * PDU we sent refers to events it lacks. The engine decides who may read
 * (server/room_fedread.c); this file checks shapes and answers. */
#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/clock.h"
#include "server/room.h"

#define MAX_IDS 50

void federation_get_event(struct http_req *req)
{
    json_t *pdu = NULL;
    enum room_rc rc = room_event_for_server(http_origin(req), http_param(req, 0), &pdu);
    if (rc == ROOM_ERR) {
        http_reply_internal(req);
        return;
    }
    if (rc != ROOM_OK) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Event not found");
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s,s:I,s:[o]}", "origin", fed_cfg->server_name, "origin_server_ts",
                              (json_int_t)clock_now_ms(), "pdus", pdu));
}

static bool id_list(const json_t *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a) || json_array_size(a) > MAX_IDS)
        return false;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

void federation_get_missing_events(struct http_req *req)
{
    json_t *body = http_json(req), *events = NULL;
    json_t *earliest = json_object_get(body, "earliest_events");
    json_t *latest = json_object_get(body, "latest_events");
    json_t *limit = json_object_get(body, "limit"), *min_depth = json_object_get(body, "min_depth");
    if (!id_list(earliest) || !id_list(latest) || (limit && !json_is_integer(limit)) ||
        (min_depth && !json_is_integer(min_depth))) {
        http_reply_error(req, 400, "M_BAD_JSON",
                         "earliest_events and latest_events (at most %d IDs each) are required",
                         MAX_IDS);
        return;
    }
    enum room_rc rc = room_missing_events(http_origin(req), http_param(req, 0), earliest, latest,
                                          limit ? (int)json_integer_value(limit) : 10,
                                          min_depth ? json_integer_value(min_depth) : 0, &events);
    if (rc == ROOM_FORBIDDEN)
        http_reply_error(req, 403, "M_FORBIDDEN", "Server is not in the room");
    else if (rc != ROOM_OK)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, json_pack("{s:o}", "events", events));
}
