/* room_receive.c - the room engine's receive path: PDUs built by other servers (Server-Server
 * API "Checks performed on receipt of a PDU", "Rejection", "Soft failure"; room version pages
 * for the rules and state resolution; "Joining Rooms" for the state a join brings).
 *
 * room_receive_pdu runs beside room_send's append path (server/room.c), over the same auth
 * rules (server/auth.c), state groups and state resolution (server/stateres.c), and under the
 * same writer lock: the room's row, locked FOR UPDATE for the whole transaction (STYLE.md
 * s.2.9; lock order: the room row, then anything else). Steps:
 *   1-3. format, signatures, content hash (server/pdu.c), before the lock: the key lookups
 *        may wait on the network;
 *   then, holding the lock:
 *   4.   auth against the event's auth_events (all must be stored: else MISSING_AUTH), with
 *        the rules about the list itself (duplicates, unexpected, rejected, foreign room);
 *   5.   auth against the state before the event: the state after its single prev event, or
 *        the resolution of the states after its prev events (all must be stored with a state:
 *        else MISSING_PREV); a rejected prev event contributes the state before it;
 *   6.   auth against the room's current state: failing only this, the event is soft failed.
 * A rejected event is stored with its reason and the state before it (events that reference
 * it see that state: "not updating with the rejected event"), as an outlier: no stream
 * position, never an extremity. A soft-failed event is stored the same way but with the state
 * after it and soft_failed set: it is no extremity and clients never see it, yet later events
 * that reference it resolve its state as usual. An accepted event takes its prev events'
 * places among the forward extremities; the room's current state becomes the state after it
 * when it follows every extremity, else the resolution of the states at all the extremities
 * (a fork is joined, or left open). Every event state resolution or the auth checks read is
 * loaded through one cache that refuses events of other rooms ("fetched events checked to
 * belong to the room") and knows which were rejected. A redaction is applied when both it
 * and its target are here and its sender's server is the target's or it has the redact level
 * (v3 "Handling redactions"); one that came first waits in pending_redactions.
 *
 * Outliers (the send_join answer's events, fetched auth events) are server/room_outlier.c's. */
#include "server/room.h"
#include "server/room_internal.h"
#include "server/privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"
#include "server/auth.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/pdu.h"
#include "server/statemap.h"
#include "server/stateres.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

static struct room_fetcher fetcher;

void room_set_fetcher(const struct room_fetcher *f)
{
    if (f)
        fetcher = *f;
    else
        memset(&fetcher, 0, sizeof fetcher);
}

const struct room_fetcher *room_fetcher(void)
{
    return &fetcher;
}

/* --- the events one receive reads ---------------------------------------------------------- */

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* An event ID of prev_events / auth_events entries (plain from v3, [id, hashes] before). */
const char *room_recv_ref_id(const json_t *entry)
{
    return json_is_array(entry) ? json_string_value(json_array_get(entry, 0))
                                : json_string_value(entry);
}

/* A stored event of this room (borrowed from the cache), or NULL: unknown, or of another room
 * (which counts as unknown). */
const json_t *room_recv_load(struct room_recv_ctx *x, const char *id)
{
    if (!id)
        return NULL;
    json_t *hit = json_object_get(x->cache, id);
    if (hit)
        return json_is_null(hit) ? NULL : hit;
    struct db_event e;
    int rc = db_events_get(x->c, id, &e);
    if (rc < 0)
        x->failed = true;
    if (rc != 1 || !e.pdu || strcmp(e.room_id, x->room_id) != 0) {
        if (rc == 1)
            db_event_clear(&e);
        json_object_set_new(x->cache, id, json_null());
        return NULL;
    }
    json_t *pdu = json_incref(e.pdu);
    json_object_set_new(pdu, "event_id", json_string(id));
    if (e.rejected)
        json_object_set_new(x->rejected, id, json_true());
    json_object_set_new(x->cache, id, pdu);
    db_event_clear(&e);
    return pdu;
}

static const json_t *sr_fetch(void *ctx, const char *id)
{
    return room_recv_load(ctx, id);
}

int room_recv_rejected(void *ctx, const char *id)
{
    return json_is_true(json_object_get(((struct room_recv_ctx *)ctx)->rejected, id));
}

