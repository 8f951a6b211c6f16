/* receive_test.c - the room engine's receive path (server/room_receive.c) against a real
 * PostgreSQL, fed with hand-built PDUs from a fake remote server ("remote.test", whose ed25519
 * key is made here and served by a fake key fetcher registered with server/keyring.h):
 * accepted joins and messages, duplicates, each drop (bad signature, unknown key, a key that
 * cannot be fetched now), the redacted copy on a content hash mismatch, missing prev and auth
 * events, rejection against the auth events and against the state before, soft failure
 * against the current state, a fork whose current state is the resolution of the extremities
 * (not the new event's state), and the send_join flow (room_receive_state: state and auth
 * chain as outliers, then the join) in versions 3 (with a float power level), 10 and 12. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/keyring.h"
#include "server/room.h"
#include "server/statemap.h"
#include "server/stateres.h"
#include "storage/db.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "storage/state.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

#define LOCAL "local.test"
#define REMOTE "remote.test"
#define ALICE "@alice:" LOCAL
#define BOB "@bob:" REMOTE
#define CAROL "@carol:" REMOTE

#include "tests/storage/fakeremote.h"

static struct sign_key own, stranger;
static int fetch_mode; /* 0: serve remote.test's key; 1: the key server is unreachable */

static int fake_lookup(void *ctx, const char *server, const char *key_id, int64_t min_ts,
                       uint8_t pk[32])
{
    if (fetch_mode == 1)
        return -1;
    return fakeremote_lookup(ctx, server, key_id, min_ts, pk);
}

/* --- building PDUs ------------------------------------------------------------------------- */

/* [[id, {sha256: reference hash}], ...] of stored events (versions 1 and 2). New array. */
static json_t *v1_refs(const struct room_version *rv, const json_t *ids)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        struct dbc *c = db_get();
        struct db_event e;
        uint8_t h[32];
        char *b = NULL;
        if (c && db_events_get(c, json_string_value(v), &e) == 1) {
            if (event_reference_hash(e.pdu, rv, h) == 0)
                b = b64_encode(h, sizeof h);
            db_event_clear(&e);
        }
        db_put(c);
        json_array_append_new(out, json_pack("[O,{s:s}]", v, "sha256", b ? b : "unknown"));
        free(b);
    }
    return out;
}

/* A PDU of `sender` signed by `server` with key k: prevs and auths (arrays, stolen), depth one
 * more than the deepest prev (or `depth` when there is none); *id its event ID (malloc'd). */
static json_t *mk(const char *version, const char *room, const char *type, const char *sk,
                  const char *sender, json_t *content, json_t *prevs, json_t *auths, int64_t depth,
                  const struct sign_key *k, const char *server, char **id)
{
    const struct room_version *rv = roomver_get(version);
    size_t i;
    json_t *v;
    json_array_foreach(prevs, i, v)
    {
        int64_t d = depth_of(json_string_value(v));
        if (d + 1 > depth)
            depth = d + 1;
    }
    /* strictly increasing timestamps: state resolution orders by them */
    static int64_t last_ts;
    int64_t ts = clock_now_ms() > last_ts ? clock_now_ms() : last_ts + 1;
    last_ts = ts;
    json_t *pdu = json_pack("{s:s,s:s,s:o,s:o,s:o,s:I,s:I}", "type", type, "sender", sender,
                            "content", content, "prev_events", prevs, "auth_events", auths, "depth",
                            (json_int_t)depth, "origin_server_ts", (json_int_t)ts);
    if (room)
        json_object_set_new(pdu, "room_id", json_string(room));
    if (sk)
        json_object_set_new(pdu, "state_key", json_string(sk));
    if (rv->event_ids == ROOMVER_EVID_V1) { /* the sender names it; references carry hashes */
        static int serial;
        char eid[64];
        snprintf(eid, sizeof eid, "$v1ev%d:%s", ++serial, server);
        json_object_set_new(pdu, "event_id", json_string(eid));
        json_object_set_new(pdu, "prev_events", v1_refs(rv, prevs));
        json_object_set_new(pdu, "auth_events", v1_refs(rv, auths));
    }
    event_set_content_hash(pdu);
    event_sign(pdu, rv, server, k);
    *id = event_compute_id(pdu, rv);
    return pdu;
}

static json_t *member(const char *m)
{
    return json_pack("{s:s}", "membership", m);
}

static enum room_recv recv_(const json_t *pdu, json_t **missing)
{
    char *id = NULL, why[300] = "";
    enum room_recv rc = room_receive_pdu(REMOTE, pdu, &id, missing, why, sizeof why);
    if (getenv("RECV_DEBUG"))
        fprintf(stderr, "receive -> %d (%s)\n", rc, why);
    free(id);
    return rc;
}

/* Stored standing of an event: 1 with the fields, 0 unknown. */
static int standing(const char *id, struct db_event *e)
{
    struct dbc *c = db_get();
    int rc = c ? db_events_get(c, id, e) : -1;
    db_put(c);
    return rc;
}

static json_t *extremities(const char *room)
{
    struct dbc *c = db_get();
    json_t *x = c ? db_rooms_extremities(c, room) : NULL;
    db_put(c);
    return x;
}

static bool only_extremity(const char *room, const char *id)
{
    json_t *x = extremities(room);
    bool ok = json_array_size(x) == 1 && strcmp(json_string_value(json_array_get(x, 0)), id) == 0;
    json_decref(x);
    return ok;
}

/* A v10 public room of alice's, with bob (remote) joined through the receive path. Sets
 * *bob_join. */
static char *room_with_bob_in(const char *version, char **bob_join)
{
    char *room = NULL, why[256];
    json_t *req = json_pack("{s:s,s:s}", "preset", "public_chat", "room_version", version);
    CHECK_INT(room_create(ALICE, req, &room, why, sizeof why), ROOM_OK);
    json_decref(req);
    if (!room)
        return NULL;
    char *create = cur(room, "m.room.create", ""), *pl = cur(room, "m.room.power_levels", "");
    char *jr = cur(room, "m.room.join_rules", "");
    json_t *x = extremities(room);
    json_t *join = mk(version, room, "m.room.member", BOB, BOB, member("join"), json_deep_copy(x),
                      IDS(create, pl, jr), 0, &remote, REMOTE, bob_join);
    CHECK_INT(recv_(join, NULL), ROOM_RECV_ACCEPTED);
    json_decref(join);
    json_decref(x);
    free(create);
    free(pl);
    free(jr);
    return room;
}

