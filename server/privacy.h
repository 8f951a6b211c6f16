/* privacy.h - periodic data-protection housekeeping with Synapse's settings:
 * delete_stale_devices_after, user_ips_max_age, redaction_retention_period, and
 * forget_rooms_on_leave. */
#ifndef AMTSBOTE_PRIVACY_H
#define AMTSBOTE_PRIVACY_H
#include <stdbool.h>

#include "server/config.h"
#include "storage/db.h"

/* Take the settings from cfg (copied). */
void privacy_configure(const struct config *cfg);
/* Start the housekeeping thread. 0 or -1. */
int privacy_start(void);
/* Stop it, waiting for the round in progress. Safe if not started. */
void privacy_stop(void);

/* In the transaction that stores a membership event: with forget_rooms_on_leave, a local
 * user who leaves (or is kicked or banned from) room_id also forgets it. 0 or -1. */
int privacy_member_left(struct dbc *c, const char *room_id, const char *user_id,
                        const char *membership);

#endif
