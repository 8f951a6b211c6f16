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
 *   3. Each gets the state after it as its state group, which decides who may read it
 *      (history visibility and membership at that event): walking back from the state before
 *      the earliest event the room had (for a room joined over federation: the state the join
 *      came into), each backfilled state event's key is set back to what it was before it,
 *      which member and power levels events name among their auth events and the origin's
 *      /state_ids at the event tells for other types (BACKFILL_STATE_ASKS a batch).
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
#include "server/event.h"
#include "server/log.h"
#include "server/roomver.h"
#include "server/statemap.h"
#include "storage/backfill.h"
#include "storage/events.h"
#include "storage/state.h"

#define BACKFILL_RETRY_MS 30000
#define BACKFILL_AUTH_FETCHES 50 /* missing auth events fetched for one backfill */
#define BACKFILL_STATE_ASKS 8     /* /state_ids asked for one backfill (invariant 3) */
#define BACKFILL_STATE_FETCHES 20 /* unknown state events fetched to find one key's event */
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

/* The state groups backfilled events are read with (invariant 3), for the receive below:
 * event ID -> group, and the group of any other. */
static _Thread_local json_t *backfill_groups;
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
    const json_t *g = backfill_groups ? json_object_get(backfill_groups, id) : NULL;
    m.state_group = g ? json_integer_value(g) : backfill_group;
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

/* --- the state of each backfilled event (invariant 3) ------------------------------------- */

/* Is k ([type, state_key], as db_backfill_keys and batch_groups record them) that key? */
static bool key_is(const json_t *k, const char *type, const char *state_key)
{
    const char *t = json_string_value(json_array_get(k, 0));
    const char *sk = json_string_value(json_array_get(k, 1));
    return t && sk && strcmp(t, type) == 0 && strcmp(sk, state_key) == 0;
}

/* Add to `keys` (event ID -> [type, state_key]) what the database knows of `ids`. */
static void learn_stored(const char *room_id, json_t *keys, const json_t *ids)
{
    json_t *unknown = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (json_is_string(v) && !json_object_get(keys, json_string_value(v)))
            json_array_append(unknown, v);
    }
    struct dbc *c = json_array_size(unknown) ? db_get() : NULL;
    json_t *got = c ? db_backfill_keys(c, room_id, unknown) : NULL;
    db_put(c);
    if (json_is_object(got))
        json_object_update(keys, got);
    json_decref(got);
    json_decref(unknown);
}

/* The IDs of pdu's auth_events (v1/v2: [id, hashes] pairs). New array. */
static json_t *auth_ids(const json_t *pdu)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pdu, "auth_events"), i, v)
    {
        const char *id = room_recv_ref_id(v);
        if (id)
            json_array_append_new(out, json_string(id));
    }
    return out;
}

/* The event at pdu's (type, state_key) in the state before pdu (a state event `id` of the
 * batch): malloc'd, or NULL when the key was empty then (or it could not be found: logged).
 * Member and power levels events name their predecessor among their own auth events (the
 * auth events selection); for other types the origin is asked for the state before the event
 * (/state_ids, *asks times a batch at most), and the events of that state not known here are
 * fetched and stored as outliers (BACKFILL_STATE_FETCHES at most) until the one at the key is
 * found. `keys` caches event ID -> [type, state_key] (null: could not be had). */
