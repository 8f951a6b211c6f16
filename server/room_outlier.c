/* room_outlier.c - events the room engine stores before it can place them in the timeline
 * (Server-Server API "Joining Rooms", "Retrieving events", "Backfilling and retrieving missing
 * events"): the state and auth chain of a send_join answer, stored as outliers (each checked
 * against its own auth events) under the join that brings them; single auth events fetched
 * from another server; and the receive loop that asks the registered fetcher (struct
 * room_fetcher) for what a PDU is missing before trying it again.
 *
 * Outliers have no state group and no stream position; when one later arrives as a timeline
 * event (as a missing prev event), room_receive_pdu gives it its standing (storage:
 * db_events_promote); the room's create needs nobody's help for that (nothing is before it).
 * get_missing_events never asks below the room's shallowest timeline event here. Everything
 * here takes the room's writer lock as room_receive_pdu does (server/room_receive.c), and
 * calls the fetcher only outside it. */
#include "server/room.h"
#include "server/room_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/pdu.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_RECV_EVENTS 20000 /* events of one send_join answer (state + auth chain) */

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* --- room_receive_state: the send_join answer ------------------------------------------------ */

/* Is `ev` (checked, with "event_id") an event of room_id? In v12 the create event names the
 * room by its own ID. */
bool room_recv_of_room(const struct room_version *rv, const json_t *ev, const char *room_id)
{
    const char *type = str(ev, "type"), *sk = str(ev, "state_key");
    if (rv->room_id_from_create && type && sk && strcmp(type, "m.room.create") == 0 && !*sk) {
        const char *id = str(ev, "event_id");
        return id && room_id[0] == '!' && strcmp(id + 1, room_id + 1) == 0;
    }
    const char *r = str(ev, "room_id");
    return r && strcmp(r, room_id) == 0;
}

/* Check the PDUs of `list` (steps 1-3) into evs (event ID -> checked PDU); state IDs into
 * `state_ids` when it is non-NULL. Returns 0, or RETRY when a key could not be fetched. */
static int check_list(const struct room_version *rv, const char *room_id, const json_t *list,
                      json_t *evs, json_t *state_ids, char *why, size_t n)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *checked = NULL;
        char *id = NULL, reason[200];
        if (json_object_size(evs) >= MAX_RECV_EVENTS)
            break;
        enum pdu_verdict pv = pdu_check(rv, v, &checked, &id, reason, sizeof reason);
        if (pv == PDU_RETRY) {
            snprintf(why, n, "%s", reason);
            return -1;
        }
        if (pv == PDU_DROP || !room_recv_of_room(rv, checked, room_id)) {
            log_info("send_join answer: event dropped: %s",
                     pv == PDU_DROP ? reason : "of another room");
        } else {
            if (state_ids)
                json_object_set_new(state_ids, id, json_true());
            json_object_set(evs, id, checked);
        }
        json_decref(checked);
        free(id);
    }
    return 0;
}

/* The events of evs in an order where auth events come first (Kahn's algorithm over the
 * auth_events edges inside evs; ties by event ID). Events on a cycle are left out. New array
 * of IDs. */
