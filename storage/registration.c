/* registration.c - SQL for registration tokens and shared-secret registration nonces.
 *
 * Token validity follows Synapse: a token is valid while it exists, has not passed its
 * expiry_time, and pending + completed < uses_allowed (NULL = unlimited). A use is reserved
 * (pending) when the m.login.registration_token stage succeeds and completed when the account
 * is created, so concurrent registrations cannot overspend a token. */
#include "storage/registration.h"

#include <stdio.h>
#include <string.h>

#include "storage/db_internal.h"

#define TOKEN_COLS "token, uses_allowed, pending, completed, expiry_time"
#define VALID_AT(ts)                                                                               \
    "(expiry_time IS NULL OR expiry_time > " ts ") AND "                                           \
    "(uses_allowed IS NULL OR pending + completed < uses_allowed)"

static json_t *token_row(PGresult *res, int i)
{
    json_t *o = json_object();
    json_object_set_new(o, "token", json_string(db_val(res, i, 0)));
    json_object_set_new(o, "uses_allowed",
                        db_val(res, i, 1) ? json_integer(db_int(res, i, 1)) : json_null());
    json_object_set_new(o, "pending", json_integer(db_int(res, i, 2)));
    json_object_set_new(o, "completed", json_integer(db_int(res, i, 3)));
    json_object_set_new(o, "expiry_time",
                        db_val(res, i, 4) ? json_integer(db_int(res, i, 4)) : json_null());
    return o;
}

static int one_row(PGresult *res, json_t **out)
{
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found && out)
        *out = token_row(res, 0);
    PQclear(res);
    return found;
}

int db_regtokens_create(struct dbc *c, const char *token, int64_t uses_allowed,
                        int64_t expiry_time, json_t **out)
{
    char u[24], e[24];
    const char *p[] = {token, uses_allowed >= 0 ? db_i64(u, uses_allowed) : NULL,
                       expiry_time >= 0 ? db_i64(e, expiry_time) : NULL};
    PGresult *res = db_exec(c,
                            "INSERT INTO registration_tokens (token, uses_allowed, expiry_time) "
                            "VALUES ($1, $2, $3) RETURNING " TOKEN_COLS,
                            3, p);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    *out = token_row(res, 0);
    PQclear(res);
    return 0;
}

int db_regtokens_get(struct dbc *c, const char *token, json_t **out)
{
    const char *p[] = {token};
    return one_row(
        db_exec(c, "SELECT " TOKEN_COLS " FROM registration_tokens WHERE token = $1", 1, p), out);
}

json_t *db_regtokens_list(struct dbc *c, int valid, int64_t now_ms)
{
    char ts[24], v[4];
    snprintf(v, sizeof v, "%d", valid);
    const char *p[] = {db_i64(ts, now_ms), v};
    PGresult *res = db_exec(c,
                            "SELECT " TOKEN_COLS " FROM registration_tokens WHERE $2::int < 0 OR "
                            "(" VALID_AT("$1") ") = ($2::int = 1) ORDER BY token",
                            2, p);
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, token_row(res, i));
    PQclear(res);
    return arr;
}

int db_regtokens_update(struct dbc *c, const char *token, int set_uses, int64_t uses_allowed,
                        int set_expiry, int64_t expiry_time, json_t **out)
{
    char u[24], e[24];
    const char *p[] = {token, set_uses ? "t" : "f",
                       uses_allowed >= 0 ? db_i64(u, uses_allowed) : NULL, set_expiry ? "t" : "f",
                       expiry_time >= 0 ? db_i64(e, expiry_time) : NULL};
    return one_row(db_exec(c,
                           "UPDATE registration_tokens SET "
                           "uses_allowed = CASE WHEN $2 THEN $3::int ELSE uses_allowed END, "
                           "expiry_time = CASE WHEN $4 THEN $5::bigint ELSE expiry_time END "
                           "WHERE token = $1 RETURNING " TOKEN_COLS,
                           5, p),
                   out);
}

int db_regtokens_delete(struct dbc *c, const char *token)
{
    const char *p[] = {token};
    PGresult *res = db_exec(c, "DELETE FROM registration_tokens WHERE token = $1", 1, p);
    if (!res)
        return -1;
    long n = db_affected(res);
    PQclear(res);
    return n > 0;
}

int db_regtokens_valid(struct dbc *c, const char *token, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {token, db_i64(ts, now_ms)};
    return one_row(db_exec(c,
                           "SELECT " TOKEN_COLS " FROM registration_tokens WHERE token = $1 "
                           "AND " VALID_AT("$2"),
                           2, p),
                   NULL);
}

int db_regtokens_reserve(struct dbc *c, const char *token, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {token, db_i64(ts, now_ms)};
    return one_row(db_exec(c,
                           "UPDATE registration_tokens SET pending = pending + 1 WHERE "
                           "token = $1 AND " VALID_AT("$2") " RETURNING " TOKEN_COLS,
                           2, p),
                   NULL);
}

int db_regtokens_complete(struct dbc *c, const char *token)
{
    const char *p[] = {token};
    return db_run(c,
                  "UPDATE registration_tokens SET pending = greatest(pending - 1, 0), "
                  "completed = completed + 1 WHERE token = $1",
                  1, p);
}

int db_regtokens_release(struct dbc *c, const char *token)
{
    const char *p[] = {token};
    return db_run(c,
                  "UPDATE registration_tokens SET pending = greatest(pending - 1, 0) "
                  "WHERE token = $1",
                  1, p);
}

int db_nonces_create(struct dbc *c, const char *nonce, int64_t now_ms, int64_t min_ts,
                     int64_t max)
{
    char ts[24], min[24], cap[24];
    const char *p[] = {nonce, db_i64(ts, now_ms), db_i64(min, min_ts), db_i64(cap, max)};
    /* The DELETE's effect is not visible to the count in the same statement: the count
     * leaves out the stale rows itself. */
    return db_affected_one(db_exec(c,
                                   "WITH stale AS (DELETE FROM admin_register_nonces "
                                   "WHERE created_ts < $3) "
                                   "INSERT INTO admin_register_nonces (nonce, created_ts) "
                                   "SELECT $1, $2 WHERE (SELECT count(*) FROM "
                                   "admin_register_nonces WHERE created_ts >= $3) < $4",
                                   4, p));
}

int db_nonces_take(struct dbc *c, const char *nonce, int64_t min_ts)
{
    char ts[24];
    const char *p[] = {nonce, db_i64(ts, min_ts)};
    if (db_run(c, "DELETE FROM admin_register_nonces WHERE created_ts < $2 AND nonce <> $1", 2,
               p) < 0)
        return -1;
    PGresult *res = db_exec(c,
                            "DELETE FROM admin_register_nonces WHERE nonce = $1 AND "
                            "created_ts >= $2 RETURNING nonce",
                            2, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}
