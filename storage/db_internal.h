/* db_internal.h - for the storage/ files only: running SQL on a pooled connection. */
#ifndef AMTSBOTE_DB_INTERNAL_H
#define AMTSBOTE_DB_INTERNAL_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "storage/db.h"

/* The two halves of a client transaction key (storage/events.h) given as parameter `p`
 * ("$4"), in SQL: the txnId and the path's scope. Both are counted in characters; the scope
 * and its separator are ASCII, so the split is exact whatever the txnId holds. */
#define DB_TXN_ID_SQL(p) "left(" p ", -65)"
#define DB_TXN_SCOPE_SQL(p) "right(" p ", 64)"

/* Run `sql` (a string literal: it is prepared once per connection and cached by address)
 * with text parameters (NULL = SQL NULL). Returns the result (caller PQclear()s it) when it
 * succeeded, NULL on error (logged, SQLSTATE kept for db_unique_violation). */
PGresult *db_exec(struct dbc *c, const char *sql, int n, const char *const *params);
/* Run k statements (string literals, as for db_exec) in one round trip, in
 * order; out[i] gets each result. In READ COMMITTED each still reads with its own snapshot,
 * taken when it starts. Returns 0 with every out[i] set (caller PQclear()s them), or -1 with
 * none (logged). */
int db_exec_many(struct dbc *c, size_t k, const char *const *sqls, const int *ns,
                 const char *const *const *params, PGresult **out);
/* Run `sql` and COMMIT in one round trip (the COMMIT does not happen if sql fails; the
 * caller then rolls back). 0 or -1. */
int db_commit_after(struct dbc *c, const char *sql, int n, const char *const *params);
/* Run a statement not worth preparing (DDL, one-off). Same contract. */
PGresult *db_exec_once(struct dbc *c, const char *sql, int n, const char *const *params);
/* Run a multi-statement script (no parameters), as migrations are. Returns 0, or -1 with
 * PostgreSQL's message in err. */
int db_exec_script(struct dbc *c, const char *sql, char *err, size_t errlen);
/* Run and discard the result: 0 on success, -1 on error. */
int db_run(struct dbc *c, const char *sql, int n, const char *const *params);
/* Rows affected by a command result, or -1. */
long db_affected(PGresult *res);
/* For an UPDATE/DELETE result (cleared here): 1 if it touched a row, 0 if none, -1 if res is
 * NULL (the statement failed). */
int db_affected_one(PGresult *res);
/* The first column of every row as a new JSON array of strings; clears res. NULL when res
 * is NULL (the statement failed). */
json_t *db_strings(PGresult *res);
/* The first column of the first row, malloc'd into *out (NULL when there is no row or it is
 * SQL NULL); clears res. 0, or -1 when res is NULL (the statement failed) or out of memory. */
int db_string(PGresult *res, char **out);
/* The first column of the first row parsed as JSON (any value; SQL NULL or no row gives a
 * JSON null), for queries that build their answer with json_agg/json_build_object; clears
 * res. NULL when res is NULL or the text does not parse. */
json_t *db_json(PGresult *res);
/* Value at (row, col) or NULL when SQL NULL. Borrowed from res. */
const char *db_val(PGresult *res, int row, int col);
int64_t db_int(PGresult *res, int row, int col);
/* "t"/"f" to 1/0. */
int db_bool(PGresult *res, int row, int col);
/* Format an integer for a text parameter into buf[24]. */
const char *db_i64(char buf[24], int64_t v);

/* The tail of a statement whose CTE `ins` returned push-action rows (user_id, room_id,
 * event_id): queue a delivery to each pusher of those users (migration 0013). */
#define PUSH_ENQUEUE_SQL                                                                        \
    "INSERT INTO push_queue (user_id, app_id, pushkey, event_id, room_id, next_ts, "           \
    "created_ts) SELECT i.user_id, p.app_id, p.pushkey, i.event_id, i.room_id, t.now, t.now " \
    "FROM ins i JOIN pushers p ON p.user_id = i.user_id, (SELECT (extract(epoch FROM "         \
    "clock_timestamp()) * 1000)::bigint AS now) t"

#endif
