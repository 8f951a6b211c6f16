/* slidingsync_room.c - one room of a native sliding sync response (MSC4186 "Room results"):
 * which rooms have something new for the connection, and their fields.
 *
 *  1. A room in a list window or subscription is answered when the connection never got it
 *     (`initial`), or since it was last sent: an event the user may know of arrived, their
 *     membership changed, the timeline_limit grew (`expanded_timeline`: the newest events
 *     again), the required_state changed, or its DM flag changed. Otherwise its snapshot
 *     entry is carried over unchanged.
 *  2. Timeline: the events since the room was last sent (all for `initial` or an expanded
 *     timeline), at most timeline_limit, read and judged for visibility by the same code as
 *     /sync (server/sync_room.c: db_sync_timelines leaves out ignored users' messages; the
 *     history-visibility rules end the timeline). A user who left sees up to their leave.
 *     num_live counts the events after the previous response.
 *  3. required_state: the entries of the state at the end of the timeline that match the
 *     config, those the timeline holds too (MSC4186 clients take state from required_state
 *     only, never from the timeline); for a room sent before with the same config only
 *     those that changed since (deleted ones as {type, state_key} stubs). `$LAZY` member events are
 * those of the timeline's senders and targets and, without a gap, member changes since; each is
 * sent once per connection (the snapshot's record holds, per user, the member event last sent, and
 * only while it is current: one that changed unsent is dropped). `$ME` is the user. A range with no
 * state event and no gap (every message) compares no state: only $LAZY senders missing from the
 * record are read, as /sync's lazy-loading reads them.
 *  4. name, avatar (from the same state); for a joined room also unread counts, and heroes
 *     (joined, invited, then left users, with display names from their member events) when
 *     the room has no name and member counts, these two when sent from scratch or when the
 *     range may hold a member event (as /sync's summary; they read the current state);
 *     bump_stamp (the newest event of a bumping type), is_dm; invites and knocks get
 *     their stripped state (invite_state / knock_state) instead, never the room's history. */
#include "server/slidingsync_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/statemap.h"
#include "server/sync_internal.h"
#include "storage/slidingsync.h"
#include "storage/state.h"
#include "storage/sync.h"

static bool str_eq(const json_t *a, const char *b)
{
    const char *s = json_string_value(a);
    return s && b && strcmp(s, b) == 0;
}

/* Whether required_state (array of [type, state_key]) asks for (type, skey) other than
 * through $LAZY; *lazy is set when it holds ["m.room.member", "$LAZY"]. */
static bool rs_match(const json_t *rs, const char *user_id, const char *type, const char *skey,
                     bool *lazy)
{
    bool hit = false;
    size_t i;
    json_t *p;
    json_array_foreach(rs, i, p)
    {
        const char *t = json_string_value(json_array_get(p, 0));
        const char *k = json_string_value(json_array_get(p, 1));
        if (!t || !k)
            continue;
        if (strcmp(t, "m.room.member") == 0 && strcmp(k, "$LAZY") == 0) {
            *lazy = true;
            continue;
        }
        bool tm = strcmp(t, "*") == 0 || strcmp(t, type) == 0;
        bool km = strcmp(k, "*") == 0 || strcmp(k, skey) == 0 ||
                  (strcmp(k, "$ME") == 0 && strcmp(skey, user_id) == 0);
        if (tm && km)
            hit = true;
    }
    return hit;
}

static bool rs_lazy(const json_t *rs)
{
    bool lazy = false;
    rs_match(rs, "", "", "\x01", &lazy);
    return lazy;
}

struct todo {
    struct ss_room *r;
    bool initial, expanded, rs_changed, joinlike;
    int64_t from, to; /* timeline range */
};

/* --- $LAZY member events read at one position ----------------------------------------- */

#define LAZY_SLOTS 1024 /* direct-mapped: a collision replaces */

/* A row of db_events_many as read at stream position `upto`: the connections one wake-up
 * answers read the same sender's member event at the same position, so one of them reads it
 * and the others copy it, as /sync's woken requests share their room's new events. A row is
 * only served at the position it was read at (a redaction moves the position). */