/* Step 2 verified the signatures of every server pdu_required_signers names (the authorising
 * server of a restricted join among them), so a signature block of such a server is a
 * verified one. */
static int signed_checked(struct room_recv_ctx *x, const json_t *ev, const char *server)
{
    const char *signers[4];
    size_t n = pdu_required_signers(x->rv, ev, signers, 4);
    for (size_t i = 0; i < n && i < 4; i++)
        if (strcmp(signers[i], server) == 0)
            return json_object_get(json_object_get(ev, "signatures"), server) != NULL;
    return 0;
}

static int sr_signed(void *ctx, const json_t *ev, const char *server)
{
    return signed_checked(ctx, ev, server);
}

const json_t *room_recv_map_state(void *ctx, const char *type, const char *state_key)
{
    struct room_recv_state *m = ctx;
    if (m->pdus)
        return room_map_state((void *)m->pdus, type, state_key);
    if (m->map)
        return room_recv_load(m->x, statemap_get(m->map, type, state_key));
    char *id = NULL;
    if (m->group <= 0 || room_recv_group_get(m->x, m->group, type, state_key, &id) < 0)
        m->x->failed = m->group > 0;
    const json_t *ev = room_recv_load(m->x, id);
    free(id);
    return ev;
}

int room_recv_map_signed(void *ctx, const json_t *ev, const char *server)
{
    return signed_checked(((struct room_recv_state *)ctx)->x, ev, server);
}

/* Resolve state maps (a non-empty array, borrowed) of the room. New reference or NULL. */
json_t *room_recv_resolve(struct room_recv_ctx *x, json_t *maps, char *why, size_t n)
{
    if (json_array_size(maps) == 1)
        return json_deep_copy(json_array_get(maps, 0));
    struct stateres_ops ops = {sr_fetch, sr_signed, x, room_recv_rejected};
    json_t *out = stateres_resolve(x->rv, maps, &ops, why, n);
    if (x->failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The changes that turn state map `from` into `to`: new or changed keys, null for removed. */
static json_t *state_diff(const json_t *from, const json_t *to)
{
    json_t *d = json_object(), *v;
    const char *k;
    json_object_foreach((json_t *)to, k, v)
    {
        if (!json_equal(json_object_get(from, k), v))
            json_object_set(d, k, v);
    }
    json_object_foreach((json_t *)from, k, v)
    {
        if (!json_object_get(to, k))
            json_object_set_new(d, k, json_null());
    }
    return d;
}

/* A state group holding `map`, derived from `parent` (whose state is parent_map). */
static int64_t group_for(struct dbc *c, const char *room_id, int64_t parent,
                         const json_t *parent_map, const json_t *map)
{
    json_t *d = state_diff(parent_map, map);
    int64_t g = d ? db_state_group_new(c, room_id, parent, d) : -1;
    json_decref(d);
    return g;
}

/* --- step 4: auth events ------------------------------------------------------------------- */

/* Check `ev` against its own auth_events. Returns 0 (passes), 1 (fails: rejected, why set),
 * 2 (some are unknown: their IDs appended to missing), -1 (error). */
int room_recv_check_auth(struct room_recv_ctx *x, const json_t *ev, json_t *missing, char *why,
                         size_t n)
{
    json_t *auth = json_object_get(ev, "auth_events");
    size_t na = json_array_size(auth);
    const json_t *evs[16];
    bool rej[16];
    json_t *map = json_object();
    int rc = 0;
    if (na > 16) { /* the format check allows 10 */
        snprintf(why, n, "too many auth_events");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < na; i++) {
        const char *id = room_recv_ref_id(json_array_get(auth, i));
        evs[i] = room_recv_load(x, id);
        rej[i] = evs[i] && room_recv_rejected(x, id);
        if (!evs[i] && id) {
            json_array_append_new(missing, json_string(id));
            rc = 2;
        }
    }
    if (x->failed) {
        rc = -1;
        goto out;
    }
    if (rc)
        goto out;
    if (auth_check_auth_events(x->rv, ev, evs, rej, na, why, n) < 0) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < na; i++) {
        char *k = statemap_key(str(evs[i], "type"), str(evs[i], "state_key"));
        if (k)
            json_object_set_new(map, k, json_string(str(evs[i], "event_id")));
        free(k);
    }
    /* v12: the create event is never listed; the room ID names it */
    if (!x->rv->create_in_auth_events && strcmp(str(ev, "type"), "m.room.create") != 0) {
        char *cid = room_create_event_id(x->room_id);
        if (cid && !room_recv_load(x, cid)) {
            json_array_append_new(missing, json_string(cid));
            rc = 2;
        } else if (cid) {
            statemap_set(map, "m.room.create", "", cid);
        }
        free(cid);
        if (rc)
            goto out;
    }
    struct room_recv_state ms = {x, map, NULL, 0};
    struct auth_ops ops = {room_recv_map_state, room_recv_map_signed, &ms};
    if (auth_check(x->rv, ev, &ops, why, n) < 0)
        rc = 1;
out:
    json_decref(map);
    return rc;
}

/* --- persisting ---------------------------------------------------------------------------- */

/* The PDU as stored: without "event_id" from v3 (room_load_pdu adds it back), in its room
 * version's encoding. malloc'd or NULL. */
char *room_recv_stored_text(const struct room_version *rv, const json_t *checked)
{
    json_t *copy = json_copy((json_t *)checked);
    if (!copy)
        return NULL;
    if (rv->event_ids != ROOMVER_EVID_V1)
        json_object_del(copy, "event_id");
    char *text = event_encoder(rv)(copy, NULL);
    json_decref(copy);
    return text;
}

json_t *room_recv_prev_ids(const json_t *pdu)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pdu, "prev_events"), i, v)
    {
        const char *id = room_recv_ref_id(v);
        if (id)
            json_array_append_new(out, json_string(id));
    }
    return out;
}

