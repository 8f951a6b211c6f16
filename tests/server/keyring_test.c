/* keyring_test.c - checking a server's key answer before anything is stored: right
 * server_name, valid_until_ts, well-formed verify_keys and old_verify_keys, a valid
 * self-signature by a published key (and no bad one), bounded key count. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/keyring.h"
#include "tests/unit.h"

static struct sign_key k, other;

/* A correct answer for s.example signed with k. New reference. */
static json_t *answer(void)
{
    char *pub = sign_key_public_b64(&k);
    json_t *a =
        json_pack("{s:s,s:I,s:{s:{s:s}},s:{s:{s:s,s:I}}}", "server_name", "s.example",
                  "valid_until_ts", (json_int_t)4102444800000, "verify_keys", k.key_id, "key", pub,
                  "old_verify_keys", "ed25519:old", "key", pub, "expired_ts", (json_int_t)1000);
    free(pub);
    return a;
}

static int check(json_t *a)
{
    char err[160];
    return keyring_check_answer(a, "s.example", err, sizeof err);
}

TEST(valid_answer)
{
    json_t *a = answer();
    sign_json(a, "s.example", &k);
    CHECK_INT(check(a), 0);
    /* a notary's extra signature does not matter */
    sign_json(a, "notary.example", &other);
    CHECK_INT(check(a), 0);
    /* nor one by a key the server does not publish */
    sign_json(a, "s.example", &other);
    CHECK_INT(check(a), 0);
    json_decref(a);
}

TEST(refused)
{
    char err[160];
    json_t *a = answer();
    CHECK_INT(check(a), -1); /* unsigned */
    sign_json(a, "s.example", &other);
    CHECK_INT(check(a), -1); /* only signed by an unpublished key */
    json_decref(a);

    a = answer();
    sign_json(a, "s.example", &k);
    CHECK_INT(keyring_check_answer(a, "t.example", err, sizeof err), -1);  /* another server */
    json_object_set_new(a, "valid_until_ts", json_integer(4102444800001)); /* tampered */
    CHECK_INT(check(a), -1);
    CHECK(strstr(err, "server_name") != NULL);
    json_decref(a);

    a = answer();
    json_object_del(a, "valid_until_ts");
    sign_json(a, "s.example", &k);
    CHECK_INT(check(a), -1);
    json_decref(a);

    a = answer();
    json_object_set_new(json_object_get(json_object_get(a, "old_verify_keys"), "ed25519:old"),
                        "expired_ts", json_string("soon"));
    sign_json(a, "s.example", &k);
    CHECK_INT(check(a), -1);
    json_decref(a);

    a = answer();
    json_object_set_new(json_object_get(json_object_get(a, "verify_keys"), k.key_id), "key",
                        json_string("AAAA"));
    sign_json(a, "s.example", &k);
    CHECK_INT(check(a), -1);
    json_decref(a);

    a = answer();
    json_t *vk = json_object_get(a, "verify_keys");
    for (int i = 0; i < 70; i++) {
        char id[32];
        snprintf(id, sizeof id, "ed25519:k%d", i);
        json_object_set(vk, id, json_object_get(vk, k.key_id));
    }
    sign_json(a, "s.example", &k);
    CHECK_INT(check(a), -1);
    json_decref(a);
    CHECK_INT(check(NULL), -1);
}

int main(void)
{
    if (sodium_init() < 0 || sign_key_generate(&k) < 0 || sign_key_generate(&other) < 0)
        return 1;
    snprintf(other.key_id, sizeof other.key_id, "ed25519:other");
    RUN(valid_answer);
    RUN(refused);
    return unit_done();
}
