/* privacy.c - periodic data-protection housekeeping, with Synapse's settings and defaults:
 *   - delete_stale_devices_after (unset: never): devices neither seen nor created within it are
 *     deleted as a logout would (keys, tokens and to-device messages go with them, and the
 *     device list change reaches the user's contacts); dehydrated devices are kept;
 *   - user_ips_max_age (28d): the last-seen IP address and user agent of a device (the only
 *     client IP record in the database) are forgotten once older than that;
 *   - redaction_retention_period (7d): a redacted event's stored PDU is redacted at once
 *     (storage/events.c), so the original content left is the search index's copy of the
 *     body, erased once the redaction is older than the period;
 *   - forget_rooms_on_leave (false): leaving a room also forgets it (privacy_member_left).
 * The housekeeping runs on one worker thread every tick (a quarter of the shortest configured
 * period, between 250 ms and 5 min); each round does bounded work. */
#include "server/privacy.h"

#include <string.h>

#include "server/account.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/worker.h"
#include "storage/rooms.h"
#include "storage/retention.h"

#define STALE_BATCH 500
#define TICK_MIN_MS 250
#define TICK_MAX_MS 300000

static int64_t stale_after, ips_max_age, redaction_period;
static bool forget_on_leave;

void privacy_configure(const struct config *cfg)
{
    stale_after = cfg->delete_stale_devices_after_ms;
    ips_max_age = cfg->user_ips_max_age_ms;
    redaction_period = cfg->redaction_retention_period_ms;
    forget_on_leave = cfg->forget_rooms_on_leave;
}

int privacy_member_left(struct dbc *c, const char *room_id, const char *user_id,
                        const char *membership)
{
    if (!forget_on_leave || !membership || !user_id || !ids_is_local(user_id) ||
        (strcmp(membership, "leave") != 0 && strcmp(membership, "ban") != 0))
        return 0;
    return db_rooms_forget(c, room_id, user_id);
}

/* Delete the stale devices, user by user through the account layer (which tells the user's
 * contacts that the device list changed and drops cached tokens). */
static void delete_stale(struct dbc *c, int64_t now)
{
    json_t *rows = db_privacy_stale_devices(c, now - stale_after, STALE_BATCH);
    size_t i = 0, n = json_array_size(rows);
    while (i < n) {
        const char *user = json_string_value(json_array_get(json_array_get(rows, i), 0));
        json_t *ids = json_array();
        for (; i < n; i++) {
            json_t *row = json_array_get(rows, i);
            if (!user || strcmp(json_string_value(json_array_get(row, 0)), user) != 0)
                break;
            json_array_append(ids, json_array_get(row, 1));
        }
        if (user && account_devices_delete(user, ids) != ACCOUNT_OK)
            log_warn("privacy: deleting stale devices failed");
        json_decref(ids);
        if (!user)
            break;
    }
    if (n)
        log_info("privacy: deleted %zu stale devices", n);
    json_decref(rows);
}

static void housekeeping_round(struct worker *w)
{
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    if (!c)
        return;
    if (stale_after > 0)
        delete_stale(c, now);
    if (ips_max_age > 0 && db_privacy_forget_ips(c, now - ips_max_age) < 0)
        log_warn("privacy: forgetting old IP addresses failed");
    if (redaction_period >= 0 && db_privacy_erase_redacted(c, now - redaction_period) < 0)
        log_warn("privacy: erasing redacted content failed");
    db_put(c);
}

static struct worker housekeeper = {.name = "privacy", .round = housekeeping_round};

static int64_t shorter(int64_t a, int64_t b)
{
    return b > 0 && b < a ? b : a;
}

int privacy_start(void)
{
    int64_t t = shorter(shorter(shorter(INT64_MAX, stale_after), ips_max_age), redaction_period);
    t = t == INT64_MAX ? TICK_MAX_MS : t / 4;
    housekeeper.tick_ms = (int)(t < TICK_MIN_MS ? TICK_MIN_MS : t > TICK_MAX_MS ? TICK_MAX_MS : t);
    return worker_start(&housekeeper);
}

void privacy_stop(void)
{
    worker_stop(&housekeeper);
}
