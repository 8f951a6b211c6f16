/* uia.c - SQL for user-interactive authentication sessions. */
#include "storage/uia.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

int db_uia_create(struct dbc *c, const char *session_id, const char *method, const char *uri,
                  const char *user_id, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {session_id, method, uri, user_id, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO uia_sessions (session_id, method, uri, user_id, "
                            "created_ts) VALUES ($1, $2, $3, $4, $5)",
                            5, p);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    PQclear(res);
    return 0;
}

int db_uia_get(struct dbc *c, const char *session_id, struct db_uia *out)
{
    const char *p[] = {session_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT method, uri, user_id, completed::text, reg_token, created_ts "
                            "FROM uia_sessions WHERE session_id = $1",
                            1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        out->method = strdup(db_val(res, 0, 0));
        out->uri = strdup(db_val(res, 0, 1));
        out->user_id = db_val(res, 0, 2) ? strdup(db_val(res, 0, 2)) : NULL;
        out->completed = json_loads(db_val(res, 0, 3), 0, NULL);
        if (!json_is_array(out->completed)) {
            json_decref(out->completed);
            out->completed = json_array();
        }
        out->reg_token = db_val(res, 0, 4) ? strdup(db_val(res, 0, 4)) : NULL;
        out->created_ts = db_int(res, 0, 5);
    }
    PQclear(res);
    return found;
}

void db_uia_clear(struct db_uia *s)
{
    free(s->method);
    free(s->uri);
    free(s->user_id);
    free(s->reg_token);
    json_decref(s->completed);
    memset(s, 0, sizeof *s);
}

int db_uia_add_stage(struct dbc *c, const char *session_id, const char *stage)
{
    const char *p[] = {session_id, stage};
    return db_run(c,
                  "UPDATE uia_sessions SET completed = CASE WHEN completed ? $2 THEN completed "
                  "ELSE completed || to_jsonb($2::text) END WHERE session_id = $1",
                  2, p);
}

int db_uia_set_reg_token(struct dbc *c, const char *session_id, const char *token)
{
    const char *p[] = {session_id, token};
    return db_run(c, "UPDATE uia_sessions SET reg_token = $2 WHERE session_id = $1", 2, p);
}

int db_uia_delete(struct dbc *c, const char *session_id)
{
    const char *p[] = {session_id};
    return db_run(c, "DELETE FROM uia_sessions WHERE session_id = $1", 1, p);
}

long db_uia_expire(struct dbc *c, int64_t before_ms)
{
    char ts[24];
    const char *p[] = {db_i64(ts, before_ms)};
    PGresult *res = db_exec(c,
                            "WITH gone AS (DELETE FROM uia_sessions WHERE created_ts < $1 "
                            "RETURNING reg_token), freed AS (UPDATE registration_tokens r SET "
                            "pending = greatest(r.pending - g.n, 0) FROM (SELECT reg_token, "
                            "count(*) AS n FROM gone WHERE reg_token IS NOT NULL GROUP BY "
                            "reg_token) g WHERE r.token = g.reg_token) "
                            "SELECT count(*) FROM gone",
                            1, p);
    if (!res)
        return -1;
    long n = (long)db_int(res, 0, 0);
    PQclear(res);
    return n;
}
