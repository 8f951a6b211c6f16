/* roomread.c - reading rooms with the spec's visibility rules (Client-Server API "Room
 * membership", "History visibility", /state, /event, /members, /joined_members, /messages,
 * aliases).
 *
 * Who may read what:
 *  1. Current state (/state, /members ...): joined users see the current state; users who
 *     left or were banned see the state as it was when they left; anyone may read a room
 *     whose history_visibility is world_readable; everyone else gets M_FORBIDDEN.
 *  2. Events (/messages, /event): the algorithm of "History visibility" per event, with the
 *     state after the event: world_readable -> visible; the user was joined -> visible;
 *     shared and the user is joined now (or was until leaving after the event) -> visible;
 *     invited at the event and history invited -> visible; else hidden. A user who left
 *     never sees events after their leave.
 *  3. Erased senders (GDPR erasure, server/useradmin.c): an event whose sender's account is
 *     erased is served pruned (the redaction algorithm) to a user who was not joined when
 *     it was sent; who was joined keeps seeing it whole (Synapse's visibility rule). This is
 *     the only place that decides; every reader of events asks room_event_visibility, and
 *     the events bundled into another's unsigned m.relations go through room_bundled_event
 *     (server/room_erased.c), which applies the same rule.
 * Pagination tokens are "t<depth>_<stream>" (topological positions). The state at a position
 * is read from the DAG (an event's state group, the state before an event), never from the
 * event next to it in (depth, stream) order, which after a fork may be of another branch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/filter.h"
#include "server/log.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/retention.h"
#include "server/ssconn.h"
#include "server/token.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"
#include "storage/sync.h"
#include "storage/userdata.h"
#include "server/sync.h"

#define PAGE_FETCH 100
#define MAX_PAGES 50 /* bounds the work of one /messages call when most events are hidden */

void room_standing_clear(struct standing *s)
{
    free(s->membership);
    free(s->event_id);
}

char *room_group_string(struct dbc *c, int64_t group, const char *type, const char *key)
{
    char *ev = NULL, *out = NULL;
    if (db_state_group_get(c, group, type, "", &ev) < 0 || !ev)
        return NULL;
    struct db_event e;
    if (db_events_get(c, ev, &e) == 1) {
        const char *v = json_string_value(json_object_get(json_object_get(e.pdu, "content"), key));
        out = v ? strdup(v) : NULL;
        db_event_clear(&e);
    }
    free(ev);
    return out;
}

/* Work out what `user_id` may read in `room_id` (rule 1). */
enum room_rc room_standing(struct dbc *c, const char *room_id, const char *user_id,
                           struct standing *s, char *why, size_t n)
{
    struct db_room r;
    memset(s, 0, sizeof *s);
    s->depth = s->stream = INT64_MAX;
    int found = db_rooms_get(c, room_id, false, &r);
    if (found <= 0) {
        if (found == 0)
            snprintf(why, n, "Unknown room %s", room_id);
        return found == 0 ? ROOM_NOT_FOUND : ROOM_ERR;
    }
    s->group = r.state_group;
    db_room_clear(&r);
    if (db_current_membership(c, room_id, user_id, &s->membership, &s->event_id) < 0)
        return ROOM_ERR;
    char *hv = room_group_string(c, s->group, "m.room.history_visibility", "history_visibility");
    s->world_readable = hv && strcmp(hv, "world_readable") == 0;
    free(hv);
    if (s->membership && strcmp(s->membership, "join") == 0)
        return ROOM_OK;
    if (s->membership &&
        (strcmp(s->membership, "leave") == 0 || strcmp(s->membership, "ban") == 0)) {
        struct db_event e;
        if (db_events_get(c, s->event_id, &e) != 1)
            return ROOM_ERR;
        s->depth = e.depth;
        s->stream = e.stream;
        if (!s->world_readable)
            s->group = e.state_group;
        db_event_clear(&e);
        return ROOM_OK;
    }
    if (s->world_readable)
        return ROOM_OK;
    snprintf(why, n, "You are not a member of %s", room_id);
    return ROOM_FORBIDDEN;
}