struct lazy_slot {
    int64_t upto; /* 0: empty */
    char *event_id;
    json_t *row; /* owned, never handed out: copies are */
};

static pthread_mutex_t lazy_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lazy_slot lazy_slots[LAZY_SLOTS];

static struct lazy_slot *lazy_slot_of(const char *event_id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = event_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return &lazy_slots[h % LAZY_SLOTS];
}

/* db_events_many(ids) at x->upto, from the slots where they hold. New object or NULL. */
static json_t *events_at(struct ss_ctx *x, json_t *ids)
{
    json_t *out = json_object(), *missing = json_array();
    size_t i;
    json_t *v;
    pthread_mutex_lock(&lazy_mu);
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        const struct lazy_slot *sl = id ? lazy_slot_of(id) : NULL;
        if (sl && sl->upto == x->upto && strcmp(sl->event_id, id) == 0)
            json_object_set_new(out, id, json_deep_copy(sl->row));
        else if (id)
            json_array_append(missing, v);
    }
    pthread_mutex_unlock(&lazy_mu);
    bool all_held = !json_array_size(missing);
    json_t *got = all_held ? NULL : db_events_many(x->c, missing);
    json_decref(missing);
    if (all_held)
        return out;
    if (!got) {
        json_decref(out);
        return NULL;
    }
    const char *key;
    pthread_mutex_lock(&lazy_mu);
    json_object_foreach(got, key, v)
    {
        struct lazy_slot *sl = lazy_slot_of(key);
        char *id = strdup(key);
        json_t *row = json_deep_copy(v);
        if (!id || !row) {
            free(id);
            json_decref(row);
            continue;
        }
        free(sl->event_id);
        json_decref(sl->row);
        sl->upto = x->upto;
        sl->event_id = id;
        sl->row = row;
    }
    pthread_mutex_unlock(&lazy_mu);
    json_object_update(out, got);
    json_decref(got);
    return out;
}

/* The content field `f` of the state event (type, "") in `now`, from `evs`. */
static json_t *state_field(const json_t *now, const json_t *evs, const char *type, const char *f)
{
    const char *id = statemap_get(now, type, "");
    const json_t *row = id ? json_object_get(evs, id) : NULL;
    return row ? json_object_get(json_object_get(json_object_get(row, "pdu"), "content"), f) : NULL;
}

/* The required_state events `ids` in client format, into entry's required_state when any
 * (with `stubs` for deleted entries, stolen), or always when `always`. 0 or -1. */
static int put_state(struct ss_ctx *x, const char *room_id, json_t *ids, const json_t *evs,
                     json_t *stubs, bool always, json_t *entry)
{
    json_t *out = json_array();
    struct sync_req sq = {.user_id = x->q->user_id, .device_id = x->q->device_id};
    struct sync_ctx sx = {.q = &sq, .c = x->c, .upto = x->upto, .now = x->now};
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *row = json_object_get(evs, json_string_value(v));
        if (!row)
            continue;
        json_object_set(row, "event_id", v);
        json_array_append_new(out, sync_format_event(&sx, room_id, row));
    }
    if (stubs)
        json_array_extend(out, stubs);
    json_decref(stubs);
    if (always || json_array_size(out))
        json_object_set_new(entry, "required_state", out);
    else
        json_decref(out);
    return 0;
}

/* Steps 3-4 for a room sent before with the same config whose range holds no state event
 * and no gap (`rows` are all its events): the state did not move, so nothing changed and
 * name and avatar stand; only $LAZY senders the record lacks need their member events, read
 * at the newest row's state group as /sync's lazy-loading does. This is the path of every
 * message: no state is compared. 0, -1, or 1 when it does not apply (the caller takes the
 * general path). */
