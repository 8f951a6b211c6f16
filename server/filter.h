/* filter.h - Matrix event filters (Client-Server API "Filtering", schemas Filter, RoomFilter,
 * EventFilter, RoomEventFilter): validation, event and room matching, limits, the
 * event_fields projection and accessors over the client's own filter JSON. Pure functions, no
 * I/O; every json_t returned by an accessor is borrowed from the filter it was read from. */
#ifndef AMTSBOTE_FILTER_H
#define AMTSBOTE_FILTER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds a valid filter keeps, so that evaluating it stays cheap: every list (types, rooms,
 * senders, event_fields ...) holds at most FILTER_MAX_LIST entries, and every entry at most
 * FILTER_MAX_STRING bytes (the spec's size limit for IDs and event types). */
#define FILTER_MAX_LIST 1000
#define FILTER_MAX_STRING 255

/* Which schema a filter text follows: /sync and POST /user/{userId}/filter take a Filter;
 * /messages and /context take a bare RoomEventFilter. */
enum filter_kind { FILTER_KIND_SYNC, FILTER_KIND_ROOM_EVENT };

/* --- validation ------------------------------------------------------------------------- */

/* Check `filter` against the Filter schema: the type of every known field at every level,
 * limit an integer >= 1, event_format "client" or "federation", senders starting with '@',
 * rooms starting with '!', and the bounds above. Unknown keys are ignored. Returns 0, or -1
 * with a reason naming the field (e.g. "room.timeline.limit must be ...") in why[n] (may be
 * truncated; why may be NULL when n is 0). Answer -1 with M_BAD_JSON. */
int filter_validate(const json_t *filter, char *why, size_t n);

/* The same for a bare RoomEventFilter (the /messages and /context `filter` parameter). */
int filter_validate_room_event(const json_t *ef, char *why, size_t n);

/* True when a /sync `filter` parameter is inline JSON rather than a filter ID: the spec tells
 * them apart by a leading '{'. NULL is not inline. */
bool filter_param_is_inline(const char *param);

/* Parse an inline filter (query parameter text, NUL-terminated) with JSON_REJECT_DUPLICATES,
 * require an object and validate it as `kind`. Returns a new reference the caller must
 * json_decref, or NULL with a reason in why[n] (answer M_BAD_JSON). Filter IDs are looked up
 * elsewhere; see filter_param_is_inline. */
json_t *filter_parse_param(const char *text, enum filter_kind kind, char *why, size_t n);

/* --- matching --------------------------------------------------------------------------- */

/* The filters' wildcard match: `*` in pattern[plen] matches any sequence of bytes (also an
 * empty one), anywhere and any number of times; every other byte, '?' included, matches
 * itself. Linear in plen + slen; a pattern longer than FILTER_MAX_STRING matches nothing. */
bool filter_glob(const char *pattern, size_t plen, const char *s, size_t slen);

/* Whether `event` (a client event, PDU, EDU or account data object) passes `ef`, an
 * EventFilter or RoomEventFilter; NULL (or a non-object) lets everything pass. Rules:
 *   1. types / not_types match the event's `type` with filter_glob; senders / not_senders and
 *      rooms / not_rooms match `sender` and `room_id` exactly (the spec gives wildcards to
 *      types only: '*' is legal in historical user IDs).
 *   2. A list that is present must match (an empty list matches nothing); a not_ list that
 *      matches excludes the event even when the allow list matches too.
 *   3. An event without a type or sender fails `types` / `senders` and passes the not_
 *      lists; rooms / not_rooms apply only when the event carries a room_id (the caller
 *      applies them to the room otherwise, with filter_room_ok on the same part).
 *   4. contains_url true keeps only events whose content.url is a string, false drops them.
 * `limit` is not applied here; see filter_limit. */
bool filter_event_ok(const json_t *ef, const json_t *event);

/* Whether `ef` can turn events away by their own fields: it has types, not_types, senders,
 * not_senders or contains_url (rooms / not_rooms are a matter of the room). False for NULL. */
bool filter_event_narrows(const json_t *ef);

/* Whether `room_id` passes the rooms / not_rooms of `rf`, a RoomFilter (the Filter's "room")
 * or a RoomEventFilter. Exact room IDs; not_rooms wins over rooms; an empty rooms list admits
 * nothing; NULL rf admits every room; a NULL room_id passes only when rf has no rooms list. */
bool filter_room_ok(const json_t *rf, const char *room_id);

/* The `limit` of an EventFilter: dflt when ef is NULL, limit is absent, not an integer or
 * below 1; otherwise limit. Either way clamped to [1, max] (max >= 1). */
int filter_limit(const json_t *ef, int dflt, int max);

/* --- event_fields ----------------------------------------------------------------------- */

/* Project `event` onto `event_fields` (the Filter's array of dot-separated property paths,
 * spec appendix "Dot-separated property paths": "\." is a literal dot and "\\" a backslash,
 * other escapes stay as written). Only the listed fields are kept, at their nesting; paths
 * that name nothing, or pass through a non-object, are skipped; an empty array gives {}.
 * Returns a new reference: a fresh object sharing nothing with `event` when event_fields is an
 * array and event an object, else `event` itself with its count raised (NULL event_fields:
 * everything). NULL only when memory runs out. */
json_t *filter_project(const json_t *event, const json_t *event_fields);

/* --- accessors (borrowed references; NULL when absent or not an object) ------------------ */

/* The Filter's event_fields array, or NULL (keep every field). */
const json_t *filter_event_fields(const json_t *filter);
/* A top-level EventFilter: part is "presence" or "account_data". */
const json_t *filter_part(const json_t *filter, const char *part);
/* The RoomFilter ("room"), or NULL. */
const json_t *filter_room(const json_t *filter);
/* A RoomEventFilter of the RoomFilter: part is "timeline", "state", "ephemeral" or
 * "account_data". */
const json_t *filter_room_part(const json_t *filter, const char *part);

/* Lazy-loading room members for /sync: lazy_load_members on room.state (sync.yaml: "only
 * supported on the state part of a RoomFilter"). When it is on, *include_redundant (may be
 * NULL) receives room.state.include_redundant_members; otherwise false, as that flag does not
 * apply without lazy loading. */
bool filter_lazy_members(const json_t *filter, bool *include_redundant);
/* The same read from a bare RoomEventFilter (/messages, /context). */
bool filter_event_lazy_members(const json_t *ef, bool *include_redundant);
/* room.include_leave (default false). */
bool filter_include_leave(const json_t *filter);
/* room.timeline.unread_thread_notifications (default false): per-thread counts in /sync. */
bool filter_unread_threads(const json_t *filter);
/* event_format is "federation" (default "client"). */
bool filter_federation_format(const json_t *filter);

#endif