static char *room_with_bob(char **bob_join)
{
    return room_with_bob_in("10", bob_join);
}

/* Every test's start: alice's room with bob joined, its create, power levels and join rules
 * event IDs, and a message content. */
struct fx {
    char *room, *bj, *create, *pl, *jr;
    json_t *content;
};

static int fx_open(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->room = room_with_bob(&f->bj);
    if (!f->room)
        return -1;
    f->create = cur(f->room, "m.room.create", "");
    f->pl = cur(f->room, "m.room.power_levels", "");
    f->jr = cur(f->room, "m.room.join_rules", "");
    f->content = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "x");
    return 0;
}

static void fx_close(struct fx *f)
{
    free(f->room);
    free(f->bj);
    free(f->create);
    free(f->pl);
    free(f->jr);
    json_decref(f->content);
}

/* --- tests --------------------------------------------------------------------------------- */

TEST(accept_join_and_message)
{
    char *mid = NULL;
    struct fx f;
    if (fx_open(&f) < 0) {
        UNIT_FAIL("no room");
        return;
    }
    char *m = cur(f.room, "m.room.member", BOB);
    CHECK_STR(m, f.bj);
    free(m);
    CHECK(only_extremity(f.room, f.bj));
    struct db_event e;
    CHECK_INT(standing(f.bj, &e), 1);
    CHECK(e.stream > 0 && !e.outlier && !e.rejected && e.state_group > 0);
    db_event_clear(&e);

    json_t *msg = mk("10", f.room, "m.room.message", NULL, BOB,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "hi"), IDS(f.bj),
                     IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &mid);
    CHECK_INT(recv_(msg, NULL), ROOM_RECV_ACCEPTED);
    CHECK_INT(recv_(msg, NULL), ROOM_RECV_DUPLICATE);
    CHECK(only_extremity(f.room, mid));
    /* a local send follows it */
    char *lid = NULL, why[256];
    json_t *body = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "back");
    CHECK_INT(room_send(f.room, ALICE, "m.room.message", NULL, body, NULL, &lid, why, sizeof why),
              ROOM_OK);
    json_decref(body);
    CHECK(lid && only_extremity(f.room, lid));
    json_t *lpdu = NULL;
    if (lid && standing(lid, &e) == 1) {
        lpdu = json_incref(e.pdu);
        db_event_clear(&e);
    }
    CHECK_STR(json_string_value(json_array_get(json_object_get(lpdu, "prev_events"), 0)), mid);
    json_decref(lpdu);
    free(lid);
    json_decref(msg);
    free(mid);
    fx_close(&f);
}

TEST(drops_and_retries)
{
    char *id = NULL;
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    /* signed under remote.test's key ID by another key */
    json_t *p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
                   IDS(f.create, f.pl, f.bj), 0, &stranger, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_DROPPED);
    json_decref(p);
    free(id);
    /* a forged signature under the real key ID */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    json_object_set_new(json_object_get(json_object_get(p, "signatures"), REMOTE), remote.key_id,
                        json_string("AAAA"));
    CHECK_INT(recv_(p, NULL), ROOM_RECV_DROPPED);
    json_decref(p);
    free(id);
    /* a changed field the signature covers */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    json_object_set_new(p, "origin_server_ts", json_integer(5));
    CHECK_INT(recv_(p, NULL), ROOM_RECV_DROPPED);
    /* the key server is unreachable: try again later */
    fetch_mode = 1;
    CHECK_INT(recv_(p, NULL), ROOM_RECV_RETRY);
    fetch_mode = 0;
    json_decref(p);
    free(id);
    /* malformed: no sender */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    json_object_del(p, "sender");
    CHECK_INT(recv_(p, NULL), ROOM_RECV_DROPPED);
    json_decref(p);
    free(id);
    /* no prev_events: only a f.create event has none */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), json_array(),
           IDS(f.create, f.pl, f.bj), 9, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_DROPPED);
    json_decref(p);
    free(id);
    /* an unknown f.room */
    p = mk("10", "!nowhere:" REMOTE, "m.room.message", NULL, BOB, json_deep_copy(f.content),
           IDS(f.bj), IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_UNKNOWN_ROOM);
    json_decref(p);
    free(id);
    /* f.content changed after signing: the hash fails, the redacted copy is stored */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    json_object_set_new(json_object_get(p, "content"), "body", json_string("changed"));
    CHECK_INT(recv_(p, NULL), ROOM_RECV_ACCEPTED);
    struct db_event e;
    CHECK_INT(standing(id, &e), 1);
    CHECK(json_object_size(json_object_get(e.pdu, "content")) == 0);
    db_event_clear(&e);
    json_decref(p);
    free(id);
    fx_close(&f);
}

TEST(missing_prev_and_auth)
{
    char *id = NULL;
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    json_t *missing = NULL;
    json_t *p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content),
                   IDS("$unknownprev"), IDS(f.create, f.pl, f.bj), 7, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, &missing), ROOM_RECV_MISSING_PREV);
    CHECK_STR(json_string_value(json_array_get(missing, 0)), "$unknownprev");
    json_decref(missing);
    json_decref(p);
    free(id);
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, "$unknownauth"), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, &missing), ROOM_RECV_MISSING_AUTH);
    CHECK_STR(json_string_value(json_array_get(missing, 0)), "$unknownauth");
    json_decref(missing);
    CHECK_INT(standing(id, &(struct db_event){0}), 0); /* nothing stored */
    json_decref(p);
    free(id);
    /* an auth event of another f.room counts as unknown */
    char *bj2 = NULL;
    char *room2 = room_with_bob(&bj2);
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
           IDS(f.create, f.pl, bj2), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, &missing), ROOM_RECV_MISSING_AUTH);
    json_decref(missing);
    json_decref(p);
    free(id);
    free(bj2);
    free(room2);
    fx_close(&f);
}

