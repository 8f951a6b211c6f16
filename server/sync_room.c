/* sync_room.c - one room of a /sync response (Client-Server API "Syncing", "Lazy-loading room
 * members", "Ignoring Users"): its timeline and the state that goes with it.
 *
 *  1. Timeline: the rows come from db_sync_timelines, which already left out what the user
 *     must not get (non-state events of ignored users) and what the timeline filter turns
 *     away, before the limit: a filtered timeline fills its limit from matching events.
 *     Visibility: an event after the user's current join is visible; anything else goes
 *     through the history-visibility rules of server/roomread.c; the first hidden one ends
 *     the timeline (`limited`). `prev_batch` is the /messages token just before the oldest
 *     event returned.
 *  2. State: the state at the start of the timeline for a room that starts from scratch (or
 *     full_state); after a gap (`limited`) the entries that differ from the state at
 *     `since`; otherwise nothing (the timeline carries every change). The state at the start
 *     is the state before the first event in the DAG (its state group, or for a state event
 *     that group's parent), not after its neighbour in the stream: after a fork that one may
 *     be of the other branch. Where the timeline does not carry every change, the state at
 *     the end of the range counts too (an entry changed by an event the timeline left out is
 *     given in its newest form), as Synapse does, so no state is lost: with a narrowing
 *     timeline filter (state events of the range may be missing from the timeline), and when
 *     the state moved where no timeline event shows it (a fork or its merge inside the
 *     timeline; a gap closed through /state_ids before it: the state before its first event
 *     is not the state at `since`; then even an unlimited timeline gets the difference).
 *  3. Lazy-loading keeps only the member events of the timeline's senders and the user's own;
 *     without include_redundant_members, those the device was already sent (and still
 *     current) are left out: the record is per device, kept in sync_lazy_members, and
 *     counts only what went out in responses up to `since` (so a response the client never
 *     got does not count). The senders' member events at a state group are read through a
 *     process-wide cache shared with sliding sync (sync_group_members): groups never change.
 * The state at `since` is the state after the newest event at or below it in the stream. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/filter.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/retention.h"
#include "server/statemap.h"
#include "server/sync_internal.h"
#include "storage/events.h"
#include "storage/state.h"
#include "storage/sync.h"

json_t *sync_events_wrap(json_t *events)
{
    return json_pack("{s:o}", "events", events);
}

/* Apply event_fields to a client event (stolen; new reference returned). */
static json_t *project(json_t *ev, const json_t *fields)
{
    if (!json_is_array(fields))
        return ev;
    json_t *out = filter_project(ev, fields);
    json_decref(ev);
    return out ? out : json_object();
}

json_t *sync_format_event(struct sync_ctx *x, const char *room_id, json_t *row)
{
    const json_t *pdu = json_object_get(row, "pdu");
    const char *id = json_string_value(json_object_get(row, "event_id"));
    json_t *ev;
    if (x->federation_format) {
        ev = json_deep_copy(pdu);
        json_object_set_new(ev, "event_id", json_string(id));
    } else {
        ev = room_client_event(pdu, id, room_id,
                               json_string_value(json_object_get(row, "redacted_by")), x->now);
        const char *txn = json_string_value(json_object_get(row, "txn_id"));
        if (txn)
            json_object_set_new(json_object_get(ev, "unsigned"), "transaction_id",
                                json_string(txn));
        if (json_is_true(json_object_get(row, "related"))) /* threads, edits, references */
            room_aggregate(x->c, ev, x->q->user_id, x->now);
    }
    return project(ev, x->fields);
}

/* --- member events by state group (cached) --------------------------------------------- */

#define MEMBER_SLOTS 8192 /* direct-mapped: a collision replaces */

struct member_slot {
    int64_t group; /* 0: empty */
    char *user_id;
    char *event_id; /* "" when the user has no member event in the group */
};

static pthread_mutex_t members_mu = PTHREAD_MUTEX_INITIALIZER;
static struct member_slot members[MEMBER_SLOTS];

static size_t member_slot_of(int64_t group, const char *user_id)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)group;
    for (const char *s = user_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % MEMBER_SLOTS);
}

