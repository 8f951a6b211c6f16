/* serverkeys_test.c - remote servers' keys through keyring_lookup, the lookup the engine
 * registers, over a real database: validity of current keys (valid_until_ts, capped at 7
 * days) and old keys (expired_ts), request lookups refusing old keys, fetch on a miss and on
 * a key valid for too short a time, the refetch spacing, the bound on fetches under way, our
 * own keys without a fetch, and refused answers never stored. */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/keyring.h"
#include "server/log.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

static struct sign_key remote, old, own;
static int fetches;
static int64_t answer_valid_until;

/* An answer of r.example: current key `remote` valid until answer_valid_until, old key `old`
 * expired at 1000000. */
static json_t *answer(void)
{
    char *pub = sign_key_public_b64(&remote), *opub = sign_key_public_b64(&old);
    json_t *a = json_pack("{s:s,s:I,s:{s:{s:s}},s:{s:{s:s,s:I}}}", "server_name", "r.example",
                          "valid_until_ts", (json_int_t)answer_valid_until, "verify_keys",
                          remote.key_id, "key", pub, "old_verify_keys", old.key_id, "key", opub,
                          "expired_ts", (json_int_t)1000000);
    sign_json(a, "r.example", &remote);
    free(pub);
    free(opub);
    return a;
}

static atomic_int slow_fetches;

static int fetcher(const char *server, const char *key_id, int64_t min_valid_ts)
{
    if (strncmp(server, "slow", 4) == 0) { /* a server that takes its time */
        atomic_fetch_add(&slow_fetches, 1);
        usleep(600 * 1000);
        return -1;
    }
    fetches++;
    if (strcmp(server, "r.example") != 0)
        return -1;
    json_t *a = answer();
    int rc = keyring_store_answer(a, server);
    json_decref(a);
    return rc;
}

TEST(fetch_on_miss_and_validity)
{
    uint8_t pk[32];
    int64_t now = clock_now_ms();
    answer_valid_until = now + 3600 * 1000;
    fetches = 0;
    /* a miss asks the fetcher once, then the key is known */
    CHECK_INT(keyring_lookup_request("r.example", remote.key_id, pk), 1);
    CHECK(memcmp(pk, remote.pk, 32) == 0);
    CHECK_INT(fetches, 1);
    CHECK_INT(keyring_lookup("r.example", remote.key_id, now, pk), 1);
    CHECK_INT(fetches, 1);
    /* an old key: for events signed before expired_ts, never for requests, no refetch */
    CHECK_INT(keyring_lookup("r.example", old.key_id, 999999, pk), 1);
    CHECK(memcmp(pk, old.pk, 32) == 0);
    CHECK_INT(keyring_lookup("r.example", old.key_id, 1000000, pk), 0);
    CHECK_INT(keyring_lookup_request("r.example", old.key_id, pk), 0);
    CHECK_INT(keyring_lookup("r.example", old.key_id, 0, pk), 1); /* any time */
    CHECK_INT(fetches, 1);
    /* a signature after valid_until_ts: refetch (spaced), still not valid: 0 */
    CHECK_INT(keyring_lookup("r.example", remote.key_id, now + 7200 * 1000, pk), 0);
    CHECK_INT(fetches, 1); /* within KEYRING_REFETCH_MS of the last fetch */
    usleep((KEYRING_REFETCH_MS + 100) * 1000);
    CHECK_INT(keyring_lookup("r.example", remote.key_id, now + 7200 * 1000, pk), 0);
    CHECK_INT(fetches, 2);
    /* unknown key, unknown server */
    CHECK_INT(keyring_lookup("r.example", "ed25519:nope", now, pk), 0);
    /* a server whose keys cannot be fetched: cannot be told now, then (asked within
     * KEYRING_REFETCH_MS) unknown */
    CHECK_INT(keyring_lookup("x.example", "ed25519:x", now, pk), -1);
    CHECK_INT(keyring_lookup("x.example", "ed25519:x", now, pk), 0);
}

