/* spaces.c - the space hierarchy (Client-Server API "Spaces",
 * GET /_matrix/client/v1/rooms/{roomId}/hierarchy): a breadth-first walk from a space through
 * its m.space.child events (those with a non-empty `via`), listing every room the user may
 * see: rooms they are in or invited to, public, knockable or world-readable rooms, and
 * restricted rooms whose allow list names a room they are in. Rooms on other servers need
 * federation and are left out for now. Children are ordered as the spec says: by their
 * `order` string, then by the time the child event was sent, then by room ID.
 *
 * The walk is bounded (MAX_ROOMS rooms, max_depth levels); pagination is an offset into the
 * walk's order, valid for the same parameters.
 *
 * The federation form (Server-Server API "Spaces", GET /_matrix/federation/v1/hierarchy) is
 * judged per server, not per user (as Synapse does): a room is shown to a server when it is
 * public, knockable or world-readable, when the server has a joined user in it, or when it is
 * restricted and the server has a joined user in a room of its allow list (allowed_room_ids
 * are given so the server filters for its users). One level only, no pagination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/room.h"
#include "server/token.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_ROOMS 1000
#define MAX_ORDER 50 /* the spec ignores `order` strings longer than this */

/* Whether a valid `order` (printable ASCII, at most 50 characters) is present. */
static const char *order_of(const json_t *child)
{
    const char *o = json_string_value(json_object_get(json_object_get(child, "content"), "order"));
    if (!o || strlen(o) > MAX_ORDER)
        return NULL;
    for (const char *s = o; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return NULL;
    return o;
}

static int child_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *ox = order_of(x), *oy = order_of(y);
    if (ox && oy && strcmp(ox, oy) != 0)
        return strcmp(ox, oy);
    if (!ox != !oy)
        return ox ? -1 : 1; /* children with an order come first */
    json_int_t tx = json_integer_value(json_object_get(x, "origin_server_ts"));
    json_int_t ty = json_integer_value(json_object_get(y, "origin_server_ts"));
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "state_key")),
                  json_string_value(json_object_get(y, "state_key")));
}

/* The summary's world_readable and guest_can_join in place of the raw state values. */
static void summary_flags(json_t *sum)
{
    const char *hv = json_string_value(json_object_get(sum, "history_visibility"));
    const char *ga = json_string_value(json_object_get(sum, "guest_access"));
    json_object_set_new(sum, "world_readable", json_boolean(hv && !strcmp(hv, "world_readable")));
    json_object_set_new(sum, "guest_can_join", json_boolean(ga && !strcmp(ga, "can_join")));
    json_object_del(sum, "history_visibility");
    json_object_del(sum, "guest_access");
}

/* A restricted room the user may see through its allow list. */
static bool allowed_by_membership(struct dbc *c, const char *room_id, const char *user_id)
{
    json_t *jr = db_join_rules_content(c, room_id);
    const char *rule = json_string_value(json_object_get(jr, "join_rule"));
    bool ok = false;
    if (rule && (strcmp(rule, "restricted") == 0 || strcmp(rule, "knock_restricted") == 0)) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(jr, "allow"), i, a)
        {
            const char *type = json_string_value(json_object_get(a, "type"));
            const char *via = json_string_value(json_object_get(a, "room_id"));
            char *m = NULL;
            if (!ok && type && via && strcmp(type, "m.room_membership") == 0 &&
                db_current_membership(c, via, user_id, &m, NULL) == 0 && m &&
                strcmp(m, "join") == 0)
                ok = true;
            free(m);
        }
    }
    json_decref(jr);
    return ok;
}

/* The room's chunk for this user, or NULL when they may not see it (*forbidden) or it is
 * unknown here. */