static int room_state_quiet(struct ss_ctx *x, struct todo *t, json_t *entry, json_t *senders,
                            const json_t *rows, json_t *snap_entry)
{
    struct ss_room *r = t->r;
    const char *key;
    json_t *v;
    json_t *missing = json_array();
    json_t *lazy = json_deep_copy(json_object_get(r->prev, "lazy"));
    if (!lazy)
        lazy = json_object();
    bool want_lazy = rs_lazy(r->required_state);
    json_object_foreach(senders, key, v)
    {
        bool lz = false;
        /* an entry asked for by name goes out only when it changed: not here */
        if (want_lazy && !json_object_get(lazy, key) &&
            !rs_match(r->required_state, x->q->user_id, "m.room.member", key, &lz))
            json_array_append_new(missing, json_string(key));
    }
    int64_t g = json_integer_value(json_object_get(json_array_get(rows, 0), "group"));
    if (json_array_size(missing) && g <= 0) {
        json_decref(missing);
        json_decref(lazy);
        return 1;
    }
    json_t *ids = json_array(), *mem = NULL, *evs = NULL;
    int rc = -1;
    if (json_array_size(missing)) {
        if (!(mem = sync_group_members(x->c, g, missing)))
            goto out;
        json_object_foreach(mem, key, v)
        {
            json_array_append(ids, v);
            json_object_set(lazy, key, v);
        }
    }
    evs = json_array_size(ids) ? events_at(x, ids) : json_object();
    if (!evs)
        goto out;
    put_state(x, r->room_id, ids, evs, NULL, false, entry);
    json_object_set(snap_entry, "name", json_object_get(r->prev, "name"));
    json_object_set(snap_entry, "avatar", json_object_get(r->prev, "avatar"));
    json_object_set(snap_entry, "lazy", lazy);
    rc = 0;
out:
    json_decref(missing);
    json_decref(lazy);
    json_decref(ids);
    json_decref(mem);
    json_decref(evs);
    return rc;
}

