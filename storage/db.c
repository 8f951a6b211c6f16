/* db.c - the PostgreSQL connection pool and statement helpers.
 *
 * libpq connections are not thread-safe, so each one is lent to one thread at a time: db_get
 * takes an idle connection (or opens one while fewer than `max` exist) and db_put returns it.
 * Statements are prepared on first use per connection and remembered by the address of their
 * SQL literal, so the hot paths skip PostgreSQL's parse and plan.
 *
 * Invariants:
 *  1. A connection in the idle list has no transaction open (db_put rolls back).
 *  2. A broken connection is reset before it is lent again; its prepared-statement cache is
 *     emptied with it.
 *  3. Values reach SQL only as parameters, never spliced into the statement text.
 *  5. Cached plans are dropped (DEALLOCATE ALL) when a connection has run 1,000 statements,
 *     then 2,000 more, 4,000 ... up to every 256,000: PostgreSQL keeps a prepared statement's
 *     generic plan until the statistics change, and a plan chosen while a table was nearly
 *     empty (a fresh server) would otherwise scan it whole for as long as the connection
 *     lives.
 *  6. `down` says whether the database could not be reached the last time it was tried: set
 *     when a connection cannot be opened or reset, or a statement fails because its connection
 *     broke (SQLSTATE class 08, or the server shutting down); cleared by the next connection
 *     opened or statement run. The HTTP front answers 503 instead of 500 while it is set.
 *  4. BEGIN is not sent on its own: db_begin marks the connection and the transaction's first
 *     statement carries it in the same round trip (libpq pipeline mode), and db_exec_many
 *     sends several statements in one round trip the same way. */
#include "storage/db_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/log.h"

#define STMT_CACHE 256 /* distinct statements per connection before falling back to unprepared */

struct dbc {
    PGconn *pg;
    struct dbc *next_idle;
    const char *stmts[STMT_CACHE]; /* SQL literal addresses, index = statement name "s<i>" */
    int n_stmts;
    char sqlstate[6];
    bool begin_pending;        /* db_begin was called; BEGIN goes out with the next statement */
    uint64_t execs, replan_at; /* statements run; when the cached plans are dropped next */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct dbc *idle;
    int open, max;
    const char *keys[8];
    const char *vals[8];
    char port[16];
    bool ready;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static atomic_bool down; /* invariant 6 */

bool db_unavailable(void)
{
    return atomic_load(&down);
}

/* Note whether a failed statement on c failed because the connection is gone. */
static void note_failure(struct dbc *c)
{
    /* SQLSTATEs of a server going away: admin_shutdown, crash_shutdown, cannot_connect_now */
    static const char *const gone[] = {"57P01", "57P02", "57P03"};
    bool lost = PQstatus(c->pg) != CONNECTION_OK || strncmp(c->sqlstate, "08", 2) == 0;
    for (size_t i = 0; i < sizeof gone / sizeof gone[0] && !lost; i++)
        lost = strcmp(c->sqlstate, gone[i]) == 0;
    if (lost)
        atomic_store(&down, true);
}

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* "relation already exists, skipping" and friends are not worth a log line */
}

static struct dbc *conn_open(char *err, size_t errlen)
{
    struct dbc *c = calloc(1, sizeof *c);
    if (c)
        c->replan_at = 1000;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->pg = PQconnectdbParams(pool.keys, pool.vals, 0);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = '\0';
        PQfinish(c->pg);
        free(c);
        atomic_store(&down, true);
        return NULL;
    }
    PQsetNoticeProcessor(c->pg, notice_quiet, NULL);
    atomic_store(&down, false);
    return c;
}

int db_pool_open(const struct db_params *p, char *err, size_t errlen)
{
    int k = 0;
#define KV(key, val)                                                                               \
    do {                                                                                           \
        if (val) {                                                                                 \
            pool.keys[k] = key;                                                                    \
            pool.vals[k] = val;                                                                    \
            k++;                                                                                   \
        }                                                                                          \
    } while (0)
    KV("host", p->host);
    KV("user", p->user);
    KV("password", p->password);
    KV("dbname", p->dbname);
    if (p->port > 0) {
        snprintf(pool.port, sizeof pool.port, "%d", p->port);
        KV("port", pool.port);
    }
    KV("application_name", "amtsbote");
    KV("connect_timeout", "10"); /* an unreachable host must not hold a worker for minutes */
#undef KV
    pool.keys[k] = NULL;
    pool.vals[k] = NULL;
    pool.max = p->max > 0 ? p->max : 10;
    int min = p->min > 0 ? p->min : 1;
    if (min > pool.max)
        min = pool.max;
    for (int i = 0; i < min; i++) {
        struct dbc *c = conn_open(err, errlen);
        if (!c) {
            db_pool_close();
            return -1;
        }
        c->next_idle = pool.idle;
        pool.idle = c;
        pool.open++;
    }
    pool.ready = true;
    return 0;
}

