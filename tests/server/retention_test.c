/* retention_test.c - the data-protection settings (retention, delete_stale_devices_after,
 * user_ips_max_age, redaction_retention_period, forget_rooms_on_leave) as config.c reads them,
 * and the effective max_lifetime of a room policy (server/retention.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/retention.h"
#include "tests/unit.h"
#include "tests/configtest.h"

/* tests/configtest.h under the short names this file uses */
#define parse_extra configtest_parse_extra
#define fails configtest_fails

TEST(privacy_defaults)
{
    struct config c;
    char err[256];
    CHECK(parse_extra("", &c, err, sizeof err) == 0);
    CHECK(!c.retention.enabled);
    CHECK(c.retention.n_purge_jobs == 0);
    CHECK(c.retention.default_max_lifetime_ms == 0);
    CHECK(c.delete_stale_devices_after_ms == 0);
    CHECK(c.user_ips_max_age_ms == INT64_C(28) * 86400000);
    CHECK(c.redaction_retention_period_ms == INT64_C(7) * 86400000);
    CHECK(!c.forget_rooms_on_leave);
    config_free(&c);
}

TEST(privacy_synapse_example)
{
    struct config c;
    char err[256];
    int rc = parse_extra("retention:\n"
                         "  enabled: true\n"
                         "  default_policy:\n"
                         "    min_lifetime: 1d\n"
                         "    max_lifetime: 1y\n"
                         "  allowed_lifetime_min: 1d\n"
                         "  allowed_lifetime_max: 1y\n"
                         "  purge_jobs:\n"
                         "  - longest_max_lifetime: 3d\n"
                         "    interval: 12h\n"
                         "  - shortest_max_lifetime: 3d\n"
                         "    interval: 1d\n"
                         "delete_stale_devices_after: 1y\n"
                         "user_ips_max_age: 14d\n"
                         "redaction_retention_period: 1500\n"
                         "forget_rooms_on_leave: true\n",
                         &c, err, sizeof err);
    CHECK(rc == 0);
    if (rc != 0) {
        UNIT_FAIL("%s", err);
        return;
    }
    CHECK(c.retention.enabled);
    CHECK(c.retention.default_min_lifetime_ms == 86400000);
    CHECK(c.retention.default_max_lifetime_ms == INT64_C(31536000000));
    CHECK(c.retention.allowed_lifetime_min_ms == 86400000);
    CHECK(c.retention.n_purge_jobs == 2);
    CHECK(c.retention.purge_jobs[0].longest_max_lifetime_ms == 3 * 86400000);
    CHECK(c.retention.purge_jobs[0].shortest_max_lifetime_ms == 0);
    CHECK(c.retention.purge_jobs[0].interval_ms == 12 * 3600000);
    CHECK(c.retention.purge_jobs[1].shortest_max_lifetime_ms == 3 * 86400000);
    CHECK(c.delete_stale_devices_after_ms == INT64_C(31536000000));
    CHECK(c.user_ips_max_age_ms == 14 * 86400000);
    CHECK(c.redaction_retention_period_ms == 1500); /* a bare number is milliseconds */
    CHECK(c.forget_rooms_on_leave);
    config_free(&c);
}

TEST(privacy_errors)
{
    fails("retention: {purge_jobs: [{longest_max_lifetime: 3d}]}\n",
          "retention.purge_jobs[0].interval: required");
    fails("retention: {purge_jobs: [{interval: 50}]}\n", "at least 100 ms");
    fails("retention: {purge_jobs: [{interval: 1h, shortest_max_lifetime: 3d, "
          "longest_max_lifetime: 1d}]}\n",
          "shortest_max_lifetime must be below");
    fails("retention: {allowed_lifetime_min: 2d, allowed_lifetime_max: 1d}\n",
          "must not exceed allowed_lifetime_max");
    fails("retention: {default_policy: {max_lifetime: soon}}\n",
          "retention.default_policy.max_lifetime: expected a duration");
    fails("user_ips_max_age: 3 days\n", "user_ips_max_age: expected a duration");
    fails("forget_rooms_on_leave: sometimes\n", "forget_rooms_on_leave: expected a boolean");
    fails("retention: {purge_jobs: {interval: 1h}}\n", "retention.purge_jobs: expected a list");
}