/* The state part of one joined or left room (steps 3-4). 0 or -1. */
static int room_state(struct ss_ctx *x, struct todo *t, json_t *entry, json_t *senders,
                      bool limited, json_t *summary, json_t *snap_entry)
{
    struct ss_room *r = t->r;
    const json_t *prev_lazy = json_object_get(r->prev, "lazy");
    json_t *lazy = json_object(); /* the record after this response */
    if (!t->initial && prev_lazy)
        json_object_update(lazy, (json_t *)prev_lazy);
    bool want_lazy = rs_lazy(r->required_state);
    int rc = -1;
    json_t *now = NULL, *then = NULL, *ids = json_array(), *stubs = json_array(), *evs = NULL;
    bool whole = t->initial || t->rs_changed;
    const char *key;
    json_t *v;
    size_t i;
    if (whole) {
        int64_t g = db_sync_group_at_stream(x->c, r->room_id, t->to);
        if (g < 0)
            goto out;
        now = g ? db_state_group_load(x->c, g) : json_object();
    } else {
        /* an update: only the keys that changed in the range, name and avatar, and the
         * member events of the senders and heroes, not two whole states */
        json_t *users = json_array();
        json_object_foreach(senders, key, v) json_array_append_new(users, json_string(key));
        json_array_foreach(json_object_get(summary, "heroes"), i, v) json_array_append(users, v);
        json_t *d = db_ss_state_delta(x->c, r->room_id, t->from, t->to, users);
        json_decref(users);
        if (!d)
            goto out;
        now = json_object();
        then = json_object();
        const char *part[] = {"now", "then"};
        for (int k = 0; k < 2; k++) {
            json_array_foreach(json_object_get(d, part[k]), i, v)
            {
                statemap_set(k ? then : now, json_string_value(json_array_get(v, 0)),
                             json_string_value(json_array_get(v, 1)),
                             json_string_value(json_array_get(v, 2)));
            }
        }
        json_decref(d);
    }
    if (!now || (!whole && !then))
        goto out;
    json_object_foreach(now, key, v)
    {
        char *type = NULL, *skey = NULL;
        if (statemap_split(key, &type, &skey) < 0)
            continue;
        const char *id = json_string_value(v);
        bool lz = false;
        bool hit = rs_match(r->required_state, x->q->user_id, type, skey, &lz);
        bool changed = whole || !json_equal(json_object_get(then, key), v);
        bool member = strcmp(type, "m.room.member") == 0;
        bool take = false;
        if (hit)
            take = changed;
        else if (member && want_lazy && !str_eq(json_object_get(lazy, skey), id)) {
            /* timeline senders and targets; without a gap, member changes since */
            take = json_object_get(senders, skey) || (!t->initial && !limited && changed && then);
        }
        if (take && id) {
            json_array_append_new(ids, json_string(id));
            if (member)
                json_object_set_new(lazy, skey, json_string(id));
        } else if (member && !take && !str_eq(json_object_get(lazy, skey), id) &&
                   (changed || whole)) {
            /* the record holds only member events current at this response (step 3),
             * so a quiet range can trust it; one from the timeline is noted after */
            json_object_del(lazy, skey);
        }
        free(type);
        free(skey);
    }
    if (then) { /* deleted entries */
        json_object_foreach(then, key, v)
        {
            if (json_object_get(now, key))
                continue;
            char *type = NULL, *skey = NULL;
            bool lz = false;
            if (statemap_split(key, &type, &skey) == 0 &&
                rs_match(r->required_state, x->q->user_id, type, skey, &lz))
                json_array_append_new(stubs,
                                      json_pack("{s:s,s:s}", "type", type, "state_key", skey));
            free(type);
            free(skey);
        }
    }
    /* name, avatar and the heroes' member events come from the same read */
    const char *extra[] = {"m.room.name", "m.room.avatar"};
    json_t *fetch = json_deep_copy(ids);
    for (i = 0; i < 2; i++) {
        const char *id = statemap_get(now, extra[i], "");
        if (id)
            json_array_append_new(fetch, json_string(id));
    }
    json_t *heroes = json_object_get(summary, "heroes");
    json_array_foreach(heroes, i, v)
    {
        const char *id = statemap_get(now, "m.room.member", json_string_value(v));
        if (id)
            json_array_append_new(fetch, json_string(id));
    }
    evs = json_array_size(fetch) ? db_events_many(x->c, fetch) : json_object();
    json_decref(fetch);
    if (!evs)
        goto out;
    put_state(x, r->room_id, ids, evs, stubs, whole, entry);
    stubs = NULL;
    /* name and avatar: when new or changed */
    const char *name_id = statemap_get(now, "m.room.name", "");
    const char *avatar_id = statemap_get(now, "m.room.avatar", "");
    json_t *name = state_field(now, evs, "m.room.name", "name");
    json_t *avatar = state_field(now, evs, "m.room.avatar", "url");
    if (t->initial || !str_eq(json_object_get(r->prev, "name"), name_id ? name_id : "")) {
        if (json_is_string(name) && json_string_length(name))
            json_object_set(entry, "name", name);
        else if (!t->initial)
            json_object_set_new(entry, "name", json_null());
    }
    if (t->initial || !str_eq(json_object_get(r->prev, "avatar"), avatar_id ? avatar_id : "")) {
        if (json_is_string(avatar) && json_string_length(avatar))
            json_object_set(entry, "avatar", avatar);
        else if (!t->initial)
            json_object_set_new(entry, "avatar", json_null());
    }
    json_object_set_new(snap_entry, "name", json_string(name_id ? name_id : ""));
    json_object_set_new(snap_entry, "avatar", json_string(avatar_id ? avatar_id : ""));
    if (json_array_size(heroes)) {
        json_t *hs = json_array();
        json_array_foreach(heroes, i, v)
        {
            const char *id = statemap_get(now, "m.room.member", json_string_value(v));
            const json_t *content = json_object_get(
                json_object_get(json_object_get(evs, id ? id : ""), "pdu"), "content");
            json_t *h = json_pack("{s:O}", "user_id", v);
            json_t *dn = json_object_get(content, "displayname");
            json_t *av = json_object_get(content, "avatar_url");
            if (json_is_string(dn))
                json_object_set(h, "displayname", dn);
            if (json_is_string(av))
                json_object_set(h, "avatar_url", av);
            json_array_append_new(hs, h);
        }
        json_object_set_new(entry, "heroes", hs);
    }
    json_object_set_new(snap_entry, "lazy", lazy);
    lazy = NULL;
    rc = 0;
out:
    json_decref(lazy);
    json_decref(now);
    json_decref(then);
    json_decref(ids);
    json_decref(stubs);
    json_decref(evs);
    return rc;
}

