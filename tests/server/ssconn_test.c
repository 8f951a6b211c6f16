/* ssconn_test.c - the sliding sync connection store: a pos is only good for the user, device
 * and conn_id it was issued to; the presented pos and the newest stay valid, older ones go;
 * a new connection of the same conn_id replaces the old; a device keeps at most
 * SSCONN_PER_DEVICE connections; snapshots come back as copies. */
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
    RUN(copies);
    RUN(bounded_per_device);
    return unit_done();
}
