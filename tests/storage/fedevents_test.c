/* fedevents_test.c - the events served to other servers (server/room_serve.c) over a real
 * database: the state before an event and its auth chain (/state, /state_ids), the auth chain
 * of one event (/event_auth), the breadth-first missing-events walk with earliest_events,
 * limit and min_depth, the backfill walk, who may read; and the storage of backfilled events
 * (storage/backfill.c: negative stream orderings below all history, no extremity). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/ids.h"
#include "server/keyring.h"
#include "server/room.h"
#include "server/sign.h"
#include "storage/backfill.h"
#include "storage/events.h"
#include "storage/rooms.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

#define LOCAL "local.test"
#define ALICE "@alice:" LOCAL

static struct sign_key own;
static char *room, *topic1, *topic2, *msgs[6];

static bool has_id(const json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
            return true;
    }
    return false;
}

/* The bodies of message PDUs, in order, joined with ','. */
static void bodies(const json_t *pdus, char *out, size_t n)
{
    size_t i, len = 0;
    json_t *v;
    out[0] = 0;
    json_array_foreach((json_t *)pdus, i, v)
    {
        const char *b = json_string_value(json_object_get(json_object_get(v, "content"), "body"));
        int w = snprintf(out + len, n - len, "%s%s", len ? "," : "", b ? b : "-");
        if (w < 0 || (size_t)w >= n - len)
            return;
        len += (size_t)w;
    }
}

static char *send_text(const char *body)
{
    char *id = NULL, why[256];
    json_t *c = json_pack("{s:s,s:s}", "msgtype", "m.text", "body", body);
    CHECK_INT(room_send(room, ALICE, "m.room.message", NULL, c, NULL, &id, why, sizeof why),
              ROOM_OK);
    json_decref(c);
    return id;
}

static char *send_topic(const char *t)
{
    char *id = NULL, why[256];
    json_t *c = json_pack("{s:s}", "topic", t);
    CHECK_INT(room_send(room, ALICE, "m.room.topic", "", c, NULL, &id, why, sizeof why), ROOM_OK);
    json_decref(c);
    return id;
}

static void setup(void)
{
    char why[256];
    json_t *req = json_pack("{s:s,s:s}", "preset", "public_chat", "room_version", "10");
    CHECK_INT(room_create(ALICE, req, &room, why, sizeof why), ROOM_OK);
    json_decref(req);
    topic1 = send_topic("one");
    for (int i = 0; i < 3; i++) {
        char b[16];
        snprintf(b, sizeof b, "m%d", i);
        msgs[i] = send_text(b);
    }
    topic2 = send_topic("two");
    for (int i = 3; i < 6; i++) {
        char b[16];
        snprintf(b, sizeof b, "m%d", i);
        msgs[i] = send_text(b);
    }
}

TEST(state_before_an_event_and_its_auth_chain)
{
    json_t *out = NULL;
    char why[256];
    /* the state before topic2 holds topic1, not topic2 */
    CHECK_INT(room_fed_state(LOCAL, room, topic2, true, &out, why, sizeof why), ROOM_OK);
    json_t *ids = json_object_get(out, "pdu_ids");
    CHECK(has_id(ids, topic1));
    CHECK(!has_id(ids, topic2));
    CHECK(json_array_size(json_object_get(out, "auth_chain_ids")) >= 3);
    json_decref(out);
    /* the state before a message after topic2 holds topic2 */
    CHECK_INT(room_fed_state(LOCAL, room, msgs[3], true, &out, why, sizeof why), ROOM_OK);
    CHECK(has_id(json_object_get(out, "pdu_ids"), topic2));
    CHECK(!has_id(json_object_get(out, "pdu_ids"), topic1));
    json_decref(out);
    /* full PDUs: no event_id in v10, no unsigned */
    CHECK_INT(room_fed_state(LOCAL, room, msgs[3], false, &out, why, sizeof why), ROOM_OK);
    json_t *pdus = json_object_get(out, "pdus");
    CHECK(json_array_size(pdus) >= 5);
    size_t i;
    json_t *v;
    json_array_foreach(pdus, i, v)
    {
        CHECK(!json_object_get(v, "event_id"));
        CHECK(!json_object_get(v, "unsigned"));
        CHECK(json_object_get(v, "signatures") != NULL);
    }
    CHECK(json_is_array(json_object_get(out, "auth_chain")));
    json_decref(out);
    /* unknown event, event of no room, another room's ID */
    CHECK_INT(room_fed_state(LOCAL, room, "$nope", true, &out, why, sizeof why), ROOM_NOT_FOUND);
    CHECK_INT(room_fed_state(LOCAL, "!other:" LOCAL, msgs[0], true, &out, why, sizeof why),
              ROOM_NOT_FOUND);
    /* the auth chain of one message: create, power levels, alice's join and their own */
    CHECK_INT(room_fed_event_auth(LOCAL, room, msgs[0], &out, why, sizeof why), ROOM_OK);
    json_t *chain = json_object_get(out, "auth_chain");
    CHECK(json_array_size(chain) >= 3);
    bool create = false;
    json_array_foreach(chain, i, v) create =
        create || strcmp(json_string_value(json_object_get(v, "type")), "m.room.create") == 0;
    CHECK(create);
    json_decref(out);
}

