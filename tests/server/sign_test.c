/* sign_test.c - base64 (spec appendix "Unpadded Base64", RFC 4648 vectors) and signed JSON
 * against the spec appendix's cryptographic test vectors ("JSON Signing"), plus key files in
 * Synapse's format. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
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

TEST(b64_vectors)
{
    /* input, unpadded standard encoding (spec appendix and RFC 4648 s.10) */
    static const char *const v[][2] = {{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},
                                       {"foo", "Zm9v"},  {"foob", "Zm9vYg"},  {"fooba", "Zm9vYmE"},
                                       {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *e = b64_encode((const uint8_t *)v[i][0], strlen(v[i][0]));
        CHECK_STR(e, v[i][1]);
        free(e);
        uint8_t out[16];
        size_t n = 99;
        CHECK(b64_decode(v[i][1], strlen(v[i][1]), out, sizeof out, &n) == 0);
        CHECK_INT(n, strlen(v[i][0]));
        CHECK(memcmp(out, v[i][0], n) == 0);
    }
}

TEST(b64_alphabets_and_padding)
{
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
    char *s = b64_encode(bytes, 3), *u = b64_encode_urlsafe(bytes, 3);
    CHECK_STR(s, "+/+/");
    CHECK_STR(u, "-_-_");
    free(s);
    free(u);
    uint8_t out[8];
    size_t n;
    CHECK(b64_decode("-_-_", 4, out, sizeof out, &n) == 0 && n == 3 && out[0] == 0xfb);
    CHECK(b64_decode("Zg==", 4, out, sizeof out, &n) == 0 && n == 1 && out[0] == 'f');
    CHECK(b64_decode("Zm8=", 4, out, sizeof out, &n) == 0 && n == 2);
    CHECK(b64_decode("Zm9v", 4, out, 2, &n) == -1);  /* output too small */
    CHECK(b64_decode("Z", 1, out, sizeof out, &n) == -1); /* impossible length */
    CHECK(b64_decode("Zm9*", 4, out, sizeof out, &n) == -1);
    CHECK(b64_decode("Zg=", 3, out, sizeof out, &n) == -1); /* wrong padding */
    CHECK(b64_decode("Z===", 4, out, sizeof out, &n) == -1);
    CHECK(b64_decode("Zm 9", 4, out, sizeof out, &n) == -1);
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

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(b64_vectors);
    RUN(b64_alphabets_and_padding);
    RUN(spec_json_signing_vectors);
    RUN(unsigned_and_existing_signatures);
    RUN(wrong_key_and_malformed_signature);
    RUN(key_files);
    return unit_done();
}
