/* event_test.c - PDUs: the spec appendix's "Event Signing" vectors (content hash, signature of
 * the redacted event); reference-hash vectors for v3/v4 event IDs and a v12 room ID computed
 * independently (Python's json + hashlib over the spec's algorithm, by hand-redacted events);
 * redaction of every special event type in each rule set (v1, v6, v8, v9, v11); signing and
 * verification across redaction and tampering; the format checks and their per-version
 * differences; accessors. */
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
    return json_string_value(json_object_get(
        json_object_get(json_object_get(pdu, "signatures"), "domain"), "ed25519:1"));
}

static const char *hash_of(json_t *pdu)
{
    return json_string_value(json_object_get(json_object_get(pdu, "hashes"), "sha256"));
}

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!v)
        fprintf(stderr, "bad test JSON: %s\n", err.text);
    return v;
}

/* Appendix "Event Signing": both events, with the spec's hash and signature. */
TEST(spec_event_signing_vectors)
{
    const struct room_version *v1 = roomver_get("1");
    json_t *ev = load("{\"room_id\":\"!x:domain\",\"sender\":\"@a:domain\",\"origin\":\"domain\","
                      "\"origin_server_ts\":1000000,\"signatures\":{},\"hashes\":{},\"type\":"
                      "\"X\",\"content\":{},\"prev_events\":[],\"auth_events\":[],\"depth\":3,"
                      "\"unsigned\":{\"age_ts\":1000000}}");
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(hash_of(ev), "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    CHECK(event_sign(ev, v1, "domain", &key) == 0);
    CHECK_STR(sig_of(ev), "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWb"
                          "OoMszkwsQma+lYAg");
    CHECK(event_verify(ev, v1, "domain", "ed25519:1", key.pk) == 0);
    CHECK(event_content_hash_ok(ev));
    /* unsigned survives signing untouched */
    CHECK(json_integer_value(json_object_get(json_object_get(ev, "unsigned"), "age_ts")) ==
          1000000);
    json_decref(ev);

    ev = load("{\"content\":{\"body\":\"Here is the message content\"},\"event_id\":\"$0:domain\","
              "\"origin\":\"domain\",\"origin_server_ts\":1000000,\"type\":\"m.room.message\","
              "\"room_id\":\"!r:domain\",\"sender\":\"@u:domain\",\"signatures\":{},"
              "\"unsigned\":{\"age_ts\":1000000}}");
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(hash_of(ev), "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
    CHECK(event_sign(ev, v1, "domain", &key) == 0);
    CHECK_STR(sig_of(ev), "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHY"
                          "MGCA5McEiVPdhzBA");
    json_decref(ev);
}

/* The event the independent vectors were computed from (content has non-ASCII UTF-8). */
#define VEC_EVENT                                                                                  \
    "{\"auth_events\":[\"$auth\"],\"content\":{\"body\":\"Gr\\u00fc\\u00dfe \\u2603\","            \
    "\"msgtype\":\"m.text\"},\"depth\":5,\"origin_server_ts\":1700000000000,\"prev_events\":"      \
    "[\"$prev\"],\"room_id\":\"!r:example.org\",\"sender\":\"@alice:example.org\",\"type\":"       \
    "\"m.room.message\"}"

TEST(reference_hash_vectors)
{
    json_t *ev = load(VEC_EVENT);
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(hash_of(ev), "is+wKyaQn/LPyobVRW2+r3VBjhyuJSvl/C5Vf1JikJI");
    /* signatures and unsigned are outside the reference hash */
    json_object_set_new(ev, "signatures", json_pack("{s:{s:s}}", "x", "ed25519:1", "sig"));
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 12));
    char *v3 = event_compute_id(ev, roomver_get("3"));
    char *v4 = event_compute_id(ev, roomver_get("4"));
    CHECK_STR(v3, "$I5tuKtCnDD7kbpEajh9g6i488I7Os6eEdFPBL+6vvyE");
    CHECK_STR(v4, "$I5tuKtCnDD7kbpEajh9g6i488I7Os6eEdFPBL-6vvyE");
    uint8_t h[32], want[32];
    size_t n = 0;
    CHECK(event_reference_hash(ev, roomver_get("4"), h) == 0);
    CHECK(b64_decode(v4 + 1, strlen(v4 + 1), want, sizeof want, &n) == 0 && n == 32);
    CHECK(memcmp(h, want, 32) == 0);
    free(v3);
    free(v4);
    json_decref(ev);

    json_t *create = load("{\"auth_events\":[],\"content\":{\"room_version\":\"12\","
                          "\"additional_creators\":[\"@bob:example.org\"],\"m.federate\":true},"
                          "\"depth\":1,\"origin_server_ts\":1700000000000,\"prev_events\":[],"
                          "\"sender\":\"@alice:example.org\",\"state_key\":\"\",\"type\":"
                          "\"m.room.create\"}");
    CHECK(event_set_content_hash(create) == 0);
    CHECK_STR(hash_of(create), "DP7cr34JFYLi2fGwzpYpCDPggrnqeA+sWHxoo5A+chw");
    char *rid = event_room_id_from_create(create, roomver_get("12"));
    CHECK_STR(rid, "!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM");
    char *eid = event_compute_id(create, roomver_get("12"));
    CHECK(rid && eid && eid[0] == '$' && strcmp(rid + 1, eid + 1) == 0);
    free(rid);
    free(eid);
    json_decref(create);
}