static json_t *auth_order(const json_t *evs)
{
    json_t *indeg = json_object(), *users = json_object(), *order = json_array();
    const char *id;
    json_t *ev;
    json_object_foreach((json_t *)evs, id, ev)
    {
        json_int_t d = 0;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ev, "auth_events"), i, a)
        {
            const char *aid = room_recv_ref_id(a);
            if (!aid || !json_object_get(evs, aid))
                continue;
            d++;
            json_t *u = json_object_get(users, aid);
            if (!u) {
                u = json_array();
                json_object_set_new(users, aid, u);
            }
            json_array_append_new(u, json_string(id));
        }
        json_object_set_new(indeg, id, json_integer(d));
    }
    json_t *ready = json_array();
    json_object_foreach(indeg, id, ev) if (json_integer_value(ev) == 0)
        json_array_append_new(ready, json_string(id));
    while (json_array_size(ready)) {
        /* smallest ID first: the order does not depend on the lists' order */
        size_t best = 0;
        for (size_t i = 1; i < json_array_size(ready); i++)
            if (strcmp(json_string_value(json_array_get(ready, i)),
                       json_string_value(json_array_get(ready, best))) < 0)
                best = i;
        json_t *cur_id = json_incref(json_array_get(ready, best));
        json_array_remove(ready, best);
        json_array_append(order, cur_id);
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(users, json_string_value(cur_id)), i, u)
        {
            json_t *d = json_object_get(indeg, json_string_value(u));
            json_integer_set(d, json_integer_value(d) - 1);
            if (json_integer_value(d) == 0)
                json_array_append(ready, u);
        }
        json_decref(cur_id);
    }
    /* the create event first: it has no auth events, and in v12 every other event needs it
     * without listing it */
    for (size_t i = 1; i < json_array_size(order); i++) {
        const json_t *e = json_object_get(evs, json_string_value(json_array_get(order, i)));
        const char *t = str(e, "type"), *sk = str(e, "state_key");
        if (t && sk && strcmp(t, "m.room.create") == 0 && !*sk) {
            json_t *cid = json_incref(json_array_get(order, i));
            json_array_remove(order, i);
            json_array_insert_new(order, 0, cid);
            break;
        }
    }
    json_decref(ready);
    json_decref(indeg);
    json_decref(users);
    return order;
}

/* Store the checked events of evs as outliers in auth order (step 4 each), and build the
 * state map of the non-rejected ones among state_ids. Returns 0, 2 (an auth event is
 * nowhere: missing), -1. */
static int store_outliers(struct room_recv_ctx *x, const json_t *evs, const json_t *state_ids,
                          json_t *state_map, json_t *missing)
{
    json_t *order = auth_order(evs);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(order, i, v)
    {
        const char *id = json_string_value(v);
        const json_t *ev = json_object_get(evs, id);
        char reason[300] = "";
        bool stored = room_recv_load(x, id) != NULL; /* known already (a rejoin) */
        if (x->failed) {
            rc = -1;
            break;
        }
        if (!stored) {
            int a = room_recv_check_auth(x, ev, missing, reason, sizeof reason);
            if (a < 0 || a == 2) {
                rc = a;
                break;
            }
            json_t *prevs = room_recv_prev_ids(ev);
            int ins = room_recv_insert(x, ev, id, 0, a == 1 ? reason : NULL, true, false, prevs,
                                       NULL, false);
            json_decref(prevs);
            if (ins < 0) {
                rc = -1;
                break;
            }
            if (a == 1) {
                log_info("send_join answer: %s rejected: %s", id, reason);
            }
        }
        const char *sk = str(ev, "state_key");
        if (sk && json_object_get(state_ids, id) && !room_recv_rejected(x, id) &&
            !statemap_get(state_map, str(ev, "type"), sk))
            statemap_set(state_map, str(ev, "type"), sk, id);
    }
    json_decref(order);
    return rc;
}

/* Store `state` and `auth_chain` as outliers, then `pdu` with `state` before it: with `join`,
 * as the room's newest timeline event (room_receive_state; the room row is made when new, and
 * a rejected join keeps nothing), else as an outlier with that state (a prev event another
 * event needs; kept rejected when it fails). */
