/* config_test.c - homeserver.yaml parsing: a full Synapse-style file, every default, every error
 * naming its key path, unknown and ignored keys (the warnings themselves are captured from
 * stderr), YAML details (booleans, quoting, nulls, duplicates, aliases, several documents),
 * size strings, the example in deploy/, and config_write_default's output read back. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"
#include "tests/unit.h"
#include "tests/configtest.h"

/* tests/configtest.h under the short names this file uses throughout */
#define minimal CONFIGTEST_MINIMAL
#define fails configtest_fails
#define fails_text configtest_fails_text

static int parse(const char *text, struct config *c, char *err, size_t n)
{
    return config_parse(text, strlen(text), c, err, n);
}

/* Parse text with log output at info level captured; returns config_parse's result and the
 * log text in *logs (caller frees). */
static int parse_logged(const char *text, struct config *c, char *err, size_t n, char **logs)
{
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO), rc;
    long size;

    fflush(stderr);
    dup2(fileno(tmp), STDERR_FILENO);
    log_set_level(LOG_LVL_INFO);
    rc = parse(text, c, err, n);
    log_set_level(LOG_LVL_ERROR);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    size = ftell(tmp);
    *logs = calloc(1, (size_t)size + 1);
    rewind(tmp);
    if (fread(*logs, 1, (size_t)size, tmp) != (size_t)size)
        (*logs)[0] = '\0';
    fclose(tmp);
    return rc;
}

/* The minimal config with `listener` as its only listener (which must fail with `want`). */
static void listener_fails(const char *listener, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text,
             "server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
             "listeners:\n%s",
             listener);
    fails_text(text, want);
}

TEST(full_synapse_style)
{
    const char *text = "# a Synapse homeserver.yaml, lightly edited\n"
                       "server_name: \"matrix.bund.example\"\n"
                       "public_baseurl: https://chat.bund.example\n"
                       "serve_server_wellknown: yes\n"
                       "report_stats: false\n"
                       "pid_file: /data/homeserver.pid\n"
                       "listeners:\n"
                       "  - port: 8008\n"
                       "    tls: false\n"
                       "    type: http\n"
                       "    x_forwarded: true\n"
                       "    bind_addresses: ['::1', '127.0.0.1']\n"
                       "    resources:\n"
                       "      - names: [client, federation]\n"
                       "        compress: false\n"
                       "  - port: 8448\n"
                       "    bind_addresses: ['0.0.0.0']\n"
                       "    resources:\n"
                       "      - names: [federation]\n"
                       "  - port: 9000\n"
                       "    resources: [{names: [metrics]}]\n"
                       "database:\n"
                       "  name: postgresql\n"
                       "  args:\n"
                       "    user: synapse_user\n"
                       "    password: 'secret: with colon'\n"
                       "    dbname: synapse\n"
                       "    host: localhost\n"
                       "    port: 5433\n"
                       "    cp_min: 5\n"
                       "    cp_max: 10\n"
                       "log_config: \"/data/log.config\"\n"
                       "media_store_path: /var/media\n"
                       "signing_key_path: \"/etc/matrix/key\"\n"
                       "trusted_key_servers:\n"
                       "  - server_name: \"matrix.org\"\n"
                       "suppress_key_server_warning: true\n"
                       "macaroon_secret_key: abc\n"
                       "form_secret: def\n"
                       "enable_registration: true\n"
                       "enable_registration_without_verification: On\n"
                       "registration_requires_token: TRUE\n"
                       "registration_shared_secret: s3cret-s3cret-s3cret\n"
                       "max_upload_size: 100M\n"
                       "max_request_body_size: \"64K\"\n"
                       "presence:\n"
                       "  enabled: true\n"
                       "password_config:\n"
                       "  enabled: no\n"
                       "allow_guest_access: false\n"
                       "rc_login:\n"
                       "  address: {per_second: 0.5, burst_count: 10}\n"
                       "  failed_attempts:\n"
                       "    per_second: 1\n"
                       "    burst_count: 2.5\n"
                       "rc_registration: {per_second: 2, burst_count: 4}\n"
                       "federation_domain_whitelist: [land.example, 'bund.example:8448', "
                       "1.2.3.4, '[::1]:8448']\n"
                       "default_room_version: 11\n"
                       "log_level: WARNING\n"
                       "worker_threads: 8\n";
    struct config c;
    char err[256];
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_STR(c.server_name, "matrix.bund.example");
    CHECK_STR(c.public_baseurl, "https://chat.bund.example/");
    CHECK(c.serve_server_wellknown);
    CHECK_INT(c.n_listeners, 3);
    CHECK_INT(c.listeners[0].port, 8008);
    CHECK(c.listeners[0].x_forwarded && !c.listeners[0].tls);
    CHECK(c.listeners[0].res_client && c.listeners[0].res_federation);
    CHECK_INT(c.listeners[0].n_bind_addresses, 2);
    CHECK_STR(c.listeners[0].bind_addresses[0], "::1");
    CHECK_STR(c.listeners[0].bind_addresses[1], "127.0.0.1");
    CHECK_INT(c.listeners[1].port, 8448);
    CHECK(!c.listeners[1].res_client && c.listeners[1].res_federation);
    CHECK(!c.listeners[1].x_forwarded);
    CHECK_INT(c.listeners[1].n_bind_addresses, 1);
    CHECK_STR(c.listeners[1].bind_addresses[0], "0.0.0.0");
    CHECK(!c.listeners[2].res_client && !c.listeners[2].res_federation);
    CHECK_STR(c.database.user, "synapse_user");
    CHECK_STR(c.database.password, "secret: with colon");
    CHECK_STR(c.database.dbname, "synapse");
    CHECK_STR(c.database.host, "localhost");
    CHECK_INT(c.database.port, 5433);
    CHECK_INT(c.database.cp_min, 5);
    CHECK_INT(c.database.cp_max, 10);
    CHECK_STR(c.signing_key_path, "/etc/matrix/key");
    CHECK_STR(c.media_store_path, "/var/media");
    CHECK(c.enable_registration && c.enable_registration_without_verification);
    CHECK(c.registration_requires_token);
    CHECK_STR(c.registration_shared_secret, "s3cret-s3cret-s3cret");
    CHECK_INT(c.max_upload_size, 100LL << 20);
    CHECK_INT(c.max_request_body_size, 64 << 10);
    CHECK(c.presence_enabled && !c.password_enabled && !c.allow_guest_access);
    CHECK(c.rc_login_address.per_second == 0.5 && c.rc_login_address.burst_count == 10);
    CHECK(c.rc_login_account.per_second == 0.17 && c.rc_login_account.burst_count == 3);
    CHECK(c.rc_login_failed.per_second == 1 && c.rc_login_failed.burst_count == 2.5);
    CHECK(c.rc_registration.per_second == 2 && c.rc_registration.burst_count == 4);
    CHECK_INT(c.n_federation_domain_whitelist, 4);
    CHECK_STR(c.federation_domain_whitelist[0], "land.example");
    CHECK_STR(c.federation_domain_whitelist[1], "bund.example:8448");
    CHECK_STR(c.federation_domain_whitelist[3], "[::1]:8448");
    CHECK_STR(c.default_room_version, "11");
    CHECK_INT(c.log_level, LOG_LVL_WARN);
    CHECK_INT(c.worker_threads, 8);
    config_free(&c);
    CHECK(c.server_name == NULL && c.listeners == NULL); /* config_free zeroes */
    config_free(&c);                                     /* and is then harmless */
    config_free(NULL);
}