json_t *sync_group_members(struct dbc *c, int64_t group, json_t *users)
{
    json_t *out = json_object(), *missing = json_array();
    size_t i;
    json_t *v;
    pthread_mutex_lock(&members_mu);
    json_array_foreach(users, i, v)
    {
        const char *u = json_string_value(v);
        const struct member_slot *m = u ? &members[member_slot_of(group, u)] : NULL;
        if (m && m->group == group && m->user_id && strcmp(m->user_id, u) == 0) {
            if (*m->event_id)
                json_object_set_new(out, u, json_string(m->event_id));
        } else if (u) {
            json_array_append(missing, v);
        }
    }
    pthread_mutex_unlock(&members_mu);
    if (!json_array_size(missing)) {
        json_decref(missing);
        return out;
    }
    json_t *got = db_state_group_members(c, group, missing);
    if (!got) {
        json_decref(missing);
        json_decref(out);
        return NULL;
    }
    pthread_mutex_lock(&members_mu);
    json_array_foreach(missing, i, v)
    {
        const char *u = json_string_value(v);
        const char *id = json_string_value(json_object_get(got, u));
        struct member_slot *m = &members[member_slot_of(group, u)];
        char *nu = strdup(u), *ne = strdup(id ? id : "");
        if (nu && ne) {
            free(m->user_id);
            free(m->event_id);
            m->group = group;
            m->user_id = nu;
            m->event_id = ne;
        } else {
            free(nu);
            free(ne);
        }
        if (id)
            json_object_set_new(out, u, json_string(id));
    }
    pthread_mutex_unlock(&members_mu);
    json_decref(missing);
    json_decref(got);
    return out;
}

/* --- lazy-loading record ---------------------------------------------------------------- */

/* Whether the device already has this member event. */
static bool lazy_known(const struct sync_ctx *x, const char *room_id, const char *state_key,
                       const char *event_id)
{
    const char *sent =
        json_string_value(json_object_get(json_object_get(x->lazy_sent, room_id), state_key));
    return sent && strcmp(sent, event_id) == 0;
}

/* Note a member event going out to the device. */
static void lazy_note(struct sync_ctx *x, const char *room_id, const char *state_key,
                      const char *event_id)
{
    if (!x->lazy_new || !state_key || !event_id || lazy_known(x, room_id, state_key, event_id))
        return;
    json_array_append_new(x->lazy_new, json_pack("{s:s,s:s,s:s}", "room_id", room_id,
                                                 "state_key", state_key, "event_id", event_id));
}

/* --- timeline --------------------------------------------------------------------------- */

/* Step 1: the timeline of one room from its rows (newest first). Fills *timeline
 * (chronological), *first (the oldest row used, borrowed) and the senders seen. */
static json_t *build_timeline(struct sync_ctx *x, const char *room_id, json_t *rows,
                              const json_t *member, json_t *senders, json_t **first,
                              bool *limited)
{
    int64_t join_stream = json_integer_value(json_object_get(member, "stream"));
    const char *ms = json_string_value(json_object_get(member, "membership"));
    bool joined = ms && strcmp(ms, "join") == 0;
    struct standing s = {.membership = (char *)ms,
                         .event_id = (char *)json_string_value(json_object_get(member, "event_id")),
                         .depth = INT64_MAX,
                         .stream = INT64_MAX};
    json_t *cache = json_object();
    json_t *tl = json_array();
    size_t n = json_array_size(rows);

    *limited = n > (size_t)x->limit;
    *first = NULL;
    for (size_t i = 0; i < n && json_array_size(tl) < (size_t)x->limit; i++) {
        json_t *row = json_array_get(rows, i);
        const json_t *pdu = json_object_get(row, "pdu");
        int64_t st = json_integer_value(json_object_get(row, "stream"));
        enum room_vis vis =
            joined && st >= join_stream
                ? ROOM_VIS_FULL
                : room_event_visibility(x->c, &s, x->q->user_id,
                                        json_integer_value(json_object_get(row, "group")), pdu,
                                        cache);
        if (!vis) {
            *limited = true; /* older history exists that the user may not read */
            break;
        }
        if (retention_hidden(x->c, room_id, pdu, cache, clock_now_ms())) {
            *limited = true; /* expired under the room's retention policy */
            continue;
        }
        json_t *served = vis == ROOM_VIS_PRUNED ? room_served_pdu(x->c, pdu, vis, cache) : NULL;
        if (vis == ROOM_VIS_PRUNED && !served) {
            *limited = true;
            break;
        }
        *first = row;
        if (served) { /* an erased sender's event (roomread.c rule 3) */
            json_t *pruned = json_copy(row);
            json_object_set_new(pruned, "pdu", served);
            json_array_insert_new(tl, 0, sync_format_event(x, room_id, pruned));
            json_decref(pruned);
        } else {
            json_array_insert_new(tl, 0, sync_format_event(x, room_id, row));
        }
        const char *sender = json_string_value(json_object_get(pdu, "sender"));
        if (sender)
            json_object_set_new(senders, sender, json_true());
    }
    json_decref(cache);
    return tl;
}

/* The state group before the event of `row` (a timeline row): a state event's group is
 * derived from the state before it (room.c persist, room_recv_group_after, the backfill), any
 * other event's group is that state; 0 for an event with nothing before it (the create). Read
 * from the event's place in the DAG, not from its neighbour in the stream, which after a fork
 * may be an event of the other branch. */
