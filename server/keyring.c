/* keyring.c - signing keys (Server-Server API "Retrieving server keys").
 *
 * Our own key is written once at start-up before any thread starts and read-only afterwards.
 * Remote servers' keys live in the database (storage/serverkeys.c); a miss asks the fetcher
 * that federation registered, which stores what it verified through keyring_store_answer and
 * so fills the cache for the retry. Invariants:
 *   1. Nothing is stored that is not signed by the server itself: every answer, direct or
 *      through a notary, passes keyring_check_answer first.
 *   2. A current key's validity is capped at 7 days after the fetch (the spec's rule for
 *      valid_until_ts), so a server cannot make a stolen key last for years.
 *   3. Fetches per server are spaced by KEYRING_REFETCH_MS (a small table under a mutex), so
 *      requests naming unknown keys cannot make this server hammer the claimed origin.
 *   4. At most KEYRING_MAX_FETCHING fetches run at once (a fetch may block its thread for
 *      the resolution and request timeouts): requests naming many unknown origins cannot
 *      tie up every HTTP worker; beyond that a miss is answered "unknown" at once.
 *   5. Known keys are also kept in memory for CACHE_MS (misses are not: they go to the
 *      database and the fetcher); storing a server's answer drops its cached keys. Lock
 *      order: no two of recent_lock and cache_lock are ever held together. */
#include "server/keyring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "storage/serverkeys.h"

#define MAX_KEYS 64
#define RECENT_SLOTS 64
#define CACHE_SLOTS 256
#define KEYRING_ANSWER_MAX (64 * 1024) /* stored and served again as a notary: bounded */
#define CACHE_MS (10 * 60 * 1000)

static struct sign_key own;
static struct keyring_old_key own_old[KEYRING_MAX_OLD];
static size_t n_own_old;
static char own_server[256];
static keyring_answer_fn fetcher;
static keyring_fetch_fn override_fn; /* keyring_set_fetcher: a whole lookup instead */
static void *override_ctx;

/* Servers fetched recently: name, monotonic time of the attempt. */
static struct {
    char server[256];
    int64_t at;
} recent[RECENT_SLOTS];
static size_t recent_next;
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int fetching; /* fetcher calls under way */

/* Keys read from the database, kept CACHE_MS so that every signature checked does not cost a
 * query; replaced round-robin; a server's entries are dropped when a new answer is stored. */
static struct {
    char server[256];
    char key_id[128];
    struct db_server_key k;
    int64_t until; /* monotonic ms; 0: empty */
} cache[CACHE_SLOTS];
static size_t cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

void keyring_set_own(const struct sign_key *k)
{
    own = *k;
}

const struct sign_key *keyring_own(void)
{
    return &own;
}

static int decode_key(const char *b64, size_t len, uint8_t pk[32]);

int keyring_set_own_old(const struct keyring_old_key *keys, size_t n)
{
    if (n > KEYRING_MAX_OLD)
        return -1;
    for (size_t i = 0; i < n; i++) {
        own_old[i] = keys[i];
        if (decode_key(own_old[i].key, strlen(own_old[i].key), own_old[i].pk) < 0)
            return -1;
    }
    n_own_old = n;
    return 0;
}

const struct keyring_old_key *keyring_own_old(size_t *n)
{
    *n = n_own_old;
    return own_old;
}

void keyring_set_fetcher(keyring_fetch_fn fn, void *ctx)
{
    override_fn = fn;
    override_ctx = ctx;
}

void keyring_init(const char *server_name, keyring_answer_fn fetch)
{
    snprintf(own_server, sizeof own_server, "%s", server_name);
    fetcher = fetch;
}

/* Record an attempt to fetch server's keys now; false when one was made within
 * KEYRING_REFETCH_MS (then do not fetch). */
static bool may_fetch(const char *server)
{
    int64_t now = clock_mono_ms();
    bool ok = true;
    pthread_mutex_lock(&recent_lock);
    for (size_t i = 0; i < RECENT_SLOTS; i++) {
        if (strcmp(recent[i].server, server) == 0) {
            if (now - recent[i].at < KEYRING_REFETCH_MS)
                ok = false;
            else
                recent[i].at = now;
            pthread_mutex_unlock(&recent_lock);
            return ok;
        }
    }
    snprintf(recent[recent_next].server, sizeof recent[0].server, "%s", server);
    recent[recent_next].at = now;
    recent_next = (recent_next + 1) % RECENT_SLOTS;
    pthread_mutex_unlock(&recent_lock);
    return ok;
}

/* Decode an unpadded base64 ed25519 key. 0 or -1. */
static int decode_key(const char *b64, size_t len, uint8_t pk[32])
{
    uint8_t buf[35];
    size_t n = 0;
    if (b64_decode(b64, len, buf, sizeof buf, &n) < 0 || n != 32)
        return -1;
    memcpy(pk, buf, 32);
    return 0;
}

