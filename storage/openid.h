/* openid.h - OpenID tokens (hashes only). */
#ifndef AMTSBOTE_STORAGE_OPENID_H
#define AMTSBOTE_STORAGE_OPENID_H
#include <stdint.h>

#include "storage/db.h"

/* Store a token hash for user_id until expires_ts, dropping expired tokens. 0 or -1. */
int db_openid_insert(struct dbc *c, const uint8_t hash[32], const char *user_id,
                     int64_t expires_ts, int64_t now_ms);
/* The user of an unexpired token hash into *user_id (malloc'd; NULL when none). 0 or -1. */
int db_openid_lookup(struct dbc *c, const uint8_t hash[32], int64_t now_ms, char **user_id);

#endif
