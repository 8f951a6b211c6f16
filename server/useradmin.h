/* useradmin.h - the service layer of the user admin API (Synapse's /_synapse/admin/v1 and v2
 * user endpoints, the Client-Server API's /admin/suspend and /admin/lock): listing accounts,
 * moderation flags, deactivation with GDPR erasure. Each function takes its own connection. */
#ifndef AMTSBOTE_USERADMIN_H
#define AMTSBOTE_USERADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/account.h"
#include "storage/useradmin.h"

/* A page of accounts: {users, total, next_token?} (new), or NULL on error. */
json_t *useradmin_list(const struct db_user_query *q);
/* One account as Synapse describes it (new in *out). ACCOUNT_OK, ACCOUNT_NOT_FOUND, ACCOUNT_ERR. */
enum account_rc useradmin_get(const char *user_id, json_t **out);
/* The user's devices as Synapse's admin API shows them, all or the one device_id (new array
 * of at most one), or NULL on error. */
json_t *useradmin_devices(const char *user_id, const char *device_id);
/* Create a device without a token (POST /_synapse/admin/v2/users/{userId}/devices); an
 * existing one is kept. */
enum account_rc useradmin_device_create(const char *user_id, const char *device_id);
/* {room_id: membership} of the user in every room this server knows a membership of (new),
 * or NULL on error. */
json_t *useradmin_memberships(const char *user_id);
/* Set a moderation flag (locked, suspended, shadow_banned); takes effect at the next
 * request of the user's tokens. */
enum account_rc useradmin_set_flag(const char *user_id, enum db_user_flag f, bool on);
enum account_rc useradmin_set_user_type(const char *user_id, const char *user_type);
/* Deactivate (account_deactivate: devices, tokens, password gone), leave every joined room
 * and reject invites, and with erase: mark the account erased (its events are served pruned
 * to who was not joined when they were sent: server/roomread.c), its profile cleared and the
 * media it uploaded deleted. The same for the user's own /account/deactivate and the admin's. */
enum account_rc useradmin_deactivate(const char *user_id, bool erase);
/* Reactivate a deactivated account (PUT /_synapse/admin/v2/users with deactivated false):
 * needs a password when password login is the only way in. */
enum account_rc useradmin_reactivate(const char *user_id);

#endif
