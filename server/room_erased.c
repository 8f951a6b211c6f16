/* room_erased.c - the events of erased accounts (GDPR erasure; server/useradmin.c marks
 * them): who sent them is looked up once per request, and how they are served pruned. The
 * decision itself is roomread.c's rule 3 (room_event_visibility): pruned, by the redaction
 * algorithm of the room's version, for a user who was not joined when the event was sent, as
 * Synapse's filter_events_for_client does; whole for who was. Other servers get them
 * redacted (room_serve.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/event.h"
#include "server/room.h"
#include "server/room_internal.h"
#include "server/roomver.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/useradmin.h"

bool room_sender_erased(struct dbc *c, const char *sender, json_t *cache)
{
    char key[300];
    if (!sender || snprintf(key, sizeof key, "erased:%s", sender) >= (int)sizeof key)
        return false;
    json_t *hit = json_object_get(cache, key);
    if (hit)
        return json_is_true(hit);
    json_t *ids = json_pack("[s]", sender);
    json_t *erased = ids ? db_useradmin_erased(c, ids) : NULL;
    bool e = json_is_true(json_object_get(erased, sender));
    json_decref(ids);
    json_decref(erased);
    json_object_set_new(cache, key, json_boolean(e));
    return e;
}

json_t *room_served_pdu(struct dbc *c, const json_t *pdu, enum room_vis vis, json_t *cache)
{
    if (vis != ROOM_VIS_PRUNED)
        return json_incref((json_t *)pdu);
    json_t *rv_name = json_object_get(cache, "room_version");
    if (!rv_name) {
        struct db_room r;
        const char *room_id = json_string_value(json_object_get(pdu, "room_id"));
        if (!room_id || db_rooms_get(c, room_id, false, &r) != 1)
            return NULL;
        json_object_set_new(cache, "room_version", json_string(r.room_version));
        db_room_clear(&r);
        rv_name = json_object_get(cache, "room_version");
    }
    const struct room_version *rv = roomver_get(json_string_value(rv_name));
    return rv ? event_redact(pdu, rv) : NULL;
}

json_t *room_bundled_event(struct dbc *c, const char *event_id, const char *user_id, int64_t now)
{
    struct db_event e;
    if (!event_id || db_events_get(c, event_id, &e) != 1)
        return NULL;
    json_t *cache = json_object(), *ev = NULL;
    const char *sender = json_string_value(json_object_get(e.pdu, "sender"));
    enum room_vis vis = ROOM_VIS_FULL;
    if (room_sender_erased(c, sender, cache)) {
        char *m = room_membership_at(c, e.state_group, user_id);
        if (!m || strcmp(m, "join") != 0)
            vis = ROOM_VIS_PRUNED;
        free(m);
    }
    json_t *pdu = room_served_pdu(c, e.pdu, vis, cache);
    if (pdu)
        ev = room_client_event(pdu, e.event_id, e.room_id, e.redacted_by, now);
    json_decref(pdu);
    json_decref(cache);
    db_event_clear(&e);
    return ev;
}
