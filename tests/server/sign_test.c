/* sign_test.c - signed JSON against the spec appendix's cryptographic test vectors ("JSON
 * Signing": seed YJDBA9Xn..., entity "domain", key "ed25519:1"), the "Signing Details" rules
 * (signatures and unsigned are not covered), verification failures, and key files in Synapse's
 * format ("ed25519 <version> <unpadded base64 seed>"). Base64 itself is in b64_test.c. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/b64.h"
#include "server/cjson.h"
#include "server/sign.h"
#include "tests/unit.h"

#define SPEC_SEED "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

static void spec_key(struct sign_key *k)
{
    size_t n = 0;
    memset(k, 0, sizeof *k);
    CHECK(b64_decode(SPEC_SEED, strlen(SPEC_SEED), k->seed, sizeof k->seed, &n) == 0);
    CHECK_INT(n, 32);
    snprintf(k->key_id, sizeof k->key_id, "ed25519:1");
    sign_key_from_seed(k);
}

TEST(spec_json_signing_vectors)
{
    struct sign_key k;
    spec_key(&k);
    json_t *o = json_object();
    CHECK(sign_json(o, "domain", &k) == 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(o, "signatures"), "domain"), "ed25519:1")),
              "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5Z"
              "AQ");
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    json_decref(o);

    o = json_pack("{s:i,s:s}", "one", 1, "two", "Two");
    CHECK(sign_json(o, "domain", &k) == 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(o, "signatures"), "domain"), "ed25519:1")),
              "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+"
              "6Bw");
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    json_decref(o);
}

TEST(unsigned_and_existing_signatures)
{
    struct sign_key k;
    spec_key(&k);
    /* "unsigned" is not covered; earlier signatures are kept beside ours */
    json_t *o = json_pack("{s:i,s:s,s:{s:i},s:{s:{s:s}}}", "one", 1, "two", "Two", "unsigned",
                          "age", 5, "signatures", "other.org", "ed25519:x", "abc");
    CHECK(sign_json(o, "domain", &k) == 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(o, "signatures"), "domain"), "ed25519:1")),
              "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+"
              "6Bw");
    CHECK(json_object_get(json_object_get(o, "signatures"), "other.org") != NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(o, "unsigned"), "age")) == 5);
    /* changing unsigned keeps it valid; changing content breaks it */
    json_object_set_new(json_object_get(o, "unsigned"), "age", json_integer(99));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    json_object_set_new(o, "two", json_string("Three"));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    CHECK(sign_verify_json(o, "nobody", "ed25519:1", k.pk) == -1);
    CHECK(sign_verify_json(o, "domain", "ed25519:2", k.pk) == -1);
    json_decref(o);
}

TEST(wrong_key_and_malformed_signature)
{
    struct sign_key k, other;
    spec_key(&k);
    CHECK(sign_key_generate(&other) == 0);
    json_t *o = json_pack("{s:s}", "a", "b");
    CHECK(sign_json(o, "domain", &k) == 0);
    CHECK(sign_verify_json(o, "domain", "ed25519:1", other.pk) == -1);
    json_object_set_new(json_object_get(json_object_get(o, "signatures"), "domain"), "ed25519:1",
                        json_string("not base64!"));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    json_decref(o);
    /* a real number cannot be signed */
    o = json_pack("{s:f}", "x", 1.5);
    CHECK(sign_json(o, "domain", &k) == -1);
    json_decref(o);
}

