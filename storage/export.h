/* export.h - SQL reading everything stored about one user, for export-data (GDPR Art. 15
 * and 20). Every function returns a new JSON value, or NULL on error. */
#ifndef AMTSBOTE_STORAGE_EXPORT_H
#define AMTSBOTE_STORAGE_EXPORT_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* {user_id, displayname, avatar_url, admin, deactivated, created_ts}, or JSON null when there
 * is no such user. */
json_t *db_export_profile(struct dbc *c, const char *user_id);
/* [{device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent}] */
json_t *db_export_devices(struct dbc *c, const char *user_id);
/* [{room_id ("" for global), type, content}] */
json_t *db_export_account_data(struct dbc *c, const char *user_id);
/* [{room_id, membership, event_id, forgotten, remote}]: every room the user has a membership
 * in, also invites, knocks and rejections in rooms of other servers this one is not in
 * (remote: true). */
json_t *db_export_rooms(struct dbc *c, const char *user_id);
/* Up to `limit` events the user sent, after (after_room, after_nid) in (room_id, event_nid)
 * order: [{nid, room_id, pdu}] with pdu the stored PDU object. Start with after_room "" and
 * after_nid 0. */
json_t *db_export_events(struct dbc *c, const char *user_id, const char *after_room,
                         int64_t after_nid, int limit);
/* [{media_id, content_type, upload_name, size, sha256, created_ts}] the user uploaded. */
json_t *db_export_media(struct dbc *c, const char *user_id);

#endif
