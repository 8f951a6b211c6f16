/* room_backfill.c - extending a room's history backwards with events of other servers
 * (Server-Server API "Backfilling and retrieving missing events"): when a client pages
 * /messages back past the earliest event this server has (history from before it joined),
 * the room's other servers are asked with /backfill (the registered fetcher) and what they
 * answer is checked and stored below the existing history.
 *
 * Invariants:
 *   1. A backfilled event passed steps 1-4 of "Checks performed on receipt of a PDU" (format,
 *      signatures, content hash, auth against its own auth events); one that fails step 4 is
 *      stored rejected as an outlier and never shown.
 *   2. Backfilled events get negative stream orderings (storage/backfill.h): /messages orders
 *      by (depth, stream) and finds them where their depth puts them, /sync never sees them
 *      as new; they are no forward extremity and never change current state.
 *   3. Their state group is the state before the earliest event the room had (for a room
 *      joined over federation: the state the join came into), which decides who may read
 *      them (history visibility). Their own state is not computed (no /state_ids per event).
 *   4. The fetcher is called outside any room lock and without a database connection held;
 *      a room whose backfill got nothing is not asked again for BACKFILL_RETRY_MS. */
#include "server/room.h"
#include "server/room_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "storage/backfill.h"
#include "storage/events.h"
#include "storage/state.h"

#define BACKFILL_RETRY_MS 30000
#define BACKFILL_AUTH_FETCHES 50 /* missing auth events fetched for one backfill */
#define RECENT_SLOTS 64

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* --- rooms whose backfill got nothing lately ------------------------------------------------ */

static pthread_mutex_t recent_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char room[256];
    int64_t until;
} recent[RECENT_SLOTS];

static bool recently_empty(const char *room_id)
{
    bool hit = false;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&recent_mu);
    for (size_t i = 0; i < RECENT_SLOTS && !hit; i++)
        hit = recent[i].until > now && strcmp(recent[i].room, room_id) == 0;
    pthread_mutex_unlock(&recent_mu);
    return hit;
}

static void mark_empty(const char *room_id)
{
    size_t oldest = 0;
    pthread_mutex_lock(&recent_mu);
    for (size_t i = 0; i < RECENT_SLOTS; i++) {
        if (strcmp(recent[i].room, room_id) == 0 || recent[i].until < recent[oldest].until) {
            oldest = i;
            if (strcmp(recent[i].room, room_id) == 0)
                break;
        }
    }
    snprintf(recent[oldest].room, sizeof recent[oldest].room, "%s", room_id);
    recent[oldest].until = clock_now_ms() + BACKFILL_RETRY_MS;
    pthread_mutex_unlock(&recent_mu);
}

/* --- storing one event ------------------------------------------------------------------------ */

/* The state group backfilled events are read with (invariant 3), for the receive below. */
static _Thread_local int64_t backfill_group;

/* Under the room's writer lock: step 4, then the event's place (invariant 2). */
static enum room_recv backfill_locked(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                                      const char *id, json_t *missing, char *why, size_t n)
{
    (void)b;
    char reason[300] = "";
    enum room_recv out = ROOM_RECV_ERR;
    int a = room_recv_admit(x, ev, id, missing, reason, sizeof reason, &out, why, n);
    if (a < 0)
        return out;
    /* a == 2: stored (an outlier, say): it still gets its place in the timeline below */
    json_t *prevs = room_recv_prev_ids(ev);
    if (a == 1) {
        int ins = room_recv_insert(x, ev, id, 0, reason, true, false, prevs, NULL, false);
        json_decref(prevs);
        snprintf(why, n, "rejected: %s", reason);
        return ins < 0 ? ROOM_RECV_ERR : ROOM_RECV_REJECTED;
    }
    char *text = room_recv_stored_text(x->rv, ev);
    struct db_event_meta m;
    room_recv_meta(ev, id, x->room_id, &m);
    m.state_group = backfill_group;
    int64_t stream = 0;
    int rc = text ? db_backfill_store(x->c, &m, text, prevs, &stream) : -1;
    free(text);
    json_decref(prevs);
    if (rc < 0)
        return ROOM_RECV_ERR;
    if (rc == 1) {
        snprintf(why, n, "already stored");
        return ROOM_RECV_DUPLICATE;
    }
    snprintf(why, n, "backfilled at %lld", (long long)stream);
    return ROOM_RECV_ACCEPTED;
}

