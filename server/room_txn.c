/* room_txn.c - client transaction keys (Client-Server API "Transaction identifiers": "The
 * homeserver should identify a request as a retransmission if the transaction ID is the same
 * as a previous request, and the path of the HTTP request is the same"; the scope is one
 * device and one endpoint).
 *
 * The room engine compares keys only and hands them to storage, which keeps the txnId (for
 * /sync's unsigned.transaction_id) and the path's hash apart (storage/events.h). The path is
 * hashed so that a key has a bound (a room ID, an event type and an event ID are up to 255
 * bytes each) and no separator inside a part can make two paths alike: each part goes into
 * the hash as "<byte length>:<bytes>". Migration 0140 computes the same hash in SQL for the
 * keys stored before; change both together or not at all.
 *
 * The version prefix (r0, v3) is not part of the path here: it names the API version, not
 * another endpoint. */
#include "server/room_txn.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "storage/events.h"

void room_txn_hash(char out[ROOM_TXN_HASH_HEX + 1], const char *const *parts, size_t n)
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    _Static_assert(ROOM_TXN_HASH_HEX == 2 * crypto_hash_sha256_BYTES, "hex SHA-256");
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < n; i++) {
        char pre[24];
        size_t len = strlen(parts[i]);
        int k = snprintf(pre, sizeof pre, "%zu:", len);
        crypto_hash_sha256_update(&st, (const unsigned char *)pre, (unsigned long long)k);
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], len);
    }
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, ROOM_TXN_HASH_HEX + 1, h, sizeof h);
}

int room_txn_key(char *buf, size_t n, const char *txn_id, const char *const *path,
                 size_t n_path)
{
    size_t len = strlen(txn_id);
    _Static_assert(DB_TXN_SCOPE_HEX == ROOM_TXN_HASH_HEX, "the scope is a path's hash");
    if (len + 1 + DB_TXN_SCOPE_HEX + 1 > n)
        return -1;
    memcpy(buf, txn_id, len);
    buf[len] = '\x1f';
    room_txn_hash(buf + len + 1, path, n_path);
    return 0;
}