TEST(validity_capped)
{
    uint8_t pk[32];
    int64_t now = clock_now_ms();
    answer_valid_until = now + 365LL * 86400 * 1000; /* a year: kept for 7 days at most */
    usleep((KEYRING_REFETCH_MS + 100) * 1000);
    fetches = 0;
    CHECK_INT(keyring_lookup("r.example", remote.key_id, now + 30LL * 86400 * 1000, pk), 0);
    CHECK_INT(fetches, 1);
    CHECK_INT(keyring_lookup("r.example", remote.key_id, now + 6LL * 86400 * 1000, pk), 1);
    /* the stored answer is the server's own, for notary service */
    json_t *a = NULL;
    CHECK_INT(keyring_stored_answer("r.example", &a), 0);
    CHECK(a && json_integer_value(json_object_get(a, "valid_until_ts")) == answer_valid_until);
    json_decref(a);
}

TEST(own_keys_and_refusals)
{
    uint8_t pk[32];
    fetches = 0;
    CHECK_INT(keyring_lookup_request("me.example", own.key_id, pk), 1);
    CHECK(memcmp(pk, own.pk, 32) == 0);
    CHECK_INT(keyring_lookup("me.example", "ed25519:other", 0, pk), 0);
    CHECK_INT(fetches, 0);
    /* an answer not signed by its server is not stored */
    json_t *a = answer();
    json_object_set_new(a, "server_name", json_string("s.example"));
    CHECK_INT(keyring_store_answer(a, "s.example"), -1);
    json_t *got = NULL;
    CHECK_INT(keyring_stored_answer("s.example", &got), 0);
    CHECK(got == NULL);
    json_decref(a);
    /* nor one padded to a size worth storing and serving again */
    a = answer();
    json_object_del(a, "signatures");
    char *pad = calloc(1, 70000);
    memset(pad, 'x', 69999);
    json_object_set_new(a, "padding", json_string(pad));
    free(pad);
    sign_json(a, "r.example", &remote);
    CHECK_INT(keyring_store_answer(a, "r.example"), -1);
    json_decref(a);
}

static void *slow_lookup(void *name)
{
    uint8_t pk[32];
    keyring_lookup(name, "ed25519:k", 0, pk);
    return NULL;
}

TEST(fetches_under_way_bounded)
{
    pthread_t t[KEYRING_MAX_FETCHING];
    char names[KEYRING_MAX_FETCHING][32];
    uint8_t pk[32];
    for (int i = 0; i < KEYRING_MAX_FETCHING; i++) {
        snprintf(names[i], sizeof names[i], "slow%d.example", i);
        pthread_create(&t[i], NULL, slow_lookup, names[i]);
    }
    usleep(200 * 1000);
    /* every fetch slot taken: a miss is answered at once, without a fetch */
    int64_t t0 = clock_mono_ms();
    CHECK_INT(keyring_lookup("slowx.example", "ed25519:k", 0, pk), -1); /* try later */
    CHECK(clock_mono_ms() - t0 < 300);
    for (int i = 0; i < KEYRING_MAX_FETCHING; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(slow_fetches, KEYRING_MAX_FETCHING);
    /* and once they are done, fetching resumes */
    CHECK_INT(keyring_lookup("slowy.example", "ed25519:k", 0, pk), -1); /* it failed */
    CHECK_INT(slow_fetches, KEYRING_MAX_FETCHING + 1);
}

int main(void)
{
    if (sodium_init() < 0 || sign_key_generate(&remote) < 0 || sign_key_generate(&old) < 0 ||
        sign_key_generate(&own) < 0)
        return 1;
    snprintf(old.key_id, sizeof old.key_id, "ed25519:old");
    if (dbtest_open("serverkeys") < 0)
        return 1;
    log_set_level(LOG_LVL_ERROR);
    keyring_set_own(&own);
    keyring_init("me.example", fetcher);
    RUN(fetch_on_miss_and_validity);
    RUN(validity_capped);
    RUN(own_keys_and_refusals);
    RUN(fetches_under_way_bounded);
    dbtest_close();
    return unit_done();
}
