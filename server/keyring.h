/* keyring.h - signing keys: this server's own, loaded once at start-up, and other servers'
 * verify keys, cached in the database and fetched on a miss through a fetcher that
 * federation registers at start-up (server/ makes no network requests itself). */
#ifndef AMTSBOTE_KEYRING_H
#define AMTSBOTE_KEYRING_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/sign.h"

/* Install the server's key (copied). Call before serving. */
void keyring_set_own(const struct sign_key *k);
/* The server's key; valid for the life of the process. */
const struct sign_key *keyring_own(void);

/* A key this server used before (old_signing_keys), published in old_verify_keys. */
struct keyring_old_key {
    char key_id[64];
    char key[48]; /* unpadded base64 */
    uint8_t pk[32];
    int64_t expired_ts;
};
#define KEYRING_MAX_OLD 16

/* Install the old keys (copied; at most KEYRING_MAX_OLD) before serving. Returns 0, or -1
 * when there are too many or one is not a base64 ed25519 key. */
int keyring_set_own_old(const struct keyring_old_key *keys, size_t n);
/* The old keys; *n set to their number. Valid for the life of the process. */
const struct keyring_old_key *keyring_own_old(size_t *n);

/* Fetch the keys of server_name (directly, or through notaries) and hand every verified
 * answer to keyring_store_answer. key_id is the key wanted, min_valid_ts the time it must be
 * valid at. Returns 0 when an answer was stored, -1 otherwise. Called without locks held,
 * from any thread. */
typedef int (*keyring_answer_fn)(const char *server_name, const char *key_id, int64_t min_valid_ts);

/* Set this server's name (its own key answers lookups for it) and the fetcher (NULL: cache
 * only). Call once at start-up, before serving. */
void keyring_init(const char *server_name, keyring_answer_fn fetch);

/* A whole remote-key lookup in one function (same arguments and answers as keyring_lookup):
 * when registered with keyring_set_fetcher it replaces the stored cache and the fetcher for
 * other servers' keys. For tests without a database, or an embedder with its own key store;
 * the server itself registers nothing here. */
typedef int (*keyring_fetch_fn)(void *ctx, const char *server_name, const char *key_id,
                                int64_t min_valid_ts, uint8_t pk[32]);
/* Start-up (before threads): register it (NULL: back to the stored cache and fetcher). */
void keyring_set_fetcher(keyring_fetch_fn fn, void *ctx);

/* The lookup the engine verifies event signatures with (server/pdu.c): the ed25519 key
 * `key_id` of `server_name` as valid for a signature made at `at_ts` (ms; the engine passes
 * origin_server_ts where the room version enforces key validity, else 0): a current key while
 * at_ts <= its valid_until_ts (capped at 7 days after the fetch), an old_verify_keys entry
 * while at_ts < its expired_ts; at_ts 0 accepts any key ever published. This server's keys
 * (current and old_signing_keys) answer directly. A cache miss, or a current key valid for too
 * short a time, asks the fetcher, at most once per server every KEYRING_REFETCH_MS and with
 * at most KEYRING_MAX_FETCHING fetches under way. Returns 1 with pk filled; 0 when the key is
 * unknown (also just after a fetch that did not bring it) or not valid at at_ts (the spec's
 * "skipped" signatures); -1 when it cannot be told now (the fetch failed: unreachable server
 * or unacceptable answer; too many fetches under way; a database error): try again later.
 * Blocks for the fetch (bounded by federation's timeouts): call it before taking any room
 * lock; any thread. */
int keyring_lookup(const char *server_name, const char *key_id, int64_t at_ts, uint8_t pk[32]);

/* The lookup for request signatures (X-Matrix): as keyring_lookup at the current time, but a
 * key from old_verify_keys never qualifies (the spec allows those for events only). The
 * authenticator refuses the request (401) on 0 and -1 alike. */
int keyring_lookup_request(const char *server_name, const char *key_id, uint8_t pk[32]);

#define KEYRING_REFETCH_MS 2000
#define KEYRING_MAX_FETCHING 2 /* fetches under way at once; a miss beyond that is 0 */
#define KEYRING_MAX_VALIDITY_MS (7LL * 24 * 60 * 60 * 1000)

/* Check a /_matrix/key/v2/server answer (borrowed) as coming from `server_name`: the right
 * server_name, a valid_until_ts, well-formed verify_keys and old_verify_keys (at most 64 keys)
 * and signatures[server_name]: at least one by a key of verify_keys, and every signature by
 * such a key valid. Returns 0, or -1 with a reason in err. */
int keyring_check_answer(const json_t *answer, const char *server_name, char *err, size_t errlen);

/* keyring_check_answer, then store its keys and the answer itself (for notary service).
 * Returns 0, or -1 (refused: logged with the reason; or a database error). */
int keyring_store_answer(const json_t *answer, const char *server_name);

/* The latest stored answer of server_name (a new reference into *out, NULL when none) as
 * received, for notary service. Returns 0, or -1 on a database error. */
int keyring_stored_answer(const char *server_name, json_t **out);

#endif
