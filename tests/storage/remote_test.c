/* remote_test.c - storage/remote.c over a real database: remote device lists cached, marked
 * stale and fetched again (put clears stale), forgotten; which users share a room with a
 * server's users (joined members only); the stream position of a user's latest device-list
 * change; remote media and thumbnail rows (a repeat keeps the first). */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "storage/keys.h"
#include "storage/remote.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

/* Run SQL on the test database directly (setting up rooms and members). */
static void sql(const char *q)
{
    const char *keys[] = {"dbname", NULL}, *vals[] = {dbtest_name, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        UNIT_FAIL("%s: %s", q, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
}

/* The cached row of user in db_remote_devices_get's answer for [user]. */
static json_t *row(struct dbc *c, const char *user)
{
    json_t *users = json_pack("[s]", user), *rows = db_remote_devices_get(c, users);
    json_decref(users);
    json_t *r = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return r;
}

TEST(device_lists_cached_stale_forgotten)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    const char *u = "@bob:b.example";
    json_t *r = row(c, u);
    CHECK(r == NULL);
    CHECK_INT(db_remote_devices_put(c, u, 7, "{\"D1\":{\"user_id\":\"@bob:b.example\"}}",
                                    "{\"user_id\":\"@bob:b.example\",\"usage\":[\"master\"]}", NULL,
                                    1000),
              0);
    r = row(c, u);
    CHECK(r != NULL);
    CHECK_INT(json_integer_value(json_object_get(r, "stream_id")), 7);
    CHECK(json_is_false(json_object_get(r, "stale")));
    CHECK(json_is_object(json_object_get(json_object_get(r, "devices"), "D1")));
    CHECK(json_is_object(json_object_get(r, "master_key")));
    CHECK(json_is_null(json_object_get(r, "self_signing_key")));
    json_decref(r);
    CHECK_INT(db_remote_devices_mark_stale(c, u), 0);
    CHECK_INT(db_remote_devices_mark_stale(c, "@nobody:b.example"), 0); /* no row: nothing */
    r = row(c, u);
    CHECK(json_is_true(json_object_get(r, "stale")));
    json_decref(r);
    /* an update is not applied to a stale copy */
    CHECK_INT(db_remote_devices_apply(c, u, 7, 8, "{}"), 0);
    CHECK_INT(db_remote_devices_put(c, u, 9, "{}", NULL, NULL, 2000), 0);
    /* applied only on the copy it was computed from */
    CHECK_INT(db_remote_devices_apply(c, u, 8, 10, "{\"D2\":{}}"), 0);
    CHECK_INT(db_remote_devices_apply(c, u, 9, 10, "{\"D2\":{}}"), 1);
    r = row(c, u);
    CHECK_INT(json_integer_value(json_object_get(r, "stream_id")), 10);
    CHECK(json_is_object(json_object_get(json_object_get(r, "devices"), "D2")));
    json_decref(r);
    /* a fetch answered before that update does not undo it */
    CHECK_INT(db_remote_devices_put(c, u, 9, "{}", NULL, NULL, 2000), 0);
    r = row(c, u);
    CHECK_INT(json_integer_value(json_object_get(r, "stream_id")), 10);
    json_decref(r);
    CHECK_INT(db_remote_devices_mark_stale(c, u), 0);
    CHECK_INT(db_remote_devices_put(c, u, 9, "{}", NULL, NULL, 2000), 0);
    r = row(c, u);
    CHECK(json_is_false(json_object_get(r, "stale")));
    CHECK_INT(json_integer_value(json_object_get(r, "stream_id")), 9);
    CHECK_INT(json_object_size(json_object_get(r, "devices")), 0);
    json_decref(r);
    json_t *users = json_pack("[s]", u);
    CHECK_INT(db_remote_devices_forget(c, users), 0);
    json_decref(users);
    r = row(c, u);
    CHECK(r == NULL);
    db_put(c);
}

TEST(sharing_and_stream_id)
{
    sql("INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES "
        "('!r:a.example', '10', '@alice:a.example', 0), "
        "('!s:a.example', '10', '@alice:a.example', 0)");
    sql("INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES "
        "('!r:a.example', 'm.room.member', '@alice:a.example', '$1', 'join'), "
        "('!r:a.example', 'm.room.member', '@bob:b.example', '$2', 'join'), "
        "('!r:a.example', 'm.room.member', '@carol:b.example', '$3', 'leave'), "
        "('!s:a.example', 'm.room.member', '@dave:b.example', '$4', 'join'), "
        "('!s:a.example', 'm.room.member', '@eve:xa.example', '$5', 'join')");
    struct dbc *c = db_get();
    json_t *users = json_pack("[s,s,s,s]", "@bob:b.example", "@carol:b.example", "@dave:b.example",
                              "@nobody:b.example");
    json_t *shared = db_users_sharing_with_server(c, users, "a.example");
    CHECK(json_is_array(shared));
    CHECK_INT(json_array_size(shared), 1); /* carol left; dave's room has no a.example user */
    CHECK_STR(json_string_value(json_array_get(shared, 0)), "@bob:b.example");
    json_decref(shared);
    json_decref(users);
    int64_t sid = -1;
    CHECK_INT(db_device_list_stream_id(c, "@alice:a.example", &sid), 0);
    CHECK_INT(sid, 0);
    int64_t pos = 0;
    json_t *rooms = NULL;
    int64_t prev = -1;
    CHECK_INT(db_device_list_changed(c, "@alice:a.example", NULL, "D1", &pos, &prev, &rooms), 0);
    json_decref(rooms);
    CHECK_INT(prev, 0); /* the first announced change */
    CHECK_INT(db_device_list_stream_id(c, "@alice:a.example", &sid), 0);
    CHECK_INT(sid, pos);
    /* prev_id chaining (migration 0110): the previous announced change, not a cross-signing
     * change nor a private one, whose positions are still the stream_id of /user/devices */
    int64_t p2 = 0, p3 = 0, p4 = 0;
    CHECK_INT(db_device_list_changed(c, "@alice:a.example", NULL, NULL, &p2, &prev, &rooms), 0);
    json_decref(rooms);
    CHECK_INT(
        db_device_list_changed(c, "@alice:a.example", "@alice:a.example", NULL, &p3, &prev, &rooms),
        0);
    json_decref(rooms);
    CHECK_INT(db_device_list_changed(c, "@alice:a.example", NULL, "D2", &p4, &prev, &rooms), 0);
    json_decref(rooms);
    CHECK(p2 > pos && p3 > p2 && p4 > p3);
    CHECK_INT(prev, pos);
    CHECK_INT(db_device_list_changed(c, "@alice:a.example", NULL, "D1", &p2, &prev, &rooms), 0);
    json_decref(rooms);
    CHECK_INT(prev, p4);
    CHECK_INT(db_device_list_stream_id(c, "@alice:a.example", &sid), 0);
    CHECK_INT(sid, p2);
    db_put(c);
}

TEST(remote_media_rows)
{
    struct dbc *c = db_get();
    struct db_remote_media m;
    CHECK_INT(db_remote_media_get(c, "b.example", "abc", &m), 0);
    CHECK_INT(db_remote_media_put(c, "b.example", "abc", "image/png", "a.png", 10, "00ff", 1), 0);
    CHECK_INT(db_remote_media_put(c, "b.example", "abc", "text/plain", NULL, 11, "11ee", 2), 0);
    CHECK_INT(db_remote_media_get(c, "b.example", "abc", &m), 1);
    CHECK_STR(m.content_type, "image/png");
    CHECK_STR(m.upload_name, "a.png");
    CHECK_STR(m.sha256, "00ff");
    CHECK_INT(m.size, 10);
    db_remote_media_clear(&m);
    CHECK_INT(db_remote_media_get(c, "c.example", "abc", &m), 0);
    CHECK_INT(db_remote_thumb_put(c, "b.example", "abc", 32, 32, "crop", "image/jpeg", 5, "22"), 0);
    CHECK_INT(db_remote_thumb_get(c, "b.example", "abc", 32, 32, "scale", &m), 0);
    CHECK_INT(db_remote_thumb_get(c, "b.example", "abc", 32, 32, "crop", &m), 1);
    CHECK_STR(m.content_type, "image/jpeg");
    CHECK(m.upload_name == NULL);
    CHECK_INT(m.size, 5);
    db_remote_media_clear(&m);
    db_put(c);
}

int main(void)
{
    if (dbtest_open("remote") < 0)
        return 1;
    RUN(device_lists_cached_stale_forgotten);
    RUN(sharing_and_stream_id);
    RUN(remote_media_rows);
    dbtest_close();
    return unit_done();
}
