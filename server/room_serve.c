/* room_serve.c - the events this server gives other servers (Server-Server API "Retrieving
 * events": /event, /state, /state_ids, /event_auth; "Backfilling and retrieving missing
 * events": /backfill, /get_missing_events), read-only.
 *
 * Who may read (Synapse's rules, the spec's history visibility applied to servers):
 *   1. The asking server must have a joined user in the room's current state, or the room's
 *      current m.room.history_visibility must be world_readable; else ROOM_FORBIDDEN. The
 *      room's server ACL is the federation handler's (federation/events.c).
 *   2. Each event served is judged with the state after it: history_visibility
 *      world_readable or shared (the default), or an asking server's user joined there (or
 *      invited, for "invited"), shows it; otherwise the redacted copy is served.
 *   3. An erased account's events (GDPR erasure, server/useradmin.c) are served redacted to
 *      every other server, as Synapse filters erased senders for servers; state events are
 *      served as rule 2 says (their redacted form keeps what authorization needs anyway, and
 *      /state of a large room would otherwise look up every member).
 * Events are served as stored: the federation format of their room version (event_id only in
 * v1/v2), redacted when redacted, without "unsigned". Every answer is bounded (limits below). */
#include "server/room.h"
#include "server/room_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/event.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/fedmember.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_STATE_EVENTS 50000 /* /state answers: state events and the auth chain each */
#define MAX_AUTH_CHAIN 50000
#define MAX_WALK 1000 /* events looked at by one /backfill or /get_missing_events walk */

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Does `server` have a user with one of the memberships in `ok` ("join", "invite") in the
 * state map? Member events are read one by one, stopping at the first match. */
static bool server_member(struct dbc *c, const json_t *map, const char *server, bool invite_too)
{
    const char *k;
    json_t *v;
    size_t sl = strlen(server);
    json_object_foreach((json_t *)map, k, v)
    {
        char *type = NULL, *sk = NULL;
        bool hit = false;
        if (statemap_split(k, &type, &sk) == 0 && strcmp(type, "m.room.member") == 0) {
            const char *colon = strchr(sk, ':');
            if (colon && strlen(colon + 1) == sl && memcmp(colon + 1, server, sl) == 0) {
                struct db_event e;
                if (db_events_get(c, json_string_value(v), &e) == 1) {
                    const char *m = str(json_object_get(e.pdu, "content"), "membership");
                    hit = m && (strcmp(m, "join") == 0 || (invite_too && strcmp(m, "invite") == 0));
                    db_event_clear(&e);
                }
            }
        }
        free(type);
        free(sk);
        if (hit)
            return true;
    }
    return false;
}

/* Rule 2 for the state group `group`; cache: group -> verdict. */
static bool server_sees(struct dbc *c, const char *server, int64_t group, json_t *cache)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)group);
    json_t *hit = json_object_get(cache, key);
    if (hit)
        return json_is_true(hit);
    char *hv = group > 0
                   ? room_group_string(c, group, "m.room.history_visibility", "history_visibility")
                   : NULL;
    bool ok;
    if (!hv || strcmp(hv, "world_readable") == 0 || strcmp(hv, "shared") == 0) {
        ok = true;
    } else {
        json_t *map = db_state_group_load(c, group);
        ok = map && server_member(c, map, server, strcmp(hv, "invited") == 0);
        json_decref(map);
    }
    free(hv);
    json_object_set_new(cache, key, json_boolean(ok));
    return ok;
}

/* Rule 1. ROOM_OK, ROOM_NOT_FOUND (this server is not in the room), ROOM_FORBIDDEN, ROOM_ERR;
 * *rv set on ROOM_OK. */