static enum room_recv with_state(const char *room_id, const struct room_version *rv,
                                 const json_t *state, const json_t *auth_chain, const json_t *pdu,
                                 bool join, char **event_id, char *why, size_t n)
{
    json_t *evs = json_object(), *state_ids = json_object(), *checked = NULL;
    json_t *state_map = json_object(), *missing = json_array(), *after_map = NULL;
    json_t *old_ext = NULL;
    char *id = NULL, reason[300] = "";
    enum room_recv rc = ROOM_RECV_ERR;
    struct dbc *c = NULL;
    struct db_room r = {0};
    struct batch b = {.n = 0};
    struct room_recv_ctx x = {NULL, rv, room_id, json_object(), json_object(), false, NULL};
    bool in_txn = false;
    *event_id = NULL;
    snprintf(why, n, "internal error");
    if (!rv || !room_id || !json_is_array(state) || !json_is_array(auth_chain)) {
        snprintf(why, n, "unknown room version or malformed state");
        rc = ROOM_RECV_DROPPED;
        goto out;
    }
    /* 1-3 for every event, outside the lock */
    enum pdu_verdict v = pdu_check(rv, pdu, &checked, &id, why, n);
    if (v == PDU_DROP || v == PDU_RETRY) {
        rc = room_recv_verdict(v);
        goto out;
    }
    *event_id = strdup(id);
    if (!room_recv_of_room(rv, checked, room_id)) {
        snprintf(why, n, "the event is of another room");
        rc = ROOM_RECV_DROPPED;
        goto out;
    }
    if (check_list(rv, room_id, state, evs, state_ids, why, n) < 0 ||
        check_list(rv, room_id, auth_chain, evs, NULL, why, n) < 0) {
        rc = ROOM_RECV_RETRY;
        goto out;
    }
    const char *creator = NULL;
    const char *k;
    json_t *ev;
    json_object_foreach(evs, k, ev)
    {
        if (strcmp(str(ev, "type"), "m.room.create") == 0 && str(ev, "state_key") &&
            !*str(ev, "state_key"))
            creator = str(ev, "sender");
    }
    if (!creator) {
        snprintf(why, n, "no valid m.room.create event in the state");
        rc = ROOM_RECV_REJECTED;
        goto out;
    }
    /* the room's writer lock (its row, made here when new) */
    if (!(c = db_get()))
        goto out;
    x.c = c;
    b.ticket = notify_begin();
    if (db_begin(c) < 0)
        goto out;
    in_txn = true;
    int found = db_rooms_get(c, room_id, true, &r);
    if (found == 0 && !join) {
        snprintf(why, n, "this server is not in room %s", room_id);
        rc = ROOM_RECV_UNKNOWN_ROOM;
        goto out;
    }
    if (found < 0 ||
        (found == 0 && (db_rooms_insert(c, room_id, rv->id, creator, clock_now_ms()) != 0 ||
                        db_rooms_get(c, room_id, true, &r) != 1)))
        goto out;
    if (strcmp(r.room_version, rv->id) != 0) {
        snprintf(why, n, "room %s is of version %s here", room_id, r.room_version);
        rc = ROOM_RECV_DROPPED;
        goto out;
    }
    bool promote = false; /* a stored outlier without state gets this state */
    if (room_recv_load(&x, id)) {
        struct db_event e;
        if (!join && db_events_get(c, id, &e) == 1) {
            promote = e.outlier && !e.soft_failed && !e.rejected && e.state_group <= 0;
            db_event_clear(&e);
        }
        if (!promote) {
            snprintf(why, n, "already stored");
            rc = ROOM_RECV_DUPLICATE;
            goto out;
        }
    }
    int s = store_outliers(&x, evs, state_ids, state_map, missing);
    if (s < 0)
        goto out;
    if (s == 2) {
        snprintf(why, n, "an auth event is in neither list: %s",
                 json_string_value(json_array_get(missing, 0)));
        rc = ROOM_RECV_MISSING_AUTH;
        goto out;
    }
    /* the event: 4 against its auth events, 5 against the state it came with */
    int a = room_recv_check_auth(&x, checked, missing, reason, sizeof reason);
    if (a < 0)
        goto out;
    if (a == 2) {
        snprintf(why, n, "an auth event of the event is unknown");
        rc = ROOM_RECV_MISSING_AUTH;
        goto out;
    }
    if (a == 0) {
        struct room_recv_state ms = {&x, state_map, NULL, 0};
        struct auth_ops ops = {room_recv_map_state, room_recv_map_signed, &ms};
        if (auth_check(rv, checked, &ops, reason, sizeof reason) < 0)
            a = 1;
    }
    int64_t before = db_state_group_new(c, room_id, 0, state_map);
    json_t *prevs = room_recv_prev_ids(checked);
    if (a == 1) {
        snprintf(why, n, "rejected: %s", reason);
        rc = ROOM_RECV_REJECTED; /* a join: rolled back, nothing is kept of the room */
        if (!join && (before <= 0 || room_recv_insert(&x, checked, id, before, reason, true, false,
                                                      prevs, NULL, promote) < 0))
            rc = ROOM_RECV_ERR;
        json_decref(prevs);
        goto out;
    }
    int64_t after = before > 0 ? room_recv_group_after(&x, checked, id, before) : -1;
    if (!join) { /* an outlier with its state: no timeline, no extremity */
        rc = after > 0 && room_recv_insert(&x, checked, id, after, NULL, true, false, prevs, NULL,
                                           promote) == 0
                 ? ROOM_RECV_ACCEPTED
                 : ROOM_RECV_ERR;
        json_decref(prevs);
        snprintf(why, n, "stored with its state");
        goto out;
    }
    int64_t stream = 0;
    old_ext = db_rooms_extremities(c, room_id);
    int ins = after > 0 && old_ext ? room_recv_insert(&x, checked, id, after, NULL, false, false,
                                                      prevs, &stream, false)
                                   : -1;
    json_decref(prevs);
    if (ins < 0)
        goto out;
    after_map = json_deep_copy(state_map);
    statemap_set(after_map, str(checked, "type"), str(checked, "state_key"), id);
    /* the join is the only extremity; the state after it is the current state */
    if ((json_array_size(old_ext) && db_rooms_extremities_advance(c, room_id, old_ext, id) < 0) ||
        db_current_state_replace(c, room_id, after_map) < 0 ||
        db_rooms_set_state_group(c, room_id, after) < 0)
        goto out;
    const char *joiner = str(checked, "state_key");
    if (ids_is_local(joiner) && db_rooms_unforget(c, room_id, joiner) < 0)
        goto out;
    struct room_recv_state bs = {&x, state_map, NULL, 0};
    if (room_recv_side_effects(&x, &b, checked, id, &bs) < 0)
        goto out;
    room_recv_queue(&b, stream, room_id, checked);
    snprintf(why, n, "accepted");
    rc = ROOM_RECV_ACCEPTED;
out:
    if (in_txn && (rc == ROOM_RECV_ACCEPTED || (!join && rc == ROOM_RECV_REJECTED))) {
        rc = room_recv_finish(c, &b, rc);
    } else { /* only an accepted join keeps anything: the outliers go with a rejected one */
        if (in_txn)
            db_rollback(c);
        if (b.ticket)
            room_batch_announce(&b, false);
    }
    if (c)
        db_put(c);
    db_room_clear(&r);
    json_decref(x.cache);
    json_decref(x.rejected);
    json_decref(evs);
    json_decref(state_ids);
    json_decref(state_map);
    json_decref(missing);
    json_decref(after_map);
    json_decref(old_ext);
    json_decref(checked);
    free(id);
    return rc;
}

