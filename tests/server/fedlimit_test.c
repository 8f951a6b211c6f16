/* fedlimit_test.c - per-origin federation limits (server/fedlimit.c): `concurrent` in progress,
 * reject_limit with waiting, retry_after_ms = window_size / sleep_limit, slots given back, and
 * the bounded origin table (a full table refuses a new origin, never an origin it holds). */
#include "server/fedlimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit.h"

static void configure(int concurrent, int reject_limit, int64_t sleep_delay_ms, int waiters)
{
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rc_federation.window_size_ms = 1000;
    cfg.rc_federation.sleep_limit = 10;
    cfg.rc_federation.sleep_delay_ms = sleep_delay_ms;
    cfg.rc_federation.reject_limit = reject_limit;
    cfg.rc_federation.concurrent = concurrent;
    fedlimit_configure(&cfg, waiters);
}

TEST(concurrent_then_refused)
{
    int64_t retry = -1;
    configure(3, 50, 0, 1);
    for (int i = 0; i < 3; i++)
        CHECK(fedlimit_enter("a.example", &retry));
    CHECK(!fedlimit_enter("a.example", &retry));
    CHECK_INT(retry, 100);
    CHECK(fedlimit_enter("b.example", &retry)); /* another origin is not limited */
    fedlimit_leave("a.example");
    CHECK(fedlimit_enter("a.example", &retry)); /* the slot came back */
    for (int i = 0; i < 3; i++)
        fedlimit_leave("a.example");
    fedlimit_leave("b.example");
}

static void *leave_later(void *arg)
{
    usleep(50000);
    fedlimit_leave(arg);
    return NULL;
}

TEST(waits_for_a_slot_within_sleep_delay)
{
    int64_t retry = 0;
    configure(1, 2, 2000, 1);
    CHECK(fedlimit_enter("a.example", &retry));
    pthread_t t;
    pthread_create(&t, NULL, leave_later, "a.example");
    CHECK(fedlimit_enter("a.example", &retry)); /* waited for the first to end */
    pthread_join(t, NULL);
    fedlimit_leave("a.example");
    /* reject_limit 1: nobody waits */
    configure(1, 1, 2000, 1);
    CHECK(fedlimit_enter("a.example", &retry));
    CHECK(!fedlimit_enter("a.example", &retry));
    fedlimit_leave("a.example");
}

TEST(table_is_bounded)
{
    int64_t retry = 0;
    char name[64];
    configure(1, 1, 0, 1);
    for (int i = 0; i < FEDLIMIT_ORIGINS; i++) {
        snprintf(name, sizeof name, "s%d.example", i);
        CHECK(fedlimit_enter(name, &retry));
    }
    CHECK(!fedlimit_enter("new.example", &retry)); /* full of origins in progress */
    fedlimit_leave("s7.example");
    CHECK(fedlimit_enter("new.example", &retry)); /* a slot came free */
    for (int i = 0; i < FEDLIMIT_ORIGINS; i++) {
        snprintf(name, sizeof name, "s%d.example", i);
        fedlimit_leave(name);
    }
    fedlimit_leave("new.example");
    CHECK(fedlimit_enter("s7.example", &retry));
    fedlimit_leave("s7.example");
}

int main(void)
{
    RUN(concurrent_then_refused);
    RUN(waits_for_a_slot_within_sleep_delay);
    RUN(table_is_bounded);
    return unit_done();
}