TEST(rejection_and_soft_failure)
{
    char *id = NULL, *ban = NULL, why[256];
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    /* carol never joined: her auth events cannot allow her (step 4) */
    json_t *p = mk("10", f.room, "m.room.message", NULL, CAROL, json_deep_copy(f.content),
                   IDS(f.bj), IDS(f.create, f.pl), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_REJECTED);
    struct db_event e;
    CHECK_INT(standing(id, &e), 1);
    CHECK(e.rejected && e.outlier && e.stream == 0);
    db_event_clear(&e);
    CHECK(only_extremity(f.room, f.bj));
    /* an event after a rejected one sees the state before it */
    char *after = NULL;
    json_t *p2 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(id),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &after);
    CHECK_INT(recv_(p2, NULL), ROOM_RECV_ACCEPTED);
    json_decref(p2);
    json_decref(p);
    free(id);

    /* alice bans bob */
    CHECK_INT(room_membership(f.room, ALICE, BOB, "ban", NULL, NULL, &ban, why, sizeof why),
              ROOM_OK);
    /* bob's message on the branch before the ban: passes its auth events and the state
     * before it, fails the current state: soft failed */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(after),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_SOFT_FAILED);
    CHECK_INT(standing(id, &e), 1);
    CHECK(e.soft_failed && !e.rejected && e.outlier && e.stream == 0 && e.state_group > 0);
    db_event_clear(&e);
    CHECK(only_extremity(f.room, ban));
    json_decref(p);
    free(id);
    /* the same after the ban: the state before it has the ban (step 5) */
    p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(ban),
           IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_REJECTED);
    CHECK(only_extremity(f.room, ban));
    json_decref(p);
    free(id);
    char *m = cur(f.room, "m.room.member", BOB);
    CHECK_STR(m, ban);
    free(m);
    free(after);
    free(ban);
    fx_close(&f);
}

TEST(fork_resolves_current_state)
{
    char *topic = NULL, *mine = NULL, *msg = NULL, why[256];
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    json_t *t = json_pack("{s:s}", "topic", "local topic");
    CHECK_INT(room_send(f.room, ALICE, "m.room.topic", "", t, NULL, &topic, why, sizeof why),
              ROOM_OK);
    json_decref(t);
    /* bob changes his display name on the branch before the topic */
    json_t *p = mk("10", f.room, "m.room.member", BOB, BOB,
                   json_pack("{s:s,s:s}", "membership", "join", "displayname", "Bob"), IDS(f.bj),
                   IDS(f.create, f.pl, f.bj, f.jr), 0, &remote, REMOTE, &mine);
    CHECK_INT(recv_(p, NULL), ROOM_RECV_ACCEPTED);
    json_decref(p);
    json_t *x = extremities(f.room);
    CHECK_INT(json_array_size(x), 2);
    json_decref(x);
    /* current state: the resolution of both branches, not the state after bob's event (which
     * has no topic) */
    char *ct = cur(f.room, "m.room.topic", ""), *cm = cur(f.room, "m.room.member", BOB);
    CHECK_STR(ct, topic);
    CHECK_STR(cm, mine);
    free(ct);
    free(cm);
    /* a local send joins the fork */
    json_t *body = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "merge");
    CHECK_INT(room_send(f.room, ALICE, "m.room.message", NULL, body, NULL, &msg, why, sizeof why),
              ROOM_OK);
    json_decref(body);
    CHECK(msg && only_extremity(f.room, msg));
    ct = cur(f.room, "m.room.topic", "");
    CHECK_STR(ct, topic);
    free(ct);
    free(msg);
    free(mine);
    free(topic);
    fx_close(&f);
}

/* v8+ restricted rooms: carol (remote) joins through alice (local), who vouches for her:
 * the join needs the signature of alice's server too (step 2), and auth rule 4.3.5 / v12
 * 5.3.5 checks it (signed_by). */
TEST(restricted_join_needs_the_authorising_server)
{
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    char *jr2 = NULL, *cj = NULL, *am = cur(f.room, "m.room.member", ALICE), why[256];
    json_t *rules = json_pack("{s:s,s:[{s:s,s:s}]}", "join_rule", "restricted", "allow", "type",
                              "m.room_membership", "room_id", "!other:" LOCAL);
    CHECK_INT(room_send(f.room, ALICE, "m.room.join_rules", "", rules, NULL, &jr2, why, sizeof why),
              ROOM_OK);
    json_decref(rules);
    json_t *x = extremities(f.room);
    json_t *c =
        json_pack("{s:s,s:s}", "membership", "join", "join_authorised_via_users_server", ALICE);
    json_t *j = mk("10", f.room, "m.room.member", CAROL, CAROL, c, json_deep_copy(x),
                   IDS(f.create, f.pl, jr2, am), 0, &remote, REMOTE, &cj);
    /* only carol's server signed: alice's server's signature is missing */
    CHECK_INT(recv_(j, NULL), ROOM_RECV_DROPPED);
    /* with it (as send_join adds it) the join passes */
    event_sign(j, roomver_get("10"), LOCAL, &own);
    CHECK_INT(recv_(j, NULL), ROOM_RECV_ACCEPTED);
    char *m = cur(f.room, "m.room.member", CAROL);
    CHECK_STR(m, cj);
    free(m);
    /* vouched for by a user of ours who is not in the room: signed, but rejected (the
     * authorising user must be joined with the invite level) */
    char *dj = NULL;
    json_t *c2 = json_pack("{s:s,s:s}", "membership", "join", "join_authorised_via_users_server",
                           "@nobody:" LOCAL);
    json_t *j2 = mk("10", f.room, "m.room.member", "@dave:" REMOTE, "@dave:" REMOTE, c2,
                    json_pack("[s]", cj), IDS(f.create, f.pl, jr2), 0, &remote, REMOTE, &dj);
    event_sign(j2, roomver_get("10"), LOCAL, &own);
    CHECK_INT(recv_(j2, NULL), ROOM_RECV_REJECTED);
    json_decref(j2);
    free(dj);
    json_decref(j);
    json_decref(x);
    free(cj);
    free(jr2);
    free(am);
    fx_close(&f);
}