/* The stored key, if valid at at_ts (current only when `current`). 1, 0 or -1. */
/* The key from the memory cache, else the database (then cached). 1, 0 or -1. */
static int key_get(const char *server, const char *key_id, struct db_server_key *k)
{
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].until > now && strcmp(cache[i].key_id, key_id) == 0 &&
            strcmp(cache[i].server, server) == 0) {
            *k = cache[i].k;
            pthread_mutex_unlock(&cache_lock);
            return 1;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int rc = db_server_key_get(c, server, key_id, k);
    db_put(c);
    if (rc == 1 && strlen(server) < sizeof cache[0].server &&
        strlen(key_id) < sizeof cache[0].key_id) {
        pthread_mutex_lock(&cache_lock);
        size_t i = cache_next;
        cache_next = (cache_next + 1) % CACHE_SLOTS;
        memcpy(cache[i].server, server, strlen(server) + 1);
        memcpy(cache[i].key_id, key_id, strlen(key_id) + 1);
        cache[i].k = *k;
        cache[i].until = now + CACHE_MS;
        pthread_mutex_unlock(&cache_lock);
    }
    return rc;
}

/* Forget server's cached keys (a new answer was stored). */
static void cache_forget(const char *server)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (strcmp(cache[i].server, server) == 0)
            cache[i].until = 0;
    pthread_mutex_unlock(&cache_lock);
}

static int from_store(const char *server, const char *key_id, int64_t at_ts, bool current,
                      uint8_t pk[32], bool *stale)
{
    struct db_server_key k;
    int rc = key_get(server, key_id, &k);
    *stale = rc == 0;
    if (rc != 1)
        return rc;
    if (k.expired_ts) {
        if (current || at_ts >= k.expired_ts)
            return 0; /* an old key: refetching will not make it current again */
    } else if (at_ts > k.valid_until_ts) {
        *stale = true;
        return 0;
    }
    return decode_key(k.verify_key, strlen(k.verify_key), pk) == 0 ? 1 : -1;
}

static int lookup(const char *server, const char *key_id, int64_t at_ts, bool current,
                  uint8_t pk[32])
{
    bool stale = false;
    if (!server || !key_id)
        return 0;
    bool local = (own_server[0] && strcmp(server, own_server) == 0) || ids_is_local_server(server);
    if (local && own.key_id[0]) {
        if (strcmp(key_id, own.key_id) == 0) {
            memcpy(pk, own.pk, 32);
            return 1;
        }
        for (size_t i = 0; i < n_own_old; i++) {
            if (strcmp(key_id, own_old[i].key_id) == 0 && !current &&
                at_ts < own_old[i].expired_ts) {
                memcpy(pk, own_old[i].pk, 32);
                return 1;
            }
        }
        return 0;
    }
    if (override_fn)
        return override_fn(override_ctx, server, key_id, at_ts, pk);
    int rc = from_store(server, key_id, at_ts, current, pk, &stale);
    if (rc != 0 || !stale || !fetcher)
        return rc;
    if (!may_fetch(server))
        return 0; /* asked within KEYRING_REFETCH_MS: that answer stands */
    if (atomic_fetch_add(&fetching, 1) >= KEYRING_MAX_FETCHING) {
        atomic_fetch_sub(&fetching, 1);
        log_info("keys of %s not fetched: %d fetches under way", server, KEYRING_MAX_FETCHING);
        return -1; /* cannot be told now */
    }
    int fetched = fetcher(server, key_id, at_ts);
    atomic_fetch_sub(&fetching, 1);
    if (fetched < 0)
        return -1; /* unreachable or no acceptable answer: cannot be told now */
    return from_store(server, key_id, at_ts, current, pk, &stale);
}

int keyring_lookup(const char *server_name, const char *key_id, int64_t at_ts, uint8_t pk[32])
{
    return lookup(server_name, key_id, at_ts, false, pk);
}

int keyring_lookup_request(const char *server_name, const char *key_id, uint8_t pk[32])
{
    return lookup(server_name, key_id, clock_now_ms(), true, pk);
}

/* Check the keys of one section (verify_keys, or old_verify_keys when `old`); append them to
 * `keys` (when not NULL) as {key_id, key, valid_until_ts, expired_ts}. 0 or -1. */
