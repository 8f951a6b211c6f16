/* ratelimit_test.c - token buckets (server/ratelimit.c): a burst then refusal with a retry
 * time, keys and kinds apart, unlimited limits, and a table full of active buckets (issue 17:
 * spoofed forwarded addresses filled it and every new address got 429): the fullest buckets
 * make room, a new address is never refused, and a bucket that used up its burst stays
 * limited, even when it was not used during the flood. */
#include "server/ratelimit.h"

#include <stdio.h>

#include "tests/unit.h"

static const struct config_ratelimit slow = {.per_second = 0.001, .burst_count = 3};

TEST(burst_then_refused)
{
    ratelimit_reset();
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        CHECK(ratelimit_take("t", "1.2.3.4", &slow, true, &retry));
    CHECK(!ratelimit_take("t", "1.2.3.4", &slow, true, &retry));
    CHECK(retry > 900000); /* a token every 1000 s */
    CHECK(ratelimit_take("t", "1.2.3.5", &slow, true, &retry)); /* another key */
    CHECK(ratelimit_take("u", "1.2.3.4", &slow, true, &retry)); /* another kind */
    CHECK(ratelimit_take("t", "1.2.3.4", &(struct config_ratelimit){0, 0}, true, &retry));
    /* consume=false only checks */
    CHECK(ratelimit_take("v", "k", &slow, false, &retry));
    CHECK(ratelimit_take("v", "k", &slow, false, &retry));
    CHECK(ratelimit_take("v", "k", &slow, false, &retry));
    CHECK(ratelimit_take("v", "k", &slow, false, &retry));
}

TEST(full_table_evicts_instead_of_refusing)
{
    ratelimit_reset();
    int64_t retry = 0;
    char key[64];
    /* the bucket of an address that is over its limit, not used during the flood */
    for (int i = 0; i < 3; i++)
        CHECK(ratelimit_take("t", "10.0.0.1", &slow, true, &retry));
    CHECK(!ratelimit_take("t", "10.0.0.1", &slow, true, &retry));
    int refused = 0;
    for (int i = 0; i < 50000; i++) { /* six times the table, every bucket left active */
        snprintf(key, sizeof key, "spoofed-%d", i);
        if (!ratelimit_take("t", key, &slow, true, &retry))
            refused++;
    }
    CHECK_INT(refused, 0);
    CHECK(ratelimit_take("t", "innocent", &slow, true, &retry));
    CHECK(!ratelimit_take("t", "10.0.0.1", &slow, true, &retry)); /* still limited */
    /* a key that used up its burst during the flood is kept too */
    for (int i = 0; i < 3; i++)
        CHECK(ratelimit_take("t", "10.0.0.2", &slow, true, &retry));
    for (int i = 50000; i < 60000; i++) {
        snprintf(key, sizeof key, "spoofed-%d", i);
        CHECK(ratelimit_take("t", key, &slow, true, &retry));
    }
    CHECK(!ratelimit_take("t", "10.0.0.2", &slow, true, &retry));
}

int main(void)
{
    RUN(burst_then_refused);
    RUN(full_table_evicts_instead_of_refusing);
    return unit_done();
}
