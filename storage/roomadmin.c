/* roomadmin.c - SQL for Synapse's room admin API (migration 0100): what the room listing and
 * details read, blocked rooms, a room's purge, event reports and server-notice rooms.
 *
 * Event contents are read as the json type and extracted with -> (never ->> nor jsonb), so a
 * string holding \u0000 that another server put in a room name cannot fail the statement. */
#include "storage/roomadmin.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"
#include "storage/search.h"

/* The state types the listing shows, as one SQL list. */
#define ADMIN_STATE_TYPES                                                                          \
    "('m.room.create', 'm.room.name', 'm.room.topic', 'm.room.avatar', "                           \
    "'m.room.canonical_alias', 'm.room.join_rules', 'm.room.guest_access', "                       \
    "'m.room.history_visibility', 'm.room.encryption', 'm.room.tombstone')"

/* Membership rows of local users ($2 is ":" and the server name). */
#define LOCAL_MEMBER "right(m.state_key, length($2)) = $2"

json_t *db_admin_rooms(struct dbc *c, const char *room_id, const char *local_suffix)
{
    const char *p[] = {room_id, local_suffix};
    PGresult *res = db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object("
        "'room_id', r.room_id, 'version', r.room_version, 'creator', r.creator, "
        "'public', r.is_public, "
        "'joined_members', (SELECT count(*) FROM current_state m WHERE m.room_id = r.room_id "
        " AND m.type = 'm.room.member' AND m.membership = 'join'), "
        "'joined_local_members', (SELECT count(*) FROM current_state m WHERE m.room_id = "
        " r.room_id AND m.type = 'm.room.member' AND m.membership = 'join' AND " LOCAL_MEMBER "), "
        "'joined_local_devices', (SELECT count(*) FROM current_state m JOIN devices d ON "
        " d.user_id = m.state_key WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND "
        " m.membership = 'join' AND " LOCAL_MEMBER "), "
        "'state_events', (SELECT count(*) FROM current_state s WHERE s.room_id = r.room_id), "
        "'forgotten', EXISTS (SELECT 1 FROM room_forgotten f WHERE f.room_id = r.room_id) AND "
        " NOT EXISTS (SELECT 1 FROM current_state m WHERE m.room_id = r.room_id AND m.type = "
        " 'm.room.member' AND m.membership IN ('join', 'invite', 'knock') AND " LOCAL_MEMBER
        " AND NOT EXISTS (SELECT 1 FROM room_forgotten f WHERE f.room_id = r.room_id AND "
        " f.user_id = m.state_key)), "
        "'st', (SELECT json_object_agg(s.type, e.json::json -> 'content') FROM current_state s "
        " JOIN events e ON e.event_id = s.event_id WHERE s.room_id = r.room_id AND "
        " s.state_key = '' AND s.type IN " ADMIN_STATE_TYPES ")"
        ") ORDER BY r.room_id), '[]') FROM rooms r WHERE $1::text IS NULL OR r.room_id = $1",
        2, p);
    if (!res)
        return NULL;
    json_t *out = PQntuples(res) ? json_loads(db_val(res, 0, 0), JSON_ALLOW_NUL, NULL) : NULL;
    PQclear(res);
    return out;
}

json_t *db_admin_room_members(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_strings(db_exec(c,
                              "SELECT state_key FROM current_state WHERE room_id = $1 AND "
                              "type = 'm.room.member' AND membership = 'join' ORDER BY state_key",
                              1, p));
}

json_t *db_admin_room_state(struct dbc *c, const char *room_id, const char *type)
{
    const char *p[] = {room_id, type};
    PGresult *res = db_exec(c,
                            "SELECT e.json, e.event_id, e.redacted_by FROM current_state s JOIN "
                            "events e ON e.event_id = s.event_id WHERE s.room_id = $1 AND "
                            "($2::text IS NULL OR s.type = $2) ORDER BY s.type, s.state_key",
                            2, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *pdu = json_loads(db_val(res, i, 0), JSON_ALLOW_NUL, NULL);
        if (!pdu)
            continue;
        const char *red = db_val(res, i, 2);
        json_array_append_new(out, json_pack("{s:o,s:s,s:s?}", "pdu", pdu, "event_id",
                                             db_val(res, i, 1), "redacted_by", red));
    }
    PQclear(res);
    return out;
}

