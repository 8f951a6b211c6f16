/* slidingsync.c - the room list of native sliding sync (MSC4186 "Lists", "Activity
 * ordering"): per room of the user, the orderings a list is sorted by and the facts its
 * filters test, in one query; and the children of spaces for the `spaces` filter. The
 * per-room reads (timelines, state, summaries) are those of /sync (storage/sync.c). */
#include "storage/slidingsync.h"

#include <stdlib.h>

#include "storage/db_internal.h"

json_t *db_ss_rooms(struct dbc *c, const char *user_id, int64_t upto, const json_t *bump_types)
{
    char u[24];
    char *bt = json_dumps(bump_types, JSON_COMPACT);
    if (!bt)
        return NULL;
    const char *p[] = {user_id, db_i64(u, upto), bt};
    /* a user no longer joined sees activity only up to their membership event */
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('room_id', cs.room_id, 'membership', "
        "cs.membership, 'event_id', cs.event_id, 'stream', e.stream_ordering, 'depth', "
        "e.depth, 'sender', e.sender, 'last', coalesce(l.s, e.stream_ordering), 'bump', "
        "coalesce(b.s, 0), 'encrypted', EXISTS (SELECT 1 FROM current_state x WHERE x.room_id "
        "= cs.room_id AND x.type = 'm.room.encryption' AND x.state_key = ''), 'room_type', "
        "(SELECT (ce.json::json) -> 'content' -> 'type' FROM current_state x JOIN events ce ON "
        "ce.event_id = x.event_id WHERE x.room_id = cs.room_id AND x.type = 'm.room.create' "
        "AND x.state_key = ''), 'tags', (SELECT a.content::json -> 'tags' FROM account_data a "
        "WHERE a.user_id = $1 AND a.room_id = cs.room_id AND a.type = 'm.tag'))), '[]'::json) "
        "FROM current_state cs JOIN events e ON e.event_id = cs.event_id "
        "CROSS JOIN LATERAL (SELECT CASE WHEN cs.membership = 'join' THEN $2::bigint ELSE "
        "least($2::bigint, e.stream_ordering) END AS lim) m "
        "LEFT JOIN LATERAL (SELECT le.stream_ordering AS s FROM events le WHERE le.room_id = "
        "cs.room_id AND le.stream_ordering <= m.lim AND le.rejected IS NULL ORDER BY "
        "le.stream_ordering DESC LIMIT 1) l ON true "
        "LEFT JOIN LATERAL (SELECT be.stream_ordering AS s FROM events be WHERE be.room_id = "
        "cs.room_id AND be.stream_ordering <= m.lim AND be.rejected IS NULL AND be.type IN "
        "(SELECT jsonb_array_elements_text($3::jsonb)) ORDER BY be.stream_ordering DESC "
        "LIMIT 1) b ON true "
        "WHERE cs.type = 'm.room.member' AND cs.state_key = $1 AND e.stream_ordering <= $2 "
        "AND NOT EXISTS (SELECT 1 FROM room_forgotten f WHERE f.user_id = $1 AND f.room_id = "
        "cs.room_id)",
        3, p));
    free(bt);
    return v;
}

json_t *db_ss_rooms_moved(struct dbc *c, const json_t *rooms, int64_t since, int64_t upto,
                          const json_t *bump_types)
{
    char sn[24], u[24];
    char *r = json_dumps(rooms, JSON_COMPACT);
    char *bt = json_dumps(bump_types, JSON_COMPACT);
    json_t *v = NULL;
    if (r && bt) {
        const char *p[] = {r, db_i64(sn, since), db_i64(u, upto), bt};
        v = db_json(db_exec(
            c,
            "WITH bt AS (SELECT array_agg(t) AS a FROM jsonb_array_elements_text($4::jsonb) t) "
            "SELECT coalesce(json_object_agg(room_id, json_build_object('last', last, 'bump', "
            "bump, 'encrypted', enc)), '{}'::json) FROM (SELECT e.room_id, max(e.stream_ordering) "
            "AS last, max(e.stream_ordering) FILTER (WHERE e.type = ANY (bt.a)) AS bump, "
            "bool_or(e.type = 'm.room.encryption' AND e.state_key = '') AS enc FROM events e "
            "CROSS JOIN bt WHERE e.room_id = ANY (ARRAY(SELECT "
            "jsonb_array_elements_text($1::jsonb))) AND e.stream_ordering > $2 AND "
            "e.stream_ordering <= $3 AND e.rejected IS NULL GROUP BY e.room_id) d",
            4, p));
    }
    free(r);
    free(bt);
    return v;
}

