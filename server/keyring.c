/* keyring.c - this server's own signing key. Written once at start-up before any thread is
 * started, read-only afterwards, so it needs no lock. */
#include "server/keyring.h"

#include <sodium.h>

static struct sign_key own;

void keyring_set_own(const struct sign_key *k)
{
    own = *k;
}

const struct sign_key *keyring_own(void)
{
    return &own;
}
