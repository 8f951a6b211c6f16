/* sync.c - what /sync tells a user about the stream between two positions (Client-Server API
 * "Syncing", "Lazy-loading room members", "Typing", "Receipts", "Client Config", "Send-to-
 * Device", "Presence").
 *
 * A response covers the stream in (since, upto], upto = notify_position() taken first, so
 * nothing that commits meanwhile is half-reported: it goes into the next response.
 *  1. Memberships decide the sections: rooms the user is joined to go under `join`; rooms
 *     whose invite / knock / leave (or ban) is in the range under `invite` / `knock` / `leave`
 *     (an initial sync lists current invites and knocks, and left rooms only with
 *     include_leave; invites from users the user ignores are never listed). A join inside
 *     the range makes that room start from scratch (full state) unless the user was joined
 *     at `since` and stayed (a displayname change or a repeated /join is join -> join).
 *  2-3. Timeline and state of each room: server/sync_room.c.
 *  4. Per room also: summary (when membership may have moved), ephemeral (typing, receipts),
 *     account data, unread counts (from event_push_actions, see server/room_push.c).
 *  5. Outside rooms: account data, presence (only when enabled), to-device messages (those up
 *     to since.inbox are deleted: presenting a token acknowledges them), device-list changes.
 */
#include "server/sync.h"
#include "server/sync_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/filter.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/room.h"
#include "server/token.h"
#include "storage/keys.h"
#include "storage/sync.h"
#include "storage/userdata.h"

#define DEFAULT_LIMIT 10
#define MAX_TIMELINE 200
#define MAX_TO_DEVICE 100
#define LAZY_KEEP 10000 /* member events remembered per device (sync_lazy_members) */

int sync_token_parse(const char *s, struct sync_token *t)
{
    int64_t v[3];
    /* issued: pos never past the published position, inbox never past pos (server/token.c) */
    if (token_parse(s, "s#_#_#", v, 3) < 0 || v[0] > notify_position() || v[2] > v[0])
        return -1;
    t->pos = v[0];
    t->typing = v[1];
    t->inbox = v[2];
    return 0;
}

void sync_token_format(const struct sync_token *t, char *buf, size_t n)
{
    snprintf(buf, n, "s%" PRId64 "_%" PRId64 "_%" PRId64, t->pos, t->typing, t->inbox);
}

void sync_result_clear(struct sync_result *r)
{
    json_decref(r->body);
    json_decref(r->rooms);
    json_decref(r->mems);
    memset(r, 0, sizeof *r);
}

/* --- filters (server/filter.h) ---------------------------------------------------------- */

static const json_t *room_part(const json_t *filter, const char *part)
{
    return filter_room_part(filter, part);
}

/* RoomFilter.rooms / not_rooms, and those of a part (timeline, state ...) when given. */
static bool room_wanted(const json_t *f, const char *room_id)
{
    return !f || filter_room_ok(f, room_id);
}

static bool event_wanted(const json_t *f, const json_t *pdu)
{
    return !f || filter_event_ok(f, pdu);
}

static int timeline_limit(const json_t *filter)
{
    return filter_limit(room_part(filter, "timeline"), DEFAULT_LIMIT, MAX_TIMELINE);
}

/* --- what changed ------------------------------------------------------------------------ */

static unsigned room_kinds(const struct sync_ctx *x, const char *room_id)
{
    if (!x->known)
        return NOTIFY_ALL;
    return (unsigned)json_integer_value(json_object_get(x->room_kinds, room_id));
}

static unsigned any_room_kinds(const struct sync_ctx *x)
{
    if (!x->known)
        return NOTIFY_ALL;
    unsigned k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(x->room_kinds, key, v)
    {
        k |= (unsigned)json_integer_value(v);
    }
    return k;
}

/* --- the whole response ----------------------------------------------------------------- */

static void add_unread(json_t *entry, json_t *threads, bool per_thread)
{
    json_int_t notes = 0, hl = 0;
    json_t *th = json_object();
    const char *tid;
    json_t *v;
    json_object_foreach(threads, tid, v)
    {
        json_int_t n = json_integer_value(json_array_get(v, 0));
        json_int_t h = json_integer_value(json_array_get(v, 1));
        if (!per_thread || strcmp(tid, "main") == 0) {
            notes += n;
            hl += h;
        } else {
            json_object_set_new(th, tid,
                                json_pack("{s:I,s:I}", "notification_count", n, "highlight_count", h));
        }
    }
    json_object_set_new(entry, "unread_notifications",
                        json_pack("{s:I,s:I}", "notification_count", notes, "highlight_count", hl));
    if (per_thread && json_object_size(th))
        json_object_set_new(entry, "unread_thread_notifications", th);
    else
        json_decref(th);
}

