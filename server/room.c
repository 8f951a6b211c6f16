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
 * append in one transaction. */
#include "server/room.h"
#include "server/room_internal.h"
#include "server/privacy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/adminrooms.h"
#include "server/metrics.h"
#include "server/auth.h"
#include "server/b64.h"
#include "server/cjson.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/roomver.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_PREV_EVENTS 10
#define MAX_AUTH_KEYS 8

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
static size_t superset_keys(const json_t *proto, struct auth_key *keys)
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
static enum room_rc check_redaction(struct dbc *c, const struct append_req *a, char *why, size_t n)
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

/* --- sending ----------------------------------------------------------------------------- */

char *room_version_of(const char *room_id)
{
    struct db_room r;
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    int found = db_rooms_get(c, room_id, false, &r);
    db_put(c);
    if (found != 1)
        return NULL;
    char *v = r.room_version;
    r.room_version = NULL;
    db_room_clear(&r);
    return v;
}

/* --- sending, with group commit -----------------------------------------------------------
 *
 * Sends to one room are queued per room in this process. Whoever finds no writer for the
 * room becomes it: it takes up to SEND_BATCH queued sends and appends them in one
 * transaction (one room lock, one commit), in queue order, then hands the results back.
 * Under load this turns N commits into one; alone, a send is a batch of one. A writer stops
 * after a few batches once its own send is done, and a waiting sender takes over, so no
 * request waits on others indefinitely. If a batch meets a database error it is rolled back
 * and each of its sends is retried in a transaction of its own. The room row lock still
 * serialises writers of different processes (storage/rooms.c). */

#define SEND_BATCH 64
#define WRITER_EXTRA_ROUNDS 3
#define QUEUE_BUCKETS 256

struct send_item {
    const char *room_id, *sender, *type, *state_key, *top_redacts;
    json_t *content;
    const struct room_txn *txn;
    enum room_rc rc;
    char *event_id;
    char why[512];
    bool done;
    struct send_item *next;
};

struct room_queue {
    char *room_id;
    struct send_item *head, *tail;
    bool writing;
    struct room_queue *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct room_queue *q_table[QUEUE_BUCKETS];

static size_t q_bucket(const char *room_id)
{
    size_t h = 5381;
    for (const char *p = room_id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % QUEUE_BUCKETS;
}

/* What a batch knows of its room between appends: read once under the lock, then carried
 * forward in memory (each append makes itself the only extremity and, for state events,
 * part of the auth state). */
struct batch_view {
    struct db_append_view v;
    const struct room_version *rv;
    json_t *txns; /* "user\x1fdevice\x1ftxn" -> event ID, stored or made in this batch */
};

static void txn_key(char *buf, size_t n, const struct send_item *it)
{
    snprintf(buf, n, "%s\x1f%s\x1f%s", it->sender, it->txn->device_id ? it->txn->device_id : "",
             it->txn->txn_id);
}

/* Lock the room and read what every send in `items` needs, in two queries. */
static int batch_view_load(struct dbc *c, struct send_item *items, size_t count,
                           struct batch_view *bv)
{
    json_t *seen = json_object();
    const char *types[SEND_BATCH * MAX_AUTH_KEYS], *skeys[SEND_BATCH * MAX_AUTH_KEYS];
    const char *users[SEND_BATCH], *devices[SEND_BATCH], *txns[SEND_BATCH];
    json_t *protos = json_array();
    size_t nk = 0, nt = 0, i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++) {
        struct auth_key keys[MAX_AUTH_KEYS];
        json_t *proto = json_pack("{s:s,s:s,s:O}", "type", it->type, "sender", it->sender,
                                  "content", it->content);
        if (it->state_key)
            json_object_set_new(proto, "state_key", json_string(it->state_key));
        json_array_append_new(protos, proto); /* keeps the key strings alive */
        size_t k = superset_keys(proto, keys);
        for (size_t j = 0; j < k; j++) {
            char *sk = statemap_key(keys[j].type, keys[j].state_key);
            if (sk && !json_object_get(seen, sk)) {
                json_object_set_new(seen, sk, json_true());
                types[nk] = keys[j].type;
                skeys[nk] = keys[j].state_key;
                nk++;
            }
            free(sk);
        }
        if (it->txn && it->txn->txn_id) {
            users[nt] = it->sender;
            devices[nt] = it->txn->device_id ? it->txn->device_id : "";
            txns[nt] = it->txn->txn_id;
            nt++;
        }
    }
    /* a batch of one checks its transaction ID in the view's own read */
    const struct room_txn *one = count == 1 ? items->txn : NULL;
    bool messages = false; /* only message events use the members read here (room_push.c) */
    i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++)
        messages = messages || !it->state_key;
    int found = db_rooms_append_view(c, items->room_id, items->sender,
                                     one ? one->device_id : NULL, one ? one->txn_id : NULL, types,
                                     skeys, nk, messages, &bv->v);
    json_decref(seen);
    json_decref(protos);
    if (found <= 0)
        return found;
    bv->rv = roomver_get(bv->v.room_version);
    if (count > 1 && nt) {
        bv->txns = db_txn_lookup_many(c, users, devices, txns, nt);
    } else {
        bv->txns = json_object();
        if (one && one->txn_id && bv->v.prior_event_id) {
            char key[1024];
            txn_key(key, sizeof key, items);
            json_object_set_new(bv->txns, key, json_string(bv->v.prior_event_id));
        }
    }
    return bv->rv && bv->txns ? 1 : -1;
}

