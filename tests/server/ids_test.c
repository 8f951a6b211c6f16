/* ids_test.c - identifier grammar (spec appendix "Identifier Grammar"): localparts for new and
 * historical user IDs, server names (the appendix's examples and the edges of its ABNF), user
 * ID splitting with its 255-byte limit, and the random IDs' alphabets. */
#include <sodium.h>
#include <string.h>

#include "server/ids.h"
#include "tests/unit.h"

#define LP(s) ids_localpart_valid(s, strlen(s))
#define HLP(s) ids_localpart_historical_valid(s, strlen(s))
#define SN(s) ids_server_name_valid(s, strlen(s))

TEST(new_localparts)
{
    CHECK(LP("alice"));
    CHECK(LP("a"));
    CHECK(LP("a.b_c=d-e/f+g"));
    CHECK(LP("0123456789"));
    CHECK(LP("._=-/+"));
    CHECK(!LP(""));
    CHECK(!LP("Alice"));
    CHECK(!LP("aLICE"));
    CHECK(!LP("has space"));
    CHECK(!LP("colon:x"));
    CHECK(!LP("\xc3\xbc"));    /* u-umlaut in UTF-8 */
    CHECK(!LP("caf\xc3\xa9")); /* non-ASCII after valid characters */
    CHECK(!LP("at@sign"));
    CHECK(!LP("hash#"));
    CHECK(!LP("star*"));
    CHECK(!LP("tab\t"));
    CHECK(!ids_localpart_valid("a\0b", 3)); /* the length counts, not the NUL */
    CHECK(ids_localpart_valid("ab:cd", 2)); /* only `len` bytes are read */
}

TEST(historical_localparts)
{
    CHECK(HLP("Alice"));
    CHECK(HLP("alice"));
    CHECK(HLP("!#$%&'()*"));
    CHECK(HLP("~[]{}|\\^`\"<>?@;"));
    CHECK(!HLP(""));
    CHECK(!HLP("a:b"));
    CHECK(!HLP(":"));
    CHECK(!HLP("a b"));
    CHECK(!HLP("\x7f"));
    CHECK(!HLP("\x1f"));
    CHECK(!HLP("\xc3\xbc"));
    CHECK(!ids_localpart_historical_valid("a\0b", 3));
}

TEST(server_names)
{
    /* the appendix's examples */
    CHECK(SN("matrix.org"));
    CHECK(SN("matrix.org:8888"));
    CHECK(SN("1.2.3.4"));
    CHECK(SN("1.2.3.4:1234"));
    CHECK(SN("[1234:5678::abcd]"));
    CHECK(SN("[1234:5678::abcd]:5678"));
    /* more valid ones */
    CHECK(SN("example.com"));
    CHECK(SN("example.com:8448"));
    CHECK(SN("[1234:5678::abcd]:8448"));
    CHECK(SN("localhost"));
    CHECK(SN("localhost:1"));
    CHECK(SN("matrix-1.Example.ORG"));  /* case is kept, and allowed */
    CHECK(SN("255.255.255.255:99999")); /* port: 1*5DIGIT, no range in the grammar */
    CHECK(SN("1.2.3.4.example"));       /* a DNS name that starts with digits */
    CHECK(SN("[::1]"));
    CHECK(SN("[::ffff:1.2.3.4]"));
    CHECK(SN("[ABCD::EF]"));
    CHECK(SN("a"));
    char longest[256];
    memset(longest, 'a', 255);
    longest[255] = '\0';
    CHECK(SN(longest)); /* dns-name = 1*255dns-char */

    /* invalid */
    CHECK(!SN(""));
    CHECK(!SN("exa mple.com"));
    CHECK(!SN("example.com:"));
    CHECK(!SN("example.com:123456"));
    CHECK(!SN("example.com:80a"));
    CHECK(!SN("example.com:-1"));
    CHECK(!SN("example.com:80:80"));
    CHECK(!SN(":8448"));
    CHECK(!SN("example_com"));
    CHECK(!SN("example.com/"));
    CHECK(!SN("ex\xc3\xa4mple.com"));
    CHECK(!SN("[::1"));
    CHECK(!SN("::1"));
    CHECK(!SN("[]"));
    CHECK(!SN("[:]"));
    CHECK(!SN("[1234:5678::abcd]x"));
    CHECK(!SN("[1234:5678::abcd]:"));
    CHECK(!SN("[1:2:3:4:5:6:7:8:9]")); /* the characters fit, the address does not */
    CHECK(!SN("[::g]"));
    CHECK(!SN("[::1%eth0]"));
    CHECK(!SN("[1.2.3.4]"));
    CHECK(!SN("1.2.3.256")); /* digits and dots only: an IPv4 literal, out of range */
    CHECK(!SN("1.2.3"));
    CHECK(!SN("1.2.3.4.5"));
    CHECK(!SN("1..2.3"));
    char toolong[257];
    memset(toolong, 'a', 256);
    toolong[256] = '\0';
    CHECK(!SN(toolong));
    CHECK(!ids_server_name_valid("a\0b", 3));
    CHECK(ids_server_name_valid("example.com:8448", 11)); /* only `len` bytes are read */
}

