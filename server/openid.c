/* openid.c - OpenID tokens (Client-Server API "OpenID": POST /user/{userId}/openid/request_token;
 * checked by the Server-Server API's /openid/userinfo). A token is 32 random bytes in URL-safe
 * base64; only its SHA-256 is stored, so a database leak hands out no identities. */
#include "server/openid.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/clock.h"
#include "storage/openid.h"

static void hash_of(const char *token, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

char *openid_issue(const char *user_id)
{
    uint8_t raw[32], h[32];
    randombytes_buf(raw, sizeof raw);
    char *token = b64_encode_urlsafe(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    if (!token)
        return NULL;
    hash_of(token, h);
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    int rc = c ? db_openid_insert(c, h, user_id, now + OPENID_LIFETIME_MS, now) : -1;
    db_put(c);
    if (rc < 0) {
        free(token);
        return NULL;
    }
    return token;
}

char *openid_user(const char *token, int *err)
{
    *err = 0;
    if (!token || !*token || strlen(token) > 128)
        return NULL;
    uint8_t h[32];
    hash_of(token, h);
    char *user = NULL;
    struct dbc *c = db_get();
    if (!c || db_openid_lookup(c, h, clock_now_ms(), &user) < 0)
        *err = 1;
    db_put(c);
    return user;
}