TEST(content_hash)
{
    json_t *ev = load(VEC_EVENT);
    CHECK(!event_content_hash_ok(ev)); /* no hashes yet */
    CHECK(event_set_content_hash(ev) == 0);
    CHECK(event_content_hash_ok(ev));
    /* unsigned, signatures and a second hash algorithm do not take part */
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 1));
    json_object_set_new(ev, "signatures", json_pack("{s:{}}", "x"));
    json_object_set_new(json_object_get(ev, "hashes"), "sha512", json_string("x"));
    CHECK(event_content_hash_ok(ev));
    /* every other key does, nested content included */
    json_object_set_new(json_object_get(ev, "content"), "body", json_string("changed"));
    CHECK(!event_content_hash_ok(ev));
    CHECK(event_set_content_hash(ev) == 0);
    CHECK(event_content_hash_ok(ev));
    json_object_set_new(ev, "origin_server_ts", json_integer(1));
    CHECK(!event_content_hash_ok(ev));
    /* a malformed or wrong-length hash is a mismatch, not a crash */
    json_object_set_new(ev, "hashes", json_pack("{s:s}", "sha256", "!!"));
    CHECK(!event_content_hash_ok(ev));
    json_object_set_new(ev, "hashes", json_pack("{s:s}", "sha256", "AAAA"));
    CHECK(!event_content_hash_ok(ev));
    json_decref(ev);
}

/* Content of `type` redacted under room version `v`, as canonical JSON (malloc'd). */
static char *redacted_content(const char *v, const char *type, const char *content)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:o,s:s,s:i}", "type", type, "room_id", "!r:x", "sender",
                           "@a:x", "content", load(content), "state_key", "", "depth", 1);
    json_t *red = event_redact(ev, roomver_get(v));
    char *out = cjson_encode(json_object_get(red, "content"), NULL);
    json_decref(ev);
    json_decref(red);
    return out;
}

/* One special event type, its content, and what survives in each rule set group. */
static const struct {
    const char *type, *content;
    const char *want[5]; /* v1-v5, v6-v7, v8, v9-v10, v11-v12 */
} red_cases[] = {
    {"m.room.member",
     "{\"membership\":\"join\",\"displayname\":\"A\",\"avatar_url\":\"mxc://x/y\","
     "\"join_authorised_via_users_server\":\"@b:x\",\"third_party_invite\":{\"signed\":"
     "{\"mxid\":\"@a:x\",\"token\":\"t\"},\"display_name\":\"d\"}}",
     {"{\"membership\":\"join\"}", "{\"membership\":\"join\"}", "{\"membership\":\"join\"}",
      "{\"join_authorised_via_users_server\":\"@b:x\",\"membership\":\"join\"}",
      "{\"join_authorised_via_users_server\":\"@b:x\",\"membership\":\"join\","
      "\"third_party_invite\":{\"signed\":{\"mxid\":\"@a:x\",\"token\":\"t\"}}}"}},
    {"m.room.create",
     "{\"creator\":\"@a:x\",\"room_version\":\"1\",\"m.federate\":false,\"predecessor\":{}}",
     {"{\"creator\":\"@a:x\"}", "{\"creator\":\"@a:x\"}", "{\"creator\":\"@a:x\"}",
      "{\"creator\":\"@a:x\"}",
      "{\"creator\":\"@a:x\",\"m.federate\":false,\"predecessor\":{},\"room_version\":\"1\"}"}},
    {"m.room.join_rules",
     "{\"join_rule\":\"restricted\",\"allow\":[{\"type\":\"m.room_membership\"}],\"x\":1}",
     {"{\"join_rule\":\"restricted\"}", "{\"join_rule\":\"restricted\"}",
      "{\"allow\":[{\"type\":\"m.room_membership\"}],\"join_rule\":\"restricted\"}",
      "{\"allow\":[{\"type\":\"m.room_membership\"}],\"join_rule\":\"restricted\"}",
      "{\"allow\":[{\"type\":\"m.room_membership\"}],\"join_rule\":\"restricted\"}"}},
    {"m.room.power_levels",
     "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"invite\":0,\"kick\":50,"
     "\"notifications\":{\"room\":50},\"redact\":50,\"state_default\":50,\"users\":{\"@a:x\":"
     "100},\"users_default\":0}",
     {"{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"kick\":50,\"redact\":50,"
      "\"state_default\":50,\"users\":{\"@a:x\":100},\"users_default\":0}",
      "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"kick\":50,\"redact\":50,"
      "\"state_default\":50,\"users\":{\"@a:x\":100},\"users_default\":0}",
      "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"kick\":50,\"redact\":50,"
      "\"state_default\":50,\"users\":{\"@a:x\":100},\"users_default\":0}",
      "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"kick\":50,\"redact\":50,"
      "\"state_default\":50,\"users\":{\"@a:x\":100},\"users_default\":0}",
      "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,\"invite\":0,\"kick\":50,"
      "\"redact\":50,\"state_default\":50,\"users\":{\"@a:x\":100},\"users_default\":0}"}},
    {"m.room.aliases",
     "{\"aliases\":[\"#a:x\"]}",
     {"{\"aliases\":[\"#a:x\"]}", "{}", "{}", "{}", "{}"}},
    {"m.room.history_visibility",
     "{\"history_visibility\":\"shared\",\"x\":1}",
     {"{\"history_visibility\":\"shared\"}", "{\"history_visibility\":\"shared\"}",
      "{\"history_visibility\":\"shared\"}", "{\"history_visibility\":\"shared\"}",
      "{\"history_visibility\":\"shared\"}"}},
    {"m.room.redaction",
     "{\"redacts\":\"$e\",\"reason\":\"r\"}",
     {"{}", "{}", "{}", "{}", "{\"redacts\":\"$e\"}"}},
    {"m.room.message",
     "{\"body\":\"secret\",\"msgtype\":\"m.text\"}",
     {"{}", "{}", "{}", "{}", "{}"}},
    {"m.room.name", "{\"name\":\"n\"}", {"{}", "{}", "{}", "{}", "{}"}},
};

