/* retention.h - SQL of the data-protection duties: message retention (MSC1763) purges, stale
 * devices, old IP records and the last copies of redacted content. */
#ifndef AMTSBOTE_STORAGE_RETENTION_H
#define AMTSBOTE_STORAGE_RETENTION_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* The content of the room's current m.room.retention event (state_key "") as a new reference
 * in *content, or NULL when the room has none. 0, or -1 on error. */
int db_retention_policy(struct dbc *c, const char *room_id, json_t **content);

/* Up to `limit` rooms with room_id > after (NULL: from the start), in room_id order, as a new
 * array of [room_id, content of m.room.retention or null]. NULL on error. */
json_t *db_retention_rooms(struct dbc *c, const char *after, int limit);

/* Delete up to `limit` expired events of room_id in one statement: events that are not state
 * events (state stays, as Synapse keeps it), not outliers, sent before before_ts, neither a
 * forward extremity nor the room's newest event; with their relations, search rows, push
 * actions, queued pushes, transaction IDs and pending redactions. The purged events' contents
 * as a new array (for the media they mention); NULL on error. */
json_t *db_retention_purge(struct dbc *c, const char *room_id, int64_t before_ts, int limit);

/* 1 if an event (any room) or a user's avatar_url still mentions `mxc`, 0 if not, -1. */
int db_retention_mxc_referenced(struct dbc *c, const char *mxc);

/* Delete the local media row media_id and its thumbnails. *files gets a new object
 * {"media": [sha256...], "thumbnails": [sha256...]} of the stored files no other media (local
 * or remote) uses any more, for the caller to unlink. 1 deleted, 0 no such media, -1. */
int db_retention_media_delete(struct dbc *c, const char *media_id, json_t **files);

/* Up to `limit` devices last seen (or, never seen, created) before before_ts, dehydrated
 * devices excepted, as a new array of [user_id, device_id]. NULL on error. */
json_t *db_privacy_stale_devices(struct dbc *c, int64_t before_ts, int limit);

/* Forget the IP address and user agent of devices last seen before before_ts. Rows changed,
 * or -1. */
long db_privacy_forget_ips(struct dbc *c, int64_t before_ts);

/* Erase what is left of the content of events redacted before before_ts (the stored PDU is
 * redacted at once; the search index still holds the body). Rows deleted, or -1. */
long db_privacy_erase_redacted(struct dbc *c, int64_t before_ts);

#endif
