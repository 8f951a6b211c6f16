/* room_create.c - POST /createRoom (Client-Server API "Creation"): the request checked, then
 * the spec's initial events in its order (create, the creator's join, power levels with the
 * preset's defaults and power_level_content_override, canonical alias, the preset's join
 * rules, history visibility and guest access, initial_state, name, topic, invites), all
 * appended by the engine in one transaction: a room is created whole or not at all.
 * Invariants:
 *   1. one event per state key from the start: an initial_state entry replaces the preset's
 *      (or the alias's) event for its key instead of following it;
 *   2. create events get a strictly increasing origin_server_ts (room_create_ts): in v12 the
 *      create event's hash is the room ID, so one user's identical concurrent requests must
 *      still produce different events;
 *   3. v12+: the creators (sender, additional_creators, trusted_private_chat's invitees) are
 *      never in the power levels' users, and m.room.tombstone needs more than state_default. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/roomver.h"
#include "storage/rooms.h"

int64_t room_create_ts(void)
{
    static _Atomic int64_t last;
    int64_t now = clock_now_ms(), prev = atomic_load(&last), want;
    do
        want = now > prev ? now : prev + 1;
    while (!atomic_compare_exchange_weak(&last, &prev, want));
    return want;
}

/* Preset rows: name, join_rule, history_visibility, guest_access, invitees get PL 100. */
static const struct preset {
    const char *name, *join_rule, *history, *guest_access;
    bool trusted;
} presets[] = {
    {"private_chat", "invite", "shared", "can_join", false},
    {"trusted_private_chat", "invite", "shared", "can_join", true},
    {"public_chat", "public", "shared", "forbidden", false},
};

static const struct preset *find_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

/* The default m.room.power_levels content (Client-Server API "Creation"), before
 * power_level_content_override is laid over it. From v12 the creators (sender and
 * additional_creators) have infinite power and may not be listed, trusted invitees are
 * additional creators instead of PL 100, and m.room.tombstone needs more than state_default. */
static json_t *default_power_levels(const struct room_version *rv, const char *creator,
                                    const struct preset *p, json_t *invites)
{
    json_t *users = json_object();
    if (!rv->creators_infinite_power) {
        json_object_set_new(users, creator, json_integer(100));
        if (p->trusted) {
            size_t i;
            json_t *v;
            json_array_foreach(invites, i, v)
                json_object_set_new(users, json_string_value(v), json_integer(100));
        }
    }
    return json_pack("{s:o,s:i,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:i,s:i,s:i,s:i,s:i,s:i,"
                     "s:{s:i}}",
                     "users", users, "users_default", 0, "events", "m.room.name", 50,
                     "m.room.power_levels", 100, "m.room.history_visibility", 100,
                     "m.room.canonical_alias", 50, "m.room.avatar", 50, "m.room.tombstone",
                     rv->creators_infinite_power ? 150 : 100, "m.room.server_acl", 100,
                     "m.room.encryption", 100, "events_default", 0, "state_default", 50, "ban",
                     50, "kick", 50, "redact", 50, "invite",
                     strcmp(p->name, "public_chat") == 0 ? 50 : 0, "notifications", "room", 50);
}

/* v12+: creation_content.additional_creators checked (user IDs, at most MAX_INVITES), and for
 * trusted_private_chat the invitees added (spec createRoom: "the server SHOULD combine
 * additional_creators specified here and the invite array", deduplicated). Edits `create`. */
static enum room_rc set_additional_creators(json_t *create, const struct room_version *rv,
                                            const struct preset *p, json_t *invites,
                                            char *why, size_t n)
{
    json_t *given = json_object_get(create, "additional_creators");
    if (!rv->creators_infinite_power)
        return ROOM_OK; /* the field means nothing before v12: left as the client gave it */
    if (given && !json_is_array(given)) {
        snprintf(why, n, "additional_creators must be a list of user IDs");
        return ROOM_BAD_JSON;
    }
    json_t *out = json_array(), *seen = json_object();
    json_t *lists[] = {given, p->trusted ? invites : NULL};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(lists[k], i, v)
        {
            const char *lp, *srv, *u = json_string_value(v);
            size_t ll, sl;
            if (!u || ids_user_id_split(u, &lp, &ll, &srv, &sl) < 0) {
                snprintf(why, n, "additional_creators must be a list of user IDs");
                json_decref(out);
                json_decref(seen);
                return ROOM_BAD_JSON;
            }
            if (!json_object_get(seen, u)) {
                json_object_set_new(seen, u, json_true());
                json_array_append(out, v);
            }
        }
    }
    json_decref(seen);
    if (json_array_size(out) > MAX_INVITES) {
        snprintf(why, n, "At most %d additional_creators", MAX_INVITES);
        json_decref(out);
        return ROOM_BAD_JSON;
    }
    if (json_array_size(out))
        json_object_set_new(create, "additional_creators", out);
    else
        json_decref(out);
    return ROOM_OK;
}