/* Every version, mapped to its column in red_cases. */
static const struct {
    const char *v;
    int col;
} red_versions[] = {{"1", 0}, {"2", 0}, {"3", 0}, {"4", 0},  {"5", 0},  {"6", 1},
                    {"7", 1}, {"8", 2}, {"9", 3}, {"10", 3}, {"11", 4}, {"12", 4}};

TEST(redaction_content_per_version)
{
    for (size_t i = 0; i < sizeof red_cases / sizeof red_cases[0]; i++)
        for (size_t j = 0; j < sizeof red_versions / sizeof red_versions[0]; j++) {
            char *got =
                redacted_content(red_versions[j].v, red_cases[i].type, red_cases[i].content);
            const char *want = red_cases[i].want[red_versions[j].col];
            if (!got || strcmp(got, want) != 0)
                UNIT_FAIL("v%s %s: got %s, want %s", red_versions[j].v, red_cases[i].type,
                          got ? got : "(null)", want);
            free(got);
        }
}

TEST(redaction_edge_cases)
{
    /* v11 third_party_invite: only `signed`; an object without it stays {}, a non-object
     * goes; before v11 it always goes */
    char *s = redacted_content("11", "m.room.member",
                               "{\"membership\":\"invite\",\"third_party_invite\":{\"x\":1}}");
    CHECK_STR(s, "{\"membership\":\"invite\",\"third_party_invite\":{}}");
    free(s);
    s = redacted_content("11", "m.room.member",
                         "{\"membership\":\"invite\",\"third_party_invite\":\"str\"}");
    CHECK_STR(s, "{\"membership\":\"invite\"}");
    free(s);
    s = redacted_content("10", "m.room.member",
                         "{\"membership\":\"invite\",\"third_party_invite\":{\"signed\":{}}}");
    CHECK_STR(s, "{\"membership\":\"invite\"}");
    free(s);
    /* v11 create keeps content even without creator; v1 create without creator is empty */
    s = redacted_content("11", "m.room.create", "{\"room_version\":\"11\"}");
    CHECK_STR(s, "{\"room_version\":\"11\"}");
    free(s);
    s = redacted_content("1", "m.room.create", "{\"room_version\":\"1\"}");
    CHECK_STR(s, "{}");
    free(s);
    /* kept values are copied whole, whatever their type */
    s = redacted_content("1", "m.room.member", "{\"membership\":{\"odd\":[1,2]}}");
    CHECK_STR(s, "{\"membership\":{\"odd\":[1,2]}}");
    free(s);

    /* an event without content or type still comes out with an empty content */
    json_t *ev = json_pack("{s:s,s:s}", "room_id", "!r:x", "sender", "@a:x");
    json_t *red = event_redact(ev, roomver_get("9"));
    CHECK(json_is_object(json_object_get(red, "content")) &&
          json_object_size(json_object_get(red, "content")) == 0);
    json_decref(red);
    json_decref(ev);

    /* the result is a deep copy: changing it leaves the original alone */
    ev = json_pack("{s:s,s:s,s:{s:s}}", "type", "m.room.member", "state_key", "@a:x", "content",
                   "membership", "join");
    red = event_redact(ev, roomver_get("11"));
    json_object_set_new(json_object_get(red, "content"), "membership", json_string("leave"));
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "content"), "membership")),
              "join");
    json_decref(red);
    json_decref(ev);
}

