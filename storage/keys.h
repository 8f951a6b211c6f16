/* keys.h - SQL for end-to-end encryption key material, to-device messages and device-list
 * changes (migration 0004_e2ee.sql). Key objects are stored as the JSON text given and come
 * back as parsed JSON; nothing here interprets them. */
#ifndef AMTSBOTE_STORAGE_KEYS_H
#define AMTSBOTE_STORAGE_KEYS_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* --- device keys -------------------------------------------------------------------------- */

/* The stored DeviceKeys text of a device into *out (malloc'd; NULL when none). 0 or -1. */
int db_keys_device_get(struct dbc *c, const char *user_id, const char *device_id, char **out);
/* Store (or replace) a device's DeviceKeys text. Returns 1, 0 when the device does not exist
 * (any more), -1. */
int db_keys_device_put(struct dbc *c, const char *user_id, const char *device_id,
                       const char *json);
/* Device keys of the requested devices. `query` (borrowed) is {user_id: [device_id...]} (an
 * empty list: every device). Returns a new array of {user_id, device_id, keys (object),
 * display_name (string or null)}, or NULL on error. */
json_t *db_keys_devices_query(struct dbc *c, const json_t *query);

/* --- one-time and fallback keys ----------------------------------------------------------- */

/* Add one-time keys: `keys` (borrowed) is an array of {algorithm, key_id, json} with json the
 * key's JSON text. A key ID already stored with other content is not replaced: its
 * "algorithm:key_id" is put in *conflict (malloc'd) and nothing is added (returns 0).
 * Returns 0 or -1. */
int db_keys_otk_add(struct dbc *c, const char *user_id, const char *device_id,
                    const json_t *keys, char **conflict);
/* Store the fallback key of an algorithm, replacing the previous one (a re-upload of the same
 * key keeps its used flag). 0 or -1. */
int db_keys_fallback_put(struct dbc *c, const char *user_id, const char *device_id,
                         const char *algorithm, const char *key_id, const char *json);
/* {"counts": {algorithm: n}, "unused_fallback": [algorithm...]} for a device (new), or NULL. */
json_t *db_keys_counts(struct dbc *c, const char *user_id, const char *device_id);
/* Claim one key per requested device: `want` (borrowed) is an array of {user_id, device_id,
 * algorithm}. Each one-time key handed out is deleted in the same statement (FOR UPDATE SKIP
 * LOCKED: concurrent claims never get the same key); where none is left the fallback key is
 * handed out and marked used. Returns a new array of {user_id, device_id, key_id (with the
 * algorithm prefix), key (JSON)}, or NULL on error. */
json_t *db_keys_claim(struct dbc *c, const json_t *want);

/* --- cross-signing ------------------------------------------------------------------------ */

/* Cross-signing keys of the users in `users` (borrowed array of user IDs): a new array of
 * {user_id, usage, public_key, key (object)}, or NULL. */
json_t *db_keys_cross_signing_get(struct dbc *c, const json_t *users);
/* Store the key of one usage ("master", "self_signing", "user_signing"). 0 or -1. */
int db_keys_cross_signing_put(struct dbc *c, const char *user_id, const char *usage,
                              const char *public_key, const char *json);
/* Forget the signatures made with and on a user's replaced cross-signing key (`public_key`).
 * 0 or -1. */
int db_keys_signatures_drop(struct dbc *c, const char *user_id, const char *public_key);
/* Store a verified signature. 0 or -1. */
int db_keys_signature_put(struct dbc *c, const char *signer_user, const char *signer_key,
                          const char *target_user, const char *target_key,
                          const char *signature);
/* Stored signatures on keys of the users in `users` (borrowed array): a new array of
 * {target_user, target_key, signer_user, signer_key, signature}, or NULL. */
json_t *db_keys_signatures_on(struct dbc *c, const json_t *users);

/* --- device lists ------------------------------------------------------------------------- */

/* Record that a user's device list (or cross-signing identity) changed, at a new stream
 * position (*pos), and return the rooms they are joined to in *rooms (new array), so the
 * caller can wake the syncs of everyone who shares one. With only_for set, the change is
 * reported to that user alone (a private key or signature of theirs) and *rooms is empty.
 * device_id (may be NULL) names the device an m.device_list_update announces; *prev (prev
 * may be NULL) is then the position of the user's previous announced change, 0 for none: the
 * EDU's prev_id (migration 0110). 0 or -1. */
int db_device_list_changed(struct dbc *c, const char *user_id, const char *only_for,
                           const char *device_id, int64_t *pos, int64_t *prev, json_t **rooms);
/* Device-list news for `user_id` in (since, upto]: {"changed": [...], "left": [...]} (new).
 * changed: users sharing a room whose devices changed, who joined a room the user is in, or
 * who are in a room the user joined, and the users of changes meant for user_id alone (see
 * db_device_list_changed); left: users who no longer share any room after a membership
 * change in the range. NULL on error. */
json_t *db_device_lists(struct dbc *c, const char *user_id, int64_t since, int64_t upto);

/* --- to-device ---------------------------------------------------------------------------- */

/* Queue to-device messages from sender's device `txn_device` under `txn_id` (idempotent):
 * `msgs` (borrowed) is an array of {user_id, device_id ("*": all devices), content (JSON
 * text)}; unknown devices are skipped. Sets *pos to the stream position used and *users to
 * the recipients (new array), or *pos = 0 when the transaction ID was used before for the
 * same `type` (the request path /sendToDevice/{type}/{txnId}; rows stored before migration
 * 0140 match any type). 0 or -1. */
int db_to_device_send(struct dbc *c, const char *sender, const char *txn_device,
                      const char *txn_id, const char *type, const json_t *msgs, int64_t now_ms,
                      int64_t *pos, json_t **users);

/* What /sync tells one device, in one round trip: first delete the to-device messages it
 * acknowledged (stream <= acked), then read the next at most `limit` with stream <= upto
 * into *msgs (new array of {stream, sender, type, content}) and its key counts into *counts
 * (as db_keys_counts). 0 or -1. */
int db_keys_sync(struct dbc *c, const char *user_id, const char *device_id, int64_t acked,
                 int64_t upto, int limit, json_t **msgs, json_t **counts);

/* Forget a deactivated user's encryption material beyond their devices (which go with the
 * devices): cross-signing keys, signatures by and on them, key backups (the version numbers
 * stay taken). 0 or -1. */
int db_keys_forget_user(struct dbc *c, const char *user_id);

/* --- dehydrated devices (MSC3814) -------------------------------------------------------- */

/* Make `device_id` the user's dehydrated device with `data` (JSON text): the previous one, if
 * any, is deleted (its keys and inbox with it; its ID into *old, malloc'd, else NULL), the
 * device row created. Run it in a transaction. 1, 0 when device_id names an existing device
 * (nothing should be kept then: roll back), or -1. */
int db_dehydrated_put(struct dbc *c, const char *user_id, const char *device_id,
                      const char *display_name, const char *data, int64_t now_ms, char **old);
/* The user's dehydrated device: *device_id and *data (malloc'd) or both NULL. 0 or -1. */
int db_dehydrated_get(struct dbc *c, const char *user_id, char **device_id, char **data);
/* Delete it (device, keys, inbox); its ID into *device_id (malloc'd; NULL when none). */
int db_dehydrated_delete(struct dbc *c, const char *user_id, char **device_id);

#endif
