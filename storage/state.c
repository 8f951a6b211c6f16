/* state.c - state groups and current state.
 *
 * A state group is the state after some event. Group g with sequence number s (its parent's
 * plus one; 1 for a group derived from nothing) stores only its difference from base(g), the
 * ancestor on its derivation chain whose sequence number is s & (s - 1) (none when that is
 * 0). This is the Fenwick-tree shape:
 *   1. any group's state is the overlay of at most log2(s) + 1 deltas, found by following
 *      `base` pointers (one recursive query);
 *   2. the delta of g covers the changes made between base(g) and g, i.e. lowbit(s) groups,
 *      so n single-key changes store about (n/2) log2(n) rows: storage grows with state
 *      changes, never with events x state size (messages reuse their room's group);
 *   3. the delta of a new group is the overlay of the deltas on the base chain of its parent
 *      down to base(g), plus the new changes: no full state is loaded to write a group.
 * A removed key is stored as a NULL event_id so that it hides the base's entry.
 *
 * current_state mirrors the state after the newest event of each room, with the membership
 * of member events for fast "which rooms is this user in" queries. */
#include "storage/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/statemap.h"
#include "storage/db_internal.h"

/* A PostgreSQL text[] literal under construction: "{" elements "}". */
struct pgarr {
    char *buf;
    size_t len, cap;
    size_t n;
    int failed;
};