TEST(defaults)
{
    struct config c;
    char err[256];
    if (parse(minimal, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.public_baseurl == NULL); /* nothing advertised unless configured */
    CHECK(!c.serve_server_wellknown);
    CHECK_STR(c.media_store_path, "media_store");
    CHECK_STR(c.default_room_version, "12");
    CHECK(!c.enable_registration && !c.enable_registration_without_verification);
    CHECK(!c.registration_requires_token && c.registration_shared_secret == NULL);
    CHECK(!c.presence_enabled && c.password_enabled && !c.allow_guest_access);
    CHECK_INT(c.max_upload_size, 50LL << 20);
    CHECK_INT(c.max_request_body_size, 1LL << 20);
    CHECK_INT(c.log_level, LOG_LVL_INFO);
    CHECK_INT(c.worker_threads, 4);
    CHECK_INT(c.n_listeners, 1);
    CHECK_INT(c.listeners[0].n_bind_addresses, 2);
    CHECK_STR(c.listeners[0].bind_addresses[0], "::1");
    CHECK_STR(c.listeners[0].bind_addresses[1], "127.0.0.1");
    CHECK(!c.listeners[0].tls && !c.listeners[0].x_forwarded);
    CHECK(c.listeners[0].res_client && !c.listeners[0].res_federation);
    CHECK_STR(c.database.dbname, "amtsbote");
    CHECK(!c.database.user && !c.database.password && !c.database.host);
    CHECK_INT(c.database.port, 0);
    CHECK_INT(c.database.cp_min, 2);
    CHECK_INT(c.database.cp_max, 10);
    CHECK(c.federation_domain_whitelist == NULL && c.n_federation_domain_whitelist == 0);
    const struct config_ratelimit *rl[] = {&c.rc_registration, &c.rc_login_address,
                                           &c.rc_login_account, &c.rc_login_failed};
    for (size_t i = 0; i < 4; i++)
        CHECK(rl[i]->per_second == 0.17 && rl[i]->burst_count == 3);
    CHECK(c.rc_message.per_second == 0.2 && c.rc_message.burst_count == 10); /* Synapse's */
    config_free(&c);
}

/* A key that is present but null keeps its default; an empty list of bind addresses means
 * the default ones (as Synapse); an empty allow-list is an allow-list of nobody. */
TEST(nulls_and_empty_lists)
{
    char text[1024], err[256];
    struct config c;
    snprintf(text, sizeof text,
             "%smedia_store_path:\nworker_threads: ~\npresence: null\npublic_baseurl: Null\n"
             "federation_domain_whitelist: []\n",
             minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_STR(c.media_store_path, "media_store");
    CHECK_INT(c.worker_threads, 4);
    CHECK(c.public_baseurl == NULL);
    CHECK(c.federation_domain_whitelist != NULL && c.n_federation_domain_whitelist == 0);
    config_free(&c);

    const char *empty_bind = "server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
                             "listeners: [{port: 1, bind_addresses: []}]\n";
    if (parse(empty_bind, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.listeners[0].n_bind_addresses, 2);
    config_free(&c);
}

TEST(yaml_scalars)
{
    static const struct {
        const char *text;
        bool want;
    } bools[] = {{"true", true},   {"True", true}, {"YES", true},  {"on", true},
                 {"false", false}, {"No", false},  {"OFF", false}, {"no", false}};
    char text[1024], err[256];
    struct config c;
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        snprintf(text, sizeof text, "%spresence: {enabled: %s}\n", minimal, bools[i].text);
        if (parse(text, &c, err, sizeof err) != 0) {
            UNIT_FAIL("%s: %s", bools[i].text, err);
            continue;
        }
        if (c.presence_enabled != bools[i].want)
            UNIT_FAIL("%s read as %d", bools[i].text, c.presence_enabled);
        config_free(&c);
    }
    /* strings may be quoted either way; block scalars too; sizes may be quoted */
    snprintf(text, sizeof text,
             "%smedia_store_path: '/srv/it''s'\npublic_baseurl: \"https://x.example/\\u00e4\"\n"
             "registration_shared_secret: |-\n  multi\n  line\nmax_upload_size: '10K'\n",
             minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_STR(c.media_store_path, "/srv/it's");
    CHECK_STR(c.public_baseurl, "https://x.example/\xc3\xa4/");
    CHECK_STR(c.registration_shared_secret, "multi\nline");
    CHECK_INT(c.max_upload_size, 10240);
    config_free(&c);

    /* anchors and aliases, even a cycle, are followed only as far as the tables go */
    snprintf(text, sizeof text,
             "%srl: &rl {per_second: 3, burst_count: 9}\nrc_registration: *rl\n"
             "presence: &p {enabled: true, again: *p}\n",
             minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.rc_registration.per_second == 3 && c.rc_registration.burst_count == 9);
    CHECK(c.presence_enabled);
    config_free(&c);
}

/* Rates as people and JSON writers spell them, read exactly as strtod would in the C locale. */
TEST(numbers)
{
    static const char *const texts[] = {
        "0.17", "3", "1000", ".5", "5.", "0", "1e-05", "2E+3", "1.5e2", "0.1", "123456789012345"};
    char text[1024], err[256];
    struct config c;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(text, sizeof text, "%src_registration: {per_second: %s}\n", minimal, texts[i]);
        if (parse(text, &c, err, sizeof err) != 0) {
            UNIT_FAIL("%s: %s", texts[i], err);
            continue;
        }
        if (c.rc_registration.per_second != strtod(texts[i], NULL))
            UNIT_FAIL("%s read as %.17g", texts[i], c.rc_registration.per_second);
        config_free(&c);
    }
}

/* The e2e harness writes its configuration as JSON, which is YAML too. */
TEST(json_config)
{
    const char *text = "{\"server_name\": \"test.local\", \"listeners\": [{\"port\": 8008, "
                       "\"bind_addresses\": [\"127.0.0.1\"], \"tls\": false, \"x_forwarded\": "
                       "false, \"resources\": [{\"names\": [\"client\", \"federation\"]}]}], "
                       "\"database\": {\"name\": \"psycopg2\", \"args\": {\"cp_min\": 1}}, "
                       "\"signing_key_path\": \"/k\", \"rc_login\": {\"address\": "
                       "{\"per_second\": 1e-05, \"burst_count\": 1000}}}";
    struct config c;
    char err[256];
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.listeners[0].port, 8008);
    CHECK(c.listeners[0].res_federation);
    CHECK(c.rc_login_address.per_second == 1e-05);
    CHECK_INT(c.database.cp_min, 1);
    config_free(&c);
}

TEST(errors_name_the_key)
{
    fails("enable_registration: maybe\n", "enable_registration: expected a boolean");
    fails("enable_registration: \"true\"\n", "enable_registration: expected a boolean");
    fails("enable_registration: [true]\n", "enable_registration: expected a boolean");
    fails("enable_registration: 1\n", "enable_registration: expected a boolean");
    fails("worker_threads: many\n", "worker_threads: expected an integer");
    fails("worker_threads: '4'\n", "worker_threads: expected an integer");
    fails("worker_threads: 4.5\n", "worker_threads: expected an integer");
    fails("worker_threads: 0x10\n", "worker_threads: expected an integer");
    fails("worker_threads: 0\n", "worker_threads: must be between 1 and 256");
    fails("worker_threads: 257\n", "worker_threads: must be between 1 and 256");
    fails("worker_threads: 99999999999999999999\n", "worker_threads: expected an integer");
    fails("max_upload_size: 5X\n", "max_upload_size: expected a size");
    fails("max_upload_size: -1\n", "max_upload_size: expected a size");
    fails("max_upload_size: 0\n", "max_upload_size: must be at least 1 bytes");
    fails("max_request_body_size: 100\n", "max_request_body_size: must be at least 1024");
    fails("log_level: loud\n", "log_level: expected one of");
    fails("presence: true\n", "presence: expected a mapping");
    fails("presence: {enabled: 2}\n", "presence.enabled: expected a boolean");
    fails("password_config: {enabled: x}\n", "password_config.enabled: expected a boolean");
    fails("rc_login: {address: {per_second: fast}}\n",
          "rc_login.address.per_second: expected a non-negative number");
    fails("rc_login: {account: {burst_count: -1}}\n", "rc_login.account.burst_count");
    fails("rc_login: {failed_attempts: {per_second: 1e30}}\n",
          "rc_login.failed_attempts.per_second: expected a non-negative number");
    fails("rc_login: {failed_attempts: {per_second: 1e}}\n", "rc_login.failed_attempts.per_second");
    fails("rc_login: {failed_attempts: {per_second: 1.2.3}}\n",
          "rc_login.failed_attempts.per_second");
    fails("rc_login: {failed_attempts: {per_second: .inf}}\n",
          "rc_login.failed_attempts.per_second");
    fails("rc_login: {failed_attempts: {per_second: 1234567890123456}}\n",
          "rc_login.failed_attempts.per_second");
    fails("rc_login: {failed_attempts: []}\n", "rc_login.failed_attempts: expected a mapping");
    fails("rc_registration: {burst_count: '3'}\n", "rc_registration.burst_count");
    fails("allow_guest_access: true\n",
          "allow_guest_access: guest access is not supported; set allow_guest_access: false");
    fails("allow_guest_access: sometimes\n", "allow_guest_access: expected a boolean");
    fails("federation_domain_whitelist: example.org\n",
          "federation_domain_whitelist: expected a list of strings");
    fails("federation_domain_whitelist: [a.org, 'bad name']\n",
          "federation_domain_whitelist[1]: expected a server name");
    fails("federation_domain_whitelist: [a.org, [b.org]]\n",
          "federation_domain_whitelist[1]: expected a string");
    fails("registration_shared_secret: [a, b]\n", "registration_shared_secret: expected");
    fails("registration_shared_secret: ''\n", "registration_shared_secret: must not be empty");
    fails("registration_shared_secret: \"a\\0b\"\n", "registration_shared_secret: expected");
    fails("public_baseurl: matrix.example.org\n", "public_baseurl: expected an http");
    fails("public_baseurl: 'https://'\n", "public_baseurl: expected an http");
    fails("default_room_version: V11\n", "default_room_version: expected a room version");
    fails("default_room_version: '11 '\n", "default_room_version: expected a room version");
    fails("default_room_version: [11]\n", "default_room_version: expected a room version");
    fails_text("server_name: a.org\nsigning_key_path: k\nlisteners: [{port: 1}]\n"
               "database: {name: psycopg2, args: {cp_min: 0}}\n",
               "database.args.cp_min: must be between 1 and 1000");
}

TEST(duplicates)
{
    fails("server_name: other.org\n", "server_name: duplicate key");
    fails("'server_name': other.org\n", "server_name: duplicate key");
    fails("database: {name: psycopg2}\n", "database: duplicate key");
    fails_text("server_name: a.org\nsigning_key_path: k\nlisteners: [{port: 1}]\n"
               "database:\n  name: psycopg2\n  args:\n    user: a\n    user: b\n",
               "database.args.user: duplicate key");
    fails_text("server_name: a.org\nsigning_key_path: k\nlisteners: [{port: 1}]\n"
               "database:\n  name: psycopg2\n  args:\n    database: a\n    dbname: b\n",
               "database.args.dbname: same setting as database.args.database");
    listener_fails("  - port: 1\n    port: 2\n", "listeners[0].port: duplicate key");
    listener_fails("  - port: 1\n    resources: [{names: [client], compress: no, compress: no}]\n",
                   "listeners[0].resources[0].compress: duplicate key");
    fails("? [a]\n: 1\n", "mapping keys must be strings");
}

TEST(listener_errors)
{
    listener_fails("  - port: eighty\n", "listeners[0].port: expected an integer");
    listener_fails("  - port: '8008'\n", "listeners[0].port: expected an integer");
    listener_fails("  - port: 70000\n", "listeners[0].port: must be between 1 and 65535");
    listener_fails("  - port: 0\n", "listeners[0].port: must be between 1 and 65535");
    listener_fails("  - port: 8008\n  - tls: true\n    port: 1\n",
                   "listeners[1].tls: TLS is terminated by the reverse proxy; set tls: false");
    listener_fails("  - port: 1\n    tls: 'no'\n", "listeners[0].tls: expected a boolean");
    listener_fails("  - port: 1\n    x_forwarded: 1\n",
                   "listeners[0].x_forwarded: expected a boolean");
    listener_fails("  - bind_addresses: ['::1']\n", "listeners[0].port: required");
    listener_fails("  - port: 1\n    type: manhole\n", "listeners[0].type: expected one of: http");
    listener_fails("  - port: 1\n    bind_addresses: '::1'\n",
                   "listeners[0].bind_addresses: expected a list of strings");
    listener_fails("  - port: 1\n    bind_addresses: ['::1', localhost]\n",
                   "listeners[0].bind_addresses[1]: expected an IP address");
    listener_fails("  - port: 1\n    resources: client\n",
                   "listeners[0].resources: expected a list of resources");
    listener_fails("  - port: 1\n    resources: [client]\n",
                   "listeners[0].resources[0]: expected a mapping");
    listener_fails("  - port: 1\n    resources: [{compress: false}]\n",
                   "listeners[0].resources[0].names: required");
    listener_fails("  - port: 1\n    resources: [{names: client}]\n",
                   "listeners[0].resources[0].names: expected a list of resource names");
    listener_fails("  - port: 1\n    resources: [{names: [[client]]}]\n",
                   "listeners[0].resources[0].names[0]: expected a resource name");
    listener_fails("  - port: 1\n    resources:\n      - names: [client]\n        compress: 3\n",
                   "listeners[0].resources[0].compress: expected a boolean");
    listener_fails("  - port: 1\n  - 8008\n", "listeners[1]: expected a mapping");
    listener_fails("  []\n", "listeners: at least one listener is required");
    listener_fails("  {port: 1}\n", "listeners: expected a list of listeners");
}

TEST(database_and_required)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        /* column: the whole file, what its error must contain */
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: sqlite3}\n"
         "listeners: [{port: 1}]\n",
         "database.name: expected one of: psycopg2 postgresql"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: [psycopg2]}\n"
         "listeners: [{port: 1}]\n",
         "database.name: expected one of"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {args: {user: x}}\n"
         "listeners: [{port: 1}]\n",
         "database.name: required"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase:\nlisteners: [{port: 1}]\n",
         "database: required"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: psycopg2\nlisteners: [{port: 1}]\n",
         "database: expected a mapping"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2, args: {port: x}}\n"
         "listeners: [{port: 1}]\n",
         "database.args.port: expected an integer"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2, args: [port]}\n"
         "listeners: [{port: 1}]\n",
         "database.args: expected a mapping"},
        {"server_name: a.org\nsigning_key_path: k\nlisteners: [{port: 1}]\n"
         "database: {name: psycopg2, args: {cp_min: 5, cp_max: 4}}\n",
         "database.args.cp_max: must not be less than cp_min"},
        {"signing_key_path: k\ndatabase: {name: psycopg2}\nlisteners: [{port: 1}]\n",
         "server_name: required"},
        {"server_name: ~\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
         "listeners: [{port: 1}]\n",
         "server_name: required"},
        {"server_name: a.org\ndatabase: {name: psycopg2}\nlisteners: [{port: 1}]\n",
         "signing_key_path: required"},
        {"server_name: a.org\nsigning_key_path: k\ndatabase: {name: psycopg2}\n",
         "listeners: required"},
        {"server_name: a.org\nsigning_key_path: k\nlisteners: [{port: 1}]\n", "database: required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fails_text(cases[i].text, cases[i].want);
}

