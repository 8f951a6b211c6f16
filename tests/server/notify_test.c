/* notify_test.c - the stream position and the notifier: the published position never passes
 * an open ticket, touches wake only matching waiters, and only once they are published;
 * late waiters are woken from memory; typing; what-changed queries. */
#include "server/notify.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit.h"

static atomic_int woke[8];

static void on_wake(void *arg)
{
    atomic_fetch_add(&woke[(long)arg], 1);
}

static json_t *rooms(const char *a, const char *b)
{
    json_t *r = json_array();
    if (a)
        json_array_append_new(r, json_string(a));
    if (b)
        json_array_append_new(r, json_string(b));
    return r;
}

static void reset(void)
{
    for (int i = 0; i < 8; i++)
        atomic_store(&woke[i], 0);
}

TEST(position_waits_for_open_tickets)
{
    int64_t p0 = notify_position();
    struct notify_ticket *a = notify_begin();
    struct notify_ticket *b = notify_begin();
    notify_touch(b, p0 + 2, "!r1", NULL, NOTIFY_EVENT);
    notify_end(b, true); /* b committed first, but a is still open below it */
    CHECK_INT((int)(notify_position() - p0), 0);
    notify_touch(a, p0 + 1, "!r1", NULL, NOTIFY_EVENT);
    notify_end(a, true);
    CHECK_INT((int)(notify_position() - p0), 2);
    /* a rolled-back ticket only releases the position */
    struct notify_ticket *c = notify_begin();
    notify_touch(c, p0 + 3, "!r1", NULL, NOTIFY_EVENT);
    notify_end(c, false);
    CHECK_INT((int)(notify_position() - p0), 2);
}

TEST(touch_wakes_matching_waiters_once_published)
{
    reset();
    int64_t p = notify_position();
    json_t *r1 = rooms("!a", "!b"), *r2 = rooms("!c", NULL);
    notify_wait("@u1:x", r1, p, INT64_MAX, 60000, on_wake, (void *)0);
    notify_wait("@u2:x", r2, p, INT64_MAX, 60000, on_wake, (void *)1);
    notify_wait("@u3:x", NULL, p, INT64_MAX, 60000, on_wake, (void *)2);
    struct notify_ticket *open = notify_begin();
    struct notify_ticket *t = notify_begin();
    notify_touch(t, p + 2, "!b", NULL, NOTIFY_EVENT);
    notify_end(t, true);
    CHECK_INT(atomic_load(&woke[0]), 0); /* not yet: an earlier ticket is open */
    notify_end(open, true);
    CHECK_INT(atomic_load(&woke[0]), 1);
    CHECK_INT(atomic_load(&woke[1]), 0);
    /* a member event for u3 wakes u3 though the room is not theirs */
    t = notify_begin();
    notify_touch(t, p + 3, "!z", "@u3:x", NOTIFY_EVENT);
    notify_end(t, true);
    CHECK_INT(atomic_load(&woke[2]), 1);
    /* woken waiters are gone: another touch does not wake them again */
    t = notify_begin();
    notify_touch(t, p + 4, "!b", NULL, NOTIFY_EVENT);
    notify_end(t, true);
    CHECK_INT(atomic_load(&woke[0]), 1);
    t = notify_begin();
    notify_touch(t, p + 5, "!c", NULL, NOTIFY_EVENT);
    notify_end(t, true);
    CHECK_INT(atomic_load(&woke[1]), 1);
    json_decref(r1);
    json_decref(r2);
}

TEST(late_waiter_woken_from_memory)
{
    reset();
    int64_t p = notify_position();
    struct notify_ticket *t = notify_begin();
    notify_touch(t, p + 1, "!late", NULL, NOTIFY_EVENT);
    notify_end(t, true);
    json_t *r = rooms("!late", NULL), *other = rooms("!other", NULL);
    /* registering with the old position: the touch it missed wakes it at once */
    notify_wait("@v:x", r, p, INT64_MAX, 60000, on_wake, (void *)3);
    CHECK_INT(atomic_load(&woke[3]), 1);
    /* a waiter of another room parks */
    notify_wait("@w:x", other, p, INT64_MAX, 60000, on_wake, (void *)4);
    CHECK_INT(atomic_load(&woke[4]), 0);
    t = notify_begin();
    notify_touch(t, p + 2, "!other", NULL, NOTIFY_RECEIPT);
    notify_end(t, true);
    CHECK_INT(atomic_load(&woke[4]), 1);
    json_decref(r);
    json_decref(other);
}

TEST(timeout_wakes)
{
    reset();
    json_t *r = rooms("!quiet", NULL);
    notify_wait("@q:x", r, notify_position(), INT64_MAX, 50, on_wake, (void *)5);
    for (int i = 0; i < 200 && !atomic_load(&woke[5]); i++)
        usleep(5000);
    CHECK_INT(atomic_load(&woke[5]), 1);
    json_decref(r);
}

