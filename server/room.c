/* room.c - the room engine: builds, authorises and persists events (Client-Server API
 * "Rooms", "Creation"; Server-Server API "PDUs", "Auth events selection").
 *
 * Every append runs in one database transaction that first locks the room's row
 * (storage/rooms.c), so each room has exactly one writer at a time across threads and
 * processes while different rooms proceed in parallel. Lock order: the room row, then
 * anything else; a transaction never locks two rooms.
 *
 * An append:
 *   1. prev_events = the room's forward extremities, depth = 1 + their greatest depth;
 *   2. auth_events = the auth events selection (server/auth.c) taken from current state;
 *   3. content hash, signature with the server key, event ID from the reference hash
 *      (or "$random:server" in versions 1 and 2);
 *   4. the format checks (sizes) and the authorization rules against that state;
 *   5. persist: a new state group for state events, the event row, the extremities, current
 *      state, relations, the redaction it applies, the client's transaction ID;
 *   6. after commit, the listener is told (sync will wake on it).
 * Room creation (server/room_create.c) runs all of its initial events through the same
 * append in one transaction; local sends reach it through room_send.c's group commit.
 * Membership changes are in room_member.c, the client format and error mapping in
 * room_client.c. */
#include "server/room.h"
#include "server/room_internal.h"
#include "server/privacy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"
#include "server/auth.h"
#include "server/b64.h"
#include "server/cjson.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/roomver.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_PREV_EVENTS 10

struct room_engine eng;

void room_init(const char *server_name, const struct sign_key *key,
               const char *default_room_version, room_listener listener)
{
    free(eng.server_name);
    eng.server_name = strdup(server_name);
    eng.key = *key;
    eng.default_version = default_room_version;
    eng.listener = listener;
}

void room_batch_announce(struct batch *b, bool committed)
{
    for (size_t i = 0; committed && i < b->n; i++) {
        const json_t *pdu = b->items[i].pdu;
        const char *type = json_string_value(json_object_get(pdu, "type"));
        const char *skey = json_string_value(json_object_get(pdu, "state_key"));
        /* a member event also concerns its target, who may not be in the room yet */
        bool member = type && skey && strcmp(type, "m.room.member") == 0;
        notify_touch(b->ticket, b->items[i].stream, b->items[i].room_id, member ? skey : NULL,
                     (member ? NOTIFY_EVENT | NOTIFY_MEMBER : NOTIFY_EVENT) |
                         notify_event_kinds(type, skey));
    }
    notify_end(b->ticket, committed);
    b->ticket = NULL;
    json_decref(b->push_targets);
    b->push_targets = NULL;
    json_decref(b->push_rows);
    b->push_rows = NULL;
    json_decref(b->push_rules);
    b->push_rules = NULL;
    room_deferred_clear(b);
    for (size_t i = 0; i < b->n; i++) {
        if (committed && eng.listener)
            eng.listener(b->items[i].stream, b->items[i].room_id, b->items[i].pdu);
        free(b->items[i].room_id);
        json_decref(b->items[i].pdu);
    }
    b->n = 0;
}

/* --- auth state ------------------------------------------------------------------------ */

const json_t *room_map_state(void *ctx, const char *type, const char *state_key)
{
    char *k = statemap_key(type, state_key);
    const json_t *v = k ? json_object_get(ctx, k) : NULL;
    free(k);
    return v;
}

/* Auth state for an event this server builds: the selected auth events, and signatures
 * checked against our own key (the only key known until federation brings others'). */
struct own_ctx {
    json_t *map;
    const struct room_version *rv;
    const json_t *pdu; /* the PDU as signed (without the event_id the checked copy carries) */
};

static const json_t *own_state(void *ctx, const char *type, const char *state_key)
{
    return room_map_state(((struct own_ctx *)ctx)->map, type, state_key);
}