TEST(server_name_checked)
{
    static const char *const bad[] = {
        "'bad name'",   "''",           "'example.org:'", "example.org:70000", "example..org",
        ".example.org", "example.org.", "'[::1'",         "1.2.3.256",         "'@example.org'"};
    char text[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "server_name: %s\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
                 "listeners: [{port: 1}]\n",
                 bad[i]);
        fails_text(text, "server_name: ");
    }
    static const char *const good[] = {"example.org", "example.org:8448", "'[::1]:8448'",
                                       "localhost", "10.0.0.1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct config c;
        char err[256];
        snprintf(text, sizeof text,
                 "server_name: %s\nsigning_key_path: k\ndatabase: {name: psycopg2}\n"
                 "listeners: [{port: 1}]\n",
                 good[i]);
        if (parse(text, &c, err, sizeof err) != 0)
            UNIT_FAIL("%s: %s", good[i], err);
        else
            config_free(&c);
    }
}

TEST(documents)
{
    fails_text("", "(top level): the configuration is empty");
    fails_text("# only a comment\n", "(top level): the configuration is empty");
    fails_text("- just\n- a list\n", "(top level): expected a mapping");
    fails_text("just a string\n", "(top level): expected a mapping");
    fails_text("server_name: [unclosed\n", "line 2, column 1: invalid YAML");
    fails_text("a: b\n c: d\n", "invalid YAML");
    fails_text("a: *nowhere\n", "invalid YAML");
    fails_text("\xc3\x28: 1\n", "invalid YAML");
    char text[1024];
    snprintf(text, sizeof text, "%s---\nserver_name: b.org\n", minimal);
    fails_text(text, "expected a single YAML document");

    /* the error buffer is always terminated, however small */
    char err[12];
    struct config c;
    CHECK(parse("worker_threads: x\n", &c, err, sizeof err) == -1);
    CHECK(strlen(err) < sizeof err);
    CHECK(parse("worker_threads: x\n", &c, NULL, 0) == -1);
}

