/* sign.c - ed25519 signing keys and signed JSON (spec appendix "Signing JSON"; key files in
 * Synapse's format so keys can move between servers).
 *
 * Signing ("Signing Details"): remove "signatures" and "unsigned", encode the rest as canonical
 * JSON, sign those bytes with ed25519, then restore "unsigned" and add the signature under
 * signatures[entity][key_id] beside any existing ones. Verification ("Checking for a
 * Signature", steps 4-7) works on a shallow copy and never touches the caller's object.
 * Invariants:
 *  1. A failed sign_json leaves the object as it was (signatures and unsigned put back).
 *  2. A key file is only ever replaced whole: written to a fresh mkstemp name (O_EXCL, 0600) in
 *     the same directory, fsync'd, then renamed over the old one.
 *  3. Secret material on the stack or heap (seed text, key lines) is wiped with
 *     sodium_memzero before release; error messages never contain it. */
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

/* Longest key version: what fits in struct sign_key's key_id after "ed25519:" and a NUL. */
#define SIGN_VERSION_MAX 55
_Static_assert(sizeof "ed25519:" + SIGN_VERSION_MAX <= sizeof((struct sign_key *)0)->key_id,
               "key_id holds ed25519:<version>");

/* 1 if `v` is a usable key version: 1 to SIGN_VERSION_MAX characters of [A-Za-z0-9_] (Synapse
 * writes "a_" and four alphanumerics), else 0. */
static int version_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > SIGN_VERSION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

int sign_key_load(const char *path, struct sign_key *k, char *err, size_t errlen)
{
    static const char ws[] = " \t\r\n";
    char line[512];
    uint8_t seed[sizeof k->seed + 3];
    size_t n = 0;
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    for (;;) {
        char *save = NULL, *alg, *version, *b64;
        if (!fgets(line, sizeof line, f)) {
            snprintf(err, errlen, "no line 'ed25519 <version> <seed>'");
            break;
        }
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "line too long");
            break;
        }
        alg = strtok_r(line, ws, &save);
        version = alg ? strtok_r(NULL, ws, &save) : NULL;
        b64 = version ? strtok_r(NULL, ws, &save) : NULL;
        if (!alg || strcmp(alg, "ed25519") != 0)
            continue;
        if (!b64 || strtok_r(NULL, ws, &save)) {
            snprintf(err, errlen, "want 'ed25519 <version> <seed>'");
            break;
        }
        if (!version_ok(version)) {
            snprintf(err, errlen, "the key version is not 1-55 of [A-Za-z0-9_]");
            break;
        }
        if (b64_decode(b64, strlen(b64), seed, sizeof seed, &n) < 0 || n != sizeof k->seed) {
            snprintf(err, errlen, "the ed25519 seed is not 32 bytes of base64");
            break;
        }
        snprintf(k->key_id, sizeof k->key_id, "ed25519:%s", version);
        memcpy(k->seed, seed, sizeof k->seed);
        sign_key_from_seed(k);
        rc = 0;
        break;
    }
    sodium_memzero(line, sizeof line);
    sodium_memzero(seed, sizeof seed);
    fclose(f);
    return rc;
}