json_t *db_admin_room_extremities(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c,
                            "SELECT coalesce(json_agg(json_build_object('event_id', x.event_id, "
                            "'state_group', e.state_group, 'depth', e.depth, 'received_ts', "
                            "NULL) ORDER BY e.depth DESC, x.event_id), '[]')::text FROM "
                            "room_extremities x LEFT JOIN events e ON e.event_id = x.event_id "
                            "WHERE x.room_id = $1",
                            1, p);
    if (!res)
        return NULL;
    json_t *out = json_loads(db_val(res, 0, 0), 0, NULL);
    PQclear(res);
    return out;
}

json_t *db_admin_room_local_members(struct dbc *c, const char *room_id, const char *local_suffix)
{
    const char *p[] = {room_id, local_suffix};
    PGresult *res = db_exec(c,
                            "SELECT m.state_key, m.membership FROM current_state m WHERE "
                            "m.room_id = $1 AND m.type = 'm.room.member' AND m.membership IN "
                            "('join', 'invite', 'knock') AND " LOCAL_MEMBER " ORDER BY 1",
                            2, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(out, json_pack("[ss]", db_val(res, i, 0), db_val(res, i, 1)));
    PQclear(res);
    return out;
}

int db_blocked_room_get(struct dbc *c, const char *room_id, char **by)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c, "SELECT user_id FROM blocked_rooms WHERE room_id = $1", 1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (by)
        *by = found ? strdup(db_val(res, 0, 0)) : NULL;
    PQclear(res);
    return found;
}

int db_blocked_room_set(struct dbc *c, const char *room_id, bool block, const char *user_id,
                        int64_t now_ms)
{
    char ts[24];
    const char *p[] = {room_id, user_id, db_i64(ts, now_ms)};
    if (!block)
        return db_run(c, "DELETE FROM blocked_rooms WHERE room_id = $1", 1, p);
    return db_run(c,
                  "INSERT INTO blocked_rooms (room_id, user_id, created_ts) VALUES ($1, $2, $3) "
                  "ON CONFLICT (room_id) DO NOTHING",
                  3, p);
}

int db_room_purge(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    /* Tables without a foreign key to rooms; the rest (events and through them event_edges,
     * extremities, state groups and their entries, current state, forgotten, aliases,
     * pending redactions) go with the rooms row, ON DELETE CASCADE. */
    static const char *const purge[] = {
        "DELETE FROM event_txns WHERE event_id IN (SELECT event_id FROM events WHERE "
        "room_id = $1)",
        "DELETE FROM event_relations WHERE room_id = $1",
        "DELETE FROM event_search WHERE room_id = $1",
        "DELETE FROM event_push_actions WHERE room_id = $1",
        "DELETE FROM push_queue WHERE room_id = $1",
        "DELETE FROM receipts WHERE room_id = $1",
        "DELETE FROM account_data WHERE room_id = $1",
        "DELETE FROM sync_lazy_members WHERE room_id = $1",
        "DELETE FROM remote_memberships WHERE room_id = $1",
        "DELETE FROM server_notice_rooms WHERE room_id = $1",
        /* state groups reference their parents: all of the room's go in one statement */
        "DELETE FROM current_state WHERE room_id = $1",
        "DELETE FROM events WHERE room_id = $1",
        "DELETE FROM state_groups WHERE room_id = $1",
        "DELETE FROM rooms WHERE room_id = $1",
    };
    if (db_begin(c) < 0)
        return -1;
    if (db_search_fence(c) < 0) /* first: the indexer adds no rows for what goes below */
        goto fail;
    PGresult *res = db_exec(c, "SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", 1, p);
    if (!res)
        goto fail;
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (!found) {
        db_rollback(c);
        return 0;
    }
    for (size_t i = 0; i < sizeof purge / sizeof purge[0]; i++)
        if (db_run(c, purge[i], 1, p) < 0)
            goto fail;
    if (db_commit(c) < 0)
        goto fail;
    return 1;
fail:
    db_rollback(c);
    return -1;
}

