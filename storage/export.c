/* export.c - SQL reading everything stored about one user for export-data (server/export.c):
 * profile, devices (with their last-seen connection), account data, memberships, the events
 * they sent and the media they uploaded. Read-only; each answer is built as JSON by
 * PostgreSQL. Events are read in pages (keyset on room_id, event_nid) so that a user with
 * millions of events never sits in memory at once. */
#include "storage/export.h"

#include "storage/db_internal.h"

json_t *db_export_profile(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(c,
                           "SELECT json_build_object('user_id', user_id, 'displayname', "
                           "displayname, 'avatar_url', avatar_url, 'admin', admin, "
                           "'deactivated', deactivated, 'created_ts', created_ts) FROM users "
                           "WHERE user_id = $1",
                           1, p));
}

json_t *db_export_devices(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('device_id', device_id, 'display_name', "
        "display_name, 'created_ts', created_ts, 'last_seen_ts', last_seen_ts, 'last_seen_ip', "
        "last_seen_ip, 'last_seen_user_agent', last_seen_user_agent) ORDER BY device_id), '[]') "
        "FROM devices WHERE user_id = $1",
        1, p));
}

json_t *db_export_account_data(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(c,
                           "SELECT coalesce(json_agg(json_build_object('room_id', room_id, "
                           "'type', type, 'content', content::json) ORDER BY room_id, type), "
                           "'[]') FROM account_data WHERE user_id = $1 AND content <> '{}'",
                           1, p));
}

json_t *db_export_rooms(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('room_id', m.room_id, 'membership', "
        "m.membership, 'event_id', m.event_id, 'forgotten', EXISTS (SELECT 1 FROM room_forgotten "
        "f WHERE f.user_id = $1 AND f.room_id = m.room_id), 'remote', m.remote) ORDER BY "
        "m.room_id), '[]') FROM (SELECT room_id, membership, event_id, false AS remote FROM "
        "current_state WHERE type = 'm.room.member' AND state_key = $1 UNION ALL SELECT r.room_id, "
        "r.membership, r.event_id, true FROM remote_memberships r WHERE r.user_id = $1 AND NOT "
        "EXISTS (SELECT 1 FROM current_state c WHERE c.room_id = r.room_id AND c.type = "
        "'m.room.member' AND c.state_key = $1)) m",
        1, p));
}

json_t *db_export_events(struct dbc *c, const char *user_id, const char *after_room,
                         int64_t after_nid, int limit)
{
    char nid[24], lim[24];
    const char *p[] = {user_id, after_room, db_i64(nid, after_nid), db_i64(lim, limit)};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('nid', event_nid, 'room_id', room_id, 'pdu', "
        "json::json) ORDER BY room_id, event_nid), '[]') FROM (SELECT event_nid, room_id, json "
        "FROM events WHERE sender = $1 AND rejected IS NULL AND (room_id, event_nid) > ($2, "
        "$3::bigint) ORDER BY room_id, event_nid LIMIT $4) e",
        4, p));
}

json_t *db_export_media(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(c,
                           "SELECT coalesce(json_agg(json_build_object('media_id', media_id, "
                           "'content_type', content_type, 'upload_name', upload_name, 'size', "
                           "size, 'sha256', sha256, 'created_ts', created_ts) ORDER BY "
                           "created_ts, media_id), '[]') FROM media WHERE user_id = $1",
                           1, p));
}
