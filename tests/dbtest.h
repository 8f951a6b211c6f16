/* dbtest.h - for unit tests of storage/: a fresh database in the private cluster (PGHOST
 * and PGUSER from the environment, as tests/run.py sets them), migrated, with the pool open;
 * dropped again at the end. */
#ifndef AMTSBOTE_DBTEST_H
#define AMTSBOTE_DBTEST_H
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/db.h"
#include "storage/migrate.h"

static char dbtest_name[64];

static int dbtest_admin(const char *sql)
{
    const char *keys[] = {"dbname", NULL}, *vals[] = {"postgres", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    int ok = PQstatus(pg) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(pg, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "dbtest: %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    } else {
        fprintf(stderr, "dbtest: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return ok ? 0 : -1;
}

/* Returns 0 when the pool is open on a fresh, empty database (no migration applied). */
static inline int dbtest_create(const char *stem)
{
    char sql[128], err[256];
    snprintf(dbtest_name, sizeof dbtest_name, "unit_%s_%d", stem, (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbtest_name);
    if (dbtest_admin(sql) < 0)
        return -1;
    struct db_params p = {.dbname = dbtest_name, .min = 1, .max = 4};
    if (db_pool_open(&p, err, sizeof err) < 0) {
        fprintf(stderr, "dbtest: %s\n", err);
        return -1;
    }
    return 0;
}

/* Returns 0 when the pool is open on a fresh, migrated database. */
static inline int dbtest_open(const char *stem)
{
    char err[256];
    if (dbtest_create(stem) < 0)
        return -1;
    if (db_migrate(err, sizeof err) < 0) {
        fprintf(stderr, "dbtest: %s\n", err);
        return -1;
    }
    return 0;
}

static void dbtest_close(void)
{
    char sql[128];
    db_pool_close();
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbtest_name);
    dbtest_admin(sql);
}

#endif
