/* rooms.c - SQL for rooms and their forward extremities.
 *
 * The rooms row doubles as the room's writer lock: the engine reads it FOR UPDATE at the
 * start of every append, so appends to one room are serialised across threads and server
 * processes while different rooms proceed in parallel. */
#include "storage/rooms.h"

#include <stdlib.h>
#include <string.h>

#include "server/statemap.h"
#include "storage/db_internal.h"
#include "storage/pducache.h"

int db_rooms_insert(struct dbc *c, const char *room_id, const char *room_version,
                    const char *creator, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {room_id, room_version, creator, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO rooms (room_id, room_version, creator, created_ts) "
                            "VALUES ($1, $2, $3, $4)",
                            4, p);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    PQclear(res);
    return 0;
}

int db_rooms_get(struct dbc *c, const char *room_id, bool lock, struct db_room *out)
{
    const char *p[] = {room_id};
    memset(out, 0, sizeof *out);
    PGresult *res = lock
                        ? db_exec(c,
                                  "SELECT room_version, creator, state_group, is_public FROM rooms "
                                  "WHERE room_id = $1 FOR UPDATE",
                                  1, p)
                        : db_exec(c,
                                  "SELECT room_version, creator, state_group, is_public FROM rooms "
                                  "WHERE room_id = $1",
                                  1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        out->room_version = strdup(db_val(res, 0, 0));
        out->creator = strdup(db_val(res, 0, 1));
        out->state_group = db_int(res, 0, 2);
        out->is_public = db_bool(res, 0, 3);
    }
    PQclear(res);
    return found;
}

void db_room_clear(struct db_room *r)
{
    free(r->room_version);
    free(r->creator);
    memset(r, 0, sizeof *r);
}

int db_rooms_set_state_group(struct dbc *c, const char *room_id, int64_t group)
{
    char g[24];
    const char *p[] = {room_id, db_i64(g, group)};
    return db_run(c, "UPDATE rooms SET state_group = $2 WHERE room_id = $1", 2, p);
}

int db_rooms_set_public(struct dbc *c, const char *room_id, bool is_public)
{
    const char *p[] = {room_id, is_public ? "t" : "f"};
    return db_affected_one(db_exec(c, "UPDATE rooms SET is_public = $2 WHERE room_id = $1", 2, p)) <
                   0
               ? -1
               : 0;
}

json_t *db_rooms_extremities(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(
        c, "SELECT event_id FROM room_extremities WHERE room_id = $1 ORDER BY event_id", 1, p);
    return db_strings(res);
}

json_t *db_rooms_extremities_depth(struct dbc *c, const char *room_id, int max)
{
    char m[24];
    const char *p[] = {room_id, db_i64(m, max)};
    PGresult *res = db_exec(c,
                            "SELECT x.event_id, coalesce(e.depth, 0) FROM room_extremities x "
                            "LEFT JOIN events e ON e.event_id = x.event_id WHERE x.room_id = $1 "
                            "ORDER BY e.depth DESC NULLS LAST, x.event_id LIMIT $2",
                            2, p);
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr,
                              json_pack("[s,I]", db_val(res, i, 0), (json_int_t)db_int(res, i, 1)));
    PQclear(res);
    return arr;
}

int db_rooms_extremities_advance(struct dbc *c, const char *room_id, json_t *prev,
                                 const char *event_id)
{
    char *ids = json_dumps(prev, JSON_COMPACT);
    if (!ids)
        return -1;
    const char *p[] = {room_id, event_id, ids};
    int rc = db_run(c,
                    "WITH gone AS (DELETE FROM room_extremities WHERE room_id = $1 AND event_id "
                    "IN (SELECT jsonb_array_elements_text($3::jsonb))) "
                    "INSERT INTO room_extremities (room_id, event_id) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING",
                    3, p);
    free(ids);
    return rc;
}