static int check_section(const json_t *sec, bool old, int64_t valid_until, json_t *keys,
                         size_t *count, char *err, size_t errlen)
{
    const char *id;
    json_t *v;
    uint8_t pk[32];
    if (!sec)
        return old ? 0 : (snprintf(err, errlen, "no verify_keys"), -1);
    if (!json_is_object(sec)) {
        snprintf(err, errlen, "%s is not an object", old ? "old_verify_keys" : "verify_keys");
        return -1;
    }
    json_object_foreach((json_t *)sec, id, v)
    {
        json_t *k = json_object_get(v, "key"), *exp = json_object_get(v, "expired_ts");
        if (++*count > MAX_KEYS || strlen(id) >= 128 || strncmp(id, "ed25519:", 8) != 0) {
            if (*count > MAX_KEYS) {
                snprintf(err, errlen, "too many keys");
                return -1;
            }
            continue; /* another algorithm: not ours to use */
        }
        if (!json_is_string(k) || decode_key(json_string_value(k), json_string_length(k), pk) < 0 ||
            (old && !json_is_integer(exp))) {
            snprintf(err, errlen, "malformed key %.40s", id);
            return -1;
        }
        if (keys &&
            json_array_append_new(
                keys, json_pack("{s:s,s:O,s:I,s:I}", "key_id", id, "key", k, "valid_until_ts",
                                (json_int_t)(old ? json_integer_value(exp) : valid_until),
                                "expired_ts", (json_int_t)(old ? json_integer_value(exp) : 0))) <
                0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* keyring_check_answer, collecting the keys for storage into `keys` (may be NULL). */
static int check_answer(const json_t *a, const char *server_name, json_t *keys, char *err,
                        size_t errlen)
{
    json_t *vk = json_object_get(a, "verify_keys"), *vu = json_object_get(a, "valid_until_ts");
    json_t *sigs = json_object_get(json_object_get(a, "signatures"), server_name);
    const char *name = json_string_value(json_object_get(a, "server_name"));
    const char *id;
    json_t *sig;
    size_t count = 0, good = 0;
    uint8_t pk[32];

    if (!json_is_object(a) || !name || strcmp(name, server_name) != 0) {
        snprintf(err, errlen, "server_name is not %.255s", server_name);
        return -1;
    }
    if (!json_is_integer(vu)) {
        snprintf(err, errlen, "no valid_until_ts");
        return -1;
    }
    int64_t until = json_integer_value(vu), cap = clock_now_ms() + KEYRING_MAX_VALIDITY_MS;
    if (check_section(vk, false, until < cap ? until : cap, keys, &count, err, errlen) < 0 ||
        check_section(json_object_get(a, "old_verify_keys"), true, 0, keys, &count, err, errlen) <
            0)
        return -1;
    if (!json_is_object(sigs)) {
        snprintf(err, errlen, "not signed by %.255s", server_name);
        return -1;
    }
    json_object_foreach(sigs, id, sig)
    {
        json_t *k = json_object_get(json_object_get(vk, id), "key");
        if (!k)
            continue; /* signed with a key it does not publish: not evidence either way */
        if (decode_key(json_string_value(k), json_string_length(k), pk) < 0 ||
            sign_verify_json(a, server_name, id, pk) < 0) {
            snprintf(err, errlen, "bad signature by %.40s", id);
            return -1;
        }
        good++;
    }
    if (!good) {
        snprintf(err, errlen, "not signed by any of its verify_keys");
        return -1;
    }
    return 0;
}

int keyring_check_answer(const json_t *answer, const char *server_name, char *err, size_t errlen)
{
    return check_answer(answer, server_name, NULL, err, errlen);
}

int keyring_store_answer(const json_t *answer, const char *server_name)
{
    char err[160];
    int rc = -1;
    json_t *keys = json_array();
    char *text = NULL;
    if (!keys)
        return -1;
    if (check_answer(answer, server_name, keys, err, sizeof err) < 0) {
        log_warn("keys of %s refused: %s", server_name, err);
        goto out;
    }
    text = json_dumps(answer, JSON_COMPACT);
    if (text && strlen(text) > KEYRING_ANSWER_MAX) {
        log_warn("keys of %s refused: answer larger than %d bytes", server_name,
                 KEYRING_ANSWER_MAX);
        goto out;
    }
    struct dbc *c = text ? db_get() : NULL;
    if (c) {
        rc = db_server_keys_store(c, server_name, keys, text,
                                  json_integer_value(json_object_get(answer, "valid_until_ts")),
                                  clock_now_ms());
        db_put(c);
        cache_forget(server_name);
    }
out:
    free(text);
    json_decref(keys);
    return rc;
}

int keyring_stored_answer(const char *server_name, json_t **out)
{
    char *text = NULL;
    int64_t until = 0;
    *out = NULL;
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int rc = db_server_keys_json(c, server_name, &text, &until);
    db_put(c);
    if (rc == 0 && text)
        *out = json_loads(text, 0, NULL);
    free(text);
    return rc;
}