enum room_recv room_receive_state(const char *room_id, const char *room_version,
                                  const json_t *state, const json_t *auth_chain, const json_t *join,
                                  char **event_id, char *why, size_t n)
{
    return with_state(room_id, roomver_get(room_version), state, auth_chain, join, true, event_id,
                      why, n);
}

/* --- single outliers and the fetching receive ---------------------------------------------- */

int room_recv_admit(struct room_recv_ctx *x, const json_t *ev, const char *id, json_t *missing,
                    char *reason, size_t rn, enum room_recv *out, char *why, size_t n)
{
    if (!room_recv_of_room(x->rv, ev, x->room_id)) {
        snprintf(why, n, "the event is of another room");
        *out = ROOM_RECV_DROPPED;
        return -1;
    }
    if (room_recv_load(x, id))
        return 2;
    int a = room_recv_check_auth(x, ev, missing, reason, rn);
    if (a == 2)
        snprintf(why, n, "unknown auth events");
    if (a < 0 || a == 2) {
        *out = a < 0 ? ROOM_RECV_ERR : ROOM_RECV_MISSING_AUTH;
        return -1;
    }
    return a;
}

/* room_receive_outlier's part under the lock. */
static enum room_recv outlier_locked(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                                     const char *id, json_t *missing, char *why, size_t n)
{
    char reason[300] = "";
    enum room_recv out = ROOM_RECV_ERR;
    int a = room_recv_admit(x, ev, id, missing, reason, sizeof reason, &out, why, n);
    if (a < 0)
        return out;
    if (a == 2) {
        snprintf(why, n, "already stored");
        return ROOM_RECV_DUPLICATE;
    }
    json_t *prevs = room_recv_prev_ids(ev);
    int ins =
        room_recv_insert(x, ev, id, 0, a == 1 ? reason : NULL, true, false, prevs, NULL, false);
    json_decref(prevs);
    if (ins < 0)
        return ROOM_RECV_ERR;
    snprintf(why, n, "%s%s", a == 1 ? "rejected: " : "stored as an outlier", a == 1 ? reason : "");
    return a == 1 ? ROOM_RECV_REJECTED : ROOM_RECV_ACCEPTED;
}