TEST(redaction_top_level_per_version)
{
    json_t *ev = json_pack(
        "{s:s,s:s,s:s,s:s,s:{},s:{s:s},s:{},s:i,s:[],s:[],s:[],s:s,s:I,s:s,s:{s:i},s:s,s:s,s:i}",
        "event_id", "$e:x", "type", "m.room.message", "room_id", "!r:x", "sender", "@a:x",
        "content", "hashes", "sha256", "h", "signatures", "depth", 3, "prev_events", "prev_state",
        "auth_events", "origin", "x", "origin_server_ts", (json_int_t)5, "membership", "join",
        "unsigned", "age", 1, "redacts", "$t:x", "extra", "y", "age_ts", 9);
    static const char *const always[] = {"event_id",    "type",        "room_id",         "sender",
                                         "content",     "hashes",      "signatures",      "depth",
                                         "prev_events", "auth_events", "origin_server_ts"};
    static const char *const until_v10[] = {"prev_state", "origin", "membership"};
    static const char *const never[] = {"unsigned", "redacts", "extra", "age_ts"};
    size_t nv;
    const struct room_version *all = roomver_all(&nv);
    for (size_t i = 0; i < nv; i++) {
        json_t *red = event_redact(ev, &all[i]);
        for (size_t k = 0; k < sizeof always / sizeof always[0]; k++)
            if (!json_object_get(red, always[k]))
                UNIT_FAIL("v%s dropped %s", all[i].id, always[k]);
        for (size_t k = 0; k < sizeof until_v10 / sizeof until_v10[0]; k++)
            if (!json_object_get(red, until_v10[k]) != (all[i].redaction >= ROOMVER_REDACT_V11))
                UNIT_FAIL("v%s: %s wrongly kept or dropped", all[i].id, until_v10[k]);
        for (size_t k = 0; k < sizeof never / sizeof never[0]; k++)
            if (json_object_get(red, never[k]))
                UNIT_FAIL("v%s kept %s", all[i].id, never[k]);
        json_decref(red);
    }
    /* state_key kept when present */
    json_object_set_new(ev, "state_key", json_string(""));
    json_t *red = event_redact(ev, roomver_get("12"));
    CHECK_STR(event_state_key(red), "");
    json_decref(red);
    json_decref(ev);
}

/* A well-formed event for `v` (content hash set, not signed). */
static json_t *sample(const char *v)
{
    const struct room_version *rv = roomver_get(v);
    json_t *ev =
        json_pack("{s:s,s:s,s:{s:s},s:I,s:i,s:[],s:[],s:{}}", "type", "m.room.message", "sender",
                  "@a:x", "content", "body", "hi", "origin_server_ts", (json_int_t)1700000000000,
                  "depth", 2, "prev_events", "auth_events", "signatures");
    if (rv->room_id_from_create)
        json_object_set_new(ev, "room_id",
                            json_string("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM"));
    else
        json_object_set_new(ev, "room_id", json_string("!r:x"));
    if (rv->event_ids == ROOMVER_EVID_V1)
        json_object_set_new(ev, "event_id", json_string("$abc:x"));
    event_set_content_hash(ev);
    return ev;
}

TEST(ids_per_version)
{
    size_t nv;
    const struct room_version *all = roomver_all(&nv);
    for (size_t i = 0; i < nv; i++) {
        json_t *ev = sample(all[i].id);
        char *id = event_compute_id(ev, &all[i]);
        const char *alpha =
            all[i].event_ids == ROOMVER_EVID_V3
                ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        if (all[i].event_ids == ROOMVER_EVID_V1) {
            CHECK_STR(id, "$abc:x");
        } else if (!id || id[0] != '$' || strlen(id) != 44 || strspn(id + 1, alpha) != 43) {
            UNIT_FAIL("v%s: bad event ID %s", all[i].id, id ? id : "(null)");
        }
        free(id);
        json_decref(ev);
    }

    /* v3 and v4 name the same hash in two alphabets; content (redacted away) does not count,
     * hashes do, so the ID still pins the content */
    json_t *ev = sample("4");
    char *a = event_compute_id(ev, roomver_get("4"));
    json_object_set_new(json_object_get(ev, "content"), "extra", json_string("x"));
    char *same = event_compute_id(ev, roomver_get("4"));
    CHECK_STR(a, same);
    event_set_content_hash(ev);
    char *other = event_compute_id(ev, roomver_get("4"));
    CHECK(other && strcmp(a, other) != 0);
    free(a);
    free(same);
    free(other);
    /* v1/v2 without event_id: nothing to compute */
    json_object_del(ev, "event_id");
    CHECK(event_compute_id(ev, roomver_get("2")) == NULL);
    json_decref(ev);
}

