/* account.h - accounts, passwords, devices, access tokens and profiles: the service layer the
 * Client-Server handlers call. Each function takes its own database connection. */
#ifndef AMTSBOTE_ACCOUNT_H
#define AMTSBOTE_ACCOUNT_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"

enum account_rc {
    ACCOUNT_ERR = -1,        /* internal error (logged) */
    ACCOUNT_OK = 0,
    ACCOUNT_NOT_FOUND = 1,   /* no such user / device */
    ACCOUNT_EXISTS = 2,      /* user ID taken */
    ACCOUNT_FORBIDDEN = 3,   /* wrong user or password */
    ACCOUNT_DEACTIVATED = 4, /* the account is deactivated */
    ACCOUNT_TOKEN_SPENT = 5, /* registration token no longer valid */
    ACCOUNT_LOCKED = 6,      /* the account is locked (a login answers M_USER_LOCKED) */
};

/* The result of a login or registration: all malloc'd, freed by account_login_clear. */
struct account_login {
    char *user_id, *device_id, *access_token; /* device_id/access_token NULL with no login */
};
void account_login_clear(struct account_login *l);

/* argon2id hash (libsodium crypto_pwhash_str, interactive limits) into a malloc'd string;
 * NULL on failure. */
char *account_hash_password(const char *password);
/* 1 if `password` matches `hash`, else 0. Constant time in the password. */
int account_check_password(const char *hash, const char *password);

/* The http_authenticator: resolve an access token (stored as SHA-256) to its user and device
 * and record the device's last use. Deactivated users' tokens are refused. */
int account_authenticate(struct http_req *req, const char *token, struct http_user *out);

/* An account's admin, locked, suspended or shadow-banned flag changed (server/useradmin.c):
 * cached token lookups are forgotten, so the next request sees the change. */
void account_flags_changed(void);

/* 1 if the user ID is free (case-insensitively), 0 if taken, -1 on error. */
int account_available(const char *user_id);
/* Create an account; with `login`, also a device (device_id or a new one) and a token. When
 * reg_token is given, its reserved use is completed in the same transaction. */
enum account_rc account_register(const char *user_id, const char *password, bool admin,
                                 const char *displayname, const char *reg_token, bool login,
                                 const char *device_id, const char *device_name,
                                 struct account_login *out);
/* Map what a client typed ("alice", "@alice:server", "@Alice:server") to an existing local
 * user ID (malloc'd into *out). Returns ACCOUNT_OK or ACCOUNT_NOT_FOUND / ACCOUNT_ERR. */
enum account_rc account_resolve_user(const char *given, const char *server_name, char **out);
/* Password login for an existing user ID: checks the password and issues a token for
 * device_id (reused when it exists) or a new device. */
enum account_rc account_login_password(const char *user_id, const char *password,
                                       const char *device_id, const char *device_name,
                                       struct account_login *out);
/* ACCOUNT_OK if the password is right, ACCOUNT_FORBIDDEN if not, ACCOUNT_DEACTIVATED,
 * ACCOUNT_LOCKED. */
enum account_rc account_verify_password(const char *user_id, const char *password);

/* Log out the token's device (device and its tokens deleted) or just the token. */
enum account_rc account_logout(const struct http_user *who);
/* Delete every device and token of the user. */
enum account_rc account_logout_all(const char *user_id);
/* Set a new password; with logout_devices, every other device and token is deleted. */
enum account_rc account_set_password(const struct http_user *who, const char *password,
                                     bool logout_devices);
/* Deactivate: devices and tokens deleted, password removed, profile erased if asked. */
enum account_rc account_deactivate(const char *user_id, bool erase);
/* Set or clear the admin flag. */
enum account_rc account_set_admin(const char *user_id, bool admin);

/* Devices as JSON (new references). */
json_t *account_devices(const char *user_id);
/* GET /admin/whois: the user's devices and their last connections (new), or NULL. */
json_t *account_whois(const char *user_id);
enum account_rc account_device(const char *user_id, const char *device_id, json_t **out);
enum account_rc account_device_rename(const char *user_id, const char *device_id,
                                      const char *name);
/* Delete the listed devices (array of strings, borrowed); unknown ones are skipped. */
enum account_rc account_devices_delete(const char *user_id, json_t *device_ids);

/* Profile {displayname?, avatar_url?} of a local user (new reference). */
enum account_rc account_profile(const char *user_id, json_t **out);
/* field: "displayname" or "avatar_url"; value NULL clears it. */
enum account_rc account_profile_set(const char *user_id, const char *field, const char *value);

/* Free the token cache (at shutdown). */
void account_cache_free(void);

#endif