static json_t *chunk_of(const char *room_id, const char *user_id, bool *forbidden)
{
    char why[256];
    json_t *sum = NULL;
    *forbidden = false;
    enum room_rc rc = room_summary(room_id, user_id, &sum, why, sizeof why);
    struct dbc *c = rc == ROOM_FORBIDDEN ? db_get() : NULL; /* not held across room_summary */
    if (c && allowed_by_membership(c, room_id, user_id)) {
        /* room_summary refused only for want of membership: read it as a member would */
        sum = db_rooms_summary(c, room_id);
        if (sum) {
            summary_flags(sum);
            rc = ROOM_OK;
        }
    }
    db_put(c);
    if (rc != ROOM_OK) {
        *forbidden = rc == ROOM_FORBIDDEN;
        return NULL;
    }
    json_object_del(sum, "membership");
    return sum;
}

/* The m.space.child events of room_id (suggested ones only if asked), in the spec's order:
 * a new array, NULL on error. */
static json_t *children_of(const char *room_id, bool suggested_only)
{
    struct dbc *c = db_get();
    json_t *children = c ? db_space_children(c, room_id) : NULL;
    db_put(c);
    if (!children)
        return NULL;
    json_t *kept = json_array();
    size_t i;
    json_t *ch;
    json_array_foreach(children, i, ch)
    {
        if (!suggested_only ||
            json_is_true(json_object_get(json_object_get(ch, "content"), "suggested")))
            json_array_append(kept, ch);
    }
    json_decref(children);
    size_t k = json_array_size(kept);
    json_t **sorted = k ? calloc(k, sizeof *sorted) : NULL;
    for (i = 0; i < k && sorted; i++)
        sorted[i] = json_array_get(kept, i);
    if (sorted)
        qsort(sorted, k, sizeof *sorted, child_cmp);
    json_t *ordered = json_array();
    for (i = 0; i < k && sorted; i++)
        json_array_append(ordered, sorted[i]);
    free(sorted);
    json_decref(kept);
    return ordered;
}

/* Whether `server` has a joined user in room_id. */
static bool server_in(const char *room_id, const char *server)
{
    json_t *all = room_servers(room_id);
    bool in = false;
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), server) == 0)
            in = true;
    }
    json_decref(all);
    return in;
}

/* The room's chunk as `server` may see it, with its children_state; NULL when the room is
 * unknown here (*known false) or the server has no way to peek or join it. */
static json_t *chunk_for_server(const char *room_id, const char *server, bool suggested_only,
                                bool *known)
{
    struct dbc *c = db_get();
    json_t *sum = c ? db_rooms_summary(c, room_id) : NULL;
    json_t *jr = sum ? db_join_rules_content(c, room_id) : NULL;
    db_put(c); /* not held across room_servers */
    *known = sum != NULL;
    if (!sum) {
        json_decref(jr);
        return NULL;
    }
    const char *rule = json_string_value(json_object_get(sum, "join_rule"));
    const char *hv = json_string_value(json_object_get(sum, "history_visibility"));
    bool restricted =
        rule && (strcmp(rule, "restricted") == 0 || strcmp(rule, "knock_restricted") == 0);
    bool ok = (rule && (strcmp(rule, "public") == 0 || strcmp(rule, "knock") == 0 ||
                        strcmp(rule, "knock_restricted") == 0)) ||
              (hv && strcmp(hv, "world_readable") == 0) || server_in(room_id, server);
    json_t *allowed = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(restricted ? json_object_get(jr, "allow") : NULL, i, a)
    {
        const char *type = json_string_value(json_object_get(a, "type"));
        const char *via = json_string_value(json_object_get(a, "room_id"));
        if (!type || !via || strcmp(type, "m.room_membership") != 0)
            continue;
        json_array_append_new(allowed, json_string(via));
        if (!ok && json_array_size(allowed) <= 50) /* bounded: each is a query */
            ok = server_in(via, server);
    }
    json_decref(jr);
    json_t *children = ok ? children_of(room_id, suggested_only) : NULL;
    if (!children) {
        json_decref(sum);
        json_decref(allowed);
        return NULL;
    }
    summary_flags(sum);
    json_object_del(sum, "membership");
    if (restricted)
        json_object_set_new(sum, "allowed_room_ids", allowed);
    else
        json_decref(allowed);
    json_object_set_new(sum, "children_state", children);
    return sum;
}

