/* userdir.c - POST /user_directory/search (Client-Server API "User directory"). Validates the
 * body and calls server/userdir.h. */
#include <string.h>

#include "api/api.h"
#include "server/userdir.h"

#define DEFAULT_LIMIT 10
#define MAX_LIMIT 50

void api_user_directory_search(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    json_t *body = http_json(req);
    const char *term = json_string_value(json_object_get(body, "search_term"));
    json_t *lim = json_object_get(body, "limit");
    if (!term) {
        http_reply_error(req, 400, "M_BAD_JSON", "'search_term' must be a string");
        return;
    }
    if (strlen(term) > USERDIR_MAX_TERM) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "'search_term' is too long");
        return;
    }
    if (lim && !json_is_integer(lim)) {
        http_reply_error(req, 400, "M_BAD_JSON", "'limit' must be an integer");
        return;
    }
    json_int_t limit = lim ? json_integer_value(lim) : DEFAULT_LIMIT;
    if (limit < 1)
        limit = 1;
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    if (!cfg->user_directory_enabled) {
        http_reply_json(req, 200, json_pack("{s:[],s:b}", "results", "limited", 0));
        return;
    }
    json_t *out = userdir_search(http_user(req)->user_id, term, (int)limit,
                                 cfg->user_directory_search_all_users);
    if (out)
        http_reply_json(req, 200, out);
    else
        http_reply_internal(req);
}