char *room_membership_at(struct dbc *c, int64_t group, const char *user_id)
{
    char *mev = NULL, *membership = NULL;
    if (db_state_group_get(c, group, "m.room.member", user_id, &mev) == 0 && mev) {
        struct db_event e;
        if (db_events_get(c, mev, &e) == 1) {
            const char *m =
                json_string_value(json_object_get(json_object_get(e.pdu, "content"), "membership"));
            membership = m ? strdup(m) : NULL;
            db_event_clear(&e);
        }
    }
    free(mev);
    return membership;
}

/* Rule 2 for one event, with the state after it (group): 0 hidden, 1 visible and the user was
 * joined, 2 visible and the user was not joined. */
static int membership_verdict(struct dbc *c, const struct standing *s, const char *user_id,
                              int64_t group, json_t *cache)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)group);
    json_t *hit = json_object_get(cache, key);
    if (hit)
        return (int)json_integer_value(hit);
    bool ok = false, joined = false;
    char *hv = room_group_string(c, group, "m.room.history_visibility", "history_visibility");
    char *membership = room_membership_at(c, group, user_id);
    const char *h = hv ? hv : "shared";
    if (strcmp(h, "world_readable") == 0)
        ok = true;
    else if (membership && strcmp(membership, "join") == 0)
        ok = true;
    else if (strcmp(h, "shared") == 0 && s->membership &&
             (strcmp(s->membership, "join") == 0 || strcmp(s->membership, "leave") == 0 ||
              strcmp(s->membership, "ban") == 0))
        ok = true;
    else if (strcmp(h, "invited") == 0 && membership && strcmp(membership, "invite") == 0)
        ok = true;
    joined = membership && strcmp(membership, "join") == 0;
    free(hv);
    free(membership);
    int v = !ok ? 0 : joined ? 1 : 2;
    json_object_set_new(cache, key, json_integer(v));
    return v;
}

enum room_vis room_event_visibility(struct dbc *c, const struct standing *s, const char *user_id,
                                    int64_t group, const json_t *pdu, json_t *cache)
{
    int v = membership_verdict(c, s, user_id, group, cache);
    if (v == 0)
        return ROOM_VIS_HIDDEN;
    if (v == 2 && room_sender_erased(c, json_string_value(json_object_get(pdu, "sender")), cache))
        return ROOM_VIS_PRUNED;
    return ROOM_VIS_FULL;
}

enum room_rc room_joined_rooms(const char *user_id, json_t **out)
{
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    *out = db_rooms_with_membership(c, user_id, "join");
    db_put(c);
    return *out ? ROOM_OK : ROOM_ERR;
}

json_t *room_client_event_of(struct dbc *c, const char *event_id, int64_t now)
{
    struct db_event e;
    if (db_events_get(c, event_id, &e) != 1)
        return NULL;
    if (retention_hidden(c, e.room_id, e.pdu, NULL, now)) { /* expired: as if gone */
        db_event_clear(&e);
        return NULL;
    }
    json_t *ev = room_client_event(e.pdu, e.event_id, e.room_id, e.redacted_by, now);
    db_event_clear(&e);
    return ev;
}

/* Add unsigned["m.relations"] (threads, the latest edit, references) to a client event. */
void room_aggregate(struct dbc *c, json_t *ev, const char *user_id, int64_t now)
{
    const char *id = json_string_value(json_object_get(ev, "event_id"));
    const char *sender = json_string_value(json_object_get(ev, "sender"));
    json_t *sum = id && sender ? db_relations_summary(c, id, sender, user_id) : NULL;
    if (!sum || !json_object_size(sum)) {
        json_decref(sum);
        return;
    }
    json_t *rel = json_object();
    json_t *thread = json_object_get(sum, "m.thread");
    if (thread) {
        json_t *latest = room_bundled_event(
            c, json_string_value(json_object_get(thread, "latest")), user_id, now);
        json_object_set_new(rel, "m.thread",
                            json_pack("{s:o*,s:O,s:O}", "latest_event", latest, "count",
                                      json_object_get(thread, "count"), "current_user_participated",
                                      json_object_get(thread, "participated")));
    }
    const char *edit = json_string_value(json_object_get(sum, "m.replace"));
    json_t *edit_ev = edit ? room_bundled_event(c, edit, user_id, now) : NULL;
    if (edit_ev)
        json_object_set_new(rel, "m.replace", edit_ev);
    json_t *refs = json_object_get(sum, "m.reference");
    if (json_array_size(refs)) {
        json_t *chunk = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(refs, i, v)
            json_array_append_new(chunk, json_pack("{s:O}", "event_id", v));
        json_object_set_new(rel, "m.reference", json_pack("{s:o}", "chunk", chunk));
    }
    json_object_set_new(json_object_get(ev, "unsigned"), "m.relations", rel);
    json_decref(sum);
}