/* Steps 2-4 for one joined or left room whose timeline rows are `rows`. 0 or -1. */
static int room_joined(struct ss_ctx *x, struct todo *t, json_t *rows, json_t *summary,
                       json_t *counts, json_t *entry, json_t *snap_entry)
{
    struct ss_room *r = t->r;
    struct sync_req sq = {.user_id = x->q->user_id, .device_id = x->q->device_id};
    struct sync_ctx sx = {.q = &sq,
                          .c = x->c,
                          .since = t->from,
                          .upto = x->upto,
                          .now = x->now,
                          .limit = r->timeline_limit};
    json_t *senders = json_object();
    bool limited = false;
    char prev_batch[64];
    json_t *tl = sync_room_timeline(&sx, r->room_id, rows, r->row, senders, &limited, prev_batch,
                                    sizeof prev_batch);
    /* the rows used are the newest len(tl); live ones came after the previous response */
    size_t used = json_array_size(tl), live = 0;
    int64_t last_sent = json_integer_value(json_object_get(r->prev, "s"));
    for (size_t i = 0; i < used; i++) {
        json_t *row = json_array_get(rows, i);
        const json_t *pdu = json_object_get(row, "pdu");
        if (str_eq(json_object_get(pdu, "type"), "m.room.member")) {
            const char *sk = json_string_value(json_object_get(pdu, "state_key"));
            if (sk)
                json_object_set_new(senders, sk, json_true()); /* targets too */
        }
        if (!t->initial && json_integer_value(json_object_get(row, "stream")) > last_sent)
            live++;
    }
    /* a quiet range: no gap, no state event, nothing asked again */
    bool quiet = !t->initial && !t->rs_changed && !t->expanded && !limited &&
                 json_array_size(rows) <= (size_t)r->timeline_limit &&
                 !json_array_size(json_object_get(summary, "heroes"));
    for (size_t i = 0; quiet && i < json_array_size(rows); i++)
        quiet = !json_object_get(json_object_get(json_array_get(rows, i), "pdu"), "state_key");
    int rc = quiet ? room_state_quiet(x, t, entry, senders, rows, snap_entry) : 1;
    if (rc > 0)
        rc = room_state(x, t, entry, senders, limited, summary, snap_entry);
    json_decref(senders);
    if (rc < 0) {
        json_decref(tl);
        return -1;
    }
    /* member events of the timeline count as sent for $LAZY (oldest first: the newest of a
     * user stays) */
    json_t *lazy = json_object_get(snap_entry, "lazy");
    for (size_t i = used; i-- > 0;) {
        const json_t *pdu = json_object_get(json_array_get(rows, i), "pdu");
        const char *sk = json_string_value(json_object_get(pdu, "state_key"));
        if (sk && str_eq(json_object_get(pdu, "type"), "m.room.member"))
            json_object_set(lazy, sk, json_object_get(json_array_get(rows, i), "event_id"));
    }
    if (used || t->initial || t->expanded)
        json_object_set_new(entry, "timeline", tl);
    else
        json_decref(tl);
    if (limited)
        json_object_set_new(entry, "limited", json_true());
    if (prev_batch[0])
        json_object_set_new(entry, "prev_batch", json_string(prev_batch));
    json_object_set_new(entry, "num_live", json_integer((json_int_t)live));
    if (t->expanded)
        json_object_set_new(entry, "expanded_timeline", json_true());
    if (summary) {
        json_object_set(entry, "joined_count", json_object_get(summary, "joined"));
        json_object_set(entry, "invited_count", json_object_get(summary, "invited"));
    }
    if (str_eq(json_object_get(r->row, "membership"), "join")) {
        json_int_t notes = 0, hl = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(counts, r->room_id), k, v)
        {
            notes += json_integer_value(json_array_get(v, 0));
            hl += json_integer_value(json_array_get(v, 1));
        }
        json_object_set_new(entry, "notification_count", json_integer(notes));
        json_object_set_new(entry, "highlight_count", json_integer(hl));
    }
    return 0;
}

