/* event.h - PDUs as the room engine and federation both see them (spec: Server-Server API
 * "PDUs", "Checks performed on receipt of a PDU", "Calculating the reference hash",
 * "Calculating the content hash", "Redactions"; room version pages for the per-version
 * rules). Pure functions over jansson trees: no I/O. */
#ifndef AMTSBOTE_EVENT_H
#define AMTSBOTE_EVENT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cjson.h"
#include "server/roomver.h"
#include "server/sign.h"

#define EVENT_MAX_BYTES 65536 /* whole PDU, canonical JSON */
#define EVENT_MAX_ID_BYTES 255 /* sender, room_id, event_id, type, state_key */

/* Check the format rules for `pdu` under `rv`: required keys and their JSON types (room_id,
 * sender, type, content, depth, prev_events, auth_events, origin_server_ts, hashes ...),
 * event_id present only in v1/v2, size limits (whole event <= 65536 bytes in canonical form;
 * sender/room_id/type/state_key/event_id <= 255 bytes), sender and room_id grammar, and for
 * strict_canonical_json versions that the event is canonicalisable (integers in range, no
 * floats). Returns 0, or -1 with a reason in why. */
int event_check_format(const json_t *pdu, const struct room_version *rv, char *why, size_t n);

/* Content hash (spec "Calculating the content hash for an event"): SHA-256 of the canonical
 * JSON of the PDU without "unsigned", "signatures" and "hashes". Returns 0 or -1. */
int event_content_hash(const json_t *pdu, uint8_t out[32]);
/* Set pdu.hashes.sha256 to the unpadded base64 of the content hash. Returns 0 or -1. */
int event_set_content_hash(json_t *pdu);
/* 1 if pdu.hashes.sha256 is present and matches, else 0. */
int event_content_hash_ok(const json_t *pdu);

/* A redacted copy of `pdu` under rv's redaction algorithm (new reference; NULL on OOM). The
 * result keeps hashes and signatures, so it still verifies. */
json_t *event_redact(const json_t *pdu, const struct room_version *rv);

/* Reference hash: SHA-256 of the canonical JSON of the redacted PDU without "signatures",
 * "unsigned" (and "age_ts"). Returns 0 or -1. */
int event_reference_hash(const json_t *pdu, const struct room_version *rv, uint8_t out[32]);
/* The event ID: for v3+ "$" + base64 of the reference hash (URL-safe from v4); for v1/v2 a
 * copy of pdu.event_id. malloc'd; NULL on error. */
char *event_compute_id(const json_t *pdu, const struct room_version *rv);
/* v12+: the room ID a create event defines, "!" + URL-safe base64 of its reference hash.
 * malloc'd; NULL on error. */
char *event_room_id_from_create(const json_t *create, const struct room_version *rv);

/* Sign as `server_name`: the signature covers the redacted event (spec "Signing events") and
 * is added to pdu.signatures. The content hash must already be set. Returns 0 or -1. */
int event_sign(json_t *pdu, const struct room_version *rv, const char *server_name,
               const struct sign_key *k);
/* Verify pdu.signatures[server_name][key_id] with `pk`, over the redacted event.
 * Returns 0 if valid, -1 if not. */
int event_verify(const json_t *pdu, const struct room_version *rv, const char *server_name,
                 const char *key_id, const uint8_t pk[32]);

/* The encoding a room version's events are hashed and signed in: canonical JSON for v6+,
 * cjson_encode_compat for v1-5 (whose events may hold floats and integers beyond 2^53). */
cjson_encoder event_encoder(const struct room_version *rv);

/* Accessors returning borrowed strings (NULL when absent or not a string). */
const char *event_type(const json_t *pdu);
const char *event_sender(const json_t *pdu);
const char *event_room_id(const json_t *pdu);
const char *event_state_key(const json_t *pdu); /* NULL: not a state event */
/* The event an m.room.redaction redacts (content.redacts from v11, top-level before). */
const char *event_redacts(const json_t *pdu, const struct room_version *rv);

#endif