static void batch_view_clear(struct batch_view *bv)
{
    db_append_view_clear(&bv->v);
    json_decref(bv->txns);
    memset(bv, 0, sizeof *bv);
}

/* One send inside the batch's transaction, from the batch view. */
static enum room_rc send_in_txn(struct dbc *c, struct send_item *it, struct batch_view *bv,
                                struct batch *b)
{
    enum room_rc rc = ROOM_ERR;
    char *rid = NULL, key[1024];
    size_t n = sizeof it->why;
    char *why = it->why;
    const struct room_version *rv = bv->rv;

    it->event_id = NULL;
    snprintf(why, n, "Internal error");
    if (it->txn && it->txn->txn_id) { /* the same transaction again: the same answer */
        txn_key(key, sizeof key, it);
        const char *prior = json_string_value(json_object_get(bv->txns, key));
        if (prior) {
            it->event_id = strdup(prior);
            return it->event_id ? ROOM_OK : ROOM_ERR;
        }
    }
    const char *redacts = NULL;
    if (strcmp(it->type, "m.room.redaction") == 0) {
        /* the target travels in content from v11, at the top level before (room_redact) */
        redacts = rv->redacts_in_content
                      ? json_string_value(json_object_get(it->content, "redacts"))
                      : it->top_redacts;
        /* a pre-v11 redaction sent through /send with the newer shape (content.redacts) is
         * a redaction of that event, as Synapse treats it: never one that names a target
         * in content only, which clients reading content would believe */
        if (!redacts)
            redacts = json_string_value(json_object_get(it->content, "redacts"));
    }
    struct append_req a = {it->room_id,   bv->v.state_group, rv,       it->sender,
                           it->type,      it->state_key,     it->content, it->txn,
                           redacts,       bv->v.extremities, bv->v.auth};
    if (redacts && room_deferred_flush(c, b) < 0) /* the target may wait in this batch */
        return ROOM_ERR;
    if (redacts && (rc = check_redaction(c, &a, why, n)) != ROOM_OK)
        return rc;
    int64_t group = bv->v.state_group;
    rc = room_append(c, &a, b, &group, &it->event_id, &rid, why, n);
    free(rid);
    if (rc != ROOM_OK)
        return rc;
    /* carry the room forward: the new event is the only extremity now */
    const json_t *pdu = b->n ? b->items[b->n - 1].pdu : NULL;
    json_int_t depth = json_integer_value(json_object_get(pdu, "depth"));
    json_array_clear(bv->v.extremities);
    json_array_append_new(bv->v.extremities, json_pack("[s,I]", it->event_id, depth));
    bv->v.state_group = group;
    if (it->state_key && pdu) {
        json_t *copy = json_copy((json_t *)pdu);
        json_object_set_new(copy, "event_id", json_string(it->event_id));
        char *k = statemap_key(it->type, it->state_key);
        if (k)
            json_object_set_new(bv->v.auth, k, copy);
        else
            json_decref(copy);
        free(k);
    }
    if (it->txn && it->txn->txn_id)
        json_object_set_new(bv->txns, key, json_string(it->event_id));
    return ROOM_OK;
}

