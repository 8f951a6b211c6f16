/* media_admin.c - Synapse's media admin API (docs/admin_api/media_admin_api.md, "User media"
 * in user_admin_api.md): a user's media listed and deleted in Synapse's orders, a room's media,
 * quarantine (downloads and thumbnails of quarantined media answer 404: media_quarantined,
 * called by server/media.c), protection from quarantine, deletion by ID and by age.
 *
 * Files are content-addressed and shared by identical uploads (server/media.c): deleting a
 * media row removes its file, and its thumbnails' files, only when no other row uses them. */
#include "server/media_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/account.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/media_internal.h"
#include "storage/media_admin.h"

#define USER_MEDIA_LIMIT_MAX 1000
#define ROOM_MEDIA_EVENTS_MAX 100000

bool media_quarantined(const char *server, const char *media_id, struct media_error *err)
{
    struct dbc *c = db_get();
    int q = c ? db_media_is_quarantined(c, server ? server : ids_local_server(), media_id) : -1;
    db_put(c);
    if (q < 0)
        media_fail_internal(err);
    else if (q)
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
    return q != 0;
}

/* Synapse's order_by keys for a user's media. */
static const char *const media_orders[] = {
    "media_id",     "upload_name", "created_ts",     "last_access_ts",
    "media_length", "media_type",  "quarantined_by", "safe_from_quarantine",
};

/* Check order_by and dir; set *desc. 0 or -1 with *err. */
static int media_order(const char **order_by, const char *dir, bool *desc, struct media_error *err)
{
    if (dir && strcmp(dir, "f") && strcmp(dir, "b")) {
        media_fail(err, 400, "M_INVALID_PARAM", "Unknown direction: %s", dir);
        return -1;
    }
    /* neither given: newest first (Synapse) */
    *desc = dir ? strcmp(dir, "b") == 0 : !*order_by;
    if (!*order_by) {
        *order_by = "created_ts";
        return 0;
    }
    for (size_t i = 0; i < sizeof media_orders / sizeof media_orders[0]; i++)
        if (strcmp(media_orders[i], *order_by) == 0)
            return 0;
    media_fail(err, 400, "M_INVALID_PARAM", "Unknown value for order_by: %s", *order_by);
    return -1;
}

/* A lookup's 1 (found) as 0; 0 (unknown: 404) and -1 (500) as -1 with *err. */
static int found(int rc, struct media_error *err)
{
    if (rc < 0)
        media_fail_internal(err);
    else if (rc == 0)
        media_fail(err, 404, "M_NOT_FOUND", "Unknown media");
    return rc > 0 ? 0 : -1;
}

/* A local user with an account: 0, or -1 with *err (400 another server's, 404 unknown). */
static int local_user(const char *user_id, struct media_error *err)
{
    if (!ids_is_local(user_id)) {
        media_fail(err, 400, "M_INVALID_PARAM", "Can only look up local users");
        return -1;
    }
    int free_id = account_available(user_id);
    if (free_id < 0)
        media_fail_internal(err);
    else if (free_id)
        media_fail(err, 404, "M_NOT_FOUND", "Unknown user");
    return free_id == 0 ? 0 : -1;
}

int media_admin_user_list(const char *user_id, int64_t from, int64_t limit, const char *order_by,
                          const char *dir, json_t **out, struct media_error *err)
{
    bool desc;
    int64_t total = 0;
    if (local_user(user_id, err) < 0 || media_order(&order_by, dir, &desc, err) < 0)
        return -1;
    if (limit > USER_MEDIA_LIMIT_MAX)
        limit = USER_MEDIA_LIMIT_MAX;
    struct dbc *c = db_get();
    json_t *media =
        c ? db_admin_user_media(c, user_id, ids_local_server(), order_by, desc, from, limit, &total)
          : NULL;
    db_put(c);
    if (!media) {
        media_fail_internal(err);
        return -1;
    }
    size_t got = json_array_size(media);
    *out = json_pack("{s:o,s:I}", "media", media, "total", (json_int_t)total);
    if (from + (int64_t)got < total)
        json_object_set_new(*out, "next_token", json_integer(from + (int64_t)got));
    return 0;
}