TEST(room_id_from_create)
{
    json_t *create = json_pack("{s:s,s:s,s:s,s:{s:s},s:I,s:i,s:[],s:[],s:{}}", "type",
                               "m.room.create", "state_key", "", "sender", "@a:x", "content",
                               "room_version", "12", "origin_server_ts", (json_int_t)1, "depth", 1,
                               "prev_events", "auth_events", "signatures");
    event_set_content_hash(create);
    const struct room_version *v12 = roomver_get("12");
    char *rid = event_room_id_from_create(create, v12);
    CHECK(rid && rid[0] == '!' && strlen(rid) == 44 &&
          strspn(rid + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              43);
    char why[128];
    CHECK(event_check_format(create, v12, why, sizeof why) == 0);
    /* an event in that room names it so */
    json_t *ev = sample("12");
    json_object_set_new(ev, "room_id", json_string(rid));
    CHECK(event_check_format(ev, v12, why, sizeof why) == 0);
    json_decref(ev);
    free(rid);
    /* only v12+, only create events */
    CHECK(event_room_id_from_create(create, roomver_get("11")) == NULL);
    json_object_set_new(create, "state_key", json_string("x"));
    CHECK(event_room_id_from_create(create, v12) == NULL);
    json_object_set_new(create, "state_key", json_string(""));
    /* v12 create events carry no room_id; v11 create events must */
    json_object_set_new(create, "room_id", json_string("!r:x"));
    CHECK(event_check_format(create, v12, why, sizeof why) == -1);
    CHECK(event_check_format(create, roomver_get("11"), why, sizeof why) == 0);
    json_object_del(create, "room_id");
    CHECK(event_check_format(create, roomver_get("11"), why, sizeof why) == -1);
    json_decref(create);
}

TEST(sign_and_verify)
{
    static const char *const versions[] = {"1", "3", "6", "9", "11", "12"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        const struct room_version *rv = roomver_get(versions[i]);
        json_t *ev = sample(versions[i]);
        json_object_set_new(ev, "type", json_string("m.room.member"));
        json_object_set_new(ev, "state_key", json_string("@a:x"));
        json_object_set_new(ev, "content",
                            json_pack("{s:s,s:s}", "membership", "join", "displayname", "Alice"));
        json_object_set_new(ev, "origin", json_string("x"));
        event_set_content_hash(ev);
        CHECK(event_sign(ev, rv, "domain", &key) == 0);
        CHECK(event_verify(ev, rv, "domain", "ed25519:1", key.pk) == 0);
        char why[128];
        if (event_check_format(ev, rv, why, sizeof why) != 0)
            UNIT_FAIL("v%s: signed sample rejected: %s", versions[i], why);
        /* wrong key ID, server or public key */
        CHECK(event_verify(ev, rv, "domain", "ed25519:2", key.pk) == -1);
        CHECK(event_verify(ev, rv, "other", "ed25519:1", key.pk) == -1);
        uint8_t pk[32];
        memcpy(pk, key.pk, 32);
        pk[0] ^= 1;
        CHECK(event_verify(ev, rv, "domain", "ed25519:1", pk) == -1);

        /* redacted: still verifies, content hash no longer matches */
        json_t *red = event_redact(ev, rv);
        CHECK(event_verify(red, rv, "domain", "ed25519:1", key.pk) == 0);
        CHECK(!event_content_hash_ok(red));
        json_decref(red);

        /* a redactable key changes: signature fine, content hash not */
        json_t *t = json_deep_copy(ev);
        json_object_set_new(json_object_get(t, "content"), "displayname", json_string("Eve"));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == 0);
        CHECK(!event_content_hash_ok(t));
        json_decref(t);
        /* kept keys: the signature breaks */
        static const char *const kept[] = {"sender", "state_key", "type"};
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
            t = json_deep_copy(ev);
            json_object_set_new(t, kept[k], json_string("@mallory:x"));
            CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == -1);
            json_decref(t);
        }
        t = json_deep_copy(ev);
        json_object_set_new(json_object_get(t, "content"), "membership", json_string("leave"));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == -1);
        json_decref(t);
        t = json_deep_copy(ev);
        json_object_set_new(t, "depth", json_integer(99));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == -1);
        json_decref(t);
        t = json_deep_copy(ev);
        event_set_content_hash(t); /* same content: same hash, still valid */
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == 0);
        json_object_set_new(t, "hashes", json_pack("{s:s}", "sha256", "AAAA"));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == -1);
        json_decref(t);
        /* origin is signed until v10 only; unsigned never */
        t = json_deep_copy(ev);
        json_object_set_new(t, "origin", json_string("y"));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) ==
              (rv->redaction >= ROOMVER_REDACT_V11 ? 0 : -1));
        json_object_set_new(t, "unsigned", json_pack("{s:i}", "age", 5));
        json_object_set_new(t, "origin", json_string("x"));
        CHECK(event_verify(t, rv, "domain", "ed25519:1", key.pk) == 0);
        json_decref(t);
        json_decref(ev);
    }

    /* a second server's signature is added alongside, both verify */
    struct sign_key k2;
    memset(&k2, 0, sizeof k2);
    snprintf(k2.key_id, sizeof k2.key_id, "ed25519:b");
    memset(k2.seed, 7, sizeof k2.seed);
    sign_key_from_seed(&k2);
    json_t *ev = sample("10");
    CHECK(event_sign(ev, roomver_get("10"), "domain", &key) == 0);
    CHECK(event_sign(ev, roomver_get("10"), "two", &k2) == 0);
    CHECK(event_verify(ev, roomver_get("10"), "domain", "ed25519:1", key.pk) == 0);
    CHECK(event_verify(ev, roomver_get("10"), "two", "ed25519:b", k2.pk) == 0);
    /* signing needs the content hash first */
    json_object_del(ev, "hashes");
    CHECK(event_sign(ev, roomver_get("10"), "domain", &key) == -1);
    json_decref(ev);
}

/* 1 if event_check_format rejects `ev` under version `v`; frees ev. */
static int rejects(json_t *ev, const char *v)
{
    char why[160] = "";
    int rc = event_check_format(ev, roomver_get(v), why, sizeof why);
    json_decref(ev);
    return rc == -1 && why[0];
}

static json_t *with(json_t *ev, const char *k, json_t *v)
{
    json_object_set_new(ev, k, v);
    return ev;
}

static json_t *without(json_t *ev, const char *k)
{
    json_object_del(ev, k);
    return ev;
}

static json_t *with_content(json_t *ev, const char *k, json_t *v)
{
    json_object_set_new(json_object_get(ev, "content"), k, v);
    return ev;
}