enum room_recv room_receive_outlier(const char *origin, const char *room_id, const json_t *pdu,
                                    char **event_id, json_t **missing, char *why, size_t n)
{
    return room_recv_run(origin, room_id, pdu, outlier_locked, event_id, missing, why, n);
}

static enum room_recv receive_fetching(const char *origin, const json_t *pdu, char **event_id,
                                       char *why, size_t n, int *budget, int depth_left);

/* room_internal.h */
int room_recv_fetch_auth(const struct room_fetcher *f, const char *origin, const char *room_id,
                         const json_t *ids, int *budget)
{
    if (!f->get_event)
        return -1;
    json_t *todo = json_deep_copy(ids), *seen = json_object();
    int rc = 0;
    while (json_array_size(todo) && rc == 0) {
        const char *id = json_string_value(json_array_get(todo, json_array_size(todo) - 1));
        if (!id || (*budget)-- <= 0 ||
            (json_object_get(seen, id) && json_integer_value(json_object_get(seen, id)) > 1)) {
            rc = -1;
            break;
        }
        json_object_set_new(seen, id,
                            json_integer(json_integer_value(json_object_get(seen, id)) + 1));
        json_t *pdu = f->get_event(f->ctx, origin, room_id, id);
        char *got = NULL, why[300];
        json_t *missing = NULL;
        enum room_recv r =
            pdu ? room_receive_outlier(origin, room_id, pdu, &got, &missing, why, sizeof why)
                : ROOM_RECV_ERR;
        json_decref(pdu);
        if (r == ROOM_RECV_MISSING_AUTH) { /* its own auth events first, then it again */
            json_array_extend(todo, missing);
        } else if (r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_REJECTED || r == ROOM_RECV_DUPLICATE) {
            if (got && strcmp(got, id) == 0)
                json_array_remove(todo, json_array_size(todo) - 1);
            else
                rc = -1; /* the server answered with another event */
        } else {
            rc = -1;
        }
        json_decref(missing);
        free(got);
    }
    json_decref(todo);
    json_decref(seen);
    return rc;
}

/* Ask `origin` for the events between the room's extremities and `pdu` and receive them, the
 * shallowest first. Returns 0 if anything was received, -1. */
