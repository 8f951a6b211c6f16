/* room_txn.h - the key of a client transaction (Client-Server API "Transaction identifiers"),
 * which struct room_txn (server/room.h) carries as its txn_id. */
#ifndef AMTSBOTE_ROOM_TXN_H
#define AMTSBOTE_ROOM_TXN_H
#include <stddef.h>

/* Bytes a key needs at most for a txnId of up to 255 bytes, NUL included. */
#define ROOM_TXN_KEY_MAX 330

/* Hex digits of room_txn_hash. */
#define ROOM_TXN_HASH_HEX 64

/* The SHA-256 (lower-case hex, NUL-terminated) of parts[0..n), each hashed as "<byte
 * length>:<bytes>", so that no byte inside a part can make two lists alike. */
void room_txn_hash(char out[ROOM_TXN_HASH_HEX + 1], const char *const *parts, size_t n);

/* Write into buf (n bytes) the key of the client's txn_id sent on the request path whose
 * parts (the endpoint's name and its other path parameters, in order, e.g. {"send", room_id,
 * event_type}) are path[0..n_path): txn_id, "\x1f", then room_txn_hash of the parts
 * (storage/events.h reads the two back). Two requests are the same transaction exactly when
 * their keys are equal: the same txnId on the same path (the device is compared beside the
 * key). Returns 0, or -1 if the key does not fit in n. */
int room_txn_key(char *buf, size_t n, const char *txn_id, const char *const *path,
                 size_t n_path);
#endif
