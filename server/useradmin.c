/* useradmin.c - the service layer of the user admin API: the account list and details,
 * moderation flags (locked, suspended, shadow-banned; Client-Server API "Account
 * moderation"), deactivation and GDPR erasure.
 *
 * Guarantees:
 *  1. A flag change forgets the cached token lookups (account_flags_changed), so the user's
 *     next request already sees it (in this process).
 *  2. Erasure is a flag, not a rewrite of history: events stay as stored, and the one place
 *     that decides what a user may read (room_event_visibility, server/roomread.c) serves the
 *     erased user's events pruned to users who were not joined when they were sent, as
 *     Synapse's filter_events_for_client does. The profile is cleared and the user's uploads
 *     are deleted (rows, then the files no other upload shares). */
#include "server/useradmin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/e2e.h"
#include "server/log.h"
#include "server/media_internal.h"
#include "server/room.h"
#include "storage/devices.h"
#include "storage/state.h"

json_t *useradmin_list(const struct db_user_query *q)
{
    json_t *users = NULL;
    int64_t total = 0;
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    int rc = db_useradmin_list(c, q, &users, &total);
    db_put(c);
    if (rc < 0)
        return NULL;
    json_t *out = json_pack("{s:o,s:I}", "users", users, "total", (json_int_t)total);
    int64_t next = q->from + (int64_t)json_array_size(users);
    if (out && next < total) { /* Synapse: next_token only while more remain */
        char tok[24];
        snprintf(tok, sizeof tok, "%lld", (long long)next);
        json_object_set_new(out, "next_token", json_string(tok));
    }
    return out;
}

enum account_rc useradmin_get(const char *user_id, json_t **out)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_useradmin_get(c, user_id, out);
    db_put(c);
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

json_t *useradmin_devices(const char *user_id, const char *device_id)
{
    struct dbc *c = db_get();
    json_t *out = c ? db_useradmin_devices(c, user_id, device_id) : NULL;
    db_put(c);
    return out;
}

json_t *useradmin_memberships(const char *user_id)
{
    struct dbc *c = db_get();
    json_t *out = c ? db_useradmin_memberships(c, user_id) : NULL;
    db_put(c);
    return out;
}

enum account_rc useradmin_device_create(const char *user_id, const char *device_id)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_devices_upsert(c, user_id, device_id, NULL, clock_now_ms());
    db_put(c);
    if (n > 0)
        e2e_device_list_touch(user_id);
    return n < 0 ? ACCOUNT_ERR : ACCOUNT_OK;
}

enum account_rc useradmin_set_flag(const char *user_id, enum db_user_flag f, bool on)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_useradmin_set_flag(c, user_id, f, on);
    db_put(c);
    account_flags_changed();
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

enum account_rc useradmin_set_user_type(const char *user_id, const char *user_type)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_useradmin_set_user_type(c, user_id, user_type);
    db_put(c);
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

/* Leave every room the user is joined to or invited into (Synapse's deactivation does);
 * failures are logged and skipped: the account is deactivated either way. */
static void leave_all(const char *user_id)
{
    static const char *const kinds[] = {"join", "invite", "knock"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct dbc *c = db_get();
        json_t *rooms = c ? db_rooms_with_membership(c, user_id, kinds[k]) : NULL;
        db_put(c);
        size_t i;
        json_t *r;
        json_array_foreach(rooms, i, r)
        {
            char why[256], *event_id = NULL;
            enum room_rc rc = room_membership(json_string_value(r), user_id, user_id, "leave", NULL,
                                              NULL, &event_id, why, sizeof why);
            free(event_id);
            if (rc != ROOM_OK)
                log_warn("deactivate %s: leaving %s failed: %s", user_id, json_string_value(r),
                         why);
        }
        json_decref(rooms);
    }
}

/* Delete what the user uploaded: the rows, then the files no one else's upload shares. */
static int erase_media(const char *user_id)
{
    json_t *files = NULL;
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int64_t n = db_useradmin_delete_media(c, user_id, &files);
    db_put(c);
    if (n < 0)
        return -1;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *sha = json_string_value(json_array_get(f, 0));
        char path[4096];
        if (!sha || strlen(sha) != 64)
            continue;
        media_file_of(sha, json_is_true(json_array_get(f, 1)), path, sizeof path);
        if (unlink(path) != 0)
            log_warn("erase %s: could not remove a media file", user_id);
    }
    log_info("erase %s: %lld uploads deleted", user_id, (long long)n);
    json_decref(files);
    return 0;
}

enum account_rc useradmin_deactivate(const char *user_id, bool erase)
{
    enum account_rc rc = account_deactivate(user_id, erase);
    if (rc != ACCOUNT_OK)
        return rc;
    if (erase && (useradmin_set_flag(user_id, DB_FLAG_ERASED, true) != ACCOUNT_OK ||
                  erase_media(user_id) < 0))
        return ACCOUNT_ERR;
    leave_all(user_id);
    return ACCOUNT_OK;
}

enum account_rc useradmin_reactivate(const char *user_id)
{
    enum account_rc rc = useradmin_set_flag(user_id, DB_FLAG_DEACTIVATED, false);
    if (rc == ACCOUNT_OK) /* Synapse forgets the erasure of a reactivated account */
        rc = useradmin_set_flag(user_id, DB_FLAG_ERASED, false);
    return rc;
}
