/* pusher_test.c - the push sender's pure parts: the back-off and the notification body
 * (event_id_only by default; content only when configured and not refused; the deciding
 * rule's tweaks on the device). */
#include "server/pusher.h"
#include "tests/unit.h"

TEST(backoff)
{
    CHECK(pusher_backoff_ms(0) == 1000);
    CHECK(pusher_backoff_ms(1) == 2000);
    CHECK(pusher_backoff_ms(5) == 32000);
    CHECK(pusher_backoff_ms(20) == 600000);
    CHECK(pusher_backoff_ms(1000) == 600000);
}

static json_t *row(const char *format)
{
    json_t *data = json_pack("{s:s}", "url", "https://gw.example/_matrix/push/v1/notify");
    if (format)
        json_object_set_new(data, "format", json_string(format));
    return json_pack("{s:s,s:s,s:I,s:o,s:s,s:s,s:i,s:{s:s,s:s,s:{s:s}}}", "app_id", "app",
                     "pushkey", "key", "pushkey_ts", (json_int_t)1700000000123, "data", data,
                     "event_id", "$e", "room_id", "!r:x", "unread", 3, "event", "type",
                     "m.room.message", "sender", "@a:x", "content", "body", "secret");
}

TEST(event_id_only_by_default)
{
    json_t *r = row(NULL);
    json_t *b = pusher_notification(r, false);
    json_t *n = json_object_get(b, "notification");
    CHECK_STR(json_string_value(json_object_get(n, "event_id")), "$e");
    CHECK(json_integer_value(json_object_get(json_object_get(n, "counts"), "unread")) == 3);
    json_t *dev = json_array_get(json_object_get(n, "devices"), 0);
    CHECK_STR(json_string_value(json_object_get(dev, "pushkey")), "key");
    CHECK(json_integer_value(json_object_get(dev, "pushkey_ts")) == 1700000000);
    CHECK(json_object_get(json_object_get(dev, "data"), "url") == NULL);
    CHECK(json_object_get(n, "content") == NULL && json_object_get(n, "sender") == NULL);
    json_decref(b);
    json_decref(r);
}

TEST(content_only_when_allowed)
{
    json_t *r = row(NULL);
    json_t *b = pusher_notification(r, true);
    json_t *n = json_object_get(b, "notification");
    CHECK_STR(json_string_value(json_object_get(json_object_get(n, "content"), "body")), "secret");
    json_decref(b);
    json_decref(r);
    r = row("event_id_only"); /* the pusher asked for none */
    b = pusher_notification(r, true);
    CHECK(json_object_get(json_object_get(b, "notification"), "content") == NULL);
    json_decref(b);
    json_decref(r);
}

TEST(tweaks_reach_the_device)
{
    json_t *r = row(NULL);
    json_t *b = pusher_notification(r, false);
    json_t *dev = json_array_get(json_object_get(json_object_get(b, "notification"), "devices"), 0);
    CHECK(json_is_object(json_object_get(dev, "tweaks")));
    CHECK(json_object_size(json_object_get(dev, "tweaks")) == 0);
    json_decref(b);
    json_object_set_new(r, "highlight", json_true());
    json_object_set_new(r, "tweaks", json_pack("{s:s}", "sound", "default"));
    b = pusher_notification(r, false);
    dev = json_array_get(json_object_get(json_object_get(b, "notification"), "devices"), 0);
    json_t *want = json_pack("{s:s,s:b}", "sound", "default", "highlight", 1);
    CHECK(json_equal(json_object_get(dev, "tweaks"), want));
    json_decref(want);
    json_decref(b);
    json_decref(r);
}

int main(void)
{
    RUN(backoff);
    RUN(event_id_only_by_default);
    RUN(content_only_when_allowed);
    RUN(tweaks_reach_the_device);
    return unit_done();
}
