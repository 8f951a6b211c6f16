/* event_test.c - PDUs against the spec appendix's "Event Signing" vectors (content hash and
 * signature of the redacted event), redaction per room version group, event and room IDs,
 * and the format checks. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/cjson.h"
#include "server/event.h"
#include "tests/unit.h"

#define SPEC_SEED "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

static struct sign_key key;

static const char *sig_of(json_t *pdu)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(pdu, "signatures"), "domain"),
                        "ed25519:1"));
}

TEST(spec_event_signing_vectors)
{
    const struct room_version *v1 = roomver_get("1");
    json_t *ev = json_loads("{\"room_id\":\"!x:domain\",\"sender\":\"@a:domain\",\"origin\":"
                            "\"domain\",\"origin_server_ts\":1000000,\"signatures\":{},"
                            "\"hashes\":{},\"type\":\"X\",\"content\":{},\"prev_events\":[],"
                            "\"auth_events\":[],\"depth\":3,\"unsigned\":{\"age_ts\":1000000}}",
                            0, NULL);
    json_object_del(ev, "signatures");
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "hashes"), "sha256")),
              "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    CHECK(event_sign(ev, v1, "domain", &key) == 0);
    CHECK_STR(sig_of(ev), "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWb"
                          "OoMszkwsQma+lYAg");
    CHECK(event_verify(ev, v1, "domain", "ed25519:1", key.pk) == 0);
    CHECK(event_content_hash_ok(ev));
    json_decref(ev);

    ev = json_loads("{\"content\":{\"body\":\"Here is the message content\"},\"event_id\":\"$0:"
                    "domain\",\"origin\":\"domain\",\"origin_server_ts\":1000000,\"type\":\"m.room."
                    "message\",\"room_id\":\"!r:domain\",\"sender\":\"@u:domain\",\"signatures\":{},"
                    "\"unsigned\":{\"age_ts\":1000000}}",
                    0, NULL);
    json_object_del(ev, "signatures");
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "hashes"), "sha256")),
              "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
    CHECK(event_sign(ev, v1, "domain", &key) == 0);
    CHECK_STR(sig_of(ev), "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHY"
                          "MGCA5McEiVPdhzBA");
    /* redacting keeps it verifiable; tampering with a kept key does not */
    json_t *red = event_redact(ev, v1);
    CHECK(event_verify(red, v1, "domain", "ed25519:1", key.pk) == 0);
    CHECK(json_object_size(json_object_get(red, "content")) == 0);
    json_object_set_new(red, "sender", json_string("@mallory:domain"));
    CHECK(event_verify(red, v1, "domain", "ed25519:1", key.pk) == -1);
    json_decref(red);
    /* changing the body breaks the content hash but not the signature */
    json_object_set_new(json_object_get(ev, "content"), "body", json_string("changed"));
    CHECK(!event_content_hash_ok(ev));
    CHECK(event_verify(ev, v1, "domain", "ed25519:1", key.pk) == 0);
    json_decref(ev);
}

/* content keys left after redacting `content` of `type` in room version `v` */
static char *redacted_content(const char *v, const char *type, const char *content)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:o,s:s,s:i,s:s,s:s,s:{s:i}}", "type", type, "room_id",
                           "!r:x", "sender", "@a:x", "content", json_loads(content, 0, NULL),
                           "state_key", "", "depth", 1, "origin", "x", "membership", "join",
                           "unsigned", "age", 1);
    json_t *red = event_redact(ev, roomver_get(v));
    char *out = cjson_encode(json_object_get(red, "content"), NULL);
    json_decref(ev);
    json_decref(red);
    return out;
}

