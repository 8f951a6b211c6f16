/* thirdparty.c - the third-party network lookups (Client-Server API "Third-party Networks").
 * Bridges (application services) register the protocols; Amtsbote has none, so the protocol
 * list is empty, an unknown protocol is 404 M_NOT_FOUND and the reverse lookups find
 * nothing. */
#include "api/api.h"

void api_thirdparty_protocols(struct http_req *req)
{
    http_reply_json(req, 200, json_object());
}

/* /thirdparty/protocol/{p}, /thirdparty/location/{p}, /thirdparty/user/{p} */
void api_thirdparty_protocol(struct http_req *req)
{
    http_reply_error(req, 404, "M_NOT_FOUND", "No third-party protocol '%s' on this server",
                     http_param(req, 0));
}

/* /thirdparty/location?alias= and /thirdparty/user?userid=: no bridge knows anything */
void api_thirdparty_lookup(struct http_req *req)
{
    http_reply_json(req, 200, json_array());
}