void db_pool_close(void)
{
    pthread_mutex_lock(&pool.lock);
    while (pool.idle) {
        struct dbc *c = pool.idle;
        pool.idle = c->next_idle;
        PQfinish(c->pg);
        free(c);
        pool.open--;
    }
    pool.ready = false;
    pthread_mutex_unlock(&pool.lock);
}

struct dbc *db_get(void)
{
    struct dbc *c = NULL;
    char err[256];

    pthread_mutex_lock(&pool.lock);
    while (!pool.idle && pool.open >= pool.max)
        pthread_cond_wait(&pool.cond, &pool.lock);
    if (pool.idle) {
        c = pool.idle;
        pool.idle = c->next_idle;
        pthread_mutex_unlock(&pool.lock);
    } else {
        pool.open++;
        pthread_mutex_unlock(&pool.lock);
        c = conn_open(err, sizeof err);
        if (!c) {
            log_error("database: cannot connect: %s", err);
            pthread_mutex_lock(&pool.lock);
            pool.open--;
            pthread_cond_signal(&pool.cond);
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        PQreset(c->pg);
        c->n_stmts = 0;
        if (PQstatus(c->pg) != CONNECTION_OK) {
            atomic_store(&down, true);
            log_error("database: connection lost and reset failed");
            db_put(c);
            return NULL;
        }
    }
    if (c->execs >= c->replan_at) { /* invariant 5; the connection is idle here */
        PGresult *res = PQexec(c->pg, "DEALLOCATE ALL");
        PQclear(res);
        c->n_stmts = 0;
        uint64_t step = c->replan_at ? c->replan_at : 1000;
        c->replan_at = c->execs + (step < 256000 ? step : 256000);
        if (c->replan_at <= c->execs + 1000)
            c->replan_at = c->execs + 1000;
    }
    c->next_idle = NULL;
    return c;
}

void db_pool_stats(int *open, int *in_use, int *max)
{
    int idle = 0;
    pthread_mutex_lock(&pool.lock);
    for (struct dbc *c = pool.idle; c; c = c->next_idle)
        idle++;
    *open = pool.open;
    *max = pool.max;
    pthread_mutex_unlock(&pool.lock);
    *in_use = *open - idle;
}

void db_put(struct dbc *c)
{
    if (!c)
        return;
    c->begin_pending = false;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        db_rollback(c);
    pthread_mutex_lock(&pool.lock);
    c->next_idle = pool.idle;
    pool.idle = c;
    pthread_cond_signal(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
}

static PGresult *check(struct dbc *c, PGresult *res, const char *sql)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        c->sqlstate[0] = '\0';
        if (atomic_load_explicit(&down, memory_order_relaxed))
            atomic_store(&down, false);
        return res;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    note_failure(c);
    /* A unique violation is an expected outcome of a race the caller handles; say less. */
    if (strcmp(c->sqlstate, "23505") != 0) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);
        char first[96];
        snprintf(first, sizeof first, "%s", sql);
        for (char *p = first; *p; p++)
            if (*p == '\n')
                *p = ' ';
        log_error("database: %s (in: %s...)", msg, first);
    }
    PQclear(res);
    return NULL;
}

/* Send a pending BEGIN on its own (for the paths that do not pipeline). 0 or -1. */
static int flush_begin(struct dbc *c)
{
    if (!c->begin_pending)
        return 0;
    c->begin_pending = false;
    PGresult *res = check(c, PQexec(c->pg, "BEGIN"), "BEGIN");
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

PGresult *db_exec_once(struct dbc *c, const char *sql, int n, const char *const *params)
{
    if (flush_begin(c) < 0)
        return NULL;
    return check(c, PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0), sql);
}

/* The cached statement index of sql, or -1 when the cache is full. *fresh: not yet prepared
 * on this connection (the caller prepares it as "s<index>"). */