/* A string of `n` bytes "@aaa...:x" style: sigil, filler, suffix. */
static json_t *sized(char sigil, size_t n, const char *suffix)
{
    char buf[400];
    size_t sl = strlen(suffix);
    buf[0] = sigil;
    memset(buf + 1, 'a', n - 1 - sl);
    memcpy(buf + n - sl, suffix, sl);
    return json_stringn(buf, n);
}

TEST(format_keys_and_types)
{
    size_t nv;
    const struct room_version *all = roomver_all(&nv);
    for (size_t i = 0; i < nv; i++) {
        char why[128];
        json_t *ev = sample(all[i].id);
        if (event_check_format(ev, &all[i], why, sizeof why) != 0)
            UNIT_FAIL("v%s: sample rejected: %s", all[i].id, why);
        json_decref(ev);
    }
    static const char *const keys[] = {
        "type",        "sender",      "content", "origin_server_ts", "depth",
        "prev_events", "auth_events", "hashes",  "signatures",       "room_id"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (!rejects(without(sample("10"), keys[k]), "10"))
            UNIT_FAIL("missing %s accepted", keys[k]);
        if (!rejects(with(sample("10"), keys[k], json_true()), "10"))
            UNIT_FAIL("boolean %s accepted", keys[k]);
    }
    CHECK(rejects(json_string("x"), "10"));
    CHECK(rejects(with(sample("10"), "origin_server_ts", json_string("1")), "10"));
    CHECK(rejects(with(sample("10"), "depth", json_integer(-1)), "10"));
    CHECK(rejects(with(sample("10"), "state_key", json_integer(1)), "10"));
    CHECK(rejects(with(sample("10"), "unsigned", json_array()), "10"));
    CHECK(rejects(with(sample("10"), "hashes", json_object()), "10"));
    CHECK(rejects(with(sample("10"), "hashes", json_pack("{s:i}", "sha256", 1)), "10"));
    CHECK(rejects(with(sample("10"), "signatures", json_pack("{s:s}", "x", "y")), "10"));
    CHECK(rejects(with(sample("10"), "signatures", json_pack("{s:{s:i}}", "x", "k", 1)), "10"));
    CHECK(!rejects(with(sample("10"), "signatures", json_pack("{s:{s:s}}", "x", "k", "s")), "10"));
    /* redacts: a string before v11; from v11 it lives in content */
    CHECK(rejects(with(sample("10"), "redacts", json_integer(1)), "10"));
    CHECK(!rejects(with(sample("10"), "redacts", json_string("$e")), "10"));

    /* event_id: required (and "$opaque:domain") in v1/v2, absent from v3 */
    CHECK(rejects(without(sample("1"), "event_id"), "1"));
    CHECK(rejects(with(sample("2"), "event_id", json_string("abc:x")), "2"));
    CHECK(rejects(with(sample("2"), "event_id", json_string("$abc")), "2"));
    CHECK(rejects(with(sample("3"), "event_id", json_string("$abc:x")), "3"));
    CHECK(rejects(with(sample("12"), "event_id", json_string("$abc")), "12"));

    /* prev/auth events: [id, hashes] pairs in v1/v2, IDs later; at most 20 and 10 */
    json_t *pair = json_pack("[[s,{s:s}]]", "$p:x", "sha256", "h");
    CHECK(!rejects(with(sample("1"), "prev_events", json_deep_copy(pair)), "1"));
    CHECK(!rejects(with(sample("2"), "auth_events", json_deep_copy(pair)), "2"));
    CHECK(rejects(with(sample("3"), "prev_events", json_deep_copy(pair)), "3"));
    CHECK(rejects(with(sample("1"), "prev_events", json_pack("[s]", "$p:x")), "1"));
    CHECK(rejects(with(sample("1"), "prev_events", json_pack("[[s]]", "$p:x")), "1"));
    json_decref(pair);
    CHECK(!rejects(with(sample("4"), "prev_events", json_pack("[s]", "$p")), "4"));
    CHECK(rejects(with(sample("4"), "prev_events", json_pack("[i]", 1)), "4"));
    CHECK(rejects(with(sample("4"), "auth_events", json_pack("[s]", "p")), "4"));
    json_t *p20 = json_array(), *a10 = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(p20, json_string("$p"));
    for (int i = 0; i < 10; i++)
        json_array_append_new(a10, json_string("$a"));
    CHECK(!rejects(with(sample("9"), "prev_events", json_deep_copy(p20)), "9"));
    CHECK(!rejects(with(sample("9"), "auth_events", json_deep_copy(a10)), "9"));
    json_array_append_new(p20, json_string("$p"));
    json_array_append_new(a10, json_string("$a"));
    CHECK(rejects(with(sample("9"), "prev_events", p20), "9"));
    CHECK(rejects(with(sample("9"), "auth_events", a10), "9"));
}

