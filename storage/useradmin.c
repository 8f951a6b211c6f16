/* useradmin.c - SQL of the user admin API (Synapse's /_synapse/admin/v2/users and friends):
 * the account list with its filters and paging, one account as Synapse describes it, the
 * moderation flags of migration 0095, an erased user's media and the admin audit log.
 *
 * Invariants:
 *  1. No value from a request is spliced into SQL: filters are parameters, and the ORDER BY
 *     column of the list comes from the caller's fixed table (db_user_query.order_sql).
 *  2. Synapse's shapes: the list's creation_ts is in milliseconds, one account's
 *     (GET /_synapse/admin/v2/users/{userId}) in seconds, as Synapse answers them. */
#include "storage/useradmin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

/* The filter both the page and the count use ($1 user_id, $2 name, $3 admins, $4
 * deactivated as in db_user_query, $5 locked, $8 user types to leave out as a JSON array). */
#define USER_FILTER                                                                                \
    "WHERE ($1::text IS NULL OR strpos(lower(u.user_id), lower($1)) > 0) "                         \
    "AND ($2::text IS NULL OR strpos(lower(split_part(substr(u.user_id, 2), ':', 1)), "            \
    "lower($2)) > 0 OR strpos(lower(coalesce(u.displayname, '')), lower($2)) > 0) "                \
    "AND ($3::int = -1 OR u.admin = ($3::int = 1)) "                                               \
    "AND CASE $4::int WHEN 0 THEN NOT u.deactivated WHEN 2 THEN u.deactivated ELSE true END "      \
    "AND ($5::bool OR NOT u.locked) AND ($8::json IS NULL OR coalesce(u.user_type, '') NOT IN "    \
    "(SELECT json_array_elements_text($8::json)))"

int db_useradmin_list(struct dbc *c, const struct db_user_query *q, json_t **out, int64_t *total)
{
    char sql[2048], adm[8], deact[8], from[24], lim[24];
    const char *dir = q->backwards ? "DESC" : "ASC";
    int n = snprintf(
        sql, sizeof sql,
        "WITH m AS (SELECT u.*, (SELECT max(d.last_seen_ts) FROM devices d WHERE d.user_id = "
        "u.user_id) AS last_seen_ts FROM users u " USER_FILTER ") "
        "SELECT coalesce(json_agg(json_build_object('name', user_id, 'user_type', user_type, "
        "'is_guest', false, 'admin', admin, 'deactivated', deactivated, 'erased', erased, "
        "'shadow_banned', shadow_banned, 'displayname', displayname, 'avatar_url', avatar_url, "
        "'creation_ts', created_ts, 'last_seen_ts', last_seen_ts, 'locked', locked, "
        "'suspended', suspended, 'approved', true) ORDER BY %s %s, user_id %s), '[]'::json), "
        "(SELECT count(*) FROM m) FROM (SELECT * FROM m ORDER BY %s %s, user_id %s "
        "OFFSET $6 LIMIT $7) p",
        q->order_sql, dir, dir, q->order_sql, dir, dir);
    if (n < 0 || (size_t)n >= sizeof sql)
        return -1;
    snprintf(adm, sizeof adm, "%d", q->admins);
    snprintf(deact, sizeof deact, "%d", q->deactivated);
    const char *p[] = {q->user_id,
                       q->name,
                       adm,
                       deact,
                       q->locked ? "t" : "f",
                       db_i64(from, q->from),
                       db_i64(lim, q->limit),
                       q->not_user_types};
    PGresult *res = db_exec_once(c, sql, 8, p);
    if (!res)
        return -1;
    int rc = -1;
    if (PQntuples(res) == 1 && db_val(res, 0, 0)) {
        *out = json_loads(db_val(res, 0, 0), 0, NULL);
        *total = db_int(res, 0, 1);
        rc = *out ? 0 : -1;
    }
    PQclear(res);
    return rc;
}

int db_useradmin_get(struct dbc *c, const char *user_id, json_t **out)
{
    const char *p[] = {user_id};
    PGresult *res = db_exec(
        c,
        "SELECT json_build_object('name', user_id, 'displayname', displayname, 'avatar_url', "
        "avatar_url, 'threepids', '[]'::json, 'external_ids', '[]'::json, 'is_guest', false, "
        "'admin', admin, 'deactivated', deactivated, 'erased', erased, 'shadow_banned', "
        "shadow_banned, 'locked', locked, 'suspended', suspended, 'creation_ts', "
        "created_ts / 1000, 'appservice_id', NULL, 'consent_server_notice_sent', NULL, "
        "'consent_version', NULL, 'consent_ts', NULL, 'user_type', user_type, 'approved', true, "
        "'last_seen_ts', (SELECT max(d.last_seen_ts) FROM devices d WHERE d.user_id = $1)) "
        "FROM users WHERE user_id = $1",
        1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found && !(*out = json_loads(db_val(res, 0, 0), 0, NULL)))
        found = -1;
    PQclear(res);
    return found;
}

