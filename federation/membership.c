/* membership.c - the membership handshakes this server answers as a resident server
 * (Server-Server API "Joining Rooms": make_join, send_join v2; "Leaving Rooms (Rejecting
 * Invites)": make_leave, send_leave v2; "Knocking upon a room": make_knock, send_knock;
 * "Inviting to a room": invite v2, and the deprecated v1 in room version 1) and the room
 * alias query ("Querying for information": query/directory). Every route is X-Matrix
 * authenticated by its row; the room-scoped ones also apply the room's server ACL. The engine
 * (server/room_fed.c) does the work; this file validates the request shapes and maps the
 * engine's answers to the spec's status codes. */
#include <stdlib.h>
#include <string.h>

#include "federation/federation.h"
#include "server/ids.h"
#include "server/room.h"

#define MAX_VERSIONS 32

/* The engine's answer as the spec's error (server/room.c's table); M_INCOMPATIBLE_ROOM_VERSION
 * carries the room's version. */
static void reply_error(struct http_req *req, enum room_rc rc, const char *why,
                        const char *room_version)
{
    const char *errcode;
    int status = room_rc_http(rc, &errcode);
    if (!status) {
        http_reply_internal_cause(req, "%s", *why ? why : "room engine error");
        return;
    }
    json_t *extra = rc == ROOM_INCOMPATIBLE && room_version
                        ? json_pack("{s:s}", "room_version", room_version)
                        : NULL;
    http_reply_error_extra(req, status, errcode, extra, "%s", why);
}

/* GET /make_{join,leave,knock}/{roomId}/{userId} */
static void make(struct http_req *req, const char *membership)
{
    const char *room_id = http_param(req, 0), *user_id = http_param(req, 1);
    json_t *event = NULL;
    json_t *vers = strcmp(membership, "leave") ? http_query_all(req, "ver", MAX_VERSIONS) : NULL;
    char *version = NULL, why[512] = "";
    if (!federation_room_acl_allows(req, room_id)) {
        json_decref(vers);
        return;
    }
    enum room_rc rc = room_make_membership(http_origin(req), room_id, user_id, membership, vers,
                                           &event, &version, why, sizeof why);
    if (rc == ROOM_OK)
        http_reply_json(req, 200, json_pack("{s:s,s:o}", "room_version", version, "event", event));
    else
        reply_error(req, rc, why, version);
    json_decref(vers);
    free(version);
}

void federation_make_join(struct http_req *req)
{
    make(req, "join");
}

void federation_make_leave(struct http_req *req)
{
    make(req, "leave");
}

void federation_make_knock(struct http_req *req)
{
    make(req, "knock");
}

/* PUT /send_{join,leave,knock}/{roomId}/{eventId} */
static void send(struct http_req *req, const char *membership)
{
    const char *room_id = http_param(req, 0), *event_id = http_param(req, 1);
    json_t *signed_ev = NULL, *state = NULL, *chain = NULL;
    char why[512] = "";
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc =
        room_send_membership(http_origin(req), room_id, event_id, membership, http_json(req),
                             &signed_ev, &state, &chain, why, sizeof why);
    if (rc != ROOM_OK) {
        reply_error(req, rc, why, NULL);
        return;
    }
    if (strcmp(membership, "join") == 0) {
        /* omit_members is declined: the full state is answered (members_omitted false) */
        json_t *body =
            json_pack("{s:o,s:o,s:b}", "state", state, "auth_chain", chain, "members_omitted", 0);
        json_t *via = json_object_get(json_object_get(signed_ev, "content"),
                                      "join_authorised_via_users_server");
        if (json_is_string(via) && ids_is_local(json_string_value(via)))
            json_object_set(body, "event", signed_ev);
        http_reply_json(req, 200, body);
    } else if (strcmp(membership, "knock") == 0) {
        http_reply_json(req, 200, json_pack("{s:o}", "knock_room_state", state));
    } else {
        http_reply_json(req, 200, json_object());
    }
    json_decref(signed_ev);
}