void room_recv_meta(const json_t *ev, const char *id, const char *room_id,
                    struct db_event_meta *m)
{
    *m = (struct db_event_meta){
        .event_id = id,
        .room_id = room_id,
        .type = str(ev, "type"),
        .state_key = str(ev, "state_key"),
        .sender = str(ev, "sender"),
        .origin_server_ts = json_integer_value(json_object_get(ev, "origin_server_ts")),
        .depth = json_integer_value(json_object_get(ev, "depth")),
    };
}

/* Insert the event row. */
int room_recv_insert(struct room_recv_ctx *x, const json_t *ev, const char *id, int64_t group,
                     const char *rejected, bool outlier, bool soft_failed, json_t *prevs,
                     int64_t *stream, bool promote)
{
    char *text = room_recv_stored_text(x->rv, ev);
    if (!text)
        return -1;
    struct db_event_meta m;
    room_recv_meta(ev, id, x->room_id, &m);
    m.state_group = group;
    m.rejected = rejected;
    m.outlier = outlier;
    m.soft_failed = soft_failed;
    int64_t s = 0;
    int rc = promote ? db_events_promote(x->c, &m, prevs, &s)
                     : db_events_insert(x->c, &m, text, prevs, NULL, NULL, clock_now_ms(), &s);
    free(text);
    if (stream)
        *stream = s;
    if (rc != 0)
        return -1;
    if (!promote)
        metrics_add(METRICS_EVENTS_PERSISTED, 1);
    /* what later reads of this receive see (the cache may hold "unknown" for it) */
    json_object_set(x->cache, id, (json_t *)ev);
    if (rejected)
        json_object_set_new(x->rejected, id, json_true());
    return 0;
}

/* Relations and the redaction an accepted event brings, and its notifications. For v3+ the
 * redaction is applied when its sender's server is the target's, or the sender has the redact
 * level in the state before it (v3 "Handling redactions"); v1/v2 redactions passed rule 11. */
/* v3 "Handling redactions": may `red` (the state before it: st) redact `target`? In v1/v2 rule
 * 11 decided when the redaction was accepted. */
static bool redaction_applies(struct room_recv_ctx *x, const json_t *red, const json_t *target,
                              const struct room_recv_state *st)
{
    if (x->rv->event_ids == ROOMVER_EVID_V1)
        return true;
    const char *a = ids_server_of(str(target, "sender")), *s = ids_server_of(str(red, "sender"));
    if (a && s && strcmp(a, s) == 0)
        return true;
    struct auth_ops ops = {room_recv_map_state, NULL, (void *)st};
    const json_t *pl = room_recv_map_state((void *)st, "m.room.power_levels", "");
    const json_t *r = json_object_get(json_object_get(pl, "content"), "redact");
    int64_t need = json_is_integer(r) ? json_integer_value(r) : 50;
    return auth_user_power(x->rv, &ops, str(red, "sender")) >= need;
}