static char *state_before_at(const struct room_fetcher *f, const char *origin,
                             const char *room_id, const json_t *pdu, const char *id, json_t *keys,
                             int *asks, int *budget)
{
    const char *type = str(pdu, "type"), *sk = str(pdu, "state_key");
    bool from_auth =
        strcmp(type, "m.room.member") == 0 || strcmp(type, "m.room.power_levels") == 0;
    json_t *cands = NULL;
    if (from_auth) {
        cands = auth_ids(pdu);
        learn_stored(room_id, keys, cands);
        json_t *unknown = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(cands, i, v)
        {
            if (!json_object_get(keys, json_string_value(v)))
                json_array_append(unknown, v);
        }
        if (json_array_size(unknown) &&
            room_recv_fetch_auth(f, origin, room_id, unknown, budget) == 0)
            learn_stored(room_id, keys, unknown);
        json_decref(unknown);
    } else if (f->get_state_ids && (*asks)-- > 0) {
        json_t *ans = f->get_state_ids(f->ctx, origin, room_id, id);
        cands = json_incref(json_object_get(ans, "pdu_ids"));
        json_decref(ans);
        if (!json_is_array(cands) || json_array_size(cands) > ROOM_FETCH_STATE_MAX) {
            json_decref(cands);
            cands = NULL;
        } else {
            learn_stored(room_id, keys, cands);
        }
    }
    char *out = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(cands, i, v)
    {
        if (key_is(json_object_get(keys, json_string_value(v)), type, sk)) {
            out = strdup(json_string_value(v));
            break;
        }
    }
    int fetches = BACKFILL_STATE_FETCHES;
    for (i = 0; !from_auth && !out && f->get_event && i < json_array_size(cands); i++) {
        const char *cid = json_string_value(json_array_get(cands, i));
        if (!cid || json_object_get(keys, cid))
            continue;
        if (fetches-- <= 0)
            break;
        json_t *ev = f->get_event(f->ctx, origin, room_id, cid);
        char *got = NULL, why[300];
        enum room_recv r = ev ? room_receive_outlier(origin, room_id, ev, &got, NULL, why,
                                                     sizeof why)
                              : ROOM_RECV_ERR;
        bool ok = (r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_DUPLICATE) && got &&
                  strcmp(got, cid) == 0 && str(ev, "type");
        json_object_set_new(keys, cid,
                            ok ? json_pack("[s,s?]", str(ev, "type"), str(ev, "state_key"))
                               : json_null());
        if (ok && key_is(json_object_get(keys, cid), type, sk))
            out = strdup(cid);
        json_decref(ev);
        free(got);
    }
    if (!out && !from_auth)
        log_info("backfill of %s: the %s before %s not found: taken as none", room_id, type, id);
    json_decref(cands);
    return out;
}

/* The state group (the state after it) of each PDU of the batch (sorted shallowest first),
 * walking back from `after`, the state after the newest of them: a state event's group is
 * derived from a group of the state before it, which has the event's key as it was before
 * (state_before_at). Assumes the batch is one line of history (a fork in it is read as if
 * linear). New object event ID -> group; NULL on error (then all get `after`). */
static json_t *batch_groups(const struct room_fetcher *f, const char *origin, const char *room_id,
                            const json_t *pdus, int64_t after, int *budget)
{
    char *version = room_version_of(room_id);
    const struct room_version *rv = version ? roomver_get(version) : NULL;
    free(version);
    if (!rv)
        return NULL;
    json_t *keys = json_object(), *ids = json_array(), *out = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(pdus, i, v)
    {
        char *id = event_compute_id(v, rv);
        json_array_append_new(ids, id ? json_string(id) : json_null());
        if (id && str(v, "type") && str(v, "state_key"))
            json_object_set_new(keys, id, json_pack("[s,s]", str(v, "type"), str(v, "state_key")));
        free(id);
    }
    int asks = BACKFILL_STATE_ASKS;
    int64_t cur = after;
    for (i = json_array_size(pdus); out && i-- > 0;) {
        const json_t *pdu = json_array_get(pdus, i);
        const char *id = json_string_value(json_array_get(ids, i));
        const char *type = str(pdu, "type"), *sk = str(pdu, "state_key");
        if (!id)
            continue;
        if (!type || !sk) {
            json_object_set_new(out, id, json_integer(cur));
            continue;
        }
        char *prev = state_before_at(f, origin, room_id, pdu, id, keys, &asks, budget);
        char *k = statemap_key(type, sk);
        json_t *ch = json_object();
        int64_t before = -1, mine = -1;
        struct dbc *c = k ? db_get() : NULL;
        if (c && json_object_set_new(ch, k, prev ? json_string(prev) : json_null()) == 0 &&
            (before = db_state_group_new(c, room_id, cur, ch)) >= 0 &&
            json_object_set_new(ch, k, json_string(id)) == 0)
            mine = db_state_group_new(c, room_id, before, ch);
        db_put(c);
        json_decref(ch);
        free(k);
        free(prev);
        if (mine < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
        json_object_set_new(out, id, json_integer(mine));
        cur = before;
    }
    json_decref(keys);
    json_decref(ids);
    return out;
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
    /* invariant 3: the state before the earliest event (a state event's group is derived
     * from the state before it) */
    if (!str(e.pdu, "state_key"))
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
    backfill_groups = batch_groups(f, origin, room_id, pdus, group, &budget);
    if (!backfill_groups)
        log_info("backfill of %s: no state per event: all read with the earliest's", room_id);
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
    json_decref(backfill_groups);
    backfill_groups = NULL;
    if (stored == 0)
        mark_empty(room_id);
    json_decref(from);
    json_decref(servers);
    json_decref(pdus);
    return stored;
}
