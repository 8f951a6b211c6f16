/* room_member.c - membership through the room engine: room_membership builds a member event
 * (profile, reason, the vouching member of a restricted join; no local join, knock or invite
 * into a room an admin blocked) and sends it through room_send; room_restricted_authoriser
 * finds the local member who may vouch for a restricted join (spec "Restricted rooms"); and
 * room_may_send answers whether a joined user's power level reaches an event type. All three
 * read the room's current state; none holds the room lock. */
#include "server/room.h"
#include "server/room_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/adminrooms.h"
#include "server/auth.h"
#include "server/ids.h"
#include "server/roomver.h"
#include "storage/rooms.h"
#include "storage/state.h"

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
