/* keyring.c - signing keys. This server's key is written once at start-up before any thread
 * is started, and the remote-key fetcher registered then too; both are read-only afterwards,
 * so neither needs a lock (the fetcher itself must be thread-safe). */
#include "server/keyring.h"

#include <string.h>

#include "server/ids.h"

static struct sign_key own;
static keyring_fetch_fn fetch_fn;
static void *fetch_ctx;

void keyring_set_own(const struct sign_key *k)
{
    own = *k;
}

const struct sign_key *keyring_own(void)
{
    return &own;
}

void keyring_set_fetcher(keyring_fetch_fn fn, void *ctx)
{
    fetch_fn = fn;
    fetch_ctx = ctx;
}

int keyring_lookup(const char *server_name, const char *key_id, int64_t min_valid_ts,
                   uint8_t pk[32])
{
    if (!server_name || !key_id)
        return 0;
    if (ids_is_local_server(server_name) && own.key_id[0]) {
        if (strcmp(key_id, own.key_id) != 0)
            return 0; /* old keys of ours are not kept */
        memcpy(pk, own.pk, 32);
        return 1;
    }
    return fetch_fn ? fetch_fn(fetch_ctx, server_name, key_id, min_valid_ts, pk) : 0;
}
