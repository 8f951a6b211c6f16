/* room_push.c - what a new event means for each local member's notifications (Client-Server
 * API "Push Notifications": "Push Rules", "Receiving notifications").
 *
 * Runs inside the room writer's transaction, right after the event is stored: every local
 * user joined to the room (and the target of an invite) other than the sender gets the push
 * rules evaluated (server/pushrule.h); a "notify" outcome becomes a row in event_push_actions, so
 * /sync's unread and highlight counts are counts of rows after the user's read receipt, and
 * the same rows will feed /notifications and the push sender. Users' own rule changes plug
 * in through push_ruleset_for (default rules until the push-rules endpoints store any). */
#include <stdlib.h>
#include <string.h>

#include "server/pushrule.h"
#include "server/room_internal.h"
#include "storage/userdata.h"

/* The effective rule set of a user (new reference). */
static json_t *push_ruleset_for(const char *user_id)
{
    return pushrule_defaults(user_id);
}

static bool is_local(const char *user_id)
{
    const char *colon = strchr(user_id, ':');
    return colon && strcmp(colon + 1, eng.server_name) == 0;
}

int room_push_actions(struct dbc *c, const char *room_id, const json_t *pdu, const char *event_id,
                      int64_t stream)
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
    json_t *targets = db_push_targets(c, room_id, sender, invitee);
    if (!targets)
        return -1;
    json_t *members = json_object_get(targets, "members");
    json_t *rows = json_array();
    json_t *ev = NULL;
    if (json_array_size(members)) {
        ev = json_deep_copy(pdu);
        json_object_set_new(ev, "event_id", json_string(event_id));
        json_object_set_new(ev, "room_id", json_string(room_id));
    }
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *uid = json_string_value(json_object_get(m, "user_id"));
        if (!uid || !is_local(uid))
            continue;
        struct pushrule_ctx ctx = {
            .user_id = uid,
            .display_name = json_string_value(json_object_get(m, "displayname")),
            .member_count = json_integer_value(json_object_get(targets, "count")),
            .power_levels = json_object_get(targets, "power_levels"),
        };
        json_t *rules = push_ruleset_for(uid);
        struct pushrule_result res = {0};
        if (rules && pushrule_eval(rules, ev, &ctx, &res) == 0 && res.notify)
            json_array_append_new(rows,
                                  json_pack("{s:s,s:b}", "user_id", uid, "highlight", res.highlight));
        json_decref(rules);
    }
    /* the thread an event belongs to: its root for m.thread relations, else the main one */
    const json_t *rel = json_object_get(content, "m.relates_to");
    const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
    const char *thread = rel_type && strcmp(rel_type, "m.thread") == 0
                             ? json_string_value(json_object_get(rel, "event_id"))
                             : NULL;
    int rc = db_push_actions_put(c, room_id, stream, event_id, thread ? thread : "main", rows);
    json_decref(rows);
    json_decref(ev);
    json_decref(targets);
    return rc;
}
