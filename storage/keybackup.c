/* keybackup.c - SQL for server-side key backups (migration 0005_key_backup.sql).
 *
 * Invariants:
 *  1. Version numbers come from the per-user counter row, bumped in the statement that
 *     inserts the version, so concurrent creations get distinct, increasing numbers and a
 *     number is never handed out twice, even after its version is deleted.
 *  2. key_count equals the number of session rows of the version and etag grows with every
 *     change of them: both are written in the statement that changes the rows, by a writer
 *     holding the version's row lock (db_keybackup_lock).
 *  3. auth_data and session_data are stored as the JSON text given and served through
 *     PostgreSQL's json type, which keeps the text as it is.
 *  4. Batches go in as one JSON parameter (json_to_recordset): one statement per request,
 *     whatever its size. */
#include "storage/keybackup.h"

#include <stdlib.h>

#include "storage/db_internal.h"

/* NULL for version 0 ("the current one"), else the number as text in buf. */
static const char *version_param(char buf[24], int64_t version)
{
    return version ? db_i64(buf, version) : NULL;
}

int db_keybackup_version_create(struct dbc *c, const char *user_id, const char *algorithm,
                                const char *auth_data, int64_t *version)
{
    const char *p[] = {user_id, algorithm, auth_data};
    PGresult *res = db_exec(c,
                            "WITH n AS (INSERT INTO key_backup_counters AS k (user_id, "
                            "last_version) VALUES ($1, 1) ON CONFLICT (user_id) DO UPDATE SET "
                            "last_version = k.last_version + 1 RETURNING last_version) "
                            "INSERT INTO key_backup_versions (user_id, version, algorithm, "
                            "auth_data) SELECT $1, last_version, $2, $3 FROM n RETURNING version",
                            3, p);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 0 : -1;
    if (rc == 0)
        *version = db_int(res, 0, 0);
    PQclear(res);
    return rc;
}

json_t *db_keybackup_version_get(struct dbc *c, const char *user_id, int64_t version)
{
    char v[24];
    const char *p[] = {user_id, version_param(v, version)};
    return db_json(db_exec(c,
                           "SELECT json_build_object('algorithm', algorithm, 'auth_data', "
                           "auth_data::json, 'count', key_count, 'etag', etag::text, "
                           "'version', version::text) FROM key_backup_versions WHERE "
                           "user_id = $1 AND ($2::bigint IS NULL OR version = $2::bigint) "
                           "ORDER BY version DESC LIMIT 1",
                           2, p));
}

int db_keybackup_version_update(struct dbc *c, const char *user_id, int64_t version,
                                const char *auth_data)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version), auth_data};
    return db_affected_one(db_exec(c,
                                   "UPDATE key_backup_versions SET auth_data = $3 WHERE "
                                   "user_id = $1 AND version = $2",
                                   3, p));
}

int db_keybackup_version_delete(struct dbc *c, const char *user_id, int64_t version)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version)};
    /* the sessions go by ON DELETE CASCADE; a number up to last_version existed once */
    PGresult *res = db_exec(c,
                            "WITH d AS (DELETE FROM key_backup_versions WHERE user_id = $1 AND "
                            "version = $2 RETURNING 1) "
                            "SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM "
                            "key_backup_counters WHERE user_id = $1 AND last_version >= $2)",
                            2, p);
    if (!res)
        return -1;
    int rc = db_int(res, 0, 0) > 0;
    PQclear(res);
    return rc;
}

