/* devlist.c - m.device_list_update (Server-Server API "Device Management"): the EDU a local
 * device change goes out as, and the receiver's rule for a cached copy of a remote user's
 * list.
 *
 * Invariants:
 *  1. A sender emits the EDUs of one user in series, each carrying in prev_id the stream_id
 *     of the user's previous EDU (one element; none for the first), so a receiver can tell a
 *     lost EDU.
 *  2. A receiver applies an EDU to its copy only when the copy holds every prev_id (each is
 *     at most the copy's stream_id); otherwise, or when the EDU is malformed, it fetches the
 *     whole list again and resumes from the stream_id of that answer. An EDU at or below the
 *     copy's stream_id is already in it. */
#include <string.h>

#include "server/devlist.h"

enum devlist_step devlist_step(int64_t known, const json_t *content)
{
    json_t *sid = json_object_get(content, "stream_id");
    json_t *prev = json_object_get(content, "prev_id");
    const char *d = json_string_value(json_object_get(content, "device_id"));
    if (!json_is_integer(sid) || !d || !*d || (prev && !json_is_array(prev)))
        return DEVLIST_RESYNC;
    if (json_integer_value(sid) <= known)
        return DEVLIST_IGNORE;
    size_t i;
    json_t *p;
    json_array_foreach(prev, i, p)
    {
        if (!json_is_integer(p) || json_integer_value(p) > known)
            return DEVLIST_RESYNC;
    }
    return DEVLIST_APPLY;
}

void devlist_apply(json_t *devices, const char *user_id, const json_t *content)
{
    const char *d = json_string_value(json_object_get(content, "device_id"));
    json_t *keys = json_object_get(content, "keys");
    const char *ku = json_string_value(json_object_get(keys, "user_id"));
    const char *kd = json_string_value(json_object_get(keys, "device_id"));
    if (!d)
        return;
    if (json_is_true(json_object_get(content, "deleted")) || !json_is_object(keys) || !ku || !kd ||
        strcmp(ku, user_id) != 0 || strcmp(kd, d) != 0) {
        json_object_del(devices, d);
        return;
    }
    json_t *k = json_deep_copy(keys);
    json_t *name = json_object_get(content, "device_display_name");
    if (!k)
        return;
    json_object_del(k, "unsigned");
    if (json_is_string(name))
        json_object_set_new(k, "unsigned", json_pack("{s:O}", "device_display_name", name));
    json_object_set_new(devices, d, k);
}

json_t *devlist_edu(const char *user_id, const char *device_id, int64_t stream_id, int64_t prev,
                    const json_t *keys, const char *display_name, bool deleted)
{
    json_t *out = json_pack("{s:s,s:s,s:I,s:[]}", "user_id", user_id, "device_id", device_id,
                            "stream_id", (json_int_t)stream_id, "prev_id");
    if (!out)
        return NULL;
    if (prev > 0)
        json_array_append_new(json_object_get(out, "prev_id"), json_integer(prev));
    if (deleted) {
        json_object_set_new(out, "deleted", json_true());
        return out;
    }
    if (json_is_object(keys))
        json_object_set(out, "keys", (json_t *)keys);
    if (display_name)
        json_object_set_new(out, "device_display_name", json_string(display_name));
    return out;
}
