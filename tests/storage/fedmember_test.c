/* fedmember_test.c - storage/fedmember.c against PostgreSQL: the servers of a room's joined
 * members (what the outbound queue sends to), the auth chain of send_join answers in both
 * reference formats, and remote_memberships (replaced in place with a newer stream
 * position, and listed by db_sync_memberships beside current_state, which wins). */
#include <string.h>

#include "storage/db_internal.h"
#include "storage/fedmember.h"
#include "storage/rooms.h"
#include "storage/state.h"
#include "storage/sync.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

#define ROOM "!r:a.test"

/* An event row with the given JSON (the columns the queries read). */
static void put_event(struct dbc *c, const char *id, const char *type, const char *sk,
                      const char *json)
{
    const char *p[] = {id, ROOM, type, sk, json};
    CHECK(db_run(c,
                 "INSERT INTO events (event_id, room_id, type, state_key, sender, "
                 "origin_server_ts, depth, stream_ordering, json) VALUES ($1, $2, $3, $4, "
                 "'@a:a.test', 0, 1, nextval('stream_ordering_seq'), $5)",
                 5, p) == 0);
}

TEST(servers_in_room)
{
    struct dbc *c = db_get();
    CHECK(db_rooms_insert(c, ROOM, "10", "@a:a.test", 0) == 0);
    const char *members[][2] = {{"@a:a.test", "join"},
                                {"@b:b.test:8448", "join"},
                                {"@c:b.test:8448", "join"},
                                {"@d:c.test", "leave"},
                                {"@e:d.test", "invite"}};
    for (size_t i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "$m%zu", i);
        CHECK(db_current_state_set(c, ROOM, "m.room.member", members[i][0], id, members[i][1]) ==
              0);
    }
    json_t *s = db_fed_servers_in_room(c, ROOM);
    CHECK_INT(json_array_size(s), 2);
    CHECK_STR(json_string_value(json_array_get(s, 0)), "a.test");
    CHECK_STR(json_string_value(json_array_get(s, 1)), "b.test:8448");
    json_decref(s);
    db_put(c);
}

TEST(auth_chain_both_formats)
{
    struct dbc *c = db_get();
    /* create <- power <- join (v3+ plain IDs); old <- older as [id, hashes] (v1) */
    put_event(c, "$create", "m.room.create", "", "{\"auth_events\":[]}");
    put_event(c, "$power", "m.room.power_levels", "", "{\"auth_events\":[\"$create\"]}");
    put_event(c, "$join", "m.room.member", "@x:b.test",
              "{\"auth_events\":[\"$create\",\"$power\"]}");
    put_event(c, "$older", "m.room.create", "", "{\"auth_events\":[]}");
    put_event(c, "$old", "m.room.member", "@y:b.test",
              "{\"auth_events\":[[\"$older\",{\"sha256\":\"x\"}]]}");
    json_t *seeds = json_pack("[s,s]", "$join", "$old");
    json_t *chain = db_fed_auth_chain(c, seeds, 100);
    CHECK_INT(json_array_size(chain), 3); /* create, power, older: not the seeds */
    json_decref(chain);
    chain = db_fed_auth_chain(c, seeds, 1); /* bounded */
    CHECK_INT(json_array_size(chain), 1);
    json_decref(chain);
    json_decref(seeds);
    db_put(c);
}

TEST(remote_memberships)
{
    struct dbc *c = db_get();
    json_t *servers = json_pack("[s]", "b.test"), *stripped = json_pack("[{s:s}]", "type", "x");
    int64_t s1 = 0, s2 = 0;
    CHECK(db_remote_membership_put(c, "@u:a.test", "!far:b.test", "invite", "$i", "10", "@v:b.test",
                                   servers, stripped, "{\"type\":\"m.room.member\"}", &s1) == 0);
    CHECK(db_remote_membership_put(c, "@u:a.test", "!far:b.test", "leave", "$l", "10", "@u:a.test",
                                   servers, stripped, "{\"type\":\"m.room.member\"}", &s2) == 0);
    CHECK(s2 > s1);
    struct db_remote_membership m;
    CHECK_INT(db_remote_membership_get(c, "@u:a.test", "!far:b.test", &m), 1);
    CHECK_STR(m.membership, "leave");
    CHECK_STR(m.event_id, "$l");
    CHECK_STR(json_string_value(json_array_get(m.servers, 0)), "b.test");
    db_remote_membership_clear(&m);
    CHECK_INT(db_remote_membership_get(c, "@u:a.test", "!none:b.test", &m), 0);
    /* listed for /sync with its stripped state ... */
    json_t *mem = db_sync_memberships(c, "@u:a.test");
    CHECK_INT(json_array_size(mem), 1);
    CHECK(json_object_get(json_array_get(mem, 0), "stripped") != NULL);
    json_decref(mem);
    /* ... until this server's own state of the room knows the user */
    CHECK(db_remote_membership_put(c, "@x:b.test", ROOM, "invite", "$i2", "10", "@v:b.test",
                                   servers, stripped, "{}", &s1) == 0);
    mem = db_sync_memberships(c, "@x:b.test"); /* current_state has no @x: the remote row */
    CHECK_INT(json_array_size(mem), 1);
    json_decref(mem);
    CHECK(db_current_state_set(c, ROOM, "m.room.member", "@x:b.test", "$join", "join") == 0);
    mem = db_sync_memberships(c, "@x:b.test");
    CHECK_INT(json_array_size(mem), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(mem, 0), "membership")), "join");
    json_decref(mem);
    json_decref(servers);
    json_decref(stripped);
    db_put(c);
}

int main(void)
{
    if (dbtest_open("fedmember") < 0) {
        printf("fedmember_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(servers_in_room);
    RUN(auth_chain_both_formats);
    RUN(remote_memberships);
    dbtest_close();
    return unit_done();
}
