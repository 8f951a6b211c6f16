/* openid.c - SQL for OpenID tokens (migration 0008): stored as SHA-256 hashes, expired ones
 * deleted whenever a new one is issued. */
#include "storage/openid.h"

#include "storage/db_internal.h"

static const char *hex_of(char out[65], const uint8_t hash[32])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[hash[i] >> 4];
        out[2 * i + 1] = digits[hash[i] & 15];
    }
    out[64] = '\0';
    return out;
}

int db_openid_insert(struct dbc *c, const uint8_t hash[32], const char *user_id, int64_t expires_ts,
                     int64_t now_ms)
{
    char h[65], e[24], n[24];
    const char *p[] = {hex_of(h, hash), user_id, db_i64(e, expires_ts), db_i64(n, now_ms)};
    return db_run(c,
                  "WITH gone AS (DELETE FROM openid_tokens WHERE expires_ts < $4) "
                  "INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES "
                  "(decode($1, 'hex'), $2, $3)",
                  4, p);
}

int db_openid_lookup(struct dbc *c, const uint8_t hash[32], int64_t now_ms, char **user_id)
{
    char h[65], n[24];
    const char *p[] = {hex_of(h, hash), db_i64(n, now_ms)};
    return db_string(db_exec(c,
                             "SELECT user_id FROM openid_tokens WHERE token_hash = "
                             "decode($1, 'hex') AND expires_ts >= $2",
                             2, p),
                     user_id);
}