static enum room_rc may_read(struct dbc *c, const char *origin, const char *room_id,
                             const struct room_version **rv, char *why, size_t n)
{
    struct db_room r;
    int found = db_rooms_get(c, room_id, false, &r);
    if (found <= 0) {
        snprintf(why, n, "Unknown room %s", room_id);
        return found < 0 ? ROOM_ERR : ROOM_NOT_FOUND;
    }
    *rv = roomver_get(r.room_version);
    int64_t group = r.state_group;
    db_room_clear(&r);
    json_t *servers = db_fed_servers_in_room(c, room_id);
    if (!servers)
        return ROOM_ERR;
    bool in = false;
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v) in = in || strcmp(json_string_value(v), origin) == 0;
    json_decref(servers);
    if (!*rv) {
        snprintf(why, n, "Unknown room version");
        return ROOM_ERR;
    }
    if (in)
        return ROOM_OK;
    char *hv = room_group_string(c, group, "m.room.history_visibility", "history_visibility");
    bool wr = hv && strcmp(hv, "world_readable") == 0;
    free(hv);
    if (wr)
        return ROOM_OK;
    snprintf(why, n, "%s is not in the room", origin);
    return ROOM_FORBIDDEN;
}

/* The PDU to serve of a stored event (rule 2 applied; new reference). */
static json_t *served(struct dbc *c, const struct room_version *rv, const char *origin,
                      const struct db_event *e, json_t *cache)
{
    json_t *pdu = json_deep_copy(e->pdu);
    if (!pdu)
        return NULL;
    json_object_del(pdu, "unsigned");
    if (!e->redacted_by &&
        ((e->state_group > 0 && !server_sees(c, origin, e->state_group, cache)) ||
         (!json_object_get(pdu, "state_key") &&
          room_sender_erased(c, json_string_value(json_object_get(pdu, "sender")), cache)))) {
        json_t *red = event_redact(pdu, rv);
        json_decref(pdu);
        pdu = red;
        json_object_del(pdu, "unsigned");
    }
    return pdu;
}

/* A stored event of room_id (room_id NULL: any room): 1 (fill e), 0 unknown or of another
 * room, -1. */
static int load(struct dbc *c, const char *room_id, const char *event_id, struct db_event *e)
{
    int got = db_events_get(c, event_id, e);
    if (got == 1 && room_id && strcmp(e->room_id, room_id) != 0) {
        db_event_clear(e);
        return 0;
    }
    return got;
}

