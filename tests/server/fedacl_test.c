/* fedacl_test.c - server ACL evaluation (m.room.server_acl): the spec's five steps in order,
 * ports ignored, case-insensitive globs, IP literals, malformed content, and the glob matcher
 * itself including patterns that would be exponential for a naive backtracker. */
#include <string.h>

#include "server/fedacl.h"
#include "tests/unit.h"

static bool allowed(const char *acl_json, const char *server)
{
    json_t *acl = json_loads(acl_json, JSON_ALLOW_NUL, NULL);
    bool r = fedacl_allowed(acl, server);
    json_decref(acl);
    return r;
}

TEST(glob)
{
    CHECK(fedacl_glob("*", ""));
    CHECK(fedacl_glob("*", "anything.example"));
    CHECK(fedacl_glob("*.example.org", "matrix.example.org"));
    CHECK(!fedacl_glob("*.example.org", "example.org"));
    CHECK(fedacl_glob("ex?mple.org", "example.org"));
    CHECK(!fedacl_glob("ex?mple.org", "exmple.org"));
    CHECK(fedacl_glob("EXAMPLE.org", "example.ORG"));
    CHECK(fedacl_glob("a*b*c", "a-b-b-c"));
    CHECK(!fedacl_glob("a*b*c", "a-b-b-d"));
    CHECK(fedacl_glob("**", "x"));
    CHECK(!fedacl_glob("", "x"));
    CHECK(fedacl_glob("", ""));
    /* linear, not exponential */
    char s[4001], p[80];
    memset(s, 'a', 4000);
    s[4000] = '\0';
    for (int i = 0; i < 78; i += 2)
        p[i] = '*', p[i + 1] = 'a';
    p[78] = 'b';
    p[79] = '\0';
    CHECK(!fedacl_glob(p, s));
}

TEST(spec_steps)
{
    /* 1. no ACL: allowed */
    CHECK(fedacl_allowed(NULL, "anyone.example"));
    /* 2. IP literals when allow_ip_literals is false */
    const char *acl = "{\"allow\": [\"*\"], \"deny\": [\"evil.example\", \"*.bad.example\"], "
                      "\"allow_ip_literals\": false}";
    CHECK(!allowed(acl, "1.2.3.4"));
    CHECK(!allowed(acl, "[::1]:8448"));
    CHECK(allowed("{\"allow\": [\"*\"]}", "1.2.3.4:8448")); /* default true */
    CHECK(allowed("{\"allow\": [\"*\"], \"allow_ip_literals\": \"no\"}", "1.2.3.4"));
    /* 3. deny wins, the port is never considered */
    CHECK(!allowed(acl, "evil.example"));
    CHECK(!allowed(acl, "evil.example:8448"));
    CHECK(!allowed(acl, "EVIL.example:1234"));
    CHECK(!allowed(acl, "x.bad.example"));
    /* 4. allow */
    CHECK(allowed(acl, "good.example"));
    CHECK(allowed(acl, "bad.example"));
    /* 5. otherwise deny: no allow at all denies everyone */
    CHECK(!allowed("{\"deny\": []}", "good.example"));
    CHECK(!allowed("{}", "good.example"));
    CHECK(!allowed("{\"allow\": [\"a.example\"]}", "b.example"));
    CHECK(allowed("{\"allow\": [\"a.example\"]}", "a.example:99"));
    /* IPv6 literals are matched in brackets, as written */
    CHECK(allowed("{\"allow\": [\"[::1]\"]}", "[::1]:8448"));
    CHECK(!allowed("{\"allow\": [\"*\"], \"deny\": [\"[::1]\"]}", "[::1]"));
}

TEST(malformed_content)
{
    /* non-list allow/deny and non-string entries are ignored */
    CHECK(!allowed("{\"allow\": \"*\"}", "a.example"));
    CHECK(allowed("{\"allow\": [1, null, \"*\"], \"deny\": \"a.example\"}", "a.example"));
    CHECK(!allowed("{\"allow\": [\"a\\u0000*\"]}", "a.example"));
    /* a server name that is not one is denied */
    CHECK(!allowed("{\"allow\": [\"*\"]}", "not a name"));
    CHECK(!allowed("{\"allow\": [\"*\"]}", ""));
}

int main(void)
{
    RUN(glob);
    RUN(spec_steps);
    RUN(malformed_content);
    return unit_done();
}