static int own_signed(void *ctx, const json_t *ev, const char *server_name)
{
    struct own_ctx *o = ctx;
    if (!ids_is_local_server(server_name))
        return 0;
    return event_verify(o->pdu, o->rv, server_name, eng.key.key_id, eng.key.pk) == 0;
}

/* Load a stored event's PDU with its "event_id" key set (the form auth and state resolution
 * expect). New reference or NULL. */
json_t *room_load_pdu(struct dbc *c, const char *event_id)
{
    struct db_event e;
    if (db_events_get(c, event_id, &e) != 1)
        return NULL;
    json_t *pdu = json_incref(e.pdu);
    json_object_set_new(pdu, "event_id", json_string(event_id));
    db_event_clear(&e);
    return pdu;
}

char *room_create_event_id(const char *room_id)
{
    size_t n = strlen(room_id) + 1;
    char *id = malloc(n);
    if (id) {
        memcpy(id, room_id, n);
        id[0] = '$';
    }
    return id;
}

/* Select the auth events for `proto` from the room's current state: fills `auth_map`
 * (statemap key -> PDU, for auth_check) and `auth_ids` (event IDs for the PDU). For v12 the
 * create event is added to the map but not to the IDs. Returns 0 or -1. */
int room_select_auth(struct dbc *c, const char *room_id, const struct room_version *rv,
                     json_t *proto, json_t *auth_map, json_t *auth_ids)
{
    struct auth_key keys[MAX_AUTH_KEYS];
    const char *types[MAX_AUTH_KEYS], *skeys[MAX_AUTH_KEYS];
    size_t n = auth_select_keys(rv, proto, keys, MAX_AUTH_KEYS);
    if (n > MAX_AUTH_KEYS)
        n = MAX_AUTH_KEYS;
    for (size_t i = 0; i < n; i++) {
        types[i] = keys[i].type;
        skeys[i] = keys[i].state_key;
    }
    char *cid = rv->create_in_auth_events ? NULL : room_create_event_id(room_id);
    /* one query for every selected key (and the v12 create event) */
    json_t *found = db_current_state_events(c, room_id, types, skeys, n, cid);
    free(cid);
    if (!found)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *k = statemap_key(types[i], skeys[i]);
        json_t *ev = k ? json_object_get(found, k) : NULL;
        if (ev && !json_object_get(auth_map, k)) {
            json_array_append(auth_ids, json_object_get(ev, "event_id"));
            json_object_set(auth_map, k, ev);
        }
        free(k);
    }
    int rc = 0;
    if (!rv->create_in_auth_events) {
        char *k = statemap_key("m.room.create", "");
        json_t *create = json_object_get(found, k);
        if (create)
            json_object_set(auth_map, k, create);
        else
            rc = -1;
        free(k);
    }
    json_decref(found);
    return rc;
}

/* The auth key superset to prefetch for `proto` whatever the room version: the selection
 * with the create event included (versions 1-11 select it; v12 needs it for the rules). */
size_t room_auth_superset(const json_t *proto, struct auth_key *keys)
{
    size_t n = auth_select_keys(roomver_get("11"), proto, keys, MAX_AUTH_KEYS);
    return n > MAX_AUTH_KEYS ? MAX_AUTH_KEYS : n;
}

