/* retention.h - message retention policies (MSC1763 m.room.retention, Synapse's `retention`
 * settings): which events clients may no longer see, and the purge jobs that delete them. */
#ifndef AMTSBOTE_RETENTION_H
#define AMTSBOTE_RETENTION_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"
#include "storage/db.h"

/* The server-wide part of a policy (milliseconds; 0: not set). */
struct retention_settings {
    bool enabled;
    int64_t default_min, default_max; /* retention.default_policy */
    int64_t allowed_min, allowed_max; /* retention.allowed_lifetime_min / _max */
};

/* The max_lifetime a room's policy states: content.max_lifetime when it is a positive integer,
 * else the default policy's; 0 when neither. content may be NULL (no m.room.retention). Pure. */
int64_t retention_stated_max(const json_t *content, const struct retention_settings *s);
/* The max_lifetime the server applies: the stated one, raised to min_lifetime (the room's, else
 * the default's) when below it, then brought within [allowed_min, allowed_max] (each when
 * set). 0: events of the room never expire. Pure. */
int64_t retention_effective_max(const json_t *content, const struct retention_settings *s);

/* Whether content is a valid m.room.retention content, as Synapse checks what local clients
 * send: min_lifetime and max_lifetime, where present, are integers from 1 to 2^53-1, and
 * min_lifetime <= max_lifetime. Otherwise false with the reason in why. Pure. */
bool retention_content_ok(const json_t *content, char *why, size_t n);

/* Take the settings from cfg (copied; cfg may be freed afterwards). */
void retention_configure(const struct config *cfg);
/* Whether a client must not be shown pdu (room room_id): retention is enabled, pdu is not a
 * state event, and it was sent longer ago than the room's effective max_lifetime, so it is
 * hidden even before a purge job deletes it. cache: a per-request JSON object (may be NULL)
 * remembering each room's cutoff under "retention:<room_id>". Errors read as "not hidden". */
bool retention_hidden(struct dbc *c, const char *room_id, const json_t *pdu, json_t *cache,
                      int64_t now_ms);

/* Start the purge jobs' background thread (nothing when retention is disabled). 0 or -1. */
int retention_start(void);
/* Stop it, waiting for the round in progress. Safe if not started. */
void retention_stop(void);
#endif
