/* syncfork_test.c - /sync's state section (server/sync_room.c step 2) over rooms whose DAG is
 * not a line, against a real PostgreSQL: events from a fake remote server ("remote.test",
 * its key served by a fake key fetcher) go through the receive path (server/room_receive.c)
 * and alice (local) syncs with sync_compute. A state change the timeline does not show must
 * reach the client in `state`:
 *   1. a fork whose branches interleave in the stream (as a catch-up through
 *      /get_missing_events brings them): the state before the first event of a limited
 *      timeline is read from the DAG, not from the stream neighbour of the other branch;
 *   2. the same fork with the timeline starting on the branch without the change: the state
 *      at the end of the range counts;
 *   3. a gap closed through /state_ids (server/room_outlier.c): the change before the gap
 *      only shows in the state of the event after it; an unlimited timeline gets it too.
 * Found by tests/e2e/test_federation_forks.py (the topic of an outage never reached /sync). */
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

#include "tests/storage/fakeroom.h"

static struct sign_key own;

/* A PDU of bob's: see fakeroom_pdu. */
static json_t *mk(const char *room, const char *type, const char *sk, json_t *content,
                  json_t *prevs, json_t *auths, int64_t depth, char **id)
{
    return fakeroom_pdu(BOB, room, type, sk, content, prevs, auths, depth, id);
}

/* --- syncing -------------------------------------------------------------------------------- */

/* Alice's sync from `since` (NULL: initial) with a timeline limit; the room's entry in
 * rooms.join (new reference, NULL when absent); *next the token to go on from. */
static json_t *sync_room(const struct sync_token *since, int limit, const char *room,
                         struct sync_token *next)
{
    json_t *filter = json_pack("{s:{s:{s:i}}}", "room", "timeline", "limit", limit);
    struct sync_req q = {.user_id = ALICE, .has_since = since != NULL, .filter = filter};
    if (since)
        q.since = *since;
    struct sync_result r = {0};
    json_t *entry = NULL;
    if (sync_compute(&q, &r) == 0) {
        entry = json_incref(
            json_object_get(json_object_get(json_object_get(r.body, "rooms"), "join"), room));
        *next = r.next;
        sync_result_clear(&r);
    }
    json_decref(filter);
    return entry;
}

/* Is event `id` in the entry's section ("timeline" or "state")? */
static bool has_event(const json_t *entry, const char *section, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(entry, section), "events"), i, e)
    {
        const char *eid = json_string_value(json_object_get(e, "event_id"));
        if (eid && strcmp(eid, id) == 0)
            return true;
    }
    return false;
}

static bool limited(const json_t *entry)
{
    return json_is_true(json_object_get(json_object_get(entry, "timeline"), "limited"));
}

/* --- tests ---------------------------------------------------------------------------------- */

/* bob renames himself (t, after bj) and writes f on it; d, written on bj without t (the other
 * branch, at t's depth), arrives after f; m merges both. Stream: t f d m. */
static void fork_ladder(const struct fx *fx, char **t, char **f, char **d, char **m)
{
    json_t *pt = mk(fx->room, "m.room.member", BOB, renamed("Bob (t)"), IDS(fx->bj),
                    IDS(fx->create, fx->pl, fx->bj, fx->jr), 0, t);
    CHECK_INT(recv_(pt), ROOM_RECV_ACCEPTED);
    json_t *pf = mk(fx->room, "m.room.message", NULL, text("f"), IDS(*t),
                    IDS(fx->create, fx->pl, *t), 0, f);
    CHECK_INT(recv_(pf), ROOM_RECV_ACCEPTED);
    json_t *pd = mk(fx->room, "m.room.message", NULL, text("d"), IDS(fx->bj),
                    IDS(fx->create, fx->pl, fx->bj), 0, d);
    CHECK_INT(recv_(pd), ROOM_RECV_ACCEPTED);
    CHECK_INT(depth_of(*d), depth_of(*t));
    json_t *pm = mk(fx->room, "m.room.message", NULL, text("m"), IDS(*f, *d),
                    IDS(fx->create, fx->pl, *t), 0, m);
    CHECK_INT(recv_(pm), ROOM_RECV_ACCEPTED);
    char *now = cur(fx->room, "m.room.member", BOB);
    CHECK_STR(now, *t);
    free(now);
    json_decref(pt);
    json_decref(pf);
    json_decref(pd);
    json_decref(pm);
}

