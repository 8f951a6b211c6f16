/* sign.h - ed25519 signing keys and signed JSON (spec appendix "Signing JSON"). */
#ifndef AMTSBOTE_SIGN_H
#define AMTSBOTE_SIGN_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cjson.h"

struct sign_key {
    char key_id[64];  /* "ed25519:a_AbCd" */
    uint8_t seed[32]; /* secret seed, the thing stored on disk */
    uint8_t pk[32];   /* public key */
    uint8_t sk[64];   /* libsodium secret key (seed || pk) */
};

/* Generate a fresh key with a random version "a_XXXX" (4 chars of [a-zA-Z0-9]).
 * Returns 0, or -1 if libsodium is not initialised. */
int sign_key_generate(struct sign_key *k);
/* Derive pk/sk from k->seed (key_id untouched). */
void sign_key_from_seed(struct sign_key *k);
/* Read a Synapse-format key file: one line "ed25519 <version> <unpadded base64 seed>"; the
 * first ed25519 line is used. Returns 0, or -1 with a message in err. */
int sign_key_load(const char *path, struct sign_key *k, char *err, size_t errlen);
/* Write the key in that format, file mode 0600, created atomically (temp + rename).
 * Returns 0, or -1 with a message in err. */
int sign_key_save(const char *path, const struct sign_key *k, char *err, size_t errlen);
/* Unpadded base64 of the public key; malloc'd, caller frees. */
char *sign_key_public_b64(const struct sign_key *k);

/* Sign `obj` (an object, modified in place) as `entity` (a server name): remove `signatures`
 * and `unsigned`, sign the canonical JSON, then put back `unsigned` and the old signatures with
 * signatures[entity][key_id] added. Returns 0, or -1 if obj is not canonicalisable. */
int sign_json(json_t *obj, const char *entity, const struct sign_key *k);

/* Verify the signature signatures[entity][key_id] on `obj` (borrowed, unchanged) with the
 * ed25519 public key `pk`. Returns 0 when valid, -1 when missing, malformed or wrong. */
int sign_verify_json(const json_t *obj, const char *entity, const char *key_id,
                     const uint8_t pk[32]);

/* The same with another encoder (server/cjson.h): cjson_encode_compat for events of room
 * versions 1-5. */
int sign_json_enc(json_t *obj, const char *entity, const struct sign_key *k, cjson_encoder enc);
int sign_verify_json_enc(const json_t *obj, const char *entity, const char *key_id,
                         const uint8_t pk[32], cjson_encoder enc);

/* Raw detached ed25519 over bytes; returns malloc'd unpadded base64 signature. */
char *sign_bytes_b64(const struct sign_key *k, const uint8_t *msg, size_t len);

#endif
