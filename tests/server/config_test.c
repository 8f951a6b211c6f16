/* config_test.c - homeserver.yaml parsing: a full Synapse-style file, defaults, every error
 * naming its key, size strings, the example in deploy/, and generate-config's output read
 * back. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "tests/unit.h"

static const char *const minimal = "server_name: example.org\n"
                                   "signing_key_path: /k\n"
                                   "listeners:\n"
                                   "  - port: 8008\n"
                                   "database:\n"
                                   "  name: psycopg2\n"
                                   "  args: {database: amtsbote}\n";

static int parse(const char *text, struct config *c, char *err, size_t n)
{
    return config_parse(text, strlen(text), c, err, n);
}

/* `extra` appended to the minimal config must fail with a message containing `want`. */
static void fails(const char *extra, const char *want)
{
    char text[2048], err[256] = "";
    struct config c;
    snprintf(text, sizeof text, "%s%s", minimal, extra);
    if (parse(text, &c, err, sizeof err) == 0) {
        UNIT_FAIL("accepted: %s", extra);
        config_free(&c);
        return;
    }
    if (!strstr(err, want))
        UNIT_FAIL("error \"%s\" does not mention \"%s\"", err, want);
}

TEST(full_synapse_style)
{
    const char *text = "server_name: \"matrix.bund.example\"\n"
                       "public_baseurl: https://chat.bund.example\n"
                       "serve_server_wellknown: yes\n"
                       "report_stats: false\n"
                       "listeners:\n"
                       "  - port: 8008\n"
                       "    tls: false\n"
                       "    type: http\n"
                       "    x_forwarded: true\n"
                       "    bind_addresses: ['::1', '127.0.0.1']\n"
                       "    resources:\n"
                       "      - names: [client, federation]\n"
                       "        compress: false\n"
                       "  - port: 9000\n"
                       "    resources: [{names: [metrics]}]\n"
                       "database:\n"
                       "  name: psycopg2\n"
                       "  args:\n"
                       "    user: synapse_user\n"
                       "    password: secret\n"
                       "    dbname: synapse\n"
                       "    host: localhost\n"
                       "    port: 5433\n"
                       "    cp_min: 5\n"
                       "    cp_max: 10\n"
                       "signing_key_path: /etc/matrix/key\n"
                       "media_store_path: /var/media\n"
                       "enable_registration: true\n"
                       "registration_requires_token: true\n"
                       "registration_shared_secret: s3cret\n"
                       "max_upload_size: 100M\n"
                       "presence:\n"
                       "  enabled: true\n"
                       "password_config:\n"
                       "  enabled: false\n"
                       "rc_login:\n"
                       "  address: {per_second: 0.5, burst_count: 10}\n"
                       "rc_registration: {per_second: 2, burst_count: 4}\n"
                       "federation_domain_whitelist: [land.example, 'bund.example:8448']\n"
                       "default_room_version: 11\n"
                       "log_level: WARNING\n"
                       "worker_threads: 8\n";
    struct config c;
    char err[256];
    CHECK(parse(text, &c, err, sizeof err) == 0);
    CHECK_STR(c.server_name, "matrix.bund.example");
    CHECK_STR(c.public_baseurl, "https://chat.bund.example/");
    CHECK(c.serve_server_wellknown);
    CHECK_INT(c.n_listeners, 2);
    CHECK_INT(c.listeners[0].port, 8008);
    CHECK(c.listeners[0].x_forwarded && c.listeners[0].res_client && c.listeners[0].res_federation);
    CHECK_INT(c.listeners[0].n_bind_addresses, 2);
    CHECK_STR(c.listeners[0].bind_addresses[0], "::1");
    CHECK(!c.listeners[1].res_client && !c.listeners[1].res_federation);
    CHECK_STR(c.database.user, "synapse_user");
    CHECK_STR(c.database.password, "secret");
    CHECK_STR(c.database.dbname, "synapse");
    CHECK_STR(c.database.host, "localhost");
    CHECK_INT(c.database.port, 5433);
    CHECK_INT(c.database.cp_min, 5);
    CHECK_STR(c.signing_key_path, "/etc/matrix/key");
    CHECK(c.enable_registration && c.registration_requires_token);
    CHECK_STR(c.registration_shared_secret, "s3cret");
    CHECK_INT(c.max_upload_size, 100LL << 20);
    CHECK(c.presence_enabled && !c.password_enabled);
    CHECK(c.rc_login_address.per_second == 0.5 && c.rc_login_address.burst_count == 10);
    CHECK(c.rc_login_account.per_second == 0.17); /* default kept */
    CHECK(c.rc_registration.per_second == 2);
    CHECK_INT(c.n_federation_domain_whitelist, 2);
    CHECK_STR(c.federation_domain_whitelist[1], "bund.example:8448");
    CHECK_STR(c.default_room_version, "11");
    CHECK_INT(c.log_level, LOG_LVL_WARN);
    CHECK_INT(c.worker_threads, 8);
    config_free(&c);
}

TEST(defaults)
{
    struct config c;
    char err[256];
    CHECK(parse(minimal, &c, err, sizeof err) == 0);
    CHECK_STR(c.public_baseurl, "https://example.org/");
    CHECK_STR(c.media_store_path, "media_store");
    CHECK_STR(c.default_room_version, "12");
    CHECK(!c.enable_registration && !c.presence_enabled && c.password_enabled);
    CHECK(!c.allow_guest_access && !c.serve_server_wellknown);
    CHECK_INT(c.max_upload_size, 50LL << 20);
    CHECK_INT(c.max_request_body_size, 1LL << 20);
    CHECK_INT(c.listeners[0].n_bind_addresses, 2);
    CHECK_INT(c.database.cp_min, 2);
    CHECK_INT(c.database.cp_max, 10);
    CHECK_INT(c.worker_threads, 4);
    CHECK(c.registration_shared_secret == NULL);
    CHECK(c.federation_domain_whitelist == NULL);
    config_free(&c);
}