static bool summary_due(const json_t *entry)
{
    const char *parts[] = {"timeline", "state"};
    for (size_t p = 0; p < 2; p++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(json_object_get(entry, parts[p]), "events"), i, v)
        {
            const char *t = json_string_value(json_object_get(v, "type"));
            if (t && strcmp(t, "m.room.member") == 0)
                return true;
        }
    }
    return false;
}

static int fill_joined(struct sync_ctx *x, json_t *join, json_t *joined_ids, json_t *scratch,
                       json_t *counts)
{
    const struct sync_req *q = x->q;
    /* ephemeral: typing and receipts */
    const json_t *ef = room_part(q->filter, "ephemeral");
    /* receipts: since the token, or all of them in rooms that start from scratch */
    json_t *old = json_array(), *fresh = json_array();
    size_t i;
    json_t *rid;
    json_array_foreach(joined_ids, i, rid)
    {
        const char *r = json_string_value(rid);
        if (json_object_get(scratch, r))
            json_array_append(fresh, rid);
        else if (room_kinds(x, r) & NOTIFY_RECEIPT)
            json_array_append(old, rid);
    }
    json_t *receipts = json_array_size(old)
                           ? db_receipts_since(x->c, old, q->user_id, x->since, x->upto)
                           : json_object();
    json_t *rfresh = json_array_size(fresh)
                         ? db_receipts_since(x->c, fresh, q->user_id, 0, x->upto)
                         : json_object();
    json_decref(old);
    json_decref(fresh);
    if (receipts && rfresh)
        json_object_update(receipts, rfresh);
    json_decref(rfresh);
    json_t *need_summary = json_array();
    if (!receipts) {
        json_decref(need_summary);
        return -1;
    }
    bool per_thread =
        json_is_true(json_object_get(room_part(q->filter, "timeline"), "unread_thread_notifications"));
    json_array_foreach(joined_ids, i, rid)
    {
        const char *room_id = json_string_value(rid);
        json_t *entry = json_object_get(join, room_id);
        bool scratch_room = json_object_get(scratch, room_id) != NULL;
        json_t *eph = json_array();
        if (room_wanted(ef, room_id)) {
            json_t *typing =
                notify_typing_get(room_id, q->has_since && !scratch_room ? q->since.typing : -1);
            /* an empty list only tells a client that knew the room that typing stopped */
            if (typing && (json_array_size(typing) || (q->has_since && !scratch_room)))
                json_array_append_new(eph, json_pack("{s:s,s:{s:o}}", "type", "m.typing",
                                                     "content", "user_ids", typing));
            else
                json_decref(typing);
            json_t *rc = json_object_get(receipts, room_id);
            if (rc)
                json_array_append_new(eph, json_pack("{s:s,s:O}", "type", "m.receipt", "content", rc));
        }
        if (!json_array_size(eph) && !entry) {
            json_decref(eph);
            continue;
        }
        if (!entry) {
            entry = json_pack("{s:{s:[],s:b},s:{s:[]}}", "timeline", "events", "limited", 0,
                              "state", "events");
            json_object_set_new(join, room_id, entry);
        }
        json_object_set_new(entry, "ephemeral", sync_events_wrap(eph));
        add_unread(entry, json_object_get(counts, room_id), per_thread);
        if (scratch_room || x->lazy || summary_due(entry))
            json_array_append(need_summary, rid);
    }
    json_decref(receipts);
    json_t *sums = json_array_size(need_summary)
                       ? db_sync_summaries(x->c, need_summary, q->user_id)
                       : json_object();
    json_decref(need_summary);
    if (!sums)
        return -1;
    const char *k;
    json_t *s;
    json_object_foreach(sums, k, s)
    {
        json_t *entry = json_object_get(join, k);
        json_t *heroes = json_object_get(s, "heroes"); /* null: named, none needed */
        if (entry)
            json_object_set_new(entry, "summary",
                                json_pack("{s:O*,s:O,s:O}", "m.heroes",
                                          json_is_array(heroes) ? heroes : NULL,
                                          "m.joined_member_count", json_object_get(s, "joined"),
                                          "m.invited_member_count", json_object_get(s, "invited")));
    }
    json_decref(sums);
    return 0;
}