/* Redactions that arrived before `ev` (its ID: id), applied now that it is here. */
static int late_redactions(struct room_recv_ctx *x, const json_t *ev, const char *id)
{
    json_t *reds = db_pending_redactions_take(x->c, x->room_id, id);
    if (!reds)
        return -1;
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(reds, i, v)
    {
        const char *rid = json_string_value(v);
        const json_t *red = room_recv_load(x, rid);
        struct db_event e;
        if (!red || db_events_get(x->c, rid, &e) != 1)
            continue;
        struct room_recv_state st = {x, NULL, NULL, e.state_group};
        bool ok = !e.rejected && redaction_applies(x, red, ev, &st);
        db_event_clear(&e);
        if (ok && room_apply_redaction(x->c, x->rv, red, rid) < 0)
            rc = -1;
    }
    json_decref(reds);
    return rc;
}

int room_recv_side_effects(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                           const char *id, const struct room_recv_state *before)
{
    const json_t *content = json_object_get(ev, "content");
    const json_t *rel = json_object_get(content, "m.relates_to");
    const char *rel_type = str(rel, "rel_type"), *rel_to = str(rel, "event_id");
    if (rel_type && rel_to &&
        db_relations_put(x->c, id, x->room_id, rel_to, rel_type, str(rel, "key"),
                         str(ev, "sender")) < 0)
        return -1;
    const char *target =
        strcmp(str(ev, "type"), "m.room.redaction") == 0 ? event_redacts(ev, x->rv) : NULL;
    const json_t *t = target ? room_recv_load(x, target) : NULL;
    if (t && redaction_applies(x, ev, t, before) && room_apply_redaction(x->c, x->rv, ev, id) < 0)
        return -1;
    if (target && !t && db_pending_redaction_put(x->c, x->room_id, target, id) < 0)
        return -1;
    if (late_redactions(x, ev, id) < 0)
        return -1;
    json_t *plain = json_copy((json_t *)ev);
    json_object_del(plain, "event_id");
    int rc = room_push_actions(x->c, b, x->room_id, plain, id);
    json_decref(plain);
    return rc;
}

void room_recv_queue(struct batch *b, int64_t stream, const char *room_id, const json_t *ev)
{
    if (b->n >= sizeof b->items / sizeof b->items[0])
        return;
    json_t *plain = json_copy((json_t *)ev);
    json_object_del(plain, "event_id");
    b->items[b->n].stream = stream;
    b->items[b->n].room_id = strdup(room_id);
    b->items[b->n].pdu = plain;
    b->n++;
}

/* The state group after an accepted or soft-failed event: before + the event if state. */
int64_t room_recv_group_after(struct room_recv_ctx *x, const json_t *ev, const char *id,
                              int64_t before)
{
    const char *sk = str(ev, "state_key");
    if (!sk)
        return before;
    json_t *ch = json_object();
    statemap_set(ch, str(ev, "type"), sk, id);
    int64_t g = db_state_group_new(x->c, x->room_id, before, ch);
    json_decref(ch);
    return g;
}

/* The room's current state after accepting `id` (its prev events `prevs`; the state after it
 * is the group after_group; the state before it the map `before`, or NULL: read the group):
 * the extremities were `old_ext` before it. */
