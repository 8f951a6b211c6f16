/* event.c - PDU hashing, naming, redaction, signing and format checks (Server-Server API
 * "Calculating the content hash for an event", "Calculating the reference hash for an event",
 * "Signing Events", "Checks performed on receipt of a PDU"; Client-Server API "Size limits"
 * and "Redactions"; the room version pages' "Redactions", "Event IDs" and "Event format";
 * appendix "Identifier Grammar").
 *
 * Guarantees:
 *  1. The content hash covers the whole event except unsigned, signatures and hashes; the
 *     signature covers the redacted event (with its hashes), so a redacted event still
 *     verifies and any change to a kept key or to the hash is detected.
 *  2. event_redact keeps exactly the keys the event's room version lists (the two tables
 *     below, one row per key and the range of rule sets that keep it), nothing else: not
 *     `unsigned`, which the spec's algorithm does not list.
 *  3. Nothing here does I/O; every result is a fresh allocation the caller owns. */
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

#define R1 ROOMVER_REDACT_V1
#define R8 ROOMVER_REDACT_V8
#define R9 ROOMVER_REDACT_V9
#define R11 ROOMVER_REDACT_V11

#define MAX_PREV_EVENTS 20              /* PDU schema: prev_events "less than or equal to 20" */
#define MAX_AUTH_EVENTS 10              /* PDU schema: auth_events "less than or equal to 10" */
#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1, depth bound from v6 */
#define HASH_ID_CHARS 43                /* unpadded base64 of a SHA-256 */

/* Top-level keys kept by redaction. Columns: key, last rule set keeping it (all keep them
 * from v1; v11 drops prev_state, origin and membership). */
static const struct {
    const char *key;
    enum roomver_redaction until;
} keep_top[] = {
    {"event_id", R11},  {"type", R11},
    {"room_id", R11},   {"sender", R11},
    {"state_key", R11}, {"content", R11},
    {"hashes", R11},    {"signatures", R11},
    {"depth", R11},     {"prev_events", R11},
    {"prev_state", R9}, {"auth_events", R11},
    {"origin", R9},     {"origin_server_ts", R11},
    {"membership", R9},
};

/* Content kept by redaction. Columns: event type; content key (NULL: the whole content);
 * sub-key (non-NULL: keep the key only as an object holding just that sub-key); first and
 * last rule set with the rule. */
