/* room_push.c - what a new event means for each local member's notifications (Client-Server
 * API "Push Notifications": "Push Rules", "Receiving notifications").
 *
 * Runs inside the room writer's transaction, right after the event is stored: every local
 * user joined to the room (and the target of an invite) other than the sender gets the push
 * rules evaluated (server/push.h); a "notify" outcome becomes a row in event_push_actions, so
 * /sync's unread and highlight counts are counts of rows after the user's read receipt, and
 * the same rows feed /notifications and the push sender (migration 0013 queues a delivery
 * per pusher with the insert; 0007 keeps the deciding rule's tweaks). Users' own rules come
 * with the members (room_push_seed, db_push_targets) and are merged once per batch. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "server/clock.h"
#include "server/ids.h"
#include "server/metrics.h"
#include "server/push.h"
#include "server/roomver.h"
#include "server/room_internal.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"
#include "storage/userdata.h"

/* The user's rule set for this batch: their effective set if they stored rules of their own
 * (put in the batch's cache by room_push_seed, read with the room's members), else the
 * shared predefined one (push_predefined: no per-user copy, the evaluator fills in the
 * user's ID). Borrowed from the batch's cache. */
static const json_t *ruleset_for(struct batch *b, const char *user_id)
{
    if (!b->push_rules)
        b->push_rules = json_object();
    json_t *r = json_object_get(b->push_rules, user_id);
    if (!r && (r = (json_t *)push_predefined()) != NULL)
        json_object_set(b->push_rules, user_id, r); /* shared, never changed: a reference */
    return r;
}

/* Members with rules of their own ("rules": their store, as the append view and
 * db_push_targets read it with the members): their effective set into the batch's cache,
 * once for the batch (users already there keep theirs). */
static void seed_rules(struct batch *b, const json_t *members)
{
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const json_t *store = json_object_get(m, "rules");
        const char *user = json_string_value(json_object_get(m, "user_id"));
        if (!json_is_object(store) || !user ||
            (b->push_rules && json_object_get(b->push_rules, user)))
            continue;
        json_t *set = push_merge(store, user);
        if (!set)
            continue;
        if (!b->push_rules)
            b->push_rules = json_object();
        json_object_set_new(b->push_rules, user, set);
    }
}

void room_push_seed(struct batch *b, const char *room_id, json_t *members, json_t *auth)
{
    if (!members || strlen(room_id) >= sizeof b->push_room)
        return;
    char *k = statemap_key("m.room.power_levels", "");
    const json_t *pl = k ? json_object_get(json_object_get(auth, k), "content") : NULL;
    free(k);
    json_decref(b->push_targets);
    b->push_targets =
        json_pack("{s:O,s:I,s:O}", "members", members, "count",
                  (json_int_t)json_array_size(members), "power_levels", pl ? pl : json_null());
    snprintf(b->push_room, sizeof b->push_room, "%s", room_id);
    seed_rules(b, members);
}

/* room_internal.h; here for sender_notification_permission, only looked up for an @room
 * mention, the one predefined rule that asks. */
json_t *room_creators(struct dbc *c, const char *room_id)
{
    struct db_room r; /* on this transaction's connection */
    if (db_rooms_get(c, room_id, false, &r) != 1)
        return NULL;
    const struct room_version *rv = roomver_get(r.room_version);
    db_room_clear(&r);
    if (!rv || !rv->creators_infinite_power)
        return NULL;
    char *create_id = NULL;
    if (db_current_state_get(c, room_id, "m.room.create", "", &create_id) < 0 || !create_id)
        return NULL;
    json_t *create = room_load_pdu(c, create_id);
    free(create_id);
    if (!create)
        return NULL;
    json_t *out = json_array();
    json_array_append(out, json_object_get(create, "sender"));
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(json_object_get(create, "content"), "additional_creators"),
                       i, u)
    {
        if (json_is_string(u))
            json_array_append(out, u);
    }
    json_decref(create);
    return out;
}