json_t *db_ss_space_children(struct dbc *c, const char *user_id, const json_t *spaces)
{
    char *s = json_dumps(spaces, JSON_COMPACT);
    if (!s)
        return NULL;
    const char *p[] = {s, user_id};
    json_t *v = db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(DISTINCT x.state_key), '[]'::json) FROM current_state x "
        "JOIN events e ON e.event_id = x.event_id WHERE x.type = 'm.space.child' AND "
        "x.room_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND "
        "json_typeof((e.json::json) -> 'content' -> 'via') = 'array' AND "
        "json_array_length((e.json::json) -> 'content' -> 'via') > 0 AND EXISTS (SELECT 1 FROM "
        "current_state m WHERE m.room_id = x.room_id AND m.type = 'm.room.member' AND "
        "m.state_key = $2 AND m.membership = 'join')",
        2, p));
    free(s);
    return v;
}

json_t *db_ss_state_delta(struct dbc *c, const char *room_id, int64_t since, int64_t upto,
                          const json_t *users)
{
    char sn[24], u[24];
    char *us = json_dumps(users, JSON_COMPACT);
    if (!us)
        return NULL;
    const char *p[] = {room_id, db_i64(sn, since), db_i64(u, upto), us};
    /* the groups as db_sync_group_at_stream finds them; each group's entry for a key is the
     * newest on its chain of bases (as db_state_group_load reads it), a NULL event_id there
     * meaning absent */
#define SS_AT(pos)                                                                                 \
    "(SELECT state_group FROM events WHERE room_id = $1 AND stream_ordering <= " pos " AND "       \
    "rejected IS NULL ORDER BY stream_ordering DESC LIMIT 1)"
#define SS_PICK(chain)                                                                             \
    "(SELECT coalesce(json_agg(json_build_array(type, state_key, event_id)), '[]'::json) "         \
    "FROM (SELECT DISTINCT ON (x.type, x.state_key) x.type, x.state_key, x.event_id FROM "         \
    "state_group_entries x JOIN " chain " ch ON ch.id = x.state_group JOIN keys k ON k.type "      \
    "= x.type AND k.state_key = x.state_key ORDER BY x.type, x.state_key, ch.seq DESC) a "         \
    "WHERE event_id IS NOT NULL)"
    json_t *v = db_json(db_exec(
        c,
        "WITH RECURSIVE keys(type, state_key) AS (SELECT DISTINCT e.type, e.state_key FROM "
        "events e WHERE e.room_id = $1 AND e.stream_ordering > $2 AND e.stream_ordering <= $3 "
        "AND e.state_key IS NOT NULL AND e.rejected IS NULL UNION SELECT 'm.room.member', m "
        "FROM jsonb_array_elements_text($4::jsonb) AS m UNION VALUES ('m.room.name', ''), "
        "('m.room.avatar', '')), "
        "cn(id, base, seq) AS (SELECT id, base, seq FROM state_groups WHERE id = " SS_AT(
            "$3") " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g JOIN cn ON g.id = "
                  "cn.base), "
                  "ct(id, base, seq) AS (SELECT id, base, seq FROM state_groups WHERE id = " SS_AT(
                      "$2") " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g JOIN ct ON "
                            "g.id = ct.base) "
                            "SELECT json_build_object('now', " SS_PICK("cn") ", 'then', " SS_PICK(
                                "ct") ")",
        4, p));
#undef SS_PICK
#undef SS_AT
    free(us);
    return v;
}
