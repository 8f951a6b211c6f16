/* pdu.c - steps 1-3 of the checks on a received PDU (Server-Server API "Checks performed on
 * receipt of a PDU"; "Validating hashes and signatures on received events"; room version pages,
 * "Event format" and "Signing key validity period").
 *
 *   1. the event format of its room version, with the size limits: else dropped;
 *   2. signatures: the event is redacted and checked for a signature of every required
 *      server (pdu_required_signers); signatures by keys this server cannot find, or by keys
 *      that expired before origin_server_ts (v5+), are skipped, but each required server
 *      needs at least one valid one, and a known key's signature must verify: else dropped;
 *   3. the content hash: on mismatch the event goes on as its redacted copy.
 *
 * Third-party invites are not special-cased (their sender's server signs them like any other
 * event here). Keys are looked up before any room lock is taken (the lookup may wait on the
 * network). */
#include "server/pdu.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/event.h"
#include "server/ids.h"
#include "server/keyring.h"

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void add_signer(const char **out, size_t max, size_t *n, const char *server)
{
    if (!server)
        return;
    for (size_t i = 0; i < *n && i < max; i++)
        if (strcmp(out[i], server) == 0)
            return;
    if (*n < max)
        out[*n] = server;
    (*n)++;
}

size_t pdu_required_signers(const struct room_version *rv, const json_t *pdu, const char **out,
                            size_t max)
{
    size_t n = 0;
    add_signer(out, max, &n, ids_server_of(str(pdu, "sender")));
    if (rv->event_ids == ROOMVER_EVID_V1)
        add_signer(out, max, &n, ids_server_of(str(pdu, "event_id")));
    const json_t *c = json_object_get(pdu, "content");
    const char *via = str(c, "join_authorised_via_users_server");
    const char *type = str(pdu, "type"), *m = str(c, "membership");
    if (rv->restricted && via && type && m && strcmp(type, "m.room.member") == 0 &&
        strcmp(m, "join") == 0)
        add_signer(out, max, &n, ids_server_of(via));
    return n;
}

/* 1 valid, 0 no usable signature, -1 a known key's signature is wrong, -2 a lookup failed. */
static int check_signer(const struct room_version *rv, const json_t *pdu, const char *server)
{
    const json_t *sigs = json_object_get(json_object_get(pdu, "signatures"), server);
    int64_t min_ts = rv->enforce_key_validity
                         ? (int64_t)json_integer_value(json_object_get(pdu, "origin_server_ts"))
                         : 0;
    int good = 0;
    const char *key_id;
    json_t *sig;
    json_object_foreach((json_t *)sigs, key_id, sig)
    {
        uint8_t pk[32];
        if (strncmp(key_id, "ed25519:", 8) != 0)
            continue; /* other algorithms are not understood: skipped */
        int found = keyring_lookup(server, key_id, min_ts, pk);
        if (found < 0)
            return -2;
        if (found == 0)
            continue;
        if (event_verify(pdu, rv, server, key_id, pk) != 0)
            return -1;
        good = 1;
    }
    return good;
}

int pdu_signed_by(const struct room_version *rv, const json_t *pdu, const char *server_name)
{
    return server_name && check_signer(rv, pdu, server_name) == 1;
}

enum pdu_verdict pdu_check(const struct room_version *rv, const json_t *pdu, json_t **checked,
                           char **event_id, char *why, size_t n)
{
    char reason[200];
    *checked = NULL;
    *event_id = NULL;
    /* 1. format */
    if (event_check_format(pdu, rv, reason, sizeof reason) < 0) {
        snprintf(why, n, "invalid event: %s", reason);
        return PDU_DROP;
    }
    /* 2. signatures */
    const char *signers[4];
    size_t ns = pdu_required_signers(rv, pdu, signers, 4);
    if (ns == 0 || ns > 4) {
        snprintf(why, n, "cannot tell which servers must sign the event");
        return PDU_DROP;
    }
    for (size_t i = 0; i < ns; i++) {
        int rc = check_signer(rv, pdu, signers[i]);
        if (rc == -2) {
            snprintf(why, n, "signing keys of %s cannot be fetched now", signers[i]);
            return PDU_RETRY;
        }
        if (rc != 1) {
            snprintf(why, n, rc < 0 ? "bad signature of %s" : "no signature of %s by a known key",
                     signers[i]);
            return PDU_DROP;
        }
    }
    char *id = event_compute_id(pdu, rv);
    if (!id) {
        snprintf(why, n, "cannot compute the event ID");
        return PDU_DROP;
    }
    /* 3. content hash: on mismatch go on with the redacted copy */
    bool hash_ok = event_content_hash_ok(pdu) == 1;
    json_t *copy = hash_ok ? json_deep_copy(pdu) : event_redact(pdu, rv);
    if (!copy) {
        free(id);
        snprintf(why, n, "out of memory");
        return PDU_RETRY;
    }
    json_object_del(copy, "unsigned"); /* what the sender's server says about it, not ours */
    json_object_set_new(copy, "event_id", json_string(id));
    *checked = copy;
    *event_id = id;
    return hash_ok ? PDU_VALID : PDU_REDACTED;
}
