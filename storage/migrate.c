/* migrate.c - applies the numbered migrations compiled into the binary.
 *
 * The schema_version table records each applied migration. Under a transaction-level advisory
 * lock, each pending migration runs in its own transaction with its bookkeeping row, so a
 * crash leaves the schema at a whole version. "Pending" means not recorded, not "above the
 * newest recorded": migrations written in parallel may land in any order, so a database that
 * has 0010 still gets a 0005 that arrived later (such migrations must not depend on each
 * other, which new tables and indexes do not). A database whose newest version is above what
 * this binary knows is refused: an older server must not write to a newer schema. */
#include "storage/migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "server/log.h"
#include "storage/db_internal.h"

#define MIGRATE_LOCK_KEY "7352837101" /* arbitrary constant for pg_advisory_xact_lock */

int db_schema_latest(void)
{
    return n_migrations ? migrations[n_migrations - 1].version : 0;
}

/* 1 if migration `version` is recorded, 0 if not, -1 on error. */
static int applied(struct dbc *c, int version)
{
    char v[24];
    const char *p[] = {db_i64(v, version)};
    PGresult *res = db_exec_once(c, "SELECT 1 FROM schema_version WHERE version = $1", 1, p);
    if (!res)
        return -1;
    int n = PQntuples(res) > 0;
    PQclear(res);
    return n;
}

static int current_version(struct dbc *c, int *out)
{
    PGresult *res = db_exec_once(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0,
                                 NULL);
    if (!res)
        return -1;
    *out = (int)db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

int db_migrate(char *err, size_t errlen)
{
    struct dbc *c = db_get();
    int rc = -1, have = 0;
    const char *lock[] = {MIGRATE_LOCK_KEY};

    if (!c) {
        snprintf(err, errlen, "cannot connect to the database");
        return -1;
    }
    PGresult *res = db_exec_once(c,
                                 "CREATE TABLE IF NOT EXISTS schema_version ("
                                 " version integer PRIMARY KEY, name text NOT NULL,"
                                 " applied_ts bigint NOT NULL)",
                                 0, NULL);
    if (!res && !db_unique_violation(c)) {
        snprintf(err, errlen, "cannot create schema_version table");
        goto out;
    }
    PQclear(res);
    for (size_t i = 0; i < n_migrations; i++) {
        const struct migration *m = &migrations[i];
        if (db_begin(c) < 0 ||
            db_run(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock) < 0 ||
            current_version(c, &have) < 0) {
            snprintf(err, errlen, "cannot read the schema version");
            goto out;
        }
        if (have > db_schema_latest()) {
            snprintf(err, errlen,
                     "the database schema is version %d, newer than this amtsbote knows (%d): "
                     "run the newer amtsbote",
                     have, db_schema_latest());
            goto out;
        }
        int done = applied(c, m->version);
        if (done < 0) {
            snprintf(err, errlen, "cannot read the schema version");
            goto out;
        }
        if (done) {
            db_rollback(c);
            continue;
        }
        char why[256];
        if (db_exec_script(c, m->sql, why, sizeof why) < 0) {
            snprintf(err, errlen, "migration %s failed: %s", m->name, why);
            goto out;
        }
        log_info("database: applied migration %s", m->name);
        char v[24];
        const char *params[] = {db_i64(v, m->version), m->name};
        if (db_run(c,
                   "INSERT INTO schema_version (version, name, applied_ts)"
                   " VALUES ($1, $2, (extract(epoch from now()) * 1000)::bigint)",
                   2, params) < 0 ||
            db_commit(c) < 0) {
            snprintf(err, errlen, "migration %s could not be recorded", m->name);
            goto out;
        }
    }
    if (current_version(c, &have) < 0) {
        snprintf(err, errlen, "cannot read the schema version");
        goto out;
    }
    if (have > db_schema_latest()) {
        snprintf(err, errlen,
                 "the database schema is version %d, newer than this amtsbote knows (%d): run "
                 "the newer amtsbote",
                 have, db_schema_latest());
        goto out;
    }
    rc = 0;
out:
    db_rollback(c);
    db_put(c);
    return rc;
}