static const struct keep_rule {
    const char *type, *key, *sub;
    enum roomver_redaction from, until;
} keep_content[] = {
    {"m.room.member", "membership", NULL, R1, R11},
    {"m.room.member", "join_authorised_via_users_server", NULL, R9, R11},
    /* v11: "allows the signed key of the third_party_invite key". Like Synapse and Ruma, an
     * object without `signed` stays as {}: anything else would change event IDs. */
    {"m.room.member", "third_party_invite", "signed", R11, R11},
    {"m.room.create", "creator", NULL, R1, R9},
    {"m.room.create", NULL, NULL, R11, R11}, /* v11: "allows all keys" */
    {"m.room.join_rules", "join_rule", NULL, R1, R11},
    {"m.room.join_rules", "allow", NULL, R8, R11},
    {"m.room.power_levels", "ban", NULL, R1, R11},
    {"m.room.power_levels", "events", NULL, R1, R11},
    {"m.room.power_levels", "events_default", NULL, R1, R11},
    {"m.room.power_levels", "invite", NULL, R11, R11},
    {"m.room.power_levels", "kick", NULL, R1, R11},
    {"m.room.power_levels", "redact", NULL, R1, R11},
    {"m.room.power_levels", "state_default", NULL, R1, R11},
    {"m.room.power_levels", "users", NULL, R1, R11},
    {"m.room.power_levels", "users_default", NULL, R1, R11},
    {"m.room.aliases", "aliases", NULL, R1, R1}, /* v6 drops the special case */
    {"m.room.history_visibility", "history_visibility", NULL, R1, R11},
    {"m.room.redaction", "redacts", NULL, R11, R11},
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

/* SHA-256 of the canonical JSON of `obj` (borrowed). Returns 0, or -1 if `obj` is not
 * canonicalisable or on OOM. */
cjson_encoder event_encoder(const struct room_version *rv)
{
    return rv && !rv->strict_canonical_json ? cjson_encode_compat : cjson_encode;
}

static int hash_canonical(const json_t *obj, uint8_t out[32], cjson_encoder enc)
{
    size_t len;
    char *text = enc(obj, &len);
    if (!text)
        return -1;
    crypto_hash_sha256(out, (const unsigned char *)text, len);
    free(text);
    return 0;
}

int event_content_hash(const json_t *pdu, uint8_t out[32])
{
    /* "any existing unsigned, signatures, and hashes properties are removed"; a shallow copy
     * suffices, only top-level keys go */
    json_t *copy = json_copy((json_t *)pdu);
    if (!copy)
        return -1;
    json_object_del(copy, "unsigned");
    json_object_del(copy, "signatures");
    json_object_del(copy, "hashes");
    /* the compat encoder for every version: v6+ events are checked strict (event_check_format,
     * room_append) before they are hashed, and on such trees both encoders agree */
    int rc = hash_canonical(copy, out, cjson_encode_compat);
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
    int rc = json_object_set_new(pdu, "hashes", json_pack("{s:s}", "sha256", b));
    free(b);
    return rc < 0 ? -1 : 0;
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

/* Copy into `kept` what rule `r` keeps of `content`. Returns 0, or -1 on OOM. */
static int keep_one(json_t *kept, const json_t *content, const struct keep_rule *r)
{
    json_t *v = json_object_get(content, r->key);
    if (!v)
        return 0;
    if (!r->sub)
        return json_object_set_new(kept, r->key, json_deep_copy(v));
    if (!json_is_object(v))
        return 0;
    json_t *part = json_object(), *s = json_object_get(v, r->sub);
    if (!part || (s && json_object_set_new(part, r->sub, json_deep_copy(s)) < 0)) {
        json_decref(part);
        return -1;
    }
    return json_object_set_new(kept, r->key, part);
}

json_t *event_redact(const json_t *pdu, const struct room_version *rv)
{
    const char *type = event_type(pdu);
    json_t *content = json_object_get(pdu, "content");
    json_t *out = json_object(), *kept = json_object();
    if (!out || !kept)
        goto fail;
    /* strip every top-level key not in this version's list (json_object_set_new steals the
     * value even when it fails, and fails on NULL, so OOM is caught here) */
    for (size_t i = 0; i < sizeof keep_top / sizeof keep_top[0]; i++) {
        json_t *v = json_object_get(pdu, keep_top[i].key);
        if (v && rv->redaction <= keep_top[i].until &&
            json_object_set_new(out, keep_top[i].key, json_deep_copy(v)) < 0)
            goto fail;
    }
    /* strip every content key not listed for this event type and version */
    size_t nrules =
        type && json_is_object(content) ? sizeof keep_content / sizeof keep_content[0] : 0;
    for (size_t i = 0; i < nrules; i++) {
        const struct keep_rule *r = &keep_content[i];
        if (strcmp(r->type, type) != 0 || rv->redaction < r->from || rv->redaction > r->until)
            continue;
        if (!r->key) {
            json_decref(kept);
            if (!(kept = json_deep_copy(content)))
                goto fail;
        } else if (keep_one(kept, content, r) < 0) {
            goto fail;
        }
    }
    /* content is always present afterwards, as other servers produce it */
    if (json_object_set_new(out, "content", kept) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
fail:
    json_decref(kept);
    json_decref(out);
    return NULL;
}

int event_reference_hash(const json_t *pdu, const struct room_version *rv, uint8_t out[32])
{
    /* 1. redact; 2. remove signatures and unsigned; 3. canonical JSON; 4. SHA-256 */
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    json_object_del(red, "signatures");
    json_object_del(red, "unsigned");
    json_object_del(red, "age_ts");
    int rc = hash_canonical(red, out, event_encoder(rv));
    json_decref(red);
    return rc;
}

/* `sigil` + unpadded base64 (URL-safe when asked) of the reference hash; malloc'd. */
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
    if (id && snprintf(id, n, "%c%s", sigil, b) != (int)n - 1) {
        free(id);
        id = NULL;
    }
    free(b);
    return id;
}

char *event_compute_id(const json_t *pdu, const struct room_version *rv)
{
    switch (rv->event_ids) {
    case ROOMVER_EVID_V1: { /* chosen by the sender, carried in the event */
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

/* 1 if `pdu` is a room's create event: type m.room.create, state_key "". */
static bool is_create_event(const json_t *pdu)
{
    const char *type = event_type(pdu), *sk = event_state_key(pdu);
    return type && sk && strcmp(type, "m.room.create") == 0 && !*sk;
}

char *event_room_id_from_create(const json_t *create, const struct room_version *rv)
{
    if (!rv->room_id_from_create || !is_create_event(create))
        return NULL;
    return hash_id(create, rv, '!', true); /* the event ID with "!" for "$" */
}

int event_sign(json_t *pdu, const struct room_version *rv, const char *server_name,
               const struct sign_key *k)
{
    /* spec "Adding hashes and signatures to outgoing events": hash (done by the caller),
     * redact, sign the redacted copy, copy its signatures back */
    if (!json_is_string(json_object_get(json_object_get(pdu, "hashes"), "sha256")))
        return -1;
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    int rc = sign_json_enc(red, server_name, k, event_encoder(rv));
    if (rc == 0 && json_object_set(pdu, "signatures", json_object_get(red, "signatures")) < 0)
        rc = -1;
    json_decref(red);
    return rc;
}

int event_verify(const json_t *pdu, const struct room_version *rv, const char *server_name,
                 const char *key_id, const uint8_t pk[32])
{
    /* spec "Validating hashes and signatures on received events": redact, then check */
    json_t *red = event_redact(pdu, rv);
    if (!red)
        return -1;
    int rc = sign_verify_json_enc(red, server_name, key_id, pk, event_encoder(rv));
    json_decref(red);
    return rc;
}

/* --- format -------------------------------------------------------------------------------- */

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Keys every PDU carries and their JSON types (pdu_base plus auth_events/prev_events). The
 * per-version keys (room_id, event_id) and the shapes inside are checked afterwards. */
static const struct {
    const char *key;
    json_type type;
} required[] = {
    {"type", JSON_STRING},       {"sender", JSON_STRING},
    {"content", JSON_OBJECT},    {"origin_server_ts", JSON_INTEGER},
    {"depth", JSON_INTEGER},     {"prev_events", JSON_ARRAY},
    {"auth_events", JSON_ARRAY}, {"hashes", JSON_OBJECT},
    {"signatures", JSON_OBJECT},
};

/* A string of at most `max` bytes without NUL (JSON strings may hold one). */
static bool str_ok(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    return s && len <= max && !memchr(s, '\0', len);
}

/* `sigil` localpart ":" server_name, at most 255 bytes. The localpart is anything but ':'
 * (NUL is excluded by str_ok), empty included: the appendix's "Historical User IDs" must be
 * accepted over federation, and room IDs and v1 event IDs have opaque localparts. */
static bool domain_id_ok(const json_t *v, char sigil)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!str_ok(v, EVENT_MAX_ID_BYTES) || len < 2 || s[0] != sigil)
        return false;
    const char *colon = memchr(s + 1, ':', len - 1);
    return colon && ids_server_name_valid(colon + 1, len - (size_t)(colon + 1 - s));
}

/* v12 room IDs: "!" + the create event's reference hash in URL-safe unpadded base64. */
static bool hash_room_id_ok(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) != 1 + HASH_ID_CHARS || s[0] != '!')
        return false;
    return strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           HASH_ID_CHARS;
}

/* prev_events / auth_events: at most `max` entries; v1/v2 entries are [event_id, hashes]
 * pairs, later ones bare event IDs. */
static int refs_ok(const json_t *arr, const struct room_version *rv, size_t max)
{
    size_t i;
    const json_t *e;
    if (json_array_size(arr) > max)
        return -1;
    json_array_foreach(arr, i, e)
    {
        if (rv->event_ids == ROOMVER_EVID_V1) {
            if (json_array_size(e) != 2 || !domain_id_ok(json_array_get(e, 0), '$') ||
                !json_is_object(json_array_get(e, 1)))
                return -1;
        } else {
            const char *id = json_string_value(e);
            if (!str_ok(e, EVENT_MAX_ID_BYTES) || id[0] != '$')
                return -1;
        }
    }
    return 0;
}

/* signatures: { server: { key_id: signature } }, all strings. */
static bool signatures_ok(const json_t *sigs)
{
    const char *srv, *kid;
    json_t *per, *sig;
    json_object_foreach((json_t *)sigs, srv, per)
    {
        if (!json_is_object(per))
            return false;
        json_object_foreach(per, kid, sig)
        {
            if (!json_is_string(sig))
                return false;
        }
    }
    return true;
}

/* Bytes of `pdu` in its version's encoding (event_encoder). Returns 0 or -1. */
static int encoded_size(const json_t *pdu, const struct room_version *rv, size_t *len)
{
    char *text = event_encoder(rv)(pdu, len);
    free(text);
    return text ? 0 : -1;
}

int event_check_format(const json_t *pdu, const struct room_version *rv, char *why, size_t n)
{
    if (!json_is_object(pdu))
        return fail(why, n, "%s", "event is not an object");

    /* keys and types (PDU schema of the room version, "Event format") */
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        json_t *v = json_object_get(pdu, required[i].key);
        if (!v || json_typeof(v) != required[i].type)
            return fail(why, n, "'%s' missing or of the wrong type", required[i].key);
    }
    if (!json_is_string(json_object_get(json_object_get(pdu, "hashes"), "sha256")))
        return fail(why, n, "%s", "hashes.sha256 missing or not a string");
    if (!signatures_ok(json_object_get(pdu, "signatures")))
        return fail(why, n, "%s", "signatures is not an object of objects of strings");
    json_t *uns = json_object_get(pdu, "unsigned");
    if (uns && !json_is_object(uns))
        return fail(why, n, "%s", "unsigned is not an object");
    json_t *sk = json_object_get(pdu, "state_key");
    if (sk && !json_is_string(sk))
        return fail(why, n, "%s", "state_key is not a string");
    json_t *redacts = json_object_get(pdu, "redacts");
    if (!rv->redacts_in_content && redacts && !json_is_string(redacts))
        return fail(why, n, "%s", "redacts is not a string");

    /* room_id: "!opaque:domain" until v11; from v12 the create event's hash, and the create
     * event itself has none (its ID names the room) */
    json_t *room = json_object_get(pdu, "room_id");
    if (rv->room_id_from_create && is_create_event(pdu)) {
        if (room)
            return fail(why, n, "%s", "a version 12 create event has no room_id");
    } else if (rv->room_id_from_create ? !hash_room_id_ok(room) : !domain_id_ok(room, '!')) {
        return fail(why, n, "%s", "room_id missing, malformed or over 255 bytes");
    }

    /* event_id: carried by v1/v2 events ("$opaque:domain"), computed from v3 on */
    json_t *eid = json_object_get(pdu, "event_id");
    if (rv->event_ids == ROOMVER_EVID_V1 && !domain_id_ok(eid, '$'))
        return fail(why, n, "%s", "event_id missing, malformed or over 255 bytes");
    if (rv->event_ids != ROOMVER_EVID_V1 && eid)
        return fail(why, n, "%s", "event_id is not part of events in this room version");

    if (refs_ok(json_object_get(pdu, "prev_events"), rv, MAX_PREV_EVENTS) < 0)
        return fail(why, n, "%s", "prev_events malformed or over 20 entries");
    if (refs_ok(json_object_get(pdu, "auth_events"), rv, MAX_AUTH_EVENTS) < 0)
        return fail(why, n, "%s", "auth_events malformed or over 10 entries");

    /* size limits per key ("Size limits"; identifier grammar for sender) */
    if (!domain_id_ok(json_object_get(pdu, "sender"), '@'))
        return fail(why, n, "%s", "sender is not a user ID of at most 255 bytes");
    if (!str_ok(json_object_get(pdu, "type"), EVENT_MAX_ID_BYTES))
        return fail(why, n, "%s", "type over 255 bytes");
    if (sk && !str_ok(sk, EVENT_MAX_ID_BYTES))
        return fail(why, n, "%s", "state_key over 255 bytes");

    /* depth: below 2^63 - 1 (jansson's range) until v5, 2^53 - 1 from v6 */
    json_int_t depth = json_integer_value(json_object_get(pdu, "depth"));
    if (depth < 0 || (rv->strict_canonical_json && depth > MAX_SAFE_INT))
        return fail(why, n, "%s", "depth out of range");

    /* v6+: "Servers MUST strictly enforce the JSON format" (integers in range, no floats) */
    if (rv->strict_canonical_json && !cjson_strict(pdu))
        return fail(why, n, "%s", "event holds a non-integer or out-of-range number");

    /* the whole event, signatures included, as canonical JSON */
    size_t len = 0;
    if (encoded_size(pdu, rv, &len) < 0)
        return fail(why, n, "%s", "event cannot be encoded");
    if (len > EVENT_MAX_BYTES)
        return fail(why, n, "%s", "event larger than 65536 bytes");
    return 0;
}