static int fetch_prev(const struct room_fetcher *f, const char *origin, const char *room_id,
                      const json_t *pdu, const char *event_id, int *budget, int depth_left)
{
    struct dbc *c = db_get();
    json_t *earliest = c ? db_rooms_extremities(c, room_id) : NULL;
    /* never below our own history (as Synapse): over a fork that reaches back before the join,
     * the remote's walk would go on down to the create through events known here only as
     * outliers of the send_join answer; the prev event the cut leaves open is placed through
     * /state_ids (fill_from_state) */
    int64_t ours = c ? db_events_min_depth(c, room_id) : -1;
    db_put(c);
    if (!earliest)
        return -1;
    json_t *latest = json_pack("[s]", event_id);
    int64_t depth = json_integer_value(json_object_get(pdu, "depth"));
    int64_t min_depth = depth > ROOM_FETCH_MISSING_LIMIT ? depth - ROOM_FETCH_MISSING_LIMIT : 0;
    if (ours > min_depth)
        min_depth = ours;
    json_t *got = f->get_missing_events(f->ctx, origin, room_id, earliest, latest,
                                        ROOM_FETCH_MISSING_LIMIT, min_depth);
    json_decref(earliest);
    json_decref(latest);
    if (!json_is_array(got) || !json_array_size(got)) {
        json_decref(got);
        return -1;
    }
    /* shallowest first: each one's prev events before it */
    size_t nn = json_array_size(got);
    for (size_t i = 1; i < nn; i++)
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(got, j - 1), *b = json_array_get(got, j);
            if (json_integer_value(json_object_get(a, "depth")) <=
                json_integer_value(json_object_get(b, "depth")))
                break;
            json_incref(a);
            json_array_set(got, j - 1, b);
            json_array_set_new(got, j, a);
        }
    int received = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(got, i, ev)
    {
        if (*budget <= 0)
            break;
        (*budget)--;
        const char *rid = str(ev, "room_id");
        if (!rid || strcmp(rid, room_id) != 0) /* only this room's events answer this question */
            continue;
        char *id = NULL, why[300];
        enum room_recv r =
            receive_fetching(origin, ev, &id, why, sizeof why, budget, depth_left - 1);
        received +=
            r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_SOFT_FAILED || r == ROOM_RECV_REJECTED;
        free(id);
    }
    json_decref(got);
    return received ? 0 : -1;
}

/* The PDUs of `ids` (array of event IDs, at most ROOM_FETCH_STATE_MAX): stored ones from the
 * database, the others from `origin`. New array, or NULL when one cannot be had. */
static json_t *pdus_of(const struct room_fetcher *f, const struct room_version *rv,
                       const char *origin, const char *room_id, const json_t *ids)
{
    if (!json_is_array(ids) || json_array_size(ids) > ROOM_FETCH_STATE_MAX)
        return NULL;
    struct dbc *c = db_get();
    json_t *out = c ? json_array() : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        json_t *pdu = id ? room_load_pdu(c, id) : NULL;
        if (pdu && rv->event_ids != ROOMVER_EVID_V1) /* as sent: v3+ PDUs carry no event_id */
            json_object_del(pdu, "event_id");
        if (!pdu && id)
            pdu = f->get_event(f->ctx, origin, room_id, id);
        if (!pdu || !out) {
            json_decref(pdu);
            json_decref(out);
            out = NULL;
            break;
        }
        json_array_append_new(out, pdu);
    }
    db_put(c);
    return out;
}

/* The room's create event when `id` is that and it is stored here (new reference, as sent),
 * else NULL. The state before it is known without asking anyone: nothing. A joining server
 * has it as an outlier without state (the send_join answer's); get_missing_events over a fork
 * that reaches back before the join brings the creator's join, whose only prev it is. */
static json_t *local_create(const struct room_version *rv, const char *room_id, const char *id)
{
    struct dbc *c = db_get();
    struct db_event e;
    int found = c && id ? db_events_get(c, id, &e) : -1;
    json_t *pdu = NULL;
    if (found == 1) {
        const char *type = str(e.pdu, "type"), *sk = str(e.pdu, "state_key");
        if (strcmp(e.room_id, room_id) == 0 && type && strcmp(type, "m.room.create") == 0 && sk &&
            !*sk && !json_array_size(json_object_get(e.pdu, "prev_events")))
            pdu = room_load_pdu(c, id);
        db_event_clear(&e);
    }
    db_put(c);
    if (pdu && rv->event_ids != ROOMVER_EVID_V1)
        json_object_del(pdu, "event_id");
    return pdu;
}

/* Are all of `missing` (prev event IDs) the room's create event, stored here? */
static bool only_local_create(const struct room_version *rv, const char *room_id,
                              const json_t *missing)
{
    size_t i;
    json_t *v;
    if (!rv || !json_array_size(missing))
        return false;
    json_array_foreach(missing, i, v)
    {
        json_t *pdu = local_create(rv, room_id, json_string_value(v));
        json_decref(pdu);
        if (!pdu)
            return false;
    }
    return true;
}

