/* fedmember.c - storage for the federation membership handshakes (Server-Server API "Joining
 * Rooms", "Inviting to a room", "Knocking upon a room", "Leaving Rooms"): the current state
 * and auth chain a resident server answers /send_join with, the servers of a room's joined
 * members (where a local event must go), and remote_memberships (migration 0055): local users'
 * invites, knocks and rejections in rooms this server is not in. */
#include "storage/fedmember.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

json_t *db_fed_current_state_pdus(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_json(db_exec(c,
                           "SELECT coalesce(json_agg(e.json::json ORDER BY e.depth, e.event_id), "
                           "'[]'::json) FROM current_state cs JOIN events e ON e.event_id = "
                           "cs.event_id WHERE cs.room_id = $1",
                           1, p));
}

json_t *db_fed_stripped_pdus(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_json(db_exec(c,
                           "SELECT coalesce(json_agg(e.json::json ORDER BY e.depth), '[]'::json) "
                           "FROM current_state cs JOIN events e ON e.event_id = cs.event_id "
                           "WHERE cs.room_id = $1 AND cs.state_key = '' AND cs.type IN "
                           "('m.room.create', 'm.room.join_rules', 'm.room.name', "
                           "'m.room.avatar', 'm.room.canonical_alias', 'm.room.topic', "
                           "'m.room.encryption')",
                           1, p));
}

json_t *db_fed_auth_chain(struct dbc *c, const json_t *ids, int limit)
{
    char *text = json_dumps(ids, JSON_COMPACT);
    char lim[24];
    if (!text)
        return NULL;
    const char *p[] = {text, db_i64(lim, limit)};
    /* auth_events entries are event IDs from room version 3 on, [id, hashes] before */
    json_t *out = db_json(db_exec(
        c,
        "WITH RECURSIVE chain(id) AS (SELECT CASE jsonb_typeof(a) WHEN 'array' THEN a->>0 ELSE "
        "a #>> '{}' END FROM events e CROSS JOIN LATERAL jsonb_array_elements((e.json::jsonb)"
        "->'auth_events') a WHERE e.event_id IN (SELECT jsonb_array_elements_text($1::jsonb)) "
        "UNION SELECT CASE jsonb_typeof(a) WHEN 'array' THEN a->>0 ELSE a #>> '{}' END FROM "
        "chain ch JOIN events e ON e.event_id = ch.id CROSS JOIN LATERAL "
        "jsonb_array_elements((e.json::jsonb)->'auth_events') a) "
        "SELECT coalesce(json_agg(t.j ORDER BY t.depth, t.event_id), '[]'::json) FROM (SELECT "
        "e.json::json AS j, e.depth, e.event_id FROM events e WHERE e.event_id IN (SELECT id "
        "FROM chain) LIMIT $2::bigint) t",
        2, p));
    free(text);
    return out;
}

json_t *db_fed_servers_in_room(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_strings(db_exec(c,
                              "SELECT DISTINCT substr(state_key, strpos(state_key, ':') + 1) AS s "
                              "FROM current_state WHERE room_id = $1 AND type = 'm.room.member' "
                              "AND membership = 'join' ORDER BY s",
                              1, p));
}

void db_remote_membership_clear(struct db_remote_membership *m)
{
    free(m->membership);
    free(m->event_id);
    free(m->room_version);
    free(m->sender);
    json_decref(m->servers);
    json_decref(m->stripped);
    json_decref(m->pdu);
    memset(m, 0, sizeof *m);
}

int db_remote_membership_put(struct dbc *c, const char *user_id, const char *room_id,
                             const char *membership, const char *event_id, const char *room_version,
                             const char *sender, const json_t *servers, const json_t *stripped,
                             const char *pdu, int64_t *stream)
{
    char *sv = json_dumps(servers, JSON_COMPACT), *st = json_dumps(stripped, JSON_COMPACT);
    int rc = -1;
    if (sv && st) {
        const char *p[] = {user_id, room_id, membership, event_id, room_version,
                           sender,  sv,      st,         pdu};
        PGresult *res = db_exec(
            c,
            "INSERT INTO remote_memberships (user_id, room_id, membership, event_id, "
            "room_version, sender, servers, stripped, pdu, stream_ordering) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7::json, $8::json, $9, nextval('stream_ordering_seq')) ON CONFLICT "
            "(user_id, room_id) DO UPDATE SET membership = $3, event_id = $4, room_version = $5, "
            "sender = $6, servers = $7::json, stripped = $8::json, pdu = $9, stream_ordering = "
            "EXCLUDED.stream_ordering RETURNING stream_ordering",
            9, p);
        if (res && PQntuples(res) == 1) {
            *stream = db_int(res, 0, 0);
            rc = 0;
        }
        PQclear(res);
    }
    free(sv);
    free(st);
    return rc;
}

int db_remote_membership_get(struct dbc *c, const char *user_id, const char *room_id,
                             struct db_remote_membership *out)
{
    const char *p[] = {user_id, room_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT membership, event_id, room_version, sender, servers, "
                            "stripped, pdu, stream_ordering FROM remote_memberships WHERE "
                            "user_id = $1 AND room_id = $2",
                            2, p);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    out->membership = strdup(db_val(res, 0, 0));
    out->event_id = strdup(db_val(res, 0, 1));
    out->room_version = strdup(db_val(res, 0, 2));
    out->sender = strdup(db_val(res, 0, 3));
    out->servers = json_loads(db_val(res, 0, 4), 0, NULL);
    out->stripped = json_loads(db_val(res, 0, 5), 0, NULL);
    out->pdu = json_loads(db_val(res, 0, 6), 0, NULL);
    out->stream = db_int(res, 0, 7);
    PQclear(res);
    if (!out->membership || !out->event_id || !out->room_version || !out->sender || !out->servers ||
        !out->stripped || !out->pdu) {
        db_remote_membership_clear(out);
        return -1;
    }
    return 1;
}
