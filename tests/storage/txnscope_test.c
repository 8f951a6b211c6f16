/* txnscope_test.c - migration 0140 (client transaction IDs scoped to the request path) on a
 * database that has rows from before it: the migrations up to 0110 are applied by hand, rows
 * are written as the old server wrote them, then db_migrate applies 0140. Every kept row must
 * be found again under the key server/room_txn.c makes for the path that made it (the SQL and
 * the C hash agree), rows of purged events go, and old /sendToDevice rows still catch a
 * retransmission whatever its event type. */
#include <stdlib.h>
#include <string.h>

#include "server/room_txn.h"
#include "storage/db_internal.h"
#include "storage/events.h"
#include "storage/keys.h"
#include "storage/migrate.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

/* A fresh database with the migrations before 0140 only. 0, or -1 (said on stderr). */
static int open_before_0140(void)
{
    char err[256];
    if (dbtest_create("txnscope") < 0)
        return -1;
    struct dbc *c = db_get();
    int rc = c ? 0 : -1;
    PGresult *res = c ? db_exec_once(c,
                                     "CREATE TABLE schema_version (version integer PRIMARY "
                                     "KEY, name text NOT NULL, applied_ts bigint NOT NULL)",
                                     0, NULL)
                      : NULL;
    if (!res)
        rc = -1;
    PQclear(res);
    for (size_t i = 0; rc == 0 && i < n_migrations && migrations[i].version < 140; i++) {
        char v[24];
        const char *params[] = {db_i64(v, migrations[i].version), migrations[i].name};
        if (db_exec_script(c, migrations[i].sql, err, sizeof err) < 0 ||
            db_run(c, "INSERT INTO schema_version VALUES ($1, $2, 0)", 2, params) < 0) {
            fprintf(stderr, "txnscope: %s: %s\n", migrations[i].name, err);
            rc = -1;
        }
    }
    db_put(c);
    return rc;
}

/* Rows as the server before 0140 wrote them: a message, a redaction of it in a v10 room
 * (top-level redacts) and one of v11 (content.redacts), a server notice (the admin's device),
 * a transaction whose event was purged, and a to-device transaction. */
static const char legacy_sql[] =
    "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES "
    " ('!r:t.example', '10', '@a:t.example', 0);"
    "INSERT INTO events (event_id, room_id, type, sender, origin_server_ts, depth, "
    " stream_ordering, json) VALUES "
    " ('$m', '!r:t.example', 'm.room.message', '@a:t.example', 0, 1, 1, "
    "  '{\"content\":{\"body\":\"x\"}}'),"
    " ('$r10', '!r:t.example', 'm.room.redaction', '@a:t.example', 0, 2, 2, "
    "  '{\"content\":{},\"redacts\":\"$m\"}'),"
    " ('$r11', '!r:t.example', 'm.room.redaction', '@a:t.example', 0, 3, 3, "
    "  '{\"content\":{\"redacts\":\"$m\"}}'),"
    " ('$n', '!r:t.example', 'm.room.message', '@notices:t.example', 0, 4, 4, "
    "  '{\"content\":{\"body\":\"notice\"}}');"
    "INSERT INTO event_txns (user_id, device_id, txn_id, event_id, created_ts) VALUES "
    " ('@a:t.example', 'DEV', 't1', '$m', 0),"
    " ('@a:t.example', 'DEV', 't2', '$r10', 0),"
    " ('@a:t.example', 'DEV', 't3', '$r11', 0),"
    " ('@notices:t.example', 'admin:@root:t.example:ADEV', 'n1', '$n', 0),"
    " ('@a:t.example', 'DEV', 'gone', '$purged', 0);"
    "INSERT INTO to_device_txns (user_id, device_id, txn_id, ts) VALUES "
    " ('@a:t.example', 'DEV', 'd1', 0);";

/* The event db_txn_lookup_many finds for (user, device, txn on path), or NULL (malloc'd). */
static char *lookup(struct dbc *c, const char *user, const char *device, const char *txn,
                    const char *const *path, size_t n_path)
{
    char key[ROOM_TXN_KEY_MAX], map_key[1200];
    if (room_txn_key(key, sizeof key, txn, path, n_path) < 0)
        return NULL;
    const char *users[] = {user}, *devices[] = {device}, *keys[] = {key};
    json_t *found = db_txn_lookup_many(c, users, devices, keys, 1);
    snprintf(map_key, sizeof map_key, "%s\x1f%s\x1f%s", user, device, key);
    const char *ev = json_string_value(json_object_get(found, map_key));
    char *out = ev ? strdup(ev) : NULL;
    json_decref(found);
    return out;
}

