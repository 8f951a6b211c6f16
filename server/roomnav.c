/* roomnav.c - reading around an event: /context, /relations (with the visibility rules of
 * server/roomread.c applied to every event returned), /timestamp_to_event, and the room
 * summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/retention.h"
#include "server/filter.h"
#include "server/statemap.h"
#include "server/token.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

/* Visible client events from rows of db_events_page / db_relations_page, up to limit; not
 * those of users the user ignores (`ignored`, may be NULL). */
static json_t *visible_rows(struct dbc *c, const struct standing *s, const char *user_id,
                            const char *room_id, json_t *rows, json_t *cache, json_t *filter,
                            const json_t *ignored, int limit, int64_t *last_d, int64_t *last_s)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    int64_t now = clock_now_ms();
    json_array_foreach(rows, i, v)
    {
        int64_t d = json_integer_value(json_object_get(v, "depth"));
        int64_t st = json_integer_value(json_object_get(v, "stream"));
        if (d > s->depth || (d == s->depth && st > s->stream))
            continue;
        if ((int)json_array_size(out) >= limit)
            break;
        *last_d = d;
        *last_s = st;
        json_t *pdu = json_object_get(v, "pdu");
        if (!room_filter_ok(filter, pdu) || room_ignored(ignored, pdu) ||
            retention_hidden(c, room_id, pdu, cache, now))
            continue;
        enum room_vis vis = room_event_visibility(
            c, s, user_id, json_integer_value(json_object_get(v, "state_group")), pdu, cache);
        json_t *served = vis ? room_served_pdu(c, pdu, vis, cache) : NULL;
        if (!served)
            continue;
        json_t *ev =
            room_client_event(served, json_string_value(json_object_get(v, "event_id")), room_id,
                              json_string_value(json_object_get(v, "redacted_by")), now);
        json_decref(served);
        room_aggregate(c, ev, user_id, now);
        json_array_append_new(out, ev);
    }
    return out;
}

#define CONTEXT_PAGES 20 /* pages read on each side of a /context event at most */

/* Up to n events on one side of the position (*ld, *ls) that the filter, the ignore list and
 * visibility let through, paging on while rows are turned away (at most CONTEXT_PAGES pages
 * of n + 20 rows). *ld, *ls end at the last position examined. NULL on error. */
static json_t *context_side(struct dbc *c, const struct standing *s, const char *user_id,
                            const char *room_id, bool forward, int n, json_t *cache,
                            json_t *filter, const json_t *ignored, int64_t *ld, int64_t *ls)
{
    json_t *out = json_array();
    int page = n + 20;
    for (int p = 0; p < CONTEXT_PAGES && (int)json_array_size(out) < n; p++) {
        int64_t d0 = *ld, s0 = *ls;
        json_t *rows = db_events_page(c, room_id, *ld, *ls, forward, page);
        if (!rows) {
            json_decref(out);
            return NULL;
        }
        json_t *got = visible_rows(c, s, user_id, room_id, rows, cache, filter, ignored,
                                   n - (int)json_array_size(out), ld, ls);
        json_array_extend(out, got);
        json_decref(got);
        size_t nrows = json_array_size(rows);
        json_decref(rows);
        if (nrows < (size_t)page || (*ld == d0 && *ls == s0))
            break; /* the end of the room, or only events past the user's leaving */
    }
    return out;
}

