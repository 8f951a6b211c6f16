/* e2e.h - end-to-end encryption support on the server (Client-Server API "End-to-End
 * Encryption", "Send-to-Device messaging", "Cross-signing"): storing and relaying the key
 * material clients upload, verifying cross-signing signatures, and telling the notifier who
 * must hear of a change. The server never needs a private key or a plaintext. */
#ifndef AMTSBOTE_E2E_H
#define AMTSBOTE_E2E_H
#include <jansson.h>
#include <stdbool.h>

/* Why a call failed: the HTTP status, the spec's errcode and a message for the client.
 * status 500 means an internal error (logged). */
struct e2e_error {
    int status;
    const char *errcode;
    char why[256];
};

/* Start-up: the server name, to tell local users from remote ones, and whether other servers
 * may see device display names (allow_device_name_lookup_over_federation: in /user/devices,
 * /user/keys/query and m.device_list_update). */
void e2e_init(const char *server_name, bool device_names_over_federation);

/* POST /keys/upload for (user_id, device_id); `body` borrowed. Returns the response
 * ({one_time_key_counts}) as a new object, or NULL with *err set. */
json_t *e2e_upload(const char *user_id, const char *device_id, const json_t *body,
                   struct e2e_error *err);
/* POST /keys/query by `requester`. New response object, or NULL with *err. */
json_t *e2e_query(const char *requester, const json_t *body, struct e2e_error *err);
/* POST /keys/claim. New response object, or NULL with *err. */
json_t *e2e_claim(const json_t *body, struct e2e_error *err);
/* GET /keys/changes between two sync tokens. New response object, or NULL with *err. */
json_t *e2e_changes(const char *user_id, const char *from, const char *to, struct e2e_error *err);

/* PUT /sendToDevice/{type}/{txnId} from (sender, device_id (NULL: none)). Returns 0, or -1
 * with *err. Repeating a transaction ID delivers nothing twice. */
int e2e_send_to_device(const char *sender, const char *device_id, const char *type,
                       const char *txn_id, const json_t *body, struct e2e_error *err);

/* POST /keys/device_signing/upload. Whether this upload needs user-interactive auth first:
 * 1 when the user has a master key and the upload would replace a key with a different one,
 * 0 when not (the first upload, or the same keys again), -1 on error (*err). */
int e2e_cross_signing_needs_auth(const char *user_id, const json_t *body, struct e2e_error *err);
/* Check and store the keys (after any auth). 0, or -1 with *err. */
int e2e_cross_signing_upload(const char *user_id, const json_t *body, struct e2e_error *err);
/* POST /keys/signatures/upload: each signature verified before it is stored. New response
 * ({failures}), or NULL with *err. */
json_t *e2e_signatures_upload(const char *user_id, const json_t *body, struct e2e_error *err);

/* Dehydrated devices (MSC3814, server/dehydrated.c). PUT: {device_id, device_data,
 * initial_device_display_name?, device_keys, one_time_keys?, fallback_keys?} -> {device_id};
 * GET -> {device_id, device_data}; DELETE -> {device_id}; events: the device's to-device
 * messages after `next_batch` -> {events, next_batch}. Each returns a new object or NULL with
 * *err (404 M_NOT_FOUND when the user has no such dehydrated device). */
json_t *e2e_dehydrated_put(const char *user_id, const json_t *body, struct e2e_error *err);
json_t *e2e_dehydrated_get(const char *user_id, struct e2e_error *err);
json_t *e2e_dehydrated_delete(const char *user_id, struct e2e_error *err);
json_t *e2e_dehydrated_events(const char *user_id, const char *device_id, const json_t *body,
                              struct e2e_error *err);

/* Over federation (server/e2e_fed.c), for local users only: GET /user/devices/{userId}
 * ({user_id, stream_id, devices, master_key?, self_signing_key?}; 400 M_INVALID_PARAM for a
 * user of another server), POST /user/keys/query and POST /user/keys/claim from `origin`
 * (other servers' users in the request are left out). New object, or NULL with *err. */
json_t *e2e_fed_user_devices(const char *user_id, struct e2e_error *err);
json_t *e2e_fed_query(const char *origin, const json_t *body, struct e2e_error *err);
json_t *e2e_fed_claim(const char *origin, const json_t *body, struct e2e_error *err);

/* A local user's device was added, renamed, deleted or re-keyed (server/e2e_devlist.c): record
 * it, wake the syncs of everyone sharing a room (device_lists.changed) and send the servers
 * sharing a room an m.device_list_update for it. e2e_devices_changed does so for each device
 * ID in the borrowed array (one stream position each). 0 or -1 (logged). */
int e2e_device_changed(const char *user_id, const char *device_id);
int e2e_devices_changed(const char *user_id, const json_t *device_ids);
/* An m.device_list_update from `origin` (content borrowed; the caller checked that the user
 * is one of origin's): applied to the cached copy of the list when it holds every prev_id,
 * else the copy is marked stale and the next /keys/query fetches the whole list; local users
 * sharing a room see the user in device_lists.changed. 0 or -1 (logged). */
int e2e_device_list_update(const char *user_id, const json_t *content);
/* A remote user's keys changed in a way the cache cannot apply (m.signing_key_update): mark
 * the copy stale and wake the syncs of everyone sharing a room. 0 or -1 (logged). */
int e2e_device_list_touch(const char *user_id);

#endif