#define CHECK_FOUND(c, user, device, txn, want, ...)                                               \
    do {                                                                                           \
        const char *const path_[] = {__VA_ARGS__};                                                 \
        char *got_ = lookup(c, user, device, txn, path_, sizeof path_ / sizeof path_[0]);          \
        if (want)                                                                                  \
            CHECK_STR(got_, want);                                                                 \
        else                                                                                       \
            CHECK(got_ == NULL);                                                                   \
        free(got_);                                                                                \
    } while (0)

TEST(old_rows_keep_their_path)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    const char *no = NULL;
    CHECK_FOUND(c, "@a:t.example", "DEV", "t1", "$m", "send", "!r:t.example", "m.room.message");
    CHECK_FOUND(c, "@a:t.example", "DEV", "t2", "$r10", "redact", "!r:t.example", "$m");
    CHECK_FOUND(c, "@a:t.example", "DEV", "t3", "$r11", "redact", "!r:t.example", "$m");
    CHECK_FOUND(c, "@notices:t.example", "admin:@root:t.example:ADEV", "n1", "$n",
                "send_server_notice");
    /* the same txnIds on other paths are other transactions now */
    CHECK_FOUND(c, "@a:t.example", "DEV", "t1", no, "send", "!s:t.example", "m.room.message");
    CHECK_FOUND(c, "@a:t.example", "DEV", "t1", no, "send", "!r:t.example", "m.reaction");
    CHECK_FOUND(c, "@a:t.example", "DEV", "t1", no, "redact", "!r:t.example", "$m");
    /* the row of a purged event is gone; /sync still finds the bare txnId of a kept one */
    char *n = NULL;
    CHECK(db_string(db_exec_once(c,
                                 "SELECT count(*)::text FROM event_txns WHERE txn_id = 'gone' "
                                 "OR scope !~ '^[0-9a-f]{64}$'",
                                 0, NULL),
                    &n) == 0);
    CHECK_STR(n, "0");
    free(n);
    n = NULL;
    CHECK(db_string(db_exec_once(c, "SELECT txn_id FROM event_txns WHERE event_id = '$r11'", 0,
                                 NULL),
                    &n) == 0);
    CHECK_STR(n, "t3");
    free(n);
    db_put(c);
}

TEST(old_to_device_rows_match_any_type)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *msgs = json_array(), *users = NULL;
    int64_t pos = -1;
    /* d1 was stored before the event type was: a retransmission whatever its type */
    CHECK(db_to_device_send(c, "@a:t.example", "DEV", "d1", "m.any", msgs, 0, &pos, &users) ==
          0);
    CHECK(pos == 0);
    json_decref(users);
    /* new rows: per event type */
    CHECK(db_to_device_send(c, "@a:t.example", "DEV", "d2", "m.one", msgs, 0, &pos, &users) ==
          0);
    CHECK(pos > 0);
    json_decref(users);
    CHECK(db_to_device_send(c, "@a:t.example", "DEV", "d2", "m.two", msgs, 0, &pos, &users) ==
          0);
    CHECK(pos > 0);
    json_decref(users);
    CHECK(db_to_device_send(c, "@a:t.example", "DEV", "d2", "m.one", msgs, 0, &pos, &users) ==
          0);
    CHECK(pos == 0);
    json_decref(users);
    json_decref(msgs);
    db_put(c);
}

int main(void)
{
    char err[256];
    if (open_before_0140() < 0) {
        dbtest_close();
        printf("txnscope_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    struct dbc *c = db_get();
    char why[256];
    int ok = c && db_exec_script(c, legacy_sql, why, sizeof why) == 0;
    db_put(c);
    if (!ok || db_migrate(err, sizeof err) < 0) {
        fprintf(stderr, "txnscope: %s\n", ok ? err : why);
        dbtest_close();
        printf("txnscope_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(old_rows_keep_their_path);
    RUN(old_to_device_rows_match_any_type);
    dbtest_close();
    return unit_done();
}