TEST(key_files)
{
    char dir[] = "/tmp/amtsbote-sign-XXXXXX", path[128], err[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/key", dir);
    struct sign_key k, back;
    CHECK(sign_key_generate(&k) == 0);
    CHECK(strncmp(k.key_id, "ed25519:a_", 10) == 0 && strlen(k.key_id) == 14);
    CHECK(sign_key_save(path, &k, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(sign_key_load(path, &back, err, sizeof err) == 0);
    CHECK_STR(back.key_id, k.key_id);
    CHECK(memcmp(back.pk, k.pk, 32) == 0 && memcmp(back.seed, k.seed, 32) == 0);
    /* Synapse's file for the spec's seed */
    FILE *f = fopen(path, "w");
    fprintf(f, "ed25519 1 %s\n", SPEC_SEED);
    fclose(f);
    CHECK(sign_key_load(path, &back, err, sizeof err) == 0);
    struct sign_key spec;
    spec_key(&spec);
    CHECK(memcmp(back.pk, spec.pk, 32) == 0);
    CHECK_STR(back.key_id, "ed25519:1");
    /* malformed files */
    f = fopen(path, "w");
    fprintf(f, "ed25519 1 c2hvcnQ\n");
    fclose(f);
    CHECK(sign_key_load(path, &back, err, sizeof err) == -1);
    f = fopen(path, "w");
    fprintf(f, "nothing here\n");
    fclose(f);
    CHECK(sign_key_load(path, &back, err, sizeof err) == -1);
    unlink(path);
    CHECK(sign_key_load(path, &back, err, sizeof err) == -1);
    rmdir(dir);
}

/* Replace the file at `path` with `text`. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* Number of entries in `dir` other than . and .. */
static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

TEST(key_file_details)
{
    char dir[] = "/tmp/amtsbote-sign-XXXXXX", path[128], err[128], line[128];
    struct sign_key k, back, spec;
    struct stat st;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/key", dir);
    spec_key(&spec);

    /* the first ed25519 line wins; other algorithms, blank lines and padding are fine */
    snprintf(line, sizeof line, "\ncurve25519 x AAAA\ned25519 a_1 %s=\ned25519 b Zm9v\n",
             SPEC_SEED);
    write_file(path, line);
    CHECK(sign_key_load(path, &back, err, sizeof err) == 0);
    CHECK_STR(back.key_id, "ed25519:a_1");
    CHECK(memcmp(back.pk, spec.pk, 32) == 0 && memcmp(back.sk, spec.sk, 64) == 0);
    /* no final newline */
    snprintf(line, sizeof line, "ed25519 1 %s", SPEC_SEED);
    write_file(path, line);
    CHECK(sign_key_load(path, &back, err, sizeof err) == 0);

    /* saving over an existing world-readable file leaves a 0600 file and no temporaries */
    chmod(path, 0644);
    CHECK(sign_key_save(path, &spec, err, sizeof err) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_INT(count_entries(dir), 1);
    FILE *f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    CHECK_STR(line, "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n");

    /* malformed lines: each is refused with a message */
    static const char *const bad[] = {
        "ed25519 1\n",                                               /* no seed */
        "ed25519 1 Zm9v\n",                                          /* 3 bytes, not 32 */
        "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1A\n",  /* 33 bytes */
        "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1 x\n", /* trailing field */
        "ed25519 a/b YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n", /* bad version */
        "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA!\n",   /* not base64 */
        "",                                                          /* empty file */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        write_file(path, bad[i]);
        if (sign_key_load(path, &back, err, sizeof err) != -1)
            UNIT_FAIL("accepted key file %zu", i);
        CHECK(err[0] != '\0');
    }
    /* a version longer than key_id can hold */
    snprintf(line, sizeof line, "ed25519 %056d %s\n", 0, SPEC_SEED);
    write_file(path, line);
    CHECK(sign_key_load(path, &back, err, sizeof err) == -1);

    /* a key id that is not ed25519:<version> is not saved; nor into a missing directory */
    k = spec;
    snprintf(k.key_id, sizeof k.key_id, "curve25519:1");
    CHECK(sign_key_save(path, &k, err, sizeof err) == -1);
    snprintf(line, sizeof line, "%s/missing/key", dir);
    CHECK(sign_key_save(line, &spec, err, sizeof err) == -1);
    CHECK_INT(count_entries(dir), 1);

    unlink(path);
    rmdir(dir);
}

TEST(public_key_and_raw_signatures)
{
    struct sign_key k;
    spec_key(&k);
    char *pub = sign_key_public_b64(&k);
    uint8_t pk[35], sig[67];
    size_t n = 0;
    CHECK(pub && strlen(pub) == 43);
    CHECK(pub && b64_decode(pub, strlen(pub), pk, sizeof pk, &n) == 0 && n == 32 &&
          memcmp(pk, k.pk, 32) == 0);
    free(pub);
    /* sign_bytes_b64 is plain detached ed25519 over the bytes */
    char *s = sign_bytes_b64(&k, (const uint8_t *)"{}", 2);
    CHECK_STR(s, "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZ"
                 "KM5ZAQ");
    CHECK(s && b64_decode(s, strlen(s), sig, sizeof sig, &n) == 0 && n == 64);
    CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"{}", 2, k.pk) == 0);
    CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"{ }", 3, k.pk) != 0);
    free(s);
}

