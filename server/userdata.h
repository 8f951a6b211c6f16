/* userdata.h - per-user data around rooms: filters, account data and room tags, receipts and
 * read markers, typing, presence. Every change that /sync reports goes through the notifier.
 * Codes are the room engine's (server/room.h); `why` explains refusals. */
#ifndef AMTSBOTE_USERDATA_H
#define AMTSBOTE_USERDATA_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/room.h"

#define USERDATA_MAX_CONTENT 65536 /* bytes of one account data object, like an event */

/* Store a validated filter: its ID (decimal string) malloc'd into *id. */
enum room_rc userdata_filter_put(const char *user_id, const json_t *filter, char **id);
/* A stored filter (new reference) or ROOM_NOT_FOUND. */
enum room_rc userdata_filter_get(const char *user_id, const char *id, json_t **out);

/* Account data (room_id NULL: global). Types the server manages (m.fully_read, m.push_rules)
 * are refused here with ROOM_BAD_JSON. */
enum room_rc userdata_account_data_put(const char *user_id, const char *room_id, const char *type,
                                       const json_t *content, char *why, size_t n);
/* ROOM_NOT_FOUND when unset (or deleted, i.e. {}). */
enum room_rc userdata_account_data_get(const char *user_id, const char *room_id, const char *type,
                                       json_t **out);

/* Room tags (the m.tag room account data): all, put one ({order?}), delete one. */
enum room_rc userdata_tags_get(const char *user_id, const char *room_id, json_t **out);
enum room_rc userdata_tag_put(const char *user_id, const char *room_id, const char *tag,
                              const json_t *body, char *why, size_t n);
enum room_rc userdata_tag_delete(const char *user_id, const char *room_id, const char *tag);

/* A receipt ("m.read", "m.read.private") or the m.fully_read marker for an event the user
 * can see in a room they are joined to; thread_id NULL = unthreaded. */
enum room_rc userdata_receipt(const char *user_id, const char *room_id, const char *type,
                              const char *event_id, const char *thread_id, char *why, size_t n);

/* Typing in a room the user is joined to; timeout_ms clamped to [0, 120000]. */
enum room_rc userdata_typing(const char *user_id, const char *room_id, bool typing,
                             int64_t timeout_ms, char *why, size_t n);

/* Presence ("online", "offline", "unavailable"), only stored when enabled. */
enum room_rc userdata_presence_put(const char *user_id, const char *presence,
                                   const char *status_msg, char *why, size_t n);
/* {presence, last_active_ago, status_msg?, currently_active} of user_id (new) as `viewer`
 * may see it: themselves, or someone sharing a room (else ROOM_FORBIDDEN); ROOM_NOT_FOUND
 * when nothing is known. */
enum room_rc userdata_presence_get(const char *user_id, const char *viewer, json_t **out);

#endif