int db_keybackup_lock(struct dbc *c, const char *user_id, int64_t version,
                      struct db_keybackup_state *st)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version)};
    /* a locked row is read as it is after any writer we waited for committed */
    PGresult *res = db_exec(c,
                            "SELECT v.etag, v.key_count, (SELECT max(version) FROM "
                            "key_backup_versions WHERE user_id = $1) FROM key_backup_versions v "
                            "WHERE v.user_id = $1 AND v.version = $2 FOR UPDATE OF v",
                            2, p);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1;
    if (rc) {
        st->etag = db_int(res, 0, 0);
        st->count = db_int(res, 0, 1);
        st->current = db_int(res, 0, 2);
    }
    PQclear(res);
    if (rc)
        return 1;
    res = db_exec(c, "SELECT max(version) FROM key_backup_versions WHERE user_id = $1", 1, p);
    if (!res)
        return -1;
    st->current = db_val(res, 0, 0) ? db_int(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

json_t *db_keybackup_sessions_meta(struct dbc *c, const char *user_id, int64_t version,
                                   const char *pairs)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version), pairs};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(room_id, s), '{}'::json) FROM (SELECT k.room_id, "
        "json_object_agg(k.session_id, json_build_object('is_verified', k.is_verified, "
        "'first_message_index', k.first_message_index, 'forwarded_count', k.forwarded_count)) "
        "AS s FROM key_backup_sessions k JOIN json_to_recordset($3::json) AS q(room_id text, "
        "session_id text) ON k.room_id = q.room_id AND k.session_id = q.session_id WHERE "
        "k.user_id = $1 AND k.version = $2 GROUP BY k.room_id) r",
        3, p));
}

/* The etag and count of an UPDATE ... RETURNING etag, key_count into *st (clears res). */
static int read_state(PGresult *res, struct db_keybackup_state *st)
{
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 0 : -1;
    if (rc == 0) {
        st->etag = db_int(res, 0, 0);
        st->count = db_int(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

int db_keybackup_sessions_put(struct dbc *c, const char *user_id, int64_t version, const char *rows,
                              int64_t added, struct db_keybackup_state *st)
{
    char v[24], a[24];
    const char *p[] = {user_id, db_i64(v, version), rows, db_i64(a, added)};
    /* the INSERT in WITH runs to completion whether or not the UPDATE reads it */
    return read_state(
        db_exec(c,
                "WITH up AS (INSERT INTO key_backup_sessions (user_id, version, room_id, "
                "session_id, first_message_index, forwarded_count, is_verified, session_data) "
                "SELECT $1, $2, r.room_id, r.session_id, r.first_message_index, "
                "r.forwarded_count, r.is_verified, r.session_data::text FROM "
                "json_to_recordset($3::json) AS r(room_id text, session_id text, "
                "first_message_index bigint, forwarded_count bigint, is_verified boolean, "
                "session_data json) ON CONFLICT (user_id, version, room_id, session_id) DO "
                "UPDATE SET first_message_index = EXCLUDED.first_message_index, "
                "forwarded_count = EXCLUDED.forwarded_count, is_verified = "
                "EXCLUDED.is_verified, session_data = EXCLUDED.session_data) "
                "UPDATE key_backup_versions SET etag = etag + 1, key_count = key_count + "
                "$4::bigint WHERE user_id = $1 AND version = $2 RETURNING etag, key_count",
                4, p),
        st);
}

int db_keybackup_sessions_delete(struct dbc *c, const char *user_id, int64_t version,
                                 const char *room_id, const char *session_id,
                                 struct db_keybackup_state *st)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version), room_id, session_id};
    return read_state(
        db_exec(c,
                "WITH d AS (DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = "
                "$2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR "
                "session_id = $4) RETURNING 1), n AS (SELECT count(*) AS n FROM d) "
                "UPDATE key_backup_versions v SET etag = v.etag + CASE WHEN n.n > 0 THEN 1 "
                "ELSE 0 END, key_count = v.key_count - n.n FROM n WHERE v.user_id = $1 AND "
                "v.version = $2 RETURNING v.etag, v.key_count",
                4, p),
        st);
}

json_t *db_keybackup_sessions_get(struct dbc *c, const char *user_id, int64_t version,
                                  const char *room_id, const char *session_id)
{
    char v[24];
    const char *p[] = {user_id, db_i64(v, version), room_id, session_id};
    return db_json(db_exec(
        c,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM key_backup_versions WHERE user_id = $1 AND "
        "version = $2) THEN json_build_object('rooms', coalesce((SELECT "
        "json_object_agg(room_id, json_build_object('sessions', s)) FROM (SELECT room_id, "
        "json_object_agg(session_id, json_build_object('first_message_index', "
        "first_message_index, 'forwarded_count', forwarded_count, 'is_verified', is_verified, "
        "'session_data', session_data::json)) AS s FROM key_backup_sessions WHERE user_id = $1 "
        "AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR "
        "session_id = $4) GROUP BY room_id) r), '{}'::json)) END",
        4, p));
}