/* Sort PDUs by depth, shallowest first (insertion sort: at most ROOM_BACKFILL_MAX). */
static void by_depth(json_t *pdus)
{
    for (size_t i = 1; i < json_array_size(pdus); i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(pdus, j - 1), *b = json_array_get(pdus, j);
            if (json_integer_value(json_object_get(a, "depth")) <=
                json_integer_value(json_object_get(b, "depth")))
                break;
            json_incref(a);
            json_array_set(pdus, j - 1, b);
            json_array_set_new(pdus, j, a);
        }
    }
}

/* What to ask for: the prev events of the room's earliest timeline event that have no place
 * here (new array, empty when none), and the group to read backfilled events with. */
static json_t *wanted(const char *room_id, int64_t *group)
{
    struct dbc *c = db_get();
    char *eid = NULL;
    int64_t stream = 0, g = 0;
    json_t *out = NULL, *prevs = NULL, *placed = NULL;
    struct db_event e = {0};
    if (!c)
        return NULL;
    int got = db_backfill_earliest(c, room_id, &eid, &stream, &g);
    if (got <= 0) {
        out = got == 0 ? json_array() : NULL;
        goto out;
    }
    if (db_events_get(c, eid, &e) != 1)
        goto out;
    prevs = room_recv_prev_ids(e.pdu);
    if (!prevs || !(placed = db_backfill_placed(c, room_id, prevs)))
        goto out;
    out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(prevs, i, v)
    {
        if (!json_object_get(placed, json_string_value(v)))
            json_array_append(out, v);
    }
    /* invariant 3: a backfilled event's group, else the state before the earliest event */
    if (stream < 0 || !str(e.pdu, "state_key"))
        *group = g;
    else if ((*group = db_state_group_parent(c, g)) < 0) {
        json_decref(out);
        out = NULL;
    }
out:
    if (e.event_id)
        db_event_clear(&e);
    free(eid);
    json_decref(prevs);
    json_decref(placed);
    db_put(c);
    return out;
}

bool room_backfill_wanted(const char *room_id)
{
    int64_t group = 0;
    if (!room_fetcher()->backfill || recently_empty(room_id))
        return false;
    json_t *from = wanted(room_id, &group);
    bool yes = json_array_size(from) > 0;
    json_decref(from);
    if (!yes && from)
        mark_empty(room_id);
    return yes;
}

int room_backfill(const char *room_id, int limit)
{
    const struct room_fetcher *f = room_fetcher();
    if (!f->backfill || recently_empty(room_id))
        return 0;
    if (limit <= 0 || limit > ROOM_BACKFILL_MAX)
        limit = ROOM_BACKFILL_MAX;
    int64_t group = 0;
    json_t *from = wanted(room_id, &group), *servers = NULL, *pdus = NULL;
    const char *origin = NULL;
    int stored = 0, budget = BACKFILL_AUTH_FETCHES;
    if (!from)
        return -1;
    if (json_array_size(from) == 0)
        goto out;
    if (!(servers = room_servers(room_id))) {
        stored = -1;
        goto out;
    }
    size_t i, asked = 0;
    json_t *v;
    json_array_foreach(servers, i, v)
    {
        origin = json_string_value(v);
        if (ids_is_local_server(origin))
            continue;
        if (asked++ >= ROOM_BACKFILL_SERVERS)
            break;
        pdus = f->backfill(f->ctx, origin, room_id, from, limit);
        if (json_array_size(pdus))
            break;
        json_decref(pdus);
        pdus = NULL;
    }
    if (!pdus)
        goto out;
    while (json_array_size(pdus) > ROOM_BACKFILL_MAX)
        json_array_remove(pdus, json_array_size(pdus) - 1);
    by_depth(pdus);
    backfill_group = group;
    json_array_foreach(pdus, i, v)
    {
        char *id = NULL, why[300];
        json_t *missing = NULL;
        enum room_recv r =
            room_recv_run(origin, room_id, v, backfill_locked, &id, &missing, why, sizeof why);
        if (r == ROOM_RECV_MISSING_AUTH &&
            room_recv_fetch_auth(f, origin, room_id, missing, &budget) == 0) {
            free(id);
            id = NULL;
            r = room_recv_run(origin, room_id, v, backfill_locked, &id, NULL, why, sizeof why);
        }
        if (r == ROOM_RECV_ACCEPTED)
            stored++;
        else if (r != ROOM_RECV_DUPLICATE)
            log_info("backfill of %s from %s: %s not stored: %s", room_id, origin, id ? id : "?",
                     why);
        json_decref(missing);
        free(id);
    }
out:
    if (stored == 0)
        mark_empty(room_id);
    json_decref(from);
    json_decref(servers);
    json_decref(pdus);
    return stored;
}
