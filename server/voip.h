/* voip.h - TURN credentials for VoIP (Client-Server API "Voice over IP"). */
#ifndef AMTSBOTE_VOIP_H
#define AMTSBOTE_VOIP_H
#include <stdint.h>

/* Time-limited TURN credentials in the TURN REST API scheme that coturn's
 * `use-auth-secret`/`static-auth-secret` checks: username "<expiry in seconds>:<user_id>",
 * password base64(HMAC-SHA1(secret, username)) with padding. Sets *username and *password
 * (malloc'd; the caller frees) and returns 0, or -1 on allocation failure. */
int voip_turn_credentials(const char *secret, const char *user_id, int64_t now_ms,
                          int64_t lifetime_ms, char **username, char **password);

#endif
