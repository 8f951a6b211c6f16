/* migrate.h - the schema, as numbered migrations compiled into the binary. */
#ifndef AMTSBOTE_MIGRATE_H
#define AMTSBOTE_MIGRATE_H
#include <stddef.h>

struct migration {
    int version;      /* NNNN of storage/migrations/NNNN_name.sql, strictly increasing */
    const char *name; /* "NNNN_name" */
    const char *sql;
};

extern const struct migration migrations[];
extern const size_t n_migrations;

/* Bring the database to the newest schema: each pending migration runs in its own transaction
 * together with its schema_version row, under an advisory lock so that concurrent servers
 * migrate once. Returns 0; -1 with a message in err if a migration fails or the database is
 * newer than this binary knows (a server never runs against a schema it does not know). */
int db_migrate(char *err, size_t errlen);
/* Newest version this binary knows. */
int db_schema_latest(void);

#endif
