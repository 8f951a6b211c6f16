/* dehydrated.c - dehydrated devices (MSC3814, org.matrix.msc3814.v1): a client parks an
 * encrypted copy of a device (device_data, opaque to us) with its keys on the server, so
 * others can keep encrypting to it while the user has no device online; a new login fetches
 * it, reads the to-device messages it received and takes over its sessions.
 *
 * Invariants:
 *  1. A user has at most one dehydrated device; a new one replaces (deletes) the old, with
 *     its keys and its inbox, and that is a device-list change.
 *  2. A dehydrated device is created fresh: an ID already used by one of the user's devices
 *     is refused, so a device with access tokens never becomes a dehydrated one.
 *  3. Its keys go through the same checks as /keys/upload; if they are refused, the device
 *     is not kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/e2e_internal.h"
#include "storage/keys.h"

#define MAX_EVENTS 100

json_t *e2e_dehydrated_put(const char *user_id, const json_t *body, struct e2e_error *err)
{
    const char *device_id = json_string_value(json_object_get(body, "device_id"));
    json_t *data = json_object_get(body, "device_data");
    json_t *name = json_object_get(body, "initial_device_display_name");
    if (!device_id || !*device_id || strlen(device_id) > MAX_ID || !json_is_object(data) ||
        (name && !json_is_string(name)) || !json_is_object(json_object_get(body, "device_keys"))) {
        e2e_fail(err, 400, "M_BAD_JSON",
                 "device_id, device_data (an object) and device_keys are required");
        return NULL;
    }
    char *text = json_dumps(data, JSON_COMPACT), *old = NULL;
    struct dbc *c = text ? db_get() : NULL;
    int rc = -1;
    if (c && db_begin(c) == 0) {
        rc = db_dehydrated_put(c, user_id, device_id,
                               name ? json_string_value(name) : "Dehydrated device", text,
                               clock_now_ms(), &old);
        if (rc == 1 && db_commit(c) < 0)
            rc = -1;
        if (rc != 1)
            db_rollback(c);
    }
    db_put(c);
    free(text);
    if (rc != 1) {
        if (rc == 0)
            e2e_fail(err, 400, "M_INVALID_PARAM", "Device ID %s is already in use", device_id);
        else
            e2e_fail_internal(err);
        free(old);
        return NULL;
    }
    if (old) /* the dehydrated device it replaces is gone */
        e2e_device_changed(user_id, old);
    free(old);
    json_t *keys = json_object();
    static const char *const fields[] = {"device_keys", "one_time_keys", "fallback_keys"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(body, fields[i]))
            json_object_set(keys, fields[i], json_object_get(body, fields[i]));
    json_t *up = e2e_upload(user_id, device_id, keys, err);
    json_decref(keys);
    if (!up) { /* invariant 3 */
        char *gone = NULL;
        if ((c = db_get()) != NULL)
            db_dehydrated_delete(c, user_id, &gone);
        db_put(c);
        free(gone);
        return NULL;
    }
    json_decref(up);
    return json_pack("{s:s}", "device_id", device_id);
}

json_t *e2e_dehydrated_get(const char *user_id, struct e2e_error *err)
{
    char *device_id = NULL, *data = NULL;
    struct dbc *c = db_get();
    int rc = c ? db_dehydrated_get(c, user_id, &device_id, &data) : -1;
    db_put(c);
    json_t *out = NULL;
    if (rc < 0)
        e2e_fail_internal(err);
    else if (!device_id)
        e2e_fail(err, 404, "M_NOT_FOUND", "No dehydrated device");
    else
        out = json_pack("{s:s,s:o}", "device_id", device_id, "device_data",
                        json_loads(data, 0, NULL));
    free(device_id);
    free(data);
    return out;
}

json_t *e2e_dehydrated_delete(const char *user_id, struct e2e_error *err)
{
    char *device_id = NULL;
    struct dbc *c = db_get();
    int rc = c ? db_dehydrated_delete(c, user_id, &device_id) : -1;
    db_put(c);
    if (rc < 0) {
        e2e_fail_internal(err);
        return NULL;
    }
    if (!device_id) {
        e2e_fail(err, 404, "M_NOT_FOUND", "No dehydrated device");
        return NULL;
    }
    e2e_device_changed(user_id, device_id);
    json_t *out = json_pack("{s:s}", "device_id", device_id);
    free(device_id);
    return out;
}

json_t *e2e_dehydrated_events(const char *user_id, const char *device_id, const json_t *body,
                              struct e2e_error *err)
{
    json_t *nb = json_object_get(body, "next_batch");
    long long acked = 0;
    if (nb && !json_is_null(nb)) {
        const char *s = json_string_value(nb);
        char *end;
        acked = s ? strtoll(s, &end, 10) : -1;
        if (!s || !*s || *end || acked < 0) {
            e2e_fail(err, 400, "M_INVALID_PARAM", "Invalid next_batch");
            return NULL;
        }
    }
    char *current = NULL, *data = NULL;
    json_t *msgs = NULL, *counts = NULL, *out = NULL;
    struct dbc *c = db_get();
    if (!c || db_dehydrated_get(c, user_id, &current, &data) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    if (!current || strcmp(current, device_id) != 0) {
        e2e_fail(err, 404, "M_NOT_FOUND", "%s is not your dehydrated device", device_id);
        goto out;
    }
    if (db_keys_sync(c, user_id, device_id, acked, notify_position(), MAX_EVENTS, &msgs, &counts) <
        0) {
        e2e_fail_internal(err);
        goto out;
    }
    long long last = acked;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        last = json_integer_value(json_object_get(m, "stream"));
        json_object_del(m, "stream");
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", last);
    out = json_pack("{s:O,s:s}", "events", msgs, "next_batch", buf);
out:
    db_put(c);
    json_decref(msgs);
    json_decref(counts);
    free(current);
    free(data);
    return out;
}