/* select_auth over a prefetched superset (db_rooms_append_view) instead of the database. */
static int pick_auth(json_t *pre, const char *room_id, const struct room_version *rv, json_t *proto,
                     json_t *auth_map, json_t *auth_ids)
{
    struct auth_key keys[MAX_AUTH_KEYS];
    size_t n = auth_select_keys(rv, proto, keys, MAX_AUTH_KEYS);
    if (n > MAX_AUTH_KEYS)
        n = MAX_AUTH_KEYS;
    for (size_t i = 0; i < n; i++) {
        char *k = statemap_key(keys[i].type, keys[i].state_key);
        json_t *ev = k ? json_object_get(pre, k) : NULL;
        if (ev && !json_object_get(auth_map, k)) {
            json_array_append(auth_ids, json_object_get(ev, "event_id"));
            json_object_set(auth_map, k, ev);
        }
        free(k);
    }
    if (!rv->create_in_auth_events) {
        char *k = statemap_key("m.room.create", "");
        json_t *create = json_object_get(pre, k);
        char *cid = room_create_event_id(room_id);
        int ok = create && cid &&
                 strcmp(json_string_value(json_object_get(create, "event_id")), cid) == 0;
        if (ok)
            json_object_set(auth_map, k, create);
        free(k);
        free(cid);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Event references as the room version writes them: plain IDs from v3, [id, {sha256}] in
 * versions 1 and 2. New reference. */
static json_t *refs(struct dbc *c, const struct room_version *rv, json_t *ids)
{
    if (rv->event_ids != ROOMVER_EVID_V1)
        return json_incref(ids);
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        uint8_t hash[32];
        json_t *pdu = room_load_pdu(c, json_string_value(v));
        char *b = NULL;
        if (pdu && event_reference_hash(pdu, rv, hash) == 0)
            b = b64_encode(hash, sizeof hash);
        json_array_append_new(out, json_pack("[O,{s:s}]", v, "sha256", b ? b : ""));
        free(b);
        json_decref(pdu);
    }
    return out;
}

/* --- append ------------------------------------------------------------------------------ */

/* Apply a redaction to its target if the sender may: the target's own sender, or anyone
 * with the redact power level (spec "Redactions"; v3+ "Handling redactions"). */
enum room_rc room_check_redaction(struct dbc *c, const struct append_req *a, char *why, size_t n)
{
    const char *target = a->redacts;
    struct db_event e;
    int rc = db_events_get(c, target, &e);
    if (rc < 0)
        return ROOM_ERR;
    if (rc == 0 || strcmp(e.room_id, a->room_id) != 0) {
        if (rc)
            db_event_clear(&e);
        snprintf(why, n, "Unknown event %s", target);
        return ROOM_NOT_FOUND;
    }
    bool own = strcmp(event_sender(e.pdu), a->sender) == 0;
    db_event_clear(&e);
    if (own)
        return ROOM_OK;
    json_t *auth_map = json_object(), *ids = json_array();
    json_t *proto = json_pack("{s:s,s:s,s:s}", "type", "m.room.redaction", "sender", a->sender,
                              "room_id", a->room_id);
    enum room_rc out = ROOM_ERR;
    if (room_select_auth(c, a->room_id, a->rv, proto, auth_map, ids) == 0) {
        struct auth_ops ops = {room_map_state, NULL, auth_map};
        const json_t *pl = room_map_state(auth_map, "m.room.power_levels", "");
        json_t *redact = json_object_get(json_object_get(pl, "content"), "redact");
        int64_t need = json_is_integer(redact) ? json_integer_value(redact) : 50;
        if (auth_user_power(a->rv, &ops, a->sender) >= need) {
            out = ROOM_OK;
        } else {
            snprintf(why, n, "You may only redact your own events (redact level is %lld)",
                     (long long)need);
            out = ROOM_FORBIDDEN;
        }
    }
    json_decref(proto);
    json_decref(auth_map);
    json_decref(ids);
    return out;
}

int room_apply_redaction(struct dbc *c, const struct room_version *rv, const json_t *pdu,
                         const char *event_id)
{
    const char *target = event_redacts(pdu, rv);
    struct db_event e;
    if (!target || db_events_get(c, target, &e) != 1)
        return 0;
    int rc = 0;
    if (!e.redacted_by) {
        json_t *red = event_redact(e.pdu, rv);
        char *text = red ? event_encoder(rv)(red, NULL) : NULL;
        rc = text ? db_events_redact(c, target, text, event_id) : -1;
        free(text);
        json_decref(red);
    }
    db_event_clear(&e);
    return rc;
}

/* Persist `pdu` (state after it, event row, extremities, current state, relations,
 * redaction). Sets *stream and *group. */
static int persist(struct dbc *c, const struct append_req *a, struct batch *b,
                   const char *room_id, json_t *pdu, const char *event_id, json_t *prev_ids,
                   int64_t *stream, int64_t *group)
{
    int64_t sg = a->parent_group;
    if (a->state_key) {
        json_t *ch = json_object();
        statemap_set(ch, a->type, a->state_key, event_id);
        sg = db_state_group_new(c, room_id, a->parent_group, ch);
        json_decref(ch);
        if (sg < 0)
            return -1;
    }
    char *text = cjson_encode(pdu, NULL);
    if (!text)
        return -1;
    struct db_event_meta m = {
        .event_id = event_id,
        .room_id = room_id,
        .type = a->type,
        .state_key = a->state_key,
        .sender = a->sender,
        .origin_server_ts = json_integer_value(json_object_get(pdu, "origin_server_ts")),
        .depth = json_integer_value(json_object_get(pdu, "depth")),
        .state_group = sg,
    };
    const char *txn_device = a->txn && a->txn->txn_id ? a->txn->device_id : NULL;
    const char *txn_id = a->txn ? a->txn->txn_id : NULL;
    /* A message event's row waits for the COMMIT's round trip (room_push_commit); anything
     * else first writes what waits, then itself at once. */
    bool defer = !a->state_key && strcmp(a->type, "m.room.redaction") != 0 &&
                 b->n_deferred < MAX_DEFERRED;
    if (defer) {
        struct deferred *d = &b->deferred[b->n_deferred];
        char *prev = json_dumps(prev_ids ? prev_ids : json_array(), JSON_COMPACT);
        *d = (struct deferred){.event_id = strdup(event_id),
                               .room_id = strdup(room_id),
                               .type = strdup(a->type),
                               .sender = strdup(a->sender),
                               .json = text,
                               .prev = prev,
                               .txn_device = txn_device ? strdup(txn_device) : NULL,
                               .txn_id = txn_id ? strdup(txn_id) : NULL,
                               .ts = m.origin_server_ts,
                               .depth = m.depth,
                               .state_group = sg,
                               .item = b->n};
        b->n_deferred++;
        if (!d->event_id || !d->room_id || !d->type || !d->sender || !prev ||
            (txn_device && !d->txn_device) || (txn_id && !d->txn_id))
            return -1;
        *stream = 0; /* known after the flush */
    } else {
        if (room_deferred_flush(c, b) < 0) {
            free(text);
            return -1;
        }
        int rc = db_events_insert(c, &m, text, prev_ids, txn_device, txn_id, clock_now_ms(),
                                  stream);
        free(text);
        if (rc != 0)
            return -1;
        metrics_add(METRICS_EVENTS_PERSISTED, 1);
    }
    if (a->state_key) {
        const char *membership = strcmp(a->type, "m.room.member") == 0
                                     ? json_string_value(json_object_get(a->content, "membership"))
                                     : NULL;
        if (db_current_state_set(c, room_id, a->type, a->state_key, event_id, membership) < 0 ||
            db_rooms_set_state_group(c, room_id, sg) < 0)
            return -1;
        if (membership && strcmp(membership, "join") == 0 &&
            db_rooms_unforget(c, room_id, a->state_key) < 0)
            return -1;
        if (membership && privacy_member_left(c, room_id, a->state_key, membership) < 0)
            return -1;
    }
    json_t *rel = json_object_get(a->content, "m.relates_to");
    const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
    const char *rel_to = json_string_value(json_object_get(rel, "event_id"));
    if (rel_type && rel_to &&
        db_relations_put(c, event_id, room_id, rel_to, rel_type,
                         json_string_value(json_object_get(rel, "key")), a->sender) < 0)
        return -1;
    if (strcmp(a->type, "m.room.redaction") == 0 && room_apply_redaction(c, a->rv, pdu, event_id) < 0)
        return -1;
    if (room_push_actions(c, b, room_id, pdu, event_id) < 0)
        return -1;
    *group = sg;
    return 0;
}

/* Build, authorise and persist one event (steps 1-5 of the file header). On ROOM_OK sets
 * *event_id and *room_id_out (both malloc'd) and queues the event in `b`. */
enum room_rc room_append(struct dbc *c, const struct append_req *a, struct batch *b, int64_t *group,
                         char **event_id, char **room_id_out, char *why, size_t n)
{
    const struct room_version *rv = a->rv;
    bool is_create = strcmp(a->type, "m.room.create") == 0 && a->state_key && !*a->state_key;
    json_t *pdu = json_pack("{s:s,s:s,s:O,s:I}", "type", a->type, "sender", a->sender, "content",
                            a->content, "origin_server_ts",
                            (json_int_t)(is_create ? room_create_ts() : clock_now_ms()));
    json_t *prev = NULL, *auth_map = json_object(), *auth_ids = json_array();
    char *id = NULL, *rid = NULL;
    enum room_rc rc = ROOM_ERR;
    int64_t depth = 0;

    if (!pdu || !auth_map || !auth_ids)
        goto out;
    /* whatever the room version: floats in old rooms are for reading, not for new events
     * (rooms/v1 "Deprecated formatting": prevent users from sending them) */
    if (!cjson_strict(a->content)) {
        snprintf(why, n,
                 "Event content may only hold integers in [-(2^53-1), 2^53-1], no "
                 "floats (1.0 and 1e10 included)");
        rc = ROOM_BAD_JSON;
        goto out;
    }
    if (a->state_key)
        json_object_set_new(pdu, "state_key", json_string(a->state_key));
    if (a->room_id)
        json_object_set_new(pdu, "room_id", json_string(a->room_id));

    /* 1. prev_events and depth */
    json_t *ext = a->pre_ext ? json_incref(a->pre_ext)
                  : a->room_id && !is_create
                      ? db_rooms_extremities_depth(c, a->room_id, MAX_PREV_EVENTS)
                      : json_array();
    if (!ext)
        goto out;
    while (json_array_size(ext) > MAX_PREV_EVENTS)
        json_array_remove(ext, json_array_size(ext) - 1);
    prev = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ext, i, v)
    {
        json_array_append(prev, json_array_get(v, 0));
        if (json_integer_value(json_array_get(v, 1)) > depth)
            depth = json_integer_value(json_array_get(v, 1));
    }
    json_decref(ext);
    json_object_set_new(pdu, "depth", json_integer(depth + 1));

    /* 2. auth events from current state */
    if (!is_create &&
        (a->pre_auth ? pick_auth(a->pre_auth, a->room_id, rv, pdu, auth_map, auth_ids)
                     : room_select_auth(c, a->room_id, rv, pdu, auth_map, auth_ids)) < 0)
        goto out;
    json_object_set_new(pdu, "prev_events", refs(c, rv, prev));
    json_object_set_new(pdu, "auth_events", refs(c, rv, auth_ids));
    if (rv->event_ids == ROOMVER_EVID_V1) {
        char rnd[19], full[300];
        ids_random_alnum(rnd, 18);
        snprintf(full, sizeof full, "$%s:%s", rnd, eng.server_name);
        json_object_set_new(pdu, "event_id", json_string(full));
    }
    if (a->redacts && !rv->redacts_in_content)
        json_object_set_new(pdu, "redacts", json_string(a->redacts));

    /* 3. hash, sign, name */
    if (event_set_content_hash(pdu) < 0 || event_sign(pdu, rv, eng.server_name, &eng.key) < 0)
        goto out;
    id = event_compute_id(pdu, rv);
    if (!id)
        goto out;
    rid = a->room_id ? strdup(a->room_id) : event_room_id_from_create(pdu, rv);
    if (!rid)
        goto out;

    /* 4. format and authorization */
    if (event_check_format(pdu, rv, why, n) < 0) {
        size_t len = 0;
        char *text = cjson_encode(pdu, &len);
        free(text);
        rc = len > EVENT_MAX_BYTES ? ROOM_TOO_LARGE : ROOM_BAD_JSON;
        goto out;
    }
    json_t *checked = json_copy(pdu);
    json_object_set_new(checked, "event_id", json_string(id));
    if (!json_object_get(checked, "room_id") && !(is_create && rv->room_id_from_create))
        json_object_set_new(checked, "room_id", json_string(rid));
    struct own_ctx octx = {auth_map, rv, pdu};
    struct auth_ops ops = {own_state, own_signed, &octx};
    int allowed = auth_check(rv, checked, &ops, why, n);
    json_decref(checked);
    if (allowed < 0) {
        rc = ROOM_FORBIDDEN;
        goto out;
    }

    /* 5. persist (a create event brings its room's row: in v12 only its hash names it) */
    if (is_create) {
        int ins = db_rooms_insert(c, rid, rv->id, a->sender, clock_now_ms());
        if (ins != 0) {
            if (ins == 1)
                snprintf(why, n, "Room %s already exists (identical create event)", rid);
            goto out;
        }
    }
    int64_t stream = 0;
    if (persist(c, a, b, rid, pdu, id, prev, &stream, group) < 0)
        goto out;
    if (b->n < sizeof b->items / sizeof b->items[0]) {
        b->items[b->n].stream = stream;
        b->items[b->n].room_id = strdup(rid);
        b->items[b->n].pdu = json_incref(pdu);
        b->n++;
    }
    *event_id = id;
    *room_id_out = rid;
    id = rid = NULL;
    rc = ROOM_OK;
out:
    free(id);
    free(rid);
    json_decref(pdu);
    json_decref(prev);
    json_decref(auth_map);
    json_decref(auth_ids);
    return rc;
}

