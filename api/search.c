/* search.c - POST /search (Client-Server API "Server Side Search"); the rules are in
 * server/search.c. */
#include "api/api.h"
#include "server/search.h"

void api_search(struct http_req *req)
{
    int status;
    const char *errcode;
    char why[256] = "";
    json_t *out = search_run(http_user(req)->user_id, http_json(req),
                             api_token_query(req, "next_batch"), &status, &errcode, why,
                             sizeof why);
    if (out)
        http_reply_json(req, 200, out);
    else if (status == 500)
        http_reply_internal(req);
    else
        http_reply_error(req, status, errcode, "%s", why);
}