static void pgarr_put(struct pgarr *a, const char *s, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n + 2 > a->cap) {
        size_t nc = a->cap ? a->cap : 256;
        while (nc < a->len + n + 2)
            nc *= 2;
        char *nb = realloc(a->buf, nc);
        if (!nb) {
            a->failed = 1;
            return;
        }
        a->buf = nb;
        a->cap = nc;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

/* Add one element: quoted with \" and \\ escaped, or NULL. */
static void pgarr_add(struct pgarr *a, const char *s)
{
    pgarr_put(a, a->n++ ? "," : "{", 1);
    if (!s) {
        pgarr_put(a, "NULL", 4);
        return;
    }
    pgarr_put(a, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            pgarr_put(a, "\\", 1);
        pgarr_put(a, p, 1);
    }
    pgarr_put(a, "\"", 1);
}

/* The finished literal (owned by a), or NULL on OOM. */
static const char *pgarr_end(struct pgarr *a)
{
    pgarr_put(a, a->n ? "}" : "{}", a->n ? 1 : 2);
    return a->failed ? NULL : a->buf;
}

/* Fill `map` (state map with null for removals) from rows (type, state_key, event_id). */
static void rows_into(PGresult *res, json_t *map, int drop_null)
{
    for (int i = 0; i < PQntuples(res); i++) {
        const char *ev = db_val(res, i, 2);
        char *k = statemap_key(db_val(res, i, 0), db_val(res, i, 1));
        if (!k)
            continue;
        if (ev)
            json_object_set_new(map, k, json_string(ev));
        else if (!drop_null)
            json_object_set_new(map, k, json_null());
        free(k);
    }
}

int64_t db_state_group_new(struct dbc *c, const char *room_id, int64_t parent, json_t *changes)
{
    char pbuf[24], bbuf[24], sbuf[24], gbuf[24];
    int64_t seq = 1, base_seq, base = 0, id = -1;
    json_t *delta = json_object();
    struct pgarr types = {0}, keys = {0}, evs = {0};

    if (!delta)
        return -1;
    if (parent > 0) {
        const char *p[] = {db_i64(pbuf, parent)};
        PGresult *res = db_exec(c, "SELECT seq FROM state_groups WHERE id = $1", 1, p);
        if (!res)
            goto out;
        if (PQntuples(res) == 0) {
            PQclear(res);
            goto out;
        }
        seq = db_int(res, 0, 0) + 1;
        PQclear(res);
    }
    base_seq = seq & (seq - 1);

    if (parent > 0) {
        /* invariant 3: overlay the deltas on parent's base chain above base_seq */
        const char *p[] = {db_i64(pbuf, parent), db_i64(bbuf, base_seq)};
        PGresult *res =
            db_exec(c,
                    "WITH RECURSIVE chain(id, base, seq) AS ("
                    " SELECT id, base, seq FROM state_groups WHERE id = $1"
                    " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g"
                    "  JOIN chain ch ON g.id = ch.base WHERE ch.seq > $2) "
                    "SELECT DISTINCT ON (e.type, e.state_key) e.type, e.state_key, e.event_id "
                    "FROM state_group_entries e JOIN chain ch ON ch.id = e.state_group "
                    "WHERE ch.seq > $2 ORDER BY e.type, e.state_key, ch.seq DESC",
                    2, p);
        if (!res)
            goto out;
        rows_into(res, delta, base_seq == 0);
        PQclear(res);
        if (base_seq > 0) {
            res = db_exec(c,
                          "WITH RECURSIVE chain(id, base, seq) AS ("
                          " SELECT id, base, seq FROM state_groups WHERE id = $1"
                          " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g"
                          "  JOIN chain ch ON g.id = ch.base WHERE ch.seq > $2) "
                          "SELECT id FROM chain WHERE seq = $2",
                          2, p);
            if (!res)
                goto out;
            if (PQntuples(res) != 1) {
                PQclear(res);
                goto out;
            }
            base = db_int(res, 0, 0);
            PQclear(res);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(changes, k, v)
    {
        /* with no base, a removal needs no row */
        if (json_is_null(v) && base == 0)
            json_object_del(delta, k);
        else
            json_object_set(delta, k, v);
    }

    const char *gp[] = {room_id, db_i64(sbuf, seq), parent > 0 ? db_i64(pbuf, parent) : NULL,
                        base > 0 ? db_i64(bbuf, base) : NULL};
    PGresult *res = db_exec(c,
                            "INSERT INTO state_groups (room_id, seq, parent, base) "
                            "VALUES ($1, $2, $3, $4) RETURNING id",
                            4, gp);
    if (!res)
        goto out;
    int64_t gid = db_int(res, 0, 0);
    PQclear(res);

    if (json_object_size(delta)) {
        json_object_foreach(delta, k, v)
        {
            char *type, *skey;
            if (statemap_split(k, &type, &skey) < 0)
                goto out;
            pgarr_add(&types, type);
            pgarr_add(&keys, skey);
            pgarr_add(&evs, json_string_value(v));
            free(type);
            free(skey);
        }
        const char *ep[] = {db_i64(gbuf, gid), pgarr_end(&types), pgarr_end(&keys),
                            pgarr_end(&evs)};
        if (!ep[1] || !ep[2] || !ep[3] ||
            db_run(c,
                   "INSERT INTO state_group_entries (state_group, type, state_key, event_id) "
                   "SELECT $1, t, s, e FROM unnest($2::text[], $3::text[], $4::text[]) "
                   "AS x(t, s, e)",
                   4, ep) < 0)
            goto out;
    }
    id = gid;
out:
    json_decref(delta);
    free(types.buf);
    free(keys.buf);
    free(evs.buf);
    return id;
}

json_t *db_state_group_load(struct dbc *c, int64_t group)
{
    char gbuf[24];
    json_t *map = json_object();
    if (!map || group <= 0)
        return map;
    const char *p[] = {db_i64(gbuf, group)};
    PGresult *res =
        db_exec(c,
                "WITH RECURSIVE chain(id, base, seq) AS ("
                " SELECT id, base, seq FROM state_groups WHERE id = $1"
                " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g JOIN chain ch ON g.id = "
                "ch.base) "
                "SELECT DISTINCT ON (e.type, e.state_key) e.type, e.state_key, e.event_id "
                "FROM state_group_entries e JOIN chain ch ON ch.id = e.state_group "
                "ORDER BY e.type, e.state_key, ch.seq DESC",
                1, p);
    if (!res) {
        json_decref(map);
        return NULL;
    }
    rows_into(res, map, 1);
    PQclear(res);
    return map;
}

long db_state_group_rows(struct dbc *c, int64_t group)
{
    char gbuf[24];
    const char *p[] = {db_i64(gbuf, group)};
    PGresult *res =
        db_exec(c, "SELECT count(*) FROM state_group_entries WHERE state_group = $1", 1, p);
    if (!res)
        return -1;
    long n = (long)db_int(res, 0, 0);
    PQclear(res);
    return n;
}

json_t *db_current_state(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    PGresult *res =
        db_exec(c, "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", 1, p);
    if (!res)
        return NULL;
    json_t *map = json_object();
    rows_into(res, map, 1);
    PQclear(res);
    return map;
}

int db_current_state_get(struct dbc *c, const char *room_id, const char *type,
                         const char *state_key, char **out)
{
    const char *p[] = {room_id, type, state_key};
    return db_string(db_exec(c,
                             "SELECT event_id FROM current_state WHERE room_id = $1 AND "
                             "type = $2 AND state_key = $3",
                             3, p),
                     out);
}

int db_current_state_set(struct dbc *c, const char *room_id, const char *type,
                         const char *state_key, const char *event_id, const char *membership)
{
    const char *p[] = {room_id, type, state_key, event_id, membership};
    return db_run(c,
                  "INSERT INTO current_state (room_id, type, state_key, event_id, membership) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key) DO "
                  "UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership",
                  5, p);
}

int db_current_state_replace(struct dbc *c, const char *room_id, json_t *state)
{
    const char *p[] = {room_id};
    const char *k;
    json_t *v;
    if (db_run(c, "DELETE FROM current_state WHERE room_id = $1", 1, p) < 0)
        return -1;
    json_object_foreach(state, k, v)
    {
        char *type, *skey;
        if (statemap_split(k, &type, &skey) < 0)
            return -1;
        const char *q[] = {room_id, type, skey, json_string_value(v)};
        int rc = db_run(c,
                        "INSERT INTO current_state (room_id, type, state_key, event_id, "
                        "membership) SELECT $1, $2, $3, $4, CASE WHEN $2 = 'm.room.member' "
                        "THEN (json::jsonb)->'content'->>'membership' END FROM events "
                        "WHERE event_id = $4",
                        4, q);
        free(type);
        free(skey);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int db_state_group_get(struct dbc *c, int64_t group, const char *type, const char *state_key,
                       char **out)
{
    char gbuf[24];
    const char *p[] = {db_i64(gbuf, group), type, state_key};
    *out = NULL;
    if (group <= 0)
        return 0;
    return db_string(
        db_exec(c,
                "WITH RECURSIVE chain(id, base, seq) AS ("
                " SELECT id, base, seq FROM state_groups WHERE id = $1"
                " UNION ALL SELECT g.id, g.base, g.seq FROM state_groups g JOIN chain ch ON "
                "g.id = ch.base) "
                "SELECT e.event_id FROM state_group_entries e JOIN chain ch ON ch.id = "
                "e.state_group WHERE e.type = $2 AND e.state_key = $3 ORDER BY ch.seq DESC "
                "LIMIT 1",
                3, p),
        out);
}

json_t *db_rooms_with_membership(struct dbc *c, const char *user_id, const char *membership)
{
    const char *p[] = {user_id, membership};
    PGresult *res = db_exec(c,
                            "SELECT room_id FROM current_state WHERE type = 'm.room.member' "
                            "AND state_key = $1 AND membership = $2 ORDER BY room_id",
                            2, p);
    return db_strings(res);
}

json_t *db_current_members(struct dbc *c, const char *room_id, const char *membership,
                           const char *not_membership)
{
    const char *p[] = {room_id, membership, not_membership};
    PGresult *res = db_exec(c,
                            "SELECT s.event_id, s.membership, e.json FROM current_state s JOIN "
                            "events e ON e.event_id = s.event_id WHERE s.room_id = $1 AND "
                            "s.type = 'm.room.member' AND ($2::text IS NULL OR s.membership = $2) "
                            "AND ($3::text IS NULL OR s.membership <> $3) ORDER BY s.state_key",
                            3, p);
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *pdu = json_loads(db_val(res, i, 2), JSON_ALLOW_NUL, NULL);
        if (!pdu)
            continue;
        json_array_append_new(arr, json_pack("{s:s,s:s?,s:o}", "event_id", db_val(res, i, 0),
                                             "membership", db_val(res, i, 1), "pdu", pdu));
    }
    PQclear(res);
    return arr;
}

int db_current_membership(struct dbc *c, const char *room_id, const char *user_id, char **out,
                          char **event_id)
{
    const char *p[] = {room_id, user_id};
    *out = NULL;
    if (event_id)
        *event_id = NULL;
    PGresult *res = db_exec(c,
                            "SELECT membership, event_id FROM current_state WHERE room_id = $1 "
                            "AND type = 'm.room.member' AND state_key = $2",
                            2, p);
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        *out = db_val(res, 0, 0) ? strdup(db_val(res, 0, 0)) : NULL;
        if (event_id)
            *event_id = strdup(db_val(res, 0, 1));
    }
    PQclear(res);
    return 0;
}

json_t *db_current_state_events(struct dbc *c, const char *room_id, const char *const *types,
                                const char *const *keys, size_t n, const char *extra_id)
{
    struct pgarr ta = {0}, ka = {0};
    for (size_t i = 0; i < n; i++) {
        pgarr_add(&ta, types[i]);
        pgarr_add(&ka, keys[i]);
    }
    const char *p[] = {room_id, pgarr_end(&ta), pgarr_end(&ka), extra_id};
    json_t *out = NULL;
    if (!p[1] || !p[2])
        goto done;
    PGresult *res = db_exec(c,
                            "SELECT e.event_id, e.type, e.state_key, e.json FROM current_state s "
                            "JOIN events e ON e.event_id = s.event_id WHERE s.room_id = $1 AND "
                            "(s.type, s.state_key) IN (SELECT * FROM unnest($2::text[], "
                            "$3::text[])) UNION ALL SELECT event_id, type, state_key, json "
                            "FROM events WHERE $4::text IS NOT NULL AND event_id = $4",
                            4, p);
    if (!res)
        goto done;
    out = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *pdu = json_loads(db_val(res, i, 3), JSON_ALLOW_NUL, NULL);
        char *k = statemap_key(db_val(res, i, 1), db_val(res, i, 2) ? db_val(res, i, 2) : "");
        if (pdu && k) {
            json_object_set_new(pdu, "event_id", json_string(db_val(res, i, 0)));
            json_object_set_new(out, k, pdu);
        } else {
            json_decref(pdu);
        }
        free(k);
    }
    PQclear(res);
done:
    free(ta.buf);
    free(ka.buf);
    return out;
}

int64_t db_state_group_parent(struct dbc *c, int64_t group)
{
    char g[24];
    const char *p[] = {db_i64(g, group)};
    PGresult *res = db_exec(c, "SELECT coalesce(parent, 0) FROM state_groups WHERE id = $1", 1, p);
    if (!res)
        return -1;
    int64_t out = PQntuples(res) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return out;
}