static int update_current(struct room_recv_ctx *x, const json_t *ev, const char *id, json_t *prevs,
                          json_t *old_ext, int64_t after_group, const json_t *before, char *why,
                          size_t n)
{
    size_t i;
    json_t *v;
    json_t *pset = json_object(), *ext = json_array(), *after_map = NULL;
    int rc = -1;
    json_array_foreach(prevs, i, v) json_object_set_new(pset, json_string_value(v), json_true());
    bool covers = true; /* every old extremity among the prev events */
    json_array_foreach(old_ext, i, v)
    {
        if (!json_object_get(pset, json_string_value(v))) {
            covers = false;
            json_array_append(ext, v);
        }
    }
    const char *sk = str(ev, "state_key");
    if (covers && json_array_size(old_ext) == json_object_size(pset)) {
        /* the same extremities: the state before it was the current state, and it is the
         * only extremity now */
        const char *m = sk && strcmp(str(ev, "type"), "m.room.member") == 0
                            ? str(json_object_get(ev, "content"), "membership")
                            : NULL;
        if (!sk || db_current_state_set(x->c, x->room_id, str(ev, "type"), sk, id, m) == 0)
            rc = db_rooms_set_state_group(x->c, x->room_id, after_group);
        goto out;
    }
    /* the state after it, in full */
    after_map = before ? json_deep_copy(before) : db_state_group_load(x->c, after_group);
    if (!after_map)
        goto out;
    if (before && sk)
        statemap_set(after_map, str(ev, "type"), sk, id);
    if (covers) { /* the only extremity: current state = the state after it */
        if (db_current_state_replace(x->c, x->room_id, after_map) == 0)
            rc = db_rooms_set_state_group(x->c, x->room_id, after_group);
        goto out;
    }
    /* a fork stays open: the resolution of the states at every extremity */
    json_t *maps = json_array();
    json_array_append(maps, after_map);
    json_array_foreach(ext, i, v)
    {
        struct db_event e;
        if (db_events_get(x->c, json_string_value(v), &e) != 1)
            continue;
        json_t *m = e.state_group > 0 ? db_state_group_load(x->c, e.state_group) : NULL;
        if (m)
            json_array_append_new(maps, m);
        db_event_clear(&e);
    }
    json_t *cur = room_recv_resolve(x, maps, why, n);
    json_decref(maps);
    if (!cur)
        goto out;
    int64_t g = group_for(x->c, x->room_id, after_group, after_map, cur);
    if (g > 0 && db_current_state_replace(x->c, x->room_id, cur) == 0)
        rc = db_rooms_set_state_group(x->c, x->room_id, g);
    json_decref(cur);
out:
    json_decref(after_map);
    json_decref(pset);
    json_decref(ext);
    return rc;
}

/* --- room_receive_pdu ---------------------------------------------------------------------- */

/* The state before `ev` from its prev events: *group (stored) and, when several states were
 * resolved, *map (else NULL: read through the group). Returns 0, 2 (some prev events unknown
 * or outliers: appended to missing), -1. */
static int state_before(struct room_recv_ctx *x, const json_t *ev, json_t *prevs, json_t *missing,
                        int64_t *group, json_t **map, char *why, size_t n)
{
    json_t *groups = json_array(), *maps = json_array(), *seen = json_object();
    size_t i;
    json_t *v;
    int rc = 0;
    *group = 0;
    *map = NULL;
    json_array_foreach(prevs, i, v)
    {
        struct db_event e;
        int found = db_events_get(x->c, json_string_value(v), &e);
        if (found < 0) {
            rc = -1;
            goto out;
        }
        if (found == 0 || e.state_group <= 0 || strcmp(e.room_id, x->room_id) != 0) {
            json_array_append(missing, v);
            rc = 2;
        } else {
            char g[24];
            snprintf(g, sizeof g, "%lld", (long long)e.state_group);
            if (!json_object_get(seen, g)) {
                json_object_set_new(seen, g, json_true());
                json_array_append_new(groups, json_integer(e.state_group));
            }
        }
        if (found == 1)
            db_event_clear(&e);
    }
    if (rc)
        goto out;
    if (json_array_size(groups) == 1) { /* read key by key through the group */
        *group = json_integer_value(json_array_get(groups, 0));
        goto out;
    }
    json_array_foreach(groups, i, v)
    {
        json_t *m = db_state_group_load(x->c, json_integer_value(v));
        if (!m) {
            rc = -1;
            goto out;
        }
        json_array_append_new(maps, m);
    }
    *map = room_recv_resolve(x, maps, why, n);
    if (!*map) {
        rc = -1;
        goto out;
    }
    *group = group_for(x->c, x->room_id, json_integer_value(json_array_get(groups, 0)),
                       json_array_get(maps, 0), *map);
    if (*group <= 0)
        rc = -1;
out:
    if (rc) {
        json_decref(*map);
        *map = NULL;
    }
    json_decref(groups);
    json_decref(maps);
    json_decref(seen);
    return rc;
}

/* Steps 4-6 and persistence, in the transaction holding the room lock. */
enum room_recv room_recv_locked(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                                const char *id, json_t *missing, char *why, size_t n)
{
    json_t *prevs = room_recv_prev_ids(ev), *before = NULL, *old_ext = NULL;
    enum room_recv out = ROOM_RECV_ERR;
    char reason[300] = "";
    int64_t before_group = 0;