/* Versions 1 and 2: event IDs chosen by the sender ("$x:remote.test", whose server must sign
 * too), references with hashes; a join, a message, a fork joined by a local send. */
TEST(version_1_events)
{
    char *bj = NULL, *mid = NULL, *tid = NULL, *lid = NULL, why[256];
    char *room = room_with_bob_in("1", &bj);
    if (!room)
        return;
    char *create = cur(room, "m.room.create", ""), *pl = cur(room, "m.room.power_levels", "");
    json_t *msg = mk("1", room, "m.room.message", NULL, BOB,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "old"), IDS(bj),
                     IDS(create, pl, bj), 0, &remote, REMOTE, &mid);
    CHECK_STR(mid, json_string_value(json_object_get(msg, "event_id")));
    CHECK_INT(recv_(msg, NULL), ROOM_RECV_ACCEPTED);
    CHECK(only_extremity(room, mid));
    /* an event ID of another server needs that server's signature too */
    char *fid = NULL;
    json_t *forged = mk("1", room, "m.room.message", NULL, BOB, json_pack("{s:s}", "body", "x"),
                        IDS(mid), IDS(create, pl, bj), 0, &remote, REMOTE, &fid);
    json_object_set_new(forged, "event_id", json_string("$stolen:" LOCAL));
    CHECK_INT(recv_(forged, NULL), ROOM_RECV_DROPPED);
    json_decref(forged);
    free(fid);
    /* alice's topic and bob's message on the same parent: a fork, joined by alice's next send */
    json_t *t = json_pack("{s:s}", "topic", "t");
    CHECK_INT(room_send(room, ALICE, "m.room.topic", "", t, NULL, &tid, why, sizeof why), ROOM_OK);
    json_decref(t);
    char *m2 = NULL;
    json_t *msg2 = mk("1", room, "m.room.message", NULL, BOB, json_pack("{s:s}", "body", "y"),
                      IDS(mid), IDS(create, pl, bj), 0, &remote, REMOTE, &m2);
    CHECK_INT(recv_(msg2, NULL), ROOM_RECV_ACCEPTED);
    json_t *x = extremities(room);
    CHECK_INT(json_array_size(x), 2);
    json_decref(x);
    char *ct = cur(room, "m.room.topic", "");
    CHECK_STR(ct, tid);
    free(ct);
    json_t *body = json_pack("{s:s}", "body", "merge");
    CHECK_INT(room_send(room, ALICE, "m.room.message", NULL, body, NULL, &lid, why, sizeof why),
              ROOM_OK);
    json_decref(body);
    CHECK(lid && only_extremity(room, lid));
    json_decref(msg2);
    json_decref(msg);
    free(m2);
    free(lid);
    free(tid);
    free(mid);
    free(create);
    free(pl);
    free(bj);
    free(room);
}

/* A figure, not a limit: 200 messages from bob in a row, each after the last. */
TEST(linear_messages_timing)
{
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    char *prev = strdup(f.bj);
    int64_t t0 = clock_now_ms();
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        char *id = NULL;
        json_t *p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content),
                       IDS(prev), IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &id);
        ok += recv_(p, NULL) == ROOM_RECV_ACCEPTED;
        json_decref(p);
        free(prev);
        prev = id;
    }
    int64_t dt = clock_now_ms() - t0;
    CHECK_INT(ok, 200);
    CHECK(only_extremity(f.room, prev));
    printf("# 200 received messages in %lld ms (%.2f ms each, with building and signing)\n",
           (long long)dt, dt / 200.0);
    free(prev);
    fx_close(&f);
}

/* Random forks: bob sends messages, display name changes, leaves and joins on random parents
 * (one or two of the events stored with a state so far). After every receive the engine's
 * invariants hold: the forward extremities are the accepted events nobody accepted follows,
 * and the current state (table and group) is the resolution of the states at them. */
static json_t *inv_cache;

static const json_t *inv_fetch(void *ctx, const char *id)
{
    json_t *hit = json_object_get(inv_cache, id);
    if (hit)
        return hit;
    struct dbc *c = db_get();
    struct db_event e;
    json_t *pdu = NULL;
    if (c && db_events_get(c, id, &e) == 1) {
        pdu = json_incref(e.pdu);
        json_object_set_new(pdu, "event_id", json_string(id));
        db_event_clear(&e);
        json_object_set_new(inv_cache, id, pdu);
    }
    db_put(c);
    return pdu;
}

static int64_t group_of(const char *id)
{
    struct db_event e;
    int64_t g = 0;
    if (standing(id, &e) == 1) {
        g = e.state_group;
        db_event_clear(&e);
    }
    return g;
}

static bool invariants_hold(const char *room, json_t *ext)
{
    bool ok = true;
    json_t *x = extremities(room);
    json_t *want = json_object(), *v;
    size_t i;
    json_array_foreach(ext, i, v) json_object_set_new(want, json_string_value(v), json_true());
    ok = ok && json_array_size(x) == json_object_size(want);
    json_array_foreach(x, i, v) ok = ok && json_object_get(want, json_string_value(v));
    if (!ok)
        UNIT_FAIL("extremities differ");
    json_t *maps = json_array();
    json_array_foreach(ext, i, v)
    {
        struct dbc *c = db_get();
        json_array_append_new(maps, db_state_group_load(c, group_of(json_string_value(v))));
        db_put(c);
    }
    char why[256];
    struct stateres_ops ops = {inv_fetch, NULL, NULL, NULL};
    json_t *res = stateres_resolve(roomver_get("10"), maps, &ops, why, sizeof why);
    struct dbc *c = db_get();
    json_t *cur = db_current_state(c, room);
    struct db_room r;
    json_t *grp = NULL;
    if (db_rooms_get(c, room, false, &r) == 1) {
        grp = db_state_group_load(c, r.state_group);
        db_room_clear(&r);
    }
    db_put(c);
    if (!res || !json_equal(res, cur)) {
        ok = false;
        UNIT_FAIL("current state is not the resolution of the extremities");
    }
    if (!grp || !json_equal(grp, cur)) {
        ok = false;
        UNIT_FAIL("the room's state group is not its current state");
    }
    json_decref(res);
    json_decref(cur);
    json_decref(grp);
    json_decref(maps);
    json_decref(x);
    json_decref(want);
    return ok;
}