/* Append `items` (a list of count sends to one room) in one transaction; on a database
 * error, one transaction each. Fills every item's rc / event_id / why. */
static void send_batch(struct send_item *items, size_t count)
{
    struct batch b = {.n = 0};
    struct batch_view bv = {0};
    struct dbc *c = db_get();
    b.ticket = notify_begin();
    bool failed = !c || db_begin(c) < 0;
    if (!failed) {
        int found = batch_view_load(c, items, count, &bv);
        if (found == 0) { /* unknown room: every send gets the same answer */
            size_t i = 0;
            for (struct send_item *it = items; it && i < count; it = it->next, i++) {
                it->rc = ROOM_NOT_FOUND;
                snprintf(it->why, sizeof it->why, "Unknown room %s", it->room_id);
            }
            db_rollback(c);
            db_put(c);
            room_batch_announce(&b, false);
            return;
        }
        failed = found < 0;
    }
    size_t done = 0;
    if (!failed) /* the push targets of the batch's message events, from the same read */
        room_push_seed(&b, items->room_id, bv.v.members, bv.v.auth);
    for (struct send_item *it = items; it && done < count && !failed; it = it->next, done++) {
        it->rc = send_in_txn(c, it, &bv, &b);
        failed = it->rc == ROOM_ERR;
    }
    batch_view_clear(&bv);
    if (!failed && room_push_commit(c, &b) == 0) {
        db_put(c);
        room_batch_announce(&b, true);
        return;
    }
    if (c)
        db_rollback(c);
    db_put(c);
    room_batch_announce(&b, false);
    size_t i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++) {
        free(it->event_id);
        it->event_id = NULL;
        if (count == 1) { /* nothing to retry separately */
            it->rc = ROOM_ERR;
            continue;
        }
        struct send_item *next = it->next;
        it->next = NULL;
        send_batch(it, 1);
        it->next = next;
    }
}

static enum room_rc send_event(const char *room_id, const char *sender, const char *type,
                               const char *state_key, json_t *content, const char *top_redacts,
                               const struct room_txn *txn, char **event_id, char *why, size_t n)
{
    struct send_item it = {.room_id = room_id,
                           .sender = sender,
                           .type = type,
                           .state_key = state_key,
                           .top_redacts = top_redacts,
                           .content = content,
                           .txn = txn,
                           .rc = ROOM_ERR};
    size_t bucket = q_bucket(room_id);
    struct room_queue *rq;

    pthread_mutex_lock(&q_lock);
    for (rq = q_table[bucket]; rq && strcmp(rq->room_id, room_id) != 0; rq = rq->next)
        ;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        char *copy = strdup(room_id);
        if (!rq || !copy) {
            pthread_mutex_unlock(&q_lock);
            free(rq);
            free(copy);
            snprintf(why, n, "Internal error");
            return ROOM_ERR;
        }
        rq->room_id = copy;
        rq->next = q_table[bucket];
        q_table[bucket] = rq;
    }
    if (rq->tail)
        rq->tail->next = &it;
    else
        rq->head = &it;
    rq->tail = &it;

    while (!it.done) {
        if (rq->writing) {
            pthread_cond_wait(&q_cond, &q_lock);
            continue;
        }
        /* become the room's writer */
        rq->writing = true;
        int extra = 0;
        while (rq->head && (!it.done || extra++ < WRITER_EXTRA_ROUNDS)) {
            struct send_item *first = rq->head, *last = first;
            size_t count = 1;
            while (last->next && count < SEND_BATCH) {
                last = last->next;
                count++;
            }
            rq->head = last->next;
            if (!rq->head)
                rq->tail = NULL;
            last->next = NULL;
            pthread_mutex_unlock(&q_lock);
            send_batch(first, count);
            pthread_mutex_lock(&q_lock);
            for (struct send_item *x = first, *next; x; x = next) {
                next = x->next;
                x->done = true; /* after this, x (on its sender's stack) is not touched */
            }
            pthread_cond_broadcast(&q_cond);
        }
        rq->writing = false;
        if (!rq->head) { /* idle: forget the room's queue */
            struct room_queue **pp = &q_table[bucket];
            while (*pp != rq)
                pp = &(*pp)->next;
            *pp = rq->next;
            free(rq->room_id);
            free(rq);
            rq = NULL;
        }
        pthread_cond_broadcast(&q_cond);
        break;
    }
    pthread_mutex_unlock(&q_lock);
    *event_id = it.event_id;
    if (it.rc != ROOM_OK)
        snprintf(why, n, "%s", it.why);
    return it.rc;
}

