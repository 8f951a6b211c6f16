/* db_test.c - the statement cache of storage/db.c: a statement that was prepared but failed
 * when executed keeps its name, so the next new statement on the connection gets its own
 * (a regression: "prepared statement s4 already exists" after a unique violation). */
#include "storage/db_internal.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

TEST(failed_execution_keeps_the_prepared_name)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    const char *p[] = {"@dup:test", "x"};
    /* a new statement, prepared and executed: fine */
    CHECK(db_run(c, "INSERT INTO users (user_id, password_hash, created_ts) VALUES ($1, $2, 0)", 2,
                 p) == 0);
    /* another new statement whose first execution fails after its PREPARE succeeded */
    CHECK(db_run(c, "INSERT INTO users (user_id, password_hash, created_ts) VALUES ($1, $2, 1)", 2,
                 p) < 0);
    CHECK(db_unique_violation(c));
    /* the next new statements, and the failed one again, all still work */
    for (int i = 0; i < 3; i++) {
        PGresult *r = db_exec(c, "SELECT count(*) FROM users WHERE user_id = $1", 1, p);
        CHECK(r != NULL && db_int(r, 0, 0) == 1);
        PQclear(r);
        r = db_exec(c, "SELECT user_id FROM users WHERE password_hash = $2 AND user_id = $1", 2, p);
        CHECK(r != NULL && PQntuples(r) == 1);
        PQclear(r);
    }
    CHECK(db_run(c, "INSERT INTO users (user_id, password_hash, created_ts) VALUES ($1, $2, 1)", 2,
                 p) < 0);
    /* and in a transaction, where BEGIN travels with the first statement */
    CHECK(db_begin(c) == 0);
    PGresult *r = db_exec(c, "SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE", 1, p);
    CHECK(r != NULL && PQntuples(r) == 1);
    PQclear(r);
    CHECK(db_commit(c) == 0);
    db_put(c);
}

int main(void)
{
    if (dbtest_open("db") < 0) {
        printf("db_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(failed_execution_keeps_the_prepared_name);
    dbtest_close();
    return unit_done();
}
