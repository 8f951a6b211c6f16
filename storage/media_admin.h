/* media_admin.h - SQL for Synapse's media admin API (migration 0100): listing a user's media,
 * quarantine, protection and deletion. */
#ifndef AMTSBOTE_STORAGE_MEDIA_ADMIN_H
#define AMTSBOTE_STORAGE_MEDIA_ADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* user_id's local media, ordered by order_by (one of media_id, upload_name, created_ts,
 * last_access_ts, media_length, media_type, quarantined_by, safe_from_quarantine: the caller
 * checks) ascending or descending, then media_id: a new array of Synapse's media objects
 * (server_name is this server's, for quarantined_by), *total the user's count. NULL on error. */
json_t *db_admin_user_media(struct dbc *c, const char *user_id, const char *server_name,
                            const char *order_by, bool desc, int64_t from, int64_t limit,
                            int64_t *total);
/* Delete the media row media_id (its thumbnails go with it) and its quarantine: 1 with *out
 * (new object {sha256 (may be null), thumbs: [sha256...]}: the files the row used), 0
 * unknown, -1. */
int db_admin_media_delete(struct dbc *c, const char *media_id, const char *server_name,
                          json_t **out);
/* Whether any local or remote media row, or thumbnail when `thumb`, still uses the stored
 * file of sha256: 1, 0, -1. */
int db_admin_media_file_used(struct dbc *c, const char *sha256, bool thumb);
/* Local media IDs created before before_ts, larger than size_gt, not protected; with
 * keep_profiles not those a profile, a member event or a room avatar of the current state
 * names (mxc://server_name/id). At most `limit`: a new array; NULL on error. */
json_t *db_admin_media_older(struct dbc *c, const char *server_name, int64_t before_ts,
                             int64_t size_gt, bool keep_profiles, int limit);

/* Quarantine one piece of media (by the admin `by`); local media protected from quarantine is
 * left alone. 1 quarantined, 0 protected, -1. */
int db_media_quarantine(struct dbc *c, const char *server_name, const char *media_id, bool local,
                        const char *by, int64_t now_ms);
int db_media_unquarantine(struct dbc *c, const char *server_name, const char *media_id);
/* Quarantine every unprotected local media of user_id; the number newly quarantined, -1. */
int64_t db_media_quarantine_user(struct dbc *c, const char *user_id, const char *server_name,
                                 const char *by, int64_t now_ms);
/* 1 quarantined, 0 not, -1. */
int db_media_is_quarantined(struct dbc *c, const char *server_name, const char *media_id);
/* Protect (or not) local media from quarantine: 1 done, 0 unknown media, -1. */
int db_media_protect(struct dbc *c, const char *media_id, bool protect);
/* GET /_synapse/admin/v1/media/{server}/{id}: 1 with *out (new media_info object), 0 unknown
 * (remote media not cached), -1. */
int db_admin_media_info(struct dbc *c, const char *server_name, const char *media_id, bool local,
                        json_t **out);
/* The contents of a room's m.room.message and m.sticker events that mention mxc:// (at most
 * `limit`, newest first): a new array of objects; NULL on error. */
json_t *db_admin_room_media_contents(struct dbc *c, const char *room_id, int limit);
#endif
