/* devices.h - devices and their access tokens (stored as SHA-256 hashes only). */
#ifndef AMTSBOTE_STORAGE_DEVICES_H
#define AMTSBOTE_STORAGE_DEVICES_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* Create the device, or keep an existing one (its display name is only set when it had none
 * and `display_name` is given). Returns 1 (created), 0 (it existed) or -1. */
int db_devices_upsert(struct dbc *c, const char *user_id, const char *device_id,
                      const char *display_name, int64_t now_ms);
/* All devices of a user as a new JSON array of {device_id, display_name, last_seen_ip,
 * last_seen_ts} (null where unknown; caller owns), ordered by device_id. NULL on error. */
json_t *db_devices_list(struct dbc *c, const char *user_id);
/* GET /admin/whois: {device_id: {sessions: [{connections: [{ip, last_seen, user_agent}]}]}}
 * for the user's devices (the last connection each device was seen on); new, or NULL. */
json_t *db_devices_whois(struct dbc *c, const char *user_id);
/* One device as a new JSON object (same shape); returns 1 and sets *out, 0 if absent, -1. */
int db_devices_get(struct dbc *c, const char *user_id, const char *device_id, json_t **out);
/* Rename (NULL clears). Returns 1, 0 if absent, -1. */
int db_devices_set_name(struct dbc *c, const char *user_id, const char *device_id,
                        const char *display_name);
/* Delete a device and, by cascade, its tokens. Returns 1, 0 if absent, -1. */
int db_devices_delete(struct dbc *c, const char *user_id, const char *device_id);
/* Delete every device of a user except `keep_device` (NULL: all) and every token except
 * `keep_token_id` (<= 0: all). Returns the number of devices deleted, or -1. */
long db_devices_delete_all(struct dbc *c, const char *user_id, const char *keep_device,
                           int64_t keep_token_id);
/* Record last use of a device, unless it was recorded less than `interval_ms` ago (one write
 * a minute, not one per request). Returns 0 or -1. */
int db_devices_touch(struct dbc *c, const char *user_id, const char *device_id, const char *ip,
                     const char *user_agent, int64_t now_ms, int64_t interval_ms);

struct db_token_owner {
    int64_t token_id;
    char *user_id;   /* malloc'd */
    char *device_id; /* malloc'd, may be NULL */
    bool admin, deactivated;
    bool locked, suspended, shadow_banned; /* migration 0095 */
};
/* Store a token hash. Returns 0 and sets *id, or -1. */
int db_tokens_insert(struct dbc *c, const uint8_t hash[32], const char *user_id,
                     const char *device_id, int64_t now_ms, int64_t *id);
/* Find the owner of a token hash. Returns 1 (fill *out; free with db_token_owner_clear),
 * 0 if unknown, -1 on error. */
int db_tokens_lookup(struct dbc *c, const uint8_t hash[32], struct db_token_owner *out);
void db_token_owner_clear(struct db_token_owner *o);
/* Delete one token. Returns 0 or -1. */
int db_tokens_delete(struct dbc *c, int64_t token_id);
/* Delete tokens of a device (all of its tokens). Returns 0 or -1. */
int db_tokens_delete_device(struct dbc *c, const char *user_id, const char *device_id);

#endif
