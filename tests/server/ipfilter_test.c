/* ipfilter_test.c - IP range filters: Synapse's default blacklist, whitelist exceptions,
 * IPv4-mapped IPv6 addresses, malformed ranges. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "server/ipfilter.h"
#include "tests/unit.h"

TEST(default_deny)
{
    char err[128];
    struct ipfilter *f = ipfilter_new(NULL, 0, NULL, 0, err, sizeof err);
    CHECK(f != NULL);
    const char *refused[] = {"127.0.0.1", "10.1.2.3",    "172.31.255.255", "192.168.1.1",
                             "169.254.169.254", "100.64.0.1", "0.0.0.0",   "224.0.0.1",
                             "::1",       "fe80::1",     "fd00::1",        "::ffff:127.0.0.1",
                             "::ffff:10.0.0.1", "::",    "2001:db8::5",    "ff02::1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (ipfilter_allows_text(f, refused[i]))
            UNIT_FAIL("%s allowed", refused[i]);
    const char *allowed[] = {"1.1.1.1", "172.32.0.1", "8.8.8.8", "2a00:1450::1",
                             "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (!ipfilter_allows_text(f, allowed[i]))
            UNIT_FAIL("%s refused", allowed[i]);
    CHECK(!ipfilter_allows_text(f, "not-an-ip"));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.168.0.7", &sin.sin_addr);
    CHECK(!ipfilter_allows(f, (struct sockaddr *)&sin));
    inet_pton(AF_INET, "9.9.9.9", &sin.sin_addr);
    CHECK(ipfilter_allows(f, (struct sockaddr *)&sin));
    ipfilter_free(f);
    CHECK(ipfilter_allows_text(NULL, "127.0.0.1")); /* no filter */
}

TEST(whitelist_carves_exceptions)
{
    char err[128];
    const char *allow[] = {"127.0.0.1", "10.5.0.0/16"};
    struct ipfilter *f = ipfilter_new(NULL, 0, allow, 2, err, sizeof err);
    CHECK(f != NULL);
    CHECK(ipfilter_allows_text(f, "127.0.0.1"));
    CHECK(ipfilter_allows_text(f, "::ffff:127.0.0.1"));
    CHECK(!ipfilter_allows_text(f, "127.0.0.2"));
    CHECK(ipfilter_allows_text(f, "10.5.200.1"));
    CHECK(!ipfilter_allows_text(f, "10.6.0.1"));
    ipfilter_free(f);
    const char *deny[] = {"203.0.113.0/25"};
    f = ipfilter_new(deny, 1, NULL, 0, err, sizeof err);
    CHECK(!ipfilter_allows_text(f, "203.0.113.127"));
    CHECK(ipfilter_allows_text(f, "203.0.113.128"));
    CHECK(ipfilter_allows_text(f, "127.0.0.1")); /* an explicit list replaces the default */
    ipfilter_free(f);
}

TEST(malformed)
{
    char err[128];
    const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0/8", "x", "10.0.0.0/", "1.2.3.4/-1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!ipfilter_range_ok(bad[i], strlen(bad[i])));
        struct ipfilter *f = ipfilter_new(&bad[i], 1, NULL, 0, err, sizeof err);
        if (f)
            UNIT_FAIL("'%s' accepted", bad[i]);
        ipfilter_free(f);
    }
    CHECK(ipfilter_range_ok("fc00::/7", 8));
    CHECK(ipfilter_range_ok("1.2.3.4", 7));
}

int main(void)
{
    RUN(default_deny);
    RUN(whitelist_carves_exceptions);
    RUN(malformed);
    return unit_done();
}
