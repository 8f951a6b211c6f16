/* openid.c - POST /user/{userId}/openid/request_token (Client-Server API "OpenID"): a token a
 * widget or integration hands to its server, which checks it with ours through
 * /_matrix/federation/v1/openid/userinfo (federation/openid.c). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/openid.h"

void api_openid_request_token(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    if (strcmp(http_param(req, 0), u->user_id) != 0) {
        http_reply_error(req, 403, "M_FORBIDDEN", "Cannot request OpenID tokens for other users");
        return;
    }
    char *token = openid_issue(u->user_id);
    if (!token) {
        http_reply_internal(req);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:s,s:i}", "access_token", token, "token_type", "Bearer",
                              "matrix_server_name", http_config(req)->server_name, "expires_in",
                              OPENID_LIFETIME_MS / 1000));
    free(token);
}