static void random_forks(uint32_t seed)
{
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    inv_cache = json_object();
    json_t *ext = json_pack("[s]", f.bj);
    json_t *pool = json_pack("[s]", f.bj); /* events stored with a state */
    char *bob_member = strdup(f.bj);
    json_t *joins = json_pack("[s]", f.bj); /* bob's accepted joins: any one may authorise */
    int counts[10] = {0};
    for (int round = 0; round < 60; round++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8;
        size_t np = json_array_size(pool);
        json_t *prevs = json_array();
        json_array_append(prevs, json_array_get(pool, np - 1 - (r % (np < 6 ? np : 6))));
        if ((r >> 4) % 3 == 0) {
            json_t *other = json_array_get(pool, (r >> 8) % np);
            if (!json_equal(other, json_array_get(prevs, 0)))
                json_array_append(prevs, other);
        }
        int kind = (int)((r >> 12) % 10);
        char *id = NULL;
        json_t *p;
        if (((r >> 17) ^ (r >> 5)) % 8 == 0 && json_array_size(ext) <= 10) {
            /* alice (local) changes the topic: her event follows every extremity */
            char why[256];
            json_t *t = json_pack("{s:s,s:i}", "topic", "t", "n", round);
            CHECK_INT(room_send(f.room, ALICE, "m.room.topic", "", t, NULL, &id, why, sizeof why),
                      ROOM_OK);
            json_decref(t);
            json_decref(prevs);
            json_array_clear(ext);
            json_array_append_new(ext, json_string(id));
            json_array_append_new(pool, json_string(id));
            free(id);
            if (!invariants_hold(f.room, ext)) {
                UNIT_FAIL("round %d (local send)", round);
                break;
            }
            continue;
        }
        if (kind < 6) {
            const char *auth_m =
                (r >> 20) % 2
                    ? bob_member
                    : json_string_value(json_array_get(joins, (r >> 21) % json_array_size(joins)));
            p = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), prevs,
                   IDS(f.create, f.pl, auth_m), 0, &remote, REMOTE, &id);
        } else {
            const char *m = kind < 8 ? "join" : kind == 8 ? "leave" : "join";
            json_t *c = json_pack("{s:s,s:i}", "membership", m, "n", round);
            /* join rules are an auth event of joins only (auth events selection) */
            p = mk("10", f.room, "m.room.member", BOB, BOB, c, prevs,
                   kind == 8 ? IDS(f.create, f.pl, bob_member)
                             : IDS(f.create, f.pl, f.jr, bob_member),
                   0, &remote, REMOTE, &id);
        }
        enum room_recv rc = recv_(p, NULL);
        if (rc >= 0 && rc < 10)
            counts[rc]++;
        if (rc == ROOM_RECV_ACCEPTED || rc == ROOM_RECV_SOFT_FAILED || rc == ROOM_RECV_REJECTED)
            json_array_append_new(pool, json_string(id));
        if (rc == ROOM_RECV_ACCEPTED) {
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(p, "prev_events"), i, v)
            {
                for (size_t j = 0; j < json_array_size(ext); j++)
                    if (json_equal(json_array_get(ext, j), v)) {
                        json_array_remove(ext, j);
                        break;
                    }
            }
            json_array_append_new(ext, json_string(id));
            if (kind >= 6) {
                free(bob_member);
                bob_member = strdup(id);
                if (kind != 8)
                    json_array_append_new(joins, json_string(id));
            }
        }
        json_decref(p);
        free(id);
        if (!invariants_hold(f.room, ext)) {
            UNIT_FAIL("round %d (answer %d)", round, rc);
            break;
        }
    }
    printf("# random forks: %d accepted, %d rejected, %d soft failed\n", counts[ROOM_RECV_ACCEPTED],
           counts[ROOM_RECV_REJECTED], counts[ROOM_RECV_SOFT_FAILED]);
    free(bob_member);
    json_decref(joins);
    json_decref(ext);
    json_decref(pool);
    json_decref(inv_cache);
    fx_close(&f);
}

TEST(random_forks_keep_the_invariants)
{
    random_forks(12345);
    random_forks(777);
    random_forks(4242);
}

/* v3+ "Handling redactions": a redaction of bob's that arrives before the message it redacts
 * is applied when the message arrives; one that arrives after is applied at once. */
TEST(redactions_early_and_late)
{
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    char *m1 = NULL, *r1 = NULL, *m2 = NULL, *r2 = NULL;
    json_t *pm1 = mk("10", f.room, "m.room.message", NULL, BOB,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "secret"), IDS(f.bj),
                     IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m1);
    json_t *pr1 = mk("10", f.room, "m.room.redaction", NULL, BOB, json_object(), IDS(f.bj),
                     IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &r1);
    json_object_set_new(pr1, "redacts", json_string(m1)); /* v10: at the top level */
    event_set_content_hash(pr1);
    json_object_del(pr1, "signatures");
    event_sign(pr1, roomver_get("10"), REMOTE, &remote);
    free(r1);
    r1 = event_compute_id(pr1, roomver_get("10"));
    CHECK_INT(recv_(pr1, NULL), ROOM_RECV_ACCEPTED); /* the target is not here yet */
    CHECK_INT(recv_(pm1, NULL), ROOM_RECV_ACCEPTED);
    struct db_event e;
    CHECK_INT(standing(m1, &e), 1);
    CHECK(e.redacted_by && strcmp(e.redacted_by, r1) == 0);
    CHECK_INT(json_object_size(json_object_get(e.pdu, "content")), 0);
    db_event_clear(&e);
    /* in order */
    json_t *pm2 = mk("10", f.room, "m.room.message", NULL, BOB,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "oops"), IDS(m1),
                     IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m2);
    CHECK_INT(recv_(pm2, NULL), ROOM_RECV_ACCEPTED);
    json_t *pr2 = mk("10", f.room, "m.room.redaction", NULL, BOB, json_object(), IDS(m2),
                     IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &r2);
    json_object_set_new(pr2, "redacts", json_string(m2));
    event_set_content_hash(pr2);
    json_object_del(pr2, "signatures");
    event_sign(pr2, roomver_get("10"), REMOTE, &remote);
    free(r2);
    r2 = event_compute_id(pr2, roomver_get("10"));
    CHECK_INT(recv_(pr2, NULL), ROOM_RECV_ACCEPTED);
    CHECK_INT(standing(m2, &e), 1);
    CHECK(e.redacted_by && strcmp(e.redacted_by, r2) == 0);
    db_event_clear(&e);
    json_decref(pm1);
    json_decref(pr1);
    json_decref(pm2);
    json_decref(pr2);
    free(m1);
    free(r1);
    free(m2);
    free(r2);
    fx_close(&f);
}