TEST(unknown_keys_only_warn)
{
    char text[2048], err[256], *logs;
    struct config c;
    snprintf(text, sizeof text,
             "%sno_such_key: 1\npresence: {enabled: true, foo: 2}\n"
             "presence.enabled: false\n"
             "rc_login: {address: {per_second: 1, burst_count: 2, extra: [1]}}\n"
             "report_stats: true\nlog_config: /x\n"
             "\"ctl\\x01key\": 1\n",
             minimal);
    int rc = parse_logged(text, &c, err, sizeof err, &logs);
    if (rc != 0) {
        UNIT_FAIL("%s", err);
        free(logs);
        return;
    }
    CHECK(strstr(logs, "unknown config key 'no_such_key' ignored"));
    CHECK(strstr(logs, "unknown config key 'presence.foo' ignored"));
    CHECK(strstr(logs, "unknown config key 'presence.enabled' ignored")); /* the dotted key */
    CHECK(c.presence_enabled); /* ... which did not override the nested one */
    CHECK(strstr(logs, "unknown config key 'rc_login.address.extra' ignored"));
    CHECK(strstr(logs, "unknown config key 'ctl?key' ignored")); /* control bytes masked */
    CHECK(!strstr(logs, "'report_stats' ignored") && !strstr(logs, "WARN config: 'report_stats"));
    CHECK(strstr(logs, "INFO config: 'report_stats' is a Synapse setting"));
    CHECK(strstr(logs, "INFO config: 'log_config' is a Synapse setting"));
    config_free(&c);
    free(logs);

    /* unknown database args and resource names warn; the listener still serves the rest */
    const char *db = "server_name: a.org\nsigning_key_path: k\n"
                     "database:\n  name: psycopg2\n  args: {sslmode: require, database: x}\n"
                     "listeners:\n  - port: 1\n    bind_address: 0.0.0.0\n"
                     "    resources: [{names: [client, metrics, openid, keys, media]}]\n"
                     "  - port: 2\n    resources: [{names: [keys]}]\n";
    rc = parse_logged(db, &c, err, sizeof err, &logs);
    if (rc != 0) {
        UNIT_FAIL("%s", err);
        free(logs);
        return;
    }
    CHECK(strstr(logs, "unknown config key 'database.args.sslmode' ignored"));
    CHECK(strstr(logs, "unknown config key 'listeners[0].bind_address' ignored"));
    CHECK(!strstr(logs, "resource 'metrics' is not served")); /* it is: /_synapse/metrics */
    CHECK(strstr(logs, "listeners[0].resources[0].names[3]: resource 'keys' is not served"));
    CHECK(strstr(logs, "listeners[0].resources[0].names[4]: resource 'media' is not served"));
    CHECK(strstr(logs, "listeners[1] serves neither the client nor the federation API"));
    CHECK(c.listeners[0].res_client && !c.listeners[0].res_federation);
    CHECK(!strstr(logs, "require")); /* values stay out of the log */
    config_free(&c);
    free(logs);
}

