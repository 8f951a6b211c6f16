/* openid.c - GET /_matrix/federation/v1/openid/userinfo (Server-Server API "OpenID"): tells a
 * third party which local user an OpenID token belongs to. */
#include <stdlib.h>

#include "federation/federation.h"
#include "server/openid.h"

void federation_openid_userinfo(struct http_req *req)
{
    int err = 0;
    char *user = openid_user(http_query(req, "access_token"), &err);
    if (err)
        http_reply_internal(req);
    else if (!user)
        http_reply_error(req, 401, "M_UNKNOWN_TOKEN", "Access token unknown or expired");
    else
        http_reply_json(req, 200, json_pack("{s:s}", "sub", user));
    free(user);
}
