/* room_client.c - what the APIs make of the room engine's results: a room_rc as an HTTP
 * status and Matrix errcode (one table for both APIs), and a PDU in the Client-Server API's
 * ClientEvent format (event_id, room_id, unsigned.age, redacted_because, and a redaction's
 * target where clients of either room-version generation look for it). Pure: no I/O. */
#include "server/room.h"
#include "server/room_internal.h"

#include <string.h>

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
