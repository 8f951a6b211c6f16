/* keyring.h - this server's own signing key, loaded once at start-up. (Remote servers' keys
 * join it here with federation.) */
#ifndef AMTSBOTE_KEYRING_H
#define AMTSBOTE_KEYRING_H
#include "server/sign.h"

/* Install the server's key (copied). Call before serving. */
void keyring_set_own(const struct sign_key *k);
/* The server's key; valid for the life of the process. */
const struct sign_key *keyring_own(void);

#endif