/* The events a map's values name ({key: event_id}, borrowed) in client format: new array. */
static json_t *client_events_of(struct dbc *c, const json_t *map)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    int64_t now = clock_now_ms();
    json_object_foreach((json_t *)map, k, v)
    {
        json_t *ev = room_client_event_of(c, json_string_value(v), now);
        if (ev)
            json_array_append_new(arr, ev);
    }
    return arr;
}

enum room_rc room_state(const char *room_id, const char *user_id, json_t **out, char *why, size_t n)
{
    WITH_STANDING(room_id, user_id);
    json_t *map = db_state_group_load(c, s.group);
    if (!map)
        goto out;
    json_t *arr = client_events_of(c, map);
    json_decref(map);
    *out = arr;
    rc = ROOM_OK;
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_state_event(const char *room_id, const char *user_id, const char *type,
                              const char *state_key, json_t **out, char *why, size_t n)
{
    char *ev = NULL;
    WITH_STANDING(room_id, user_id);
    if (db_state_group_get(c, s.group, type, state_key, &ev) < 0)
        goto out;
    if (!ev) {
        snprintf(why, n, "No %s state with key '%s'", type, state_key);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    struct db_event e;
    if (db_events_get(c, ev, &e) != 1)
        goto out;
    *out = json_incref(json_object_get(e.pdu, "content"));
    if (!*out)
        *out = json_object();
    db_event_clear(&e);
    rc = ROOM_OK;
out:
    free(ev);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_event(const char *room_id, const char *user_id, const char *event_id,
                        json_t **out, char *why, size_t n)
{
    struct db_event e = {0};
    json_t *cache = json_object();
    enum room_vis vis = ROOM_VIS_HIDDEN;
    WITH_STANDING(room_id, user_id);
    int found = db_events_get(c, event_id, &e);
    if (found < 0)
        goto out;
    if (found == 0 || strcmp(e.room_id, room_id) != 0 || e.rejected || e.outlier ||
        (e.depth > s.depth || (e.depth == s.depth && e.stream > s.stream)) ||
        !(vis = room_event_visibility(c, &s, user_id, e.state_group, e.pdu, cache)) ||
        retention_hidden(c, room_id, e.pdu, cache, clock_now_ms())) {
        snprintf(why, n, "Event not found");
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    json_t *served = room_served_pdu(c, e.pdu, vis, cache);
    if (!served)
        goto out;
    *out = room_client_event(served, e.event_id, e.room_id, e.redacted_by, clock_now_ms());
    json_decref(served);
    room_aggregate(c, *out, user_id, clock_now_ms());
    rc = ROOM_OK;
out:
    db_event_clear(&e);
    json_decref(cache);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_members(const char *room_id, const char *user_id, const char *at,
                          const char *membership, const char *not_membership, json_t **out,
                          char *why, size_t n)
{
    WITH_STANDING(room_id, user_id);
    json_t *arr = json_array();
    int64_t now = clock_now_ms();
    struct sync_token sync_at;
    if (at && room_parse_token(c, at, &(int64_t){0}, &(int64_t){0}) < 0 &&
        sync_token_parse(at, &sync_at) == 0) {
        /* a sync token (a client's last next_batch, as lazy-loading clients send): the state
         * after the room's last event at that stream position, never past the user's leaving */
        if (s.stream == INT64_MAX || sync_at.pos < s.stream) {
            int64_t group = db_sync_group_at_stream(c, room_id, sync_at.pos);
            if (group < 0) {
                json_decref(arr);
                goto out;
            }
            if (group > 0)
                s.group = group;
        }
        s.depth = 0; /* read from s.group below */
        at = NULL;
    }
    if (at) { /* the members as of a pagination token, never past the user's leaving */
        int64_t d, st;
        if (room_parse_token(c, at, &d, &st) < 0) {
            json_decref(arr);
            snprintf(why, n, "Invalid 'at' token");
            rc = ROOM_BAD_PARAM;
            goto out;
        }
        /* A token is the boundary just before the event at its position (a timeline's
         * prev_batch, a backward /messages end): the state before that event in the DAG, its
         * own state group's (db_events_group_before), not the state after the event before it
         * by (depth, stream), which after a fork may be of the other branch. Past the room's
         * newest event (a /messages start), or past the user's leaving: s.group, the room's
         * current state or the state as of their leaving (room_standing). */
        if (d < s.depth || (d == s.depth && st <= s.stream)) {
            int64_t group = 0;
            int got = db_events_group_before(c, room_id, d, st, &group);
            if (got < 0) {
                json_decref(arr);
                goto out;
            }
            if (got)
                s.group = group;
        }
        s.depth = 0; /* read from s.group below */
    }
    if (s.depth == INT64_MAX) {
        json_t *rows = db_current_members(c, room_id, membership, not_membership);
        if (!rows) {
            json_decref(arr);
            goto out;
        }
        size_t i;
        json_t *v;
        json_array_foreach(rows, i, v) json_array_append_new(
            arr, room_client_event(json_object_get(v, "pdu"),
                                   json_string_value(json_object_get(v, "event_id")), room_id, NULL,
                                   now));
        json_decref(rows);
    } else { /* a former member: the members as of their leaving */
        json_t *map = db_state_group_load(c, s.group);
        const char *k;
        json_t *v;
        json_object_foreach(map, k, v)
        {
            json_t *ev = room_client_event_of(c, json_string_value(v), now);
            const char *t = json_string_value(json_object_get(ev, "type"));
            const char *m =
                json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
            if (ev && t && strcmp(t, "m.room.member") == 0 && m &&
                (!membership || strcmp(m, membership) == 0) &&
                (!not_membership || strcmp(m, not_membership) != 0))
                json_array_append(arr, ev);
            json_decref(ev);
        }
        json_decref(map);
    }
    *out = arr;
    rc = ROOM_OK;
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_joined_members(const char *room_id, const char *user_id, json_t **out, char *why,
                                 size_t n)
{
    WITH_STANDING(room_id, user_id);
    if (!s.membership || strcmp(s.membership, "join") != 0) {
        snprintf(why, n, "You are not joined to %s", room_id);
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    json_t *rows = db_current_members(c, room_id, "join", NULL);
    if (!rows)
        goto out;
    json_t *joined = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        json_t *pdu = json_object_get(v, "pdu");
        json_t *content = json_object_get(pdu, "content");
        json_t *m = json_object();
        json_t *dn = json_object_get(content, "displayname");
        json_t *av = json_object_get(content, "avatar_url");
        json_object_set(m, "display_name", dn && json_is_string(dn) ? dn : json_null());
        json_object_set(m, "avatar_url", av && json_is_string(av) ? av : json_null());
        json_object_set_new(joined, json_string_value(json_object_get(pdu, "state_key")), m);
    }
    json_decref(rows);
    *out = json_pack("{s:o}", "joined", joined);
    rc = ROOM_OK;
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

/* --- /messages ----------------------------------------------------------------------------- */

int room_parse_token(struct dbc *c, const char *t, int64_t *depth, int64_t *stream)
{
    int64_t v[2];
    if (token_parse(t, "t#_~", v, 2) < 0 || !token_stream_issued(c, v[1]))
        return -1;
    *depth = v[0];
    *stream = v[1];
    return 0;
}

/* RoomEventFilter's types, senders, rooms and contains_url (server/filter.h). */
bool room_filter_ok(json_t *f, const json_t *pdu)
{
    return !f || filter_event_ok(f, pdu);
}

json_t *room_ignored_users(struct dbc *c, const char *user_id)
{
    json_t *content = db_account_data_get(c, user_id, "", "m.ignored_user_list");
    if (!content)
        return NULL;
    json_t *users = json_object_get(content, "ignored_users");
    json_t *out = json_is_object(users) ? json_incref(users) : json_object();
    json_decref(content);
    return out;
}

bool room_ignored(const json_t *ignored, const json_t *pdu)
{
    const char *sender = json_string_value(json_object_get(pdu, "sender"));
    return sender && !json_object_get(pdu, "state_key") && json_object_size(ignored) &&
           json_object_get(ignored, sender);
}

/* A /messages position from a pagination token ("t<depth>_<stream>") or a /sync token
 * ("s<pos>_..." as next_batch and prev_batch are): the boundary just after the room's newest
 * event at or before that stream position. 1, 0 when malformed, -1 on error. */
static int position_of(struct dbc *c, const char *room_id, const char *tok, int64_t *depth,
                       int64_t *stream)
{
    if (room_parse_token(c, tok, depth, stream) == 0)
        return 1;
    struct sync_token st;
    if (sync_token_parse(tok, &st) < 0)
        return 0;
    int got = db_events_at_stream(c, room_id, st.pos, depth, stream);
    if (got < 0)
        return -1;
    if (got == 0)
        *depth = *stream = 0;
    else
        *stream += 1;
    return 1;
}

/* /messages with lazy_load_members (spec: the response's "state"): the member event of each
 * sender in `senders` ({user_id: state group}, borrowed) as of the state after the newest of
 * their events in the chunk, the membership that event was sent with. Not one group for the
 * whole chunk: after a fork its first event may be of a branch another sender's join is not
 * on, and a forward chunk starts before later senders joined. One query per distinct group
 * (one in a chunk without state changes). New array of client events; NULL on error. */
static json_t *lazy_members(struct dbc *c, const json_t *senders)
{
    json_t *by_group = json_object(), *ids = json_object();
    const char *who;
    json_t *g;
    json_object_foreach((json_t *)senders, who, g)
    {
        char key[24];
        snprintf(key, sizeof key, "%" PRId64, (int64_t)json_integer_value(g));
        json_t *users = json_object_get(by_group, key);
        if (!users) {
            users = json_array();
            json_object_set_new(by_group, key, users);
        }
        json_array_append_new(users, json_string(who));
    }
    const char *key;
    json_t *users;
    json_object_foreach(by_group, key, users)
    {
        int64_t group = strtoll(key, NULL, 10);
        if (group <= 0)
            continue;
        json_t *got = db_state_group_members(c, group, users);
        if (!got) {
            json_decref(by_group);
            json_decref(ids);
            return NULL;
        }
        json_object_update(ids, got);
        json_decref(got);
    }
    json_decref(by_group);
    json_t *out = client_events_of(c, ids);
    json_decref(ids);
    return out;
}

enum room_rc room_messages(const char *room_id, const char *user_id, const char *from,
                           const char *to, char dir, int limit, json_t *filter, json_t **out,
                           char *why, size_t n)
{
    int64_t fd, fs, td = -1, ts = -1;
    json_t *chunk = json_array(), *cache = json_object(), *ignored = NULL;
    bool forward = dir == 'f', more = false;
    json_t *senders = json_object(); /* {user_id: group after their newest chunk event} */
    WITH_STANDING(room_id, user_id);

    if (limit <= 0)
        limit = 10;
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    if (from) {
        int ok = position_of(c, room_id, from, &fd, &fs);
        if (ok < 0)
            goto out;
        if (ok == 0) {
            snprintf(why, n, "Invalid 'from' token");
            rc = ROOM_BAD_PARAM;
            goto out;
        }
    } else if (forward) {
        fd = fs = 0;
    } else {
        int got = db_events_latest(c, room_id, &fd, &fs);
        if (got < 0)
            goto out;
        fs += 1; /* strictly before: start just after the newest event */
        if (!got)
            fd = fs = 0;
    }
    if (to) {
        int ok = position_of(c, room_id, to, &td, &ts);
        if (ok < 0)
            goto out;
        if (ok == 0) {
            snprintf(why, n, "Invalid 'to' token");
            rc = ROOM_BAD_PARAM;
            goto out;
        }
    }
    /* a former member's history ends at their leaving */
    if (!forward && s.depth != INT64_MAX &&
        (fd > s.depth || (fd == s.depth && fs > s.stream + 1))) {
        fd = s.depth;
        fs = s.stream + 1;
    }
    ignored = room_ignored_users(c, user_id);
    if (!ignored)
        goto out;
    int64_t pd = fd, ps = fs;
    for (int page = 0; page < MAX_PAGES && (int)json_array_size(chunk) < limit; page++) {
        json_t *rows = db_events_page(c, room_id, pd, ps, forward, PAGE_FETCH);
        if (!rows)
            goto out;
        size_t nrows = json_array_size(rows), i;
        json_t *v;
        bool stop = nrows == 0;
        json_array_foreach(rows, i, v)
        {
            int64_t d = json_integer_value(json_object_get(v, "depth"));
            int64_t st = json_integer_value(json_object_get(v, "stream"));
            if (to &&
                (forward ? (d > td || (d == td && st >= ts)) : (d < td || (d == td && st <= ts)))) {
                stop = true;
                break;
            }
            if (forward && (d > s.depth || (d == s.depth && st > s.stream))) {
                stop = true;
                break;
            }
            pd = d;
            ps = st;
            json_t *pdu = json_object_get(v, "pdu");
            if (!room_filter_ok(filter, pdu) || room_ignored(ignored, pdu) ||
                retention_hidden(c, room_id, pdu, cache, clock_now_ms()))
                continue;
            enum room_vis vis = room_event_visibility(
                c, &s, user_id, json_integer_value(json_object_get(v, "state_group")), pdu, cache);
            json_t *served = vis ? room_served_pdu(c, pdu, vis, cache) : NULL;
            if (!served)
                continue;
            json_t *cev = room_client_event(
                served, json_string_value(json_object_get(v, "event_id")), room_id,
                json_string_value(json_object_get(v, "redacted_by")), clock_now_ms());
            json_decref(served);
            room_aggregate(c, cev, user_id, clock_now_ms());
            json_array_append_new(chunk, cev);
            const char *who = json_string_value(json_object_get(pdu, "sender"));
            json_t *g = json_object_get(v, "state_group");
            if (who && (forward || !json_object_get(senders, who)))
                json_object_set(senders, who, g); /* the newest of theirs wins */
            if ((int)json_array_size(chunk) == limit) {
                more = true;
                break;
            }
        }
        if (!more && nrows == PAGE_FETCH && !stop)
            more = true;
        json_decref(rows);
        if (stop || nrows < PAGE_FETCH)
            break;
    }
    char start[64], end[64];
    if (from)
        snprintf(start, sizeof start, "%s", from);
    else
        snprintf(start, sizeof start, "t%lld_%lld", (long long)fd, (long long)fs);
    *out = json_pack("{s:s,s:O}", "start", start, "chunk", chunk);
    if (filter_event_lazy_members(filter, NULL)) {
        json_t *state = lazy_members(c, senders);
        if (!state) {
            json_decref(*out);
            *out = NULL;
            goto out;
        }
        json_object_set_new(*out, "state", state);
    }
    if (more) {
        snprintf(end, sizeof end, "t%lld_%lld", (long long)pd, (long long)ps);
        json_object_set_new(*out, "end", json_string(end));
    }
    rc = ROOM_OK;
out:
    json_decref(chunk);
    json_decref(senders);
    json_decref(cache);
    json_decref(ignored);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_forget(const char *room_id, const char *user_id, char *why, size_t n)
{
    WITH_STANDING(room_id, user_id);
    if (s.membership && strcmp(s.membership, "join") == 0) {
        snprintf(why, n, "Leave the room before forgetting it");
        rc = ROOM_BAD_JSON;
        goto out;
    }
    rc = db_rooms_forget(c, room_id, user_id) < 0 ? ROOM_ERR : ROOM_OK;
    if (rc == ROOM_OK) /* no stream position names this: sliding sync's kept lists must go */
        ssconn_drop_caches(user_id);
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

/* --- aliases ------------------------------------------------------------------------------- */

enum room_rc room_alias_set(const char *alias, const char *room_id, const char *user_id, char *why,
                            size_t n)
{
    WITH_STANDING(room_id, user_id);
    if (!s.membership || strcmp(s.membership, "join") != 0) {
        snprintf(why, n, "You are not joined to %s", room_id);
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    int r = db_aliases_put(c, alias, room_id, user_id, clock_now_ms());
    if (r == 1) {
        snprintf(why, n, "Room alias %s already exists", alias);
        rc = ROOM_IN_USE;
    } else {
        rc = r == 0 ? ROOM_OK : ROOM_ERR;
    }
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_alias_get(const char *alias, char **room_id)
{
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int r = db_aliases_get(c, alias, room_id, NULL);
    db_put(c);
    return r < 0 ? ROOM_ERR : r == 0 ? ROOM_NOT_FOUND : ROOM_OK;
}

enum room_rc room_alias_delete(const char *alias, const char *user_id, bool is_admin, char *why,
                               size_t n)
{
    char *room_id = NULL, *creator = NULL;
    struct dbc *c = db_get();
    enum room_rc rc = ROOM_ERR;
    if (!c)
        return ROOM_ERR;
    int r = db_aliases_get(c, alias, &room_id, &creator);
    if (r <= 0) {
        if (r == 0) {
            snprintf(why, n, "Room alias %s not found", alias);
            rc = ROOM_NOT_FOUND;
        }
        goto out;
    }
    if (!is_admin && strcmp(creator, user_id) != 0) {
        /* others need the power to change the room's canonical alias */
        char *pl_ev = NULL;
        struct db_room room;
        bool allowed = false;
        if (db_rooms_get(c, room_id, false, &room) == 1) {
            if (db_state_group_get(c, room.state_group, "m.room.power_levels", "", &pl_ev) == 0 &&
                pl_ev) {
                struct db_event e;
                if (db_events_get(c, pl_ev, &e) == 1) {
                    json_t *content = json_object_get(e.pdu, "content");
                    json_t *users = json_object_get(content, "users");
                    json_t *ev = json_object_get(json_object_get(content, "events"),
                                                 "m.room.canonical_alias");
                    json_t *mine = json_object_get(users, user_id);
                    json_int_t have =
                        json_is_integer(mine)
                            ? json_integer_value(mine)
                            : json_integer_value(json_object_get(content, "users_default"));
                    json_t *sd = json_object_get(content, "state_default");
                    json_int_t need = json_is_integer(ev)   ? json_integer_value(ev)
                                      : json_is_integer(sd) ? json_integer_value(sd)
                                                            : 50;
                    allowed = have >= need;
                    db_event_clear(&e);
                }
            }
            db_room_clear(&room);
        }
        free(pl_ev);
        if (!allowed) {
            snprintf(why, n, "You may not delete the alias %s", alias);
            rc = ROOM_FORBIDDEN;
            goto out;
        }
    }
    rc = db_aliases_delete(c, alias) < 0 ? ROOM_ERR : ROOM_OK;
out:
    free(room_id);
    free(creator);
    db_put(c);
    return rc;
}

enum room_rc room_aliases(const char *room_id, const char *user_id, json_t **out, char *why,
                          size_t n)
{
    WITH_STANDING(room_id, user_id);
    *out = db_aliases_of_room(c, room_id);
    rc = *out ? ROOM_OK : ROOM_ERR;
out:
    room_standing_clear(&s);
    db_put(c);
    return rc;
}