TEST(format_identifiers)
{
    /* sender: historical localparts accepted (spec: servers MUST accept them, the empty one
     * included); no domain, a bad domain, no sigil: rejected */
    CHECK(!rejects(with(sample("10"), "sender", json_string("@Alice_Ü!:x.org:8448")), "10"));
    CHECK(!rejects(with(sample("10"), "sender", json_string("@:x")), "10"));
    CHECK(!rejects(with(sample("10"), "sender", json_string("@a:[::1]:80")), "10"));
    CHECK(rejects(with(sample("10"), "sender", json_string("not-a-user")), "10"));
    CHECK(rejects(with(sample("10"), "sender", json_string("@a")), "10"));
    CHECK(rejects(with(sample("10"), "sender", json_string("@a:")), "10"));
    CHECK(rejects(with(sample("10"), "sender", json_string("@a:bad_host")), "10"));
    CHECK(rejects(with(sample("10"), "sender", json_stringn("@a\0b:x", 6)), "10"));
    /* 255 bytes is the limit for sender, room_id, event_id, type and state_key */
    CHECK(!rejects(with(sample("10"), "sender", sized('@', 255, ":x")), "10"));
    CHECK(rejects(with(sample("10"), "sender", sized('@', 256, ":x")), "10"));
    CHECK(!rejects(with(sample("10"), "room_id", sized('!', 255, ":x")), "10"));
    CHECK(rejects(with(sample("10"), "room_id", sized('!', 256, ":x")), "10"));
    CHECK(!rejects(with(sample("2"), "event_id", sized('$', 255, ":x")), "2"));
    CHECK(rejects(with(sample("2"), "event_id", sized('$', 256, ":x")), "2"));
    CHECK(!rejects(with(sample("10"), "type", sized('m', 255, "")), "10"));
    CHECK(rejects(with(sample("10"), "type", sized('m', 256, "")), "10"));
    CHECK(!rejects(with(sample("10"), "state_key", sized('s', 255, "")), "10"));
    CHECK(rejects(with(sample("10"), "state_key", sized('s', 256, "")), "10"));
    CHECK(!rejects(with(sample("10"), "state_key", json_string("")), "10"));

    /* room_id: "!opaque:domain" until v11, "!" + 43 URL-safe base64 chars from v12 */
    CHECK(rejects(with(sample("10"), "room_id", json_string("r:x")), "10"));
    CHECK(rejects(with(sample("11"), "room_id", json_string("!r")), "11"));
    CHECK(rejects(
        with(sample("11"), "room_id", json_string("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM")),
        "11"));
    CHECK(rejects(with(sample("12"), "room_id", json_string("!r:x")), "12"));
    CHECK(rejects(
        with(sample("12"), "room_id", json_string("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJ+")),
        "12"));
    CHECK(rejects(
        with(sample("12"), "room_id", json_string("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJ")),
        "12"));
}

TEST(format_numbers_and_size)
{
    /* v6+ enforce canonical JSON: no floats, integers within +-(2^53 - 1); v1-v5 must not */
    CHECK(rejects(with_content(sample("6"), "n", json_real(1.5)), "6"));
    CHECK(rejects(with_content(sample("12"), "n", json_real(1.5)), "12"));
    CHECK(!rejects(with_content(sample("5"), "n", json_real(1.5)), "5"));
    CHECK(rejects(with_content(sample("6"), "n", json_integer(9007199254740992LL)), "6"));
    CHECK(rejects(with_content(sample("11"), "n", json_integer(-9007199254740992LL)), "11"));
    CHECK(!rejects(with_content(sample("6"), "n", json_integer(9007199254740991LL)), "6"));
    CHECK(!rejects(with_content(sample("6"), "n", json_integer(-9007199254740991LL)), "6"));
    CHECK(!rejects(with_content(sample("1"), "n", json_integer(9007199254740992LL)), "1"));
    json_t *nested = json_pack("{s:[{s:f}]}", "a", "b", 0.25);
    CHECK(rejects(with_content(sample("9"), "deep", nested), "9"));
    CHECK(rejects(with(sample("6"), "origin_server_ts", json_integer(9007199254740992LL)), "6"));
    /* depth: at most 2^53 - 1 from v6, jansson's int64 range before */
    CHECK(rejects(with(sample("6"), "depth", json_integer(9007199254740992LL)), "6"));
    CHECK(!rejects(with(sample("6"), "depth", json_integer(9007199254740991LL)), "6"));
    CHECK(!rejects(with(sample("5"), "depth", json_integer(9007199254740992LL)), "5"));

    /* the whole event as canonical JSON, signatures included: 65536 bytes pass, 65537 fail */
    const char *vs[] = {"1", "5", "6", "12"};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        json_t *ev = sample(vs[i]);
        json_object_set_new(ev, "signatures",
                            json_pack("{s:{s:s}}", "x", "ed25519:1", "signature-bytes"));
        size_t base = 0;
        free(cjson_encode(ev, &base));
        size_t body = 65536 - (base - 2); /* "hi" is replaced */
        char *text = malloc(body + 2);
        memset(text, 'x', body + 1);
        text[body + 1] = '\0';
        json_t *ok = json_deep_copy(ev);
        with_content(ok, "body", json_stringn(text, body));
        size_t len = 0;
        free(cjson_encode(ok, &len));
        CHECK_INT(len, 65536);
        char why[128] = "";
        if (event_check_format(ok, roomver_get(vs[i]), why, sizeof why) != 0)
            UNIT_FAIL("v%s: 65536 bytes rejected: %s", vs[i], why);
        json_decref(ok);
        with_content(ev, "body", json_stringn(text, body + 1));
        CHECK(event_check_format(ev, roomver_get(vs[i]), why, sizeof why) == -1);
        CHECK(strstr(why, "65536") != NULL);
        free(text);
        json_decref(ev);
    }
    /* before v6 an event holding a float is still measured */
    char *big = malloc(70000);
    memset(big, 'x', 69999);
    big[69999] = '\0';
    json_t *fl = with_content(sample("5"), "n", json_real(0.5));
    CHECK(!rejects(json_incref(fl), "5"));
    CHECK(rejects(with_content(fl, "body", json_string(big)), "5"));
    free(big);

    /* multi-byte UTF-8 counts in bytes */
    json_t *ev = sample("10");
    char *snow = malloc(3 * 22000 + 1);
    for (int i = 0; i < 22000; i++)
        memcpy(snow + 3 * i, "\xe2\x98\x83", 3);
    snow[3 * 22000] = '\0';
    CHECK(rejects(with_content(ev, "body", json_string(snow)), "10"));
    free(snow);

    /* a NULL or zero-length why buffer is allowed */
    ev = without(sample("10"), "depth");
    CHECK(event_check_format(ev, roomver_get("10"), NULL, 0) == -1);
    json_decref(ev);
}

