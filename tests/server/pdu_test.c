/* pdu_test.c - steps 1-3 of the checks on a received PDU (server/pdu.c) with a fake key
 * fetcher: which servers must sign (sender; event ID's server in v1/v2; the authorising
 * server of a restricted join), valid events, the redacted copy on a content hash mismatch,
 * drops for missing, wrong or unknown signatures and malformed events, keys that expired
 * before the event (v5+ only), and a key server that cannot be reached (retry). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/event.h"
#include "server/ids.h"
#include "server/keyring.h"
#include "server/pdu.h"
#include "tests/unit.h"

static struct sign_key a_key, b_key;
static int64_t a_valid_until = INT64_MAX;
static int unreachable;
static int64_t last_min_ts = -1;

/* a.test and b.test publish one key each; a.test's expires at a_valid_until */
static int lookup(void *ctx, const char *server, const char *key_id, int64_t min_ts, uint8_t pk[32])
{
    last_min_ts = min_ts;
    if (unreachable)
        return -1;
    const struct sign_key *k = strcmp(server, "a.test") == 0   ? &a_key
                               : strcmp(server, "b.test") == 0 ? &b_key
                                                               : NULL;
    if (!k || strcmp(key_id, k->key_id) != 0)
        return 0;
    if (k == &a_key && min_ts > a_valid_until)
        return 0; /* expired before the event */
    memcpy(pk, k->pk, 32);
    return 1;
}

static json_t *event(const char *version, const char *sender, json_t *content)
{
    const struct room_version *rv = roomver_get(version);
    json_t *ev =
        json_pack("{s:s,s:s,s:s,s:o,s:[s],s:[s],s:i,s:I}", "type", "m.room.message", "sender",
                  sender, "room_id", "!r:a.test", "content", content, "prev_events", "$p",
                  "auth_events", "$c", "depth", 3, "origin_server_ts", (json_int_t)1000);
    if (rv->event_ids == ROOMVER_EVID_V1) {
        json_object_set_new(ev, "event_id", json_string("$e:b.test"));
        json_object_set_new(ev, "prev_events",
                            json_pack("[[s,{s:s}]]", "$p:a.test", "sha256", "x"));
        json_object_set_new(ev, "auth_events",
                            json_pack("[[s,{s:s}]]", "$c:a.test", "sha256", "x"));
    }
    event_set_content_hash(ev);
    return ev;
}

static enum pdu_verdict run(const char *version, json_t *ev, json_t **checked)
{
    char *id = NULL, why[200];
    json_t *out = NULL;
    enum pdu_verdict v = pdu_check(roomver_get(version), ev, &out, &id, why, sizeof why);
    if (getenv("PDU_DEBUG"))
        fprintf(stderr, "%d %s\n", v, v == PDU_VALID ? "" : why);
    if (checked)
        *checked = out;
    else
        json_decref(out);
    free(id);
    return v;
}

TEST(required_signers)
{
    const char *s[4];
    json_t *ev = event("10", "@u:a.test", json_object());
    CHECK_INT(pdu_required_signers(roomver_get("10"), ev, s, 4), 1);
    CHECK_STR(s[0], "a.test");
    json_decref(ev);
    ev = event("1", "@u:a.test", json_object());
    CHECK_INT(pdu_required_signers(roomver_get("1"), ev, s, 4), 2);
    CHECK_STR(s[1], "b.test"); /* the event ID's server */
    json_decref(ev);
    json_t *c = json_pack("{s:s,s:s}", "membership", "join", "join_authorised_via_users_server",
                          "@admin:b.test");
    ev = event("8", "@u:a.test", json_incref(c));
    json_object_set_new(ev, "type", json_string("m.room.member"));
    CHECK_INT(pdu_required_signers(roomver_get("8"), ev, s, 4), 2);
    CHECK_STR(s[1], "b.test");
    CHECK_INT(pdu_required_signers(roomver_get("7"), ev, s, 4), 1); /* no restricted rooms */
    json_object_set_new(c, "join_authorised_via_users_server", json_string("@admin:a.test"));
    json_object_set(ev, "content", c);
    CHECK_INT(pdu_required_signers(roomver_get("8"), ev, s, 4), 1); /* the same server once */
    json_decref(c);
    json_decref(ev);
}

