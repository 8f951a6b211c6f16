/* event.c - PDU hashing, naming, redaction, signing and format checks (Server-Server API
 * "Calculating the content hash", "Calculating the reference hash", "Signing events";
 * room version pages "Redactions", "Event IDs", "Event format").
 *
 * Guarantees:
 *  1. The content hash covers the whole event except unsigned, signatures and hashes; the
 *     signature covers the redacted event (with its hashes), so a redacted event still
 *     verifies and any change to kept keys or the hash is detected.
 *  2. event_redact keeps exactly the keys the event's room version lists (tables below).
 *  3. Nothing here does I/O. */
#include "server/event.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/cjson.h"
#include "server/ids.h"

/* Top-level keys kept by redaction: all versions, then those dropped from v11. */
static const char *const keep_top[] = {
    "event_id", "type",       "room_id", "sender",      "state_key",   "content",
    "hashes",   "signatures", "depth",   "prev_events", "auth_events", "origin_server_ts"};
static const char *const keep_top_pre_v11[] = {"prev_state", "origin", "membership"};

/* Content keys kept by redaction, per event type and the first redaction rule set that
 * keeps them (and, for aliases, the last). */
static const struct keep_rule {
    const char *type, *key;
    enum roomver_redaction from, until;
} keep_content[] = {
    {"m.room.member", "membership", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.member", "join_authorised_via_users_server", ROOMVER_REDACT_V9, ROOMVER_REDACT_V11},
    {"m.room.create", "creator", ROOMVER_REDACT_V1, ROOMVER_REDACT_V9},
    {"m.room.join_rules", "join_rule", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.join_rules", "allow", ROOMVER_REDACT_V8, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "ban", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "events", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "events_default", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "kick", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "redact", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "state_default", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "users", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "users_default", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.power_levels", "invite", ROOMVER_REDACT_V11, ROOMVER_REDACT_V11},
    {"m.room.aliases", "aliases", ROOMVER_REDACT_V1, ROOMVER_REDACT_V1},
    {"m.room.history_visibility", "history_visibility", ROOMVER_REDACT_V1, ROOMVER_REDACT_V11},
    {"m.room.redaction", "redacts", ROOMVER_REDACT_V11, ROOMVER_REDACT_V11},
};

const char *event_type(const json_t *pdu)
{
    return json_string_value(json_object_get(pdu, "type"));
}

const char *event_sender(const json_t *pdu)
{
    return json_string_value(json_object_get(pdu, "sender"));
}

const char *event_room_id(const json_t *pdu)
{
    return json_string_value(json_object_get(pdu, "room_id"));
}

const char *event_state_key(const json_t *pdu)
{
    return json_string_value(json_object_get(pdu, "state_key"));
}

const char *event_redacts(const json_t *pdu, const struct room_version *rv)
{
    if (rv->redacts_in_content)
        return json_string_value(json_object_get(json_object_get(pdu, "content"), "redacts"));
    return json_string_value(json_object_get(pdu, "redacts"));
}

/* SHA-256 of the canonical JSON of `obj`. */
static int hash_canonical(const json_t *obj, uint8_t out[32])
{
    size_t len;
    char *text = cjson_encode(obj, &len);
    if (!text)
        return -1;
    crypto_hash_sha256(out, (const unsigned char *)text, len);
    free(text);
    return 0;
}

int event_content_hash(const json_t *pdu, uint8_t out[32])
{
    json_t *copy = json_copy((json_t *)pdu); /* shallow: only top-level keys go */
    if (!copy)
        return -1;
    json_object_del(copy, "unsigned");
    json_object_del(copy, "signatures");
    json_object_del(copy, "hashes");
    int rc = hash_canonical(copy, out);
    json_decref(copy);
    return rc;
}

int event_set_content_hash(json_t *pdu)
{
    uint8_t h[32];
    if (event_content_hash(pdu, h) < 0)
        return -1;
    char *b = b64_encode(h, sizeof h);
    if (!b)
        return -1;
    json_object_set_new(pdu, "hashes", json_pack("{s:s}", "sha256", b));
    free(b);
    return 0;
}

int event_content_hash_ok(const json_t *pdu)
{
    uint8_t h[32], want[32];
    size_t n = 0;
    const char *b = json_string_value(json_object_get(json_object_get(pdu, "hashes"), "sha256"));
    if (!b || b64_decode(b, strlen(b), want, sizeof want, &n) < 0 || n != 32 ||
        event_content_hash(pdu, h) < 0)
        return 0;
    return sodium_memcmp(h, want, 32) == 0;
}

json_t *event_redact(const json_t *pdu, const struct room_version *rv)
{
    json_t *out = json_object();
    const char *type = event_type(pdu);
    json_t *content = json_object_get(pdu, "content"), *kept = json_object();
    if (!out || !kept) {
        json_decref(out);
        json_decref(kept);
        return NULL;
    }
    for (size_t i = 0; i < sizeof keep_top / sizeof keep_top[0]; i++) {
        json_t *v = json_object_get(pdu, keep_top[i]);
        if (v)
            json_object_set_new(out, keep_top[i], json_deep_copy(v));
    }
    if (rv->redaction < ROOMVER_REDACT_V11) {
        for (size_t i = 0; i < sizeof keep_top_pre_v11 / sizeof keep_top_pre_v11[0]; i++) {
            json_t *v = json_object_get(pdu, keep_top_pre_v11[i]);
            if (v)
                json_object_set_new(out, keep_top_pre_v11[i], json_deep_copy(v));
        }
    }
    if (type && json_is_object(content)) {
        if (rv->redaction >= ROOMVER_REDACT_V11 && strcmp(type, "m.room.create") == 0) {
            json_decref(kept);
            kept = json_deep_copy(content); /* v11: create keeps all of its content */
        }
        for (size_t i = 0; i < sizeof keep_content / sizeof keep_content[0]; i++) {
            const struct keep_rule *r = &keep_content[i];
            if (strcmp(r->type, type) != 0 || rv->redaction < r->from || rv->redaction > r->until)
                continue;
            json_t *v = json_object_get(content, r->key);
            if (v)
                json_object_set_new(kept, r->key, json_deep_copy(v));
        }
        /* v11: a member event keeps third_party_invite.signed (only that) */
        json_t *tpi = json_object_get(content, "third_party_invite");
        if (rv->redaction >= ROOMVER_REDACT_V11 && strcmp(type, "m.room.member") == 0 &&
            json_object_get(tpi, "signed"))
            json_object_set_new(kept, "third_party_invite",
                                json_pack("{s:O}", "signed", json_object_get(tpi, "signed")));
    }
    json_object_set_new(out, "content", kept);
    return out;
}

int event_reference_hash(const json_t *pdu, const struct room_version *rv, uint8_t out[32])
{
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    json_object_del(red, "signatures");
    json_object_del(red, "unsigned");
    json_object_del(red, "age_ts");
    int rc = hash_canonical(red, out);
    json_decref(red);
    return rc;
}

/* "sigil" + base64 (URL-safe when asked) of the reference hash. */
static char *hash_id(const json_t *pdu, const struct room_version *rv, char sigil, bool urlsafe)
{
    uint8_t h[32];
    if (event_reference_hash(pdu, rv, h) < 0)
        return NULL;
    char *b = urlsafe ? b64_encode_urlsafe(h, sizeof h) : b64_encode(h, sizeof h);
    if (!b)
        return NULL;
    size_t n = strlen(b) + 2;
    char *id = malloc(n);
    if (id)
        snprintf(id, n, "%c%s", sigil, b);
    free(b);
    return id;
}

char *event_compute_id(const json_t *pdu, const struct room_version *rv)
{
    switch (rv->event_ids) {
    case ROOMVER_EVID_V1: {
        const char *id = json_string_value(json_object_get(pdu, "event_id"));
        return id ? strdup(id) : NULL;
    }
    case ROOMVER_EVID_V3:
        return hash_id(pdu, rv, '$', false);
    case ROOMVER_EVID_V4:
        return hash_id(pdu, rv, '$', true);
    }
    return NULL;
}

char *event_room_id_from_create(const json_t *create, const struct room_version *rv)
{
    if (!rv->room_id_from_create)
        return NULL;
    return hash_id(create, rv, '!', true);
}

int event_sign(json_t *pdu, const struct room_version *rv, const char *server_name,
               const struct sign_key *k)
{
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    json_object_del(red, "unsigned");
    int rc = sign_json(red, server_name, k);
    if (rc == 0)
        json_object_set(pdu, "signatures", json_object_get(red, "signatures"));
    json_decref(red);
    return rc;
}

int event_verify(const json_t *pdu, const struct room_version *rv, const char *server_name,
                 const char *key_id, const uint8_t pk[32])
{
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    int rc = sign_verify_json(red, server_name, key_id, pk);
    json_decref(red);
    return rc;
}

/* --- format -------------------------------------------------------------------------------- */

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Required top-level keys and their types (event_id, room_id and prev/auth element types are
 * checked separately: they differ by version). */
static const struct {
    const char *key;
    json_type type;
} required[] = {
    {"type", JSON_STRING},       {"sender", JSON_STRING},
    {"content", JSON_OBJECT},    {"origin_server_ts", JSON_INTEGER},
    {"depth", JSON_INTEGER},     {"prev_events", JSON_ARRAY},
    {"auth_events", JSON_ARRAY}, {"hashes", JSON_OBJECT},
};

static bool id_ok(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) <= EVENT_MAX_ID_BYTES;
}