TEST(missing_events_walk)
{
    json_t *out = NULL, *earliest = json_pack("[s]", msgs[1]), *latest = json_pack("[s]", msgs[5]);
    char why[256], b[256];
    /* between m1 (had) and m5 (latest): m2, topic2, m3, m4, the oldest first */
    CHECK_INT(room_fed_missing(LOCAL, room, earliest, latest, 10, 0, &out, why, sizeof why),
              ROOM_OK);
    bodies(out, b, sizeof b);
    CHECK_STR(b, "m2,-,m3,m4");
    json_decref(out);
    /* limit 2: the two nearest latest_events */
    CHECK_INT(room_fed_missing(LOCAL, room, earliest, latest, 2, 0, &out, why, sizeof why),
              ROOM_OK);
    bodies(out, b, sizeof b);
    CHECK_STR(b, "m3,m4");
    json_decref(out);
    /* min_depth above everything: nothing */
    CHECK_INT(room_fed_missing(LOCAL, room, earliest, latest, 10, 1000, &out, why, sizeof why),
              ROOM_OK);
    CHECK_INT(json_array_size(out), 0);
    json_decref(out);
    json_decref(earliest);
    json_decref(latest);
}

TEST(backfill_walk)
{
    json_t *out = NULL, *from = json_pack("[s]", msgs[5]);
    char why[256], b[256];
    CHECK_INT(room_fed_backfill(LOCAL, room, from, 3, &out, why, sizeof why), ROOM_OK);
    bodies(out, b, sizeof b);
    CHECK_STR(b, "m5,m4,m3");
    json_decref(out);
    /* limit 0 and an unknown event: nothing */
    CHECK_INT(room_fed_backfill(LOCAL, room, from, 0, &out, why, sizeof why), ROOM_OK);
    CHECK_INT(json_array_size(out), 0);
    json_decref(out);
    json_decref(from);
}

TEST(servers_not_in_the_room_are_refused)
{
    json_t *out = NULL, *from = json_pack("[s]", msgs[5]);
    char why[256], *rid = NULL;
    CHECK_INT(room_fed_state("elsewhere.test", room, msgs[3], true, &out, why, sizeof why),
              ROOM_FORBIDDEN);
    CHECK_INT(room_fed_backfill("elsewhere.test", room, from, 3, &out, why, sizeof why),
              ROOM_FORBIDDEN);
    CHECK_INT(room_fed_event("elsewhere.test", msgs[0], &out, &rid, why, sizeof why),
              ROOM_FORBIDDEN);
    CHECK_INT(room_fed_event(LOCAL, msgs[0], &out, &rid, why, sizeof why), ROOM_OK);
    CHECK_STR(rid, room);
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "content"), "body")), "m0");
    json_decref(out);
    free(rid);
    json_decref(from);
}

TEST(backfilled_rows_sort_below_history)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    struct db_event_meta m = {.event_id = "$backfilled1",
                              .room_id = room,
                              .type = "m.room.message",
                              .sender = "@zed:far.test",
                              .origin_server_ts = 1,
                              .depth = 1,
                              .state_group = 0};
    json_t *prev = json_pack("[s]", "$older");
    int64_t s1 = 0, s2 = 0;
    CHECK_INT(db_backfill_store(c, &m, "{}", prev, &s1), 0);
    CHECK(s1 < 0);
    m.event_id = "$backfilled2";
    CHECK_INT(db_backfill_store(c, &m, "{}", prev, &s2), 0);
    CHECK(s2 < s1);
    CHECK_INT(db_backfill_store(c, &m, "{}", prev, &s2), 1); /* already placed */
    char *eid = NULL;
    int64_t st = 0, g = 0;
    CHECK_INT(db_backfill_earliest(c, room, &eid, &st, &g), 1);
    CHECK_STR(eid, "$backfilled2"); /* depth 1, the lower stream ordering */
    free(eid);
    /* no forward extremity, no current state */
    json_t *ext = db_rooms_extremities(c, room);
    CHECK(!has_id(ext, "$backfilled1"));
    json_decref(ext);
    json_t *ids = json_pack("[s,s]", "$backfilled1", "$none");
    json_t *placed = db_backfill_placed(c, room, ids);
    CHECK(placed && json_object_size(placed) == 0); /* stored without a state group */
    json_decref(placed);
    json_decref(ids);
    json_decref(prev);
    db_put(c);
}

int main(void)
{
    if (sodium_init() < 0 || dbtest_open("fedevents") < 0)
        return 1;
    sign_key_generate(&own);
    ids_set_local_server(LOCAL);
    keyring_set_own(&own);
    room_init(LOCAL, &own, "10", NULL);
    setup();
    RUN(state_before_an_event_and_its_auth_chain);
    RUN(missing_events_walk);
    RUN(backfill_walk);
    RUN(servers_not_in_the_room_are_refused);
    RUN(backfilled_rows_sort_below_history);
    free(room);
    free(topic1);
    free(topic2);
    for (int i = 0; i < 6; i++)
        free(msgs[i]);
    dbtest_close();
    return unit_done();
}
