/* configtest.h - for unit tests that read configurations (server/config.c): the smallest
 * valid homeserver.yaml and parsing it with keys appended. Include after tests/unit.h. */
#ifndef AMTSBOTE_CONFIGTEST_H
#define AMTSBOTE_CONFIGTEST_H
#include <stdio.h>
#include <string.h>

#include "server/config.h"

/* Everything required, nothing more. Tests append keys to it. */
#define CONFIGTEST_MINIMAL                                                                         \
    "server_name: example.org\n"                                                                   \
    "signing_key_path: /k\n"                                                                       \
    "listeners:\n"                                                                                 \
    "  - port: 8008\n"                                                                             \
    "    resources: [{names: [client]}]\n"                                                         \
    "database:\n"                                                                                  \
    "  name: psycopg2\n"                                                                           \
    "  args: {database: amtsbote}\n"

/* config_parse of CONFIGTEST_MINIMAL with `extra` appended (a text too long for the buffer
 * fails the test and returns -1). */
static inline int configtest_parse_extra(const char *extra, struct config *c, char *err,
                                         size_t n)
{
    char text[4096];
    int len = snprintf(text, sizeof text, "%s%s", CONFIGTEST_MINIMAL, extra);
    if (len < 0 || (size_t)len >= sizeof text) {
        UNIT_FAIL("configuration text too long: %s", extra);
        memset(c, 0, sizeof *c);
        return -1;
    }
    return config_parse(text, (size_t)len, c, err, n);
}

/* `text` must fail with an error containing `want`, leaving the config zeroed. */
static inline void configtest_fails_text(const char *text, const char *want)
{
    char err[256] = "";
    struct config c;
    if (config_parse(text, strlen(text), &c, err, sizeof err) == 0) {
        UNIT_FAIL("accepted (want \"%s\"):\n%s", want, text);
        config_free(&c);
        return;
    }
    if (!strstr(err, want))
        UNIT_FAIL("error \"%s\" does not contain \"%s\"", err, want);
    if (c.server_name || c.listeners || c.media_store_path || c.n_listeners)
        UNIT_FAIL("a failed parse left fields set (want \"%s\")", want);
}

/* `extra` appended to the minimal config must fail with an error containing `want`. */
static inline void configtest_fails(const char *extra, const char *want)
{
    char text[4096];
    int len = snprintf(text, sizeof text, "%s%s", CONFIGTEST_MINIMAL, extra);
    if (len < 0 || (size_t)len >= sizeof text) {
        UNIT_FAIL("configuration text too long: %s", extra);
        return;
    }
    configtest_fails_text(text, want);
}
#endif
