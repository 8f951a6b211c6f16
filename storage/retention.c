/* retention.c - SQL of the data-protection duties: message retention purges (MSC1763, as
 * Synapse implements it), stale devices, old IP records and redacted content.
 *
 * Invariants:
 *   1. A purge never deletes a state event, an outlier, a forward extremity or the room's
 *      newest event: the DAG keeps its tips and every state group stays resolvable, so the room
 *      goes on (Synapse's purge keeps state events and the extremities the same way).
 *   2. Everything keyed by a purged event ID (relations, search rows, push actions, queued
 *      pushes, transaction IDs, pending redactions) goes in the same statement as the event;
 *      the search indexer is fenced off meanwhile (storage/search.c), so it cannot index a
 *      purged event after its search row was deleted.
 *   3. A media file on disk is reported for unlinking only when no other row (local or remote
 *      media, of the same kind) names its SHA-256: identical uploads share one file. */
#include "storage/retention.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"
#include "storage/search.h"

/* Rows a command changed (res cleared), or -1 when it failed. */
static long affected(PGresult *res)
{
    if (!res)
        return -1;
    long n = db_affected(res);
    PQclear(res);
    return n;
}

int db_retention_policy(struct dbc *c, const char *room_id, json_t **content)
{
    const char *p[] = {room_id};
    *content = NULL;
    json_t *v = db_json(db_exec(c,
                                "SELECT (e.json::json)->'content' FROM current_state s JOIN events "
                                "e ON e.event_id = s.event_id WHERE s.room_id = $1 AND s.type = "
                                "'m.room.retention' AND s.state_key = ''",
                                1, p));
    if (!v)
        return -1;
    if (json_is_object(v))
        *content = v;
    else
        json_decref(v);
    return 0;
}

json_t *db_retention_rooms(struct dbc *c, const char *after, int limit)
{
    char lim[24];
    const char *p[] = {after ? after : "", db_i64(lim, limit)};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_array(r.room_id, (SELECT (e.json::json)->'content' "
        "FROM current_state s JOIN events e ON e.event_id = s.event_id WHERE s.room_id = "
        "r.room_id AND s.type = 'm.room.retention' AND s.state_key = '')) ORDER BY r.room_id), "
        "'[]') FROM (SELECT room_id FROM rooms WHERE room_id > $1 ORDER BY room_id LIMIT $2) r",
        2, p));
}

json_t *db_retention_purge(struct dbc *c, const char *room_id, int64_t before_ts, int limit)
{
    char ts[24], lim[24];
    const char *p[] = {room_id, db_i64(ts, before_ts), db_i64(lim, limit)};
    if (db_begin(c) < 0)
        return NULL;
    if (db_search_fence(c) < 0) {
        db_rollback(c);
        return NULL;
    }
    json_t *out = db_json(db_exec(
        c,
        "WITH doomed AS (SELECT e.event_nid, e.event_id FROM events e WHERE e.room_id = $1 AND "
        "e.state_key IS NULL AND NOT e.outlier AND e.stream_ordering IS NOT NULL AND "
        "e.origin_server_ts < $2 AND e.stream_ordering < (SELECT max(stream_ordering) FROM "
        "events WHERE room_id = $1) AND NOT EXISTS (SELECT 1 FROM room_extremities x WHERE "
        "x.room_id = $1 AND x.event_id = e.event_id) ORDER BY e.stream_ordering LIMIT $3), "
        "rel AS (DELETE FROM event_relations WHERE event_id IN (SELECT event_id FROM doomed)), "
        "srch AS (DELETE FROM event_search WHERE event_id IN (SELECT event_id FROM doomed)), "
        "pa AS (DELETE FROM event_push_actions WHERE room_id = $1 AND event_id IN (SELECT "
        "event_id FROM doomed)), "
        "pq AS (DELETE FROM push_queue WHERE event_id IN (SELECT event_id FROM doomed)), "
        "tx AS (DELETE FROM event_txns WHERE event_id IN (SELECT event_id FROM doomed)), "
        "pr AS (DELETE FROM pending_redactions WHERE room_id = $1 AND redaction_id IN (SELECT "
        "event_id FROM doomed)), "
        "gone AS (DELETE FROM events WHERE event_nid IN (SELECT event_nid FROM doomed) "
        "RETURNING json) "
        "SELECT coalesce(json_agg((json::json)->'content'), '[]') FROM gone",
        3, p));
    if (!out || db_commit(c) < 0) {
        db_rollback(c);
        json_decref(out);
        return NULL;
    }
    return out;
}

