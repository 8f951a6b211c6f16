/* media_admin.h - Synapse's media admin API (docs/admin_api/media_admin_api.md, and "User
 * media" in user_admin_api.md): listing, quarantine, protection and deletion of media. Every
 * function answers 0 with *out (a new object, Synapse's answer) or -1 with *err. */
#ifndef AMTSBOTE_MEDIA_ADMIN_H
#define AMTSBOTE_MEDIA_ADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/media.h"

/* GET /users/{userId}/media: order_by NULL (created_ts, newest first unless dir was given:
 * `dir` NULL) or one of Synapse's keys (400 M_INVALID_PARAM otherwise). {media, total,
 * next_token?}. */
int media_admin_user_list(const char *user_id, int64_t from, int64_t limit, const char *order_by,
                          const char *dir, json_t **out, struct media_error *err);
/* DELETE /users/{userId}/media: the same selection (from ignored), deleted. {deleted_media,
 * total}. */
int media_admin_user_delete(const char *user_id, int64_t limit, const char *order_by,
                            const char *dir, json_t **out, struct media_error *err);
/* GET /room/{roomId}/media: the mxc URIs of the room's unencrypted messages {local, remote}. */
int media_admin_room_list(const char *room_id, json_t **out, struct media_error *err);
/* POST /media/quarantine|unquarantine/{server}/{id} ({}), by the admin `by`. */
int media_admin_quarantine(const char *server, const char *media_id, bool on, const char *by,
                           json_t **out, struct media_error *err);
/* POST /room/{roomId}/media/quarantine and /user/{userId}/media/quarantine: {num_quarantined}. */
int media_admin_quarantine_room(const char *room_id, const char *by, json_t **out,
                                struct media_error *err);
int media_admin_quarantine_user(const char *user_id, const char *by, json_t **out,
                                struct media_error *err);
/* POST /media/protect|unprotect/{id} ({}; 404 for unknown local media). */
int media_admin_protect(const char *media_id, bool on, json_t **out, struct media_error *err);
/* DELETE /media/{server}/{id}: the row, its thumbnails and the files nothing else uses
 * (400 for another server's media, 404 unknown). {deleted_media, total}. */
int media_admin_delete(const char *server, const char *media_id, json_t **out,
                       struct media_error *err);
/* POST /media/delete?before_ts&size_gt&keep_profiles: local media created before before_ts
 * (at most MEDIA_ADMIN_DELETE_MAX at once). {deleted_media, total}. */
#define MEDIA_ADMIN_DELETE_MAX 10000
int media_admin_delete_older(int64_t before_ts, int64_t size_gt, bool keep_profiles, json_t **out,
                             struct media_error *err);
/* GET /media/{server}/{id}: {media_info} (404 unknown, or remote media not cached). */
int media_admin_info(const char *server, const char *media_id, json_t **out,
                     struct media_error *err);
#endif