/* The last resort for prev events get_missing_events cannot bring (Synapse's way, as the spec
 * leaves it open): for each, the state before it from `origin` (/state_ids, then the events
 * not stored here), and the event itself, stored as an outlier with that state, so that the
 * event that needs them can be placed. Returns 0 if every one was stored, -1. */
static int fill_from_state(const struct room_fetcher *f, const char *origin, const char *room_id,
                           const json_t *missing)
{
    char *version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    free(version);
    if (!rv || json_array_size(missing) > 20)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(missing, i, v)
    {
        const char *pid = json_string_value(v);
        json_t *ids = NULL, *state = NULL, *chain = NULL, *pev = local_create(rv, room_id, pid);
        if (pev) { /* nothing before it; it is its own auth chain */
            state = json_array();
            chain = json_pack("[O]", pev);
        } else {
            ids = pid ? f->get_state_ids(f->ctx, origin, room_id, pid) : NULL;
            state = pdus_of(f, rv, origin, room_id, json_object_get(ids, "pdu_ids"));
            chain = pdus_of(f, rv, origin, room_id, json_object_get(ids, "auth_chain_ids"));
            pev = state && chain ? f->get_event(f->ctx, origin, room_id, pid) : NULL;
        }
        char *got = NULL, why[300];
        enum room_recv r =
            pev ? with_state(room_id, rv, state, chain, pev, false, &got, why, sizeof why)
                : ROOM_RECV_ERR;
        bool ok =
            (r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_REJECTED || r == ROOM_RECV_DUPLICATE) &&
            got && strcmp(got, pid) == 0;
        if (!ok)
            log_info("state of %s from %s not usable: %s", pid, origin ? origin : "?",
                     pev ? why : "not fetched");
        free(got);
        json_decref(pev);
        json_decref(state);
        json_decref(chain);
        json_decref(ids);
        if (!ok)
            return -1;
    }
    return 0;
}

/* room_receive_pdu, and on MISSING_AUTH / MISSING_PREV the fetcher's help, then again; the
 * prev events it brings are received the same way, `depth_left` levels deep. */
static enum room_recv receive_fetching(const char *origin, const json_t *pdu, char **event_id,
                                       char *why, size_t n, int *budget, int depth_left)
{
    const struct room_fetcher *f = room_fetcher();
    const char *room_id = str(pdu, "room_id");
    json_t *missing = NULL;
    enum room_recv rc = room_receive_pdu(origin, pdu, event_id, &missing, why, n);
    for (int round = 0; round < ROOM_FETCH_ROUNDS && room_id && *event_id &&
                        (rc == ROOM_RECV_MISSING_AUTH || rc == ROOM_RECV_MISSING_PREV);
         round++) {
        int got;
        if (rc == ROOM_RECV_MISSING_AUTH)
            got = room_recv_fetch_auth(f, origin, room_id, missing, budget);
        else {
            /* only the create is missing (an outlier of the join): placed here, no asking */
            char *version = room_version_of(room_id);
            bool local = only_local_create(roomver_get(version), room_id, missing);
            free(version);
            got = local ? fill_from_state(f, origin, room_id, missing)
                  : f->get_missing_events && depth_left > 0
                      ? fetch_prev(f, origin, room_id, pdu, *event_id, budget, depth_left)
                      : -1;
            if (got < 0 && !local && f->get_state_ids && f->get_event)
                got = fill_from_state(f, origin, room_id, missing);
        }
        if (got < 0)
            break;
        json_decref(missing);
        missing = NULL;
        free(*event_id);
        *event_id = NULL;
        rc = room_receive_pdu(origin, pdu, event_id, &missing, why, n);
    }
    json_decref(missing);
    return rc;
}

enum room_recv room_receive_pdu_fetching(const char *origin, const json_t *pdu, char **event_id,
                                         char *why, size_t n)
{
    int budget = ROOM_FETCH_BUDGET;
    return receive_fetching(origin, pdu, event_id, why, n, &budget, ROOM_FETCH_DEPTH);
}