/* Does initial_state set (type, "")? Then the preset's or the alias's event for it is left
 * out (spec: initial_state "takes precedence over events set by preset"), so that the room
 * has one event per state key from the start. */
static bool initial_sets(json_t *req, const char *type)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(req, "initial_state"), i, v)
    {
        const char *sk = json_string_value(json_object_get(v, "state_key"));
        if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0 && (!sk || !*sk))
            return true;
    }
    return false;
}

/* Validate createRoom's body; answers through why. */
static enum room_rc check_create(json_t *req, char *why, size_t n)
{
    /* field, JSON type it must have */
    static const struct {
        const char *key;
        json_type type;
    } fields[] = {
        {"visibility", JSON_STRING},
        {"room_alias_name", JSON_STRING},
        {"name", JSON_STRING},
        {"topic", JSON_STRING},
        {"invite", JSON_ARRAY},
        {"invite_3pid", JSON_ARRAY},
        {"room_version", JSON_STRING},
        {"creation_content", JSON_OBJECT},
        {"initial_state", JSON_ARRAY},
        {"preset", JSON_STRING},
        {"power_level_content_override", JSON_OBJECT},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(req, fields[i].key);
        if (v && !json_is_null(v) && json_typeof(v) != fields[i].type) {
            snprintf(why, n, "'%s' has the wrong type", fields[i].key);
            return ROOM_BAD_JSON;
        }
    }
    json_t *d = json_object_get(req, "is_direct");
    if (d && !json_is_boolean(d)) {
        snprintf(why, n, "'is_direct' must be a boolean");
        return ROOM_BAD_JSON;
    }
    const char *vis = json_string_value(json_object_get(req, "visibility"));
    if (vis && strcmp(vis, "public") != 0 && strcmp(vis, "private") != 0) {
        snprintf(why, n, "'visibility' must be 'public' or 'private'");
        return ROOM_BAD_JSON;
    }
    const char *preset = json_string_value(json_object_get(req, "preset"));
    if (preset && !find_preset(preset)) {
        snprintf(why, n, "Unknown preset '%s'", preset);
        return ROOM_BAD_JSON;
    }
    json_t *inv = json_object_get(req, "invite");
    if (json_array_size(inv) > MAX_INVITES) {
        snprintf(why, n, "At most %d invites", MAX_INVITES);
        return ROOM_BAD_JSON;
    }
    size_t i;
    json_t *v;
    json_array_foreach(inv, i, v)
    {
        const char *lp, *srv;
        size_t ll, sl;
        if (!json_is_string(v) ||
            ids_user_id_split(json_string_value(v), &lp, &ll, &srv, &sl) < 0) {
            snprintf(why, n, "'invite' must list user IDs");
            return ROOM_BAD_JSON;
        }
    }
    if (json_array_size(json_object_get(req, "invite_3pid"))) {
        snprintf(why, n, "Third-party invites by e-mail are not supported");
        return ROOM_BAD_JSON;
    }
    json_t *st = json_object_get(req, "initial_state");
    if (json_array_size(st) > MAX_INITIAL_EVENTS) {
        snprintf(why, n, "At most %d initial_state events", MAX_INITIAL_EVENTS);
        return ROOM_INVALID_STATE;
    }
    json_array_foreach(st, i, v)
    {
        json_t *sk = json_object_get(v, "state_key");
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")) ||
            !json_is_object(json_object_get(v, "content")) || (sk && !json_is_string(sk))) {
            snprintf(why, n,
                     "initial_state[%zu] needs a type, a content object and an optional "
                     "string state_key",
                     i);
            return ROOM_INVALID_STATE;
        }
        const char *t = json_string_value(json_object_get(v, "type"));
        if (strcmp(t, "m.room.create") == 0 || strcmp(t, "m.room.member") == 0) {
            snprintf(why, n, "initial_state may not contain %s", t);
            return ROOM_INVALID_STATE;
        }
    }
    return ROOM_OK;
}

