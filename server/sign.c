/* sign.c - ed25519 signing keys and signed JSON (spec appendix "Signing JSON"; key files in
 * Synapse's format so keys can move between servers).
 *
 * Signing: remove "signatures" and "unsigned", encode the rest as canonical JSON, sign those
 * bytes with ed25519, then restore "unsigned" and add the signature under
 * signatures[entity][key_id] beside any existing ones. Verification reverses it without
 * touching the caller's object. */
#include "server/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/b64.h"
#include "server/cjson.h"

void sign_key_from_seed(struct sign_key *k)
{
    crypto_sign_seed_keypair(k->pk, k->sk, k->seed);
}

int sign_key_generate(struct sign_key *k)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char version[7] = "a_";
    if (sodium_init() < 0)
        return -1;
    for (int i = 2; i < 6; i++)
        version[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    version[6] = '\0';
    snprintf(k->key_id, sizeof k->key_id, "ed25519:%s", version);
    randombytes_buf(k->seed, sizeof k->seed);
    sign_key_from_seed(k);
    return 0;
}

int sign_key_load(const char *path, struct sign_key *k, char *err, size_t errlen)
{
    char line[512], alg[32], version[48], seed[128];
    int found = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%31s %47s %127s", alg, version, seed) != 3 ||
            strcmp(alg, "ed25519") != 0)
            continue;
        size_t n = 0;
        if (b64_decode(seed, strlen(seed), k->seed, sizeof k->seed, &n) < 0 ||
            n != sizeof k->seed) {
            snprintf(err, errlen, "the ed25519 seed is not 32 bytes of base64");
            sodium_memzero(line, sizeof line);
            sodium_memzero(seed, sizeof seed);
            fclose(f);
            return -1;
        }
        snprintf(k->key_id, sizeof k->key_id, "ed25519:%s", version);
        sign_key_from_seed(k);
        found = 1;
        break;
    }
    sodium_memzero(line, sizeof line);
    sodium_memzero(seed, sizeof seed);
    fclose(f);
    if (!found) {
        snprintf(err, errlen, "no line 'ed25519 <version> <seed>' in the key file");
        return -1;
    }
    return 0;
}

int sign_key_save(const char *path, const struct sign_key *k, char *err, size_t errlen)
{
    char tmp[4096];
    const char *version = strchr(k->key_id, ':');
    char *seed = b64_encode(k->seed, sizeof k->seed);
    int rc = -1, fd = -1;
    if (!seed || !version) {
        snprintf(err, errlen, "bad key");
        goto out;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "path too long");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        goto out;
    }
    char line[256];
    int n = snprintf(line, sizeof line, "ed25519 %s %s\n", version + 1, seed);
    if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        sodium_memzero(line, sizeof line);
        goto out;
    }
    sodium_memzero(line, sizeof line);
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (seed) {
        sodium_memzero(seed, strlen(seed));
        free(seed);
    }
    return rc;
}

char *sign_key_public_b64(const struct sign_key *k)
{
    return b64_encode(k->pk, sizeof k->pk);
}

char *sign_bytes_b64(const struct sign_key *k, const uint8_t *msg, size_t len)
{
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, msg, len, k->sk);
    return b64_encode(sig, sizeof sig);
}

int sign_json(json_t *obj, const char *entity, const struct sign_key *k)
{
    json_t *sigs, *unsig;
    size_t len;
    int rc = -1;

    if (!json_is_object(obj))
        return -1;
    sigs = json_incref(json_object_get(obj, "signatures"));
    unsig = json_incref(json_object_get(obj, "unsigned"));
    json_object_del(obj, "signatures");
    json_object_del(obj, "unsigned");
    char *text = cjson_encode(obj, &len);
    char *sig = text ? sign_bytes_b64(k, (const uint8_t *)text, len) : NULL;
    if (unsig)
        json_object_set(obj, "unsigned", unsig);
    if (!json_is_object(sigs)) {
        json_decref(sigs);
        sigs = json_object();
    }
    if (sig) {
        json_t *mine = json_object_get(sigs, entity);
        if (!json_is_object(mine)) {
            mine = json_object();
            json_object_set_new(sigs, entity, mine);
        }
        json_object_set_new(mine, k->key_id, json_string(sig));
        rc = 0;
    }
    if (json_object_size(sigs) || rc == 0)
        json_object_set(obj, "signatures", sigs);
    json_decref(sigs);
    json_decref(unsig);
    free(text);
    free(sig);
    return rc;
}

int sign_verify_json(const json_t *obj, const char *entity, const char *key_id,
                     const uint8_t pk[32])
{
    uint8_t sig[crypto_sign_BYTES + 3];
    size_t siglen = 0, len;
    int rc = -1;

    const char *b64 = json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "signatures"), entity), key_id));
    if (!b64 || b64_decode(b64, strlen(b64), sig, sizeof sig, &siglen) < 0 ||
        siglen != crypto_sign_BYTES)
        return -1;
    json_t *copy = json_copy((json_t *)obj); /* shallow: only top-level keys are removed */
    if (!copy)
        return -1;
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    char *text = cjson_encode(copy, &len);
    if (text && crypto_sign_verify_detached(sig, (const uint8_t *)text, len, pk) == 0)
        rc = 0;
    free(text);
    json_decref(copy);
    return rc;
}
