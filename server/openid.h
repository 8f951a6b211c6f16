/* openid.h - OpenID tokens that prove a user's identity to a third party (Client-Server API
 * "OpenID", Server-Server API "OpenID"). */
#ifndef AMTSBOTE_OPENID_H
#define AMTSBOTE_OPENID_H
#include <stdint.h>

#define OPENID_LIFETIME_MS 3600000

/* Issue a token for user_id, valid OPENID_LIFETIME_MS. Returns it (malloc'd), or NULL. */
char *openid_issue(const char *user_id);
/* The user a valid token belongs to (malloc'd), or NULL when unknown/expired. *err is set to
 * 1 on an internal error. */
char *openid_user(const char *token, int *err);

#endif