enum room_rc room_hierarchy_server(const char *root, const char *server, bool suggested_only,
                                   json_t **out, char *why, size_t n)
{
    bool known = false;
    json_t *room = chunk_for_server(root, server, suggested_only, &known);
    if (!room) {
        /* unknown and not visible alike, so as not to tell which rooms exist */
        snprintf(why, n, "Unknown room %s", root);
        return ROOM_NOT_FOUND;
    }
    json_t *children = json_array(), *inaccessible = json_array();
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(room, "children_state"), i, ch)
    {
        const char *id = json_string_value(json_object_get(ch, "state_key"));
        if (!id || i >= MAX_ROOMS)
            break;
        json_t *chunk = chunk_for_server(id, server, suggested_only, &known);
        if (chunk)
            json_array_append_new(children, chunk);
        else if (known)
            json_array_append_new(inaccessible, json_string(id));
        /* rooms unknown here are left out: this server cannot speak for them */
    }
    *out = json_pack("{s:o,s:o,s:o}", "room", room, "children", children, "inaccessible_children",
                     inaccessible);
    return ROOM_OK;
}

enum room_rc room_hierarchy(const char *root, const char *user_id, bool suggested_only, int limit,
                            int max_depth, const char *from, json_t **out, char *why, size_t n)
{
    int64_t o = 0;
    if (from && (token_parse(from, "#", &o, 1) < 0 || o > MAX_ROOMS)) {
        snprintf(why, n, "Invalid 'from' token");
        return ROOM_BAD_PARAM;
    }
    long offset = (long)o;
    enum room_rc rc = ROOM_ERR;
    json_t *queue = json_pack("[{s:s,s:i}]", "room_id", root, "depth", 0);
    json_t *seen = json_object(), *rooms = json_array();
    for (size_t qi = 0; qi < json_array_size(queue) && json_array_size(rooms) < MAX_ROOMS; qi++) {
        json_t *item = json_array_get(queue, qi);
        const char *room_id = json_string_value(json_object_get(item, "room_id"));
        int depth = (int)json_integer_value(json_object_get(item, "depth"));
        if (json_object_get(seen, room_id))
            continue;
        json_object_set_new(seen, room_id, json_true());
        bool forbidden = false;
        json_t *chunk = chunk_of(room_id, user_id, &forbidden);
        if (!chunk) {
            if (qi == 0) {
                snprintf(why, n, forbidden ? "You may not see this space" : "Unknown room %s",
                         root);
                rc = forbidden ? ROOM_FORBIDDEN : ROOM_NOT_FOUND;
                goto out;
            }
            continue;
        }
        json_t *ordered = children_of(room_id, suggested_only);
        if (!ordered) {
            json_decref(chunk);
            goto out;
        }
        size_t i;
        json_t *ch;
        json_array_foreach(ordered, i, ch)
        {
            if (depth < max_depth)
                json_array_append_new(queue, json_pack("{s:O,s:i}", "room_id",
                                                       json_object_get(ch, "state_key"), "depth",
                                                       depth + 1));
        }
        json_object_set_new(chunk, "children_state", ordered);
        json_array_append_new(rooms, chunk);
    }
    json_t *page = json_array();
    for (size_t i = (size_t)offset;
         i < json_array_size(rooms) && json_array_size(page) < (size_t)limit; i++)
        json_array_append(page, json_array_get(rooms, i));
    *out = json_pack("{s:o}", "rooms", page);
    if ((size_t)offset + (size_t)limit < json_array_size(rooms)) {
        char nb[24];
        snprintf(nb, sizeof nb, "%ld", offset + limit);
        json_object_set_new(*out, "next_batch", json_string(nb));
    }
    rc = ROOM_OK;
out:
    json_decref(queue);
    json_decref(seen);
    json_decref(rooms);
    return rc;
}
