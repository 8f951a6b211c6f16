/* useradmin.h - SQL of the user admin API: listing accounts, their moderation flags (erased,
 * locked, suspended, shadow_banned), an erased user's media, and the admin audit log. */
#ifndef AMTSBOTE_STORAGE_USERADMIN_H
#define AMTSBOTE_STORAGE_USERADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* The moderation flags of users, named as their columns. */
enum db_user_flag {
    DB_FLAG_ERASED,
    DB_FLAG_LOCKED,
    DB_FLAG_SUSPENDED,
    DB_FLAG_SHADOW_BANNED,
    DB_FLAG_DEACTIVATED,
};

/* GET /_synapse/admin/v2/users: the filters (NULL / -1: not applied) and the page. */
struct db_user_query {
    const char *user_id; /* substring of the user ID (case-insensitive) */
    const char *name;    /* substring of the localpart or the displayname; wins over user_id */
    int admins;          /* 1: only admins, 0: no admins, -1: both */
    int deactivated;     /* 1: include deactivated accounts, 0: leave them out (v2), -1:
                            v3 without the parameter: both; 2: v3 "true": only them */
    bool locked;         /* include locked accounts */
    const char *not_user_types; /* JSON array of user types to leave out ("" = no type), or
                                   NULL */
    const char *order_sql;      /* "user_id", "created_ts", ... a column from the caller's table */
    bool backwards;
    int64_t from, limit;
};
/* One page of users, each as Synapse lists them (new array in *out) and the count of all
 * that match in *total. 0 or -1. */
int db_useradmin_list(struct dbc *c, const struct db_user_query *q, json_t **out, int64_t *total);
/* One user as Synapse's GET /_synapse/admin/v2/users/{userId} answers (new object in *out).
 * 1, 0 when absent, -1. */
int db_useradmin_get(struct dbc *c, const char *user_id, json_t **out);
/* The devices of a user as Synapse's admin API lists them (device_id, display_name,
 * last_seen_ip, last_seen_user_agent, last_seen_ts, user_id, dehydrated): all of them, or the
 * one device_id (an array of at most one). New array, or NULL on error. */
json_t *db_useradmin_devices(struct dbc *c, const char *user_id, const char *device_id);
/* {room_id: membership} of every room whose current state has a member event of user_id
 * (new), or NULL on error. */
json_t *db_useradmin_memberships(struct dbc *c, const char *user_id);
/* Set a flag. 1, 0 when the user is absent, -1. */
int db_useradmin_set_flag(struct dbc *c, const char *user_id, enum db_user_flag f, bool on);
/* Set user_type (NULL clears). 1, 0, -1. */
int db_useradmin_set_user_type(struct dbc *c, const char *user_id, const char *user_type);
/* Which of the given users (an array of user ID strings, borrowed) are erased: a new object
 * {user_id: true} of the erased ones, or NULL on error. */
json_t *db_useradmin_erased(struct dbc *c, const json_t *user_ids);
/* Delete the media rows the user uploaded (thumbnails by cascade). *files gets a new array of
 * [sha256, is_thumbnail] of the stored files no other row refers to any longer, for the
 * caller to unlink. Returns the number of media deleted, or -1. */
int64_t db_useradmin_delete_media(struct dbc *c, const char *user_id, json_t **files);

/* Record one admin request in admin_audit_log. 0 or -1. */
int db_audit_insert(struct dbc *c, int64_t ts, const char *admin_id, const char *method,
                    const char *path, const char *target, int status, const char *client_ip);

#endif
