/* readfork_test.c - reads of "the state at a position" other than /sync's (server/roomread.c:
 * /members?at=, /messages' lazy-loaded `state`) over rooms whose DAG is not a line, against a
 * real PostgreSQL, with a fake remote server as tests/storage/syncfork_test.c:
 *   1. /members at a /messages start token past the newest event, after a fork whose other
 *      branch was stored last: the room's state, not the state after that branch's tip;
 *   2. /members at a timeline's prev_batch: the state before its first event, as /sync's
 *      state section has it (a state event first: without it);
 *   3. /messages' lazy-loaded members after a fork: each sender's member event as of their
 *      own event, not the state after the chunk's first event (of the other branch).
 * Each fails with the (depth, stream) readings these replaced. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/keyring.h"
#include "server/room.h"
#include "server/statemap.h"
#include "server/sync.h"
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

#include "tests/storage/fakeroom.h"

static struct sign_key own;

/* PDUs of `sender`'s and of bob's: see fakeroom_pdu. */
static json_t *mk_by(const char *sender, const char *room, const char *type, const char *sk,
                     json_t *content, json_t *prevs, json_t *auths, char **id)
{
    return fakeroom_pdu(sender, room, type, sk, content, prevs, auths, 0, id);
}

static json_t *mk(const char *room, const char *type, const char *sk, json_t *content,
                  json_t *prevs, json_t *auths, char **id)
{
    return mk_by(BOB, room, type, sk, content, prevs, auths, id);
}

/* --- tests ---------------------------------------------------------------------------------- */

/* The member event of `user` in a /members answer (event ID, malloc'd; NULL when absent). */
static char *member_in(const json_t *chunk, const char *user)
{
    size_t i;
    json_t *e;
    json_array_foreach(chunk, i, e)
    {
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        if (sk && strcmp(sk, user) == 0)
            return strdup(json_string_value(json_object_get(e, "event_id")));
    }
    return NULL;
}

static char *members_at(const char *room, const char *at, const char *user)
{
    char why[256];
    json_t *chunk = NULL;
    CHECK_INT(room_members(room, ALICE, at, NULL, NULL, &chunk, why, sizeof why), ROOM_OK);
    char *id = member_in(chunk, user);
    json_decref(chunk);
    return id;
}

/* 1. bob renames himself (t, on bj); d, a message on bj at t's depth, arrives after t. The
 * newest event by (depth, stream) is d, whose state has no t; the room's state has t. */
TEST(members_at_start_token_after_a_fork)
{
    struct fx fx;
    char *t = NULL, *d = NULL, why[256];
    if (fx_open(&fx) < 0)
        return;
    json_t *pt = mk(fx.room, "m.room.member", BOB, renamed("Bob (t)"), IDS(fx.bj),
                    IDS(fx.create, fx.pl, fx.bj, fx.jr), &t);
    CHECK_INT(recv_(pt), ROOM_RECV_ACCEPTED);
    json_t *pd = mk(fx.room, "m.room.message", NULL, text("d"), IDS(fx.bj),
                    IDS(fx.create, fx.pl, fx.bj), &d);
    CHECK_INT(recv_(pd), ROOM_RECV_ACCEPTED);
    CHECK_INT(depth_of(d), depth_of(t));
    char *now = cur(fx.room, "m.room.member", BOB);
    CHECK_STR(now, t);
    free(now);
    json_t *page = NULL;
    CHECK_INT(room_messages(fx.room, ALICE, NULL, NULL, 'b', 1, NULL, &page, why, sizeof why),
              ROOM_OK);
    const char *start = json_string_value(json_object_get(page, "start"));
    CHECK(start != NULL);
    char *at = start ? members_at(fx.room, start, BOB) : NULL;
    CHECK_STR(at, t); /* before the fix: bj, the state after d */
    free(at);
    json_decref(page);
    json_decref(pt);
    json_decref(pd);
    free(t);
    free(d);
    fx_close(&fx);
}

/* 2. a line t (bob renames himself), a, b; alice's initial sync with a timeline of 3 starts at
 * t: its state section has bj, and /members at its prev_batch says the same. */
