/* users.h - the users table: accounts, passwords, admin flag, profile. */
#ifndef AMTSBOTE_STORAGE_USERS_H
#define AMTSBOTE_STORAGE_USERS_H
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

struct db_user {
    char *user_id;
    char *password_hash; /* NULL: no password */
    bool admin, deactivated;
    int64_t created_ts;
    char *displayname, *avatar_url; /* NULL when unset */
    bool locked;                    /* migration 0095 (storage/useradmin.c has the others) */
};

/* Insert a user. Returns 0, 1 if the user ID is taken, -1 on error. */
int db_users_insert(struct dbc *c, const char *user_id, const char *password_hash, bool admin,
                    const char *displayname, int64_t now_ms);
/* Fetch a user. Returns 1 (fill *out; free with db_user_clear), 0 if absent, -1 on error. */
int db_users_get(struct dbc *c, const char *user_id, struct db_user *out);
/* Find a user by user ID ignoring case (login falls back to this). Same contract. */
int db_users_get_ci(struct dbc *c, const char *user_id, struct db_user *out);
void db_user_clear(struct db_user *u);
/* Returns 1 if a user ID exists (case-insensitively), 0 if not, -1 on error. */
int db_users_exists_ci(struct dbc *c, const char *user_id);
/* Set the password hash (NULL removes password login). Returns 1, 0 if absent, -1. */
int db_users_set_password(struct dbc *c, const char *user_id, const char *hash);
/* Mark deactivated; with erase, profile cleared. The password hash stays, so that a login
 * learns of the deactivation only with the right password. Returns 1, 0, -1. */
int db_users_deactivate(struct dbc *c, const char *user_id, bool erase);
/* Set displayname or avatar_url (field is one of those two names; value NULL clears).
 * Returns 1, 0 if absent, -1. */
int db_users_set_profile(struct dbc *c, const char *user_id, const char *field, const char *value);
/* Set or clear the admin flag. Returns 1, 0 if absent, -1. */
int db_users_set_admin(struct dbc *c, const char *user_id, bool admin);

#endif
