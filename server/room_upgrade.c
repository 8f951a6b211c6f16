/* room_upgrade.c - POST /rooms/{roomId}/upgrade (Client-Server API "Room Upgrades", server
 * behaviour), in the spec's steps:
 *   1. the user must be allowed to send m.room.tombstone in the old room;
 *   2. the replacement room's m.room.create carries predecessor {room_id, event_id: the last
 *      event of the old room}, the new room_version, the old room's `type` and `m.federate`,
 *      and (v12+) the request's additional_creators, never the old ones;
 *   3. the transferable state is replicated (server ACL, encryption, name, avatar, topic,
 *      guest access, history visibility, join rules, power levels) together with the old
 *      room's bans, in the room's creating transaction (each state key is written once; bans
 *      beyond what one transaction's batch announces follow it one by one);
 *   4. local aliases move, and the canonical alias follows them; the directory entry too;
 *   5. the tombstone is sent to the old room;
 *   6. the old room's power levels then keep ordinary members from speaking or inviting.
 * Power levels across the v12 boundary (MSC4289): into v12+ the new creators leave `users`
 * and m.room.tombstone needs more than state_default; out of v12 the old room's creators,
 * whose power was implicit, get the highest level the power levels use (at least 100), and
 * the upgrading user at least what writing the copied state and the bans needs. Levels are
 * carried as integers (room versions 1-9 allowed numeric strings, which v10+ rejects). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/roomver.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define BANS_AT_CREATION 150  /* bans in the creating transaction (its batch holds ~216) */
#define MAX_CARRIED_BANS 5000 /* all bans carried, the rest one transaction each */

/* State copied into the replacement room (power levels and the canonical alias are handled
 * on their own). */
static const char *const upgrade_state[] = {
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
};

/* Keys of m.room.create's content the new room inherits (spec step 2; m.federate because a
 * room that stays on one server must not be opened by its upgrade). */
static const char *const inherited_create[] = {"type", "m.federate"};

/* The current (type, "") state event of a room (new reference, with event_id) or NULL. */
static json_t *current_event(struct dbc *c, const char *room_id, const char *type)
{
    char *ev = NULL;
    json_t *out = NULL;
    if (db_current_state_get(c, room_id, type, "", &ev) == 0 && ev)
        out = room_load_pdu(c, ev);
    free(ev);
    return out;
}

static json_t *current_content(struct dbc *c, const char *room_id, const char *type)
{
    json_t *ev = current_event(c, room_id, type);
    json_t *out = json_incref(json_object_get(ev, "content"));
    json_decref(ev);
    return out;
}

static json_int_t level_or(const json_t *o, const char *key, json_int_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static json_int_t max_i(json_int_t a, json_int_t b)
{
    return a > b ? a : b;
}

/* The highest level a power levels content names anywhere, at least 100. */
static json_int_t top_level(const json_t *pl)
{
    static const char *const keys[] = {"users_default", "events_default", "state_default", "ban",
                                       "kick",          "redact",         "invite"};
    json_int_t top = 100;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        top = max_i(top, level_or(pl, keys[i], 0));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(pl, "users"), k, v)
    {
        top = max_i(top, json_is_integer(v) ? json_integer_value(v) : 0);
    }
    json_object_foreach(json_object_get(pl, "events"), k, v)
    {
        top = max_i(top, json_is_integer(v) ? json_integer_value(v) : 0);
    }
    return top;
}

/* A level as an integer: before v10 levels could be numeric strings ("50"), which v10+
 * rejects, and before v6 floats (50.57 counts as 50), which v6+ rejects. NULL (drop it) when
 * it is none of these. New reference. */
static json_t *as_level(const json_t *v)
{
    if (json_is_integer(v))
        return json_incref((json_t *)v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d < 9007199254740992.0 && d > -9007199254740992.0 ? json_integer((json_int_t)d)
                                                                  : NULL;
    }
    const char *s = json_string_value(v);
    char *end;
    long long x = s && *s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || x > 9007199254740991LL || x < -9007199254740991LL)
        return NULL;
    return json_integer(x);
}

