/* fetch.c - the engine's event fetcher (server/room.h struct room_fetcher) over signed
 * federation requests: GET /event/{eventId}, POST /get_missing_events/{roomId} and GET
 * /state_ids/{roomId} (Server-Server API "Retrieving events", "Backfilling and retrieving
 * missing events"). The answers are untrusted: the engine checks every PDU. Each request is
 * bounded by FETCH_TIMEOUT_MS; the engine bounds how many it makes. */
#include <stdio.h>

#include "federation/federation.h"
#include "server/remote.h"
#include "server/room.h"

#define FETCH_TIMEOUT_MS 15000

/* GET or POST path to server; the answer (new) when it is 200 and an object, else NULL. */
static json_t *ask(const char *server, const char *method, const char *path, json_t *body)
{
    json_t *out = NULL;
    char err[256];
    int status =
        federation_request(server, method, path, body, FETCH_TIMEOUT_MS, &out, err, sizeof err);
    if (status != 200 || !json_is_object(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *get_event(void *ctx, const char *server, const char *room_id, const char *event_id)
{
    char enc[1024], path[1200];
    if (remote_encode(event_id, enc, sizeof enc) < 0)
        return NULL;
    snprintf(path, sizeof path, "/_matrix/federation/v1/event/%s", enc);
    json_t *ans = ask(server, "GET", path, NULL);
    json_t *pdu = json_incref(json_array_get(json_object_get(ans, "pdus"), 0));
    json_decref(ans);
    return pdu;
}

static json_t *get_missing_events(void *ctx, const char *server, const char *room_id,
                                  const json_t *earliest, const json_t *latest, int limit,
                                  int64_t min_depth)
{
    char enc[1024], path[1200];
    if (remote_encode(room_id, enc, sizeof enc) < 0)
        return NULL;
    snprintf(path, sizeof path, "/_matrix/federation/v1/get_missing_events/%s", enc);
    json_t *body = json_pack("{s:O,s:O,s:i,s:I}", "earliest_events", earliest, "latest_events",
                             latest, "limit", limit, "min_depth", (json_int_t)min_depth);
    json_t *ans = body ? ask(server, "POST", path, body) : NULL;
    json_decref(body);
    json_t *events = json_object_get(ans, "events");
    json_t *out = json_is_array(events) ? json_incref(events) : NULL;
    json_decref(ans);
    return out;
}

static json_t *get_state_ids(void *ctx, const char *server, const char *room_id,
                             const char *event_id)
{
    char r[1024], e[1024], path[2200];
    if (remote_encode(room_id, r, sizeof r) < 0 || remote_encode(event_id, e, sizeof e) < 0)
        return NULL;
    snprintf(path, sizeof path, "/_matrix/federation/v1/state_ids/%s?event_id=%s", r, e);
    return ask(server, "GET", path, NULL);
}

void federation_fetcher_register(void)
{
    static const struct room_fetcher f = {get_event, get_missing_events, get_state_ids, NULL};
    room_set_fetcher(&f);
}
