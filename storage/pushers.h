/* pushers.h - SQL for pushers, the push delivery queue and /notifications (migration 0013). */
#ifndef AMTSBOTE_STORAGE_PUSHERS_H
#define AMTSBOTE_STORAGE_PUSHERS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/db.h"

/* The user's pushers as the spec shows them (new array), or NULL. */
json_t *db_pushers_list(struct dbc *c, const char *user_id);
/* Create or replace the pusher (app_id, pushkey) of user_id; `p` (borrowed) holds the spec's
 * fields (data as an object). Unless `append`, the same app_id/pushkey is removed from other
 * users. 1, 0 when the user already has `max` other pushers, -1. */
int db_pushers_set(struct dbc *c, const char *user_id, const char *device_id, const json_t *p,
                   bool append, int max, int64_t now_ms);
/* Delete a pusher of the user. 0 or -1. */
int db_pushers_delete(struct dbc *c, const char *user_id, const char *app_id, const char *pushkey);

/* Due deliveries (next_ts <= now), oldest first, at most `limit`: a new array of {id,
 * user_id, app_id, pushkey, pushkey_ts, data (object), event_id, room_id, attempts,
 * created_ts, highlight, tweaks (object or null; migration 0007), unread, event (the PDU,
 * when with_event)}, or NULL. skip_urls (may be NULL): a JSON array of gateway URLs whose
 * deliveries are left out (gateways with enough in flight already). */
json_t *db_push_queue_due(struct dbc *c, int64_t now_ms, int limit, bool with_event,
                          const char *skip_urls);
/* A delivery is over (sent, or given up). 0 or -1. */
int db_push_queue_done(struct dbc *c, int64_t id);
/* Try again at next_ts. 0 or -1. */
int db_push_queue_retry(struct dbc *c, int64_t id, int64_t next_ts);
/* Deliveries ids[0..n) are in flight: not due again before until_ts (a lease: if the server
 * dies with them in flight they come due again then). Attempts unchanged. 0 or -1. */
int db_push_queue_lease(struct dbc *c, const int64_t *ids, size_t n, int64_t until_ts);

/* /notifications: the user's notifications with stream < before, newest first, at most
 * `limit`, only highlights if asked: a new array of {stream, room_id, highlight, tweaks
 * (object or null), read, ts, event (PDU), event_id}, or NULL. */
json_t *db_notifications(struct dbc *c, const char *user_id, int64_t before, int limit,
                         bool only_highlight);

#endif
