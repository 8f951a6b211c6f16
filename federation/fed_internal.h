/* fed_internal.h - shared among federation/ files only: the configuration, the outbound
 * connection policy and server discovery. */
#ifndef AMTSBOTE_FED_INTERNAL_H
#define AMTSBOTE_FED_INTERNAL_H
#include <stdint.h>

#include "federation/httpc.h"
#include "server/config.h"

/* The configuration given to federation_init; valid while serving. */
extern const struct config *fed_cfg;

/* A request with what every federation connection uses: CA bundle, certificate checking and
 * the address filter (the rest zeroed). */
void fed_base_req(struct outbound_req *r);

/* Where to send requests for a server name. */
struct fed_target {
    char url_base[330];   /* "https://<Host header>", the path follows */
    char connect_to[300]; /* outbound_req.connect_to: "host:port" or "[v6]:port" to connect to
                             while the URL's host stays in Host, SNI and the certificate check */
};

/* Resolve server_name (Server-Server API "Resolving server names"), cached: well-known
 * answers for their max-age (24 h without one, 5 minutes to 48 h), failures for 5 minutes
 * doubled for each failure in a row up to an hour, SRV answers for their TTL (at least a
 * minute). Returns 0, or -1 with a reason in err. */
int fed_resolve(const char *server_name, struct fed_target *t, char *err, size_t errlen);

#endif
