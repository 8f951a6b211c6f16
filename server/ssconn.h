/* ssconn.h - connection state of native sliding sync (MSC4186 "Connections"): per user,
 * device and conn_id, what each issued `pos` stands for (a JSON snapshot: stream positions
 * and what was sent per room). Bounded memory; a forgotten connection answers M_UNKNOWN_POS,
 * which clients handle by starting again. Thread-safe. */
#ifndef AMTSBOTE_SSCONN_H
#define AMTSBOTE_SSCONN_H
#include <jansson.h>
#include <stddef.h>

#define SSCONN_MAX 4096       /* connections kept in all (least recently used go first) */
#define SSCONN_PER_DEVICE 10  /* connections kept per user and device */

/* The snapshot `pos` stands for on connection (user_id, device_id, conn_id): 0 with *snap a
 * new deep copy (the caller frees it), or -1 when the connection or pos is not known (never
 * issued to this user and device, replaced, or forgotten). */
int ssconn_get(const char *user_id, const char *device_id, const char *conn_id, const char *pos,
               json_t **snap);

/* Record `snap` (stolen) as the state after a response computed from `from` (the pos the
 * request presented; NULL for a new connection, which replaces an old one of the same
 * conn_id). Writes the new pos into out (at least 48 bytes). Snapshots older than `from` are
 * dropped: the client acknowledged them by presenting `from`. */
void ssconn_put(const char *user_id, const char *device_id, const char *conn_id,
                const char *from, json_t *snap, char *out, size_t n);

/* Forget everything (at shutdown). */
void ssconn_cleanup(void);

#endif