enum room_rc room_send(const char *room_id, const char *sender, const char *type,
                       const char *state_key, json_t *content, const struct room_txn *txn,
                       char **event_id, char *why, size_t n)
{
    if (state_key && !*state_key && strcmp(type, "m.room.canonical_alias") == 0) {
        struct dbc *c = db_get();
        if (!c)
            return ROOM_ERR;
        enum room_rc rc = room_check_canonical_alias(c, room_id, content, why, n);
        db_put(c);
        if (rc != ROOM_OK)
            return rc;
    }
    return send_event(room_id, sender, type, state_key, content, NULL, txn, event_id, why, n);
}

enum room_rc room_redact(const char *room_id, const char *sender, const char *target,
                         const char *reason, const struct room_txn *txn, char **event_id, char *why,
                         size_t n)
{
    char *version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    free(version);
    if (!rv) {
        snprintf(why, n, "Unknown room %s", room_id);
        return ROOM_NOT_FOUND;
    }
    json_t *content = json_object();
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    if (rv->redacts_in_content)
        json_object_set_new(content, "redacts", json_string(target));
    enum room_rc rc = send_event(room_id, sender, "m.room.redaction", NULL, content,
                                 rv->redacts_in_content ? NULL : target, txn, event_id, why, n);
    json_decref(content);
    return rc;
}

/* For a join to a restricted room (v8+ "restricted", v10+ "knock_restricted") by a user who
 * is neither invited nor joined: if the user is joined to one of the rooms the join rules
 * allow, a local joined member with the invite level that may vouch for the join (spec
 * "Restricted rooms"; auth rule 5.3.5). Returns a malloc'd user ID or NULL. */
char *room_restricted_authoriser(const char *room_id, const char *user_id)
{
    struct dbc *c = db_get();
    struct db_room r = {0};
    char *jr_ev = NULL, *mine = NULL, *out = NULL;
    json_t *rows = NULL;
    if (!c)
        return NULL;
    if (db_rooms_get(c, room_id, false, &r) != 1)
        goto done;
    const struct room_version *rv = roomver_get(r.room_version);
    if (!rv || !rv->restricted ||
        db_current_state_get(c, room_id, "m.room.join_rules", "", &jr_ev) < 0 || !jr_ev)
        goto done;
    json_t *jr = room_load_pdu(c, jr_ev);
    json_t *jc = json_object_get(jr, "content");
    const char *rule = json_string_value(json_object_get(jc, "join_rule"));
    bool restricted = rule && (strcmp(rule, "restricted") == 0 ||
                               (rv->knock_restricted && strcmp(rule, "knock_restricted") == 0));
    bool allowed = false;
    if (restricted && db_current_membership(c, room_id, user_id, &mine, NULL) == 0 &&
        !(mine && (strcmp(mine, "invite") == 0 || strcmp(mine, "join") == 0))) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(jc, "allow"), i, v)
        {
            const char *t = json_string_value(json_object_get(v, "type"));
            const char *other = json_string_value(json_object_get(v, "room_id"));
            char *m = NULL;
            if (t && other && strcmp(t, "m.room_membership") == 0 &&
                db_current_membership(c, other, user_id, &m, NULL) == 0 && m &&
                strcmp(m, "join") == 0)
                allowed = true;
            free(m);
        }
    }
    json_decref(jr);
    if (!allowed)
        goto done;
    rows = db_current_members(c, room_id, "join", NULL);
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        const char *cand =
            json_string_value(json_object_get(json_object_get(v, "pdu"), "state_key"));
        if (!ids_is_local(cand))
            continue;
        json_t *map = json_object(), *ids = json_array();
        json_t *proto = json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "m.room.member", "sender", cand,
                                  "state_key", user_id, "content", "membership", "invite");
        bool ok = false;
        if (room_select_auth(c, room_id, rv, proto, map, ids) == 0) {
            struct auth_ops ops = {room_map_state, NULL, map};
            const json_t *pl = room_map_state(map, "m.room.power_levels", "");
            json_t *inv = json_object_get(json_object_get(pl, "content"), "invite");
            ok = auth_user_power(rv, &ops, cand) >=
                 (json_is_integer(inv) ? json_integer_value(inv) : 0);
        }
        json_decref(proto);
        json_decref(map);
        json_decref(ids);
        if (ok) {
            out = strdup(cand);
            break;
        }
    }