TEST(secrets_stay_out_of_errors_and_logs)
{
    char text[1024], err[256], *logs;
    struct config c;
    snprintf(text, sizeof text, "%sregistration_shared_secret: hunter2\nworker_threads: hunter3\n",
             minimal);
    CHECK(parse_logged(text, &c, err, sizeof err, &logs) == -1);
    CHECK(!strstr(err, "hunter") && !strstr(logs, "hunter"));
    free(logs);
    snprintf(text, sizeof text, "%sregistration_shared_secret: hunter2\n", minimal);
    CHECK(parse_logged(text, &c, err, sizeof err, &logs) == 0);
    CHECK(strstr(logs, "registration_shared_secret is short") && !strstr(logs, "hunter"));
    config_free(&c);
    free(logs);
}

TEST(sizes)
{
    int64_t v;
    CHECK(config_parse_size("1024", &v) == 0 && v == 1024);
    CHECK(config_parse_size("0", &v) == 0 && v == 0);
    CHECK(config_parse_size("10K", &v) == 0 && v == 10240);
    CHECK(config_parse_size("50M", &v) == 0 && v == 50LL << 20);
    CHECK(config_parse_size("1G", &v) == 0 && v == 1LL << 30);
    CHECK(config_parse_size("2k", &v) == 0 && v == 2048);
    CHECK(config_parse_size("3m", &v) == 0 && v == 3LL << 20);
    CHECK(config_parse_size("8589934591G", &v) == 0 && v == 8589934591LL << 30);
    CHECK(config_parse_size("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(config_parse_size("9223372036854775808", &v) == -1);
    CHECK(config_parse_size("8589934592G", &v) == -1);
    CHECK(config_parse_size("99999999999999999999", &v) == -1);
    CHECK(config_parse_size("", &v) == -1);
    CHECK(config_parse_size(NULL, &v) == -1);
    CHECK(config_parse_size("M", &v) == -1);
    CHECK(config_parse_size("10MB", &v) == -1);
    CHECK(config_parse_size("10 M", &v) == -1);
    CHECK(config_parse_size(" 10", &v) == -1);
    CHECK(config_parse_size("+10", &v) == -1);
    CHECK(config_parse_size("-1", &v) == -1);
    CHECK(config_parse_size("1.5M", &v) == -1);
    CHECK(config_parse_size("1T", &v) == -1);
}

TEST(durations)
{
    int64_t v;
    CHECK(config_parse_duration("1500", &v) == 0 && v == 1500);
    CHECK(config_parse_duration("30s", &v) == 0 && v == 30000);
    CHECK(config_parse_duration("10m", &v) == 0 && v == 600000);
    CHECK(config_parse_duration("1h", &v) == 0 && v == 3600000);
    CHECK(config_parse_duration("7d", &v) == 0 && v == 604800000);
    CHECK(config_parse_duration("2w", &v) == 0 && v == 1209600000);
    CHECK(config_parse_duration("1y", &v) == 0 && v == 31536000000LL);
    CHECK(config_parse_duration("", &v) == -1);
    CHECK(config_parse_duration(NULL, &v) == -1);
    CHECK(config_parse_duration("1H", &v) == -1);
    CHECK(config_parse_duration("1hm", &v) == -1);
    CHECK(config_parse_duration("-1s", &v) == -1);
    CHECK(config_parse_duration("999999999999y", &v) == -1);
}

TEST(connection_limits)
{
    struct config c;
    char err[256];
    const char *y = "server_name: example.org\nsigning_key_path: k\n"
                    "listeners: [{port: 8008}, {port: 8009, x_forwarded: true},\n"
                    "  {port: 8010, x_forwarded: true, max_connections_per_address: 50}]\n"
                    "database: {name: psycopg2}\n";
    if (config_parse(y, strlen(y), &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.max_connections, 10000);
    CHECK_INT(c.request_header_timeout_ms, 30000);
    CHECK_INT(c.request_body_timeout_ms, 60000);
    CHECK_INT(c.listeners[0].max_connections_per_address, 256); /* a direct listener */
    CHECK_INT(c.listeners[1].max_connections_per_address, 0);   /* behind a proxy: off */
    CHECK_INT(c.listeners[2].max_connections_per_address, 50);
    config_free(&c);
    const char *set = "server_name: example.org\nsigning_key_path: k\n"
                      "listeners: [{port: 8008, max_connections_per_address: 0}]\n"
                      "database: {name: psycopg2}\nmax_connections: 20000\n"
                      "request_header_timeout: 5s\nrequest_body_timeout: 2m\n";
    if (config_parse(set, strlen(set), &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.max_connections, 20000);
    CHECK_INT(c.request_header_timeout_ms, 5000);
    CHECK_INT(c.request_body_timeout_ms, 120000);
    CHECK_INT(c.listeners[0].max_connections_per_address, 0);
    config_free(&c);
    const char *low = "server_name: example.org\nsigning_key_path: k\n"
                      "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n"
                      "max_connections: 3\n";
    CHECK(config_parse(low, strlen(low), &c, err, sizeof err) == -1);
    CHECK(strstr(err, "max_connections") != NULL);
    const char *fast = "server_name: example.org\nsigning_key_path: k\n"
                       "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n"
                       "request_header_timeout: 10\n";
    CHECK(config_parse(fast, strlen(fast), &c, err, sizeof err) == -1);
    CHECK(strstr(err, "request_header_timeout") != NULL);
}

TEST(turn_and_user_directory)
{
    struct config c;
    char err[256];
    const char *y = "server_name: example.org\nsigning_key_path: k\n"
                    "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n"
                    "turn_uris: ['turn:t.example.org?transport=udp']\n"
                    "turn_shared_secret: geheim\nturn_user_lifetime: 30m\n"
                    "user_directory: {search_all_users: true}\n";
    if (config_parse(y, strlen(y), &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.n_turn_uris == 1 && c.turn_user_lifetime_ms == 1800000);
    CHECK_STR(c.turn_shared_secret, "geheim");
    CHECK(c.user_directory_enabled && c.user_directory_search_all_users);
    config_free(&c);
    const char *bad = "server_name: example.org\nsigning_key_path: k\n"
                      "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n"
                      "turn_uris: ['http://x']\n";
    CHECK(config_parse(bad, strlen(bad), &c, err, sizeof err) == -1);
    CHECK(strstr(err, "turn_uris") != NULL);
}

TEST(federation_trust_keys)
{
    struct config c;
    char err[256];
    char text[2048];
    /* defaults: certificates checked, no notary, Synapse's blacklist, no exceptions */
    if (parse(minimal, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.federation_verify_certificates);
    CHECK_INT(c.n_trusted_key_servers, 0);
    CHECK_INT(c.n_federation_custom_ca_list, 0);
    CHECK_INT(c.n_ip_range_blacklist, 0); /* unset: ipfilter's default list */
    CHECK_INT(c.n_ip_range_whitelist, 0);
    config_free(&c);
    snprintf(text, sizeof text,
             "%strusted_key_servers:\n"
             "  - server_name: notary.bund.example\n"
             "    verify_keys:\n"
             "      \"ed25519:auto\": \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\"\n"
             "      \"ed25519:old\": \"l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ=\"\n"
             "  - server_name: 'land.example:8448'\n"
             "    accept_keys_insecurely: true\n"
             "federation_verify_certificates: false\n"
             "federation_custom_ca_list: [/etc/ca/bund.pem, /etc/ca/land.pem]\n"
             "ip_range_blacklist: ['10.0.0.0/8', 'fc00::/7']\n"
             "ip_range_whitelist: ['10.1.0.0/16', '127.0.0.1']\n"
             "old_signing_keys:\n"
             "  \"ed25519:id\": {key: \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\", "
             "expired_ts: 123456789123}\n",
             minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.n_trusted_key_servers, 2);
    CHECK_STR(c.trusted_key_servers[0].server_name, "notary.bund.example");
    CHECK_INT(c.trusted_key_servers[0].n_keys, 2);
    CHECK_STR(c.trusted_key_servers[0].key_ids[1], "ed25519:old");
    CHECK_STR(c.trusted_key_servers[0].keys[0], "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw");
    CHECK_STR(c.trusted_key_servers[1].server_name, "land.example:8448");
    CHECK_INT(c.trusted_key_servers[1].n_keys, 0);
    CHECK(!c.federation_verify_certificates);
    CHECK_INT(c.n_federation_custom_ca_list, 2);
    CHECK_STR(c.federation_custom_ca_list[1], "/etc/ca/land.pem");
    CHECK_INT(c.n_ip_range_blacklist, 2);
    CHECK_INT(c.n_ip_range_whitelist, 2);
    CHECK_INT(c.n_old_signing_keys, 1);
    CHECK_STR(c.old_signing_keys[0].key_id, "ed25519:id");
    CHECK(c.old_signing_keys[0].expired_ts == 123456789123LL);
    config_free(&c);
    fails("old_signing_keys: {\"ed25519:x\": {key: short, expired_ts: 1}}\n",
          "old_signing_keys.ed25519:x: key: expected");
    fails("old_signing_keys: {\"ed25519:x\": {key: Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw}}\n",
          "old_signing_keys.ed25519:x: expired_ts: expected");
    fails("old_signing_keys: {\"rsa:x\": {}}\n", "old_signing_keys.rsa:x: expected a key ID");
    fails("old_signing_keys: [a]\n", "old_signing_keys: expected a mapping");
    /* errors name the key */
    fails("trusted_key_servers: [{verify_keys: {}}]\n", "trusted_key_servers[0].server_name: required");
    fails("trusted_key_servers: [{server_name: 'a b'}]\n", "trusted_key_servers[0].server_name");
    fails("trusted_key_servers: [{server_name: a.example, verify_keys: {'ed25519:x': 'short'}}]\n",
          "trusted_key_servers[0].verify_keys.ed25519:x: expected an unpadded base64");
    fails("trusted_key_servers: [{server_name: a.example, verify_keys: [x]}]\n",
          "trusted_key_servers[0].verify_keys: expected a mapping");
    fails("trusted_key_servers: {server_name: a.example}\n", "trusted_key_servers: expected a list");
    fails("federation_verify_certificates: maybe\n", "federation_verify_certificates");
    /* Synapse's older spelling, but not both */
    snprintf(text, sizeof text, "%sfederation_ip_range_blacklist: ['10.0.0.0/8']\n", minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.n_ip_range_blacklist, 1);
    config_free(&c);
    fails("ip_range_blacklist: ['10.0.0.0/8']\nfederation_ip_range_blacklist: ['10.0.0.0/8']\n",
          "same setting as");
}

TEST(outbound_filters_and_thumbnail_sizes)
{
    struct config c;
    char err[256];
    const char *y = "server_name: example.org\nsigning_key_path: k\n"
                    "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n"
                    "ip_range_blacklist: ['10.0.0.0/8', 'fc00::/7']\n"
                    "ip_range_whitelist: ['127.0.0.1']\n"
                    "url_preview_ip_range_whitelist: ['192.168.1.0/24']\n"
                    "thumbnail_sizes: [{width: 32, height: 32, method: crop},\n"
                    "                  {width: 640, height: 480}]\n";
    if (config_parse(y, strlen(y), &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_INT(c.n_ip_range_blacklist, 2);
    CHECK_STR(c.ip_range_whitelist[0], "127.0.0.1");
    CHECK_INT(c.n_url_preview_ip_range_blacklist, 0); /* unset: the default list */
    CHECK_INT(c.n_url_preview_ip_range_whitelist, 1);
    CHECK_INT(c.n_thumbnail_sizes, 2);
    CHECK(c.thumbnail_sizes[0].crop && c.thumbnail_sizes[0].width == 32);
    CHECK(!c.thumbnail_sizes[1].crop && c.thumbnail_sizes[1].height == 480); /* scale */
    config_free(&c);
    const char *bad[] = {"ip_range_blacklist: ['10.0.0.0/33']\n",
                         "url_preview_ip_range_whitelist: ['localhost']\n",
                         "thumbnail_sizes: [{width: 32, height: 32, method: zoom}]\n",
                         "thumbnail_sizes: [{width: 0, height: 32}]\n",
                         "thumbnail_sizes: [{width: 32}]\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "server_name: example.org\nsigning_key_path: k\n"
                 "listeners: [{port: 8008}]\ndatabase: {name: psycopg2}\n%s",
                 bad[i]);
        if (config_parse(text, strlen(text), &c, err, sizeof err) != -1)
            UNIT_FAIL("accepted: %s", bad[i]);
        else if (!strstr(err, bad[i][0] == 't' ? "thumbnail_sizes" : "ip_range"))
            UNIT_FAIL("error does not name the key: %s", err);
    }
}

TEST(example_in_deploy_parses)
{
    struct config c;
    char err[256];
    if (config_load("deploy/homeserver.yaml.example", &c, err, sizeof err) != 0) {
        UNIT_FAIL("deploy/homeserver.yaml.example: %s", err);
        return;
    }
    CHECK_STR(c.server_name, "example.org");
    CHECK(c.listeners[0].x_forwarded);
    CHECK_INT(c.listeners[0].max_connections_per_address, 0);
    CHECK_INT(c.max_connections, 10000);
    CHECK_INT(c.request_header_timeout_ms, 30000);
    CHECK_INT(c.n_federation_domain_whitelist, 2);
    config_free(&c);

    CHECK(config_load("/nonexistent/homeserver.yaml", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot open") != NULL);
    CHECK(c.server_name == NULL);
}

static char *write_default(const char *server_name, int port, const char *baseurl,
                           const char *host, const char *user, const char *db, const char *key,
                           const char *media, bool open, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = config_write_default(f, server_name, port, baseurl, host, user, db, key, media, open);
    fclose(f);
    return buf;
}

TEST(generated_config_reads_back)
{
    int rc;
    char *buf = write_default("land.example", 8448, "http://127.0.0.1:8448/", "/run/postgresql", "amt", "amtdb",
                              "/etc/amt/key", "/var/amt/media", true, &rc);
    struct config c;
    char err[256], *logs;
    CHECK(rc == 0);
    if (parse_logged(buf, &c, err, sizeof err, &logs) != 0) {
        UNIT_FAIL("%s\n%s", err, buf);
        free(buf);
        free(logs);
        return;
    }
    CHECK(!strstr(logs, "unknown config key")); /* only keys the parser knows */
    free(logs);
    CHECK_STR(c.server_name, "land.example");
    CHECK_STR(c.public_baseurl, "http://127.0.0.1:8448/"); /* as `make run` asks */
    CHECK_INT(c.n_listeners, 1);
    CHECK_INT(c.listeners[0].port, 8448);
    CHECK_INT(c.listeners[0].n_bind_addresses, 1);
    CHECK_STR(c.listeners[0].bind_addresses[0], "127.0.0.1");
    CHECK(c.listeners[0].res_client && c.listeners[0].res_federation && !c.listeners[0].tls);
    CHECK_STR(c.database.host, "/run/postgresql");
    CHECK_STR(c.database.user, "amt");
    CHECK_STR(c.database.dbname, "amtdb");
    CHECK(c.database.password == NULL && c.database.port == 0);
    CHECK_INT(c.database.cp_min, 2);
    CHECK_INT(c.database.cp_max, 10);
    CHECK_STR(c.signing_key_path, "/etc/amt/key");
    CHECK_STR(c.media_store_path, "/var/amt/media");
    CHECK(c.enable_registration && c.enable_registration_without_verification);
    CHECK(!c.registration_requires_token && c.password_enabled && !c.presence_enabled);
    CHECK_INT(c.max_upload_size, 50LL << 20);
    CHECK_INT(c.max_request_body_size, 1LL << 20);
    CHECK_STR(c.default_room_version, "12");
    CHECK_INT(c.log_level, LOG_LVL_INFO);
    CHECK_INT(c.worker_threads, 4);
    CHECK(c.federation_domain_whitelist == NULL);
    CHECK(c.rc_login_failed.per_second == 0.17 && c.rc_login_failed.burst_count == 3);
    CHECK(c.rc_message.per_second == 0.2 && c.rc_message.burst_count == 10);
    const char *secret = c.registration_shared_secret;
    CHECK(secret && strlen(secret) >= 32);
    for (size_t i = 0; secret && secret[i]; i++)
        if (!((secret[i] >= 'a' && secret[i] <= 'z') || (secret[i] >= 'A' && secret[i] <= 'Z') ||
              (secret[i] >= '0' && secret[i] <= '9')))
            UNIT_FAIL("secret has '%c'", secret[i]);
    /* every key line is explained by a comment somewhere above it */
    CHECK(strstr(buf, "# The domain in user IDs"));
    CHECK(strstr(buf, "# Presence is off"));
    char *first_secret = strdup(secret);
    config_free(&c);
    free(buf);

    /* closed registration, database args left out, paths that need escaping */
    buf = write_default("[::1]:8448", 80, NULL, NULL, NULL, NULL, "/etc/a \"b\"\\c: #d",
                        "/var/m\xc3\xa4\tdia", false, &rc);
    CHECK(rc == 0);
    if (parse(buf, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s\n%s", err, buf);
        free(buf);
        free(first_secret);
        return;
    }
    CHECK_STR(c.server_name, "[::1]:8448");
    CHECK(c.public_baseurl == NULL); /* left commented out: nothing advertised */
    CHECK(strstr(buf, "#public_baseurl: https://[::1]:8448/"));
    CHECK_INT(c.listeners[0].port, 80);
    CHECK(!c.database.host && !c.database.user && !c.database.dbname);
    CHECK_STR(c.signing_key_path, "/etc/a \"b\"\\c: #d");
    CHECK_STR(c.media_store_path, "/var/m\xc3\xa4\tdia");
    CHECK(!c.enable_registration && !c.enable_registration_without_verification);
    CHECK(strcmp(c.registration_shared_secret, first_secret) != 0); /* fresh each time */
    config_free(&c);
    free(buf);
    free(first_secret);

    /* arguments that could not produce a valid file: nothing is written */
    buf = write_default("bad name", 8008, NULL, NULL, NULL, NULL, "k", "m", false, &rc);
    CHECK(rc == -1 && buf && buf[0] == '\0');
    free(buf);
    buf = write_default("a.org", 0, NULL, NULL, NULL, NULL, "k", "m", false, &rc);
    CHECK(rc == -1 && buf && buf[0] == '\0');
    free(buf);
    buf = write_default("a.org", 8008, NULL, NULL, NULL, NULL, NULL, "m", false, &rc);
    CHECK(rc == -1);
    free(buf);
}

/* media_scanner (off by default, on_error refuse) and the metrics listener resource. */
TEST(media_scanner_and_metrics)
{
    struct config c;
    char err[256], text[2048];
    if (parse(minimal, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(!c.media_scanner.enabled && !c.media_scanner.clamd_socket);
    CHECK(!c.media_scanner.clamd_host && c.media_scanner.clamd_port == 3310);
    CHECK_INT(c.media_scanner.timeout_ms, 30000);
    CHECK_STR(c.media_scanner.on_error, "refuse");
    CHECK_INT(c.media_scanner.max_scan_size, 50LL << 20);
    CHECK(!c.listeners[0].res_metrics);
    config_free(&c);
    /* a second listener with the metrics resource only */
    snprintf(text, sizeof text,
             "server_name: example.org\nsigning_key_path: /k\n"
             "listeners:\n"
             "  - port: 8008\n"
             "    resources: [{names: [client]}]\n"
             "  - port: 9000\n"
             "    resources: [{names: [metrics]}]\n"
             "database: {name: psycopg2, args: {database: amtsbote}}\n"
             "media_scanner: {enabled: true, clamd_host: av.example, clamd_port: 3311, "
             "timeout: 5s, on_error: allow, max_scan_size: 10M}\n");
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.media_scanner.enabled);
    CHECK_STR(c.media_scanner.clamd_host, "av.example");
    CHECK_INT(c.media_scanner.clamd_port, 3311);
    CHECK_INT(c.media_scanner.timeout_ms, 5000);
    CHECK_STR(c.media_scanner.on_error, "allow");
    CHECK_INT(c.media_scanner.max_scan_size, 10LL << 20);
    CHECK(c.listeners[1].res_metrics && !c.listeners[1].res_client);
    CHECK(!c.listeners[0].res_metrics);
    config_free(&c);
    fails("media_scanner: {on_error: maybe}\n", "media_scanner.on_error: expected refuse or allow");
    fails("media_scanner: {timeout: 10}\n", "media_scanner.timeout: must be at least 100 ms");
    fails("media_scanner: {clamd_port: 0}\n", "media_scanner.clamd_port: must be between");
    fails("media_scanner: {clamd_socket: /s, clamd_host: h}\n", "not both");
}

TEST(server_notices)
{
    struct config c;
    char err[256];
    char text[2048];
    CHECK(parse(minimal, &c, err, sizeof err) == 0);
    CHECK(c.server_notices.localpart == NULL); /* off by default */
    CHECK_STR(c.server_notices.room_name, "Server Notices");
    CHECK(!c.server_notices.auto_join);
    config_free(&c);
    snprintf(text, sizeof text,
             "%sserver_notices:\n  system_mxid_localpart: server\n"
             "  system_mxid_display_name: Hinweise\n  room_name: Amtsmitteilungen\n"
             "  room_avatar_url: mxc://example.org/x\n  auto_join: true\n",
             minimal);
    if (parse(text, &c, err, sizeof err) != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK_STR(c.server_notices.localpart, "server");
    CHECK_STR(c.server_notices.display_name, "Hinweise");
    CHECK_STR(c.server_notices.room_name, "Amtsmitteilungen");
    CHECK(c.server_notices.auto_join);
    config_free(&c);
    fails("server_notices: {system_mxid_localpart: 'Not Valid'}\n",
          "server_notices.system_mxid_localpart");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    log_set_level(LOG_LVL_ERROR); /* warnings are expected; parse_logged checks them */
    RUN(full_synapse_style);
    RUN(defaults);
    RUN(nulls_and_empty_lists);
    RUN(yaml_scalars);
    RUN(numbers);
    RUN(json_config);
    RUN(errors_name_the_key);
    RUN(duplicates);
    RUN(listener_errors);
    RUN(database_and_required);
    RUN(server_name_checked);
    RUN(documents);
    RUN(unknown_keys_only_warn);
    RUN(secrets_stay_out_of_errors_and_logs);
    RUN(sizes);
    RUN(durations);
    RUN(connection_limits);
    RUN(turn_and_user_directory);
    RUN(federation_trust_keys);
    RUN(outbound_filters_and_thumbnail_sizes);
    RUN(example_in_deploy_parses);
    RUN(generated_config_reads_back);
    RUN(media_scanner_and_metrics);
    RUN(server_notices);
    return unit_done();
}
