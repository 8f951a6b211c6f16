/* ssconn.h - connection state of native sliding sync (MSC4186 "Connections"): per user,
 * device and conn_id, what each issued `pos` stands for (a JSON snapshot: stream positions
 * and what was sent per room). Bounded memory (count, bytes, idle time); a forgotten, replaced
 * or superseded position answers M_UNKNOWN_POS, which clients handle by starting again.
 * Thread-safe. */
#ifndef AMTSBOTE_SSCONN_H
#define AMTSBOTE_SSCONN_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SSCONN_MAX 4096                     /* connections kept in all (LRU goes first) */
#define SSCONN_PER_DEVICE 10                /* connections kept per user and device */
#define SSCONN_SNAPS 4                      /* the presented snapshot + 3 answers to it */
#define SSCONN_BYTES (64 * 1024 * 1024)     /* all snapshots together (LRU goes first) */
#define SSCONN_SNAP_MAX (8 * 1024 * 1024)   /* one snapshot; a larger one is not kept */
#define SSCONN_IDLE_MS (12LL * 3600 * 1000) /* a connection unused this long is forgotten */

/* The snapshot `pos` stands for on connection (user_id, device_id, conn_id): 0 with *snap a
 * new object (the caller frees it), or -1 when the connection or pos is not known (never
 * issued to this user and device, replaced, superseded by a newer pos the client presented,
 * expired or forgotten). Presenting a pos acknowledges it: every older position of the
 * connection is forgotten, except the answers already issued to this pos (a retry's). */
int ssconn_get(const char *user_id, const char *device_id, const char *conn_id, const char *pos,
               json_t **snap);

/* The connection's room-list cache (what the newest response read: any JSON the caller
 * chose, see ssconn_put_cached), for a request that presented a good pos: a new object the
 * caller frees, with the position it stands for in *pos and its serial in *serial; or NULL
 * when none is kept. It is not part of any pos: a memory bound may drop it alone. */
json_t *ssconn_cache(const char *user_id, const char *device_id, const char *conn_id, int64_t *pos,
                     uint64_t *serial);

/* Whether `pos` is still good on the connection (as ssconn_get, without reading it): 1 or 0. */
int ssconn_valid(const char *user_id, const char *device_id, const char *conn_id, const char *pos);

/* Record `snap` (stolen) as the state after a response computed from `from` (the pos the
 * request presented; NULL for a new connection, which replaces an old one of the same
 * conn_id). Writes the new pos into out (at least 48 bytes) and returns 0; or returns -1
 * (out empty) when `from` is no longer good (the connection was replaced, expired, or the
 * client presented a newer pos meanwhile: the response must be M_UNKNOWN_POS and the old
 * connection is never revived), or when the snapshot cannot be kept (memory). */
int ssconn_put(const char *user_id, const char *device_id, const char *conn_id, const char *from,
               json_t *snap, char *out, size_t n);
/* As ssconn_put, and, when the answer is recorded, set the connection's cache: to `cache`
 * (borrowed) at position cache_pos; or, with cache NULL and `unchanged` the serial
 * ssconn_cache gave (the cache still holds at cache_pos: nothing moved), keep it and only
 * move its position, if no other request replaced it meanwhile; else drop it. */
int ssconn_put_cached(const char *user_id, const char *device_id, const char *conn_id,
                      const char *from, json_t *snap, const json_t *cache, int64_t cache_pos,
                      uint64_t unchanged, char *out, size_t n);

/* Drop the room-list caches of every connection of user_id (something changed their list
 * that the notifier does not name them for, e.g. a forgotten room). */
void ssconn_drop_caches(const char *user_id);

/* Forget the connections unused for idle_ms or more (SSCONN_IDLE_MS happens on its own at
 * every ssconn_put; tests pass 0). */
void ssconn_expire(int64_t idle_ms);

/* Bytes held by all snapshots (for tests and metrics). */
size_t ssconn_bytes(void);

/* Forget everything (at shutdown). */
void ssconn_cleanup(void);

#endif
