/* roomadmin.c - room operations beyond sending: upgrades (Client-Server API "Room
 * Upgrades"), the public room directory and a room's visibility in it, and reports of rooms
 * and events ("Reporting content").
 *
 * An upgrade follows the spec's server behaviour: check the user may send m.room.tombstone;
 * create the new room (predecessor in its create event) with the old room's important state
 * and power levels; move local aliases; send the tombstone; restrict the old room so that
 * only moderators can speak or invite. Each step is an ordinary engine call, so the usual
 * authorization applies to all of them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/roomver.h"
#include "server/token.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define PUBLIC_ROOMS_MAX 500

/* State copied into the replacement room (besides power levels, handled on their own). */
static const char *const upgrade_state[] = {
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
    "m.room.canonical_alias",
};

/* Content of the current (type, "") state of a room (new reference) or NULL. */
static json_t *current_content(struct dbc *c, const char *room_id, const char *type)
{
    char *ev = NULL;
    json_t *out = NULL;
    if (db_current_state_get(c, room_id, type, "", &ev) == 0 && ev) {
        struct db_event e;
        if (db_events_get(c, ev, &e) == 1) {
            out = json_incref(json_object_get(e.pdu, "content"));
            db_event_clear(&e);
        }
    }
    free(ev);
    return out;
}

