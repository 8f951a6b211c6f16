/* pdu.h - the first checks on a PDU received from another server (Server-Server API "Checks
 * performed on receipt of a PDU", steps 1-3; "Validating hashes and signatures on received
 * events"): format, signatures, content hash. No database: keys come from server/keyring.h,
 * which the tests feed with a fake fetcher. The later steps (auth events, state before,
 * current state) are the room engine's (server/room_receive.c). */
#ifndef AMTSBOTE_PDU_H
#define AMTSBOTE_PDU_H
#include <jansson.h>
#include <stddef.h>

#include "server/roomver.h"

enum pdu_verdict {
    PDU_VALID,    /* format, signatures and content hash are right */
    PDU_REDACTED, /* valid and signed, but the content hash does not match: use the redacted
                     copy (step 3) */
    PDU_DROP,     /* step 1 or 2 failed: the event is dropped, not stored */
    PDU_RETRY,    /* a signing key could not be fetched now: ask again later */
};

/* The servers whose signatures `pdu` needs (borrowed strings, at most `max`; returns how many
 * there are): the sender's server; in v1/v2 also the server of the event ID; for a join
 * authorised through join_authorised_via_users_server (v8+ restricted rooms) the authorising
 * user's server, whose signature auth rule 4.3.5 / v12 5.3.5 asks for. Duplicates removed. */
size_t pdu_required_signers(const struct room_version *rv, const json_t *pdu, const char **out,
                            size_t max);

/* Steps 1-3 for `pdu` (borrowed) under rv: the format of the room version (sizes included);
 * for each required signer at least one signature by a key keyring_lookup knows (valid at
 * origin_server_ts from v5), and every signature of a known key valid (unknown or expired
 * keys are skipped); the content hash. On PDU_VALID *checked is a copy of the PDU, on
 * PDU_REDACTED the redacted copy; either way with "event_id" set (new reference) and
 * *event_id malloc'd. On PDU_DROP / PDU_RETRY nothing is set and why says what failed. */
enum pdu_verdict pdu_check(const struct room_version *rv, const json_t *pdu, json_t **checked,
                           char **event_id, char *why, size_t n);

/* Does `pdu` carry a valid signature of `server_name` by a key keyring_lookup knows? 1 or 0.
 * (auth_ops.signed_by for received events.) */
int pdu_signed_by(const struct room_version *rv, const json_t *pdu, const char *server_name);

#endif