enum room_rc room_context(const char *room_id, const char *user_id, const char *event_id, int limit,
                          json_t *filter, json_t **out, char *why, size_t n)
{
    json_t *cache = json_object(), *event = NULL, *ignored = NULL;
    struct db_event e = {0};
    WITH_STANDING(room_id, user_id);
    rc = room_event(room_id, user_id, event_id, &event, why, n);
    if (rc != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    if (db_events_get(c, event_id, &e) != 1 || !(ignored = room_ignored_users(c, user_id)))
        goto out;
    if (limit < 0)
        limit = 10;
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    int before_n = limit / 2, after_n = limit - before_n;
    int64_t bd = e.depth, bs = e.stream, ad = e.depth, as = e.stream;
    json_t *before = context_side(c, &s, user_id, room_id, false, before_n, cache, filter,
                                  ignored, &bd, &bs);
    json_t *after = context_side(c, &s, user_id, room_id, true, after_n, cache, filter, ignored,
                                 &ad, &as);
    if (!before || !after) {
        json_decref(before);
        json_decref(after);
        goto out;
    }
    /* the state at the event; with lazy_load_members only the member events of the senders
     * of the events returned (spec: /context "state") */
    bool lazy = filter_event_lazy_members(filter, NULL);
    json_t *senders = json_object();
    const json_t *lists[] = {before, after};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *ev;
        json_array_foreach(lists[l], i, ev)
        {
            const char *who = json_string_value(json_object_get(ev, "sender"));
            if (who)
                json_object_set_new(senders, who, json_true());
        }
    }
    const char *esender = json_string_value(json_object_get(e.pdu, "sender"));
    if (esender)
        json_object_set_new(senders, esender, json_true());
    json_t *state = json_array();
    json_t *map = db_state_group_load(c, e.state_group);
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        char *type = NULL, *skey = NULL;
        bool take = !lazy;
        if (lazy && statemap_split(k, &type, &skey) == 0)
            take = strcmp(type, "m.room.member") != 0 || json_object_get(senders, skey);
        free(type);
        free(skey);
        json_t *sev = take ? room_client_event_of(c, json_string_value(v), clock_now_ms()) : NULL;
        if (sev)
            json_array_append_new(state, sev);
    }
    json_decref(map);
    json_decref(senders);
    char start[64], end[64];
    snprintf(start, sizeof start, "t%lld_%lld", (long long)bd, (long long)bs);
    snprintf(end, sizeof end, "t%lld_%lld", (long long)ad, (long long)as);
    *out = json_pack("{s:s,s:s,s:o,s:O,s:o,s:o}", "start", start, "end", end, "events_before",
                     before, "event", event, "events_after", after, "state", state);
    rc = ROOM_OK;