static int stmt_slot(struct dbc *c, const char *sql, bool *fresh)
{
    *fresh = false;
    for (int i = 0; i < c->n_stmts; i++)
        if (c->stmts[i] == sql)
            return i;
    if (c->n_stmts == STMT_CACHE)
        return -1;
    *fresh = true;
    return c->n_stmts;
}

/* Collect the result of one pipelined command: the last non-NULL result before the NULL that
 * ends it. */
static PGresult *pipeline_result(struct dbc *c)
{
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(c->pg)) != NULL) {
        PQclear(last);
        last = r;
    }
    return last;
}

int db_exec_many(struct dbc *c, size_t k, const char *const *sqls, const int *ns,
                 const char *const *const *params, PGresult **out)
{
    char name[16];
    int slots_buf[8];
    bool fresh_buf[8], prepared_buf[8] = {false};
    int *slots = k <= 8 ? slots_buf : calloc(k, sizeof *slots);
    bool *fresh = k <= 8 ? fresh_buf : calloc(k, sizeof *fresh);
    bool *prepared = k <= 8 ? prepared_buf : calloc(k, sizeof *prepared);
    bool begin = c->begin_pending;
    int rc = -1;
    if (k == 0 || !slots || !fresh || !prepared)
        goto free_out;
    c->execs += k;
    int n_before = c->n_stmts;
    for (size_t j = 0; j < k; j++) {
        out[j] = NULL;
        slots[j] = stmt_slot(c, sqls[j], &fresh[j]);
        for (size_t m = 0; m < j; m++) /* the same new statement twice: prepare once */
            if (fresh[j] && sqls[m] == sqls[j])
                fresh[j] = false;
        if (slots[j] < 0) {        /* cache full: no pipelining, one by one */
            c->n_stmts = n_before; /* nothing reserved here was prepared */
            rc = 0;
            for (size_t m = 0; m < k && rc == 0; m++) {
                out[m] = db_exec(c, sqls[m], ns[m], params[m]);
                if (!out[m]) {
                    for (size_t q = 0; q < m; q++) {
                        PQclear(out[q]);
                        out[q] = NULL;
                    }
                    rc = -1;
                }
            }
            goto free_out;
        }
        if (fresh[j] && slots[j] == c->n_stmts)
            c->stmts[c->n_stmts++] = sqls[j]; /* reserve; undone below on failure */
    }
    c->begin_pending = false;
    if (!PQenterPipelineMode(c->pg))
        goto fail;
    bool sent = !begin || PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (size_t j = 0; j < k && sent; j++) {
        snprintf(name, sizeof name, "s%d", slots[j]);
        if (fresh[j])
            sent = PQsendPrepare(c->pg, name, sqls[j], ns[j], NULL);
        sent = sent && PQsendQueryPrepared(c->pg, name, ns[j], params[j], NULL, NULL, 0);
    }
    sent = sent && PQpipelineSync(c->pg);
    if (!sent) {
        log_error("database: cannot send a pipeline: %s", PQerrorMessage(c->pg));
        PQexitPipelineMode(c->pg);
        goto fail;
    }
    rc = 0;
    if (begin) {
        PGresult *r = check(c, pipeline_result(c), "BEGIN");
        if (!r)
            rc = -1;
        PQclear(r);
    }
    for (size_t j = 0; j < k; j++) {
        if (fresh[j]) {
            PGresult *r = pipeline_result(c);
            prepared[j] = PQresultStatus(r) == PGRES_COMMAND_OK; /* the server has it now */
            if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
                check(c, r, sqls[j]);
                r = NULL;
                rc = -1;
            }
            PQclear(r);
        }
        PGresult *r = pipeline_result(c);
        if (rc == 0 && (out[j] = check(c, r, sqls[j])) == NULL)
            rc = -1;
        else if (rc != 0)
            PQclear(r);
    }
    PGresult *sync = PQgetResult(c->pg); /* PGRES_PIPELINE_SYNC */
    PQclear(sync);
    if (!PQexitPipelineMode(c->pg))
        log_error("database: cannot leave pipeline mode: %s", PQerrorMessage(c->pg));
    if (rc == 0)
        goto free_out;
