/* state.h - room state: state groups (the state after any event, stored as Fenwick-style
 * deltas) and the current state of each room. State maps are JSON objects keyed by
 * statemap_key(type, state_key) with event ID values (server/statemap.h). */
#ifndef AMTSBOTE_STORAGE_STATE_H
#define AMTSBOTE_STORAGE_STATE_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* Store a new state group of `room_id` derived from `parent` (0: from the empty state) by
 * `changes` (a state map, borrowed; a JSON null value removes the key). Returns the new
 * group's id, or -1 on error. An empty change set still makes a new group. */
int64_t db_state_group_new(struct dbc *c, const char *room_id, int64_t parent, json_t *changes);
/* The whole state of a group as a new state map (group 0: empty). NULL on error. */
json_t *db_state_group_load(struct dbc *c, int64_t group);
/* The group `group` was derived from (0 when none), or -1 on error. */
int64_t db_state_group_parent(struct dbc *c, int64_t group);
/* Rows stored for one group (its delta); -1 on error. For tests and metrics. */
long db_state_group_rows(struct dbc *c, int64_t group);

/* One entry of a group's state: the event ID malloc'd into *out (NULL when absent). 0/-1. */
int db_state_group_get(struct dbc *c, int64_t group, const char *type, const char *state_key,
                       char **out);

/* Rooms where the user's current membership is `membership` (new JSON array); NULL on error. */
json_t *db_rooms_with_membership(struct dbc *c, const char *user_id, const char *membership);
/* Current member events of a room as a new JSON array of {"event_id", "pdu", "membership"},
 * optionally only with (or without) one membership; NULL on error. */
json_t *db_current_members(struct dbc *c, const char *room_id, const char *membership,
                           const char *not_membership);
/* The user's current membership in a room (malloc'd into *out, NULL if none) and the event
 * that set it (into *event_id if non-NULL). 0 or -1. */
int db_current_membership(struct dbc *c, const char *room_id, const char *user_id, char **out,
                          char **event_id);

/* The current state events for the given keys (types[i], keys[i]), plus the event with ID
 * `extra_id` if non-NULL, in one query: a new object mapping statemap_key -> PDU with its
 * "event_id" set (extra_id under the key of its own type and state key). NULL on error. */
json_t *db_current_state_events(struct dbc *c, const char *room_id, const char *const *types,
                                const char *const *keys, size_t n, const char *extra_id);

/* Current state of a room as a new state map; NULL on error. */
json_t *db_current_state(struct dbc *c, const char *room_id);
/* Event ID of one current state entry (malloc'd into *out, NULL when absent). 0 or -1. */
int db_current_state_get(struct dbc *c, const char *room_id, const char *type,
                         const char *state_key, char **out);
/* Set one entry; membership is content.membership for m.room.member (else NULL). 0 or -1. */
int db_current_state_set(struct dbc *c, const char *room_id, const char *type,
                         const char *state_key, const char *event_id, const char *membership);
/* Replace the whole current state by `state` (a state map; memberships looked up from the
 * events table). 0 or -1. */
int db_current_state_replace(struct dbc *c, const char *room_id, json_t *state);

#endif
