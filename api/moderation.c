/* moderation.c - what suspended and shadow-banned accounts may do, decided in one place: the
 * HTTP front's gate (http_set_gate) runs this after authentication and before any handler.
 *
 *  - Suspended (Client-Server API "Account suspension", v1.13/v1.18): reading goes on; the
 *    routes of suspended_routes answer 403 M_USER_SUSPENDED: sending messages and state,
 *    joining, knocking, inviting, creating rooms, moderating others, changing the profile,
 *    uploading media, aliases, redacting others' events. Leaving, redacting their own events,
 *    logging out, devices, keys, key backup and deactivation stay allowed, as the spec asks.
 *  - Shadow-banned (Synapse's admin API): the routes of shadow_routes answer success without
 *    doing anything (sends and redactions a made-up event ID, the same for a retransmission
 *    of a txnId; invites and typing {}), so the user does not notice; room creation goes on
 *    with its invites dropped, as Synapse does. */
#include <string.h>

#include "api/api.h"
#include "server/ids.h"
#include "server/room.h"
#include "server/room_txn.h"

#define CS "/_matrix/client/v3"

/* method, route pattern: refused to suspended accounts */
static const struct {
    const char *method, *pattern;
} suspended_routes[] = {
    {"PUT", CS "/rooms/{roomId}/send/{eventType}/{txnId}"},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/{stateKey}"},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/"},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}"},
    {"POST", CS "/createRoom"},
    {"POST", CS "/rooms/{roomId}/join"},
    {"POST", CS "/join/{roomIdOrAlias}"},
    {"POST", CS "/knock/{roomIdOrAlias}"},
    {"POST", CS "/rooms/{roomId}/invite"},
    {"POST", CS "/rooms/{roomId}/kick"},
    {"POST", CS "/rooms/{roomId}/ban"},
    {"POST", CS "/rooms/{roomId}/unban"},
    {"POST", CS "/rooms/{roomId}/upgrade"},
    {"PUT", CS "/profile/{userId}/{field}"},
    {"PUT", CS "/directory/room/{roomAlias}"},
    {"POST", "/_matrix/media/v3/upload"},
    {"PUT", "/_matrix/media/v3/upload/{serverName}/{mediaId}"},
    {"POST", "/_matrix/media/v1/create"},
};

enum shadow_answer { SHADOW_EVENT_ID, SHADOW_EMPTY };
/* method, route pattern, what a shadow-banned account is answered */
static const struct {
    const char *method, *pattern;
    enum shadow_answer answer;
} shadow_routes[] = {
    {"PUT", CS "/rooms/{roomId}/send/{eventType}/{txnId}", SHADOW_EVENT_ID},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/{stateKey}", SHADOW_EVENT_ID},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/", SHADOW_EVENT_ID},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}", SHADOW_EVENT_ID},
    {"PUT", CS "/rooms/{roomId}/redact/{eventId}/{txnId}", SHADOW_EVENT_ID},
    {"POST", CS "/rooms/{roomId}/invite", SHADOW_EMPTY},
    {"PUT", CS "/rooms/{roomId}/typing/{userId}", SHADOW_EMPTY},
};

static bool route_is(const char *method, const char *pattern, const char *m, const char *p)
{
    return strcmp(method, m) == 0 && strcmp(pattern, p) == 0;
}

/* A suspended user may redact their own events only (Synapse: not other users' messages):
 * true when event_id (in the path's room) is theirs or unknown to them (the handler then
 * answers as usual), else false after answering 403 M_USER_SUSPENDED. */
static bool own_event(struct http_req *req, const char *event_id)
{
    json_t *ev = NULL;
    char why[256];
    const char *me = http_user(req)->user_id;
    if (!event_id || room_event(http_param(req, 0), me, event_id, &ev, why, sizeof why) != ROOM_OK)
        return true;
    const char *sender = json_string_value(json_object_get(ev, "sender"));
    bool mine = sender && strcmp(sender, me) == 0;
    json_decref(ev);
    if (!mine)
        http_reply_error(req, 403, "M_USER_SUSPENDED",
                         "You cannot perform this action while suspended.");
    return mine;
}

bool api_moderation_gate(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *pattern = http_route_pattern(req), *method = http_method(req);
    if (!u || !pattern || (!u->suspended && !u->shadow_banned))
        return true;
    if (u->suspended) {
        if (route_is(method, pattern, "PUT", CS "/rooms/{roomId}/redact/{eventId}/{txnId}"))
            return own_event(req, http_param(req, 1));
        for (size_t i = 0; i < sizeof suspended_routes / sizeof suspended_routes[0]; i++) {
            if (!route_is(method, pattern, suspended_routes[i].method, suspended_routes[i].pattern))
                continue;
            /* redacting their own events stays allowed, through /send as through /redact */
            if (i == 0 && strcmp(http_param(req, 1), "m.room.redaction") == 0)
                return own_event(req,
                                 json_string_value(json_object_get(http_json(req), "redacts")));
            http_reply_error(req, 403, "M_USER_SUSPENDED",
                             "You cannot perform this action while suspended.");
            return false;
        }
    }
    if (!u->shadow_banned)
        return true;
    if (strcmp(method, "POST") == 0 && strcmp(pattern, CS "/createRoom") == 0) {
        json_t *body = http_json(req); /* borrowed: the handler reads it next */
        json_object_del(body, "invite");
        json_object_del(body, "invite_3pid");
        return true;
    }
    for (size_t i = 0; i < sizeof shadow_routes / sizeof shadow_routes[0]; i++) {
        if (!route_is(method, pattern, shadow_routes[i].method, shadow_routes[i].pattern))
            continue;
        if (shadow_routes[i].answer == SHADOW_EMPTY) {
            http_reply_json(req, 200, NULL);
        } else {
            char id[ROOM_TXN_HASH_HEX + 1];
            if (strstr(pattern, "{txnId}")) { /* a retransmission gets the same made-up ID */
                const char *parts[] = {u->user_id, u->device_id ? u->device_id : "", pattern,
                                       http_param(req, 0), http_param(req, 1),
                                       http_param(req, 2)};
                room_txn_hash(id, parts, 6);
            } else {
                ids_random_alnum(id, ROOM_TXN_HASH_HEX);
            }
            id[43] = '\0'; /* as long as a room v4+ event ID */
            http_reply_json(req, 200, json_pack("{s:s+}", "event_id", "$", id));
        }
        return false;
    }
    return true;
}
