/* ssconn_test.c - the sliding sync connection store: a pos is only good for the user, device
 * and conn_id it was issued to; the presented pos and the answers to it stay valid, older ones
 * go; a new connection of the same conn_id replaces the old, and an answer computed from a
 * pos that stopped being good (replaced, superseded) is refused rather than reviving it; a
 * device keeps at most SSCONN_PER_DEVICE connections; idle connections expire; snapshots
 * come back as copies and their bytes are counted. */
#include <stdio.h>
#include <string.h>

#include "server/ssconn.h"
#include "tests/unit.h"

static json_t *snap(int v)
{
    return json_pack("{s:i}", "v", v);
}

static int got(const char *u, const char *d, const char *c, const char *pos)
{
    json_t *s = NULL;
    int rc = ssconn_get(u, d, c, pos, &s);
    int v = rc < 0 ? -1 : (int)json_integer_value(json_object_get(s, "v"));
    json_decref(s);
    return v;
}

TEST(positions)
{
    char p1[48], p2[48], p3[48];
    CHECK(got("@a:x", "D", "", "1_1") == -1);
    CHECK(got("@a:x", "D", "", "garbage") == -1);
    ssconn_put("@a:x", "D", "", NULL, snap(1), p1, sizeof p1);
    CHECK(p1[0] != 0);
    CHECK_INT(got("@a:x", "D", "", p1), 1);
    CHECK(got("@a:x", "E", "", p1) == -1);      /* another device */
    CHECK(got("@b:x", "D", "", p1) == -1);      /* another user */
    CHECK(got("@a:x", "D", "other", p1) == -1); /* another conn_id */
    ssconn_put("@a:x", "D", "", p1, snap(2), p2, sizeof p2);
    CHECK(strcmp(p1, p2) != 0);
    CHECK_INT(got("@a:x", "D", "", p1), 1); /* a retry of the older pos still answers */
    CHECK_INT(got("@a:x", "D", "", p2), 2);
    ssconn_put("@a:x", "D", "", p2, snap(3), p3, sizeof p3);
    CHECK(got("@a:x", "D", "", p1) == -1); /* acknowledged by presenting p2 */
    CHECK_INT(got("@a:x", "D", "", p2), 2);
    CHECK_INT(got("@a:x", "D", "", p3), 3);
    /* a new connection of the same conn_id replaces the old */
    char q1[48];
    ssconn_put("@a:x", "D", "", NULL, snap(9), q1, sizeof q1);
    CHECK(got("@a:x", "D", "", p3) == -1);
    CHECK_INT(got("@a:x", "D", "", q1), 9);
    /* the old connection's parked request finishing now is refused and revives nothing */
    char r[48];
    CHECK(ssconn_put("@a:x", "D", "", p3, snap(4), r, sizeof r) == -1);
    CHECK(r[0] == 0);
    CHECK(got("@a:x", "D", "", p3) == -1);
    CHECK_INT(got("@a:x", "D", "", q1), 9);
}

TEST(superseded)
{
    char a[48], b1[48], b2[48], c[48], x[48];
    CHECK(ssconn_put("@s:x", "D", "", NULL, snap(1), a, sizeof a) == 0);
    /* two requests on pos a (the first cancelled by the client and sent again): both answer */
    CHECK(ssconn_put("@s:x", "D", "", a, snap(2), b1, sizeof b1) == 0);
    CHECK(ssconn_put("@s:x", "D", "", a, snap(3), b2, sizeof b2) == 0);
    CHECK_INT(got("@s:x", "D", "", b2), 3); /* the client went on with b2 */
    CHECK(got("@s:x", "D", "", a) == -1);   /* acknowledged: older positions go */
    CHECK(got("@s:x", "D", "", b1) == -1);  /* the answer it did not process, too */
    /* a request still parked on a finishes after that: refused, b2 stays good */
    CHECK(ssconn_put("@s:x", "D", "", a, snap(4), x, sizeof x) == -1);
    CHECK(ssconn_valid("@s:x", "D", "", b2) == 1);
    CHECK(ssconn_put("@s:x", "D", "", b2, snap(5), c, sizeof c) == 0);
    CHECK_INT(got("@s:x", "D", "", c), 5);
    CHECK(ssconn_valid("@s:x", "D", "", b2) == 0);
    /* many retries of one pos keep the newest answers only */
    char r[SSCONN_SNAPS + 2][48];
    for (int i = 0; i < SSCONN_SNAPS + 2; i++)
        CHECK(ssconn_put("@s:x", "D", "", c, snap(10 + i), r[i], sizeof r[i]) == 0);
    CHECK(got("@s:x", "D", "", r[0]) == -1);
    CHECK_INT(got("@s:x", "D", "", r[SSCONN_SNAPS + 1]), 10 + SSCONN_SNAPS + 1);
}

