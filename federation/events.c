/* events.c - the Server-Server API's event retrieval endpoints this server answers
 * ("Retrieving events": GET /event/{eventId}, /state/{roomId}, /state_ids/{roomId},
 * /event_auth/{roomId}/{eventId}; "Backfilling and retrieving missing events": GET
 * /backfill/{roomId}, POST /get_missing_events/{roomId}). Every route is X-Matrix
 * authenticated by its row and applies the room's server ACL ("Server Access Control Lists":
 * 403 M_FORBIDDEN); the engine (server/room_serve.c) decides what the origin may read. This
 * file validates the request shapes and bounds (limits below) and maps the engine's answers
 * to the spec's status codes. */
#include <stdlib.h>
#include <string.h>

#include "federation/federation.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/room.h"

#define BACKFILL_MAX 100     /* /backfill limit ceiling */
#define BACKFILL_FROM_MAX 20 /* v= values read */
#define MISSING_MAX 20       /* /get_missing_events limit ceiling; 10 by default */
#define MISSING_IDS_MAX 100  /* earliest_events / latest_events entries */

/* The engine's answers as the spec's errors (columns: rc, status, errcode). */
static const struct {
    enum room_rc rc;
    int status;
    const char *errcode;
} errors[] = {
    {ROOM_NOT_FOUND, 404, "M_NOT_FOUND"},
    {ROOM_FORBIDDEN, 403, "M_FORBIDDEN"},
    {ROOM_BAD_PARAM, 400, "M_INVALID_PARAM"},
};

static void reply(struct http_req *req, enum room_rc rc, json_t *body, const char *why)
{
    if (rc == ROOM_OK) {
        http_reply_json(req, 200, body);
        return;
    }
    json_decref(body);
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (errors[i].rc == rc) {
            http_reply_error(req, errors[i].status, errors[i].errcode, "%s", why);
            return;
        }
    }
    http_reply_internal_cause(req, "%s", *why ? why : "room engine error");
}

/* A transaction-shaped answer (unlimited_pdu_transaction): origin, origin_server_ts, pdus
 * (stolen). */
static json_t *transaction(struct http_req *req, json_t *pdus)
{
    return json_pack("{s:s,s:I,s:o}", "origin", http_config(req)->server_name, "origin_server_ts",
                     (json_int_t)clock_now_ms(), "pdus", pdus);
}

/* GET /_matrix/federation/v1/event/{eventId} */
void federation_event(struct http_req *req)
{
    json_t *pdu = NULL;
    char *room_id = NULL, why[512] = "";
    enum room_rc rc =
        room_fed_event(http_origin(req), http_param(req, 0), &pdu, &room_id, why, sizeof why);
    if (rc == ROOM_OK && !federation_room_acl_allows(req, room_id)) {
        json_decref(pdu);
        free(room_id);
        return;
    }
    free(room_id);
    reply(req, rc, rc == ROOM_OK ? transaction(req, json_pack("[o]", pdu)) : NULL, why);
}

/* GET /state/{roomId}?event_id= and /state_ids/{roomId}?event_id= */
static void state(struct http_req *req, bool ids_only)
{
    const char *room_id = http_param(req, 0), *event_id = http_query(req, "event_id");
    json_t *out = NULL;
    char why[512] = "";
    if (!event_id || !*event_id) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "event_id is required");
        return;
    }
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc =
        room_fed_state(http_origin(req), room_id, event_id, ids_only, &out, why, sizeof why);
    reply(req, rc, out, why);
}

void federation_state(struct http_req *req)
{
    state(req, false);
}

void federation_state_ids(struct http_req *req)
{
    state(req, true);
}

/* GET /event_auth/{roomId}/{eventId} */
void federation_event_auth(struct http_req *req)
{
    const char *room_id = http_param(req, 0);
    json_t *out = NULL;
    char why[512] = "";
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc =
        room_fed_event_auth(http_origin(req), room_id, http_param(req, 1), &out, why, sizeof why);
    reply(req, rc, out, why);
}

/* An array of at most max strings, or NULL. */
static bool id_list(const json_t *v, size_t max)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) > max)
        return false;
    json_array_foreach((json_t *)v, i, e)
    {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

/* POST /get_missing_events/{roomId} */
void federation_get_missing_events(struct http_req *req)
{
    const char *room_id = http_param(req, 0);
    json_t *body = http_json(req), *events = NULL;
    json_t *earliest = json_object_get(body, "earliest_events");
    json_t *latest = json_object_get(body, "latest_events");
    json_t *lim = json_object_get(body, "limit"), *md = json_object_get(body, "min_depth");
    char why[512] = "";
    if (!id_list(earliest, MISSING_IDS_MAX) || !id_list(latest, MISSING_IDS_MAX) ||
        (lim && !json_is_integer(lim)) || (md && !json_is_integer(md))) {
        http_reply_error(req, 400, "M_BAD_JSON",
                         "earliest_events and latest_events must be arrays of at most %d event "
                         "IDs; limit and min_depth integers",
                         MISSING_IDS_MAX);
        return;
    }
    json_int_t limit = lim ? json_integer_value(lim) : 10;
    if (limit > MISSING_MAX)
        limit = MISSING_MAX;
    if (limit < 0)
        limit = 0;
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc = room_fed_missing(http_origin(req), room_id, earliest, latest, (int)limit,
                                       md ? json_integer_value(md) : 0, &events, why, sizeof why);
    reply(req, rc, rc == ROOM_OK ? json_pack("{s:o}", "events", events) : NULL, why);
}

/* GET /backfill/{roomId}?v=...&limit= */
void federation_backfill(struct http_req *req)
{
    const char *room_id = http_param(req, 0), *l = http_query(req, "limit");
    json_t *from = http_query_all(req, "v", BACKFILL_FROM_MAX), *pdus = NULL;
    char why[512] = "", *end = NULL;
    long limit = l ? strtol(l, &end, 10) : -1;
    if (!from || json_array_size(from) == 0 || !l || !*l || *end) {
        json_decref(from);
        http_reply_error(req, 400, "M_MISSING_PARAM", "v and an integer limit are required");
        return;
    }
    if (limit > BACKFILL_MAX)
        limit = BACKFILL_MAX;
    if (limit < 0)
        limit = 0;
    if (!federation_room_acl_allows(req, room_id)) {
        json_decref(from);
        return;
    }
    enum room_rc rc =
        room_fed_backfill(http_origin(req), room_id, from, (int)limit, &pdus, why, sizeof why);
    json_decref(from);
    reply(req, rc, rc == ROOM_OK ? transaction(req, pdus) : NULL, why);
}
