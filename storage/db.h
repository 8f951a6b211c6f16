/* db.h - the PostgreSQL connection pool, as the rest of the server sees it.
 *
 * Callers outside storage/ hold a `struct dbc *` only to pass it to storage functions and to
 * group calls in a transaction; they never see SQL or libpq. */
#ifndef AMTSBOTE_DB_H
#define AMTSBOTE_DB_H
#include <stdbool.h>
#include <stddef.h>

struct dbc;

struct db_params {
    const char *host, *user, *password, *dbname; /* NULL: libpq default */
    int port;                                    /* 0: default */
    int min, max;                                /* pool size */
};

/* Open the pool with `min` connections up front. Returns 0, or -1 with a message in err. */
int db_pool_open(const struct db_params *p, char *err, size_t errlen);
/* Close every connection; no dbc may be in use. */
void db_pool_close(void);

/* Borrow a connection, waiting while all `max` are in use. NULL if the database cannot be
 * reached (logged). Give it back with db_put; an open transaction is rolled back there. */
struct dbc *db_get(void);
void db_put(struct dbc *c);

/* Transactions. Return 0, or -1 (logged). db_rollback is safe outside a transaction. */
int db_begin(struct dbc *c);
int db_commit(struct dbc *c);
void db_rollback(struct dbc *c);
/* A savepoint inside the open transaction (one name, so each db_savepoint marks a new one
 * and db_savepoint_rollback goes back to the latest): 0, or -1 (logged). Each savepoint that
 * writes costs the transaction a subtransaction ID; PostgreSQL caches 64 per backend, so keep
 * fewer than that in one transaction. db_savepoint_rollback undoes what ran since the latest
 * db_savepoint (an aborted transaction becomes usable again) and keeps the savepoint. */
int db_savepoint(struct dbc *c);
int db_savepoint_rollback(struct dbc *c);

/* Whether the database could not be reached at the last try (a connection could not be opened
 * or broke); false again once a connection opens or a statement succeeds. Thread-safe. */
bool db_unavailable(void);

/* The pool now: connections open, lent out, and the limit (for the metrics). Thread-safe. */
void db_pool_stats(int *open, int *in_use, int *max);

/* 1 if the last failed statement on c was a unique violation (a lost race on insert). */
int db_unique_violation(const struct dbc *c);

#endif
