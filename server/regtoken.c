/* regtoken.c - registration tokens and shared-secret registration nonces: the service calls
 * behind /register's token stage, the validity endpoint and Synapse's admin API. Validity
 * rules live in storage/registration.c (one SQL predicate); this file lends connections. */
#include "server/regtoken.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/ids.h"
#include "storage/registration.h"

#define WITH_DB(expr, fail)                                                                        \
    struct dbc *c = db_get();                                                                      \
    if (!c)                                                                                        \
        return fail;                                                                               \
    __typeof__(expr) r_ = (expr);                                                                  \
    db_put(c);                                                                                     \
    return r_

int regtoken_valid(const char *token)
{
    WITH_DB(db_regtokens_valid(c, token, clock_now_ms()), -1);
}

int regtoken_create(const char *token, int64_t uses_allowed, int64_t expiry_time, json_t **out)
{
    WITH_DB(db_regtokens_create(c, token, uses_allowed, expiry_time, out), -1);
}

json_t *regtoken_list(int valid)
{
    WITH_DB(db_regtokens_list(c, valid, clock_now_ms()), NULL);
}

int regtoken_get(const char *token, json_t **out)
{
    WITH_DB(db_regtokens_get(c, token, out), -1);
}

int regtoken_update(const char *token, int set_uses, int64_t uses_allowed, int set_expiry,
                    int64_t expiry_time, json_t **out)
{
    WITH_DB(db_regtokens_update(c, token, set_uses, uses_allowed, set_expiry, expiry_time, out),
            -1);
}

int regtoken_delete(const char *token)
{
    WITH_DB(db_regtokens_delete(c, token), -1);
}

int regtoken_nonce_new(char out[33])
{
    ids_random_alnum(out, 32);
    int64_t now = clock_now_ms();
    WITH_DB(db_nonces_create(c, out, now, now - REGTOKEN_NONCE_TTL_MS, REGTOKEN_NONCES_MAX), -1);
}

int regtoken_nonce_take(const char *nonce)
{
    WITH_DB(db_nonces_take(c, nonce, clock_now_ms() - REGTOKEN_NONCE_TTL_MS), -1);
}

int regtoken_mac(const char *secret, const char *nonce, const char *username,
                 const char *password, int admin, const char *user_type, char out[41])
{
    /* HMAC-SHA1 comes from OpenSSL's libcrypto: libsodium has no SHA-1, and Synapse's
     * protocol fixes the algorithm. */
    const char *parts[] = {nonce, username, password, admin ? "admin" : "notadmin", user_type};
    size_t n_parts = user_type ? 5 : 4, len = 0;
    for (size_t i = 0; i < n_parts; i++)
        len += strlen(parts[i]) + 1;
    unsigned char *msg = malloc(len), md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!msg)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n_parts; i++) {
        size_t n = strlen(parts[i]);
        memcpy(msg + o, parts[i], n);
        o += n;
        if (i + 1 < n_parts)
            msg[o++] = '\0';
    }
    unsigned char *r = HMAC(EVP_sha1(), secret, (int)strlen(secret), msg, o, md, &md_len);
    free(msg);
    if (!r || md_len != 20)
        return -1;
    sodium_bin2hex(out, 41, md, md_len);
    return 0;
}

int regtoken_mac_ok(const char *secret, const char *nonce, const char *username,
                    const char *password, int admin, const char *user_type, const char *mac_hex)
{
    char want[41];
    if (regtoken_mac(secret, nonce, username, password, admin, user_type, want) < 0)
        return 0;
    if (strlen(mac_hex) != 40)
        return 0;
    char got[41];
    for (int i = 0; i < 40; i++)
        got[i] = (char)tolower((unsigned char)mac_hex[i]);
    got[40] = '\0';
    return sodium_memcmp(want, got, 40) == 0;
}