TEST(signing_details)
{
    struct sign_key k, other;
    spec_key(&k);
    CHECK(sign_key_generate(&other) == 0);

    /* two entities sign in turn: the second does not cover the first's signature */
    json_t *o =
        json_pack("{s:s,s:{s:i}}", "name", "example.org", "unsigned", "age_ts", 922834800000);
    CHECK(sign_json(o, "domain", &k) == 0);
    CHECK(sign_json(o, "other", &other) == 0);
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    CHECK(sign_verify_json(o, "other", other.key_id, other.pk) == 0);
    /* the verifier does not change the object */
    json_t *before = json_deep_copy(o);
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    CHECK(json_equal(o, before));
    json_decref(before);

    /* a padded signature still verifies (receivers accept padding); trailing NUL junk not */
    json_t *mine = json_object_get(json_object_get(o, "signatures"), "domain");
    char sig[100];
    snprintf(sig, sizeof sig, "%s==", json_string_value(json_object_get(mine, "ed25519:1")));
    json_object_set_new(mine, "ed25519:1", json_string(sig));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    sig[strlen(sig) - 2] = '\0';
    char junk[110];
    size_t sl = strlen(sig);
    memcpy(junk, sig, sl);
    memcpy(junk + sl, "\0AAAA", 5);
    json_object_set_new(mine, "ed25519:1", json_stringn(junk, sl + 5));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    json_object_set_new(mine, "ed25519:1", json_integer(1));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    json_object_set_new(mine, "ed25519:1", json_string(sig));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);

    /* any change to covered content breaks it: a nested value, an added key */
    json_object_set_new(o, "extra", json_true());
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    json_object_del(o, "extra");
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == 0);
    json_object_set_new(o, "name", json_string("example.org "));
    CHECK(sign_verify_json(o, "domain", "ed25519:1", k.pk) == -1);
    json_decref(o);

    /* not objects */
    json_t *a = json_array();
    CHECK(sign_json(a, "domain", &k) == -1);
    CHECK(sign_verify_json(a, "domain", "ed25519:1", k.pk) == -1);
    json_decref(a);
}

TEST(failed_signing_leaves_object_unchanged)
{
    struct sign_key k;
    spec_key(&k);
    json_t *o = json_pack("{s:f,s:{},s:{s:i}}", "x", 0.5, "signatures", "unsigned", "a", 1);
    json_t *before = json_deep_copy(o);
    CHECK(sign_json(o, "domain", &k) == -1);
    CHECK(json_equal(o, before));
    json_decref(before);
    json_decref(o);
    o = json_pack("{s:I,s:s}", "big", (json_int_t)9007199254740992LL, "signatures", "junk");
    before = json_deep_copy(o);
    CHECK(sign_json(o, "domain", &k) == -1);
    CHECK(json_equal(o, before));
    json_decref(before);
    json_decref(o);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(spec_json_signing_vectors);
    RUN(unsigned_and_existing_signatures);
    RUN(wrong_key_and_malformed_signature);
    RUN(key_files);
    RUN(key_file_details);
    RUN(public_key_and_raw_signatures);
    RUN(signing_details);
    RUN(failed_signing_leaves_object_unchanged);
    return unit_done();
}