/* Remove the stored file of sha (a thumbnail's when thumb) unless a row still uses it. */
static void unlink_unused(struct dbc *c, const char *sha, bool thumb)
{
    char path[4096];
    if (!sha || db_admin_media_file_used(c, sha, thumb) != 0)
        return;
    media_file_of(sha, thumb, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("media admin: could not remove %s: %s", path, strerror(errno));
}

/* Delete local media_id (row, quarantine, unused files): 1 deleted, 0 unknown, -1. */
static int delete_one(struct dbc *c, const char *media_id)
{
    json_t *files = NULL;
    int rc = db_admin_media_delete(c, media_id, ids_local_server(), &files);
    if (rc <= 0)
        return rc;
    unlink_unused(c, json_string_value(json_object_get(files, "sha256")), false);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(files, "thumbs"), i, v)
    {
        unlink_unused(c, json_string_value(v), true);
    }
    json_decref(files);
    return 1;
}

/* Delete each media ID of `ids` (borrowed): {deleted_media, total} into *out. */
static int delete_ids(struct dbc *c, json_t *ids, json_t **out, struct media_error *err)
{
    json_t *deleted = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        int rc = delete_one(c, json_string_value(v));
        if (rc < 0) {
            json_decref(deleted);
            media_fail_internal(err);
            return -1;
        }
        if (rc)
            json_array_append(deleted, v);
    }
    *out = json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(deleted), "deleted_media",
                     deleted);
    return 0;
}

int media_admin_user_delete(const char *user_id, int64_t limit, const char *order_by,
                            const char *dir, json_t **out, struct media_error *err)
{
    bool desc;
    int64_t total = 0;
    if (local_user(user_id, err) < 0 || media_order(&order_by, dir, &desc, err) < 0)
        return -1;
    if (limit > USER_MEDIA_LIMIT_MAX)
        limit = USER_MEDIA_LIMIT_MAX;
    struct dbc *c = db_get();
    json_t *media =
        c ? db_admin_user_media(c, user_id, ids_local_server(), order_by, desc, 0, limit, &total)
          : NULL;
    int rc = -1;
    if (!media) {
        media_fail_internal(err);
        goto out;
    }
    json_t *ids = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(media, i, v)
    {
        json_array_append(ids, json_object_get(v, "media_id"));
    }
    rc = delete_ids(c, ids, out, err);
    json_decref(ids);
out:
    json_decref(media);
    db_put(c);
    return rc;
}

int media_admin_delete(const char *server, const char *media_id, json_t **out,
                       struct media_error *err)
{
    if (!ids_is_local_server(server)) {
        media_fail(err, 400, "M_INVALID_PARAM", "Can only delete local media");
        return -1;
    }
    struct dbc *c = db_get();
    int rc = c ? delete_one(c, media_id) : -1;
    db_put(c);
    if (found(rc, err) < 0)
        return -1;
    *out = json_pack("{s:[s],s:i}", "deleted_media", media_id, "total", 1);
    return 0;
}

int media_admin_delete_older(int64_t before_ts, int64_t size_gt, bool keep_profiles, json_t **out,
                             struct media_error *err)
{
    struct dbc *c = db_get();
    json_t *ids = c ? db_admin_media_older(c, ids_local_server(), before_ts, size_gt, keep_profiles,
                                           MEDIA_ADMIN_DELETE_MAX)
                    : NULL;
    int rc = -1;
    if (!ids)
        media_fail_internal(err);
    else
        rc = delete_ids(c, ids, out, err);
    json_decref(ids);
    db_put(c);
    return rc;
}

/* Split "mxc://server/id" into the room listing's local or remote list. */
static void add_mxc(json_t *uri, json_t *local, json_t *remote, json_t *seen)
{
    const char *s = json_string_value(uri);
    if (!s || strncmp(s, "mxc://", 6) != 0 || json_object_get(seen, s))
        return;
    const char *slash = strchr(s + 6, '/');
    if (!slash || !slash[1])
        return;
    json_object_set_new(seen, s, json_true());
    char *server = strndup(s + 6, (size_t)(slash - s - 6));
    json_array_append(server && ids_is_local_server(server) ? local : remote, uri);
    free(server);
}