#define RED(v, type, content, want)                                                                \
    do {                                                                                           \
        char *got_ = redacted_content(v, type, content);                                           \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

TEST(redaction_per_version)
{
    const char *member = "{\"membership\":\"join\",\"displayname\":\"A\","
                         "\"join_authorised_via_users_server\":\"@b:x\","
                         "\"third_party_invite\":{\"signed\":{\"token\":\"t\"},\"display_name\":"
                         "\"d\"}}";
    RED("1", "m.room.member", member, "{\"membership\":\"join\"}");
    RED("8", "m.room.member", member, "{\"membership\":\"join\"}");
    RED("9", "m.room.member", member,
        "{\"join_authorised_via_users_server\":\"@b:x\",\"membership\":\"join\"}");
    RED("11", "m.room.member", member,
        "{\"join_authorised_via_users_server\":\"@b:x\",\"membership\":\"join\","
        "\"third_party_invite\":{\"signed\":{\"token\":\"t\"}}}");
    const char *create = "{\"creator\":\"@a:x\",\"room_version\":\"1\",\"m.federate\":true}";
    RED("1", "m.room.create", create, "{\"creator\":\"@a:x\"}");
    RED("10", "m.room.create", create, "{\"creator\":\"@a:x\"}");
    RED("11", "m.room.create", create,
        "{\"creator\":\"@a:x\",\"m.federate\":true,\"room_version\":\"1\"}");
    const char *jr = "{\"join_rule\":\"restricted\",\"allow\":[],\"x\":1}";
    RED("7", "m.room.join_rules", jr, "{\"join_rule\":\"restricted\"}");
    RED("8", "m.room.join_rules", jr, "{\"allow\":[],\"join_rule\":\"restricted\"}");
    const char *pl = "{\"ban\":50,\"invite\":0,\"notifications\":{},\"users\":{}}";
    RED("10", "m.room.power_levels", pl, "{\"ban\":50,\"users\":{}}");
    RED("11", "m.room.power_levels", pl, "{\"ban\":50,\"invite\":0,\"users\":{}}");
    RED("5", "m.room.aliases", "{\"aliases\":[\"#a:x\"]}", "{\"aliases\":[\"#a:x\"]}");
    RED("6", "m.room.aliases", "{\"aliases\":[\"#a:x\"]}", "{}");
    RED("3", "m.room.history_visibility", "{\"history_visibility\":\"shared\",\"x\":1}",
        "{\"history_visibility\":\"shared\"}");
    RED("10", "m.room.redaction", "{\"redacts\":\"$e\",\"reason\":\"r\"}", "{}");
    RED("11", "m.room.redaction", "{\"redacts\":\"$e\",\"reason\":\"r\"}", "{\"redacts\":\"$e\"}");
    RED("12", "m.room.message", "{\"body\":\"secret\"}", "{}");

    /* top-level keys: origin, membership, prev_state go from v11; unsigned always */
    json_t *ev = json_pack("{s:s,s:s,s:s,s:{},s:s,s:s,s:[],s:{}}", "type", "m.room.message",
                           "room_id", "!r:x", "sender", "@a:x", "content", "origin", "x",
                           "membership", "join", "prev_state", "unsigned");
    json_t *r10 = event_redact(ev, roomver_get("10")), *r11 = event_redact(ev, roomver_get("11"));
    CHECK(json_object_get(r10, "origin") && json_object_get(r10, "membership"));
    CHECK(!json_object_get(r11, "origin") && !json_object_get(r11, "membership") &&
          !json_object_get(r11, "prev_state"));
    CHECK(!json_object_get(r10, "unsigned") && !json_object_get(r11, "unsigned"));
    json_decref(ev);
    json_decref(r10);
    json_decref(r11);
}

static json_t *sample(const char *room_id)
{
    json_t *ev = json_pack("{s:s,s:s,s:{s:s},s:I,s:i,s:[],s:[]}", "type", "m.room.message",
                           "sender", "@a:x", "content", "body", "hi", "origin_server_ts",
                           (json_int_t)1700000000000, "depth", 2, "prev_events", "auth_events");
    if (room_id)
        json_object_set_new(ev, "room_id", json_string(room_id));
    event_set_content_hash(ev);
    return ev;
}

TEST(ids_per_version)
{
    json_t *ev = sample("!r:x");
    char *v3 = event_compute_id(ev, roomver_get("3"));
    char *v4 = event_compute_id(ev, roomver_get("4"));
    char *v12 = event_compute_id(ev, roomver_get("12"));
    CHECK(v3 && v3[0] == '$' && strlen(v3) == 44 && !strchr(v3, '-') && !strchr(v3, '_'));
    CHECK(v4 && v4[0] == '$' && strlen(v4) == 44 && !strchr(v4, '+') && !strchr(v4, '/'));
    CHECK_STR(v4, v12);
    /* the ID ignores unsigned and signatures but not content */
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 5));
    char *again = event_compute_id(ev, roomver_get("4"));
    CHECK_STR(again, v4);
    free(again);
    CHECK(event_compute_id(ev, roomver_get("1")) == NULL); /* v1 needs its own event_id */
    json_object_set_new(ev, "event_id", json_string("$abc:x"));
    char *v1 = event_compute_id(ev, roomver_get("1"));
    CHECK_STR(v1, "$abc:x");
    free(v1);
    free(v3);
    free(v4);
    free(v12);
    json_decref(ev);

    json_t *create = json_pack("{s:s,s:s,s:s,s:{s:s},s:I,s:i,s:[],s:[]}", "type", "m.room.create",
                               "state_key", "", "sender", "@a:x", "content", "room_version",
                               "12", "origin_server_ts", (json_int_t)1, "depth", 1,
                               "prev_events", "auth_events");
    event_set_content_hash(create);
    char *rid = event_room_id_from_create(create, roomver_get("12"));
    char *eid = event_compute_id(create, roomver_get("12"));
    CHECK(rid && rid[0] == '!' && strcmp(rid + 1, eid + 1) == 0);
    CHECK(event_room_id_from_create(create, roomver_get("11")) == NULL);
    free(rid);
    free(eid);
    char why[128];
    CHECK(event_check_format(create, roomver_get("12"), why, sizeof why) == 0);
    json_object_set_new(create, "room_id", json_string("!r:x"));
    CHECK(event_check_format(create, roomver_get("12"), why, sizeof why) == -1);
    json_decref(create);
}

