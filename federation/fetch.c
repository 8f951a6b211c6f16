/* fetch.c - the engine's event fetcher (server/room.h struct room_fetcher) over signed
 * federation requests: GET /event/{eventId}, POST /get_missing_events/{roomId} and GET
 * /state_ids/{roomId} (Server-Server API "Retrieving events", "Backfilling and retrieving
 * missing events") and GET /backfill/{roomId}. The answers are untrusted: the engine checks
 * every PDU. The server named is asked first; when it gives no usable answer, up to
 * FETCH_OTHERS other servers of the room (its joined members' servers, this one excluded) are
 * asked in turn. Each request is bounded by FETCH_TIMEOUT_MS, all tries of one call by
 * FETCH_TOTAL_MS; the engine bounds how many calls it makes. */
#include <stdio.h>
#include <string.h>

#include "federation/federation.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/remote.h"
#include "server/room.h"

#define FETCH_TIMEOUT_MS 15000
#define FETCH_TOTAL_MS 30000
#define FETCH_OTHERS 2

/* Picks the useful part of an answer (new reference) or NULL. */
typedef json_t *(*pick_fn)(json_t *answer);

static json_t *pick_all(json_t *ans)
{
    return json_incref(ans);
}

/* GET or POST path to `server`, then (no 200 object, or pick finds nothing) to up to
 * FETCH_OTHERS other servers of room_id while FETCH_TOTAL_MS lasts: the picked part of the
 * first usable answer, or NULL. */
static json_t *ask(const char *server, const char *room_id, const char *method, const char *path,
                   json_t *body, pick_fn pick)
{
    json_t *servers = NULL, *got = NULL;
    int64_t until = clock_now_ms() + FETCH_TOTAL_MS;
    const char *dest = server;
    size_t next = 0;
    for (int tries = 0; dest && tries <= FETCH_OTHERS; tries++) {
        long left = (long)(until - clock_now_ms());
        if (left <= 0)
            break;
        json_t *out = NULL;
        char err[256];
        int status = federation_request(dest, method, path, body,
                                        left < FETCH_TIMEOUT_MS ? left : FETCH_TIMEOUT_MS, &out,
                                        err, sizeof err);
        got = status == 200 && json_is_object(out) ? pick(out) : NULL;
        json_decref(out);
        if (got)
            break;
        if (!servers && !(servers = room_servers(room_id)))
            break;
        dest = NULL; /* the next other server of the room */
        while (!dest && next < json_array_size(servers)) {
            const char *s = json_string_value(json_array_get(servers, next++));
            if (s && strcmp(s, server) != 0 && !ids_is_local_server(s))
                dest = s;
        }
    }
    json_decref(servers);
    return got;
}

static json_t *pick_first_pdu(json_t *ans)
{
    json_t *pdu = json_array_get(json_object_get(ans, "pdus"), 0);
    return json_is_object(pdu) ? json_incref(pdu) : NULL;
}

/* A non-empty array under `key` (an empty one: that server has nothing, ask another). */
static json_t *pick_nonempty(json_t *ans, const char *key)
{
    json_t *arr = json_object_get(ans, key);
    return json_is_array(arr) && json_array_size(arr) ? json_incref(arr) : NULL;
}

static json_t *pick_events(json_t *ans)
{
    return pick_nonempty(ans, "events");
}

static json_t *pick_pdus(json_t *ans)
{
    return pick_nonempty(ans, "pdus");
}

static json_t *get_event(void *ctx, const char *server, const char *room_id, const char *event_id)
{
    char enc[1024], path[1200];
    if (remote_encode(event_id, enc, sizeof enc) < 0)
        return NULL;
    snprintf(path, sizeof path, "/_matrix/federation/v1/event/%s", enc);
    return ask(server, room_id, "GET", path, NULL, pick_first_pdu);
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
    json_t *out = body ? ask(server, room_id, "POST", path, body, pick_events) : NULL;
    json_decref(body);
    return out;
}

static json_t *get_state_ids(void *ctx, const char *server, const char *room_id,
                             const char *event_id)
{
    char r[1024], e[1024], path[2200];
    if (remote_encode(room_id, r, sizeof r) < 0 || remote_encode(event_id, e, sizeof e) < 0)
        return NULL;
    snprintf(path, sizeof path, "/_matrix/federation/v1/state_ids/%s?event_id=%s", r, e);
    return ask(server, room_id, "GET", path, NULL, pick_all);
}

#define BACKFILL_FROM_MAX 20

static json_t *backfill(void *ctx, const char *server, const char *room_id, const json_t *from,
                        int limit)
{
    char enc[1024], path[24 * 1024];
    size_t i;
    json_t *v;
    if (remote_encode(room_id, enc, sizeof enc) < 0)
        return NULL;
    int len =
        snprintf(path, sizeof path, "/_matrix/federation/v1/backfill/%s?limit=%d", enc, limit);
    json_array_foreach((json_t *)from, i, v)
    {
        if (i >= BACKFILL_FROM_MAX || remote_encode(json_string_value(v), enc, sizeof enc) < 0)
            break;
        int w = snprintf(path + len, sizeof path - (size_t)len, "&v=%s", enc);
        if (w < 0 || (size_t)w >= sizeof path - (size_t)len)
            return NULL;
        len += w;
    }
    return ask(server, room_id, "GET", path, NULL, pick_pdus);
}

void federation_fetcher_register(void)
{
    static const struct room_fetcher f = {.get_event = get_event,
                                          .get_missing_events = get_missing_events,
                                          .get_state_ids = get_state_ids,
                                          .backfill = backfill};
    room_set_fetcher(&f);
}
