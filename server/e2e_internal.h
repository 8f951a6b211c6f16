/* e2e_internal.h - what server/e2e.c, crosssign.c and dehydrated.c share: errors, user IDs,
 * signature checks and device-list change records. Not for other files. */
#ifndef AMTSBOTE_E2E_INTERNAL_H
#define AMTSBOTE_E2E_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/e2e.h"
#include "server/notify.h"
#include "storage/db.h"

#define MAX_ID 255           /* user, device, key IDs and event types */
#define MAX_UPLOAD_KEYS 1000 /* one-time keys in one upload */
#define MAX_CLAIMS 10000     /* devices in one claim */
#define MAX_TO_DEVICE 10000  /* recipient devices of one sendToDevice */

/* Fill *e (status, errcode, printf-style message). */
void e2e_fail(struct e2e_error *e, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 500 M_UNKNOWN. */
void e2e_fail_internal(struct e2e_error *e);
/* The server part of a user ID (borrowed), or NULL when it is not one. */
const char *e2e_server_of(const char *user_id);
/* Whether a user ID belongs to this server. */
bool e2e_is_local(const char *user_id);
/* Canonical JSON of `v` without `signatures` and `unsigned` (malloc'd), or NULL. */
char *e2e_signed_part(const json_t *v);
/* Whether a and b are the same key apart from their signatures. */
bool e2e_same_key(const json_t *a, const json_t *b);
/* Decode an unpadded base64 ed25519 public key. 0 or -1. */
int e2e_decode_pk(const char *b64, uint8_t pk[32]);
/* Whether signatures[signer_user][signer_key] on obj verifies with the base64 key `pub`. */
bool e2e_verified(const json_t *obj, const char *signer_user, const char *signer_key,
                  const char *pub);
/* Set signatures[signer_user][signer_key] = sig on obj (borrowed). */
void e2e_add_signature(json_t *obj, const char *signer_user, const char *signer_key,
                       const char *sig);
/* allow_device_name_lookup_over_federation (set by e2e_init). */
extern bool e2e_names_over_federation;
/* Record a change of user_id's keys that is not one device's (cross-signing keys, signatures
 * on them) under ticket t (taken before any stream position of the transaction) and touch
 * the user and every room they are in; for a local user the servers sharing a room get an
 * m.signing_key_update. 0 or -1. */
int e2e_record_change(struct dbc *c, struct notify_ticket *t, const char *user_id);
/* The same for a change only `only_for` may learn of (NULL: like e2e_record_change): their
 * own new user-signing key, or their signature on user_id's key; only they are touched. */
int e2e_record_change_for(struct dbc *c, struct notify_ticket *t, const char *user_id,
                          const char *only_for);
/* Record a change of the local user's device `device_id` (added, renamed, deleted, new keys
 * or signatures) in c's transaction under ticket t: its m.device_list_update, chained to the
 * user's previous one by prev_id, goes to the servers sharing a room. 0 or -1. */
int e2e_record_device_change(struct dbc *c, struct notify_ticket *t, const char *user_id,
                             const char *device_id);

/* Who reads keys, for what the answer may hold: user (may be NULL) sees the signatures made
 * by their own user-signing key and their own user_signing key; server (may be NULL) sees
 * signatures by its users (an answer over federation); names: device display names. */
struct e2e_viewer {
    const char *user, *server;
    bool names;
};
/* A /keys/query answer being built: objects owned by the struct (user_signing may be NULL). */
struct e2e_answer {
    json_t *device_keys, *master, *self, *user_signing;
};
void e2e_answer_clear(struct e2e_answer *a);
/* Add the keys of the local users in `local` ({user_id: [device_id...]}, [] = all; borrowed)
 * to *a as v may see them. 0, or -1 on a database error. */
int e2e_query_local(const struct e2e_viewer *v, const json_t *local, struct e2e_answer *a);
/* Check a claim's one_time_keys ({user: {device: algorithm}}): local rows {user_id,
 * device_id, algorithm} appended to want, remote users into remote ({server: {user: {...}}};
 * NULL: skipped). 0, or -1 with *err. */
int e2e_claim_parse(const json_t *one_time_keys, json_t *want, json_t *remote,
                    struct e2e_error *err);
/* Claim the keys of `want` into keys ({user: {device: {key_id: key}}}). 0 or -1. */
int e2e_claim_local(const json_t *want, json_t *keys);

/* Other servers' users (server/e2e_fed.c): `remote` is {server: {user_id: request}} as the
 * client asked; one request per server, all at once, each waiting at most timeout_ms; what
 * arrives is merged into *a / keys, and failures[server] says which servers did not answer. */
void e2e_remote_query(const json_t *remote, long timeout_ms, struct e2e_answer *a,
                      json_t *failures);
void e2e_remote_claim(const json_t *remote, long timeout_ms, json_t *keys, json_t *failures);

#endif