TEST(format_checks)
{
    char why[128];
    const struct room_version *v10 = roomver_get("10"), *v5 = roomver_get("5");
    json_t *ev = sample("!r:x");
    CHECK(event_check_format(ev, v10, why, sizeof why) == 0);
    json_object_del(ev, "depth");
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1);
    json_decref(ev);

    ev = sample(NULL);
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1);
    json_decref(ev);

    ev = sample("!r:x");
    json_object_set_new(ev, "sender", json_string("not-a-user"));
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1);
    json_decref(ev);

    char big[300];
    memset(big, 'a', sizeof big);
    big[299] = '\0';
    ev = sample("!r:x");
    json_object_set_new(ev, "state_key", json_string(big));
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1);
    json_decref(ev);

    ev = sample("!r:x");
    json_object_set_new(json_object_get(ev, "content"), "n", json_real(1.5));
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1); /* strict canonical JSON */
    json_decref(ev);
    ev = sample("!r:x");
    json_object_set_new(json_object_get(ev, "content"), "n", json_integer(9007199254740992LL));
    CHECK(event_check_format(ev, v10, why, sizeof why) == -1);
    json_decref(ev);

    char *huge = malloc(70000);
    memset(huge, 'x', 69999);
    huge[69999] = '\0';
    ev = sample("!r:x");
    json_object_set_new(json_object_get(ev, "content"), "body", json_string(huge));
    CHECK(event_check_format(ev, v5, why, sizeof why) == -1);
    CHECK(strstr(why, "65536") != NULL);
    free(huge);
    json_decref(ev);
}

int main(void)
{
    size_t n;
    if (sodium_init() < 0 ||
        b64_decode(SPEC_SEED, strlen(SPEC_SEED), key.seed, sizeof key.seed, &n) < 0)
        return 1;
    snprintf(key.key_id, sizeof key.key_id, "ed25519:1");
    sign_key_from_seed(&key);
    RUN(spec_event_signing_vectors);
    RUN(redaction_per_version);
    RUN(ids_per_version);
    RUN(format_checks);
    return unit_done();
}