TEST(typing_changes_and_expiry)
{
    reset();
    int64_t s0 = notify_typing_serial();
    json_t *r = rooms("!typing", NULL);
    notify_wait("@t:x", r, notify_position(), s0, 60000, on_wake, (void *)6);
    notify_typing_set("!typing", "@a:x", true, 100);
    CHECK_INT(atomic_load(&woke[6]), 1);
    json_t *users = notify_typing_get("!typing", s0);
    CHECK_INT((int)json_array_size(users), 1);
    json_decref(users);
    int64_t s1 = notify_typing_serial();
    CHECK(notify_typing_get("!typing", s1) == NULL); /* unchanged since s1 */
    for (int i = 0; i < 200 && notify_typing_serial() == s1; i++)
        usleep(5000); /* expiry after 100 ms */
    users = notify_typing_get("!typing", s1);
    CHECK(users && json_array_size(users) == 0);
    json_decref(users);
    json_decref(r);
}

TEST(changes_since)
{
    int64_t p = notify_position();
    struct notify_ticket *t = notify_begin();
    notify_touch(t, p + 1, "!x", NULL, NOTIFY_RECEIPT);
    notify_touch(t, p + 2, NULL, "@me:x", NOTIFY_ACCOUNT);
    notify_touch(t, p + 3, "!y", NULL, NOTIFY_EVENT);
    notify_end(t, true);
    unsigned uk = 0;
    json_t *rk = json_object();
    CHECK_INT(notify_changes("@me:x", p, p + 3, &uk, rk), 0);
    CHECK_INT((int)uk, NOTIFY_ACCOUNT);
    CHECK_INT((int)json_integer_value(json_object_get(rk, "!x")), NOTIFY_RECEIPT);
    CHECK_INT((int)json_integer_value(json_object_get(rk, "!y")), NOTIFY_EVENT);
    json_decref(rk);
    rk = json_object();
    CHECK_INT(notify_changes("@me:x", p + 2, p + 3, &uk, rk), 0);
    CHECK_INT((int)uk, 0);
    CHECK(json_object_get(rk, "!x") == NULL);
    json_decref(rk);
    /* before what the notifier remembers: unknown */
    rk = json_object();
    CHECK_INT(notify_changes("@me:x", 0, p + 3, &uk, rk), -1);
    json_decref(rk);
}

/* sliding sync's room list: each room's newest timeline position and activity from memory */
TEST(moves)
{
    int64_t p = notify_position();
    struct notify_ticket *t = notify_begin();
    unsigned msg = NOTIFY_EVENT | notify_event_kinds("m.room.message", NULL);
    notify_touch(t, p + 1, "!a", NULL, msg);
    notify_touch(t, p + 2, "!a", NULL, NOTIFY_EVENT | notify_event_kinds("m.reaction", NULL));
    notify_touch(t, p + 3, "!b", NULL, NOTIFY_EVENT | notify_event_kinds("m.room.encryption", ""));
    notify_touch(t, p + 4, "!c", NULL, msg);
    notify_touch(t, p + 5, "!c", "@me:x", NOTIFY_EVENT | NOTIFY_MEMBER); /* not the engine's */
    notify_touch(t, p + 6, "!d", NULL, NOTIFY_RECEIPT);
    notify_end(t, true);
    unsigned uk = 0;
    json_t *rk = json_object(), *mv = json_object();
    CHECK_INT(notify_moves("@other:x", p, p + 6, &uk, rk, mv), 0);
    json_t *a = json_object_get(mv, "!a"), *b = json_object_get(mv, "!b");
    CHECK_INT((int)json_integer_value(json_array_get(a, 0)), (int)(p + 2)); /* last */
    CHECK_INT((int)json_integer_value(json_array_get(a, 1)), (int)(p + 1)); /* bump */
    CHECK(!(json_integer_value(json_array_get(a, 2)) & NOTIFY_ENCRYPT));
    CHECK_INT((int)json_integer_value(json_array_get(b, 1)), 0);
    CHECK(json_integer_value(json_array_get(b, 2)) & NOTIFY_ENCRYPT);
    CHECK(json_is_null(json_object_get(mv, "!c"))); /* positions not known: read them */
    CHECK(json_object_get(mv, "!d") == NULL);
    CHECK_INT((int)json_integer_value(json_object_get(rk, "!d")), NOTIFY_RECEIPT);
    json_decref(rk);
    json_decref(mv);
}

int main(void)
{
    notify_start(1000);
    RUN(position_waits_for_open_tickets);
    RUN(touch_wakes_matching_waiters_once_published);
    RUN(late_waiter_woken_from_memory);
    RUN(timeout_wakes);
    RUN(typing_changes_and_expiry);
    RUN(changes_since);
    RUN(moves);
    notify_stop();
    notify_cleanup();
    return unit_done();
}