    if (!json_array_size(prevs)) { /* only a create event has none, and the room has its own */
        snprintf(why, n, "no prev_events");
        out = ROOM_RECV_DROPPED;
        goto done;
    }
    /* stored already: a duplicate, unless it is an outlier without state (an auth event
     * fetched earlier, the send_join answer's) that now joins the timeline */
    bool promote = false;
    if (room_recv_load(x, id)) {
        struct db_event e;
        if (db_events_get(x->c, id, &e) == 1) {
            promote = e.outlier && !e.soft_failed && !e.rejected && e.state_group <= 0;
            db_event_clear(&e);
        }
        if (!promote) {
            snprintf(why, n, "already stored");
            out = ROOM_RECV_DUPLICATE;
            goto done;
        }
    }
    /* 4. auth events (all of them must be here) */
    int a = room_recv_check_auth(x, ev, missing, reason, sizeof reason);
    if (a < 0)
        goto done;
    if (a == 2) {
        snprintf(why, n, "unknown auth events");
        out = ROOM_RECV_MISSING_AUTH;
        goto done;
    }
    /* 5. the state before it */
    int s = state_before(x, ev, prevs, missing, &before_group, &before, why, n);
    struct room_recv_state bs = {x, before, NULL, before_group};
    if (s < 0)
        goto done;
    if (s == 2) {
        out = ROOM_RECV_MISSING_PREV;
        if (json_array_size(missing))
            snprintf(why, n, "unknown prev events");
        goto done;
    }
    if (a == 0) {
        struct auth_ops ops = {room_recv_map_state, room_recv_map_signed, &bs};
        if (auth_check(x->rv, ev, &ops, reason, sizeof reason) < 0)
            a = 1;
        if (x->failed) /* a read failed: no verdict */
            goto done;
    }
    if (a == 1) { /* rejected: kept with the state before it */
        snprintf(why, n, "rejected: %s", reason);
        if (room_recv_insert(x, ev, id, before_group, reason, true, false, prevs, NULL, promote) <
            0)
            goto done;
        out = ROOM_RECV_REJECTED;
        goto done;
    }
    /* 6. the current state (the resolution at the extremities), unless it is the state
     * before: soft failure */
    old_ext = db_rooms_extremities(x->c, x->room_id);
    if (!old_ext)
        goto done;
    bool same = json_array_size(old_ext) == json_array_size(prevs);
    size_t i;
    json_t *v;
    json_array_foreach(old_ext, i, v)
    {
        bool in = false;
        for (size_t j = 0; j < json_array_size(prevs) && !in; j++)
            in = json_equal(v, json_array_get(prevs, j));
        same = same && in;
    }
    bool soft = false;
    if (!same) {
        json_t *cur = json_object(), *ids = json_array();
        json_t *proto = json_deep_copy(ev);
        if (room_select_auth(x->c, x->room_id, x->rv, proto, cur, ids) == 0) {
            struct room_recv_state ms = {x, NULL, cur, 0};
            struct auth_ops ops = {room_recv_map_state, room_recv_map_signed, &ms};
            soft = auth_check(x->rv, ev, &ops, reason, sizeof reason) < 0;
        } else {
            soft = true; /* no create event in current state: nothing can pass */
            snprintf(reason, sizeof reason, "the current state lacks its auth events");
        }
        json_decref(proto);
        json_decref(cur);
        json_decref(ids);
    }
    int64_t after_group = room_recv_group_after(x, ev, id, before_group);
    if (after_group <= 0)
        goto done;
    if (soft) {
        snprintf(why, n, "soft failed: %s", reason);
        if (room_recv_insert(x, ev, id, after_group, NULL, true, true, prevs, NULL, promote) < 0)
            goto done;
        out = ROOM_RECV_SOFT_FAILED;
        goto done;
    }
    int64_t stream = 0;
    if (room_recv_insert(x, ev, id, after_group, NULL, false, false, prevs, &stream, promote) < 0)
        goto done;
    if (update_current(x, ev, id, prevs, old_ext, after_group, before, why, n) < 0)
        goto done;
    const char *m = strcmp(str(ev, "type"), "m.room.member") == 0
                        ? str(json_object_get(ev, "content"), "membership")
                        : NULL;
    if (m && strcmp(m, "join") == 0 && ids_is_local(str(ev, "state_key")) &&
        db_rooms_unforget(x->c, x->room_id, str(ev, "state_key")) < 0)
        goto done;
    if (m && privacy_member_left(x->c, x->room_id, str(ev, "state_key"), m) < 0)
        goto done;
    if (room_recv_side_effects(x, b, ev, id, &bs) < 0)
        goto done;
    room_recv_queue(b, stream, x->room_id, ev);
    snprintf(why, n, "accepted");
    out = ROOM_RECV_ACCEPTED;
done:
    json_decref(prevs);
    json_decref(before);
    json_decref(old_ext);
    return out;
}