TEST(valid_redacted_and_dropped)
{
    const struct room_version *rv = roomver_get("10");
    json_t *ev = event("10", "@u:a.test", json_pack("{s:s}", "body", "hi"));
    event_sign(ev, rv, "a.test", &a_key);
    json_t *checked = NULL;
    CHECK_INT(run("10", ev, &checked), PDU_VALID);
    char *id = event_compute_id(ev, rv);
    CHECK_STR(json_string_value(json_object_get(checked, "event_id")), id);
    CHECK_STR(json_string_value(json_object_get(json_object_get(checked, "content"), "body")),
              "hi");
    json_decref(checked);
    /* v5+: the key must be valid at origin_server_ts */
    CHECK_INT(last_min_ts, 1000);
    /* content changed in transit: the signature (over the redacted event) still holds, the
     * hash does not: the redacted copy goes on, with the same event ID */
    json_t *changed = json_deep_copy(ev);
    json_object_set_new(json_object_get(changed, "content"), "body", json_string("evil"));
    CHECK_INT(run("10", changed, &checked), PDU_REDACTED);
    CHECK_INT(json_object_size(json_object_get(checked, "content")), 0);
    CHECK_STR(json_string_value(json_object_get(checked, "event_id")), id);
    json_decref(checked);
    json_decref(changed);
    free(id);
    /* a field the signature covers changed: dropped */
    json_t *bad = json_deep_copy(ev);
    json_object_set_new(bad, "depth", json_integer(4));
    CHECK_INT(run("10", bad, NULL), PDU_DROP);
    json_decref(bad);
    /* signed by the wrong server only */
    json_t *other = event("10", "@u:a.test", json_object());
    event_sign(other, rv, "b.test", &b_key);
    CHECK_INT(run("10", other, NULL), PDU_DROP);
    json_decref(other);
    /* an unknown key only: skipped, so no usable signature */
    json_t *unk = event("10", "@u:a.test", json_object());
    struct sign_key k2 = a_key;
    snprintf(k2.key_id, sizeof k2.key_id, "ed25519:gone");
    event_sign(unk, rv, "a.test", &k2);
    CHECK_INT(run("10", unk, NULL), PDU_DROP);
    /* ... but beside a known valid one it is skipped */
    event_sign(unk, rv, "a.test", &a_key);
    CHECK_INT(run("10", unk, NULL), PDU_VALID);
    json_decref(unk);
    /* malformed */
    json_t *mal = json_deep_copy(ev);
    json_object_set_new(mal, "depth", json_string("3"));
    CHECK_INT(run("10", mal, NULL), PDU_DROP);
    json_decref(mal);
    /* the key server cannot be reached */
    unreachable = 1;
    CHECK_INT(run("10", ev, NULL), PDU_RETRY);
    unreachable = 0;
    json_decref(ev);
}

TEST(key_validity_by_version)
{
    /* a.test's key expired before the event (ts 1000): v5+ skip it, v4 does not ask */
    a_valid_until = 500;
    json_t *v5 = event("5", "@u:a.test", json_object());
    event_sign(v5, roomver_get("5"), "a.test", &a_key);
    CHECK_INT(run("5", v5, NULL), PDU_DROP);
    json_t *v4 = event("4", "@u:a.test", json_object());
    event_sign(v4, roomver_get("4"), "a.test", &a_key);
    CHECK_INT(run("4", v4, NULL), PDU_VALID);
    CHECK_INT(last_min_ts, 0);
    a_valid_until = INT64_MAX;
    json_decref(v5);
    json_decref(v4);
}

TEST(v1_needs_the_event_id_server)
{
    const struct room_version *rv = roomver_get("1");
    json_t *ev = event("1", "@u:a.test", json_object());
    event_sign(ev, rv, "a.test", &a_key);
    CHECK_INT(run("1", ev, NULL), PDU_DROP); /* b.test (the event ID's) has not signed */
    event_sign(ev, rv, "b.test", &b_key);
    json_t *checked = NULL;
    CHECK_INT(run("1", ev, &checked), PDU_VALID);
    CHECK_STR(json_string_value(json_object_get(checked, "event_id")), "$e:b.test");
    CHECK(pdu_signed_by(rv, ev, "b.test"));
    CHECK(!pdu_signed_by(rv, ev, "c.test"));
    json_decref(checked);
    json_decref(ev);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    sign_key_generate(&a_key);
    sign_key_generate(&b_key);
    ids_set_local_server("local.test");
    keyring_set_fetcher(lookup, NULL);
    RUN(required_signers);
    RUN(valid_redacted_and_dropped);
    RUN(key_validity_by_version);
    RUN(v1_needs_the_event_id_server);
    return unit_done();
}
