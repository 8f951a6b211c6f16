/* devlist.h - the m.device_list_update EDU as pure functions (no I/O): what a sender puts in
 * it, and what a receiver holding a cached copy of the list does with it (Server-Server API
 * "Device Management"). */
#ifndef AMTSBOTE_SERVER_DEVLIST_H
#define AMTSBOTE_SERVER_DEVLIST_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What an update does to a cached list (columns of devlist_step's decision). */
enum devlist_step {
    DEVLIST_APPLY,  /* every prev_id is in the copy: apply the one device's change */
    DEVLIST_IGNORE, /* the copy is already at or past stream_id (a late or repeated EDU) */
    DEVLIST_RESYNC, /* a prev_id the copy does not hold (an EDU was lost) or a malformed
                       update: fetch the whole list again (GET /user/devices) */
};

/* The step for `content` (an m.device_list_update's, borrowed) against a copy whose
 * stream_id is `known` (the /user/devices answer's or the last applied EDU's; stream IDs of
 * one user only grow, so a copy at `known` holds every update up to it). */
enum devlist_step devlist_step(int64_t known, const json_t *content);

/* Apply an update devlist_step said DEVLIST_APPLY to `devices` ({device_id: DeviceKeys},
 * changed in place): a deleted device, or one without keys for this user and device, goes;
 * else its keys replace the entry, with device_display_name as unsigned.device_display_name
 * when given (as /keys/query shows it). */
void devlist_apply(json_t *devices, const char *user_id, const json_t *content);

/* The content of the m.device_list_update for a local user's device (new object, NULL on
 * OOM): `keys` (borrowed, may be NULL: none uploaded) and `display_name` (may be NULL: none,
 * or not shared over federation); `deleted` when the device is gone; prev_id [prev], or []
 * when prev is 0 (the user's first announced change). */
json_t *devlist_edu(const char *user_id, const char *device_id, int64_t stream_id, int64_t prev,
                    const json_t *keys, const char *display_name, bool deleted);

#endif