/* Every level in a power levels content (top-level keys, users, events, notifications) as an
 * integer; keys that hold none are dropped (room versions 1-9 accepted strings). */
static void integer_levels(json_t *pl)
{
    static const char *const keys[] = {"users_default", "events_default", "state_default", "ban",
                                       "kick",          "redact",         "invite"};
    static const char *const maps[] = {"users", "events", "notifications"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(pl, keys[i]), *lv = v ? as_level(v) : NULL;
        if (lv)
            json_object_set_new(pl, keys[i], lv);
        else
            json_object_del(pl, keys[i]);
    }
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        json_t *m = json_object_get(pl, maps[i]);
        const char *k;
        void *tmp;
        json_t *v;
        json_object_foreach_safe(m, tmp, k, v)
        {
            json_t *lv = as_level(v);
            if (lv)
                json_object_set_new(m, k, lv);
            else
                json_object_del(m, k);
        }
    }
}

/* The power levels of the new room from the old room's (a copy is edited; returns a new
 * reference): see the file header. old_creators: the old room's creators when they had
 * implicit power (else NULL); new_creators: the new room's when it gives them that. */
static json_t *carried_power_levels(const json_t *old_pl, const struct room_version *nv,
                                    const char *user_id, json_t *old_creators, json_t *new_creators)
{
    json_t *pl = json_deep_copy(old_pl);
    integer_levels(pl);
    json_t *users = json_object_get(pl, "users");
    if (!json_is_object(users)) {
        users = json_object();
        json_object_set_new(pl, "users", users);
    }
    json_t *events = json_object_get(pl, "events");
    if (!json_is_object(events)) {
        events = json_object();
        json_object_set_new(pl, "events", events);
    }
    json_int_t state_default = level_or(pl, "state_default", 50);
    size_t i;
    json_t *v;
    if (nv->creators_infinite_power) {
        json_array_foreach(new_creators, i, v)
        {
            json_object_del(users, json_string_value(v));
        }
        if (level_or(events, "m.room.tombstone", state_default) <= state_default)
            json_object_set_new(events, "m.room.tombstone",
                                json_integer(max_i(150, state_default + 1)));
        return pl;
    }
    json_int_t top = top_level(pl);
    json_array_foreach(old_creators, i, v)
    {
        json_object_set_new(users, json_string_value(v), json_integer(top));
    }
    json_int_t need = max_i(state_default, level_or(pl, "ban", 50));
    for (size_t k = 0; k < sizeof upgrade_state / sizeof upgrade_state[0]; k++)
        need = max_i(need, level_or(events, upgrade_state[k], state_default));
    json_int_t mine = level_or(users, user_id, level_or(pl, "users_default", 0));
    if (mine < need)
        json_object_set_new(users, user_id, json_integer(need));
    return pl;
}

/* The user IDs banned from a room (new array) or NULL. */
static json_t *banned_users(struct dbc *c, const char *room_id)
{
    json_t *rows = db_current_members(c, room_id, "ban", NULL);
    if (!rows)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        json_t *sk = json_object_get(json_object_get(v, "pdu"), "state_key");
        if (json_is_string(sk))
            json_array_append(out, sk);
    }
    json_decref(rows);
    return out;
}

/* `content` of an m.room.canonical_alias with only the aliases that (now) point to room_id;
 * new reference, NULL when none is left. */