fail:
    for (size_t j = 0; j < k; j++) {
        PQclear(out[j]);
        out[j] = NULL;
    }
    /* a statement whose PREPARE did not happen (it failed, or the pipeline was aborted before
     * it) must be prepared again next time; one that was prepared keeps its name, even if
     * executing it failed, or a later statement would try to take the same name */
    while (c->n_stmts > 0) {
        bool ours = false;
        for (size_t j = 0; j < k; j++)
            ours |= fresh[j] && !prepared[j] && c->stmts[c->n_stmts - 1] == sqls[j];
        if (!ours)
            break;
        c->n_stmts--;
    }
    rc = -1;
free_out:
    if (slots != slots_buf)
        free(slots);
    if (fresh != fresh_buf)
        free(fresh);
    if (prepared != prepared_buf)
        free(prepared);
    return rc;
}

PGresult *db_exec(struct dbc *c, const char *sql, int n, const char *const *params)
{
    char name[16];
    bool fresh;
    c->execs++;
    int i = stmt_slot(c, sql, &fresh);
    if (i < 0)
        return db_exec_once(c, sql, n, params);
    if (c->begin_pending || fresh) {
        PGresult *res = NULL;
        const char *const *pp[1] = {params};
        return db_exec_many(c, 1, &sql, &n, pp, &res) == 0 ? res : NULL;
    }
    snprintf(name, sizeof name, "s%d", i);
    return check(c, PQexecPrepared(c->pg, name, n, params, NULL, NULL, 0), sql);
}

int db_exec_script(struct dbc *c, const char *sql, char *err, size_t errlen)
{
    if (flush_begin(c) < 0) {
        snprintf(err, errlen, "BEGIN failed");
        return -1;
    }
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int db_run(struct dbc *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = db_exec(c, sql, n, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int db_begin(struct dbc *c)
{
    c->begin_pending = true; /* sent with the first statement (invariant 4) */
    return 0;
}

int db_commit(struct dbc *c)
{
    if (c->begin_pending) { /* nothing ran: nothing to commit */
        c->begin_pending = false;
        return 0;
    }
    return db_run(c, "COMMIT", 0, NULL);
}

int db_commit_after(struct dbc *c, const char *sql, int n, const char *const *params)
{
    static const char commit[] = "COMMIT";
    const char *const sqls[] = {sql, commit};
    const int ns[] = {n, 0};
    const char *const *ps[] = {params, NULL};
    PGresult *rs[2];
    if (db_exec_many(c, 2, sqls, ns, ps, rs) < 0)
        return -1;
    PQclear(rs[0]);
    PQclear(rs[1]);
    return 0;
}

void db_rollback(struct dbc *c)
{
    if (c->begin_pending) {
        c->begin_pending = false;
        return;
    }
    PGresult *res = PQexec(c->pg, "ROLLBACK");
    PQclear(res);
}

int db_savepoint(struct dbc *c)
{
    return db_run(c, "SAVEPOINT amtsbote_sp", 0, NULL);
}

int db_savepoint_rollback(struct dbc *c)
{
    if (c->begin_pending) /* nothing ran since BEGIN: nothing to undo */
        return 0;
    PGresult *res = PQexec(c->pg, "ROLLBACK TO SAVEPOINT amtsbote_sp");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        log_warn("db: rollback to savepoint: %s", PQerrorMessage(c->pg));
    PQclear(res);
    return rc;
}

int db_unique_violation(const struct dbc *c)
{
    return strcmp(c->sqlstate, "23505") == 0;
}

long db_affected(PGresult *res)
{
    const char *n = PQcmdTuples(res);
    return n && *n ? strtol(n, NULL, 10) : -1;
}

int db_affected_one(PGresult *res)
{
    if (!res)
        return -1;
    long n = db_affected(res);
    PQclear(res);
    return n > 0 ? 1 : 0;
}

json_t *db_strings(PGresult *res)
{
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, json_string(db_val(res, i, 0)));
    PQclear(res);
    return arr;
}

int db_string(PGresult *res, char **out)
{
    *out = NULL;
    if (!res)
        return -1;
    const char *v = PQntuples(res) > 0 ? db_val(res, 0, 0) : NULL;
    int rc = 0;
    if (v && !(*out = strdup(v)))
        rc = -1;
    PQclear(res);
    return rc;
}

json_t *db_json(PGresult *res)
{
    if (!res)
        return NULL;
    json_t *v = NULL;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL);
    else
        v = json_null();
    PQclear(res);
    if (!v)
        log_error("db: a JSON result did not parse");
    return v;
}

const char *db_val(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int64_t db_int(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int db_bool(PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

const char *db_i64(char buf[24], int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}
