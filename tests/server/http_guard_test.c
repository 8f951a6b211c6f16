/* http_guard_test.c - admission of connections: the total limit, the per-address limit (IPv6
 * by /64, IPv4-mapped as IPv4, per listener) and reservations that no connection claimed. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "server/http_guard.h"
#include "tests/unit.h"

static struct sockaddr_in v4(const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}

static struct sockaddr_in6 v6(const char *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return s;
}

static bool admit4(unsigned listener, unsigned per, const char *a)
{
    struct sockaddr_in s = v4(a);
    return http_guard_admit(listener, per, (const struct sockaddr *)&s, sizeof s);
}

static bool admit6(unsigned listener, unsigned per, const char *a)
{
    struct sockaddr_in6 s = v6(a);
    return http_guard_admit(listener, per, (const struct sockaddr *)&s, sizeof s);
}

TEST(per_address_limit)
{
    struct http_guard_conn *c[3];
    for (int i = 0; i < 3; i++) {
        CHECK(admit4(0, 3, "192.0.2.1"));
        c[i] = http_guard_open(-1);
        CHECK(c[i] != NULL);
    }
    CHECK(!admit4(0, 3, "192.0.2.1"));  /* the fourth from one address */
    CHECK(admit4(0, 3, "192.0.2.2"));   /* another address */
    struct http_guard_conn *other = http_guard_open(-1);
    CHECK(admit4(1, 3, "192.0.2.1"));   /* the same address on another listener */
    struct http_guard_conn *l1 = http_guard_open(-1);
    CHECK(admit4(0, 0, "192.0.2.1"));   /* a listener without a per-address limit */
    struct http_guard_conn *unl = http_guard_open(-1);
    CHECK_INT(http_guard_count(), 6);
    http_guard_close(c[0]);
    CHECK(admit4(0, 3, "192.0.2.1"));   /* room again after a close */
    c[0] = http_guard_open(-1);
    for (int i = 0; i < 3; i++)
        http_guard_close(c[i]);
    http_guard_close(other);
    http_guard_close(l1);
    http_guard_close(unl);
    CHECK_INT(http_guard_count(), 0);
}

TEST(ipv6_by_prefix)
{
    struct http_guard_conn *a, *b;
    CHECK(admit6(0, 2, "2001:db8:1:2::1"));
    a = http_guard_open(-1);
    CHECK(admit6(0, 2, "2001:db8:1:2:ffff::9")); /* same /64 */
    b = http_guard_open(-1);
    CHECK(!admit6(0, 2, "2001:db8:1:2:1234::1"));
    CHECK(admit6(0, 2, "2001:db8:1:3::1")); /* the next /64 */
    struct http_guard_conn *c = http_guard_open(-1);
    http_guard_close(a);
    http_guard_close(b);
    http_guard_close(c);

    CHECK(admit4(0, 1, "198.51.100.7"));
    a = http_guard_open(-1);
    CHECK(!admit6(0, 1, "::ffff:198.51.100.7")); /* IPv4-mapped: the same client */
    http_guard_close(a);
    CHECK_INT(http_guard_count(), 0);
}

TEST(total_limit_and_lost_reservation)
{
    struct http_guard_conn *c[16];
    for (int i = 0; i < 16; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.0.0.%d", i + 1);
        CHECK(admit4(0, 100, a));
        c[i] = http_guard_open(-1);
    }
    CHECK(!admit4(0, 100, "10.0.1.1")); /* max_connections */
    http_guard_close(c[15]);
    CHECK(admit4(0, 100, "10.0.1.1"));
    /* that connection failed before opening; the next admit on this thread releases it */
    CHECK(admit4(0, 100, "10.0.1.2"));
    c[15] = http_guard_open(-1);
    CHECK_INT(http_guard_count(), 16);
    for (int i = 0; i < 16; i++)
        http_guard_close(c[i]);
    CHECK_INT(http_guard_count(), 0);
    CHECK(admit4(0, 1, "10.0.1.1")); /* 10.0.1.1's released slot left no count behind */
    http_guard_close(http_guard_open(-1));
}

TEST(phases_are_null_safe)
{
    http_guard_head_done(NULL, true);
    http_guard_body(NULL, 10);
    http_guard_busy(NULL);
    http_guard_idle(NULL);
    http_guard_close(NULL);
    CHECK_INT(http_guard_close_waiting(), 0);
}

int main(void)
{
    struct http_guard_limits l = {.max_connections = 16,
                                  .header_timeout_ms = 60000,
                                  .body_timeout_ms = 60000};
    if (http_guard_start(&l) < 0)
        return 1;
    RUN(per_address_limit);
    RUN(ipv6_by_prefix);
    RUN(total_limit_and_lost_reservation);
    RUN(phases_are_null_safe);
    http_guard_stop();
    return unit_done();
}
