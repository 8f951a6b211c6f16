/* fedresolve_test.c - server names taken apart, and server discovery (Server-Server API
 * "Resolving server names") step by step from given well-known and SRV answers: where to
 * connect, the Host header, the certificate name and whether SNI is sent; the well-known
 * body's checks and the SRV record choice. */
#include <string.h>

#include "server/fedresolve.h"
#include "tests/unit.h"

TEST(names)
{
    struct fedname n;
    CHECK_INT(fedname_parse("example.org", &n), 0);
    CHECK_STR(n.host, "example.org");
    CHECK_INT(n.port, 0);
    CHECK(!n.ip);
    CHECK_INT(fedname_parse("example.org:8448", &n), 0);
    CHECK_INT(n.port, 8448);
    CHECK_INT(fedname_parse("1.2.3.4:99", &n), 0);
    CHECK(n.ip && !n.ipv6);
    CHECK_STR(n.host, "1.2.3.4");
    CHECK_INT(fedname_parse("[::1]:8448", &n), 0);
    CHECK(n.ip && n.ipv6);
    CHECK_STR(n.host, "::1");
    CHECK_INT(n.port, 8448);
    CHECK_INT(fedname_parse("[2001:db8::1]", &n), 0);
    CHECK_INT(n.port, 0);
    static const char *const bad[] = {"",
                                      "a b",
                                      "example.org:",
                                      "example.org:0",
                                      "example.org:65536",
                                      "example.org:123456",
                                      "[::1",
                                      "[zz::1]",
                                      "1.2.3.400",
                                      "ex_ample.org",
                                      "a:b:c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fedname_parse(bad[i], &n) == 0)
            UNIT_FAIL("accepted: %s", bad[i]);
    CHECK_INT(fedname_parse(NULL, &n), -1);
}

/* Run the steps with the given answers; check the outcome. wk: NULL = no valid well-known. */
static void resolves(const char *name, const char *wk, const char *srv_fed, int fed_port,
                     const char *srv_legacy, int legacy_port, const char *host, int port,
                     const char *host_header, const char *tls_name, bool tls_ip)
{
    struct fedresolve_in in = {.server_name = name};
    struct fedresolve_out out;
    enum fedresolve_next next;
    int steps = 0;
    while ((next = fedresolve_step(&in, &out)) != FR_DONE && steps++ < 6) {
        switch (next) {
        case FR_NEED_WELLKNOWN:
            in.wellknown = wk ? FR_FOUND : FR_ABSENT;
            if (wk)
                snprintf(in.wk_server, sizeof in.wk_server, "%s", wk);
            break;
        case FR_NEED_SRV_FED:
            in.srv_fed.state = srv_fed ? FR_FOUND : FR_ABSENT;
            if (srv_fed)
                snprintf(in.srv_fed.target, sizeof in.srv_fed.target, "%s", srv_fed);
            in.srv_fed.port = fed_port;
            break;
        case FR_NEED_SRV_LEGACY:
            in.srv_legacy.state = srv_legacy ? FR_FOUND : FR_ABSENT;
            if (srv_legacy)
                snprintf(in.srv_legacy.target, sizeof in.srv_legacy.target, "%s", srv_legacy);
            in.srv_legacy.port = legacy_port;
            break;
        default:
            UNIT_FAIL("%s: step %d gave %d", name, steps, (int)next);
            return;
        }
    }
    if (next != FR_DONE) {
        UNIT_FAIL("%s: did not finish", name);
        return;
    }
    if (strcmp(out.connect_host, host) || out.connect_port != port ||
        strcmp(out.host_header, host_header) || strcmp(out.tls_name, tls_name) ||
        out.tls_name_is_ip != tls_ip)
        UNIT_FAIL("%s: got %s:%d Host %s cert %s%s; want %s:%d Host %s cert %s%s", name,
                  out.connect_host, out.connect_port, out.host_header, out.tls_name,
                  out.tls_name_is_ip ? " (IP)" : "", host, port, host_header, tls_name,
                  tls_ip ? " (IP)" : "");
}

TEST(steps)
{
    /* 1. IP literals: no lookups; the given port or 8448; Host is the server name */
    resolves("1.2.3.4", "x.example", "srv.example", 1, NULL, 0, "1.2.3.4", 8448, "1.2.3.4",
             "1.2.3.4", true);
    resolves("1.2.3.4:99", NULL, NULL, 0, NULL, 0, "1.2.3.4", 99, "1.2.3.4:99", "1.2.3.4", true);
    resolves("[::1]:8008", NULL, NULL, 0, NULL, 0, "::1", 8008, "[::1]:8008", "::1", true);
    /* 2. host name with a port: no well-known, no SRV */
    resolves("example.org:1234", "x.example", "srv.example", 1, NULL, 0, "example.org", 1234,
             "example.org:1234", "example.org", false);
    /* 3.1 delegated to an IP literal, with and without port */
    resolves("example.org", "5.6.7.8:4321", NULL, 0, NULL, 0, "5.6.7.8", 4321, "5.6.7.8:4321",
             "5.6.7.8", true);
    resolves("example.org", "[2001:db8::2]", NULL, 0, NULL, 0, "2001:db8::2", 8448, "[2001:db8::2]",
             "2001:db8::2", true);
    /* 3.2 delegated host with port */
    resolves("example.org", "matrix.example.org:443", "srv.example", 1, NULL, 0,
             "matrix.example.org", 443, "matrix.example.org:443", "matrix.example.org", false);
    /* 3.3 delegated host, _matrix-fed._tcp SRV: connect to the target; Host and certificate
     * are the delegated name, never the SRV target */
    resolves("example.org", "matrix.example.org", "fed1.example.net", 8449, "legacy.example", 1,
             "fed1.example.net", 8449, "matrix.example.org", "matrix.example.org", false);
    /* 3.4 only the deprecated _matrix._tcp SRV */
    resolves("example.org", "matrix.example.org", NULL, 0, "old.example.net", 8450,
             "old.example.net", 8450, "matrix.example.org", "matrix.example.org", false);
    /* 3.5 no SRV: the delegated host on 8448 */
    resolves("example.org", "matrix.example.org", NULL, 0, NULL, 0, "matrix.example.org", 8448,
             "matrix.example.org", "matrix.example.org", false);
    /* 4. no well-known, _matrix-fed._tcp SRV of the server name */
    resolves("example.org", NULL, "fed.example.net", 443, "legacy.example", 1, "fed.example.net",
             443, "example.org", "example.org", false);
    /* 5. the deprecated one */
    resolves("example.org", NULL, NULL, 0, "old.example.net", 8000, "old.example.net", 8000,
             "example.org", "example.org", false);
    /* 6. nothing: the host name on 8448 */
    resolves("example.org", NULL, NULL, 0, NULL, 0, "example.org", 8448, "example.org",
             "example.org", false);
}

TEST(srv_names_and_invalid)
{
    struct fedresolve_in in = {.server_name = "example.org", .wellknown = FR_ABSENT};
    struct fedresolve_out out;
    CHECK_INT(fedresolve_step(&in, &out), FR_NEED_SRV_FED);
    CHECK_STR(out.srv_name, "_matrix-fed._tcp.example.org");
    in.srv_fed.state = FR_ABSENT;
    CHECK_INT(fedresolve_step(&in, &out), FR_NEED_SRV_LEGACY);
    CHECK_STR(out.srv_name, "_matrix._tcp.example.org");
    /* SRV lookups of a delegation use the delegated name */
    struct fedresolve_in d = {.server_name = "example.org", .wellknown = FR_FOUND};
    snprintf(d.wk_server, sizeof d.wk_server, "m.example.net");
    CHECK_INT(fedresolve_step(&d, &out), FR_NEED_SRV_FED);
    CHECK_STR(out.srv_name, "_matrix-fed._tcp.m.example.net");
    /* a well-known answer that is not a server name counts as none */
    snprintf(d.wk_server, sizeof d.wk_server, "not a name");
    CHECK_INT(fedresolve_step(&d, &out), FR_NEED_SRV_FED);
    CHECK_STR(out.srv_name, "_matrix-fed._tcp.example.org");
    struct fedresolve_in bad = {.server_name = "bad name"};
    CHECK_INT(fedresolve_step(&bad, &out), FR_INVALID);
}

static int wk(const char *text, char out[256])
{
    json_t *j = json_loads(text, 0, NULL);
    int rc = fedresolve_wellknown(j, out);
    json_decref(j);
    return rc;
}

TEST(wellknown_body)
{
    char out[256];
    CHECK_INT(wk("{\"m.server\": \"matrix.example.org:443\"}", out), 0);
    CHECK_STR(out, "matrix.example.org:443");
    CHECK_INT(wk("{\"m.server\": \"[::1]\", \"other\": 1}", out), 0);
    CHECK_STR(out, "[::1]");
    CHECK_INT(wk("{}", out), -1);
    CHECK_INT(wk("[\"m.server\"]", out), -1);
    CHECK_INT(wk("{\"m.server\": 5}", out), -1);
    CHECK_INT(wk("{\"m.server\": \"https://matrix.example.org\"}", out), -1);
    CHECK_INT(wk("{\"m.server\": \"a.example:0\"}", out), -1);
    CHECK_INT(wk("{\"m.server\": \"a\\u0000b\"}", out), -1);
    CHECK_INT(fedresolve_wellknown(NULL, out), -1);
}

TEST(srv_pick)
{
    struct fedresolve_srv_rr rr[] = {
        {20, 100, 8448, "c.example"},
        {10, 5, 8448, "a.example"},
        {10, 50, 8449, "b.example"},
        {5, 1, 0, "bad-port.example"},
    };
    CHECK_INT(fedresolve_srv_pick(rr, 4), 2); /* lowest priority, then the largest weight */
    CHECK_INT(fedresolve_srv_pick(rr, 1), 0);
    CHECK_INT(fedresolve_srv_pick(rr, 0), -1);
    struct fedresolve_srv_rr none[] = {{0, 0, 8448, "."}};
    CHECK_INT(fedresolve_srv_pick(none, 1), -1); /* "no service here" */
}

int main(void)
{
    RUN(names);
    RUN(steps);
    RUN(srv_names_and_invalid);
    RUN(wellknown_body);
    RUN(srv_pick);
    return unit_done();
}
