/* room_fedread.c - events this server hands to other servers that ask (Server-Server API
 * "Retrieving events": GET /event/{eventId}; "Backfilling and retrieving missing events":
 * POST /get_missing_events/{roomId}), which is what a receiving server's fetcher uses to close
 * a gap before a PDU.
 *
 * Who may read: a server with a joined member in the room now, and allowed by the room's
 * m.room.server_acl. This is narrower than the spec's history visibility for servers (which
 * also lets a server read events from while it was in the room): enough for closing gaps in
 * the live DAG. Rejected events are never handed out. */
#include <stdlib.h>
#include <string.h>

#include "server/fedacl.h"
#include "server/room.h"
#include "storage/events.h"

#define MISSING_MAX_LIMIT 50
#define MISSING_MAX_VISITS 200

/* Is `origin` in room_id and allowed by its ACL? */
static bool may_read(const char *origin, const char *room_id)
{
    json_t *servers = room_servers(room_id);
    bool in = false;
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), origin) == 0)
            in = true;
    }
    json_decref(servers);
    if (!in)
        return false;
    json_t *acl = room_server_acl(room_id);
    bool ok = fedacl_allowed(acl, origin);
    json_decref(acl);
    return ok;
}

enum room_rc room_event_for_server(const char *origin, const char *event_id, json_t **pdu)
{
    struct db_event e;
    *pdu = NULL;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int found = db_events_get(c, event_id, &e);
    db_put(c);
    if (found < 0)
        return ROOM_ERR;
    if (found == 0)
        return ROOM_NOT_FOUND;
    enum room_rc rc = ROOM_NOT_FOUND;
    if (!e.rejected && may_read(origin, e.room_id)) {
        *pdu = json_incref(e.pdu);
        rc = ROOM_OK;
    }
    db_event_clear(&e);
    return rc;
}

/* The event IDs of a PDU's prev_events (v1/v2: [id, hashes] pairs) into `queue`. */
static void push_prevs(json_t *queue, const json_t *pdu)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pdu, "prev_events"), i, p)
    {
        json_t *id = json_is_array(p) ? json_array_get(p, 0) : p;
        if (json_is_string(id))
            json_array_append(queue, id);
    }
}

static int by_depth(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "depth"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "depth"));
    return x < y ? -1 : x > y;
}

enum room_rc room_missing_events(const char *origin, const char *room_id, const json_t *earliest,
                                 const json_t *latest, int limit, int64_t min_depth,
                                 json_t **events)
{
    *events = NULL;
    if (!room_is_resident(room_id) || !may_read(origin, room_id))
        return ROOM_FORBIDDEN;
    if (limit < 1)
        limit = 1;
    if (limit > MISSING_MAX_LIMIT)
        limit = MISSING_MAX_LIMIT;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    json_t *seen = json_object(), *queue = json_array(), *found = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(earliest, i, v)
    {
        if (json_is_string(v))
            json_object_set(seen, json_string_value(v), json_true());
    }
    /* from the latest events (which the asking server has) backwards */
    json_array_foreach(latest, i, v)
    {
        struct db_event e;
        if (i >= MISSING_MAX_LIMIT || !json_is_string(v))
            break;
        json_object_set(seen, json_string_value(v), json_true());
        if (db_events_get(c, json_string_value(v), &e) == 1) {
            if (e.room_id && strcmp(e.room_id, room_id) == 0)
                push_prevs(queue, e.pdu);
            db_event_clear(&e);
        }
    }
    enum room_rc rc = ROOM_OK;
    for (size_t at = 0, visits = 0;
         at < json_array_size(queue) && json_array_size(found) < (size_t)limit &&
         visits < MISSING_MAX_VISITS;
         at++, visits++) {
        const char *id = json_string_value(json_array_get(queue, at));
        if (json_object_get(seen, id))
            continue;
        json_object_set(seen, id, json_true());
        struct db_event e;
        int got = db_events_get(c, id, &e);
        if (got < 0) {
            rc = ROOM_ERR;
            break;
        }
        if (got == 0)
            continue;
        bool ok =
            !e.rejected && e.room_id && strcmp(e.room_id, room_id) == 0 && e.depth >= min_depth;
        if (ok) {
            json_array_append(found, e.pdu);
            push_prevs(queue, e.pdu);
        }
        db_event_clear(&e);
    }
    db_put(c);
    json_decref(seen);
    json_decref(queue);
    if (rc != ROOM_OK) {
        json_decref(found);
        return rc;
    }
    /* oldest first */
    size_t n = json_array_size(found);
    json_t **items = n ? malloc(n * sizeof *items) : NULL;
    json_t *out = json_array();
    if (n && !items) {
        json_decref(found);
        json_decref(out);
        return ROOM_ERR;
    }
    for (i = 0; i < n; i++)
        items[i] = json_array_get(found, i);
    if (n)
        qsort(items, n, sizeof *items, by_depth);
    for (i = 0; i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    json_decref(found);
    *events = out;
    return ROOM_OK;
}
