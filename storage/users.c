/* users.c - SQL for the users table (accounts, password hashes, admin flag, profile). */
#include "storage/users.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int db_users_insert(struct dbc *c, const char *user_id, const char *password_hash, bool admin,
                    const char *displayname, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {user_id, password_hash, admin ? "t" : "f", displayname, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO users (user_id, password_hash, admin, displayname, "
                            "created_ts) VALUES ($1, $2, $3, $4, $5)",
                            5, p);
    if (!res)
        return db_unique_violation(c) ? 1 : -1;
    PQclear(res);
    return 0;
}

static int fill_user(PGresult *res, struct db_user *out)
{
    int found = PQntuples(res) > 0;
    if (found) {
        out->user_id = dup_or_null(db_val(res, 0, 0));
        out->password_hash = dup_or_null(db_val(res, 0, 1));
        out->admin = db_bool(res, 0, 2);
        out->deactivated = db_bool(res, 0, 3);
        out->created_ts = db_int(res, 0, 4);
        out->displayname = dup_or_null(db_val(res, 0, 5));
        out->avatar_url = dup_or_null(db_val(res, 0, 6));
        out->locked = db_bool(res, 0, 7);
    }
    PQclear(res);
    return found;
}

int db_users_get(struct dbc *c, const char *user_id, struct db_user *out)
{
    const char *p[] = {user_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT user_id, password_hash, admin, deactivated, created_ts, "
                            "displayname, avatar_url, locked FROM users WHERE user_id = $1",
                            1, p);
    return res ? fill_user(res, out) : -1;
}

int db_users_get_ci(struct dbc *c, const char *user_id, struct db_user *out)
{
    const char *p[] = {user_id};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT user_id, password_hash, admin, deactivated, created_ts, "
                            "displayname, avatar_url, locked FROM users WHERE lower(user_id) = lower($1) "
                            "ORDER BY user_id LIMIT 1",
                            1, p);
    return res ? fill_user(res, out) : -1;
}

void db_user_clear(struct db_user *u)
{
    if (!u)
        return;
    free(u->user_id);
    free(u->password_hash);
    free(u->displayname);
    free(u->avatar_url);
    memset(u, 0, sizeof *u);
}

int db_users_exists_ci(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *res =
        db_exec(c, "SELECT 1 FROM users WHERE lower(user_id) = lower($1) LIMIT 1", 1, p);
    if (!res)
        return -1;
    int n = PQntuples(res) > 0;
    PQclear(res);
    return n;
}

int db_users_set_password(struct dbc *c, const char *user_id, const char *hash)
{
    const char *p[] = {user_id, hash};
    return db_affected_one(db_exec(c, "UPDATE users SET password_hash = $2 WHERE user_id = $1", 2, p));
}

int db_users_deactivate(struct dbc *c, const char *user_id, bool erase)
{
    const char *p[] = {user_id, erase ? "t" : "f"};
    return db_affected_one(db_exec(c,
                                "UPDATE users SET deactivated = true, "
                                "displayname = CASE WHEN $2 THEN NULL ELSE displayname END, "
                                "avatar_url = CASE WHEN $2 THEN NULL ELSE avatar_url END "
                                "WHERE user_id = $1",
                                2, p));
}

int db_users_set_profile(struct dbc *c, const char *user_id, const char *field, const char *value)
{
    const char *p[] = {user_id, value};
    if (strcmp(field, "displayname") == 0)
        return db_affected_one(
            db_exec(c, "UPDATE users SET displayname = $2 WHERE user_id = $1", 2, p));
    if (strcmp(field, "avatar_url") == 0)
        return db_affected_one(
            db_exec(c, "UPDATE users SET avatar_url = $2 WHERE user_id = $1", 2, p));
    return -1;
}

int db_users_set_admin(struct dbc *c, const char *user_id, bool admin)
{
    const char *p[] = {user_id, admin ? "t" : "f"};
    return db_affected_one(db_exec(c, "UPDATE users SET admin = $2 WHERE user_id = $1", 2, p));
}