void federation_send_join(struct http_req *req)
{
    send(req, "join");
}

void federation_send_leave(struct http_req *req)
{
    send(req, "leave");
}

void federation_send_knock(struct http_req *req)
{
    send(req, "knock");
}

/* PUT /_matrix/federation/v2/invite/{roomId}/{eventId} */
void federation_invite(struct http_req *req)
{
    const char *room_id = http_param(req, 0), *event_id = http_param(req, 1);
    json_t *body = http_json(req), *signed_ev = NULL;
    json_t *rv = json_object_get(body, "room_version"), *ev = json_object_get(body, "event");
    json_t *irs = json_object_get(body, "invite_room_state");
    char why[512] = "";
    if (!json_is_string(rv) || !json_is_object(ev)) {
        http_reply_error(req, 400, "M_BAD_JSON", "room_version and event are required");
        return;
    }
    if (irs && !json_is_array(irs)) {
        http_reply_error(req, 400, "M_BAD_JSON", "invite_room_state must be an array");
        return;
    }
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc =
        room_receive_invite(http_origin(req), room_id, event_id, json_string_value(rv), ev, irs,
                            &signed_ev, why, sizeof why);
    if (rc != ROOM_OK)
        reply_error(req, rc, why, json_string_value(rv));
    else
        http_reply_json(req, 200, json_pack("{s:o}", "event", signed_ev));
}

/* PUT /_matrix/federation/v1/invite/{roomId}/{eventId}: the deprecated form, whose body is
 * the event itself (invite_room_state under unsigned) and whose answer is [200, {event}]. The
 * spec: a server receiving it must assume room version "1" or "2"; the two sign and check an
 * invite alike, so "1" (as Synapse). */
void federation_invite_v1(struct http_req *req)
{
    const char *room_id = http_param(req, 0), *event_id = http_param(req, 1);
    json_t *ev = http_json(req), *signed_ev = NULL;
    json_t *irs = json_object_get(json_object_get(ev, "unsigned"), "invite_room_state");
    char why[512] = "";
    if (!json_is_object(ev)) {
        http_reply_error(req, 400, "M_BAD_JSON", "the body must be the invite event");
        return;
    }
    if (irs && !json_is_array(irs))
        irs = NULL;
    if (!federation_room_acl_allows(req, room_id))
        return;
    enum room_rc rc = room_receive_invite(http_origin(req), room_id, event_id, "1", ev, irs,
                                          &signed_ev, why, sizeof why);
    if (rc != ROOM_OK)
        reply_error(req, rc, why, "1");
    else
        http_reply_json(req, 200, json_pack("[i,{s:o}]", 200, "event", signed_ev));
}

/* GET /_matrix/federation/v1/query/directory?room_alias= */
void federation_query_directory(struct http_req *req)
{
    const char *alias = http_query(req, "room_alias");
    char *room_id = NULL;
    if (!alias) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "room_alias is required");
        return;
    }
    if (alias[0] != '#' || !ids_is_local(alias)) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Room alias not found");
        return;
    }
    enum room_rc rc = room_alias_get(alias, &room_id);
    if (rc == ROOM_NOT_FOUND) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Room alias not found");
        return;
    }
    if (rc != ROOM_OK) {
        http_reply_internal(req);
        return;
    }
    json_t *servers = room_servers(room_id);
    if (!servers) {
        free(room_id);
        http_reply_internal(req);
        return;
    }
    /* ours first: the one server sure to hold the room while the alias points to it */
    json_t *list = json_pack("[s]", http_config(req)->server_name);
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v)
    {
        if (!ids_is_local_server(json_string_value(v)))
            json_array_append(list, v);
    }
    json_decref(servers);
    http_reply_json(req, 200, json_pack("{s:s,s:o}", "room_id", room_id, "servers", list));
    free(room_id);
}