out:
    json_decref(event);
    json_decref(ignored);
    db_event_clear(&e);
    json_decref(cache);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_relations(const char *room_id, const char *user_id, const char *parent,
                            const char *rel_type, const char *event_type, const char *from,
                            char dir, int limit, bool recurse, json_t **out, char *why, size_t n)
{
    json_t *cache = json_object(), *parent_ev = NULL;
    WITH_STANDING(room_id, user_id);
    /* the parent must be visible to the user */
    rc = room_event(room_id, user_id, parent, &parent_ev, why, n);
    json_decref(parent_ev);
    if (rc != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    if (limit <= 0)
        limit = 10;
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    bool forward = dir == 'f';
    int64_t d = forward ? 0 : INT64_MAX, st = forward ? 0 : INT64_MAX;
    if (from && room_parse_token(c, from, &d, &st) < 0) {
        snprintf(why, n, "Invalid 'from' token");
        rc = ROOM_BAD_PARAM;
        goto out;
    }
    json_t *rows =
        db_relations_page(c, room_id, parent, rel_type, event_type, d, st, forward, limit + 1,
                          recurse ? RELATIONS_RECURSION : 1);
    if (!rows)
        goto out;
    bool more = (int)json_array_size(rows) > limit;
    int64_t ld = d, ls = st;
    json_t *chunk =
        visible_rows(c, &s, user_id, room_id, rows, cache, NULL, NULL, limit, &ld, &ls);
    json_decref(rows);
    *out = json_pack("{s:o}", "chunk", chunk);
    if (more) {
        char next[64];
        snprintf(next, sizeof next, "t%lld_%lld", (long long)ld, (long long)ls);
        json_object_set_new(*out, "next_batch", json_string(next));
    }
    if (from)
        json_object_set_new(*out, "prev_batch", json_string(from));
    if (recurse)
        json_object_set_new(*out, "recursion_depth", json_integer(RELATIONS_RECURSION));
    rc = ROOM_OK;
out:
    json_decref(cache);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_threads(const char *room_id, const char *user_id, bool participated,
                          const char *from, int limit, json_t **out, char *why, size_t n)
{
    json_t *cache = json_object();
    WITH_STANDING(room_id, user_id);
    int64_t before = INT64_MAX;
    if (from && (token_parse(from, "#", &before, 1) < 0 || before <= 0 ||
                 !token_stream_issued(c, before))) {
        snprintf(why, n, "Invalid 'from' token");
        rc = ROOM_BAD_PARAM;
        goto out;
    }
    limit = limit <= 0 ? 10 : limit > MAX_LIMIT ? MAX_LIMIT : limit;
    json_t *rows = db_threads_page(c, room_id, participated ? user_id : NULL, before, limit + 1);
    if (!rows)
        goto out;
    bool more = (int)json_array_size(rows) > limit;
    int64_t ld = 0, ls = 0;
    json_t *chunk =
        visible_rows(c, &s, user_id, room_id, rows, cache, NULL, NULL, limit, &ld, &ls);
    *out = json_pack("{s:o}", "chunk", chunk);
    if (more) {
        char next[24];
        json_t *last = json_array_get(rows, (size_t)limit - 1);
        snprintf(next, sizeof next, "%lld",
                 (long long)json_integer_value(json_object_get(last, "order")));
        json_object_set_new(*out, "next_batch", json_string(next));
    }
    json_decref(rows);
    rc = ROOM_OK;
out:
    json_decref(cache);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_timestamp(const char *room_id, const char *user_id, int64_t ts, char dir,
                            json_t **out, char *why, size_t n)
{
    char *event_id = NULL;
    int64_t origin = 0;
    WITH_STANDING(room_id, user_id);
    int found = db_events_by_ts(c, room_id, ts, dir, &event_id, &origin);
    if (found < 0)
        goto out;
    if (!found) {
        snprintf(why, n, "No event found %s %lld", dir == 'f' ? "after" : "before", (long long)ts);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    *out = json_pack("{s:s,s:I}", "event_id", event_id, "origin_server_ts", (json_int_t)origin);
    rc = ROOM_OK;
out:
    free(event_id);
    room_standing_clear(&s);
    db_put(c);
    return rc;
}

enum room_rc room_timestamp_server(const char *room_id, const char *server, int64_t ts, char dir,
                                   json_t **out, char *why, size_t n)
{
    json_t *servers = room_servers(room_id);
    bool member = false;
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v) member = member || strcmp(json_string_value(v), server) == 0;
    json_decref(servers);
    if (!servers)
        return ROOM_ERR;
    if (!member) {
        snprintf(why, n, "No user of %s is in the room", server);
        return ROOM_FORBIDDEN;
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    char *event_id = NULL;
    int64_t origin = 0;
    enum room_rc rc = ROOM_ERR;
    int found = db_events_by_ts(c, room_id, ts, dir, &event_id, &origin);
    db_put(c);
    if (found == 0) {
        snprintf(why, n, "No event found %s %lld", dir == 'f' ? "after" : "before", (long long)ts);
        rc = ROOM_NOT_FOUND;
    } else if (found > 0) {
        *out = json_pack("{s:s,s:I}", "event_id", event_id, "origin_server_ts",
                         (json_int_t)origin);
        rc = *out ? ROOM_OK : ROOM_ERR;
    }
    free(event_id);
    return rc;
}

enum room_rc room_summary(const char *room_id, const char *user_id, json_t **out, char *why,
                          size_t n)
{
    struct dbc *c = db_get();
    enum room_rc rc = ROOM_ERR;
    char *membership = NULL;
    if (!c)
        return ROOM_ERR;
    json_t *sum = db_rooms_summary(c, room_id);
    if (!sum) {
        snprintf(why, n, "Unknown room %s", room_id);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    if (user_id && db_current_membership(c, room_id, user_id, &membership, NULL) < 0)
        goto out;
    const char *jr = json_string_value(json_object_get(sum, "join_rule"));
    const char *hv = json_string_value(json_object_get(sum, "history_visibility"));
    bool peekable =
        (jr && (strcmp(jr, "public") == 0 || strcmp(jr, "knock") == 0 ||
                strcmp(jr, "knock_restricted") == 0)) ||
        (hv && strcmp(hv, "world_readable") == 0) ||
        (membership && (strcmp(membership, "join") == 0 || strcmp(membership, "invite") == 0 ||
                        strcmp(membership, "knock") == 0));
    if (!peekable) {
        snprintf(why, n, "You may not see this room");
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    json_object_set_new(sum, "world_readable", json_boolean(hv && !strcmp(hv, "world_readable")));
    const char *ga = json_string_value(json_object_get(sum, "guest_access"));
    json_object_set_new(sum, "guest_can_join", json_boolean(ga && !strcmp(ga, "can_join")));
    json_object_del(sum, "history_visibility");
    json_object_del(sum, "guest_access");
    if (membership)
        json_object_set_new(sum, "membership", json_string(membership));
    *out = sum;
    sum = NULL;
    rc = ROOM_OK;
out:
    json_decref(sum);
    free(membership);
    db_put(c);
    return rc;
}
