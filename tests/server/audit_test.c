/* audit_test.c - which requests the admin audit log records: every method but GET and HEAD
 * (and OPTIONS) under the two admin prefixes, nothing else. */
#include "server/audit.h"
#include "tests/unit.h"

TEST(applies)
{
    CHECK(audit_applies("POST", "/_synapse/admin/v1/deactivate/%40a%3Ab"));
    CHECK(audit_applies("PUT", "/_synapse/admin/v2/users/%40a%3Ab"));
    CHECK(audit_applies("DELETE", "/_synapse/admin/v1/registration_tokens/x"));
    CHECK(audit_applies("PUT", "/_matrix/client/v1/admin/lock/%40a%3Ab"));
    CHECK(audit_applies("POST", "/_synapse/admin/v1/register"));
    CHECK(!audit_applies("GET", "/_synapse/admin/v2/users"));
    CHECK(!audit_applies("HEAD", "/_synapse/admin/v2/users"));
    CHECK(!audit_applies("OPTIONS", "/_synapse/admin/v2/users"));
    CHECK(!audit_applies("GET", "/_matrix/client/v1/admin/suspend/%40a%3Ab"));
    CHECK(!audit_applies("PUT", "/_matrix/client/v3/rooms/!r/send/m.room.message/1"));
    CHECK(!audit_applies("PUT", "/_synapse/adminx/v1/x"));
    CHECK(!audit_applies("POST", "/_matrix/client/v3/admin/whois/x"));
    CHECK(!audit_applies(NULL, "/_synapse/admin/v1/x"));
}

int main(void)
{
    RUN(applies);
    return unit_done();
}