/* The room's mxc URIs (unencrypted messages: url and info.thumbnail_url) into *local,
 * *remote (new arrays). 0 or -1. */
static int room_mxcs(const char *room_id, json_t **local, json_t **remote)
{
    struct dbc *c = db_get();
    json_t *contents = c ? db_admin_room_media_contents(c, room_id, ROOM_MEDIA_EVENTS_MAX) : NULL;
    db_put(c);
    if (!contents)
        return -1;
    json_t *seen = json_object(), *v;
    *local = json_array();
    *remote = json_array();
    size_t i;
    json_array_foreach(contents, i, v)
    {
        add_mxc(json_object_get(v, "url"), *local, *remote, seen);
        add_mxc(json_object_get(json_object_get(v, "info"), "thumbnail_url"), *local, *remote,
                seen);
    }
    json_decref(seen);
    json_decref(contents);
    return 0;
}

int media_admin_room_list(const char *room_id, json_t **out, struct media_error *err)
{
    json_t *local, *remote;
    if (room_mxcs(room_id, &local, &remote) < 0) {
        media_fail_internal(err);
        return -1;
    }
    *out = json_pack("{s:o,s:o}", "local", local, "remote", remote);
    return 0;
}

int media_admin_quarantine(const char *server, const char *media_id, bool on, const char *by,
                           json_t **out, struct media_error *err)
{
    struct dbc *c = db_get();
    int rc = !c   ? -1
             : on ? db_media_quarantine(c, server, media_id, ids_is_local_server(server), by,
                                        clock_now_ms())
                  : db_media_unquarantine(c, server, media_id);
    db_put(c);
    if (rc < 0) {
        media_fail_internal(err);
        return -1;
    }
    *out = json_object();
    return 0;
}

/* Answer {num_quarantined: n}, or fail (n < 0: an internal error). */
static int num_quarantined(int64_t n, json_t **out, struct media_error *err)
{
    if (n < 0) {
        media_fail_internal(err);
        return -1;
    }
    *out = json_pack("{s:I}", "num_quarantined", (json_int_t)n);
    return 0;
}

int media_admin_quarantine_room(const char *room_id, const char *by, json_t **out,
                                struct media_error *err)
{
    json_t *local, *remote;
    if (room_mxcs(room_id, &local, &remote) < 0) {
        media_fail_internal(err);
        return -1;
    }
    json_array_extend(local, remote);
    json_decref(remote);
    int64_t n = 0, now = clock_now_ms();
    struct dbc *c = db_get();
    size_t i;
    json_t *v;
    json_array_foreach(local, i, v)
    {
        const char *s = json_string_value(v) + 6, *slash = strchr(s, '/');
        char *server = strndup(s, (size_t)(slash - s));
        int rc = c && server ? db_media_quarantine(c, server, slash + 1,
                                                   ids_is_local_server(server), by, now)
                             : -1;
        free(server);
        if (rc < 0) {
            n = -1;
            break;
        }
        n += rc;
    }
    db_put(c);
    json_decref(local);
    return num_quarantined(n, out, err);
}

int media_admin_quarantine_user(const char *user_id, const char *by, json_t **out,
                                struct media_error *err)
{
    if (local_user(user_id, err) < 0)
        return -1;
    struct dbc *c = db_get();
    int64_t n =
        c ? db_media_quarantine_user(c, user_id, ids_local_server(), by, clock_now_ms()) : -1;
    db_put(c);
    return num_quarantined(n, out, err);
}

int media_admin_protect(const char *media_id, bool on, json_t **out, struct media_error *err)
{
    struct dbc *c = db_get();
    int rc = c ? db_media_protect(c, media_id, on) : -1;
    db_put(c);
    if (found(rc, err) < 0)
        return -1;
    *out = json_object();
    return 0;
}

int media_admin_info(const char *server, const char *media_id, json_t **out,
                     struct media_error *err)
{
    json_t *info = NULL;
    struct dbc *c = db_get();
    int rc = c ? db_admin_media_info(c, server, media_id, ids_is_local_server(server), &info) : -1;
    db_put(c);
    if (found(rc, err) < 0)
        return -1;
    *out = json_pack("{s:o}", "media_info", info);
    return 0;
}