/* The fake remote's answers to the engine's fetches. */
static json_t *remote_has;    /* event ID -> PDU, for get_event */
static json_t *missing_reply; /* the answer to get_missing_events */
static int fetches;
static int64_t asked_min_depth; /* the last get_missing_events' min_depth */

static json_t *fake_get_event(void *ctx, const char *server, const char *room_id,
                              const char *event_id)
{
    fetches++;
    return json_deep_copy(json_object_get(remote_has, event_id));
}

static json_t *fake_missing(void *ctx, const char *server, const char *room_id,
                            const json_t *earliest, const json_t *latest, int limit,
                            int64_t min_depth)
{
    fetches++;
    asked_min_depth = min_depth;
    return missing_reply ? json_deep_copy(missing_reply) : NULL;
}

TEST(fetching_missing_prev_and_auth)
{
    struct room_fetcher fetcher = {fake_get_event, fake_missing, NULL, NULL, NULL};
    room_set_fetcher(&fetcher);
    remote_has = json_object();
    char *m1 = NULL, *m2 = NULL, *m3 = NULL, *d1 = NULL, *id = NULL, why[300];
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    /* m1 never arrives; m2 (after it) does: the engine asks for the gap */
    json_t *p1 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m1);
    json_t *p2 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(m1),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m2);
    missing_reply = json_pack("[O]", p1);
    CHECK_INT(room_receive_pdu_fetching(REMOTE, p2, &id, why, sizeof why), ROOM_RECV_ACCEPTED);
    CHECK_STR(id, m2);
    free(id);
    struct db_event e;
    CHECK_INT(standing(m1, &e), 1);
    CHECK(e.stream > 0 && !e.outlier);
    db_event_clear(&e);
    CHECK(only_extremity(f.room, m2));
    json_decref(missing_reply);
    missing_reply = NULL;
    /* d1 (bob's new display name) never arrives, m3 lists it among its auth events: fetched
     * by ID and stored as an outlier, then m3 passes */
    json_t *pd = mk("10", f.room, "m.room.member", BOB, BOB,
                    json_pack("{s:s,s:s}", "membership", "join", "displayname", "B"), IDS(m2),
                    IDS(f.create, f.pl, f.bj, f.jr), 0, &remote, REMOTE, &d1);
    json_object_set(remote_has, d1, pd);
    json_t *p3 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(m2),
                    IDS(f.create, f.pl, d1), 0, &remote, REMOTE, &m3);
    CHECK_INT(room_receive_pdu_fetching(REMOTE, p3, &id, why, sizeof why), ROOM_RECV_ACCEPTED);
    free(id);
    CHECK_INT(standing(d1, &e), 1);
    CHECK(e.outlier && e.stream == 0 && e.state_group == 0);
    db_event_clear(&e);
    CHECK(only_extremity(f.room, m3));
    /* now d1 itself arrives: the outlier joins the timeline (a fork off m2, resolved) */
    CHECK_INT(recv_(pd, NULL), ROOM_RECV_ACCEPTED);
    CHECK_INT(standing(d1, &e), 1);
    CHECK(!e.outlier && e.stream > 0 && e.state_group > 0);
    db_event_clear(&e);
    json_t *x = extremities(f.room);
    CHECK_INT(json_array_size(x), 2);
    json_decref(x);
    char *cm = cur(f.room, "m.room.member", BOB);
    CHECK_STR(cm, d1);
    free(cm);
    CHECK_INT(recv_(pd, NULL), ROOM_RECV_DUPLICATE);
    /* a gap the remote cannot fill stays missing, within the fetch budget */
    json_t *p4 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content),
                    IDS("$never"), IDS(f.create, f.pl, f.bj), 30, &remote, REMOTE, &id);
    fetches = 0;
    char *got = NULL;
    CHECK_INT(room_receive_pdu_fetching(REMOTE, p4, &got, why, sizeof why), ROOM_RECV_MISSING_PREV);
    CHECK(fetches >= 1 && fetches <= 100);
    free(got);
    free(id);
    json_decref(p4);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(pd);
    json_decref(remote_has);
    remote_has = NULL;
    room_set_fetcher(NULL);
    free(m1);
    free(m2);
    free(m3);
    free(d1);
    fx_close(&f);
}

/* The fake remote's /state_ids: the room's current state here (what the state before the
 * asked-for event is in the test), with itself as the auth chain. */
static json_t *fake_state_ids(void *ctx, const char *server, const char *room_id,
                              const char *event_id)
{
    fetches++;
    struct dbc *c = db_get();
    json_t *st = c ? db_current_state(c, room_id) : NULL;
    db_put(c);
    json_t *ids = json_array(), *v;
    const char *k;
    json_object_foreach(st, k, v) json_array_append(ids, v);
    json_decref(st);
    return json_pack("{s:O,s:o}", "pdu_ids", ids, "auth_chain_ids", ids);
}

/* get_missing_events cannot close a gap: the state before the missing prev event is asked
 * for, the prev event is stored as an outlier with that state, and the event is placed. */