static int64_t row_group_before(const json_t *row)
{
    if (!json_object_get(json_object_get(row, "pdu"), "state_key"))
        return json_integer_value(json_object_get(row, "group"));
    return json_integer_value(json_object_get(row, "parent"));
}

/* The state group before the row `first` (or at upto when the timeline is empty). */
static int64_t group_before(struct sync_ctx *x, const char *room_id, const json_t *first)
{
    if (!first)
        return db_sync_group_at_stream(x->c, room_id, x->upto);
    return row_group_before(first);
}

/* Do the rows (newest first) from `first` to the newest form one chain, the state before each
 * event being the state after the one before it in the stream? Then the timeline, applied to
 * the state before `first`, ends in the state after the newest. A fork, its merge or a state
 * resolution, and a gap closed through /state_ids (server/room_outlier.c) break the chain:
 * the state then moved in ways no timeline event shows. */
static bool rows_chained(const json_t *rows, const json_t *first)
{
    for (size_t i = 0; i + 1 < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);
        if (row == first)
            break;
        if (row_group_before(row) !=
            json_integer_value(json_object_get(json_array_get(rows, i + 1), "group")))
            return false;
    }
    return true;
}

/* --- state ------------------------------------------------------------------------------ */

/* Incremental lazy-loading without a gap: the member events of this timeline's senders at
 * its start (group gt), less those in the timeline and those the device has. 0 or -1. */
static int lazy_senders(struct sync_ctx *x, const char *room_id, int64_t gt, json_t *senders,
                        json_t *timeline_ids, json_t *ids)
{
    if (!gt)
        return 0;
    json_t *users = json_array();
    const char *u;
    json_t *v;
    json_object_foreach(senders, u, v)
    {
        json_array_append_new(users, json_string(u));
    }
    json_t *got = sync_group_members(x->c, gt, users);
    json_decref(users);
    if (!got)
        return -1;
    json_object_foreach(got, u, v)
    {
        const char *id = json_string_value(v);
        if (id && !json_object_get(timeline_ids, id) && !lazy_known(x, room_id, u, id))
            json_array_append_new(ids, json_string(id));
    }
    json_decref(got);
    return 0;
}

/* The state entries to send from `now` (the state at the timeline's start), `end` (at the end
 * of the range when a narrowing filter may have hidden state events, else NULL) and `then`
 * (at `since`; NULL when starting from scratch), appended to ids. */
static void pick_state(struct sync_ctx *x, const char *room_id, json_t *now, json_t *end,
                       json_t *then, json_t *senders, json_t *timeline_ids, json_t *ids)
{
    json_t *keys = json_object(); /* union of the keys of now and end */
    json_object_update(keys, now);
    if (end)
        json_object_update_missing(keys, end);
    const char *key;
    json_t *unused;
    json_object_foreach(keys, key, unused)
    {
        /* the newest form unless the timeline carries it; else the form at its start */
        json_t *e = end ? json_object_get(end, key) : NULL;
        json_t *v = e && json_is_string(e) && !json_object_get(timeline_ids, json_string_value(e))
                        ? e
                        : json_object_get(now, key);
        const char *id = json_string_value(v);
        if (!id || json_object_get(timeline_ids, id))
            continue;
        char *type = NULL, *skey = NULL;
        if (statemap_split(key, &type, &skey) < 0)
            continue;
        bool lazy_member = x->lazy && strcmp(type, "m.room.member") == 0;
        bool wanted_member = json_object_get(senders, skey) || strcmp(skey, x->q->user_id) == 0;
        bool changed = !then || !json_equal(json_object_get(then, key), v);
        bool take = lazy_member ? wanted_member && !lazy_known(x, room_id, skey, id) : changed;
        free(type);
        free(skey);
        if (take)
            json_array_append_new(ids, json_string(id));
    }
    json_decref(keys);
}