/* Commit (stored outcomes) or roll back, and announce what was committed. */
enum room_recv room_recv_finish(struct dbc *c, struct batch *b, enum room_recv rc)
{
    bool keep = rc == ROOM_RECV_ACCEPTED || rc == ROOM_RECV_REJECTED || rc == ROOM_RECV_SOFT_FAILED;
    if (keep && room_push_commit(c, b) < 0) {
        db_rollback(c);
        room_batch_announce(b, false);
        return ROOM_RECV_ERR;
    }
    if (!keep)
        db_rollback(c);
    room_batch_announce(b, keep);
    return rc;
}

enum room_recv room_recv_verdict(int v)
{
    return v == PDU_RETRY ? ROOM_RECV_RETRY : ROOM_RECV_DROPPED;
}

enum room_recv room_recv_run(const char *origin, const char *room_id, const json_t *pdu,
                             room_recv_step locked, char **event_id, json_t **missing, char *why,
                             size_t n)
{
    json_t *checked = NULL, *miss = json_array();
    char *id = NULL;
    enum room_recv rc = ROOM_RECV_ERR;
    struct db_room r = {0};
    struct batch b = {.n = 0};
    struct dbc *c = NULL;
    *event_id = NULL;
    if (missing)
        *missing = NULL;
    snprintf(why, n, "internal error");
    char *version = room_id ? room_version_of(room_id) : NULL;
    const struct room_version *rv = roomver_get(version);
    free(version);
    if (!rv) {
        snprintf(why, n, "this server is not in room %s", room_id ? room_id : "?");
        json_decref(miss);
        return ROOM_RECV_UNKNOWN_ROOM;
    }
    /* 1-3, outside the lock */
    enum pdu_verdict v = pdu_check(rv, pdu, &checked, &id, why, n);
    if (v == PDU_DROP || v == PDU_RETRY) {
        log_info("pdu from %s dropped: %s", origin ? origin : "?", why);
        json_decref(miss);
        return room_recv_verdict(v);
    }
    *event_id = strdup(id);
    if (!(c = db_get()))
        goto out;
    b.ticket = notify_begin();
    if (db_begin(c) < 0) {
        room_batch_announce(&b, false);
        goto out;
    }
    if (db_rooms_get(c, room_id, true, &r) != 1) { /* the room's writer lock */
        db_rollback(c);
        room_batch_announce(&b, false);
        goto out;
    }
    struct room_recv_ctx x = {c, rv, room_id, json_object(), json_object(), false, NULL};
    rc = locked(&x, &b, checked, id, miss, why, n);
    json_decref(x.cache);
    json_decref(x.rejected);
    rc = room_recv_finish(c, &b, rc);
out:
    if (c)
        db_put(c);
    db_room_clear(&r);
    if (missing && (rc == ROOM_RECV_MISSING_AUTH || rc == ROOM_RECV_MISSING_PREV))
        *missing = json_incref(miss);
    json_decref(miss);
    json_decref(checked);
    free(id);
    return rc;
}

enum room_recv room_receive_pdu(const char *origin, const json_t *pdu, char **event_id,
                                json_t **missing, char *why, size_t n)
{
    const char *room_id = str(pdu, "room_id");
    if (!json_is_object(pdu) || !room_id) {
        *event_id = NULL;
        if (missing)
            *missing = NULL;
        snprintf(why, n, "invalid event: no room_id");
        return ROOM_RECV_DROPPED;
    }
    return room_recv_run(origin, room_id, pdu, room_recv_locked, event_id, missing, why, n);
}
