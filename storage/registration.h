/* registration.h - registration tokens (Synapse admin API semantics) and the single-use
 * nonces of shared-secret registration. */
#ifndef AMTSBOTE_STORAGE_REGISTRATION_H
#define AMTSBOTE_STORAGE_REGISTRATION_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* A token as Synapse's admin API shows it: {token, uses_allowed, pending, completed,
 * expiry_time} with nulls for "unlimited"/"never". uses_allowed < 0 and expiry_time < 0 below
 * mean NULL. */

/* Returns 0 and sets *out (new object), 1 if the token exists, -1. */
int db_regtokens_create(struct dbc *c, const char *token, int64_t uses_allowed,
                        int64_t expiry_time, json_t **out);
/* Returns 1 and sets *out, 0 if absent, -1. */
int db_regtokens_get(struct dbc *c, const char *token, json_t **out);
/* All tokens (valid < 0), only valid ones (1) or only invalid ones (0) at now_ms, as a new
 * JSON array; NULL on error. */
json_t *db_regtokens_list(struct dbc *c, int valid, int64_t now_ms);
/* Update the fields flagged; returns 1 with *out, 0 if absent, -1. */
int db_regtokens_update(struct dbc *c, const char *token, int set_uses, int64_t uses_allowed,
                        int set_expiry, int64_t expiry_time, json_t **out);
/* Returns 1, 0 if absent, -1. */
int db_regtokens_delete(struct dbc *c, const char *token);
/* 1 if the token can still be used at now_ms (exists, not expired, pending + completed below
 * uses_allowed), 0 if not, -1 on error. */
int db_regtokens_valid(struct dbc *c, const char *token, int64_t now_ms);
/* Atomically reserve one use (pending + 1) if still valid. Returns 1, 0 if not valid, -1. */
int db_regtokens_reserve(struct dbc *c, const char *token, int64_t now_ms);
/* Turn a reserved use into a completed one. Returns 0 or -1. */
int db_regtokens_complete(struct dbc *c, const char *token);

/* Give back a reserved use that did not lead to an account. Returns 0 or -1. */
int db_regtokens_release(struct dbc *c, const char *token);

/* Store a fresh nonce, purging those issued before `min_ts`, unless `max` unexpired ones are
 * outstanding. Returns 1 stored, 0 refused (too many), -1 on error. */
int db_nonces_create(struct dbc *c, const char *nonce, int64_t now_ms, int64_t min_ts,
                     int64_t max);
/* Consume a nonce issued at or after `min_ts`: 1 if it was there (now gone), 0 if unknown or
 * stale, -1 on error. Older nonces are purged on the way. */
int db_nonces_take(struct dbc *c, const char *nonce, int64_t min_ts);

#endif
