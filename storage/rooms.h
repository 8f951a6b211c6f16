/* rooms.h - the rooms table and each room's forward extremities. */
#ifndef AMTSBOTE_STORAGE_ROOMS_H
#define AMTSBOTE_STORAGE_ROOMS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

struct db_room {
    char *room_version, *creator; /* malloc'd */
    int64_t state_group;          /* state after the newest event; 0 before the first */
    bool is_public;
};

/* Returns 0, 1 if the room exists, -1. */
int db_rooms_insert(struct dbc *c, const char *room_id, const char *room_version,
                    const char *creator, int64_t now_ms);
/* Returns 1 and fills *out (free with db_room_clear), 0 if unknown, -1. With lock, the row is
 * locked FOR UPDATE: the room's writer lock, held to the end of the transaction. */
int db_rooms_get(struct dbc *c, const char *room_id, bool lock, struct db_room *out);
void db_room_clear(struct db_room *r);
int db_rooms_set_state_group(struct dbc *c, const char *room_id, int64_t group);
int db_rooms_set_public(struct dbc *c, const char *room_id, bool is_public);

/* Forward extremities as a new JSON array of event IDs (sorted); NULL on error. */
json_t *db_rooms_extremities(struct dbc *c, const char *room_id);
/* Everything an append needs, read in one statement right after taking the room's writer
 * lock (the rooms row FOR UPDATE, held to the end of the transaction). */
struct db_append_view {
    char *room_version;   /* malloc'd */
    int64_t state_group;
    char *prior_event_id; /* the event this (user, device, txn key) already produced, or NULL */
    json_t *extremities;  /* [[event_id, depth], ...], deepest first */
    json_t *auth;         /* statemap_key -> PDU (with "event_id") for the requested keys */
    json_t *members;      /* [{user_id, displayname, rules}] of the joined members; rules:
                             their push rule store (server/push.h), null if they have none
                             (and then displayname null too: only their rules read it) */
};
/* Returns 1 and fills *out (free with db_append_view_clear), 0 if the room is unknown, -1.
 * txn_id (a transaction key, storage/events.h) may be NULL. Without with_members, members
 * is NULL (not read: a batch of state events reads its push targets itself). */
int db_rooms_append_view(struct dbc *c, const char *room_id, const char *user_id,
                         const char *device_id, const char *txn_id, const char *const *types,
                         const char *const *keys, size_t n, bool with_members,
                         struct db_append_view *out);
void db_append_view_clear(struct db_append_view *v);

/* Forward extremities with their depths: a new array of [event_id, depth], newest first, at
 * most `max`; NULL on error. */
json_t *db_rooms_extremities_depth(struct dbc *c, const char *room_id, int max);
/* Replace the extremities named in `prev` (array, borrowed) by `event_id`. 0 or -1. */
int db_rooms_extremities_advance(struct dbc *c, const char *room_id, json_t *prev,
                                 const char *event_id);

/* Aliases. Returns 0, 1 if the alias is taken, -1. */
int db_aliases_put(struct dbc *c, const char *alias, const char *room_id, const char *creator,
                   int64_t now_ms);
/* Room of an alias (malloc'd into *room_id) and its creator (into *creator if non-NULL):
 * 1, 0 if unknown, -1. */
int db_aliases_get(struct dbc *c, const char *alias, char **room_id, char **creator);
/* 1 deleted, 0 unknown, -1. */
int db_aliases_delete(struct dbc *c, const char *alias);
/* Point every alias of `from` at `to` (room upgrades). 0 or -1. */
int db_aliases_move(struct dbc *c, const char *from, const char *to);
/* The aliases of a room as a new sorted JSON array; NULL on error. */
json_t *db_aliases_of_room(struct dbc *c, const char *room_id);

/* Published rooms (is_public), most joined members first, with their directory fields read
 * from current state: a new JSON array of {room_id, num_joined_members, name?, topic?,
 * canonical_alias?, avatar_url?, join_rule?, history_visibility?, guest_access?, room_type?}.
 * `search` (NULL: none) matches name, topic or alias case-insensitively. NULL on error. */
json_t *db_rooms_public(struct dbc *c, const char *search, int offset, int limit, long *total);
/* The same fields for one room (new object), or NULL when unknown / on error. */
json_t *db_rooms_summary(struct dbc *c, const char *room_id);

/* Remember that the user forgot the room; joining again clears it. 0 or -1. */
int db_rooms_forget(struct dbc *c, const char *room_id, const char *user_id);
int db_rooms_unforget(struct dbc *c, const char *room_id, const char *user_id);

/* The current m.space.child events of a room with a non-empty content.via, as a new array of
 * stripped events {type, state_key, content, sender, origin_server_ts}; NULL on error. */
json_t *db_space_children(struct dbc *c, const char *room_id);
/* The content of the room's current m.room.join_rules event (new), JSON null when none, or
 * NULL on error. */
json_t *db_join_rules_content(struct dbc *c, const char *room_id);

#endif