/* Synapse's report fields; $1 room filter, $2 reporter filter. */
#define REPORT_FIELDS_SQL                                                                          \
    "'id', r.id, 'received_ts', r.received_ts, 'room_id', r.room_id, 'event_id', "                 \
    "r.event_id, 'user_id', r.user_id, 'reason', r.reason, 'score', r.score, 'sender', "           \
    "e.sender, 'name', (SELECT n.json::json -> 'content' -> 'name' FROM current_state s JOIN "     \
    "events n ON n.event_id = s.event_id WHERE s.room_id = r.room_id AND s.type = "                \
    "'m.room.name' AND s.state_key = ''), 'canonical_alias', (SELECT n.json::json -> "             \
    "'content' -> 'alias' FROM current_state s JOIN events n ON n.event_id = s.event_id "          \
    "WHERE s.room_id = r.room_id AND s.type = 'm.room.canonical_alias' AND s.state_key = '')"

json_t *db_event_reports(struct dbc *c, int64_t from, int64_t limit, bool forwards,
                         const char *room_id, const char *user_id, const char *sender,
                         int64_t *total)
{
    char f[24], l[24];
    const char *p[] = {room_id, user_id, db_i64(f, from), db_i64(l, limit), forwards ? "f" : "b",
                       sender};
    PGresult *res = db_exec(
        c,
        "WITH m AS (SELECT r.*, count(*) OVER () AS total FROM event_reports r WHERE "
        "r.event_id IS NOT NULL AND ($1::text IS NULL OR r.room_id = $1) AND ($2::text IS NULL "
        "OR r.user_id = $2) AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM events s WHERE "
        "s.event_id = r.event_id AND s.sender = $6)) ORDER BY CASE WHEN $5 = 'f' THEN r.id END "
        "ASC, CASE WHEN $5 = 'b' "
        "THEN r.id END DESC LIMIT $4 OFFSET $3) "
        "SELECT json_build_object(" REPORT_FIELDS_SQL "), r.total FROM m r LEFT JOIN events e ON "
        "e.event_id = r.event_id ORDER BY CASE WHEN $5 = 'f' THEN r.id END ASC, CASE WHEN "
        "$5 = 'b' THEN r.id END DESC",
        6, p);
    if (!res)
        return NULL;
    json_t *out = json_array();
    *total = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *o = json_loads(db_val(res, i, 0), JSON_ALLOW_NUL, NULL);
        if (o)
            json_array_append_new(out, o);
        *total = db_int(res, i, 1);
    }
    PQclear(res);
    if (!*total && from > 0) { /* past the end: still tell the total */
        const char *q[] = {room_id, user_id, sender};
        res = db_exec(c,
                      "SELECT count(*) FROM event_reports r WHERE r.event_id IS NOT NULL AND "
                      "($1::text IS NULL OR r.room_id = $1) AND ($2::text IS NULL OR "
                      "r.user_id = $2) AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM events s "
                      "WHERE s.event_id = r.event_id AND s.sender = $3))",
                      3, q);
        if (res) {
            *total = db_int(res, 0, 0);
            PQclear(res);
        }
    }
    return out;
}

int db_event_report_get(struct dbc *c, int64_t id, json_t **out)
{
    char i[24];
    const char *p[] = {db_i64(i, id)};
    PGresult *res = db_exec(c,
                            "SELECT json_build_object(" REPORT_FIELDS_SQL ", 'event_json', "
                            "e.json::json) FROM event_reports r LEFT JOIN events e ON "
                            "e.event_id = r.event_id WHERE r.id = $1 AND r.event_id IS NOT NULL",
                            1, p);
    if (!res)
        return -1;
    *out = PQntuples(res) ? json_loads(db_val(res, 0, 0), JSON_ALLOW_NUL, NULL) : NULL;
    PQclear(res);
    return *out ? 1 : 0;
}

int db_event_report_delete(struct dbc *c, int64_t id)
{
    char i[24];
    const char *p[] = {db_i64(i, id)};
    return db_affected_one(
        db_exec(c, "DELETE FROM event_reports WHERE id = $1 AND event_id IS NOT NULL", 1, p));
}

int db_notice_room_get(struct dbc *c, const char *user_id, char **room_id)
{
    const char *p[] = {user_id};
    *room_id = NULL;
    if (db_string(db_exec(c, "SELECT room_id FROM server_notice_rooms WHERE user_id = $1", 1, p),
                  room_id) < 0)
        return -1;
    return *room_id != NULL;
}

int db_notice_room_set(struct dbc *c, const char *user_id, const char *room_id)
{
    const char *p[] = {user_id, room_id};
    return db_run(c,
                  "INSERT INTO server_notice_rooms (user_id, room_id) VALUES ($1, $2) "
                  "ON CONFLICT (user_id) DO UPDATE SET room_id = $2",
                  2, p);
}