/* The predefined rule set's outcome for `ev`, evaluated once for nobody in particular with
 * the room's count and power levels from `targets` (and *creators, looked up here once for an
 * @room mention: the caller frees it). True when that outcome is every member's whose rules
 * are the shared predefined set: it read nothing of the user (a join, a message without
 * mentions), or only the state_key (an invite: then every such member's but the invitee's,
 * push_user_may_match). False: evaluate each member. */
static bool shared_outcome(struct dbc *c, const char *room_id, const json_t *ev,
                           const json_t *content, const json_t *targets, json_t **creators,
                           struct push_result *res)
{
    const json_t *shared = push_predefined();
    if (!shared)
        return false;
    if (!*creators && json_is_true(json_object_get(json_object_get(content, "m.mentions"), "room")))
        *creators = room_creators(c, room_id);
    struct push_ctx ctx = {
        .member_count = json_integer_value(json_object_get(targets, "count")),
        .power_levels = json_object_get(targets, "power_levels"),
        .creators = *creators,
    };
    return push_eval(shared, ev, &ctx, res) == 0 && !(res->reads & PUSH_READ_USER);
}

int room_push_actions(struct dbc *c, struct batch *b, const char *room_id, const json_t *pdu,
                      const char *event_id)
{
    const char *sender = json_string_value(json_object_get(pdu, "sender"));
    const char *type = json_string_value(json_object_get(pdu, "type"));
    const char *skey = json_string_value(json_object_get(pdu, "state_key"));
    const json_t *content = json_object_get(pdu, "content");
    const char *membership = json_string_value(json_object_get(content, "membership"));
    const char *invitee = type && skey && membership && strcmp(type, "m.room.member") == 0 &&
                                  strcmp(membership, "invite") == 0
                              ? skey
                              : NULL;
    json_t *ev = json_object(); /* what the rules look at, borrowed from the PDU */
    static const char *const keys[] = {"type", "content", "sender", "state_key"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *v = json_object_get(pdu, keys[k]);
        if (v)
            json_object_set(ev, keys[k], v);
    }
    json_object_set_new(ev, "room_id", json_string(room_id));
    json_object_set_new(ev, "event_id", json_string(event_id));
    /* Within one batch, message events of a room see the same members and power levels:
     * the targets are read once (with the sender kept in, dropped below) until a state
     * event, which may change them, clears the cache. A state event reads first only the
     * members with rules of their own (and the invitee): enough when the predefined rules
     * notify nobody else (shared_outcome), as for every membership change. */
    json_t *targets;
    json_t *creators = NULL;
    struct push_result shared_res = {0};
    bool shared_ok = false;
    if (!skey && b->push_targets && strcmp(b->push_room, room_id) == 0) {
        targets = json_incref(b->push_targets);
    } else {
        targets = db_push_targets(c, room_id, "", invitee, skey != NULL);
        if (targets && skey) {
            shared_ok = shared_outcome(c, room_id, ev, content, targets, &creators, &shared_res);
            if (!shared_ok || shared_res.notify) { /* default members may be notified: all */
                json_decref(targets);
                targets = db_push_targets(c, room_id, "", invitee, false);
            }
        }
        if (!targets) {
            json_decref(ev);
            json_decref(creators);
            return -1;
        }
        /* an invitee, or a batch not seeded (room creation): their own rules, too */
        seed_rules(b, json_object_get(targets, "members"));
        json_decref(b->push_targets);
        b->push_targets = NULL;
        if (!skey && strlen(room_id) < sizeof b->push_room) {
            b->push_targets = json_incref(targets);
            snprintf(b->push_room, sizeof b->push_room, "%s", room_id);
        }
    }
    json_t *members = json_object_get(targets, "members");
    if (!skey)
        shared_ok = shared_outcome(c, room_id, ev, content, targets, &creators, &shared_res);
    const json_t *shared = push_predefined();
    struct push_ctx ctx = {
        .member_count = json_integer_value(json_object_get(targets, "count")),
        .power_levels = json_object_get(targets, "power_levels"),
        .creators = creators,
    };
    json_t *rows = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *uid = json_string_value(json_object_get(m, "user_id"));
        if (!uid || !ids_is_local(uid) || (sender && strcmp(uid, sender) == 0))
            continue;
        ctx.user_id = uid;
        ctx.display_name = json_string_value(json_object_get(m, "displayname"));
        struct push_result res = {0};
        const json_t *rules = ruleset_for(b, uid);
        if (!rules)
            continue;
        if (rules == shared && shared_ok &&
            !((shared_res.reads & PUSH_READ_STATE_KEY) && push_user_may_match(uid, skey)))
            res = shared_res;
        else if (push_eval(rules, ev, &ctx, &res) != 0)
            continue;
        if (!res.notify)
            continue;
        json_t *row = json_pack("{s:s,s:s,s:s,s:s?,s:b}", "user_id", uid, "room_id", room_id,
                                "event_id", event_id, "sender", sender, "highlight", res.highlight);
        json_t *tweaks = push_tweaks(res.actions); /* most rules: none, nothing stored */
        char *text = tweaks ? json_dumps(tweaks, JSON_COMPACT) : NULL;
        if (text)
            json_object_set_new(row, "tweaks", json_string(text));
        free(text);
        json_decref(tweaks);
        json_array_append_new(rows, row);
    }
    /* the thread an event belongs to: its root for m.thread relations, else the main one */
    const json_t *rel = json_object_get(content, "m.relates_to");
    const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
    const char *thread = rel_type && strcmp(rel_type, "m.thread") == 0
                             ? json_string_value(json_object_get(rel, "event_id"))
                             : NULL;
    size_t i2;
    json_t *row;
    json_array_foreach(rows, i2, row)
    {
        json_object_set_new(row, "thread_id", json_string(thread ? thread : "main"));
    }
    if (!b->push_rows)
        b->push_rows = json_array();
    json_array_extend(b->push_rows, rows);
    json_decref(rows);
    json_decref(ev);
    json_decref(targets);
    json_decref(creators);
    return 0;
}