TEST(state_fallback_for_missing_prev)
{
    struct room_fetcher fetcher = {fake_get_event, fake_missing, fake_state_ids, NULL, NULL};
    room_set_fetcher(&fetcher);
    remote_has = json_object();
    missing_reply = NULL;
    struct fx f;
    if (fx_open(&f) < 0)
        return;
    char *m1 = NULL, *m2 = NULL, *m3 = NULL, *id = NULL, why[300];
    json_t *p1 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(f.bj),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m1);
    json_t *p2 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(m1),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m2);
    json_t *p3 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content), IDS(m2),
                    IDS(f.create, f.pl, f.bj), 0, &remote, REMOTE, &m3);
    json_object_set(remote_has, m2, p2);
    CHECK_INT(room_receive_pdu_fetching(REMOTE, p3, &id, why, sizeof why), ROOM_RECV_ACCEPTED);
    CHECK_STR(id, m3);
    free(id);
    struct db_event e;
    CHECK_INT(standing(m2, &e), 1);
    CHECK(e.outlier && e.stream == 0 && e.state_group > 0);
    db_event_clear(&e);
    CHECK_INT(standing(m1, &e), 0);
    CHECK_INT(standing(m3, &e), 1);
    CHECK(!e.outlier && e.stream > 0);
    db_event_clear(&e);
    /* without /state_ids the gap stays */
    room_set_fetcher(&(struct room_fetcher){fake_get_event, fake_missing, NULL, NULL, NULL});
    char *m4 = NULL;
    json_t *p4 = mk("10", f.room, "m.room.message", NULL, BOB, json_deep_copy(f.content),
                    IDS("$gone"), IDS(f.create, f.pl, f.bj), 40, &remote, REMOTE, &m4);
    CHECK_INT(room_receive_pdu_fetching(REMOTE, p4, &id, why, sizeof why), ROOM_RECV_MISSING_PREV);
    free(id);
    free(m4);
    json_decref(p4);
    room_set_fetcher(NULL);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(remote_has);
    remote_has = NULL;
    free(m1);
    free(m2);
    free(m3);
    fx_close(&f);
}

/* A room made entirely on remote.test by @rob, then joined by alice through send_join's
 * answer: state and auth chain as outliers, the join with that state. */
static char *send_join_flow(const char *version, json_t *pl_extra)
{
    const struct room_version *rv = roomver_get(version);
    const char *ROB = "@rob:" REMOTE;
    char *cid = NULL, *rj = NULL, *plid = NULL, *jrid = NULL, *aj = NULL, *room = NULL;
    bool v12 = rv->room_id_from_create;
    json_t *cc = json_pack("{s:s}", "room_version", version);
    if (!rv->implicit_room_creator)
        json_object_set_new(cc, "creator", json_string(ROB));
    char rid[300];
    json_t *create;
    if (v12) {
        create = mk(version, NULL, "m.room.create", "", ROB, cc, json_array(), json_array(), 1,
                    &remote, REMOTE, &cid);
        snprintf(rid, sizeof rid, "!%s", cid + 1);
    } else {
        snprintf(rid, sizeof rid, "!sj%s:%s", version, REMOTE);
        create = mk(version, rid, "m.room.create", "", ROB, cc, json_array(), json_array(), 1,
                    &remote, REMOTE, &cid);
    }
    room = strdup(rid);
    json_t *a1 = v12 ? json_array() : IDS(cid);
    json_t *j = mk(version, room, "m.room.member", ROB, ROB, member("join"), IDS(cid), a1, 2,
                   &remote, REMOTE, &rj);
    json_t *plc =
        json_pack("{s:{s:i},s:i,s:i}", "users", ROB, 100, "users_default", 0, "state_default", 50);
    if (v12)
        json_object_del(json_object_get(plc, "users"), ROB);
    if (pl_extra)
        json_object_update(json_object_get(plc, "users"), pl_extra);
    json_t *pl = mk(version, room, "m.room.power_levels", "", ROB, plc, IDS(rj),
                    v12 ? IDS(rj) : IDS(cid, rj), 3, &remote, REMOTE, &plid);
    json_t *jr =
        mk(version, room, "m.room.join_rules", "", ROB, json_pack("{s:s}", "join_rule", "public"),
           IDS(plid), v12 ? IDS(rj, plid) : IDS(cid, rj, plid), 4, &remote, REMOTE, &jrid);
    json_t *join = mk(version, room, "m.room.member", ALICE, ALICE, member("join"), IDS(jrid),
                      v12 ? IDS(plid, jrid) : IDS(cid, plid, jrid), 5, &own, LOCAL, &aj);
    json_t *state = json_pack("[O,O,O,O]", create, j, pl, jr);
    json_t *chain = json_pack("[O,O,O,O]", jr, pl, j, create); /* any order */
    char *id = NULL, why[300] = "";
    enum room_recv rc = room_receive_state(room, version, state, chain, join, &id, why, sizeof why);
    if (rc != ROOM_RECV_ACCEPTED)
        UNIT_FAIL("v%s: send_join state: %d %s", version, rc, why);
    CHECK_STR(id, aj);
    free(id);
    CHECK(only_extremity(room, aj));
    char *m = cur(room, "m.room.member", ALICE);
    CHECK_STR(m, aj);
    free(m);
    struct db_event e;
    CHECK_INT(standing(plid, &e), 1);
    CHECK(e.outlier && e.stream == 0 && !e.rejected);
    db_event_clear(&e);
    CHECK_INT(standing(aj, &e), 1);
    CHECK(!e.outlier && e.stream > 0 && e.state_group > 0);
    db_event_clear(&e);
    /* rob talks, alice answers */
    char *mid = NULL, *lid = NULL;
    json_t *msg = mk(version, room, "m.room.message", NULL, ROB,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "welcome"), IDS(aj),
                     v12 ? IDS(plid, rj) : IDS(cid, plid, rj), 0, &remote, REMOTE, &mid);
    CHECK_INT(recv_(msg, NULL), ROOM_RECV_ACCEPTED);
    json_t *body = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "thanks");
    CHECK_INT(room_send(room, ALICE, "m.room.message", NULL, body, NULL, &lid, why, sizeof why),
              ROOM_OK);
    CHECK(lid && only_extremity(room, lid));
    json_decref(body);
    json_decref(msg);
    free(mid);
    free(lid);
    json_decref(state);
    json_decref(chain);
    json_decref(create);
    json_decref(j);
    json_decref(pl);
    json_decref(jr);
    json_decref(join);
    free(cid);
    free(rj);
    free(plid);
    free(jrid);
    free(aj);
    return room;
}