TEST(deploy_example_and_generated_config)
{
    struct config c;
    char err[256];
    if (config_load("deploy/homeserver.yaml.example", &c, err, sizeof err) != 0) {
        UNIT_FAIL("deploy/homeserver.yaml.example: %s", err);
        return;
    }
    CHECK(!c.retention.enabled);
    CHECK(c.retention.n_purge_jobs == 1 && c.retention.purge_jobs[0].interval_ms == 86400000);
    CHECK(c.user_ips_max_age_ms == INT64_C(28) * 86400000);
    CHECK(c.redaction_retention_period_ms == INT64_C(7) * 86400000);
    config_free(&c);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(config_write_default(f, "example.org", 8008, NULL, NULL, NULL, "amtsbote", "/k", "/m",
                               false) == 0);
    fclose(f);
    CHECK(strstr(text, "user_ips_max_age: 28d") != NULL);
    CHECK(config_parse(text, len, &c, err, sizeof err) == 0);
    CHECK(c.user_ips_max_age_ms == INT64_C(28) * 86400000 && !c.forget_rooms_on_leave);
    config_free(&c);
    free(text);
}

static int64_t eff(const char *content, const struct retention_settings *s)
{
    json_t *c = content ? json_loads(content, 0, NULL) : NULL;
    int64_t v = retention_effective_max(c, s);
    json_decref(c);
    return v;
}

TEST(effective_max_lifetime)
{
    struct retention_settings none = {.enabled = true};
    CHECK(eff(NULL, &none) == 0); /* no policy: kept forever */
    CHECK(eff("{}", &none) == 0);
    CHECK(eff("{\"max_lifetime\": 5000}", &none) == 5000);
    CHECK(eff("{\"max_lifetime\": \"5000\"}", &none) == 0); /* not an integer: ignored */
    CHECK(eff("{\"max_lifetime\": -5}", &none) == 0);
    CHECK(eff("{\"max_lifetime\": 5000, \"min_lifetime\": 9000}", &none) == 9000);

    struct retention_settings s = {
        .enabled = true, .default_max = 100000, .allowed_min = 2000, .allowed_max = 50000};
    CHECK(eff(NULL, &s) == 50000);                      /* the default, clamped */
    CHECK(eff("{\"min_lifetime\": 1}", &s) == 50000);   /* no own max: the default's */
    CHECK(eff("{\"max_lifetime\": 1000}", &s) == 2000); /* raised to allowed_min */
    CHECK(eff("{\"max_lifetime\": 3000}", &s) == 3000);
    CHECK(eff("{\"max_lifetime\": 900000}", &s) == 50000); /* lowered to allowed_max */
    /* the admin's ceiling wins over the room's min_lifetime */
    CHECK(eff("{\"max_lifetime\": 3000, \"min_lifetime\": 90000}", &s) == 50000);
    CHECK(retention_stated_max(NULL, &s) == 100000); /* purge jobs select by this */
}

TEST(content_checked_like_synapse)
{
    static const struct {
        const char *json;
        bool ok;
    } cases[] = {
        {"{}", true},
        {"{\"max_lifetime\": 86400000}", true},
        {"{\"min_lifetime\": 1000, \"max_lifetime\": 2000}", true},
        {"{\"max_lifetime\": \"1d\"}", false},
        {"{\"max_lifetime\": 1.5}", false},
        {"{\"max_lifetime\": 0}", false},
        {"{\"min_lifetime\": -1}", false},
        {"{\"min_lifetime\": 3000, \"max_lifetime\": 2000}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char why[128] = "";
        json_t *c = json_loads(cases[i].json, 0, NULL);
        if (retention_content_ok(c, why, sizeof why) != cases[i].ok)
            UNIT_FAIL("%s", cases[i].json);
        json_decref(c);
    }
}

int main(void)
{
    log_set_level(LOG_LVL_ERROR);
    RUN(privacy_defaults);
    RUN(privacy_synapse_example);
    RUN(privacy_errors);
    RUN(effective_max_lifetime);
    RUN(content_checked_like_synapse);
    RUN(deploy_example_and_generated_config);
    return unit_done();
}
