/* state_test.c - state groups against a real PostgreSQL: a long chain of joins reads back
 * exactly at every sampled point, removals and overwrites hide the base, forks stay apart,
 * and storage stays O(n log n) rows for n state changes (the Fenwick bound), not n x state. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/statemap.h"
#include "storage/db.h"
#include "storage/rooms.h"
#include "storage/state.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

#define ROOM "!state:test"

static struct dbc *c;

static int64_t add(int64_t parent, const char *type, const char *key, const char *ev)
{
    json_t *ch = json_object();
    if (ev)
        statemap_set(ch, type, key, ev);
    else {
        char *k = statemap_key(type, key);
        json_object_set_new(ch, k, json_null());
        free(k);
    }
    int64_t g = db_state_group_new(c, ROOM, parent, ch);
    json_decref(ch);
    return g;
}

TEST(long_chain_reads_back_and_stays_small)
{
    enum { N = 1500 };
    static int64_t groups[N + 1];
    json_t *expect = json_object();
    int64_t g = 0;
    long rows = 0;
    for (int i = 1; i <= N; i++) {
        char user[32], ev[32];
        snprintf(user, sizeof user, "@u%d:test", i);
        snprintf(ev, sizeof ev, "$join%d", i);
        g = add(g, "m.room.member", user, ev);
        CHECK(g > 0);
        groups[i] = g;
        long r = db_state_group_rows(c, g);
        /* invariant 2: a group's delta covers lowbit(seq) changes */
        CHECK(r <= (long)(i & -i));
        rows += r;
    }
    /* about (N/2) log2 N; far below N^2 / 2 that snapshots per change would cost */
    CHECK(rows <= (long)(N / 2.0 * log2(N) + N));
    /* sample reads: state after join k has exactly k members */
    static const int samples[] = {1, 2, 3, 7, 8, 100, 511, 512, 513, 1024, 1499, N};
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        int k = samples[s];
        json_t *st = db_state_group_load(c, groups[k]);
        CHECK(st != NULL);
        CHECK_INT(json_object_size(st), k);
        char user[32], ev[32];
        snprintf(user, sizeof user, "@u%d:test", k);
        snprintf(ev, sizeof ev, "$join%d", k);
        CHECK_STR(statemap_get(st, "m.room.member", user), ev);
        CHECK(statemap_get(st, "m.room.member", "@u1:test") != NULL);
        snprintf(user, sizeof user, "@u%d:test", k + 1);
        CHECK(statemap_get(st, "m.room.member", user) == NULL);
        json_decref(st);
    }
    json_decref(expect);
}

TEST(overwrite_and_remove)
{
    int64_t g1 = add(0, "m.room.topic", "", "$t1");
    int64_t g2 = add(g1, "m.room.name", "", "$n1");
    int64_t g3 = add(g2, "m.room.topic", "", "$t2");
    int64_t g4 = add(g3, "m.room.name", "", NULL); /* removed (state resolution can do this) */
    int64_t g5 = add(g4, "m.room.avatar", "", "$a1");
    json_t *s3 = db_state_group_load(c, g3), *s4 = db_state_group_load(c, g4),
           *s5 = db_state_group_load(c, g5), *s1 = db_state_group_load(c, g1);
    CHECK_STR(statemap_get(s3, "m.room.topic", ""), "$t2");
    CHECK_STR(statemap_get(s3, "m.room.name", ""), "$n1");
    CHECK(statemap_get(s4, "m.room.name", "") == NULL);
    CHECK_INT(json_object_size(s4), 1);
    CHECK(statemap_get(s5, "m.room.name", "") == NULL);
    CHECK_STR(statemap_get(s5, "m.room.topic", ""), "$t2");
    CHECK_INT(json_object_size(s5), 2);
    CHECK_STR(statemap_get(s1, "m.room.topic", ""), "$t1");
    CHECK_INT(json_object_size(s1), 1);
    json_decref(s1);
    json_decref(s3);
    json_decref(s4);
    json_decref(s5);
}

TEST(forks_stay_apart)
{
    int64_t root = add(0, "m.room.create", "", "$c");
    int64_t a = add(root, "m.room.topic", "", "$ta");
    int64_t b = add(root, "m.room.topic", "", "$tb");
    int64_t a2 = add(a, "m.room.name", "", "$na");
    json_t *sa = db_state_group_load(c, a2), *sb = db_state_group_load(c, b);
    CHECK_STR(statemap_get(sa, "m.room.topic", ""), "$ta");
    CHECK_STR(statemap_get(sb, "m.room.topic", ""), "$tb");
    CHECK(statemap_get(sb, "m.room.name", "") == NULL);
    CHECK_STR(statemap_get(sb, "m.room.create", ""), "$c");
    json_decref(sa);
    json_decref(sb);
}

TEST(empty_and_unknown)
{
    json_t *s = db_state_group_load(c, 0);
    CHECK(s && json_object_size(s) == 0);
    json_decref(s);
    json_t *none = json_object();
    CHECK(db_state_group_new(c, ROOM, 999999999, none) == -1);
    json_decref(none);
}

int main(void)
{
    if (dbtest_open("state") < 0) {
        printf("state_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    c = db_get();
    if (db_rooms_insert(c, ROOM, "12", "@creator:test", 0) != 0) {
        printf("state_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(long_chain_reads_back_and_stays_small);
    RUN(overwrite_and_remove);
    RUN(forks_stay_apart);
    RUN(empty_and_unknown);
    db_put(c);
    dbtest_close();
    return unit_done();
}