int db_aliases_put(struct dbc *c, const char *alias, const char *room_id, const char *creator,
                   int64_t now_ms)
{
    char ts[24];
    const char *p[] = {alias, room_id, creator, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO room_aliases (alias, room_id, creator, created_ts) "
                            "VALUES ($1, $2, $3, $4)",
                            4, p);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    PQclear(res);
    return 0;
}

int db_aliases_get(struct dbc *c, const char *alias, char **room_id, char **creator)
{
    const char *p[] = {alias};
    *room_id = NULL;
    if (creator)
        *creator = NULL;
    PGresult *res = db_exec(c, "SELECT room_id, creator FROM room_aliases WHERE alias = $1", 1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        *room_id = strdup(db_val(res, 0, 0));
        if (creator)
            *creator = strdup(db_val(res, 0, 1));
    }
    PQclear(res);
    return found;
}

int db_aliases_delete(struct dbc *c, const char *alias)
{
    const char *p[] = {alias};
    return db_affected_one(db_exec(c, "DELETE FROM room_aliases WHERE alias = $1", 1, p));
}

json_t *db_aliases_of_room(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res =
        db_exec(c, "SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias", 1, p);
    return db_strings(res);
}

int db_rooms_forget(struct dbc *c, const char *room_id, const char *user_id)
{
    const char *p[] = {user_id, room_id};
    return db_run(c,
                  "INSERT INTO room_forgotten (user_id, room_id) VALUES ($1, $2) "
                  "ON CONFLICT DO NOTHING",
                  2, p);
}

int db_rooms_unforget(struct dbc *c, const char *room_id, const char *user_id)
{
    const char *p[] = {user_id, room_id};
    return db_run(c, "DELETE FROM room_forgotten WHERE user_id = $1 AND room_id = $2", 2, p);
}

/* Directory fields of rooms, from their current state events. */
#define ROOM_FIELDS_SQL                                                                            \
    "SELECT r.room_id, r.room_version, "                                                           \
    " (SELECT count(*) FROM current_state m WHERE m.room_id = r.room_id AND "                      \
    "  m.type = 'm.room.member' AND m.membership = 'join') AS joined, "                            \
    " (SELECT json_object_agg(s.type, (e.json::jsonb)->'content') FROM current_state s "           \
    "  JOIN events e ON e.event_id = s.event_id WHERE s.room_id = r.room_id AND s.state_key = '' " \
    "  AND s.type IN ('m.room.name', 'm.room.topic', 'm.room.canonical_alias', "                   \
    "  'm.room.avatar', 'm.room.join_rules', 'm.room.history_visibility', "                        \
    "  'm.room.guest_access', 'm.room.create', 'm.room.encryption'))::text AS st "                 \
    "FROM rooms r "

static json_t *room_fields(PGresult *res, int i)
{
    json_t *st = json_loads(db_val(res, i, 3) ? db_val(res, i, 3) : "{}", 0, NULL);
    json_t *o = json_pack("{s:s,s:s,s:I}", "room_id", db_val(res, i, 0), "room_version",
                          db_val(res, i, 1), "num_joined_members", (json_int_t)db_int(res, i, 2));
    /* state type, content key, output key */
    static const char *const map[][3] = {
        {"m.room.name", "name", "name"},
        {"m.room.topic", "topic", "topic"},
        {"m.room.canonical_alias", "alias", "canonical_alias"},
        {"m.room.avatar", "url", "avatar_url"},
        {"m.room.join_rules", "join_rule", "join_rule"},
        {"m.room.history_visibility", "history_visibility", "history_visibility"},
        {"m.room.guest_access", "guest_access", "guest_access"},
        {"m.room.create", "type", "room_type"},
        {"m.room.encryption", "algorithm", "encryption"},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
        json_t *v = json_object_get(json_object_get(st, map[k][0]), map[k][1]);
        if (json_is_string(v) && json_string_length(v))
            json_object_set(o, map[k][2], v);
    }
    json_decref(st);
    return o;
}

