/* keyring.h - signing keys: this server's own, loaded once at start-up, and other servers'
 * public keys, looked up through a fetcher that federation registers at start-up (server/
 * includes no federation/ header: STYLE.md s.1). */
#ifndef AMTSBOTE_KEYRING_H
#define AMTSBOTE_KEYRING_H
#include <stdint.h>

#include "server/sign.h"

/* Install the server's key (copied). Call before serving. */
void keyring_set_own(const struct sign_key *k);
/* The server's key; valid for the life of the process. */
const struct sign_key *keyring_own(void);

/* A remote server's ed25519 public key `key_id` ("ed25519:abc"), valid at least until
 * `min_valid_ts` (ms; 0: any time). Writes the 32 key bytes to pk and returns 1; 0 when the
 * key is unknown, or known to have expired before min_valid_ts (the spec's "skipped"
 * signatures); -1 when it cannot be told now (the key server is unreachable: try again
 * later). May block on the network: the engine calls it before taking any room lock. Must be
 * safe to call from several threads at once. */
typedef int (*keyring_fetch_fn)(void *ctx, const char *server_name, const char *key_id,
                                int64_t min_valid_ts, uint8_t pk[32]);

/* Start-up (before threads): register the fetcher (NULL: remote keys are unknown). */
void keyring_set_fetcher(keyring_fetch_fn fn, void *ctx);

/* Look a key up: this server's own key directly (its current key only), anyone else's
 * through the fetcher. Same answers as keyring_fetch_fn. */
int keyring_lookup(const char *server_name, const char *key_id, int64_t min_valid_ts,
                   uint8_t pk[32]);

#endif