/* A room this server is not in (a remote invite, knock or its rejection, storage/
 * fedmember.h): invite_state / knock_state from the stored stripped state; a leave with the
 * leave event alone as its timeline (when leaves are shown). m borrowed. */
static void remote_section(const json_t *m, const char *ms, json_t *invite, json_t *knock,
                           json_t *leave, bool show_leave)
{
    const char *room_id = json_string_value(json_object_get(m, "room_id"));
    json_t *stripped = json_object_get(m, "stripped");
    if (strcmp(ms, "invite") == 0 || strcmp(ms, "knock") == 0) {
        bool inv = ms[0] == 'i';
        json_object_set_new(inv ? invite : knock, room_id,
                            json_pack("{s:{s:O}}", inv ? "invite_state" : "knock_state",
                                      "events", stripped));
    } else if (show_leave) {
        json_t *ev = room_client_event(json_object_get(m, "pdu"),
                                       json_string_value(json_object_get(m, "event_id")),
                                       room_id, NULL, clock_now_ms());
        json_object_set_new(leave, room_id,
                            json_pack("{s:{s:[]},s:{s:[o*],s:b}}", "state", "events",
                                      "timeline", "events", ev, "limited", 0));
    }
}

static void put_account_data(json_t *rooms_join, json_t *body, json_t *ad, const json_t *filter)
{
    const json_t *gf = json_object_get(filter, "account_data");
    const json_t *rf = room_part(filter, "account_data");
    json_t *global = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ad, "global"), i, v)
    {
        if (event_wanted(gf, v))
            json_array_append(global, v);
    }
    json_object_set_new(body, "account_data", sync_events_wrap(global));
    const char *room_id;
    json_t *list;
    json_object_foreach(json_object_get(ad, "rooms"), room_id, list)
    {
        json_t *entry = json_object_get(rooms_join, room_id);
        if (!room_wanted(rf, room_id))
            continue;
        json_t *evs = json_array();
        json_array_foreach(list, i, v)
        {
            if (event_wanted(rf, v))
                json_array_append(evs, v);
        }
        if (!json_array_size(evs)) {
            json_decref(evs);
            continue;
        }
        if (!entry) {
            entry = json_pack("{s:{s:[],s:b},s:{s:[]},s:{s:[]}}", "timeline", "events", "limited",
                              0, "state", "events", "ephemeral", "events");
            json_object_set_new(rooms_join, room_id, entry);
        }
        json_object_set_new(entry, "account_data", sync_events_wrap(evs));
    }
}

