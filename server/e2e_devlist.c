/* e2e_devlist.c - device-list changes (Client-Server API "Tracking the device list for a
 * user", Server-Server API "Device Management"): recording a change so that the syncs of
 * everyone sharing a room show it in device_lists.changed, announcing a local user's change
 * to the servers sharing a room, and applying the announcements of other servers to the
 * cached copies of their users' lists (storage/remote.h).
 *
 * Invariants:
 *  1. Every change of a local user's device goes out as one m.device_list_update for that
 *     device with its own stream_id, its prev_id naming the user's previous one (migration
 *     0110 records which positions went out; server/devlist.c builds the EDU). A change of
 *     cross-signing keys goes out as m.signing_key_update; a private change (a user-signing
 *     key, a signature by one) does not go out.
 *  2. Device display names go out only with allow_device_name_lookup_over_federation.
 *  3. A remote update is applied to the cached copy only when the copy holds every prev_id
 *     and nobody changed the copy meanwhile; else the copy is stale and the next /keys/query
 *     fetches the whole list (GET /user/devices), whose stream_id the chain resumes from. */
#include <stdlib.h>
#include <string.h>

#include "server/devlist.h"
#include "server/e2e_internal.h"
#include "server/fedout.h"
#include "server/ids.h"
#include "server/log.h"
#include "storage/devices.h"
#include "storage/keys.h"
#include "storage/remote.h"

/* Record the change at a new position and touch the user (or only_for) and their rooms. */
static int record(struct dbc *c, struct notify_ticket *t, const char *user_id, const char *only_for,
                  const char *device_id, int64_t *pos, int64_t *prev)
{
    json_t *rooms = NULL;
    if (db_device_list_changed(c, user_id, only_for, device_id, pos, prev, &rooms) < 0)
        return -1;
    notify_touch(t, *pos, NULL, only_for ? only_for : user_id, NOTIFY_DEVICES);
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r)
    {
        notify_touch(t, *pos, json_string_value(r), NULL, NOTIFY_DEVICES);
    }
    json_decref(rooms);
    return 0;
}

/* m.signing_key_update for a local user, with the master and self-signing keys they have. */
static void announce_signing_keys(struct dbc *c, const char *user_id)
{
    json_t *users = json_pack("[s]", user_id);
    json_t *rows = users ? db_keys_cross_signing_get(c, users) : NULL;
    json_t *edu = json_pack("{s:s}", "user_id", user_id);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *usage = json_string_value(json_object_get(row, "usage"));
        json_t *key = json_object_get(row, "key");
        if (usage && strcmp(usage, "master") == 0)
            json_object_set(edu, "master_key", key);
        else if (usage && strcmp(usage, "self_signing") == 0)
            json_object_set(edu, "self_signing_key", key);
    }
    if (edu)
        fedout_edu_user_rooms(user_id, "m.signing_key_update", edu);
    json_decref(edu);
    json_decref(rows);
    json_decref(users);
}

/* m.device_list_update for a local user's device at position pos (invariants 1, 2). */
static void announce_device(struct dbc *c, const char *user_id, const char *device_id, int64_t pos,
                            int64_t prev)
{
    json_t *dev = NULL, *keys = NULL, *edu = NULL;
    char *text = NULL;
    int found = db_devices_get(c, user_id, device_id, &dev);
    if (found < 0 || (found && db_keys_device_get(c, user_id, device_id, &text) < 0)) {
        log_warn("keys: m.device_list_update for %s not sent", user_id);
        goto out;
    }
    keys = text ? json_loads(text, 0, NULL) : NULL;
    const char *name =
        e2e_names_over_federation ? json_string_value(json_object_get(dev, "display_name")) : NULL;
    edu = devlist_edu(user_id, device_id, pos, prev, keys, name, found == 0);
    if (edu)
        fedout_edu_user_rooms(user_id, "m.device_list_update", edu);
out:
    json_decref(dev);
    json_decref(keys);
    json_decref(edu);
    free(text);
}