/* 1. limited timeline [f d m]: the state before f (in the DAG) has t; its stream neighbour
 * below (d, same depth as t, stored later) does not. */
TEST(limited_timeline_after_a_fork_starts_from_the_dag)
{
    struct fx fx;
    char *t = NULL, *f = NULL, *d = NULL, *m = NULL;
    struct sync_token since, next;
    if (fx_open(&fx) < 0)
        return;
    json_decref(sync_room(NULL, 10, fx.room, &since));
    fork_ladder(&fx, &t, &f, &d, &m);
    json_t *e = sync_room(&since, 3, fx.room, &next);
    CHECK(e != NULL);
    CHECK(limited(e));
    CHECK(has_event(e, "timeline", f) && has_event(e, "timeline", d) &&
          has_event(e, "timeline", m));
    CHECK(!has_event(e, "timeline", t));
    CHECK(has_event(e, "state", t)); /* before the fix: state [] and t never sent */
    json_decref(e);
    free(t);
    free(f);
    free(d);
    free(m);
    fx_close(&fx);
}

/* 2. limited timeline [d m]: the state before d lacks t, the state after m has it. (The old
 * stream-neighbour reading passed this one by luck: below d in (depth, stream) lay t.) */
TEST(limited_timeline_on_the_other_branch_gets_the_end_state)
{
    struct fx fx;
    char *t = NULL, *f = NULL, *d = NULL, *m = NULL;
    struct sync_token since, next;
    if (fx_open(&fx) < 0)
        return;
    json_decref(sync_room(NULL, 10, fx.room, &since));
    fork_ladder(&fx, &t, &f, &d, &m);
    json_t *e = sync_room(&since, 2, fx.room, &next);
    CHECK(e != NULL);
    CHECK(limited(e));
    CHECK(has_event(e, "timeline", d) && has_event(e, "timeline", m));
    CHECK(has_event(e, "state", t));
    json_decref(e);
    /* and nothing is repeated once the client has it */
    e = sync_room(&next, 2, fx.room, &next);
    CHECK(e == NULL || !has_event(e, "state", t));
    json_decref(e);
    free(t);
    free(f);
    free(d);
    free(m);
    fx_close(&fx);
}

/* The fake remote: events by ID, no /get_missing_events, and /state_ids answering the state
 * before g: the current state here with bob's member event replaced by `gap_member`. */
static json_t *remote_has;
static const char *gap_member;

static json_t *fake_get_event(void *ctx, const char *server, const char *room_id,
                              const char *event_id)
{
    return json_deep_copy(json_object_get(remote_has, event_id));
}

static json_t *fake_missing(void *ctx, const char *server, const char *room_id,
                            const json_t *earliest, const json_t *latest, int limit,
                            int64_t min_depth)
{
    return NULL;
}

static json_t *fake_state_ids(void *ctx, const char *server, const char *room_id,
                              const char *event_id)
{
    struct dbc *c = db_get();
    json_t *st = c ? db_current_state(c, room_id) : NULL;
    db_put(c);
    char *k = statemap_key("m.room.member", BOB);
    if (st && k)
        json_object_set_new(st, k, json_string(gap_member));
    free(k);
    json_t *list = json_array(), *v;
    const char *key;
    json_object_foreach(st, key, v) json_array_append(list, v);
    json_decref(st);
    return json_pack("{s:O,s:o}", "pdu_ids", list, "auth_chain_ids", list);
}

/* 3. bob renames himself (t) and writes g, neither of which reaches us; n (after g) does:
 * g is stored as an outlier with the state /state_ids gives (t in it), n on top. The
 * timeline [n] is not limited, yet the state before n is not the state at since. */
