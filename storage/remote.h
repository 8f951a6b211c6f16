/* remote.h - SQL for what this server keeps of other servers (migration 0065): remote users'
 * device lists (the cache behind /keys/query for users sharing a room) and remote media. */
#ifndef AMTSBOTE_STORAGE_REMOTE_H
#define AMTSBOTE_STORAGE_REMOTE_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* --- remote device lists ------------------------------------------------------------------- */

/* Cached device lists of the users in `users` (borrowed array of user IDs): a new array of
 * {user_id, stream_id, stale (bool), devices (object), master_key, self_signing_key (objects
 * or null)} for those with a row, or NULL on error. */
json_t *db_remote_devices_get(struct dbc *c, const json_t *users);
/* Store a user's fetched list (JSON texts; master/self_signing may be NULL), not stale;
 * a fresh copy already past stream_id (an update applied while the list was fetched) is
 * kept. 0 or -1. */
int db_remote_devices_put(struct dbc *c, const char *user_id, int64_t stream_id,
                          const char *devices, const char *master_key, const char *self_signing_key,
                          int64_t now_ms);
/* Apply an m.device_list_update to a cached list: devices (JSON text) and stream_id replace
 * the row's, only while it is still at old_stream_id and not stale (else someone else got
 * there first: the caller marks it stale). 1 applied, 0 not, -1 error. */
int db_remote_devices_apply(struct dbc *c, const char *user_id, int64_t old_stream_id,
                            int64_t stream_id, const char *devices);
/* The remote user's device list changed (m.device_list_update / m.signing_key_update): the
 * cached copy, if any, is stale and fetched again on the next /keys/query. 0 or -1. */
int db_remote_devices_mark_stale(struct dbc *c, const char *user_id);
/* Forget the cached lists of `users` (borrowed array): they share no room with a local user
 * any more, so no update would reach us. 0 or -1. */
int db_remote_devices_forget(struct dbc *c, const json_t *users);
/* Of `users` (borrowed array), those joined to a room a user of `server_name` is joined to
 * (new array), or NULL. */
json_t *db_users_sharing_with_server(struct dbc *c, const json_t *users, const char *server_name);
/* The stream position of user_id's latest device-list change (0 when none) into *out: the
 * stream_id of GET /user/devices and of the m.device_list_update EDUs. 0 or -1. */
int db_device_list_stream_id(struct dbc *c, const char *user_id, int64_t *out);

/* --- remote media -------------------------------------------------------------------------- */

struct db_remote_media {
    char *content_type, *upload_name, *sha256; /* malloc'd; upload_name may be NULL */
    int64_t size;
};
void db_remote_media_clear(struct db_remote_media *m);
/* A cached remote file: 1 (fill *out; free with db_remote_media_clear), 0 none, -1. */
int db_remote_media_get(struct dbc *c, const char *server, const char *media_id,
                        struct db_remote_media *out);
/* Record a fetched file (a repeat keeps the first). 0 or -1. */
int db_remote_media_put(struct dbc *c, const char *server, const char *media_id,
                        const char *content_type, const char *upload_name, int64_t size,
                        const char *sha256, int64_t now_ms);
/* A cached remote thumbnail (content_type and sha256 in *out, upload_name NULL): 1, 0, -1. */
int db_remote_thumb_get(struct dbc *c, const char *server, const char *media_id, int width,
                        int height, const char *method, struct db_remote_media *out);
int db_remote_thumb_put(struct dbc *c, const char *server, const char *media_id, int width,
                        int height, const char *method, const char *content_type, int64_t size,
                        const char *sha256);

#endif
