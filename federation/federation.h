/* federation.h - the Server-Server API: route table and outbound helpers. */
#ifndef AMTSBOTE_FEDERATION_H
#define AMTSBOTE_FEDERATION_H
#include "server/http.h"

extern const struct http_route federation_routes[];

/* GET /_matrix/federation/v1/openid/userinfo (federation/openid.c). */
void federation_openid_userinfo(struct http_req *req);

/* amtsbote register-user: create an account through the shared-secret admin API of a running
 * server. argv excludes the subcommand. Returns the process exit code. */
int federation_cmd_register_user(int argc, char **argv);

#endif