TEST(user_id_split)
{
    const char *lp, *srv;
    size_t lpl, srvl;
    CHECK(ids_user_id_split("@alice:example.org", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(lpl == 5 && strncmp(lp, "alice", 5) == 0);
    CHECK(srvl == 11 && strncmp(srv, "example.org", 11) == 0);
    CHECK(ids_user_id_split("@Old.User:example.org:8448", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(lpl == 8 && srvl == 16 && strncmp(srv, "example.org:8448", 16) == 0);
    CHECK(ids_user_id_split("@a:[::1]:8448", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(lpl == 1 && srvl == 10);
    CHECK(ids_user_id_split("@a:b", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(ids_user_id_split("alice:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("!alice:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@alice", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@alice:", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@al ice:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@alice:exa mple.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@\xc3\xbc:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@", &lp, &lpl, &srv, &srvl) == -1);

    /* 255 bytes in all, sigil and domain included, is the most */
    char uid[300];
    memset(uid, 'a', sizeof uid);
    uid[0] = '@';
    memcpy(uid + 255 - 12, ":example.org", 12);
    uid[255] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == 0);
    CHECK(lpl == 255 - 13 && srvl == 11);
    memset(uid, 'a', sizeof uid);
    uid[0] = '@';
    memcpy(uid + 256 - 12, ":example.org", 12);
    uid[256] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == -1);
    /* a short localpart with a long server name: the total still counts */
    memset(uid, 'a', sizeof uid);
    memcpy(uid, "@a:", 3);
    uid[256] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == -1);
    uid[255] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == 0);
}

TEST(random_ids)
{
    char a[11], b[11];
    ids_random_upper(a, 10);
    ids_random_upper(b, 10);
    CHECK_INT(strlen(a), 10);
    CHECK(strcmp(a, b) != 0);
    for (int i = 0; i < 10; i++)
        CHECK(a[i] >= 'A' && a[i] <= 'Z');

    /* 64 x 64 characters should use every letter and digit of the alphabet */
    char seen[256] = {0}, c[65];
    for (int round = 0; round < 64; round++) {
        ids_random_alnum(c, 64);
        CHECK_INT(strlen(c), 64);
        for (int i = 0; i < 64; i++)
            seen[(unsigned char)c[i]] = 1;
    }
    int kinds = 0;
    for (int ch = 0; ch < 256; ch++) {
        if (!seen[ch])
            continue;
        kinds++;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            UNIT_FAIL("character %d outside [A-Za-z0-9]", ch);
    }
    CHECK_INT(kinds, 62);
    char empty[1] = {'x'};
    ids_random_alnum(empty, 0);
    CHECK(empty[0] == '\0');
}

TEST(local_ids)
{
    CHECK(!ids_is_local("@a:example.org")); /* nothing is local before start-up says so */
    ids_set_local_server("example.org");
    CHECK_STR(ids_local_server(), "example.org");
    CHECK(ids_is_local("@a:example.org"));
    CHECK(ids_is_local("!room:example.org"));
    CHECK(ids_is_local("#alias:example.org"));
    CHECK(ids_is_local("$ev:example.org"));
    CHECK(!ids_is_local("@a:example.org:8448"));
    CHECK(!ids_is_local("@a:example.org.evil"));
    CHECK(!ids_is_local("@a:other.org"));
    CHECK(!ids_is_local("!Ab3hashonly")); /* v12 room IDs name no server */
    CHECK(!ids_is_local("@a:"));
    CHECK(!ids_is_local(NULL));
    CHECK(ids_is_local_server("example.org"));
    CHECK(!ids_is_local_server("Example.org"));
    CHECK(!ids_is_local_server(NULL));
    CHECK_STR(ids_server_of("@a:b:8448"), "b:8448");
    CHECK(ids_server_of("@nocolon") == NULL);
    ids_set_local_server(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(new_localparts);
    RUN(historical_localparts);
    RUN(server_names);
    RUN(user_id_split);
    RUN(random_ids);
    RUN(local_ids);
    return unit_done();
}