/* Write the deferred rows (and, with commit, the notifications and COMMIT). */
static int flush(struct dbc *c, struct batch *b, bool commit)
{
    struct db_event_row rows[MAX_DEFERRED];
    int64_t streams[MAX_DEFERRED];
    for (size_t i = 0; i < b->n_deferred; i++) {
        const struct deferred *d = &b->deferred[i];
        rows[i] = (struct db_event_row){
            .m = {.event_id = d->event_id,
                  .room_id = d->room_id,
                  .type = d->type,
                  .sender = d->sender,
                  .origin_server_ts = d->ts,
                  .depth = d->depth,
                  .state_group = d->state_group},
            .json = d->json,
            .prev = d->prev,
            .txn_device = d->txn_device,
            .txn_id = d->txn_id,
        };
    }
    int rc = db_events_insert_commit(c, rows, b->n_deferred, clock_now_ms(),
                                     commit ? b->push_rows : NULL, commit, streams);
    if (rc == 0)
        metrics_add(METRICS_EVENTS_PERSISTED, b->n_deferred);
    for (size_t i = 0; rc == 0 && i < b->n_deferred; i++)
        if (b->deferred[i].item < b->n)
            b->items[b->deferred[i].item].stream = streams[i];
    room_deferred_clear(b);
    if (commit) {
        json_decref(b->push_rows);
        b->push_rows = NULL;
    }
    return rc;
}

int room_push_commit(struct dbc *c, struct batch *b)
{
    return flush(c, b, true);
}

int room_deferred_flush(struct dbc *c, struct batch *b)
{
    return b->n_deferred ? flush(c, b, false) : 0;
}

void room_deferred_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n_deferred; i++) {
        struct deferred *d = &b->deferred[i];
        free(d->event_id);
        free(d->room_id);
        free(d->type);
        free(d->sender);
        free(d->json);
        free(d->prev);
        free(d->txn_device);
        free(d->txn_id);
    }
    b->n_deferred = 0;
}