json_t *db_rooms_public(struct dbc *c, const char *search, int offset, int limit, long *total)
{
    char off[24], lim[24];
    const char *p[] = {search, db_i64(off, offset), db_i64(lim, limit)};
    PGresult *res = db_exec(
        c,
        "WITH pub AS (" ROOM_FIELDS_SQL "WHERE r.is_public) "
        "SELECT room_id, room_version, joined, st, count(*) OVER () FROM pub WHERE $1::text IS "
        "NULL OR st ILIKE '%' || replace(replace($1, '%', ''), '_', '') || '%' "
        "ORDER BY joined DESC, room_id LIMIT $3 OFFSET $2",
        3, p);
    if (!res)
        return NULL;
    json_t *arr = json_array();
    *total = PQntuples(res) ? (long)db_int(res, 0, 4) : 0;
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, room_fields(res, i));
    PQclear(res);
    return arr;
}

json_t *db_rooms_summary(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c, ROOM_FIELDS_SQL "WHERE r.room_id = $1", 1, p);
    if (!res)
        return NULL;
    json_t *o = PQntuples(res) ? room_fields(res, 0) : NULL;
    PQclear(res);
    return o;
}

int db_aliases_move(struct dbc *c, const char *from, const char *to)
{
    const char *p[] = {from, to};
    return db_run(c, "UPDATE room_aliases SET room_id = $2 WHERE room_id = $1", 2, p);
}