done:
    json_decref(rows);
    free(jr_ev);
    free(mine);
    db_room_clear(&r);
    db_put(c);
    return out;
}

enum room_rc room_membership(const char *room_id, const char *sender, const char *target,
                             const char *membership, const char *reason, json_t *extra,
                             char **event_id, char *why, size_t n)
{
    /* a room blocked by an admin (server/roompurge.c): no local user joins, knocks or is
     * invited there */
    if ((strcmp(membership, "join") == 0 || strcmp(membership, "knock") == 0 ||
         strcmp(membership, "invite") == 0) &&
        adminrooms_blocked(room_id)) {
        snprintf(why, n, "This room has been blocked on this server");
        return ROOM_FORBIDDEN;
    }
    json_t *content = extra ? json_copy(extra) : json_object();
    if (strcmp(membership, "join") == 0 && strcmp(sender, target) == 0) {
        char *via = room_restricted_authoriser(room_id, target);
        if (via)
            json_object_set_new(content, "join_authorised_via_users_server", json_string(via));
        free(via);
    }
    json_object_set_new(content, "membership", json_string(membership));
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    if (strcmp(membership, "join") == 0 || strcmp(membership, "invite") == 0) {
        json_t *profile = NULL;
        if (account_profile(target, &profile) == ACCOUNT_OK) {
            json_t *dn = json_object_get(profile, "displayname");
            json_t *av = json_object_get(profile, "avatar_url");
            if (dn)
                json_object_set(content, "displayname", dn);
            if (av)
                json_object_set(content, "avatar_url", av);
            json_decref(profile);
        }
    }
    enum room_rc rc =
        room_send(room_id, sender, "m.room.member", target, content, NULL, event_id, why, n);
    json_decref(content);
    return rc;
}

/* room_rc -> HTTP status and errcode, for both APIs (columns: rc, status, errcode) */
static const struct {
    enum room_rc rc;
    int status;
    const char *errcode;
} rc_errors[] = {
    {ROOM_NOT_FOUND, 404, "M_NOT_FOUND"},
    {ROOM_FORBIDDEN, 403, "M_FORBIDDEN"},
    {ROOM_BAD_JSON, 400, "M_BAD_JSON"},
    {ROOM_TOO_LARGE, 413, "M_TOO_LARGE"},
    {ROOM_BAD_VERSION, 400, "M_UNSUPPORTED_ROOM_VERSION"},
    {ROOM_IN_USE, 400, "M_ROOM_IN_USE"},
    {ROOM_INVALID_STATE, 400, "M_INVALID_ROOM_STATE"},
    {ROOM_NOT_LOCAL, 403, "M_FORBIDDEN"},
    {ROOM_BAD_ALIAS, 400, "M_BAD_ALIAS"},
    {ROOM_BAD_PARAM, 400, "M_INVALID_PARAM"},
    {ROOM_INCOMPATIBLE, 400, "M_INCOMPATIBLE_ROOM_VERSION"},
    {ROOM_UNAUTHORISABLE, 400, "M_UNABLE_TO_AUTHORISE_JOIN"},
    {ROOM_CANNOT_GRANT, 400, "M_UNABLE_TO_GRANT_JOIN"},
};