enum room_rc room_create(const char *creator, json_t *req, char **room_id_out, char *why, size_t n)
{
    enum room_rc rc = room_create_banned(creator, req, NULL, room_id_out, why, n);
    if (rc != ROOM_OK)
        return rc;
    /* users of other servers are invited once the room exists, each through its server
     * (PUT /invite v2); one that fails leaves the room and the other invites as they are */
    json_t *extra = json_is_true(json_object_get(req, "is_direct"))
                        ? json_pack("{s:b}", "is_direct", 1)
                        : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(req, "invite"), i, v)
    {
        const char *target = json_string_value(v);
        char *id = NULL, w[256];
        struct room_remote_err err;
        if (ids_is_local(target))
            continue;
        if (room_invite_remote(*room_id_out, creator, target, NULL, extra, &id, &err, w,
                               sizeof w) != ROOM_OK)
            log_info("createRoom %s: invite of %s failed: %s", *room_id_out, target, w);
        free(id);
    }
    json_decref(extra);
    return ROOM_OK;
}

enum room_rc room_create_banned(const char *creator, json_t *req, json_t *bans, char **room_id_out,
                                char *why, size_t n)
{
    struct batch b = {.n = 0};
    enum room_rc rc;
    char *room_id = NULL, *alias = NULL;
    json_t *plc = NULL;
    bool committed = false;
    int64_t group = 0;

    *room_id_out = NULL;
    if ((rc = check_create(req, why, n)) != ROOM_OK)
        return rc;
    const char *version = json_string_value(json_object_get(req, "room_version"));
    const struct room_version *rv = roomver_get(version ? version : eng.default_version);
    if (!rv) {
        snprintf(why, n, "Room version '%s' is not supported", version);
        return ROOM_BAD_VERSION;
    }
    const char *vis = json_string_value(json_object_get(req, "visibility"));
    bool public_dir = vis && strcmp(vis, "public") == 0;
    const char *pname = json_string_value(json_object_get(req, "preset"));
    const struct preset *preset = find_preset(pname        ? pname
                                              : public_dir ? "public_chat"
                                                           : "private_chat");
    json_t *invites = json_object_get(req, "invite");
    bool is_direct = json_is_true(json_object_get(req, "is_direct"));
    const char *alias_name = json_string_value(json_object_get(req, "room_alias_name"));
    if (alias_name) {
        size_t an = strlen(alias_name) + strlen(eng.server_name) + 3;
        alias = malloc(an);
        snprintf(alias, an, "#%s:%s", alias_name, eng.server_name);
        if (!*alias_name || strchr(alias_name, ':') || strlen(alias) > 255) {
            snprintf(why, n, "Invalid room_alias_name");
            free(alias);
            return ROOM_BAD_JSON;
        }
    }

    snprintf(why, n, "Internal error");
    rc = ROOM_ERR;
    struct dbc *c = db_get();
    if (!c) {
        free(alias);
        return ROOM_ERR;
    }
    b.ticket = notify_begin();
    if (db_begin(c) < 0)
        goto out;
    if (!rv->room_id_from_create) {
        char rnd[19];
        size_t rl = strlen(eng.server_name) + 22;
        ids_random_alnum(rnd, 18);
        room_id = malloc(rl);
        snprintf(room_id, rl, "!%s:%s", rnd, eng.server_name);
    }

    /* the spec's order of initial events */
    json_t *create = json_object_get(req, "creation_content");
    create = create ? json_deep_copy(create) : json_object();
    json_object_set_new(create, "room_version", json_string(rv->id));
    if ((rc = set_additional_creators(create, rv, preset, invites, why, n)) != ROOM_OK) {
        json_decref(create);
        goto out;
    }
    if (!rv->implicit_room_creator)
        json_object_set_new(create, "creator", json_string(creator));
    else
        json_object_del(create, "creator");
    struct append_req a = {.room_id = room_id,
                           .rv = rv,
                           .sender = creator,
                           .type = "m.room.create",
                           .state_key = "",
                           .content = create};
    char *eid = NULL, *rid = NULL;
    rc = room_append(c, &a, &b, &group, &eid, &rid, why, n);
    json_decref(create);
    free(eid);
    if (rc != ROOM_OK)
        goto out;
    if (!room_id)
        room_id = rid; /* v12: the create event's hash names the room */
    else
        free(rid);
    rc = ROOM_ERR;
    if (alias) { /* before the events, so that the canonical alias event finds it */
        int ar = db_aliases_put(c, alias, room_id, creator, clock_now_ms());
        if (ar != 0) {
            if (ar == 1) {
                snprintf(why, n, "Room alias %s is already in use", alias);
                rc = ROOM_IN_USE;
            } else {
                snprintf(why, n, "Cannot store the room alias");
            }
            goto out;
        }
    }

    /* remaining events, each (type, state_key, content) */
    json_t *profile = NULL;
    json_t *join = json_pack("{s:s}", "membership", "join");
    if (account_profile(creator, &profile) == ACCOUNT_OK) {
        json_t *dn = json_object_get(profile, "displayname"),
               *av = json_object_get(profile, "avatar_url");
        if (dn)
            json_object_set(join, "displayname", dn);
        if (av)
            json_object_set(join, "avatar_url", av);
    }
    json_decref(profile);
    plc = default_power_levels(rv, creator, preset, invites);
    json_t *over = json_object_get(req, "power_level_content_override");
    if (over)
        json_object_update(plc, over);

    json_t *steps = json_array();
    json_array_append_new(steps, json_pack("[s,s,o]", "m.room.member", creator, join));
    json_array_append_new(steps, json_pack("[s,s,O]", "m.room.power_levels", "", plc));
    /* type, content key, value: the alias's and the preset's events */
    const char *const preset_events[][3] = {
        {"m.room.canonical_alias", "alias", alias},
        {"m.room.join_rules", "join_rule", preset->join_rule},
        {"m.room.history_visibility", "history_visibility", preset->history},
        {"m.room.guest_access", "guest_access", preset->guest_access},
    };
    for (size_t k = 0; k < sizeof preset_events / sizeof preset_events[0]; k++)
        if (preset_events[k][2] && !initial_sets(req, preset_events[k][0]))
            json_array_append_new(steps, json_pack("[s,s,{s:s}]", preset_events[k][0], "",
                                                   preset_events[k][1], preset_events[k][2]));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(req, "initial_state"), i, v)
    {
        json_t *sk = json_object_get(v, "state_key");
        json_array_append_new(steps, json_pack("[O,s,O]", json_object_get(v, "type"),
                                               sk ? json_string_value(sk) : "",
                                               json_object_get(v, "content")));
    }
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *topic = json_string_value(json_object_get(req, "topic"));
    if (name)
        json_array_append_new(steps, json_pack("[s,s,{s:s}]", "m.room.name", "", "name", name));
    if (topic)
        json_array_append_new(steps, json_pack("[s,s,{s:s}]", "m.room.topic", "", "topic", topic));
    json_array_foreach(bans, i, v) /* room upgrades: the old room's bans */
        json_array_append_new(steps, json_pack("[s,O,{s:s}]", "m.room.member", v, "membership",
                                               "ban"));
    json_array_foreach(invites, i, v)
    {
        if (!ids_is_local(json_string_value(v)))
            continue; /* after the room exists: room_create */
        json_t *inv = json_pack("{s:s}", "membership", "invite");
        if (is_direct)
            json_object_set_new(inv, "is_direct", json_true());
        json_t *ip = NULL;
        if (account_profile(json_string_value(v), &ip) == ACCOUNT_OK) {
            json_t *dn = json_object_get(ip, "displayname");
            if (dn)
                json_object_set(inv, "displayname", dn);
            json_decref(ip);
        }
        json_array_append_new(steps, json_pack("[s,O,o]", "m.room.member", v, inv));
    }

    json_array_foreach(steps, i, v)
    {
        struct append_req s = {room_id,
                               group,
                               rv,
                               creator,
                               json_string_value(json_array_get(v, 0)),
                               json_string_value(json_array_get(v, 1)),
                               json_array_get(v, 2),
                               NULL,
                               NULL,
                               NULL,
                               NULL};
        char *e2 = NULL, *r2 = NULL;
        if (strcmp(s.type, "m.room.canonical_alias") == 0 && !*s.state_key &&
            (rc = room_check_canonical_alias(c, room_id, s.content, why, n)) != ROOM_OK)
            break;
        rc = room_append(c, &s, &b, &group, &e2, &r2, why, n);
        free(e2);
        free(r2);
        if (rc != ROOM_OK) {
            if (rc == ROOM_FORBIDDEN || rc == ROOM_BAD_JSON) {
                rc = ROOM_INVALID_STATE;
                size_t used = strlen(why);
                snprintf(why + used, n - used, " (in %s)", s.type);
            }
            break;
        }
    }
    json_decref(steps);
    if (rc != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    if (public_dir && db_rooms_set_public(c, room_id, true) < 0)
        goto out;
    if (room_push_commit(c, &b) < 0)
        goto out;
    committed = true;
    rc = ROOM_OK;
    *room_id_out = room_id;
    room_id = NULL;
out:
    if (!committed)
        db_rollback(c);
    db_put(c);
    room_batch_announce(&b, committed);
    json_decref(plc);
    free(room_id);
    free(alias);
    return rc;
}