json_t *db_useradmin_devices(struct dbc *c, const char *user_id, const char *device_id)
{
    const char *p[] = {user_id, device_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_agg(json_build_object('device_id', d.device_id, 'display_name', "
        "d.display_name, 'last_seen_ip', d.last_seen_ip, 'last_seen_user_agent', "
        "d.last_seen_user_agent, 'last_seen_ts', d.last_seen_ts, 'user_id', d.user_id, "
        "'dehydrated', h.device_id IS NOT NULL) ORDER BY d.device_id), '[]'::json) "
        "FROM devices d LEFT JOIN dehydrated_devices h ON h.user_id = d.user_id AND "
        "h.device_id = d.device_id WHERE d.user_id = $1 AND ($2::text IS NULL OR "
        "d.device_id = $2)",
        2, p));
}

json_t *db_useradmin_memberships(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(c,
                           "SELECT coalesce(json_object_agg(room_id, membership), '{}'::json) "
                           "FROM current_state WHERE type = 'm.room.member' AND state_key = $1",
                           1, p));
}

int db_useradmin_set_flag(struct dbc *c, const char *user_id, enum db_user_flag f, bool on)
{
    /* the statement of each flag (indexed by enum db_user_flag) */
    static const char *const sql[] = {
        [DB_FLAG_ERASED] = "UPDATE users SET erased = $2 WHERE user_id = $1",
        [DB_FLAG_LOCKED] = "UPDATE users SET locked = $2 WHERE user_id = $1",
        [DB_FLAG_SUSPENDED] = "UPDATE users SET suspended = $2 WHERE user_id = $1",
        [DB_FLAG_SHADOW_BANNED] = "UPDATE users SET shadow_banned = $2 WHERE user_id = $1",
        [DB_FLAG_DEACTIVATED] = "UPDATE users SET deactivated = $2 WHERE user_id = $1",
    };
    const char *p[] = {user_id, on ? "t" : "f"};
    return db_affected_one(db_exec(c, sql[f], 2, p));
}

int db_useradmin_set_user_type(struct dbc *c, const char *user_id, const char *user_type)
{
    const char *p[] = {user_id, user_type};
    return db_affected_one(db_exec(c, "UPDATE users SET user_type = $2 WHERE user_id = $1", 2, p));
}

json_t *db_useradmin_erased(struct dbc *c, const json_t *user_ids)
{
    char *ids = json_dumps(user_ids, JSON_COMPACT);
    if (!ids)
        return NULL;
    const char *p[] = {ids};
    json_t *out = db_json(db_exec(c,
                                  "SELECT coalesce(json_object_agg(user_id, true), '{}'::json) "
                                  "FROM users WHERE erased AND user_id IN "
                                  "(SELECT json_array_elements_text($1::json))",
                                  1, p));
    free(ids);
    return out;
}

int64_t db_useradmin_delete_media(struct dbc *c, const char *user_id, json_t **files)
{
    const char *p[] = {user_id};
    /* the CTE sees the rows as they were before the DELETE (and the thumbnails it removes by
     * cascade), so "no other row" is "no row of another user" */
    PGresult *res = db_exec(
        c,
        "WITH del AS (DELETE FROM media WHERE user_id = $1 RETURNING media_id, sha256), "
        "f AS (SELECT DISTINCT d.sha256 AS sha, false AS thumb FROM del d "
        "WHERE d.sha256 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM media m "
        "WHERE m.sha256 = d.sha256 AND m.user_id <> $1) "
        "UNION SELECT DISTINCT t.sha256, true FROM media_thumbnails t JOIN del d USING (media_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM media_thumbnails t2 JOIN media m2 USING (media_id) "
        "WHERE t2.sha256 = t.sha256 AND m2.user_id <> $1)) "
        "SELECT (SELECT count(*) FROM del), "
        "(SELECT coalesce(json_agg(json_build_array(sha, thumb)), '[]'::json) FROM f)",
        1, p);
    if (!res)
        return -1;
    int64_t n = db_int(res, 0, 0);
    *files = json_loads(db_val(res, 0, 1), 0, NULL);
    PQclear(res);
    return *files ? n : -1;
}

int db_audit_insert(struct dbc *c, int64_t ts, const char *admin_id, const char *method,
                    const char *path, const char *target, int status, const char *client_ip)
{
    char t[24], st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *p[] = {db_i64(t, ts), admin_id, method, path, target, st, client_ip};
    return db_run(c,
                  "INSERT INTO admin_audit_log (ts, admin_id, method, path, target, status, "
                  "client_ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  7, p);
}
