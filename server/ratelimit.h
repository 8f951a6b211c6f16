/* ratelimit.h - token-bucket rate limiting by key (client address, user). */
#ifndef AMTSBOTE_RATELIMIT_H
#define AMTSBOTE_RATELIMIT_H
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"

/* Take one action for `key` in bucket family `kind` ("login_addr", "register", ...) under
 * `rl`. Returns true if allowed; false with *retry_after_ms set when over the limit. With
 * consume=false it only checks (used before a failed-attempt is known). A limit with
 * per_second <= 0 is unlimited. Thread-safe. */
bool ratelimit_take(const char *kind, const char *key, const struct config_ratelimit *rl,
                    bool consume, int64_t *retry_after_ms);
/* Forget every bucket (tests, config reload). */
void ratelimit_reset(void);

#endif