int db_retention_mxc_referenced(struct dbc *c, const char *mxc)
{
    const char *p[] = {mxc};
    PGresult *res = db_exec(c,
                            "SELECT EXISTS (SELECT 1 FROM events WHERE strpos(json, $1) > 0) OR "
                            "EXISTS (SELECT 1 FROM users WHERE avatar_url = $1)",
                            1, p);
    if (!res)
        return -1;
    int r = PQntuples(res) == 1 && db_bool(res, 0, 0);
    PQclear(res);
    return r;
}

int db_retention_media_delete(struct dbc *c, const char *media_id, json_t **files)
{
    const char *p[] = {media_id};
    *files = NULL;
    json_t *v = db_json(db_exec(
        c,
        "WITH th AS (DELETE FROM media_thumbnails WHERE media_id = $1 RETURNING sha256), "
        "m AS (DELETE FROM media WHERE media_id = $1 RETURNING sha256) "
        "SELECT json_build_object('n', (SELECT count(*) FROM m), "
        "'media', (SELECT coalesce(json_agg(DISTINCT sha256), '[]') FROM m WHERE sha256 IS NOT "
        "NULL AND NOT EXISTS (SELECT 1 FROM media x WHERE x.sha256 = m.sha256 AND x.media_id <> "
        "$1) AND NOT EXISTS (SELECT 1 FROM remote_media r WHERE r.sha256 = m.sha256)), "
        "'thumbnails', (SELECT coalesce(json_agg(DISTINCT sha256), '[]') FROM th WHERE NOT "
        "EXISTS (SELECT 1 FROM media_thumbnails x WHERE x.sha256 = th.sha256 AND x.media_id <> "
        "$1) AND NOT EXISTS (SELECT 1 FROM remote_media_thumbnails r WHERE r.sha256 = "
        "th.sha256)))",
        1, p));
    if (!json_is_object(v)) {
        json_decref(v);
        return -1;
    }
    int n = (int)json_integer_value(json_object_get(v, "n"));
    json_object_del(v, "n");
    *files = v;
    return n > 0;
}

json_t *db_privacy_stale_devices(struct dbc *c, int64_t before_ts, int limit)
{
    char ts[24], lim[24];
    const char *p[] = {db_i64(ts, before_ts), db_i64(lim, limit)};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_array(d.user_id, d.device_id)), '[]') FROM (SELECT "
        "user_id, device_id FROM devices v WHERE coalesce(v.last_seen_ts, v.created_ts) < $1 AND "
        "NOT EXISTS (SELECT 1 FROM dehydrated_devices h WHERE h.user_id = v.user_id AND "
        "h.device_id = v.device_id) ORDER BY user_id, device_id LIMIT $2) d",
        2, p));
}

long db_privacy_forget_ips(struct dbc *c, int64_t before_ts)
{
    char ts[24];
    const char *p[] = {db_i64(ts, before_ts)};
    return affected(db_exec(c,
                            "UPDATE devices SET last_seen_ip = NULL, last_seen_user_agent = "
                            "NULL WHERE last_seen_ts < $1 AND (last_seen_ip IS NOT NULL OR "
                            "last_seen_user_agent IS NOT NULL)",
                            1, p));
}

long db_privacy_erase_redacted(struct dbc *c, int64_t before_ts)
{
    char ts[24];
    const char *p[] = {db_i64(ts, before_ts)};
    return affected(db_exec(c,
                            "DELETE FROM event_search s USING events e, events r WHERE "
                            "e.event_id = s.event_id AND e.redacted_by = r.event_id AND "
                            "r.origin_server_ts < $1",
                            1, p));
}
