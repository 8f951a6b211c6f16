/* accesslog_test.c - the access log line: its fields, the secrets it masks (query parameters
 * by name, also percent-encoded; registration tokens in the path), the escaping that keeps a
 * request from forging lines, and the bound on its length. */
#include <string.h>

#include "server/accesslog.h"
#include "tests/unit.h"

TEST(fields)
{
    struct accesslog l;
    accesslog_begin(&l, "203.0.113.7", "@alice:example.org", "GET", "/_matrix/client/v3/sync");
    accesslog_query(&l, "since", "s1_2_3");
    accesslog_query(&l, "full_state", NULL);
    accesslog_end(&l, 200, 12.34, NULL);
    CHECK_STR(l.buf, "203.0.113.7 @alice:example.org \"GET /_matrix/client/v3/sync?since=s1_2_3"
                     "&full_state\" 200 12.3ms");
    accesslog_begin(&l, NULL, NULL, "PUT", "/x");
    accesslog_end(&l, 0, 0.04, "(client went away)");
    CHECK_STR(l.buf, "- - \"PUT /x\" 0 0.0ms (client went away)");
}

TEST(secrets_masked)
{
    struct accesslog l;
    accesslog_begin(&l, "::1", NULL, "GET", "/_matrix/client/v3/account/whoami");
    accesslog_query(&l, "access_token", "syt_SECRET");
    accesslog_query(&l, "access%5Ftoken", "SECRET2");
    accesslog_query(&l, "token", "SECRET3");
    accesslog_query(&l, "client_secret", "SECRET4");
    accesslog_query(&l, "a", "b");
    accesslog_end(&l, 200, 1, NULL);
    CHECK(!strstr(l.buf, "SECRET"));
    CHECK(strstr(l.buf, "?access_token=<redacted>&access%5Ftoken=<redacted>&token=<redacted>"
                        "&client_secret=<redacted>&a=b\""));
    accesslog_begin(&l, "::1", NULL, "DELETE", "/_synapse/admin/v1/registration_tokens/abcd");
    accesslog_end(&l, 200, 1, NULL);
    CHECK(strstr(l.buf, "\"DELETE /_synapse/admin/v1/registration_tokens/<redacted>\""));
    accesslog_begin(&l, "::1", NULL, "POST", "/_synapse/admin/v1/registration_tokens/new");
    accesslog_end(&l, 200, 1, NULL);
    CHECK(strstr(l.buf, "/registration_tokens/new\""));
    accesslog_begin(&l, "::1", NULL, "GET", "/_synapse/admin/v1/registration_tokens");
    accesslog_end(&l, 200, 1, NULL);
    CHECK(strstr(l.buf, "/registration_tokens\""));
}

TEST(escaped_and_bounded)
{
    struct accesslog l;
    accesslog_begin(&l, "1.2.3.4\"\n", NULL, "GET", "/a\"b\\c\x1b\xc3\xa4");
    accesslog_end(&l, 404, 1, NULL);
    CHECK_STR(l.buf, "1.2.3.4\\x22\\x0a - \"GET /a\\x22b\\x5cc\\x1b\\xc3\\xa4\" 404 1.0ms");
    char path[4000];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    accesslog_begin(&l, "1.2.3.4", NULL, "GET", path);
    accesslog_query(&l, "access_token", "SECRET");
    accesslog_end(&l, 200, 5, NULL);
    CHECK(strlen(l.buf) < ACCESSLOG_MAX);
    CHECK(strstr(l.buf, "...\" 200 5.0ms") != NULL);
    CHECK(!strstr(l.buf, "SECRET"));
}

/* the admin audit log's path: masked as in the line, nothing else around it */
TEST(path_only)
{
    struct accesslog l;
    accesslog_path(&l, "/_synapse/admin/v1/registration_tokens/s3cret");
    CHECK_STR(l.buf, "/_synapse/admin/v1/registration_tokens/<redacted>");
    accesslog_path(&l, "/_synapse/admin/v2/users/%40a%3Ab\n");
    CHECK_STR(l.buf, "/_synapse/admin/v2/users/%40a%3Ab\\x0a");
}

int main(void)
{
    RUN(fields);
    RUN(secrets_masked);
    RUN(escaped_and_bounded);
    RUN(path_only);
    return unit_done();
}