TEST(accessors)
{
    json_t *ev = sample("10");
    CHECK_STR(event_type(ev), "m.room.message");
    CHECK_STR(event_sender(ev), "@a:x");
    CHECK_STR(event_room_id(ev), "!r:x");
    CHECK(event_state_key(ev) == NULL);
    json_object_set_new(ev, "state_key", json_integer(1));
    CHECK(event_state_key(ev) == NULL);
    json_object_set_new(ev, "state_key", json_string(""));
    CHECK_STR(event_state_key(ev), "");
    json_object_set_new(ev, "redacts", json_string("$top"));
    json_object_set_new(json_object_get(ev, "content"), "redacts", json_string("$content"));
    CHECK_STR(event_redacts(ev, roomver_get("10")), "$top");
    CHECK_STR(event_redacts(ev, roomver_get("11")), "$content");
    CHECK_STR(event_redacts(ev, roomver_get("12")), "$content");
    json_object_del(ev, "type");
    CHECK(event_type(ev) == NULL);
    json_decref(ev);
    CHECK(event_type(NULL) == NULL && event_sender(NULL) == NULL);
}

/* Defect 3: a v1-5 power levels event with a float level and an integer beyond 2^53 still
 * gets a content hash, an event ID and a signature that verifies. The hash and ID were computed
 * independently with Python's json (as the reference server encodes) and hashlib. */
TEST(old_rooms_with_floats)
{
    json_t *ev = load("{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"sender\":"
                      "\"@a:x.org\",\"room_id\":\"!r:x.org\",\"content\":{\"users\":{"
                      "\"@a:x.org\":100,\"@b:x.org\":50.57},\"ban\":50.0,\"big\":"
                      "9007199254740993},\"depth\":5,\"prev_events\":[\"$p\"],"
                      "\"auth_events\":[\"$c\"],\"origin_server_ts\":1}");
    const struct room_version *v3 = roomver_get("3");
    CHECK(event_set_content_hash(ev) == 0);
    CHECK_STR(hash_of(ev), "a+la92rd3XTzOCYG/5L59c5DkKWZCyRMIlM42S+RqcE");
    CHECK(event_content_hash_ok(ev));
    char *id = event_compute_id(ev, v3);
    CHECK_STR(id, "$R0FsmVmI6hLsbJ+3ipuv/gjB94rIVG9Spf6VY3S/81Q");
    free(id);
    CHECK(event_sign(ev, v3, "domain", &key) == 0);
    CHECK(event_verify(ev, v3, "domain", "ed25519:1", key.pk) == 0);
    char why[128];
    CHECK(event_check_format(ev, v3, why, sizeof why) == 0);
    /* in v6+ the same event is not valid: floats and big integers are refused */
    json_t *v6 = json_deep_copy(ev);
    CHECK(event_check_format(v6, roomver_get("6"), why, sizeof why) < 0);
    json_object_del(json_object_get(v6, "content"), "big");
    CHECK(event_check_format(v6, roomver_get("6"), why, sizeof why) < 0); /* 50.57 */
    json_object_set_new(json_object_get(json_object_get(v6, "content"), "users"), "@b:x.org",
                        json_integer(50));
    CHECK(event_check_format(v6, roomver_get("6"), why, sizeof why) < 0); /* 50.0 */
    json_object_set_new(json_object_get(v6, "content"), "ban", json_integer(50));
    CHECK(event_check_format(v6, roomver_get("6"), why, sizeof why) == 0);
    json_decref(v6);
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
    RUN(reference_hash_vectors);
    RUN(content_hash);
    RUN(redaction_content_per_version);
    RUN(redaction_edge_cases);
    RUN(redaction_top_level_per_version);
    RUN(ids_per_version);
    RUN(room_id_from_create);
    RUN(sign_and_verify);
    RUN(format_keys_and_types);
    RUN(format_identifiers);
    RUN(format_numbers_and_size);
    RUN(accessors);
    RUN(old_rooms_with_floats);
    return unit_done();
}