/* Step 2. Returns the state events (client format) for a room, or NULL on error. */
static json_t *build_state(struct sync_ctx *x, const char *room_id, bool from_scratch,
                           bool limited, const json_t *rows, const json_t *first,
                           json_t *senders, json_t *timeline_ids)
{
    const json_t *sf = filter_room_part(x->q->filter, "state");
    const json_t *groups = json_object_get(x->groups, room_id); /* incremental or narrow */
    int64_t g_since = json_integer_value(json_array_get(groups, 0));
    int64_t g_end = json_integer_value(json_array_get(groups, 1));
    /* state events of the range the filtered timeline may not show */
    bool hidden = x->narrow && groups && (from_scratch || g_end != g_since);
    /* the state moved where no timeline event shows it: within the timeline (a fork, its
     * merge), or before it (the state before its first event is not the state at since) */
    bool chained = !first || rows_chained(rows, first);
    bool moved =
        !chained || (!from_scratch && groups && first && row_group_before(first) != g_since);
    if (!from_scratch && !limited && !hidden && !moved &&
        (!x->lazy || !json_object_size(senders)))
        return json_array(); /* the timeline carries every change */
    json_t *ids = json_array(), *now = NULL, *end = NULL, *then = NULL, *evs = NULL, *out = NULL;
    int64_t gt = group_before(x, room_id, first);
    if (gt < 0)
        goto done;
    if (!from_scratch && !limited && !hidden && !moved) {
        if (lazy_senders(x, room_id, gt, senders, timeline_ids, ids) < 0)
            goto done;
    } else {
        /* the state at the end counts too when the timeline does not lead to it (as
         * Synapse's state delta: start and end, less `since`, less the timeline) */
        int64_t ge = groups ? g_end
                            : json_integer_value(json_object_get(json_array_get(rows, 0), "group"));
        bool want_end = (hidden || !chained) && ge != gt;
        now = gt ? db_state_group_load(x->c, gt) : json_object();
        if (want_end)
            end = ge ? db_state_group_load(x->c, ge) : json_object();
        if (!from_scratch) {
            int64_t gs = groups ? g_since : db_sync_group_at_stream(x->c, room_id, x->since);
            then = gs > 0 ? db_state_group_load(x->c, gs) : gs == 0 ? json_object() : NULL;
        }
        if (!now || (want_end && !end) || (!from_scratch && !then))
            goto done;
        pick_state(x, room_id, now, end, then, senders, timeline_ids, ids);
    }
    evs = json_array_size(ids) ? db_events_many(x->c, ids) : json_object();
    if (!evs)
        goto done;
    out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        json_t *row = json_object_get(evs, id);
        const json_t *pdu = json_object_get(row, "pdu");
        if (!row || (sf && !filter_event_ok(sf, pdu)))
            continue;
        const char *type = json_string_value(json_object_get(pdu, "type"));
        if (x->lazy && type && strcmp(type, "m.room.member") == 0)
            lazy_note(x, room_id, json_string_value(json_object_get(pdu, "state_key")), id);
        json_object_set_new(row, "event_id", json_string(id));
        json_array_append_new(out, sync_format_event(x, room_id, row));
    }
done:
    json_decref(ids);
    json_decref(now);
    json_decref(end);
    json_decref(then);
    json_decref(evs);
    return out;
}

json_t *sync_room_timeline(struct sync_ctx *x, const char *room_id, json_t *rows,
                           const json_t *member, json_t *senders, bool *limited,
                           char *prev_batch, size_t n)
{
    json_t *first = NULL;
    json_t *tl = build_timeline(x, room_id, rows, member, senders, &first, limited);
    prev_batch[0] = 0;
    if (first)
        snprintf(prev_batch, n, "t%" PRId64 "_%" PRId64,
                 (int64_t)json_integer_value(json_object_get(first, "depth")),
                 (int64_t)json_integer_value(json_object_get(first, "stream")));
    return tl;
}

json_t *sync_room_entry(struct sync_ctx *x, const char *room_id, const json_t *member,
                        json_t *rows, bool from_scratch, bool *worth)
{
    json_t *senders = json_object(), *timeline_ids = json_object(), *first = NULL;
    bool limited = false;
    json_t *tl = build_timeline(x, room_id, rows, member, senders, &first, &limited);
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        if (!first || json_integer_value(json_object_get(v, "stream")) <
                          json_integer_value(json_object_get(first, "stream")))
            break;
        const json_t *pdu = json_object_get(v, "pdu");
        const char *id = json_string_value(json_object_get(v, "event_id"));
        json_object_set_new(timeline_ids, id, json_true());
        const char *type = json_string_value(json_object_get(pdu, "type"));
        if (x->lazy && type && strcmp(type, "m.room.member") == 0)
            lazy_note(x, room_id, json_string_value(json_object_get(pdu, "state_key")), id);
    }
    json_t *state = build_state(x, room_id, from_scratch || x->q->full_state, limited, rows,
                                first, senders, timeline_ids);
    json_decref(senders);
    json_decref(timeline_ids);
    if (!state) {
        json_decref(tl);
        return NULL;
    }
    json_t *timeline = json_pack("{s:o,s:b}", "events", tl, "limited", limited);
    if (first) {
        char tok[64];
        snprintf(tok, sizeof tok, "t%" PRId64 "_%" PRId64,
                 (int64_t)json_integer_value(json_object_get(first, "depth")),
                 (int64_t)json_integer_value(json_object_get(first, "stream")));
        json_object_set_new(timeline, "prev_batch", json_string(tok));
    }
    *worth = from_scratch || json_array_size(tl) || json_array_size(state);
    return json_pack("{s:o,s:o}", "timeline", timeline, "state", sync_events_wrap(state));
}
