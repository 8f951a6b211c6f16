/* devlist_test.c - the m.device_list_update rules of server/devlist.c: which updates a cached
 * list at a stream_id takes (every prev_id held), which say an EDU was lost (a prev_id past
 * the copy) and need a resync, which are already in the copy; applying one device's change
 * (new keys with the display name, deletion, keys for another device refused); the EDU a
 * sender builds (prev_id chained, names only when given, deletions without keys). */
#include <stdio.h>
#include <string.h>

#include "server/devlist.h"
#include "tests/unit.h"

static enum devlist_step step(int64_t known, const char *content)
{
    json_t *c = json_loads(content, 0, NULL);
    if (!c)
        UNIT_FAIL("bad JSON %s", content);
    enum devlist_step s = devlist_step(known, c);
    json_decref(c);
    return s;
}

TEST(step_follows_prev_id_chain)
{
    const char *u = "\"user_id\":\"@b:b.example\",\"device_id\":\"D\"";
    char buf[256];
    /* the next in the chain, and an update relative to an older position the copy holds */
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":12,\"prev_id\":[10]}", u);
    CHECK_INT(step(10, buf), DEVLIST_APPLY);
    CHECK_INT(step(11, buf), DEVLIST_APPLY);
    /* the first of a sequence (no or empty prev_id) */
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":3}", u);
    CHECK_INT(step(0, buf), DEVLIST_APPLY);
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":3,\"prev_id\":[]}", u);
    CHECK_INT(step(0, buf), DEVLIST_APPLY);
    /* a lost EDU: prev_id 11 is past the copy at 10 */
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":12,\"prev_id\":[11]}", u);
    CHECK_INT(step(10, buf), DEVLIST_RESYNC);
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":14,\"prev_id\":[9,13]}", u);
    CHECK_INT(step(10, buf), DEVLIST_RESYNC);
    /* already in the copy: a late or repeated EDU */
    snprintf(buf, sizeof buf, "{%s,\"stream_id\":12,\"prev_id\":[11]}", u);
    CHECK_INT(step(12, buf), DEVLIST_IGNORE);
    CHECK_INT(step(20, buf), DEVLIST_IGNORE);
}

TEST(step_malformed_resyncs)
{
    CHECK_INT(step(1, "{\"device_id\":\"D\",\"prev_id\":[1]}"), DEVLIST_RESYNC);
    CHECK_INT(step(1, "{\"device_id\":\"D\",\"stream_id\":\"2\",\"prev_id\":[1]}"), DEVLIST_RESYNC);
    CHECK_INT(step(1, "{\"device_id\":\"D\",\"stream_id\":2,\"prev_id\":1}"), DEVLIST_RESYNC);
    CHECK_INT(step(1, "{\"device_id\":\"D\",\"stream_id\":2,\"prev_id\":[\"1\"]}"), DEVLIST_RESYNC);
    CHECK_INT(step(1, "{\"stream_id\":2,\"prev_id\":[1]}"), DEVLIST_RESYNC);
    CHECK_INT(step(1, "{\"device_id\":\"\",\"stream_id\":2,\"prev_id\":[1]}"), DEVLIST_RESYNC);
}

TEST(apply_one_device)
{
    json_t *devices = json_loads("{\"OLD\":{\"user_id\":\"@b:x\",\"device_id\":\"OLD\"}}", 0, NULL);
    json_t *c = json_loads("{\"user_id\":\"@b:x\",\"device_id\":\"NEW\",\"stream_id\":5,"
                           "\"device_display_name\":\"Tablet\",\"keys\":{\"user_id\":\"@b:x\","
                           "\"device_id\":\"NEW\",\"keys\":{\"ed25519:NEW\":\"k\"}}}",
                           0, NULL);
    devlist_apply(devices, "@b:x", c);
    json_t *k = json_object_get(devices, "NEW");
    CHECK(k != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(k, "keys"), "ed25519:NEW")), "k");
    CHECK_STR(
        json_string_value(json_object_get(json_object_get(k, "unsigned"), "device_display_name")),
        "Tablet");
    CHECK(json_object_get(devices, "OLD") != NULL);
    json_decref(c);
    /* keys naming another device or user: the entry goes rather than take them */
    c = json_loads("{\"device_id\":\"OLD\",\"stream_id\":6,\"keys\":{\"user_id\":\"@b:x\","
                   "\"device_id\":\"NEW\"}}",
                   0, NULL);
    devlist_apply(devices, "@b:x", c);
    CHECK(json_object_get(devices, "OLD") == NULL);
    json_decref(c);
    c = json_loads("{\"device_id\":\"NEW\",\"stream_id\":7,\"deleted\":true}", 0, NULL);
    devlist_apply(devices, "@b:x", c);
    CHECK_INT(json_object_size(devices), 0);
    json_decref(c);
    json_decref(devices);
}

TEST(edu_built)
{
    json_t *keys = json_loads("{\"user_id\":\"@a:x\",\"device_id\":\"D\"}", 0, NULL);
    json_t *e = devlist_edu("@a:x", "D", 9, 0, keys, NULL, false);
    CHECK_STR(json_string_value(json_object_get(e, "device_id")), "D");
    CHECK_INT(json_integer_value(json_object_get(e, "stream_id")), 9);
    CHECK_INT(json_array_size(json_object_get(e, "prev_id")), 0);
    CHECK(json_equal(json_object_get(e, "keys"), keys));
    CHECK(json_object_get(e, "device_display_name") == NULL);
    CHECK(json_object_get(e, "deleted") == NULL);
    json_decref(e);
    e = devlist_edu("@a:x", "D", 12, 9, keys, "Laptop", false);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(e, "prev_id"), 0)), 9);
    CHECK_STR(json_string_value(json_object_get(e, "device_display_name")), "Laptop");
    /* what a receiver at 9 does with it */
    CHECK_INT(devlist_step(9, e), DEVLIST_APPLY);
    CHECK_INT(devlist_step(8, e), DEVLIST_RESYNC);
    json_decref(e);
    e = devlist_edu("@a:x", "D", 13, 12, keys, "Laptop", true);
    CHECK(json_is_true(json_object_get(e, "deleted")));
    CHECK(json_object_get(e, "keys") == NULL);
    CHECK(json_object_get(e, "device_display_name") == NULL);
    json_decref(e);
    json_decref(keys);
}

int main(void)
{
    RUN(step_follows_prev_id_chain);
    RUN(step_malformed_resyncs);
    RUN(apply_one_device);
    RUN(edu_built);
    return unit_done();
}