static json_t *aliases_of(struct dbc *c, const json_t *content, const char *room_id)
{
    json_t *out = json_object(), *alt = json_array();
    const json_t *a = json_object_get(content, "alias");
    char *target = NULL;
    if (json_is_string(a) && db_aliases_get(c, json_string_value(a), &target, NULL) == 1 &&
        strcmp(target, room_id) == 0)
        json_object_set(out, "alias", (json_t *)a);
    free(target);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(content, "alt_aliases"), i, v)
    {
        target = NULL;
        if (json_is_string(v) && db_aliases_get(c, json_string_value(v), &target, NULL) == 1 &&
            strcmp(target, room_id) == 0)
            json_array_append(alt, v);
        free(target);
    }
    if (json_array_size(alt))
        json_object_set(out, "alt_aliases", alt);
    json_decref(alt);
    if (!json_object_size(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Steps 4-6 after the new room exists: aliases and directory entry, the canonical alias in
 * both rooms (best effort: a failure is logged, the upgrade stands), tombstone, old room's
 * power levels. */
static enum room_rc leave_old_room(const char *room_id, const char *new_room, const char *user_id,
                                   const json_t *old_pl, const json_t *old_alias, char *why,
                                   size_t n)
{
    enum room_rc rc = ROOM_ERR;
    char *eid = NULL;
    json_t *moved = NULL, *left = NULL;
    struct db_room old;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    if (db_rooms_get(c, room_id, false, &old) != 1) {
        db_put(c);
        return ROOM_ERR;
    }
    bool was_public = old.is_public;
    db_room_clear(&old);
    if (db_aliases_move(c, room_id, new_room) < 0 ||
        (was_public && (db_rooms_set_public(c, room_id, false) < 0 ||
                        db_rooms_set_public(c, new_room, true) < 0))) {
        db_put(c);
        return ROOM_ERR;
    }
    if (old_alias) {
        moved = aliases_of(c, old_alias, new_room);
        left = aliases_of(c, old_alias, room_id);
    }
    db_put(c);

    if (moved) {
        if (room_send(new_room, user_id, "m.room.canonical_alias", "", moved, NULL, &eid, why, n) !=
            ROOM_OK)
            log_warn("upgrade of %s: canonical alias not carried: %s", room_id, why);
        free(eid);
        eid = NULL;
        json_t *rest = left ? json_incref(left) : json_object();
        if (room_send(room_id, user_id, "m.room.canonical_alias", "", rest, NULL, &eid, why, n) !=
            ROOM_OK)
            log_warn("upgrade of %s: old canonical alias not cleared: %s", room_id, why);
        json_decref(rest);
        free(eid);
        eid = NULL;
    }

    json_t *tomb =
        json_pack("{s:s,s:s}", "body", "This room has been replaced", "replacement_room", new_room);
    rc = room_send(room_id, user_id, "m.room.tombstone", "", tomb, NULL, &eid, why, n);
    json_decref(tomb);
    free(eid);
    eid = NULL;
    if (rc == ROOM_OK && old_pl) { /* only moderators may still speak or invite */
        json_t *restricted = json_deep_copy(old_pl);
        integer_levels(restricted); /* a new event: no floats, even in an old room */
        json_int_t need = max_i(level_or(restricted, "users_default", 0) + 1, 50);
        json_object_set_new(restricted, "events_default", json_integer(need));
        json_object_set_new(restricted, "invite", json_integer(need));
        rc = room_send(room_id, user_id, "m.room.power_levels", "", restricted, NULL, &eid, why, n);
        json_decref(restricted);
        free(eid);
    }
    json_decref(moved);
    json_decref(left);
    return rc;
}

enum room_rc room_upgrade(const char *room_id, const char *user_id, const char *new_version,
                          json_t *additional_creators, char **replacement, char *why, size_t n)
{
    const struct room_version *nv = roomver_get(new_version);
    json_t *req = NULL, *old_pl = NULL, *create = NULL, *bans = NULL, *old_alias = NULL;
    json_t *old_creators = NULL, *new_creators = NULL, *ext = NULL;
    char *new_room = NULL;
    enum room_rc rc = ROOM_ERR;

    *replacement = NULL;
    if (!nv) {
        snprintf(why, n, "Room version '%s' is not supported", new_version);
        return ROOM_BAD_VERSION;
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    /* 1. */
    int may = room_may_send(c, room_id, user_id, "m.room.tombstone", true);
    if (may <= 0) {
        db_put(c);
        if (may == 0) {
            snprintf(why, n, "You may not upgrade this room");
            return ROOM_FORBIDDEN;
        }
        snprintf(why, n, "Unknown room %s", room_id);
        return ROOM_NOT_FOUND;
    }
    /* 2. */
    snprintf(why, n, "Cannot read the old room's state");
    create = current_event(c, room_id, "m.room.create");
    bans = banned_users(c, room_id);
    ext = db_rooms_extremities_depth(c, room_id, 1);
    if (!create || !bans || !ext) {
        db_put(c);
        goto out;
    }
    if (json_array_size(bans) > MAX_CARRIED_BANS) {
        log_warn("upgrade of %s: %zu bans, only the first %d carried", room_id,
                 json_array_size(bans), MAX_CARRIED_BANS);
        while (json_array_size(bans) > MAX_CARRIED_BANS)
            json_array_remove(bans, json_array_size(bans) - 1);
    }
    const json_t *old_content = json_object_get(create, "content");
    old_creators = room_creators(c, room_id); /* NULL: none with implicit power */
    req = json_pack("{s:s,s:{s:{s:s}},s:[]}", "room_version", new_version, "creation_content",
                    "predecessor", "room_id", room_id, "initial_state");
    json_t *cc = json_object_get(req, "creation_content");
    const char *last = json_string_value(json_array_get(json_array_get(ext, 0), 0));
    if (last)
        json_object_set_new(json_object_get(cc, "predecessor"), "event_id", json_string(last));
    for (size_t i = 0; i < sizeof inherited_create / sizeof inherited_create[0]; i++) {
        json_t *v = json_object_get(old_content, inherited_create[i]);
        if (v)
            json_object_set(cc, inherited_create[i], v);
    }
    new_creators = json_pack("[s]", user_id);
    if (nv->creators_infinite_power && json_array_size(additional_creators)) {
        json_object_set(cc, "additional_creators", additional_creators);
        json_array_extend(new_creators, additional_creators);
    }
    /* 3. */
    json_t *init = json_object_get(req, "initial_state");
    for (size_t i = 0; i < sizeof upgrade_state / sizeof upgrade_state[0]; i++) {
        json_t *content = current_content(c, room_id, upgrade_state[i]);
        if (content)
            json_array_append_new(init, json_pack("{s:s,s:s,s:o}", "type", upgrade_state[i],
                                                  "state_key", "", "content", content));
    }
    old_pl = current_content(c, room_id, "m.room.power_levels");
    old_alias = current_content(c, room_id, "m.room.canonical_alias");
    db_put(c);
    c = NULL;
    if (old_pl)
        json_object_set_new(req, "power_level_content_override",
                            carried_power_levels(old_pl, nv, user_id, old_creators, new_creators));
    json_t *first = json_array();
    for (size_t i = 0; i < json_array_size(bans) && i < BANS_AT_CREATION; i++)
        json_array_append(first, json_array_get(bans, i));
    rc = room_create_banned(user_id, req, first, &new_room, why, n);
    json_decref(first);
    if (rc != ROOM_OK)
        goto out;
    for (size_t i = BANS_AT_CREATION; i < json_array_size(bans); i++) {
        char *eid = NULL;
        const char *u = json_string_value(json_array_get(bans, i));
        if (room_membership(new_room, user_id, u, "ban", NULL, NULL, &eid, why, n) != ROOM_OK)
            log_warn("upgrade of %s: ban of %s not carried: %s", room_id, u, why);
        free(eid);
    }
    /* 4.-6. */
    rc = leave_old_room(room_id, new_room, user_id, old_pl, old_alias, why, n);
    if (rc != ROOM_OK)
        goto out;
    *replacement = new_room;
    new_room = NULL;
out:
    free(new_room);
    json_decref(req);
    json_decref(old_pl);
    json_decref(create);
    json_decref(bans);
    json_decref(ext);
    json_decref(old_alias);
    json_decref(old_creators);
    json_decref(new_creators);
    return rc;
}