TEST(send_join_v10)
{
    free(send_join_flow("10", NULL));
}

TEST(send_join_v12)
{
    free(send_join_flow("12", NULL));
}

TEST(send_join_v3_with_float_power_level)
{
    json_t *extra = json_pack("{s:f,s:f}", "@mod:" REMOTE, 50.57, ALICE, 100.0);
    char *room = send_join_flow("3", extra);
    json_decref(extra);
    /* alice (100.0) may upgrade the room: the floats become integers (v10 refuses floats) */
    char *repl = NULL, why[256];
    enum room_rc rc = room_upgrade(room, ALICE, "10", NULL, &repl, why, sizeof why);
    if (rc != ROOM_OK)
        UNIT_FAIL("upgrade: %d %s", rc, why);
    char *plid = repl ? cur(repl, "m.room.power_levels", "") : NULL;
    struct db_event e;
    if (plid && standing(plid, &e) == 1) {
        json_t *users = json_object_get(json_object_get(e.pdu, "content"), "users");
        CHECK(json_is_integer(json_object_get(users, "@mod:" REMOTE)));
        CHECK_INT(json_integer_value(json_object_get(users, "@mod:" REMOTE)), 50);
        db_event_clear(&e);
    } else {
        UNIT_FAIL("no power levels in the new room");
    }
    free(plid);
    free(repl);
    free(room);
}

/* After a join through send_join, get_missing_events over a fork reaching back before the join
 * brings rob's own join (an outlier here, from the send_join answer): placing it needs the
 * state before it, i.e. after the create, also an outlier here. That is known without asking:
 * neither get_missing_events nor /state_ids for the create (as test_federation_forks' outage
 * logs showed). And get_missing_events is never asked below our own history, where it finds
 * only such outliers. */
static void pre_join_outlier_placed_locally(const char *version)
{
    const struct room_version *rv = roomver_get(version);
    char *room = send_join_flow(version, NULL);
    char *rj = room ? cur(room, "m.room.member", "@rob:" REMOTE) : NULL;
    struct db_event e;
    if (!rj || standing(rj, &e) != 1) {
        UNIT_FAIL("v%s: rob's join not stored", version);
        free(rj);
        free(room);
        return;
    }
    CHECK(e.outlier && e.state_group <= 0);
    json_t *pdu = json_deep_copy(e.pdu);
    db_event_clear(&e);
    if (rv->event_ids != ROOMVER_EVID_V1)
        json_object_del(pdu, "event_id");
    room_set_fetcher(&(struct room_fetcher){fake_get_event, fake_missing, fake_state_ids, NULL,
                                            NULL});
    remote_has = json_object();
    missing_reply = NULL;
    char *id = NULL, why[300] = "";
    /* a gap: get_missing_events is not asked below alice's join (depth 5), where the remote's
     * walk would only find what the send_join answer brought */
    char *plid = cur(room, "m.room.power_levels", ""), *cid = cur(room, "m.room.create", "");
    char *m = NULL;
    json_t *gap = mk(version, room, "m.room.message", NULL, "@rob:" REMOTE,
                     json_pack("{s:s,s:s}", "msgtype", "m.text", "body", "late"), IDS("$gone"),
                     rv->room_id_from_create ? IDS(plid, rj) : IDS(cid, plid, rj), 9, &remote,
                     REMOTE, &m);
    asked_min_depth = -1;
    CHECK_INT(room_receive_pdu_fetching(REMOTE, gap, &id, why, sizeof why),
              ROOM_RECV_MISSING_PREV);
    free(id);
    id = NULL;
    CHECK_INT(asked_min_depth, 5); /* before: 0 (9 less the limit) */
    json_decref(gap);
    free(m);
    free(plid);
    free(cid);
    fetches = 0;
    enum room_recv rc = room_receive_pdu_fetching(REMOTE, pdu, &id, why, sizeof why);
    if (rc != ROOM_RECV_ACCEPTED)
        UNIT_FAIL("v%s: rob's join: %d %s", version, rc, why);
    CHECK_INT(fetches, 0); /* before: get_missing_events, then /state_ids of the create */
    CHECK_INT(standing(rj, &e), 1);
    CHECK(!e.outlier && e.state_group > 0);
    db_event_clear(&e);
    room_set_fetcher(NULL);
    json_decref(remote_has);
    remote_has = NULL;
    json_decref(pdu);
    free(id);
    free(rj);
    free(room);
}

TEST(pre_join_outlier_placed_locally_v10)
{
    pre_join_outlier_placed_locally("10");
}

TEST(pre_join_outlier_placed_locally_v12)
{
    pre_join_outlier_placed_locally("12");
}

int main(void)
{
    if (sodium_init() < 0 || dbtest_open("receive") < 0)
        return 1;
    sign_key_generate(&own);
    sign_key_generate(&remote);
    sign_key_generate(&stranger);
    snprintf(remote.key_id, sizeof remote.key_id, "ed25519:r1");
    snprintf(stranger.key_id, sizeof stranger.key_id, "ed25519:r1"); /* same ID, other key */
    ids_set_local_server(LOCAL);
    keyring_set_own(&own);
    keyring_set_fetcher(fake_lookup, NULL);
    room_init(LOCAL, &own, "10", NULL);
    RUN(accept_join_and_message);
    RUN(drops_and_retries);
    RUN(missing_prev_and_auth);
    RUN(rejection_and_soft_failure);
    RUN(fork_resolves_current_state);
    RUN(restricted_join_needs_the_authorising_server);
    RUN(version_1_events);
    RUN(linear_messages_timing);
    RUN(random_forks_keep_the_invariants);
    RUN(redactions_early_and_late);
    RUN(fetching_missing_prev_and_auth);
    RUN(state_fallback_for_missing_prev);
    RUN(send_join_v10);
    RUN(send_join_v12);
    RUN(send_join_v3_with_float_power_level);
    RUN(pre_join_outlier_placed_locally_v10);
    RUN(pre_join_outlier_placed_locally_v12);
    dbtest_close();
    return unit_done();
}
