/* ids.h - Matrix identifier grammar (spec appendix "Identifier Grammar"). Pure functions. */
#ifndef AMTSBOTE_IDS_H
#define AMTSBOTE_IDS_H
#include <stdbool.h>
#include <stddef.h>

#define IDS_USER_ID_MAX 255 /* bytes, including the sigil and domain */

/* A localpart acceptable for a *new* account: 1+ chars of [a-z0-9._=\-/+]. */
bool ids_localpart_valid(const char *lp, size_t len);
/* A localpart acceptable in an existing (historical) user ID: printable ASCII 0x21-0x7E
 * except ':'. */
bool ids_localpart_historical_valid(const char *lp, size_t len);
/* server_name = hostname [ ":" port ]; hostname = IPv4 / "[" IPv6 "]" / DNS name (1-255 chars
 * of [A-Za-z0-9.-]); port 1-5 digits. As the spec's prose says, a hostname of only digits and
 * dots must be a dotted quad of 0-255, and an IPv6 literal must parse as an address. */
bool ids_server_name_valid(const char *s, size_t len);
/* Split "@localpart:server" into borrowed spans. Returns 0 on a well-formed user ID
 * (historical localpart grammar, valid server name, total <= 255 bytes), else -1. */
int ids_user_id_split(const char *uid, const char **lp, size_t *lp_len, const char **server,
                      size_t *server_len);
/* --- which identifiers are this server's (one answer for api/, server/ and federation/) ------ */

/* Start-up (server/main.c, before any thread): this server's name (borrowed; must outlive
 * the process). Until then nothing is local. */
void ids_set_local_server(const char *server_name);
/* This server's name ("" before ids_set_local_server). */
const char *ids_local_server(void);
/* The server part of a user, room, event or alias ID ("@a:b" -> "b": everything after the
 * first ':'), or NULL when there is none (no ':', or nothing after it; v12 room IDs). */
const char *ids_server_of(const char *id);
/* Is `server` (a server name) this server? */
bool ids_is_local_server(const char *server);
/* Is the user, room, event or alias ID `id` on this server? false for NULL. */
bool ids_is_local(const char *id);

/* Device IDs we mint: A-Z (as Synapse), `n` chars, NUL-terminated into out[n+1]. Both random
 * functions need sodium_init() to have succeeded. */
void ids_random_upper(char *out, size_t n);
/* Opaque ID of [A-Za-z0-9], NUL-terminated into out[n+1]. */
void ids_random_alnum(char *out, size_t n);

#endif
