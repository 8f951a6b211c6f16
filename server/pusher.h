/* pusher.h - pushers and the delivery of notifications to HTTP push gateways
 * (Client-Server API "Push Notifications", Push Gateway API). */
#ifndef AMTSBOTE_PUSHER_H
#define AMTSBOTE_PUSHER_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct ipfilter;

/* Start the sender thread (include_content: push.include_content; filter: the addresses
 * gateways may have, from ip_range_blacklist / ip_range_whitelist, borrowed for the
 * server's life; pusher_set also refuses gateway URLs with a refused IP literal). 0 or -1. */
int pusher_start(bool include_content, const struct ipfilter *filter);
/* Stop it (call after outbound_stop, which ends requests in flight; their deliveries stay
 * queued). Safe if not started. */
void pusher_stop(void);
/* Something was queued: look now rather than at the next tick. */
void pusher_wake(void);

/* The back-off before attempt `attempts` + 1 (milliseconds): 1 s doubling, at most 10 min. */
int64_t pusher_backoff_ms(int attempts);
/* The Push Gateway API body for one queued delivery `row` (as db_push_queue_due gives it):
 * event_id_only unless include_content and the pusher's format is not event_id_only. New. */
json_t *pusher_notification(const json_t *row, bool include_content);

/* POST /pushers/set for (user_id, device_id): validates and stores (`kind: null` deletes).
 * Returns NULL, or a static message for a 400 with *errcode set. *internal on failure. */
const char *pusher_set(const char *user_id, const char *device_id, const json_t *body,
                       const char **errcode, bool *internal);
/* GET /pushers: {pushers: [...]} (new), or NULL. */
json_t *pusher_list(const char *user_id);
/* GET /notifications: {notifications, next_token?} (new), or NULL with *bad when `from` is
 * malformed. */
json_t *pusher_notifications(const char *user_id, const char *from, int limit, bool only_highlight,
                             bool *bad);

#endif