TEST(gap_closed_through_state_ids_shows_in_state)
{
    struct fx fx;
    char *t = NULL, *g = NULL, *n = NULL, *id = NULL, why[300];
    struct sync_token since, next;
    if (fx_open(&fx) < 0)
        return;
    json_decref(sync_room(NULL, 10, fx.room, &since));
    int64_t d0 = depth_of(fx.bj);
    json_t *pt = mk(fx.room, "m.room.member", BOB, renamed("Bob (gap)"), IDS(fx.bj),
                    IDS(fx.create, fx.pl, fx.bj, fx.jr), 0, &t);
    json_t *pg = mk(fx.room, "m.room.message", NULL, text("g"), IDS(t),
                    IDS(fx.create, fx.pl, t), d0 + 2, &g);
    json_t *pn = mk(fx.room, "m.room.message", NULL, text("n"), IDS(g),
                    IDS(fx.create, fx.pl, t), d0 + 3, &n);
    remote_has = json_pack("{s:O,s:O}", t, pt, g, pg);
    gap_member = t;
    room_set_fetcher(&(struct room_fetcher){fake_get_event, fake_missing, fake_state_ids, NULL,
                                            NULL});
    CHECK_INT(room_receive_pdu_fetching(REMOTE, pn, &id, why, sizeof why), ROOM_RECV_ACCEPTED);
    room_set_fetcher(NULL);
    struct db_event ev;
    struct dbc *c = db_get();
    CHECK_INT(c ? db_events_get(c, g, &ev) : -1, 1);
    db_put(c);
    CHECK(ev.outlier && ev.stream == 0); /* g came as an outlier with its state */
    db_event_clear(&ev);
    json_t *e = sync_room(&since, 10, fx.room, &next);
    CHECK(e != NULL);
    CHECK(!limited(e));
    CHECK(has_event(e, "timeline", n));
    CHECK(has_event(e, "state", t)); /* before the fix: state [] ("the timeline carries it") */
    json_decref(e);
    json_decref(pt);
    json_decref(pg);
    json_decref(pn);
    json_decref(remote_has);
    remote_has = NULL;
    free(id);
    free(t);
    free(g);
    free(n);
    fx_close(&fx);
}

/* A line (no fork): an unlimited incremental sync still has an empty state section, and a
 * limited one only what changed before the timeline. */
TEST(linear_room_unchanged)
{
    struct fx fx;
    char *t = NULL, *a = NULL, *b = NULL;
    struct sync_token since, next;
    if (fx_open(&fx) < 0)
        return;
    json_decref(sync_room(NULL, 10, fx.room, &since));
    json_t *pt = mk(fx.room, "m.room.member", BOB, renamed("Bob (line)"), IDS(fx.bj),
                    IDS(fx.create, fx.pl, fx.bj, fx.jr), 0, &t);
    CHECK_INT(recv_(pt), ROOM_RECV_ACCEPTED);
    json_t *pa = mk(fx.room, "m.room.message", NULL, text("a"), IDS(t),
                    IDS(fx.create, fx.pl, t), 0, &a);
    CHECK_INT(recv_(pa), ROOM_RECV_ACCEPTED);
    json_t *pb = mk(fx.room, "m.room.message", NULL, text("b"), IDS(a),
                    IDS(fx.create, fx.pl, t), 0, &b);
    CHECK_INT(recv_(pb), ROOM_RECV_ACCEPTED);
    json_t *e = sync_room(&since, 10, fx.room, &next);
    CHECK(e && !limited(e) && has_event(e, "timeline", t));
    CHECK_INT(json_array_size(json_object_get(json_object_get(e, "state"), "events")), 0);
    json_decref(e);
    e = sync_room(&since, 2, fx.room, &next);
    CHECK(e && limited(e) && has_event(e, "timeline", a) && has_event(e, "timeline", b));
    json_t *st = json_object_get(json_object_get(e, "state"), "events");
    CHECK_INT(json_array_size(st), 1);
    CHECK(has_event(e, "state", t));
    json_decref(e);
    json_decref(pt);
    json_decref(pa);
    json_decref(pb);
    free(t);
    free(a);
    free(b);
    fx_close(&fx);
}

int main(void)
{
    if (sodium_init() < 0 || dbtest_open("syncfork") < 0)
        return 1;
    sign_key_generate(&own);
    sign_key_generate(&remote);
    snprintf(remote.key_id, sizeof remote.key_id, "ed25519:r1");
    ids_set_local_server(LOCAL);
    keyring_set_own(&own);
    keyring_set_fetcher(fakeremote_lookup, NULL);
    room_init(LOCAL, &own, "10", NULL);
    RUN(limited_timeline_after_a_fork_starts_from_the_dag);
    RUN(limited_timeline_on_the_other_branch_gets_the_end_state);
    RUN(gap_closed_through_state_ids_shows_in_state);
    RUN(linear_room_unchanged);
    dbtest_close();
    return unit_done();
}