int e2e_record_change_for(struct dbc *c, struct notify_ticket *t, const char *user_id,
                          const char *only_for)
{
    int64_t pos = 0, prev = 0;
    if (record(c, t, user_id, only_for, NULL, &pos, &prev) < 0)
        return -1;
    if (!only_for && ids_is_local(user_id))
        announce_signing_keys(c, user_id);
    return 0;
}

int e2e_record_change(struct dbc *c, struct notify_ticket *t, const char *user_id)
{
    return e2e_record_change_for(c, t, user_id, NULL);
}

int e2e_record_device_change(struct dbc *c, struct notify_ticket *t, const char *user_id,
                             const char *device_id)
{
    int64_t pos = 0, prev = 0;
    if (record(c, t, user_id, NULL, device_id, &pos, &prev) < 0)
        return -1;
    if (ids_is_local(user_id))
        announce_device(c, user_id, device_id, pos, prev);
    return 0;
}

int e2e_devices_changed(const char *user_id, const json_t *device_ids)
{
    struct dbc *c = db_get();
    if (!c)
        return -1;
    struct notify_ticket *t = notify_begin();
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(device_ids, i, d)
    {
        if (json_is_string(d) && e2e_record_device_change(c, t, user_id, json_string_value(d)) < 0)
            rc = -1;
    }
    notify_end(t, true);
    db_put(c);
    if (rc < 0)
        log_warn("keys: a device change of %s not recorded", user_id);
    return rc;
}

int e2e_device_changed(const char *user_id, const char *device_id)
{
    json_t *one = json_pack("[s]", device_id);
    int rc = one ? e2e_devices_changed(user_id, one) : -1;
    json_decref(one);
    return rc;
}

/* Touch the syncs of the local users who share a room with the remote user_id. */
static int touch_remote(struct dbc *c, const char *user_id)
{
    struct notify_ticket *t = notify_begin();
    int rc = e2e_record_change(c, t, user_id);
    notify_end(t, rc == 0);
    return rc;
}

int e2e_device_list_touch(const char *user_id)
{
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int rc = 0;
    if (!e2e_is_local(user_id))
        rc = db_remote_devices_mark_stale(c, user_id);
    if (rc == 0)
        rc = touch_remote(c, user_id);
    db_put(c);
    return rc;
}

int e2e_device_list_update(const char *user_id, const json_t *content)
{
    struct dbc *c = db_get();
    if (!c)
        return -1;
    json_t *users = json_pack("[s]", user_id);
    json_t *rows = users ? db_remote_devices_get(c, users) : NULL;
    json_t *row = json_array_get(rows, 0);
    int rc = rows ? 0 : -1;
    if (row && !json_is_true(json_object_get(row, "stale"))) { /* invariant 3 */
        int64_t known = json_integer_value(json_object_get(row, "stream_id"));
        int64_t sid = json_integer_value(json_object_get(content, "stream_id"));
        enum devlist_step step = devlist_step(known, content);
        if (step == DEVLIST_APPLY) {
            json_t *devices = json_deep_copy(json_object_get(row, "devices"));
            char *text = NULL;
            if (json_is_object(devices)) {
                devlist_apply(devices, user_id, content);
                text = json_dumps(devices, JSON_COMPACT);
            }
            if (!text || db_remote_devices_apply(c, user_id, known, sid, text) != 1)
                step = DEVLIST_RESYNC;
            free(text);
            json_decref(devices);
        }
        if (step == DEVLIST_RESYNC) {
            log_info("keys: device list of %s: update %lld does not follow %lld; fetched again "
                     "on the next query",
                     user_id, (long long)sid, (long long)known);
            rc = db_remote_devices_mark_stale(c, user_id);
        }
    }
    if (rc == 0)
        rc = touch_remote(c, user_id);
    json_decref(rows);
    json_decref(users);
    db_put(c);
    return rc;
}
