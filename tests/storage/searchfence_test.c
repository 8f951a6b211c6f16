/* searchfence_test.c - a purge never leaves search rows behind (storage/search.c's fence).
 *
 * The race, made deterministic with a third connection: it holds search_position, so an
 * indexer round started before the purge stops at it; the purge then runs; the hold is let
 * go. Without the fence the indexer's statement had taken its snapshot before the purge
 * committed and, once past the lock, indexed the purged events (rows left in event_search
 * for events that no longer exist). With it, the round and the purge run one after the
 * other, in either order, and no row is left. Both purges are driven: a room's purge
 * (storage/roomadmin.c) and a retention purge (storage/retention.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "storage/db_internal.h"
#include "storage/retention.h"
#include "storage/roomadmin.h"
#include "storage/search.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

#define N_EVENTS 6

/* A room with N_EVENTS messages at stream 1.., the index behind all of them. 0 or -1. */
static int seed(struct dbc *c, const char *room_id)
{
    const char *p[] = {room_id};
    if (db_run(c, "UPDATE search_position SET stream = 0", 0, NULL) < 0 ||
        db_run(c,
               "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES "
               "($1, '10', '@a:t.example', 0)",
               1, p) < 0)
        return -1;
    return db_run(c,
                  "INSERT INTO events (event_id, room_id, type, sender, origin_server_ts, depth, "
                  "stream_ordering, json) SELECT '$' || $1 || i, $1, 'm.room.message', "
                  "'@a:t.example', 0, i, (SELECT coalesce(max(stream_ordering), 0) FROM events) "
                  "+ i, '{\"content\":{\"body\":\"hallo welt\"}}' FROM generate_series(1, 6) i",
                  1, p);
}

static int64_t count(struct dbc *c, const char *sql)
{
    PGresult *res = db_exec(c, sql, 0, NULL);
    int64_t n = res ? db_int(res, 0, 0) : -1;
    PQclear(res);
    return n;
}

static int backend_pid(struct dbc *c)
{
    return (int)count(c, "SELECT pg_backend_pid()");
}

/* Whether backend `pid` is waiting for a lock another holds. */
static bool blocked(struct dbc *c, int pid)
{
    char v[24];
    const char *p[] = {db_i64(v, pid)};
    PGresult *res = db_exec(c, "SELECT cardinality(pg_blocking_pids($1::int))", 1, p);
    bool b = res && db_int(res, 0, 0) > 0;
    PQclear(res);
    return b;
}

struct job {
    struct dbc *c;
    const char *room_id;
    bool retention; /* for the purge: a retention purge instead of the room's */
    int rc;
    atomic_bool done;
};

static void *index_round(void *arg)
{
    struct job *j = arg;
    int64_t done = 0;
    j->rc = db_search_index(j->c, 1000, 250, &done);
    atomic_store(&j->done, true);
    return NULL;
}

static void *purge(void *arg)
{
    struct job *j = arg;
    if (j->retention) {
        json_t *gone = db_retention_purge(j->c, j->room_id, 1000, 100);
        j->rc = gone ? (int)json_array_size(gone) : -1;
        json_decref(gone);
    } else {
        j->rc = db_room_purge(j->c, j->room_id);
    }
    atomic_store(&j->done, true);
    return NULL;
}

/* Wait (at most 10 s) until the job finished or its backend waits for a lock. */
static void settle(struct dbc *watch, struct job *j, int pid)
{
    for (int i = 0; i < 1000 && !atomic_load(&j->done) && !blocked(watch, pid); i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
}

/* The race: an indexer round stopped at the hold, the purge, the hold let go. */
static void race(const char *room_id, bool retention)
{
    struct dbc *hold = db_get(), *ci = db_get(), *cp = db_get();
    CHECK(hold && ci && cp);
    if (!hold || !ci || !cp)
        goto out;
    CHECK(seed(hold, room_id) == 0);
    struct job ij = {.c = ci, .room_id = room_id},
               pj = {.c = cp, .room_id = room_id, .retention = retention};
    int ipid = backend_pid(ci), ppid = backend_pid(cp);
    CHECK(db_begin(hold) == 0);
    CHECK(db_run(hold, "SELECT 1 FROM search_position FOR UPDATE", 0, NULL) == 0);
    pthread_t ti, tp;
    pthread_create(&ti, NULL, index_round, &ij);
    settle(hold, &ij, ipid);
    CHECK(!atomic_load(&ij.done)); /* the round waits for the hold */
    pthread_create(&tp, NULL, purge, &pj);
    settle(hold, &pj, ppid); /* without the fence the purge ends here; with it, it waits */
    CHECK(db_commit(hold) == 0);
    pthread_join(ti, NULL);
    pthread_join(tp, NULL);
    CHECK_INT(ij.rc, 0);
    CHECK(pj.rc > 0); /* something was purged */
    CHECK_INT(count(hold, "SELECT count(*) FROM event_search s WHERE NOT EXISTS (SELECT 1 FROM "
                          "events e WHERE e.event_id = s.event_id)"),
              0);
out:
    db_put(hold);
    db_put(ci);
    db_put(cp);
}

TEST(room_purge_leaves_no_search_rows)
{
    race("!purged:t.example", false);
}

TEST(retention_purge_leaves_no_search_rows)
{
    race("!expired:t.example", true);
}

/* Without a race the fence changes nothing: the index fills, a purge empties it. */
TEST(index_then_purge)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK(seed(c, "!plain:t.example") == 0);
    int64_t done = 0;
    CHECK(db_search_index(c, 1000, 250, &done) == 0);
    CHECK_INT(count(c, "SELECT count(*) FROM event_search WHERE room_id = '!plain:t.example'"),
              N_EVENTS);
    CHECK_INT(db_room_purge(c, "!plain:t.example"), 1);
    CHECK_INT(count(c, "SELECT count(*) FROM event_search WHERE room_id = '!plain:t.example'"), 0);
    db_put(c);
}

int main(void)
{
    if (dbtest_open("searchfence") < 0)
        return 1;
    RUN(index_then_purge);
    RUN(room_purge_leaves_no_search_rows);
    RUN(retention_purge_leaves_no_search_rows);
    dbtest_close();
    return unit_done();
}