int event_check_format(const json_t *pdu, const struct room_version *rv, char *why, size_t n)
{
    if (!json_is_object(pdu))
        return fail(why, n, "%s", "event is not an object");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        json_t *v = json_object_get(pdu, required[i].key);
        if (!v || json_typeof(v) != required[i].type)
            return fail(why, n, "'%s' missing or of the wrong type", required[i].key);
    }
    bool is_create = strcmp(event_type(pdu), "m.room.create") == 0 &&
                     json_is_string(json_object_get(pdu, "state_key")) && !*event_state_key(pdu);
    json_t *room = json_object_get(pdu, "room_id");
    if (rv->room_id_from_create && is_create) {
        if (room)
            return fail(why, n, "%s", "a version 12 create event has no room_id");
    } else if (!id_ok(room) || json_string_value(room)[0] != '!') {
        return fail(why, n, "%s", "room_id missing, malformed or over 255 bytes");
    }
    json_t *eid = json_object_get(pdu, "event_id");
    if (rv->event_ids == ROOMVER_EVID_V1 && (!id_ok(eid) || json_string_value(eid)[0] != '$'))
        return fail(why, n, "%s", "event_id missing or malformed");
    const char *lp, *srv;
    size_t ll, sl;
    if (!id_ok(json_object_get(pdu, "sender")) ||
        ids_user_id_split(event_sender(pdu), &lp, &ll, &srv, &sl) < 0)
        return fail(why, n, "%s", "sender is not a valid user ID");
    if (!id_ok(json_object_get(pdu, "type")))
        return fail(why, n, "%s", "type longer than 255 bytes");
    json_t *sk = json_object_get(pdu, "state_key");
    if (sk && !id_ok(sk))
        return fail(why, n, "%s", "state_key is not a string of at most 255 bytes");
    json_int_t depth = json_integer_value(json_object_get(pdu, "depth"));
    if (depth < 0 || depth > 9007199254740991LL)
        return fail(why, n, "%s", "depth out of range");
    if (rv->strict_canonical_json && !cjson_valid(pdu))
        return fail(why, n, "%s", "event holds a non-integer or out-of-range number");
    size_t len = 0;
    char *text = cjson_encode(pdu, &len);
    if (!text && rv->strict_canonical_json)
        return fail(why, n, "%s", "event cannot be encoded as canonical JSON");
    free(text);
    if (len > EVENT_MAX_BYTES)
        return fail(why, n, "%s", "event larger than 65536 bytes");
    return 0;
}
