/* voip.c - TURN credentials for VoIP calls (Client-Server API "Voice over IP",
 * GET /voip/turnServer). The server shares a secret with the TURN server (coturn's
 * static-auth-secret) and hands each user a username that expires and the HMAC of it as the
 * password; the TURN server checks both without asking us. HMAC-SHA1 comes from OpenSSL's
 * libcrypto (already linked for the shared-secret registration), because the TURN REST API
 * fixes SHA-1 and libsodium has none. */
#include "server/voip.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int voip_turn_credentials(const char *secret, const char *user_id, int64_t now_ms,
                          int64_t lifetime_ms, char **username, char **password)
{
    *username = *password = NULL;
    int64_t expiry = (now_ms + lifetime_ms) / 1000;
    size_t n = (size_t)snprintf(NULL, 0, "%" PRId64 ":%s", expiry, user_id) + 1;
    char *u = malloc(n);
    char *p = malloc(4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (!u || !p)
        goto fail;
    snprintf(u, n, "%" PRId64 ":%s", expiry, user_id);
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)u, strlen(u), md,
              &md_len))
        goto fail;
    EVP_EncodeBlock((unsigned char *)p, md, (int)md_len); /* padded, as coturn expects */
    *username = u;
    *password = p;
    return 0;
fail:
    free(u);
    free(p);
    return -1;
}