enum room_rc room_upgrade(const char *room_id, const char *user_id, const char *new_version,
                          char **replacement, char *why, size_t n)
{
    const struct room_version *nv = roomver_get(new_version);
    json_t *req = NULL, *pl = NULL;
    char *new_room = NULL, *eid = NULL;
    enum room_rc rc = ROOM_ERR;

    *replacement = NULL;
    if (!nv) {
        snprintf(why, n, "Room version '%s' is not supported", new_version);
        return ROOM_BAD_VERSION;
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
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
    req = json_pack("{s:s,s:{s:{s:s}},s:[]}", "room_version", new_version, "creation_content",
                    "predecessor", "room_id", room_id, "initial_state");
    json_t *init = json_object_get(req, "initial_state");
    for (size_t i = 0; i < sizeof upgrade_state / sizeof upgrade_state[0]; i++) {
        json_t *content = current_content(c, room_id, upgrade_state[i]);
        if (content)
            json_array_append_new(init, json_pack("{s:s,s:s,s:o}", "type", upgrade_state[i],
                                                  "state_key", "", "content", content));
    }
    pl = current_content(c, room_id, "m.room.power_levels");
    db_put(c);
    c = NULL;
    if (pl) {
        json_t *over = json_deep_copy(pl);
        json_t *users = json_object_get(over, "users");
        if (nv->creators_infinite_power)
            json_object_del(users, user_id); /* creators are implicit from v12 */
        json_object_set_new(req, "power_level_content_override", over);
    }
    rc = room_create(user_id, req, &new_room, why, n);
    if (rc != ROOM_OK)
        goto out;

    /* aliases follow the room; so does its place in the directory */
    rc = ROOM_ERR;
    if (!(c = db_get()))
        goto out;
    struct db_room old;
    if (db_rooms_get(c, room_id, false, &old) != 1)
        goto out;
    bool was_public = old.is_public;
    db_room_clear(&old);
    if (db_aliases_move(c, room_id, new_room) < 0 ||
        (was_public && (db_rooms_set_public(c, room_id, false) < 0 ||
                        db_rooms_set_public(c, new_room, true) < 0)))
        goto out;
    db_put(c);
    c = NULL;

    json_t *tomb =
        json_pack("{s:s,s:s}", "body", "This room has been replaced", "replacement_room", new_room);
    rc = room_send(room_id, user_id, "m.room.tombstone", "", tomb, NULL, &eid, why, n);
    json_decref(tomb);
    free(eid);
    eid = NULL;
    if (rc != ROOM_OK)
        goto out;
    if (pl) { /* only moderators may still speak or invite in the old room */
        json_t *restricted = json_deep_copy(pl);
        json_int_t ud = json_integer_value(json_object_get(restricted, "users_default"));
        json_int_t need = ud + 1 > 50 ? ud + 1 : 50;
        json_object_set_new(restricted, "events_default", json_integer(need));
        json_object_set_new(restricted, "invite", json_integer(need));
        rc = room_send(room_id, user_id, "m.room.power_levels", "", restricted, NULL, &eid, why, n);
        json_decref(restricted);
        free(eid);
        if (rc != ROOM_OK)
            goto out;
    }
    *replacement = new_room;
    new_room = NULL;
    rc = ROOM_OK;
out:
    db_put(c);
    free(new_room);
    json_decref(req);
    json_decref(pl);
    return rc;
}

enum room_rc room_visibility(const char *room_id, bool *is_public)
{
    struct db_room r;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int found = db_rooms_get(c, room_id, false, &r);
    db_put(c);
    if (found <= 0)
        return found == 0 ? ROOM_NOT_FOUND : ROOM_ERR;
    *is_public = r.is_public;
    db_room_clear(&r);
    return ROOM_OK;
}

enum room_rc room_set_visibility(const char *room_id, const char *user_id, bool is_admin,
                                 bool is_public, char *why, size_t n)
{
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int may = is_admin ? 1 : room_may_send(c, room_id, user_id, "m.room.canonical_alias", true);
    enum room_rc rc = ROOM_ERR;
    if (may < 0) {
        snprintf(why, n, "Unknown room %s", room_id);
        rc = ROOM_NOT_FOUND;
    } else if (may == 0) {
        snprintf(why, n, "You may not change this room's directory visibility");
        rc = ROOM_FORBIDDEN;
    } else if (db_rooms_set_public(c, room_id, is_public) == 0) {
        rc = ROOM_OK;
    }
    db_put(c);
    return rc;
}

enum room_rc room_public_rooms(const char *search, const char *since, int limit, json_t **out,
                               char *why, size_t n)
{
    int64_t o = 0;
    if (since && (token_parse(since, "o#", &o, 1) < 0 || o > INT_MAX)) {
        snprintf(why, n, "Invalid 'since' token");
        return ROOM_BAD_PARAM;
    }
    int offset = (int)o;
    if (limit <= 0 || limit > PUBLIC_ROOMS_MAX)
        limit = limit <= 0 ? 100 : PUBLIC_ROOMS_MAX;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    long total = 0;
    json_t *rows = db_rooms_public(c, search && *search ? search : NULL, offset, limit, &total);
    db_put(c);
    if (!rows)
        return ROOM_ERR;
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        const char *hv = json_string_value(json_object_get(v, "history_visibility"));
        const char *ga = json_string_value(json_object_get(v, "guest_access"));
        json_object_set_new(v, "world_readable", json_boolean(hv && !strcmp(hv, "world_readable")));
        json_object_set_new(v, "guest_can_join", json_boolean(ga && !strcmp(ga, "can_join")));
        json_object_del(v, "history_visibility");
        json_object_del(v, "guest_access");
        json_object_del(v, "room_version");
        json_object_del(v, "encryption");
    }
    *out = json_pack("{s:o,s:I}", "chunk", rows, "total_room_count_estimate", (json_int_t)total);
    char tok[32];
    if (offset + (long)json_array_size(rows) < total) {
        snprintf(tok, sizeof tok, "o%ld", offset + (long)json_array_size(rows));
        json_object_set_new(*out, "next_batch", json_string(tok));
    }
    if (offset > 0) {
        snprintf(tok, sizeof tok, "o%d", offset > limit ? offset - limit : 0);
        json_object_set_new(*out, "prev_batch", json_string(tok));
    }
    return ROOM_OK;
}

enum room_rc room_report(const char *room_id, const char *user_id, const char *event_id,
                         const char *reason, int score, bool has_score, char *why, size_t n)
{
    enum room_rc rc;
    if (event_id) { /* the reporter must be able to see the event */
        json_t *ev = NULL;
        rc = room_event(room_id, user_id, event_id, &ev, why, n);
        json_decref(ev);
        if (rc != ROOM_OK)
            return rc == ROOM_FORBIDDEN ? ROOM_NOT_FOUND : rc;
    } else {
        bool pub;
        rc = room_visibility(room_id, &pub);
        if (rc != ROOM_OK) {
            snprintf(why, n, "Unknown room %s", room_id);
            return rc;
        }
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int r = db_reports_put(c, room_id, event_id, user_id, reason, score, has_score, clock_now_ms());
    db_put(c);
    return r < 0 ? ROOM_ERR : ROOM_OK;
}
