/* fakeroom.h - for unit tests of reads over a room whose DAG a fake remote shapes
 * (syncfork_test.c, readfork_test.c): PDUs of the remote's users in room version 10, signed
 * with its key, fed to the receive path; and the fixture room: alice's (local) v10 public
 * room that bob (remote) joined through the receive path. Define LOCAL, REMOTE, ALICE and BOB
 * before including; include after tests/unit.h. */
#ifndef AMTSBOTE_FAKEROOM_H
#define AMTSBOTE_FAKEROOM_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/event.h"
#include "server/room.h"
#include "storage/rooms.h"
#include "tests/storage/fakeremote.h"

/* A v10 PDU of `sender`'s (prevs and auths stolen), depth one more than the deepest stored
 * prev, at least `depth` (for prevs not stored here: a remote event from beyond a gap); *id
 * its ID. */
static inline json_t *fakeroom_pdu(const char *sender, const char *room, const char *type,
                                   const char *sk, json_t *content, json_t *prevs, json_t *auths,
                                   int64_t depth, char **id)
{
    const struct room_version *rv = roomver_get("10");
    size_t i;
    json_t *v;
    json_array_foreach(prevs, i, v)
    {
        int64_t d = depth_of(json_string_value(v));
        if (d + 1 > depth)
            depth = d + 1;
    }
    static int64_t last_ts;
    int64_t ts = clock_now_ms() > last_ts ? clock_now_ms() : last_ts + 1;
    last_ts = ts;
    json_t *pdu =
        json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:I}", "type", type, "sender", sender, "room_id",
                  room, "content", content, "prev_events", prevs, "auth_events", auths, "depth",
                  (json_int_t)depth, "origin_server_ts", (json_int_t)ts);
    if (sk)
        json_object_set_new(pdu, "state_key", json_string(sk));
    event_set_content_hash(pdu);
    event_sign(pdu, rv, REMOTE, &remote);
    *id = event_compute_id(pdu, rv);
    return pdu;
}

static inline json_t *text(const char *body)
{
    return json_pack("{s:s,s:s}", "msgtype", "m.text", "body", body);
}

static inline json_t *renamed(const char *name)
{
    return json_pack("{s:s,s:s}", "membership", "join", "displayname", name);
}

/* The PDU through the receive path as REMOTE's (RECV_DEBUG=1 prints why). */
static inline enum room_recv recv_(const json_t *pdu)
{
    char *id = NULL, why[300] = "";
    enum room_recv rc = room_receive_pdu(REMOTE, pdu, &id, NULL, why, sizeof why);
    if (getenv("RECV_DEBUG"))
        fprintf(stderr, "receive -> %d (%s)\n", rc, why);
    free(id);
    return rc;
}

/* Alice's v10 public room with bob (remote) joined through the receive path. */
struct fx {
    char *room, *bj, *create, *pl, *jr;
};

static inline int fx_open(struct fx *f)
{
    char why[256];
    memset(f, 0, sizeof *f);
    json_t *req = json_pack("{s:s,s:s}", "preset", "public_chat", "room_version", "10");
    CHECK_INT(room_create(ALICE, req, &f->room, why, sizeof why), ROOM_OK);
    json_decref(req);
    if (!f->room)
        return -1;
    f->create = cur(f->room, "m.room.create", "");
    f->pl = cur(f->room, "m.room.power_levels", "");
    f->jr = cur(f->room, "m.room.join_rules", "");
    struct dbc *c = db_get();
    json_t *x = c ? db_rooms_extremities(c, f->room) : NULL;
    db_put(c);
    json_t *join = fakeroom_pdu(BOB, f->room, "m.room.member", BOB,
                                json_pack("{s:s}", "membership", "join"), x,
                                IDS(f->create, f->pl, f->jr), 0, &f->bj);
    CHECK_INT(recv_(join), ROOM_RECV_ACCEPTED);
    json_decref(join);
    return 0;
}

static inline void fx_close(struct fx *f)
{
    free(f->room);
    free(f->bj);
    free(f->create);
    free(f->pl);
    free(f->jr);
}

#endif