TEST(errors_name_the_key)
{
    fails("enable_registration: maybe\n", "enable_registration: expected a boolean");
    fails("enable_registration: \"true\"\n", "enable_registration");
    fails("worker_threads: many\n", "worker_threads: expected an integer");
    fails("worker_threads: 0\n", "worker_threads");
    fails("max_upload_size: 5X\n", "max_upload_size");
    fails("log_level: loud\n", "log_level");
    fails("presence: true\n", "presence: expected a mapping");
    fails("rc_login: {address: {per_second: fast}}\n", "rc_login.address.per_second");
    fails("allow_guest_access: true\n", "allow_guest_access");
    fails("federation_domain_whitelist: example.org\n", "federation_domain_whitelist");
    fails("federation_domain_whitelist: ['bad name']\n", "federation_domain_whitelist");
    fails("server_name: other.org\n", "server_name: duplicate key");
    fails("registration_shared_secret: [a, b]\n", "registration_shared_secret");
}

TEST(listener_and_database_errors)
{
    char err[256];
    struct config c;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners:\n  - port: eighty\n",
         "listeners[0].port"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners:\n  - port: 70000\n",
         "listeners[0].port"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners:\n  - port: 8008\n  - tls: true\n    port: 1\n",
         "listeners[1].tls"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners:\n  - bind_addresses: ['::1']\n",
         "listeners[0].port: required"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners: []\n",
         "listeners"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: sqlite3}\n"
         "listeners: [{port: 1}]\n",
         "database.name"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2, args: {port: x}}\n"
         "listeners: [{port: 1}]\n",
         "database.args.port"},
        {"signing_key_path: k\nlisteners: [{port: 1}]\n", "server_name: required"},
        {"server_name: 'bad name'\nsigning_key_path: k\nlisteners: [{port: 1}]\n", "server_name"},
        {"server_name: a.org\nlisteners: [{port: 1}]\n", "signing_key_path: required"},
        {"- just\n- a list\n", "top level"},
        {"server_name: [unclosed\n", "YAML error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        if (parse(cases[i].text, &c, err, sizeof err) == 0) {
            UNIT_FAIL("case %zu accepted", i);
            config_free(&c);
        } else if (!strstr(err, cases[i].want)) {
            UNIT_FAIL("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        }
    }
}

TEST(unknown_keys_only_warn)
{
    char text[1024], err[256];
    struct config c;
    snprintf(text, sizeof text, "%sno_such_key: 1\npresence: {enabled: false, other: 2}\n",
             minimal);
    CHECK(parse(text, &c, err, sizeof err) == 0);
    config_free(&c);
}

TEST(sizes)
{
    int64_t v;
    CHECK(config_parse_size("1024", &v) == 0 && v == 1024);
    CHECK(config_parse_size("10K", &v) == 0 && v == 10240);
    CHECK(config_parse_size("50M", &v) == 0 && v == 50LL << 20);
    CHECK(config_parse_size("1G", &v) == 0 && v == 1LL << 30);
    CHECK(config_parse_size("2k", &v) == 0 && v == 2048);
    CHECK(config_parse_size("", &v) == -1);
    CHECK(config_parse_size("M", &v) == -1);
    CHECK(config_parse_size("10MB", &v) == -1);
    CHECK(config_parse_size("-1", &v) == -1);
    CHECK(config_parse_size("99999999999999999999", &v) == -1);
}

TEST(example_in_deploy_parses)
{
    struct config c;
    char err[256];
    int rc = config_load("deploy/homeserver.yaml.example", &c, err, sizeof err);
    if (rc != 0)
        UNIT_FAIL("deploy/homeserver.yaml.example: %s", err);
    else {
        CHECK_STR(c.server_name, "example.org");
        CHECK(c.listeners[0].x_forwarded);
        config_free(&c);
    }
}

TEST(generated_config_reads_back)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(config_write_default(f, "land.example", 8448, "/run/postgresql", "amt", "amtdb",
                               "/etc/amt/key", "/var/amt/media", true) == 0);
    fclose(f);
    struct config c;
    char err[256];
    CHECK(config_parse(buf, len, &c, err, sizeof err) == 0);
    CHECK_STR(c.server_name, "land.example");
    CHECK_INT(c.listeners[0].port, 8448);
    CHECK_STR(c.database.host, "/run/postgresql");
    CHECK_STR(c.database.user, "amt");
    CHECK_STR(c.database.dbname, "amtdb");
    CHECK_STR(c.signing_key_path, "/etc/amt/key");
    CHECK_STR(c.media_store_path, "/var/amt/media");
    CHECK(c.enable_registration && c.enable_registration_without_verification);
    CHECK(c.registration_shared_secret && strlen(c.registration_shared_secret) >= 32);
    CHECK(!c.presence_enabled);
    config_free(&c);
    free(buf);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    log_set_level(LOG_LVL_ERROR); /* unknown-key warnings are expected here */
    RUN(full_synapse_style);
    RUN(defaults);
    RUN(errors_name_the_key);
    RUN(listener_and_database_errors);
    RUN(unknown_keys_only_warn);
    RUN(sizes);
    RUN(example_in_deploy_parses);
    RUN(generated_config_reads_back);
    return unit_done();
}