static int any_signed(void *ctx, const json_t *ev, const char *server_name)
{
    return 1; /* a template: the servers sign it later, and the receiver checks */
}

enum room_rc room_template(struct dbc *c, const char *room_id, const struct room_version *rv,
                           json_t *proto, char *why, size_t n)
{
    json_t *ext = db_rooms_extremities_depth(c, room_id, MAX_PREV_EVENTS), *prev = json_array();
    json_t *auth_map = json_object(), *auth_ids = json_array();
    enum room_rc rc = ROOM_ERR;
    int64_t depth = 0;
    size_t i;
    json_t *v;
    if (!ext || !prev || !auth_map || !auth_ids)
        goto out;
    json_array_foreach(ext, i, v)
    {
        if (i >= MAX_PREV_EVENTS)
            break;
        json_array_append(prev, json_array_get(v, 0));
        if (json_integer_value(json_array_get(v, 1)) > depth)
            depth = json_integer_value(json_array_get(v, 1));
    }
    if (!json_array_size(prev)) {
        snprintf(why, n, "Unknown room %s", room_id);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    json_object_set_new(proto, "room_id", json_string(room_id));
    json_object_set_new(proto, "depth", json_integer(depth + 1));
    if (room_select_auth(c, room_id, rv, proto, auth_map, auth_ids) < 0)
        goto out;
    json_object_set_new(proto, "prev_events", refs(c, rv, prev));
    json_object_set_new(proto, "auth_events", refs(c, rv, auth_ids));
    json_t *checked = json_copy(proto);
    json_object_set_new(checked, "event_id", json_string("$template"));
    struct auth_ops ops = {room_map_state, any_signed, auth_map};
    int allowed = auth_check(rv, checked, &ops, why, n);
    json_decref(checked);
    rc = allowed < 0 ? ROOM_FORBIDDEN : ROOM_OK;
out:
    json_decref(ext);
    json_decref(prev);
    json_decref(auth_map);
    json_decref(auth_ids);
    return rc;
}