int sync_compute(const struct sync_req *q, struct sync_result *r)
{
    memset(r, 0, sizeof *r);
    struct sync_ctx x = {.q = q, .now = clock_now_ms()};
    x.upto = notify_position();
    int64_t typing_now = notify_typing_serial();
    x.since = q->has_since ? q->since.pos : 0;
    if (x.since > x.upto)
        x.since = x.upto; /* a token from a restored database: start from here */
    x.limit = timeline_limit(q->filter);
    bool redundant = false;
    x.lazy = filter_lazy_members(q->filter, &redundant);
    /* the device's lazy-loading record: read for incremental syncs, cleared by initial ones */
    bool record = x.lazy && !redundant && q->device_id;
    const json_t *tf = room_part(q->filter, "timeline");
    x.narrow = filter_event_narrows(tf);
    x.fields = json_object_get(q->filter, "event_fields");
    const char *fmt = json_string_value(json_object_get(q->filter, "event_format"));
    x.federation_format = fmt && strcmp(fmt, "federation") == 0;
    const json_t *rf = json_object_get(q->filter, "room");
    bool include_leave = json_is_true(json_object_get(rf, "include_leave"));

    int rc = -1;
    json_t *mems = NULL, *ranges = json_array(), *tls = NULL, *ad = NULL, *body = NULL;
    json_t *counts = NULL, *stayed_in = NULL; /* rooms joined at since and throughout */
    json_t *ignored = NULL;                 /* m.ignored_user_list, read for invites */
    json_t *joined_ids = json_array(), *scratch = json_object(), *member_of = json_object();
    json_t *join = json_object(), *invite = json_object(), *leave = json_object(),
           *knock = json_object();
    x.c = db_get();
    if (!x.c)
        goto out;
    if (q->mems && q->mems_pos <= x.upto) { /* still true if no member event named the user */
        unsigned uk = 0;
        json_t *rk = json_object();
        if (notify_changes(q->user_id, q->mems_pos, x.upto, &uk, rk) == 0 && !(uk & NOTIFY_EVENT))
            mems = json_incref(q->mems);
        json_decref(rk);
    }
    if (!mems && !(mems = db_sync_memberships(x.c, q->user_id)))
        goto out;
    if (record) {
        x.lazy_new = json_array();
        if (!q->has_since && db_lazy_members_reset(x.c, q->user_id, q->device_id) < 0)
            goto out;
    }

    x.room_kinds = json_object();
    x.known = q->has_since &&
              notify_changes(q->user_id, x.since, x.upto, &x.user_kinds, x.room_kinds) == 0;

    /* step 1: sections. A join in the range is a new join unless the user was joined at
     * `since` and had no other membership since (join -> join: a displayname change or a
     * repeated /join); one query for the rooms whose member event of the user moved. */
    size_t i;
    json_t *m;
    json_t *moved_joins = json_array();
    if (q->has_since) {
        json_array_foreach(mems, i, m)
        {
            const char *ms = json_string_value(json_object_get(m, "membership"));
            int64_t mstream = json_integer_value(json_object_get(m, "stream"));
            if (ms && strcmp(ms, "join") == 0 && mstream > x.since && mstream <= x.upto)
                json_array_append(moved_joins, json_object_get(m, "room_id"));
        }
    }
    json_t *stayed = json_array_size(moved_joins)
                         ? db_sync_joined_throughout(x.c, q->user_id, moved_joins, x.since, x.upto)
                         : json_array();
    json_decref(moved_joins);
    if (!stayed)
        goto out;
    stayed_in = json_object();
    json_array_foreach(stayed, i, m) json_object_set(stayed_in, json_string_value(m), json_true());
    json_decref(stayed);
    json_array_foreach(mems, i, m)
    {
        const char *room_id = json_string_value(json_object_get(m, "room_id"));
        const char *ms = json_string_value(json_object_get(m, "membership"));
        int64_t mstream = json_integer_value(json_object_get(m, "stream"));
        if (!room_id || !ms || mstream > x.upto || !room_wanted(rf, room_id))
            continue;
        bool moved = !q->has_since || mstream > x.since;
        json_object_set(member_of, room_id, m);
        if (strcmp(ms, "join") == 0) {
            json_array_append_new(joined_ids, json_string(room_id));
            /* initial sync, or joined within the range */
            bool fresh = moved && !json_object_get(stayed_in, room_id);
            if (fresh)
                json_object_set_new(scratch, room_id, json_true());
            else if (!q->full_state && !(room_kinds(&x, room_id) & NOTIFY_EVENT))
                continue; /* no event there since the token: no timeline to read */
            json_array_append_new(ranges, json_pack("{s:s,s:I,s:I}", "room_id", room_id, "since",
                                                    fresh ? 0 : x.since, "upto", x.upto));
        } else if ((strcmp(ms, "invite") == 0 || strcmp(ms, "knock") == 0) && moved) {
            if (ms[0] == 'i') { /* spec: no invites from ignored users */
                if (!ignored &&
                    !(ignored = db_account_data_get(x.c, q->user_id, "", "m.ignored_user_list")))
                    goto out;
                const char *from = json_string_value(json_object_get(m, "sender"));
                if (from && json_object_get(json_object_get(ignored, "ignored_users"), from))
                    continue;
            }
            if (json_object_get(m, "stripped")) { /* a room this server is not in */
                remote_section(m, ms, invite, knock, leave, true);
                continue;
            }
            json_t *stripped = db_sync_stripped_state(x.c, room_id, q->user_id);
            if (!stripped)
                goto out;
            bool inv = ms[0] == 'i';
            json_object_set_new(inv ? invite : knock, room_id,
                                json_pack("{s:{s:o}}", inv ? "invite_state" : "knock_state",
                                          "events", stripped));
        } else if (json_object_get(m, "stripped")) { /* rejected where this server is not */
            if (moved)
                remote_section(m, ms, invite, knock, leave, q->has_since || include_leave);
        } else if ((strcmp(ms, "leave") == 0 || strcmp(ms, "ban") == 0) &&
                   (q->has_since ? moved : include_leave)) {
            json_array_append_new(ranges, json_pack("{s:s,s:I,s:I}", "room_id", room_id, "since",
                                                    q->has_since ? x.since : 0, "upto", mstream));
            if (!q->has_since)
                json_object_set_new(scratch, room_id, json_true());
        }
    }

    /* steps 2-3: timelines and state */
    /* the timelines and the unread counts of the joined rooms, in one round trip; with them
     * the state groups at the ends of the ranges where state may move unseen: a narrowing
     * filter, or (incremental) a fork, a merge or a gap (server/sync_room.c step 2) */
    bool want_groups = x.narrow || q->has_since;
    if (json_array_size(ranges) && json_array_size(joined_ids)) {
        if (db_sync_timelines_counts(x.c, ranges, x.limit + 1, q->user_id, q->device_id, tf,
                                     joined_ids, x.upto, &tls, &counts,
                                     want_groups ? &x.groups : NULL) < 0)
            goto out;
    } else {
        tls = json_array_size(ranges)
                  ? db_sync_timelines(x.c, ranges, x.limit + 1, q->user_id, q->device_id, tf)
                  : json_object();
        counts = json_array_size(joined_ids)
                     ? db_push_counts(x.c, q->user_id, joined_ids, x.upto)
                     : json_object();
        if (!tls || !counts)
            goto out;
    }
    if (want_groups && json_array_size(ranges) && !x.groups &&
        !(x.groups = db_sync_groups_at(x.c, ranges)))
        goto out;
    if (record && q->has_since && !q->full_state && json_array_size(ranges)) {
        json_t *rooms = json_array();
        json_array_foreach(ranges, i, m) json_array_append(rooms, json_object_get(m, "room_id"));
        x.lazy_sent = db_lazy_members_get(x.c, q->user_id, q->device_id, rooms, x.since);
        json_decref(rooms);
        if (!x.lazy_sent)
            goto out;
    }
    json_array_foreach(ranges, i, m)
    {
        const char *room_id = json_string_value(json_object_get(m, "room_id"));
        const json_t *mem = json_object_get(member_of, room_id);
        bool joined = strcmp(json_string_value(json_object_get(mem, "membership")), "join") == 0;
        bool from_scratch = json_object_get(scratch, room_id) != NULL;
        json_t *rows = json_object_get(tls, room_id);
        if (!rows && !from_scratch && !q->full_state && joined && !x.narrow)
            continue;
        if (!room_wanted(room_part(q->filter, "timeline"), room_id)) {
            rows = NULL;
        }
        bool worth = false;
        json_t *none = json_array();
        json_t *entry = sync_room_entry(&x, room_id, mem, rows ? rows : none, from_scratch, &worth);
        json_decref(none);
        if (!entry)
            goto out;
        if (!worth) {
            json_decref(entry);
            continue;
        }
        json_object_set_new(joined ? join : leave, room_id, entry);
    }
    if (json_array_size(x.lazy_new) &&
        db_lazy_members_put(x.c, q->user_id, q->device_id, x.lazy_new, x.upto, LAZY_KEEP) < 0)
        goto out;
    if (fill_joined(&x, join, joined_ids, scratch, counts) < 0)
        goto out;

    body = json_object();
    ad = !x.known || (x.user_kinds & NOTIFY_ACCOUNT)
             ? db_account_data_since(x.c, q->user_id, x.since, x.upto)
             : json_pack("{s:[],s:{}}", "global", "rooms");
    if (!ad)
        goto out;
    put_account_data(join, body, ad, q->filter);

    /* step 5: the rest */
    json_t *presence = json_array();
    if (q->presence_enabled && ((x.user_kinds | any_room_kinds(&x)) & NOTIFY_PRESENCE)) {
        json_t *ps = db_presence_since(x.c, q->user_id, x.since, x.upto);
        json_t *pf = json_object_get(q->filter, "presence");
        json_t *p;
        json_array_foreach(ps, i, p)
        {
            json_t *ev = json_pack("{s:s,s:O,s:{}}", "type", "m.presence", "sender",
                                   json_object_get(p, "user_id"), "content");
            json_t *content = json_object_get(ev, "content");
            json_object_update(content, p);
            json_object_del(content, "user_id");
            json_int_t la = json_integer_value(json_object_get(p, "last_active_ts"));
            json_object_del(content, "last_active_ts");
            json_object_set_new(content, "last_active_ago", json_integer(x.now > la ? x.now - la : 0));
            if (event_wanted(pf, ev))
                json_array_append_new(presence, ev);
            else
                json_decref(ev);
        }
        json_decref(ps);
    }
    json_object_set_new(body, "presence", sync_events_wrap(presence));

    r->next.pos = x.upto;
    r->next.typing = typing_now;
    r->next.inbox = q->has_since ? q->since.inbox : 0;
    json_t *to_device = json_array(), *kc = NULL;
    if (q->device_id) {
        json_t *msgs = NULL;
        if (db_keys_sync(x.c, q->user_id, q->device_id, r->next.inbox, x.upto, MAX_TO_DEVICE,
                         &msgs, &kc) < 0) {
            json_decref(to_device);
            goto out;
        }
        json_t *msg;
        json_array_foreach(msgs, i, msg)
        {
            r->next.inbox = json_integer_value(json_object_get(msg, "stream"));
            json_object_del(msg, "stream");
            json_array_append(to_device, msg);
        }
        json_decref(msgs);
    } else {
        kc = json_pack("{s:{},s:[]}", "counts", "unused_fallback");
    }
    json_object_set_new(body, "to_device", sync_events_wrap(to_device));
    json_t *lists = q->has_since && ((x.user_kinds | any_room_kinds(&x)) &
                                     (NOTIFY_DEVICES | NOTIFY_MEMBER))
                        ? db_device_lists(x.c, q->user_id, x.since, x.upto)
                        : json_pack("{s:[],s:[]}", "changed", "left");
    if (!json_is_object(lists)) {
        json_decref(lists);
        json_decref(kc);
        goto out;
    }
    json_t *changed = json_object_get(lists, "changed"), *left = json_object_get(lists, "left");
    json_object_set_new(body, "device_lists", lists);
    json_t *otk = json_object_get(kc, "counts");
    json_object_set_new(body, "device_one_time_keys_count",
                        json_is_object(otk) ? json_copy(otk) : json_object());
    if (q->device_id && !json_object_get(json_object_get(body, "device_one_time_keys_count"),
                                         "signed_curve25519"))
        json_object_set_new(json_object_get(body, "device_one_time_keys_count"),
                            "signed_curve25519", json_integer(0));
    json_object_set(body, "device_unused_fallback_key_types",
                    json_object_get(kc, "unused_fallback"));
    json_decref(kc);

    r->empty = !json_object_size(join) && !json_object_size(invite) && !json_object_size(leave) &&
               !json_object_size(knock) &&
               !json_array_size(json_object_get(json_object_get(body, "account_data"), "events")) &&
               !json_array_size(presence) && !json_array_size(to_device) &&
               !json_array_size(changed) && !json_array_size(left);
    char tok[80];
    sync_token_format(&r->next, tok, sizeof tok);
    json_object_set_new(body, "next_batch", json_string(tok));
    json_object_set_new(body, "rooms", json_pack("{s:O,s:O,s:O,s:O}", "join", join, "invite",
                                                 invite, "leave", leave, "knock", knock));
    r->body = body;
    body = NULL;
    r->rooms = joined_ids;
    joined_ids = NULL;
    r->mems = json_incref(mems);
    rc = 0;
out:
    if (rc < 0)
        log_error("sync: computing the response for %s failed", q->user_id);
    db_put(x.c);
    json_decref(mems);
    json_decref(ranges);
    json_decref(tls);
    json_decref(counts);
    json_decref(stayed_in);
    json_decref(ad);
    json_decref(body);
    json_decref(joined_ids);
    json_decref(scratch);
    json_decref(member_of);
    json_decref(join);
    json_decref(invite);
    json_decref(leave);
    json_decref(knock);
    json_decref(x.room_kinds);
    json_decref(x.groups);
    json_decref(x.lazy_sent);
    json_decref(x.lazy_new);
    json_decref(ignored);
    return rc;
}
