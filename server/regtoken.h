/* regtoken.h - registration tokens and shared-secret registration nonces, for the
 * registration endpoints and Synapse's admin API. Each call takes its own connection.
 * Token objects are {token, uses_allowed, pending, completed, expiry_time} (new references);
 * uses_allowed / expiry_time < 0 mean null (unlimited / never). */
#ifndef AMTSBOTE_REGTOKEN_H
#define AMTSBOTE_REGTOKEN_H
#include <jansson.h>
#include <stdint.h>

/* 1 if the token can be used now, 0 if not, -1 on error. */
int regtoken_valid(const char *token);
/* 0 and *out, 1 if it exists, -1. */
int regtoken_create(const char *token, int64_t uses_allowed, int64_t expiry_time, json_t **out);
/* All (valid < 0), valid (1) or invalid (0) tokens; NULL on error. */
json_t *regtoken_list(int valid);
/* 1 and *out, 0 if absent, -1. */
int regtoken_get(const char *token, json_t **out);
int regtoken_update(const char *token, int set_uses, int64_t uses_allowed, int set_expiry,
                    int64_t expiry_time, json_t **out);
/* 1 deleted, 0 absent, -1. */
int regtoken_delete(const char *token);

/* Issue a single-use nonce valid for REGTOKEN_NONCE_TTL_MS into out[33] (Synapse's 60 s),
 * unless REGTOKEN_NONCES_MAX unexpired ones are outstanding (each is a database row, and the
 * endpoint needs no authentication). 1 issued, 0 too many, -1 on error. */
#define REGTOKEN_NONCE_TTL_MS 60000
#define REGTOKEN_NONCES_MAX 1000
int regtoken_nonce_new(char out[33]);
/* 1 if the nonce was issued here within its lifetime (and is now spent), 0 if not, -1. */
int regtoken_nonce_take(const char *nonce);

/* Shared-secret registration MAC check (Synapse's /_synapse/admin/v1/register): the hex
 * HMAC-SHA1, keyed with `secret`, of nonce NUL username NUL password NUL "admin"|"notadmin"
 * [NUL user_type]. Returns 1 when `mac_hex` matches (compared in constant time), else 0. */
int regtoken_mac_ok(const char *secret, const char *nonce, const char *username,
                    const char *password, int admin, const char *user_type, const char *mac_hex);
/* The same MAC as a 40-char lower-case hex string into out[41] (the register-user command
 * computes it). Returns 0 or -1. */
int regtoken_mac(const char *secret, const char *nonce, const char *username,
                 const char *password, int admin, const char *user_type, char out[41]);

#endif