TEST(expiry_and_bytes)
{
    char p[48];
    ssconn_cleanup();
    CHECK(ssconn_bytes() == 0);
    CHECK(ssconn_put("@e:x", "D", "", NULL, snap(7), p, sizeof p) == 0);
    CHECK_INT((int)ssconn_bytes(), (int)strlen("{\"v\":7}"));
    ssconn_expire(3600 * 1000); /* used just now: kept */
    CHECK_INT(got("@e:x", "D", "", p), 7);
    ssconn_expire(0);
    CHECK(got("@e:x", "D", "", p) == -1);
    CHECK(ssconn_bytes() == 0);
}

TEST(cache)
{
    char p[48], q[48], r[48];
    int64_t at;
    uint64_t serial;
    json_t *list = json_pack("{s:i}", "rooms", 5);
    CHECK(ssconn_put_cached("@k:x", "D", "", NULL, snap(1), list, 10, 0, p, sizeof p) == 0);
    json_t *c = ssconn_cache("@k:x", "D", "", &at, &serial);
    CHECK(c && json_equal(c, list) && at == 10 && serial != 0);
    json_decref(c);
    int64_t at_e;
    uint64_t serial_e;
    CHECK(ssconn_cache("@k:x", "E", "", &at_e, &serial_e) == NULL && serial_e == 0);
    /* nothing moved: the same list now stands for 12 */
    CHECK(ssconn_put_cached("@k:x", "D", "", p, snap(2), NULL, 12, serial, q, sizeof q) == 0);
    uint64_t s2;
    c = ssconn_cache("@k:x", "D", "", &at, &s2);
    CHECK(c && json_equal(c, list) && at == 12 && s2 == serial);
    json_decref(c);
    /* another answer replaced it meanwhile: an unchanged claim on the old serial drops it */
    CHECK(ssconn_put_cached("@k:x", "D", "", q, snap(3), list, 13, 0, r, sizeof r) == 0);
    CHECK(ssconn_put_cached("@k:x", "D", "", q, snap(4), NULL, 14, serial, r, sizeof r) == 0);
    CHECK(ssconn_cache("@k:x", "D", "", &at, &serial) == NULL);
    /* a forgotten room: the user's kept lists go, the positions stay */
    CHECK(ssconn_put_cached("@k:x", "D", "", q, snap(5), list, 16, 0, r, sizeof r) == 0);
    ssconn_drop_caches("@k:");
    c = ssconn_cache("@k:x", "D", "", &at, &serial); /* "@k:" is another user */
    CHECK(c != NULL);
    json_decref(c);
    ssconn_drop_caches("@k:x");
    CHECK(ssconn_cache("@k:x", "D", "", &at, &serial) == NULL);
    CHECK_INT(got("@k:x", "D", "", r), 5);
    /* a refused answer leaves the connection alone */
    size_t before = ssconn_bytes();
    CHECK(ssconn_put_cached("@k:x", "D", "", "1_1", snap(3), list, 15, 0, q, sizeof q) == -1);
    CHECK(ssconn_cache("@k:x", "D", "", &at, &serial) == NULL);
    CHECK(ssconn_bytes() == before);
    json_decref(list);
}

TEST(copies)
{
    char p[48];
    ssconn_put("@c:x", "D", "c", NULL, snap(5), p, sizeof p);
    json_t *s = NULL;
    CHECK(ssconn_get("@c:x", "D", "c", p, &s) == 0);
    json_object_set_new(s, "v", json_integer(6)); /* the caller's copy only */
    json_decref(s);
    CHECK_INT(got("@c:x", "D", "c", p), 5);
}

TEST(bounded_per_device)
{
    char first[48], p[48], name[16];
    ssconn_put("@d:x", "D", "c0", NULL, snap(0), first, sizeof first);
    for (int i = 1; i <= SSCONN_PER_DEVICE; i++) {
        snprintf(name, sizeof name, "c%d", i);
        ssconn_put("@d:x", "D", name, NULL, snap(i), p, sizeof p);
    }
    CHECK(got("@d:x", "D", "c0", first) == -1); /* the least recently used went */
    CHECK_INT(got("@d:x", "D", name, p), SSCONN_PER_DEVICE);
    ssconn_cleanup();
    CHECK(got("@d:x", "D", name, p) == -1);
}

int main(void)
{
    RUN(positions);
    RUN(superseded);
    RUN(expiry_and_bytes);
    RUN(cache);
    RUN(copies);
    RUN(bounded_per_device);
    return unit_done();
}