enum room_rc room_fed_event(const char *origin, const char *event_id, json_t **pdu, char **room_id,
                            char *why, size_t n)
{
    struct dbc *c = db_get();
    struct db_event e = {0};
    const struct room_version *rv = NULL;
    json_t *cache = json_object();
    enum room_rc rc = ROOM_ERR;
    *pdu = NULL;
    *room_id = NULL;
    if (!c)
        goto out;
    int got = load(c, NULL, event_id, &e);
    if (got <= 0 || e.rejected) {
        snprintf(why, n, "Unknown event %s", event_id);
        rc = got < 0 ? ROOM_ERR : ROOM_NOT_FOUND;
        goto out;
    }
    if ((rc = may_read(c, origin, e.room_id, &rv, why, n)) != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    if (!(*pdu = served(c, rv, origin, &e, cache)) || !(*room_id = strdup(e.room_id)))
        goto out;
    rc = ROOM_OK;
out:
    if (rc != ROOM_OK) {
        json_decref(*pdu);
        *pdu = NULL;
    }
    if (e.event_id)
        db_event_clear(&e);
    json_decref(cache);
    db_put(c);
    return rc;
}

/* The state map before the stored event `e` (the resolution of the states after its prev
 * events; empty for the create event). New reference, or NULL: *unknown set when a prev event
 * has no state here. */
static json_t *state_before(struct dbc *c, const struct room_version *rv, const struct db_event *e,
                            bool *unknown, char *why, size_t n)
{
    json_t *prevs = room_recv_prev_ids(e->pdu), *maps = json_array(), *out = NULL, *v;
    size_t i;
    *unknown = false;
    json_array_foreach(prevs, i, v)
    {
        struct db_event p;
        int got = load(c, e->room_id, json_string_value(v), &p);
        if (got < 0)
            goto out;
        if (got == 0 || p.state_group <= 0 || p.rejected) {
            if (got == 1)
                db_event_clear(&p);
            *unknown = true;
            goto out;
        }
        json_t *m = db_state_group_load(c, p.state_group);
        db_event_clear(&p);
        if (!m)
            goto out;
        json_array_append_new(maps, m);
    }
    if (json_array_size(maps) == 0) {
        out = json_object();
        goto out;
    }
    struct room_recv_ctx x = {c, rv, e->room_id, json_object(), json_object(), false, NULL};
    out = room_recv_resolve(&x, maps, why, n);
    json_decref(x.cache);
    json_decref(x.rejected);
out:
    json_decref(prevs);
    json_decref(maps);
    return out;
}

/* The state before `e` read from its own state group when its prev events have no state here
 * (the first event of a room joined over federation, whose prev events were never fetched):
 * the group itself for a non-state event; for a state event the group it was derived from,
 * but only when that group plus `e` is exactly e's group (the derivation may skip steps).
 * New reference, or NULL (unknown or an error). */
static json_t *state_from_group(struct dbc *c, const struct db_event *e)
{
    const char *type = str(e->pdu, "type"), *sk = str(e->pdu, "state_key");
    json_t *after = e->state_group > 0 ? db_state_group_load(c, e->state_group) : NULL;
    if (!after || !sk || !type)
        return after;
    int64_t parent = db_state_group_parent(c, e->state_group);
    json_t *before = parent > 0 ? db_state_group_load(c, parent) : NULL, *check = NULL;
    if (before && (check = json_deep_copy(before)) &&
        statemap_set(check, type, sk, e->event_id) == 0 && json_equal(check, after)) {
        json_decref(check);
        json_decref(after);
        return before;
    }
    json_decref(check);
    json_decref(after);
    json_decref(before);
    return NULL;
}

/* IDs of a state map's values (new array). */
static json_t *map_ids(const json_t *map)
{
    json_t *ids = json_array(), *v;
    const char *k;
    json_object_foreach((json_t *)map, k, v) json_array_append(ids, v);
    return ids;
}

json_t *room_pdu_ids(const struct room_version *rv, const json_t *pdus)
{
    json_t *ids = json_array(), *v;
    size_t i;
    json_array_foreach((json_t *)pdus, i, v)
    {
        char *id = rv->event_ids == ROOMVER_EVID_V1
                       ? (str(v, "event_id") ? strdup(str(v, "event_id")) : NULL)
                       : event_compute_id(v, rv);
        if (id)
            json_array_append_new(ids, json_string(id));
        free(id);
    }
    return ids;
}

/* PDUs of the IDs (served with rule 2), at most `limit`. New array, NULL on error. */
static json_t *pdus_of(struct dbc *c, const struct room_version *rv, const char *origin,
                       const char *room_id, const json_t *ids, size_t limit, json_t *cache)
{
    json_t *out = json_array(), *v;
    size_t i;
    json_array_foreach((json_t *)ids, i, v)
    {
        if (json_array_size(out) >= limit)
            break;
        struct db_event e;
        int got = load(c, room_id, json_string_value(v), &e);
        if (got < 0) {
            json_decref(out);
            return NULL;
        }
        if (got == 0)
            continue;
        json_t *p = served(c, rv, origin, &e, cache);
        db_event_clear(&e);
        if (p)
            json_array_append_new(out, p);
    }
    return out;
}

/* Strip "unsigned" from every PDU of an array (changed in place). */
static void strip_unsigned(json_t *pdus)
{
    size_t i;
    json_t *v;
    json_array_foreach(pdus, i, v) json_object_del(v, "unsigned");
}

enum room_rc room_fed_state(const char *origin, const char *room_id, const char *event_id,
                            bool ids_only, json_t **out, char *why, size_t n)
{
    struct dbc *c = db_get();
    struct db_event e = {0};
    const struct room_version *rv = NULL;
    json_t *map = NULL, *ids = NULL, *chain = NULL, *cache = json_object();
    enum room_rc rc = ROOM_ERR;
    *out = NULL;
    if (!c)
        goto out;
    if ((rc = may_read(c, origin, room_id, &rv, why, n)) != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    int got = load(c, room_id, event_id, &e);
    if (got < 0)
        goto out;
    bool unknown = false;
    if (got == 1 && !e.rejected && (e.state_group > 0 || !e.outlier))
        map = state_before(c, rv, &e, &unknown, why, n);
    if (unknown && (map = state_from_group(c, &e)))
        unknown = false;
    if (got == 0 || e.rejected || unknown || (!map && !e.outlier && e.state_group <= 0)) {
        snprintf(why, n, "Could not find the state at event %s", event_id);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    if (!map)
        goto out;
    if (!server_sees(c, origin, e.state_group, cache)) {
        snprintf(why, n, "You do not have permission to access the state at the requested event.");
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    ids = map_ids(map);
    if (json_array_size(ids) > MAX_STATE_EVENTS ||
        !(chain = db_fed_auth_chain(c, ids, MAX_AUTH_CHAIN)))
        goto out;
    strip_unsigned(chain);
    if (ids_only) {
        *out = json_pack("{s:O,s:o}", "pdu_ids", ids, "auth_chain_ids", room_pdu_ids(rv, chain));
    } else {
        json_t *pdus = pdus_of(c, rv, origin, room_id, ids, MAX_STATE_EVENTS, cache);
        *out = pdus ? json_pack("{s:o,s:O}", "pdus", pdus, "auth_chain", chain) : NULL;
    }
    rc = *out ? ROOM_OK : ROOM_ERR;
out:
    if (e.event_id)
        db_event_clear(&e);
    json_decref(map);
    json_decref(ids);
    json_decref(chain);
    json_decref(cache);
    db_put(c);
    return rc;
}

enum room_rc room_fed_event_auth(const char *origin, const char *room_id, const char *event_id,
                                 json_t **out, char *why, size_t n)
{
    struct dbc *c = db_get();
    const struct room_version *rv = NULL;
    enum room_rc rc = ROOM_ERR;
    struct db_event e = {0};
    *out = NULL;
    if (!c)
        goto out;
    if ((rc = may_read(c, origin, room_id, &rv, why, n)) != ROOM_OK)
        goto out;
    int got = load(c, room_id, event_id, &e);
    if (got <= 0) {
        snprintf(why, n, "Unknown event %s", event_id);
        rc = got < 0 ? ROOM_ERR : ROOM_NOT_FOUND;
        goto out;
    }
    json_t *seed = json_pack("[s]", event_id);
    json_t *chain = seed ? db_fed_auth_chain(c, seed, MAX_AUTH_CHAIN) : NULL;
    json_decref(seed);
    strip_unsigned(chain);
    *out = chain ? json_pack("{s:o}", "auth_chain", chain) : NULL;
    rc = *out ? ROOM_OK : ROOM_ERR;
out:
    if (e.event_id)
        db_event_clear(&e);
    db_put(c);
    return rc;
}

/* A stored, not rejected event of room_id at depth >= min_depth, for the walks: 1 (fill e),
 * 0 (skip it), -1. */
static int usable(struct dbc *c, const char *room_id, const char *id, int64_t min_depth,
                  struct db_event *e)
{
    int got = load(c, room_id, id, e);
    if (got == 1 && (e->rejected || e->depth < min_depth)) {
        db_event_clear(e);
        return 0;
    }
    return got;
}

/* Append the IDs of the prev events of a stored PDU to `to`, unless in `seen` (then marked). */
static void push_prevs(const json_t *pdu, json_t *to, json_t *seen)
{
    json_t *prevs = room_recv_prev_ids(pdu), *v;
    size_t i;
    json_array_foreach(prevs, i, v)
    {
        const char *id = json_string_value(v);
        if (!json_object_get(seen, id)) {
            json_object_set_new(seen, id, json_true());
            json_array_append(to, v);
        }
    }
    json_decref(prevs);
}

enum room_rc room_fed_missing(const char *origin, const char *room_id, const json_t *earliest,
                              const json_t *latest, int limit, int64_t min_depth, json_t **events,
                              char *why, size_t n)
{
    struct dbc *c = db_get();
    const struct room_version *rv = NULL;
    json_t *seen = json_object(), *front = json_array(), *next = NULL, *cache = json_object();
    json_t *out = json_array(), *v;
    enum room_rc rc = ROOM_ERR;
    size_t i;
    int looked = 0;
    *events = NULL;
    if (!c)
        goto out;
    if ((rc = may_read(c, origin, room_id, &rv, why, n)) != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    json_array_foreach((json_t *)earliest, i, v)
    {
        if (json_is_string(v))
            json_object_set_new(seen, json_string_value(v), json_true());
    }
    /* breadth first from the prev events of latest_events, skipping earliest_events */
    json_array_foreach((json_t *)latest, i, v)
    {
        struct db_event e;
        if (!json_is_string(v) || ++looked > MAX_WALK)
            continue;
        int got = load(c, room_id, json_string_value(v), &e);
        if (got < 0)
            goto out;
        if (got == 1) {
            push_prevs(e.pdu, front, seen);
            db_event_clear(&e);
        }
    }
    while (json_array_size(front) && (int)json_array_size(out) < limit && looked < MAX_WALK) {
        next = json_array();
        json_array_foreach(front, i, v)
        {
            if ((int)json_array_size(out) >= limit || ++looked > MAX_WALK)
                break;
            struct db_event e;
            int got = usable(c, room_id, json_string_value(v), min_depth, &e);
            if (got < 0)
                goto out;
            if (got == 0)
                continue;
            json_t *p = served(c, rv, origin, &e, cache);
            if (p)
                json_array_append_new(out, p);
            push_prevs(e.pdu, next, seen);
            db_event_clear(&e);
        }
        json_decref(front);
        front = next;
        next = NULL;
    }
    /* the oldest first, as the events were built */
    json_t *sorted = json_array();
    for (size_t k = json_array_size(out); k > 0; k--)
        json_array_append(sorted, json_array_get(out, k - 1));
    *events = sorted;
    rc = ROOM_OK;
out:
    json_decref(seen);
    json_decref(front);
    json_decref(next);
    json_decref(cache);
    json_decref(out);
    db_put(c);
    return rc;
}

enum room_rc room_fed_backfill(const char *origin, const char *room_id, const json_t *from,
                               int limit, json_t **pdus, char *why, size_t n)
{
    struct dbc *c = db_get();
    const struct room_version *rv = NULL;
    json_t *seen = json_object(), *queue = json_array(), *cache = json_object();
    json_t *out = json_array(), *v;
    enum room_rc rc = ROOM_ERR;
    size_t i;
    int looked = 0;
    *pdus = NULL;
    if (!c)
        goto out;
    if ((rc = may_read(c, origin, room_id, &rv, why, n)) != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    /* queue: [depth, id] pairs; the deepest is taken first (the newest history first) */
    json_array_foreach((json_t *)from, i, v)
    {
        if (json_is_string(v) && !json_object_get(seen, json_string_value(v))) {
            json_object_set_new(seen, json_string_value(v), json_true());
            json_array_append_new(queue, json_pack("[I,O]", (json_int_t)INT64_MAX, v));
        }
    }
    while (json_array_size(queue) && (int)json_array_size(out) < limit && ++looked <= MAX_WALK) {
        size_t best = 0;
        json_array_foreach(queue, i, v)
        {
            if (json_integer_value(json_array_get(v, 0)) >
                json_integer_value(json_array_get(json_array_get(queue, best), 0)))
                best = i;
        }
        json_t *id = json_incref(json_array_get(json_array_get(queue, best), 1));
        json_array_remove(queue, best);
        struct db_event e;
        int got = usable(c, room_id, json_string_value(id), INT64_MIN, &e);
        json_decref(id);
        if (got < 0)
            goto out;
        if (got == 0)
            continue;
        json_t *p = served(c, rv, origin, &e, cache);
        if (p)
            json_array_append_new(out, p);
        json_t *prevs = room_recv_prev_ids(e.pdu), *pv;
        size_t k;
        json_array_foreach(prevs, k, pv)
        {
            const char *pid = json_string_value(pv);
            if (json_object_get(seen, pid))
                continue;
            json_object_set_new(seen, pid, json_true());
            /* depth of the prev event: read when taken; its child's depth - 1 orders it */
            json_array_append_new(queue, json_pack("[I,O]", (json_int_t)(e.depth - 1), pv));
        }
        json_decref(prevs);
        db_event_clear(&e);
    }
    *pdus = out;
    out = NULL;
    rc = ROOM_OK;
out:
    json_decref(seen);
    json_decref(queue);
    json_decref(cache);
    json_decref(out);
    db_put(c);
    return rc;
}