TEST(members_at_prev_batch_is_the_state_before_the_timeline)
{
    struct fx fx;
    char *t = NULL, *a = NULL, *b = NULL;
    if (fx_open(&fx) < 0)
        return;
    json_t *pt = mk(fx.room, "m.room.member", BOB, renamed("Bob (line)"), IDS(fx.bj),
                    IDS(fx.create, fx.pl, fx.bj, fx.jr), &t);
    CHECK_INT(recv_(pt), ROOM_RECV_ACCEPTED);
    json_t *pa =
        mk(fx.room, "m.room.message", NULL, text("a"), IDS(t), IDS(fx.create, fx.pl, t), &a);
    CHECK_INT(recv_(pa), ROOM_RECV_ACCEPTED);
    json_t *pb =
        mk(fx.room, "m.room.message", NULL, text("b"), IDS(a), IDS(fx.create, fx.pl, t), &b);
    CHECK_INT(recv_(pb), ROOM_RECV_ACCEPTED);
    json_t *filter = json_pack("{s:{s:{s:i}}}", "room", "timeline", "limit", 3);
    struct sync_req q = {.user_id = ALICE, .filter = filter};
    struct sync_result r = {0};
    CHECK_INT(sync_compute(&q, &r), 0);
    json_t *entry =
        json_object_get(json_object_get(json_object_get(r.body, "rooms"), "join"), fx.room);
    json_t *tl = json_object_get(entry, "timeline");
    const char *first = json_string_value(
        json_object_get(json_array_get(json_object_get(tl, "events"), 0), "event_id"));
    CHECK_STR(first, t);
    char *in_state = member_in(json_object_get(json_object_get(entry, "state"), "events"), BOB);
    CHECK_STR(in_state, fx.bj);
    const char *pb_tok = json_string_value(json_object_get(tl, "prev_batch"));
    CHECK(pb_tok != NULL);
    char *at = pb_tok ? members_at(fx.room, pb_tok, BOB) : NULL;
    CHECK_STR(at, fx.bj); /* before the fix: t, the state after the first event */
    free(at);
    free(in_state);
    sync_result_clear(&r);
    json_decref(filter);
    json_decref(pt);
    json_decref(pa);
    json_decref(pb);
    free(t);
    free(a);
    free(b);
    fx_close(&fx);
}

/* 3. carol joins (cj, on bj) and writes cm; bob writes bm on bj at cm's depth, stored last.
 * /messages backwards from the end starts with bm, whose state has no carol; her member event
 * comes from the state after her own message. */
TEST(messages_lazy_members_after_a_fork)
{
    struct fx fx;
    char *cj = NULL, *cm = NULL, *bm = NULL, why[256];
    if (fx_open(&fx) < 0)
        return;
    json_t *pcj =
        mk_by(CAROL, fx.room, "m.room.member", CAROL, json_pack("{s:s}", "membership", "join"),
              IDS(fx.bj), IDS(fx.create, fx.pl, fx.jr), &cj);
    CHECK_INT(recv_(pcj), ROOM_RECV_ACCEPTED);
    json_t *pcm = mk_by(CAROL, fx.room, "m.room.message", NULL, text("cm"), IDS(cj),
                        IDS(fx.create, fx.pl, cj), &cm);
    CHECK_INT(recv_(pcm), ROOM_RECV_ACCEPTED);
    json_t *pbm0 = NULL;
    char *b0 = NULL;
    /* bob's message two deep on bj, so that it is at cm's depth */
    pbm0 = mk(fx.room, "m.room.message", NULL, text("b0"), IDS(fx.bj), IDS(fx.create, fx.pl, fx.bj),
              &b0);
    CHECK_INT(recv_(pbm0), ROOM_RECV_ACCEPTED);
    json_t *pbm =
        mk(fx.room, "m.room.message", NULL, text("bm"), IDS(b0), IDS(fx.create, fx.pl, fx.bj), &bm);
    CHECK_INT(recv_(pbm), ROOM_RECV_ACCEPTED);
    CHECK_INT(depth_of(bm), depth_of(cm));
    json_t *filter = json_pack("{s:b}", "lazy_load_members", 1);
    json_t *page = NULL;
    CHECK_INT(room_messages(fx.room, ALICE, NULL, NULL, 'b', 4, filter, &page, why, sizeof why),
              ROOM_OK);
    json_t *chunk = json_object_get(page, "chunk");
    CHECK_STR(json_string_value(json_object_get(json_array_get(chunk, 0), "event_id")), bm);
    json_t *state = json_object_get(page, "state");
    char *c_mem = member_in(state, CAROL), *b_mem = member_in(state, BOB);
    CHECK_STR(c_mem, cj); /* before the fix: missing (the state after bm) */
    CHECK_STR(b_mem, fx.bj);
    free(c_mem);
    free(b_mem);
    json_decref(page);
    /* forwards from the start: the chunk opens before either sender joined */
    CHECK_INT(room_messages(fx.room, ALICE, "t0_0", NULL, 'f', 20, filter, &page, why, sizeof why),
              ROOM_OK);
    state = json_object_get(page, "state");
    c_mem = member_in(state, CAROL);
    b_mem = member_in(state, BOB);
    CHECK_STR(c_mem, cj);
    CHECK_STR(b_mem, fx.bj);
    free(c_mem);
    free(b_mem);
    json_decref(page);
    json_decref(filter);
    json_decref(pcj);
    json_decref(pcm);
    json_decref(pbm0);
    json_decref(pbm);
    free(cj);
    free(cm);
    free(b0);
    free(bm);
    fx_close(&fx);
}

int main(void)
{
    if (sodium_init() < 0 || dbtest_open("readfork") < 0)
        return 1;
    sign_key_generate(&own);
    sign_key_generate(&remote);
    snprintf(remote.key_id, sizeof remote.key_id, "ed25519:r1");
    ids_set_local_server(LOCAL);
    keyring_set_own(&own);
    keyring_set_fetcher(fakeremote_lookup, NULL);
    room_init(LOCAL, &own, "10", NULL);
    RUN(members_at_start_token_after_a_fork);
    RUN(members_at_prev_batch_is_the_state_before_the_timeline);
    RUN(messages_lazy_members_after_a_fork);
    dbtest_close();
    return unit_done();
}
