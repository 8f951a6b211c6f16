/* roomadmin.c - room operations beyond sending: the public room directory and a room's
 * visibility in it, reports of rooms and events ("Reporting content"), and the checks the
 * engine makes before writing for a local client: a kick needs a kickee in the room, an
 * m.room.canonical_alias aliases that point to the room. (Upgrades: server/room_upgrade.c.) */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/ids.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/roomver.h"
#include "server/token.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define PUBLIC_ROOMS_MAX 500
#define MAX_ALT_ALIASES 100

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

/* --- membership and aliases the engine checks before writing ------------------------------- */

enum room_rc room_kick(const char *room_id, const char *sender, const char *target,
                       const char *reason, char **event_id, char *why, size_t n)
{
    /* memberships a kick may end (spec POST /kick: "The kickee is not currently in the room") */
    static const char *const in_room[] = {"join", "invite", "knock"};
    char *m = NULL;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int r = db_current_membership(c, room_id, target, &m, NULL);
    db_put(c);
    if (r < 0)
        return ROOM_ERR;
    bool present = false;
    for (size_t i = 0; m && i < sizeof in_room / sizeof in_room[0]; i++)
        present = present || strcmp(m, in_room[i]) == 0;
    free(m);
    if (!present) {
        snprintf(why, n, "%s is not in the room", target);
        return ROOM_FORBIDDEN;
    }
    return room_membership(room_id, sender, target, "leave", reason, NULL, event_id, why, n);
}

/* One alias of an m.room.canonical_alias: syntax, then where it points. */
static enum room_rc check_one_alias(struct dbc *c, const char *room_id, const json_t *v,
                                    char *why, size_t n)
{
    const char *alias = json_string_value(v);
    const char *colon = alias ? strchr(alias, ':') : NULL;
    if (!alias || alias[0] != '#' || !colon || colon == alias + 1 || strlen(alias) > 255 ||
        !ids_server_name_valid(colon + 1, strlen(colon + 1))) {
        snprintf(why, n, "Aliases must be room aliases (#name:server)");
        return ROOM_BAD_PARAM;
    }
    char *target = NULL;
    int r = ids_is_local(alias) ? db_aliases_get(c, alias, &target, NULL) : 0;
    bool ok = r == 1 && target && strcmp(target, room_id) == 0;
    free(target);
    if (r < 0)
        return ROOM_ERR;
    if (!ok) {
        snprintf(why, n, "The alias '%s' does not point to this room", alias);
        return ROOM_BAD_ALIAS;
    }
    return ROOM_OK;
}

enum room_rc room_check_canonical_alias(struct dbc *c, const char *room_id, const json_t *content,
                                        char *why, size_t n)
{
    const json_t *alias = json_object_get(content, "alias");
    const json_t *alt = json_object_get(content, "alt_aliases");
    enum room_rc rc;
    if (alias && !json_is_null(alias) && (rc = check_one_alias(c, room_id, alias, why, n)))
        return rc;
    if (alt && !json_is_array(alt)) {
        snprintf(why, n, "alt_aliases must be a list of room aliases");
        return ROOM_BAD_PARAM;
    }
    if (json_array_size(alt) > MAX_ALT_ALIASES) {
        snprintf(why, n, "At most %d alt_aliases", MAX_ALT_ALIASES);
        return ROOM_BAD_PARAM;
    }
    size_t i;
    json_t *v;
    json_array_foreach(alt, i, v)
    {
        if ((rc = check_one_alias(c, room_id, v, why, n)))
            return rc;
    }
    return ROOM_OK;
}
