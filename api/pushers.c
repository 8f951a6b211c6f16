/* pushers.c - GET /pushers, POST /pushers/set (Client-Server API "Push Notifications") and
 * GET /notifications. The logic is in server/pusher.c. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/pusher.h"

void api_pushers_get(struct http_req *req)
{
    json_t *out = pusher_list(http_user(req)->user_id);
    if (out)
        http_reply_json(req, 200, out);
    else
        http_reply_internal(req);
}

void api_pushers_set(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    const char *errcode = NULL;
    bool internal = false;
    const char *why = pusher_set(u->user_id, u->device_id, http_json(req), &errcode, &internal);
    if (internal)
        http_reply_internal(req);
    else if (why)
        http_reply_error(req, strcmp(errcode, "M_LIMIT_EXCEEDED") == 0 ? 429 : 400, errcode, "%s",
                         why);
    else
        http_reply_json(req, 200, NULL);
}

void api_notifications(struct http_req *req)
{
    const char *lim = http_query(req, "limit"), *only = http_query(req, "only");
    char *end;
    long limit = lim ? strtol(lim, &end, 10) : 20;
    if (lim && (!*lim || *end || limit < 1)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "limit must be a positive number");
        return;
    }
    bool bad = false;
    json_t *out = pusher_notifications(http_user(req)->user_id, api_token_query(req, "from"),
                                       (int)(limit > 100 ? 100 : limit),
                                       only && strcmp(only, "highlight") == 0, &bad);
    if (out)
        http_reply_json(req, 200, out);
    else if (bad)
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid 'from' token");
    else
        http_reply_internal(req);
}
