/* iprange_test.c - CIDR ranges and the outbound address policy: Synapse's default blacklist
 * covers loopback and private ranges, the whitelist wins, the unspecified addresses never
 * pass, IPv4-mapped IPv6 addresses meet IPv4 rules. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "server/iprange.h"
#include "tests/unit.h"

static struct iprange black[32], white[4];
static size_t n_black, n_white;

static void load_default(void)
{
    const char *s = IPRANGE_DEFAULT_BLACKLIST;
    n_black = 0;
    while (*s) {
        size_t len = strcspn(s, " ");
        if (iprange_parse(s, len, &black[n_black]) < 0)
            UNIT_FAIL("default range %.*s", (int)len, s);
        n_black++;
        s += len + (s[len] == ' ');
    }
}

static bool allowed(const char *addr)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    uint8_t a[16];
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    if (iprange_from_sockaddr((struct sockaddr *)&ss, a) < 0)
        return false;
    return iprange_allowed(black, n_black, white, n_white, a);
}

TEST(parse)
{
    struct iprange r;
    CHECK_INT(iprange_parse("10.0.0.0/8", 10, &r), 0);
    CHECK_INT(r.prefix, 104);
    CHECK_INT(iprange_parse("127.0.0.1", 9, &r), 0);
    CHECK_INT(r.prefix, 128);
    CHECK_INT(iprange_parse("fc00::/7", 8, &r), 0);
    CHECK_INT(r.prefix, 7);
    static const char *const bad[] = {"",          "10.0.0.0/33", "::/129",       "10.0.0/8", "x",
                                      "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "1.2.3.4 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (iprange_parse(bad[i], strlen(bad[i]), &r) == 0)
            UNIT_FAIL("accepted: '%s'", bad[i]);
    CHECK(iprange_ok("192.168.0.0/16", 14));
}

TEST(default_policy)
{
    load_default();
    n_white = 0;
    CHECK(!allowed("127.0.0.1"));
    CHECK(!allowed("10.1.2.3"));
    CHECK(!allowed("172.31.255.255"));
    CHECK(allowed("172.32.0.1"));
    CHECK(!allowed("192.168.1.1"));
    CHECK(!allowed("169.254.169.254")); /* cloud metadata */
    CHECK(!allowed("100.64.0.1"));
    CHECK(!allowed("::1"));
    CHECK(!allowed("fe80::1"));
    CHECK(!allowed("fd00::1"));
    CHECK(!allowed("::ffff:127.0.0.1")); /* IPv4-mapped */
    CHECK(!allowed("::ffff:10.0.0.1"));
    CHECK(!allowed("0.0.0.0"));
    CHECK(!allowed("::"));
    CHECK(allowed("8.8.8.8"));
    CHECK(allowed("2a00:1450::1"));
}

TEST(whitelist_wins)
{
    load_default();
    CHECK_INT(iprange_parse("127.0.0.1/32", 12, &white[0]), 0);
    n_white = 1;
    CHECK(allowed("127.0.0.1"));
    CHECK(allowed("::ffff:127.0.0.1"));
    CHECK(!allowed("127.0.0.2"));
    /* never the unspecified address, whatever the lists say */
    CHECK_INT(iprange_parse("0.0.0.0/0", 9, &white[0]), 0);
    CHECK(!allowed("0.0.0.0"));
    CHECK(allowed("10.0.0.1"));
    n_white = 0;
}

int main(void)
{
    RUN(parse);
    RUN(default_policy);
    RUN(whitelist_wins);
    return unit_done();
}
