/* fed_internal.h - shared among federation/ files only: the configuration, the outbound
 * connection policy and server discovery. */
#ifndef AMTSBOTE_FED_INTERNAL_H
#define AMTSBOTE_FED_INTERNAL_H
#include <stdint.h>

#include "federation/httpc.h"
#include "server/config.h"

/* The configuration given to federation_init; valid while serving. */
extern const struct config *fed_cfg;

/* Outbound options every federation connection uses: CA bundle, certificate checking and the
 * address policy (no headers, no connect-to). */
void fed_base_opts(struct httpc_opts *o);

/* Where to send requests for a server name. */
struct fed_target {
    char url_base[330];   /* "https://<Host header>", the path follows */
    char connect_to[600]; /* curl CONNECT_TO entry, "" when the URL's host and port are it */
};

/* Resolve server_name (Server-Server API "Resolving server names"), cached: well-known
 * answers for their max-age (24 h without one, 5 minutes to 48 h), failures for 5 minutes
 * doubled for each failure in a row up to an hour, SRV answers for their TTL (at least a
 * minute). Returns 0, or -1 with a reason in err. */
int fed_resolve(const char *server_name, struct fed_target *t, char *err, size_t errlen);

#endif
