/* ids_test.c - identifier grammar (spec appendix "Identifier Grammar"): localparts for new
 * and historical user IDs, server names, user ID splitting and its 255-byte limit. */
#include <string.h>

#include "server/ids.h"
#include "tests/unit.h"

#define LP(s) ids_localpart_valid(s, strlen(s))
#define HLP(s) ids_localpart_historical_valid(s, strlen(s))
#define SN(s) ids_server_name_valid(s, strlen(s))

TEST(new_localparts)
{
    CHECK(LP("alice"));
    CHECK(LP("a.b_c=d-e/f+g"));
    CHECK(LP("0123456789"));
    CHECK(!LP(""));
    CHECK(!LP("Alice"));
    CHECK(!LP("has space"));
    CHECK(!LP("colon:x"));
    CHECK(!LP("\xc3\xbc"));
    CHECK(!LP("at@sign"));
    CHECK(!LP("hash#"));
}

TEST(historical_localparts)
{
    CHECK(HLP("Alice"));
    CHECK(HLP("!#$%&'()*"));
    CHECK(!HLP(""));
    CHECK(!HLP("a:b"));
    CHECK(!HLP("a b"));
    CHECK(!HLP("\x7f"));
    CHECK(!HLP("\xc3\xbc"));
}

TEST(server_names)
{
    CHECK(SN("example.com"));
    CHECK(SN("example.com:8448"));
    CHECK(SN("localhost"));
    CHECK(SN("1.2.3.4"));
    CHECK(SN("1.2.3.4:1234"));
    CHECK(SN("[1234:5678::abcd]"));
    CHECK(SN("[1234:5678::abcd]:8448"));
    CHECK(SN("matrix-1.example.org"));
    CHECK(!SN(""));
    CHECK(!SN("exa mple.com"));
    CHECK(!SN("example.com:"));
    CHECK(!SN("example.com:123456"));
    CHECK(!SN("example.com:80a"));
    CHECK(!SN("[::1"));
    CHECK(!SN("[]"));
    CHECK(!SN("[1234:5678::abcd]x"));
    CHECK(!SN("1.2.3.256"));
    CHECK(!SN("example_com"));
    CHECK(!SN(":8448"));
}

TEST(user_id_split)
{
    const char *lp, *srv;
    size_t lpl, srvl;
    CHECK(ids_user_id_split("@alice:example.org", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(lpl == 5 && strncmp(lp, "alice", 5) == 0);
    CHECK(srvl == 11 && strncmp(srv, "example.org", 11) == 0);
    CHECK(ids_user_id_split("@Old.User:example.org:8448", &lp, &lpl, &srv, &srvl) == 0);
    CHECK(srvl == 16);
    CHECK(ids_user_id_split("alice:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@alice", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@:example.org", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@alice:", &lp, &lpl, &srv, &srvl) == -1);
    CHECK(ids_user_id_split("@al ice:example.org", &lp, &lpl, &srv, &srvl) == -1);

    char uid[300];
    memset(uid, 'a', sizeof uid);
    uid[0] = '@';
    memcpy(uid + 255 - 12, ":example.org", 12); /* exactly 255 bytes */
    uid[255] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == 0);
    memset(uid, 'a', sizeof uid);
    uid[0] = '@';
    memcpy(uid + 256 - 12, ":example.org", 12); /* 256 bytes */
    uid[256] = '\0';
    CHECK(ids_user_id_split(uid, &lp, &lpl, &srv, &srvl) == -1);
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
    char c[33];
    ids_random_alnum(c, 32);
    CHECK_INT(strlen(c), 32);
}

int main(void)
{
    RUN(new_localparts);
    RUN(historical_localparts);
    RUN(server_names);
    RUN(user_id_split);
    RUN(random_ids);
    return unit_done();
}