int room_rc_http(int rc, const char **errcode)
{
    for (size_t i = 0; i < sizeof rc_errors / sizeof rc_errors[0]; i++) {
        if ((int)rc_errors[i].rc == rc) {
            *errcode = rc_errors[i].errcode;
            return rc_errors[i].status;
        }
    }
    *errcode = NULL;
    return 0;
}

/* --- client format ----------------------------------------------------------------------- */

/* A redaction names its target at the top level (room versions 1-10) or in content (11 and
 * later); clients of either generation look in one place only, so a client event carries it
 * in both (the v11 page's SHOULD, and content.redacts for the older versions). `ev` holds
 * pdu's content by reference: it is copied before it is changed. */
static void redacts_both_places(json_t *ev, const json_t *pdu)
{
    const char *type = json_string_value(json_object_get(pdu, "type"));
    if (!type || strcmp(type, "m.room.redaction") != 0 ||
        !json_is_object(json_object_get(pdu, "content")))
        return;
    /* the top level decides before v11 and never appears in later versions' events made
     * here; content.redacts of a pre-v11 redaction equals it (see send_in_txn) */
    json_t *top = json_object_get(pdu, "redacts");
    json_t *in_content = json_object_get(json_object_get(pdu, "content"), "redacts");
    json_t *target = json_is_string(top) ? top : json_is_string(in_content) ? in_content : NULL;
    if (!target)
        return;
    json_object_set(ev, "redacts", target);
    if (!json_equal(in_content, target)) {
        json_t *content = json_copy(json_object_get(pdu, "content"));
        json_object_set(content, "redacts", target);
        json_object_set_new(ev, "content", content);
    }
}

json_t *room_client_event(const json_t *pdu, const char *event_id, const char *room_id,
                          const char *redacted_by, int64_t now_ms)
{
    /* ClientEvent fields, in the spec's order */
    static const char *const keys[] = {"content", "origin_server_ts", "sender", "state_key",
                                       "type"};
    json_t *ev = json_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(pdu, keys[i]);
        if (v)
            json_object_set(ev, keys[i], v);
    }
    if (!json_object_get(ev, "content"))
        json_object_set_new(ev, "content", json_object());
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "room_id", json_string(room_id));
    redacts_both_places(ev, pdu);
    json_t *u = json_object();
    json_int_t ts = json_integer_value(json_object_get(pdu, "origin_server_ts"));
    json_object_set_new(u, "age", json_integer(now_ms > ts ? now_ms - ts : 0));
    if (redacted_by)
        json_object_set_new(
            u, "redacted_because",
            json_pack("{s:s,s:s}", "event_id", redacted_by, "type", "m.room.redaction"));
    json_object_set_new(ev, "unsigned", u);
    return ev;
}

int room_may_send(struct dbc *c, const char *room_id, const char *user_id, const char *type,
                  bool is_state)
{
    struct db_room r;
    if (db_rooms_get(c, room_id, false, &r) != 1)
        return -1;
    const struct room_version *rv = roomver_get(r.room_version);
    db_room_clear(&r);
    if (!rv)
        return -1;
    json_t *auth_map = json_object(), *ids = json_array();
    json_t *proto = json_pack("{s:s,s:s,s:s}", "type", type, "sender", user_id, "room_id", room_id);
    int rc = -1;
    if (room_select_auth(c, room_id, rv, proto, auth_map, ids) == 0) {
        struct auth_ops ops = {room_map_state, NULL, auth_map};
        const json_t *m = room_map_state(auth_map, "m.room.member", user_id);
        const char *membership =
            json_string_value(json_object_get(json_object_get(m, "content"), "membership"));
        rc = membership && strcmp(membership, "join") == 0 &&
             auth_user_power(rv, &ops, user_id) >= auth_event_power(rv, &ops, type, is_state);
    }
    json_decref(proto);
    json_decref(auth_map);
    json_decref(ids);
    return rc;
}