/* text[] literal of strings (PostgreSQL array syntax, every element quoted). */
static char *text_array(const char *const *v, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(v[i]) + 3;
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

int db_rooms_append_view(struct dbc *c, const char *room_id, const char *user_id,
                         const char *device_id, const char *txn_id, const char *const *types,
                         const char *const *keys, size_t n, bool with_members,
                         struct db_append_view *out)
{
    /* first the writer lock, then one read of everything (see below) */
    memset(out, 0, sizeof *out);
    char *ta = text_array(types, n), *ka = text_array(keys, n);
    const char *p[] = {room_id, user_id, device_id ? device_id : "", txn_id,
                       with_members ? "t" : "f"};
    int found = -1;
    if (!ta || !ka)
        goto done;
    /* The lock is its own statement: in READ COMMITTED a statement that waited for a row lock
     * still reads everything else with the snapshot it started with, so reads in the same
     * statement could miss the previous writer's event. Reads come after the lock, in the
     * same round trip (a pipeline): the read's snapshot is taken once the lock is held. */
    static const char lock_sql[] = "SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE";
    static const char view_sql[] =
        "WITH r AS (SELECT room_version, state_group FROM rooms WHERE room_id = $1) "
        "SELECT r.room_version, r.state_group, "
        " (SELECT event_id FROM event_txns WHERE $4::text IS NOT NULL AND user_id = $2 AND "
        "  device_id = $3 AND txn_id = " DB_TXN_ID_SQL("$4") " AND scope = "
        DB_TXN_SCOPE_SQL("$4") "), "
        " (SELECT coalesce(json_agg(json_build_array(x.event_id, coalesce(e.depth, 0)) "
        "  ORDER BY e.depth DESC NULLS LAST, x.event_id), '[]') FROM room_extremities x "
        "  LEFT JOIN events e ON e.event_id = x.event_id WHERE x.room_id = $1)::text, "
        " CASE WHEN $5::bool THEN (SELECT coalesce(json_agg(json_build_object('user_id', "
        "  s.state_key, 'displayname', "
        "  CASE WHEN pr.store IS NOT NULL THEN (SELECT (e.json::json)->'content'->>"
        "  'displayname' FROM events e WHERE e.event_id = s.event_id) END, 'rules', "
        "  pr.store::json)), '[]') FROM current_state s LEFT JOIN push_rules pr ON "
        "  pr.user_id = s.state_key WHERE s.room_id = $1 AND s.type = 'm.room.member' AND "
        "  s.membership = 'join')::text END "
        "FROM r";
    /* the auth events as rows, so that cached ones need no parsing (pducache.c) */
    static const char auth_sql[] =
        "SELECT e.event_id, e.type, e.state_key, e.redacted_by, e.json FROM current_state s "
        "JOIN events e ON e.event_id = s.event_id WHERE s.room_id = $1 AND (s.type, "
        "s.state_key) IN (SELECT * FROM unnest($2::text[], $3::text[]))";
    const char *const sqls[] = {lock_sql, view_sql, auth_sql};
    const char *pa[] = {room_id, ta, ka};
    const int ns[] = {1, 5, 3};
    const char *const *ps[] = {p, p, pa};
    PGresult *rs[3];
    if (db_exec_many(c, 3, sqls, ns, ps, rs) < 0)
        goto done;
    PGresult *res = rs[1];
    found = PQntuples(rs[0]) > 0;
    PQclear(rs[0]);
    PGresult *auth = rs[2];
    if (!found) {
        PQclear(res);
        PQclear(auth);
        goto done;
    }
    found = PQntuples(res) > 0;
    if (found) {
        out->room_version = strdup(db_val(res, 0, 0));
        out->state_group = db_int(res, 0, 1);
        out->prior_event_id = db_val(res, 0, 2) ? strdup(db_val(res, 0, 2)) : NULL;
        out->extremities = json_loads(db_val(res, 0, 3), 0, NULL);
        out->members = db_val(res, 0, 4) ? json_loads(db_val(res, 0, 4), 0, NULL) : NULL;
        out->auth = json_object();
        for (int i = 0; i < PQntuples(auth); i++) {
            const char *id = db_val(auth, i, 0), *red = db_val(auth, i, 3);
            json_t *pdu = pducache_get(id, red);
            if (!pdu) {
                pdu = json_loads(db_val(auth, i, 4), JSON_ALLOW_NUL, NULL);
                if (pdu) {
                    json_object_set_new(pdu, "event_id", json_string(id));
                    pducache_put(id, red, pdu);
                }
            }
            char *k = statemap_key(db_val(auth, i, 1), db_val(auth, i, 2));
            if (pdu && k)
                json_object_set_new(out->auth, k, pdu);
            else
                json_decref(pdu);
            free(k);
        }
        if (!out->room_version || !out->extremities ||
            (with_members && !out->members)) {
            db_append_view_clear(out);
            found = -1;
        }
    }
    PQclear(res);
    PQclear(auth);
done:
    free(ta);
    free(ka);
    return found;
}

void db_append_view_clear(struct db_append_view *v)
{
    free(v->room_version);
    free(v->prior_event_id);
    json_decref(v->extremities);
    json_decref(v->auth);
    json_decref(v->members);
    memset(v, 0, sizeof *v);
}

json_t *db_space_children(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('type', 'm.space.child', 'state_key', "
        "cs.state_key, 'content', e.json::json -> 'content', 'sender', e.sender, "
        "'origin_server_ts', e.origin_server_ts) ORDER BY cs.state_key), '[]'::json) FROM "
        "current_state cs JOIN events e ON e.event_id = cs.event_id WHERE cs.room_id = $1 AND "
        "cs.type = 'm.space.child' AND json_typeof(e.json::json -> 'content' -> 'via') = "
        "'array' AND json_array_length(e.json::json -> 'content' -> 'via') > 0",
        1, p));
}

json_t *db_join_rules_content(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    return db_json(db_exec(c,
                           "SELECT e.json::json -> 'content' FROM current_state cs JOIN events e "
                           "ON e.event_id = cs.event_id WHERE cs.room_id = $1 AND cs.type = "
                           "'m.room.join_rules' AND cs.state_key = ''",
                           1, p));
}