/* Write all `n` bytes of `buf` to `fd`. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Best effort: make a rename in the directory holding `path` durable. */
static void sync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n == 0)
        n = 1; /* "/key": the root directory */
    if (n >= sizeof dir)
        return;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int sign_key_save(const char *path, const struct sign_key *k, char *err, size_t errlen)
{
    char tmp[4096], line[256];
    char *seed = NULL;
    int rc = -1, fd = -1, tmp_made = 0, closed, n;

    if (strncmp(k->key_id, "ed25519:", 8) != 0 || !version_ok(k->key_id + 8)) {
        snprintf(err, errlen, "key id is not ed25519:<version>");
        goto out;
    }
    seed = b64_encode(k->seed, sizeof k->seed);
    if (!seed) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "path too long");
        goto out;
    }
    /* mkstemp: a fresh name, O_EXCL (never follows a planted symlink), mode 0600. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "temporary file: %s", strerror(errno));
        goto out;
    }
    tmp_made = 1;
    n = snprintf(line, sizeof line, "ed25519 %s %s\n", k->key_id + 8, seed);
    if (n < 0 || (size_t)n >= sizeof line) {
        snprintf(err, errlen, "key line too long");
        goto out;
    }
    if (fchmod(fd, 0600) < 0 || write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "temporary file: %s", strerror(errno));
        goto out;
    }
    closed = close(fd);
    fd = -1;
    if (closed < 0) {
        snprintf(err, errlen, "temporary file: %s", strerror(errno));
        goto out;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "rename: %s", strerror(errno));
        goto out;
    }
    tmp_made = 0;
    sync_parent_dir(path);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlink(tmp);
    sodium_memzero(line, sizeof line);
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
    return sign_json_enc(obj, entity, k, cjson_encode);
}

int sign_json_enc(json_t *obj, const char *entity, const struct sign_key *k, cjson_encoder enc)
{
    json_t *sigs, *unsig, *mine;
    char *text = NULL, *sig = NULL;
    size_t len;
    int rc = -1;

    if (!json_is_object(obj))
        return -1;
    /* Own references (json_incref) so both survive their removal from obj. */
    sigs = json_incref(json_object_get(obj, "signatures"));
    unsig = json_incref(json_object_get(obj, "unsigned"));
    json_object_del(obj, "signatures");
    json_object_del(obj, "unsigned");
    text = enc(obj, &len);
    sig = text ? sign_bytes_b64(k, (const uint8_t *)text, len) : NULL;
    if (sig) {
        if (!json_is_object(sigs)) { /* absent, or not an object: start afresh */
            json_decref(sigs);
            sigs = json_object();
        }
        mine = json_object_get(sigs, entity); /* borrowed */
        if (sigs && !json_is_object(mine)) {
            mine = json_object();
            if (json_object_set_new(sigs, entity, mine) < 0) /* steals mine, even on failure */
                mine = NULL;
        }
        if (mine && json_object_set_new(mine, k->key_id, json_string(sig)) == 0)
            rc = 0;
    }
    /* Put back what was removed; on failure `sigs` is still the caller's original value. */
    if (sigs && json_object_set(obj, "signatures", sigs) < 0)
        rc = -1;
    if (unsig && json_object_set(obj, "unsigned", unsig) < 0)
        rc = -1;
    json_decref(sigs);
    json_decref(unsig);
    free(text);
    free(sig);
    return rc;
}

int sign_verify_json(const json_t *obj, const char *entity, const char *key_id,
                     const uint8_t pk[32])
{
    return sign_verify_json_enc(obj, entity, key_id, pk, cjson_encode);
}

int sign_verify_json_enc(const json_t *obj, const char *entity, const char *key_id,
                         const uint8_t pk[32], cjson_encoder enc)
{
    uint8_t sig[crypto_sign_BYTES + 3];
    size_t siglen = 0, len;
    int rc = -1;

    if (!json_is_object(obj))
        return -1;
    json_t *b64 =
        json_object_get(json_object_get(json_object_get(obj, "signatures"), entity), key_id);
    /* json_string_length, not strlen: "sig\u0000junk" must not pass as "sig". */
    if (!json_is_string(b64) ||
        b64_decode(json_string_value(b64), json_string_length(b64), sig, sizeof sig, &siglen) < 0 ||
        siglen != crypto_sign_BYTES)
        return -1;
    json_t *copy = json_copy((json_t *)obj); /* shallow: only top-level keys are removed */
    if (!copy)
        return -1;
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    char *text = enc(copy, &len);
    if (text && crypto_sign_verify_detached(sig, (const uint8_t *)text, len, pk) == 0)
        rc = 0;
    free(text);
    json_decref(copy);
    return rc;
}