int ss_rooms_build(struct ss_ctx *x, struct ss_room *list, size_t n, json_t *rooms, json_t *sent)
{
    int rc = -1;
    struct todo *todo = calloc(n ? n : 1, sizeof *todo);
    json_t *by_limit = json_object(), *joined = json_array();
    json_t *tls = json_object(), *sums = NULL, *counts = NULL;
    size_t nt = 0;
    if (!todo)
        goto out;
    /* step 1 */
    for (size_t i = 0; i < n; i++) {
        struct ss_room *r = &list[i];
        const char *ms = json_string_value(json_object_get(r->row, "membership"));
        int64_t mstream = json_integer_value(json_object_get(r->row, "stream"));
        int64_t last = json_integer_value(json_object_get(r->row, "last"));
        bool dm = json_object_get(x->direct, r->room_id) != NULL;
        const json_t *p = r->prev;
        bool initial = !p;
        /* a new membership; a join -> join (profile change) is only activity */
        bool moved =
            p &&
            (!str_eq(json_object_get(p, "m"), ms) ||
             (strcmp(ms, "join") != 0 && json_integer_value(json_object_get(p, "ms")) != mstream));
        bool active = p && last > json_integer_value(json_object_get(p, "s"));
        bool expanded = p && r->timeline_limit > json_integer_value(json_object_get(p, "tl"));
        bool rs_changed = p && !str_eq(json_object_get(p, "rs"), r->rs_key);
        bool dm_changed = p && json_is_true(json_object_get(p, "dm")) != dm;
        if (!initial && !moved && !active && !expanded && !rs_changed && !dm_changed) {
            json_object_set(sent, r->room_id, (json_t *)p);
            continue;
        }
        struct todo *t = &todo[nt++];
        t->r = r;
        t->initial = initial || moved; /* a new membership starts the room again */
        t->expanded = expanded && !t->initial;
        t->rs_changed = rs_changed;
        t->joinlike = strcmp(ms, "join") == 0 || strcmp(ms, "leave") == 0 || strcmp(ms, "ban") == 0;
        t->from = t->initial || t->expanded ? 0 : json_integer_value(json_object_get(p, "s"));
        t->to = strcmp(ms, "join") == 0 ? x->upto : mstream;
        if (!t->joinlike)
            continue;
        if (t->to > t->from || t->initial || t->expanded) {
            char lk[16];
            snprintf(lk, sizeof lk, "%d", r->timeline_limit);
            json_t *ranges = json_object_get(by_limit, lk);
            if (!ranges) {
                ranges = json_array();
                json_object_set_new(by_limit, lk, ranges);
            }
            json_array_append_new(ranges,
                                  json_pack("{s:s,s:I,s:I}", "room_id", r->room_id, "since",
                                            (json_int_t)t->from, "upto", (json_int_t)t->to));
        }
        /* summaries read the current state: only for rooms the user is in */
        if (strcmp(ms, "join") == 0)
            json_array_append_new(joined, json_string(r->room_id));
    }
    /* the reads of all rooms: timelines per distinct limit, summaries, unread counts; with
     * one limit (every list alike, as a woken connection's), the timelines and the unread
     * counts in one round trip, as /sync reads them */
    const char *lk;
    json_t *ranges;
    json_object_foreach(by_limit, lk, ranges)
    {
        json_t *got = NULL;
        if (json_object_size(by_limit) == 1 && json_array_size(joined)) {
            if (db_sync_timelines_counts(x->c, ranges, atoi(lk) + 1, x->q->user_id, x->q->device_id,
                                         NULL, joined, x->upto, &got, &counts, NULL) < 0)
                goto out;
        } else if (!(got = db_sync_timelines(x->c, ranges, atoi(lk) + 1, x->q->user_id,
                                             x->q->device_id, NULL))) {
            goto out;
        }
        json_object_update(tls, got);
        json_decref(got);
    }
    /* summaries (counts, heroes) for the joined rooms sent from scratch, and for updates
     * whose range may hold a member event (one in the rows, or a gap); else they stand */
    json_t *due = json_array();
    for (size_t i = 0; i < nt; i++) {
        struct todo *t = &todo[i];
        if (!t->joinlike || !str_eq(json_object_get(t->r->row, "membership"), "join"))
            continue;
        const json_t *rows = json_object_get(tls, t->r->room_id);
        bool need = t->initial || t->expanded || t->rs_changed ||
                    json_array_size(rows) > (size_t)t->r->timeline_limit;
        size_t j;
        json_t *row;
        json_array_foreach(rows, j, row) need =
            need || str_eq(json_object_get(json_object_get(row, "pdu"), "type"), "m.room.member");
        if (need)
            json_array_append_new(due, json_string(t->r->room_id));
    }
    sums = json_array_size(due) ? db_sync_summaries(x->c, due, x->q->user_id) : json_object();
    json_decref(due);
    if (!counts)
        counts = json_array_size(joined) ? db_push_counts(x->c, x->q->user_id, joined, x->upto)
                                         : json_object();
    if (!sums || !counts)
        goto out;
    /* steps 2-4 */
    for (size_t i = 0; i < nt; i++) {
        struct todo *t = &todo[i];
        struct ss_room *r = t->r;
        const char *ms = json_string_value(json_object_get(r->row, "membership"));
        bool dm = json_object_get(x->direct, r->room_id) != NULL;
        json_t *entry = json_object();
        json_t *se = json_pack("{s:I,s:I,s:s,s:s,s:I,s:b}", "s", (json_int_t)x->upto, "tl",
                               (json_int_t)r->timeline_limit, "rs", r->rs_key, "m", ms, "ms",
                               json_integer_value(json_object_get(r->row, "stream")), "dm", dm);
        if (t->joinlike) {
            json_t *none = json_array();
            json_t *rows = json_object_get(tls, r->room_id);
            if (room_joined(x, t, rows ? rows : none, json_object_get(sums, r->room_id), counts,
                            entry, se) < 0) {
                json_decref(none);
                json_decref(entry);
                json_decref(se);
                goto out;
            }
            json_decref(none);
        } else if (t->initial) { /* invite, knock: stripped state only */
            json_t *stripped = db_sync_stripped_state(x->c, r->room_id, x->q->user_id);
            if (!stripped) {
                json_decref(entry);
                json_decref(se);
                goto out;
            }
            json_object_set_new(entry, strcmp(ms, "knock") == 0 ? "knock_state" : "invite_state",
                                stripped);
        }
        if (t->initial)
            json_object_set_new(entry, "initial", json_true());
        json_object_set_new(entry, "membership", json_string(ms));
        int64_t bump = json_integer_value(json_object_get(r->row, "bump"));
        if (!bump || !t->joinlike)
            bump = json_integer_value(json_object_get(r->row, t->joinlike ? "last" : "stream"));
        json_object_set_new(entry, "bump_stamp", json_integer(bump));
        if (dm || (!t->initial && json_is_true(json_object_get(r->prev, "dm"))))
            json_object_set_new(entry, "is_dm", json_boolean(dm));
        json_object_set_new(rooms, r->room_id, entry);
        json_object_set_new(sent, r->room_id, se);
    }
    rc = 0;
out:
    free(todo);
    json_decref(by_limit);
    json_decref(joined);
    json_decref(tls);
    json_decref(sums);
    json_decref(counts);
    return rc;
}
