/* pushrules.c - GET/PUT/DELETE /pushrules/... (Client-Server API "Push Rules: API"). Only the
 * "global" scope exists. The logic is in server/pushrules.c. */
#include <string.h>

#include "api/api.h"
#include "server/pushrules.h"

static void run(struct http_req *req, enum pushrules_op op, bool with_rule)
{
    int status = 500;
    const char *errcode = "M_UNKNOWN";
    char why[256] = "";
    const char *kind = with_rule ? http_param(req, 0) : NULL;
    const char *rule_id = with_rule ? http_param(req, 1) : NULL;
    if (rule_id && (!*rule_id || strlen(rule_id) > 255)) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid rule ID");
        return;
    }
    bool put =
        op == PUSHRULES_PUT_RULE || op == PUSHRULES_PUT_ENABLED || op == PUSHRULES_PUT_ACTIONS;
    json_t *out = pushrules_run(http_user(req)->user_id, op, kind, rule_id,
                                put ? http_json(req) : NULL, http_query(req, "before"),
                                http_query(req, "after"), &status, &errcode, why, sizeof why);
    if (out)
        http_reply_json(req, 200, out);
    else if (status == 500)
        http_reply_internal(req);
    else
        http_reply_error(req, status, errcode, "%s", why);
}

void api_pushrules_all(struct http_req *req)
{
    run(req, PUSHRULES_GET_ALL, false);
}

void api_pushrules_global(struct http_req *req)
{
    run(req, PUSHRULES_GET_GLOBAL, false);
}

void api_pushrule_get(struct http_req *req)
{
    run(req, PUSHRULES_GET_RULE, true);
}

void api_pushrule_put(struct http_req *req)
{
    run(req, PUSHRULES_PUT_RULE, true);
}

void api_pushrule_delete(struct http_req *req)
{
    run(req, PUSHRULES_DELETE_RULE, true);
}

void api_pushrule_enabled_get(struct http_req *req)
{
    run(req, PUSHRULES_GET_ENABLED, true);
}

void api_pushrule_enabled_put(struct http_req *req)
{
    run(req, PUSHRULES_PUT_ENABLED, true);
}

void api_pushrule_actions_get(struct http_req *req)
{
    run(req, PUSHRULES_GET_ACTIONS, true);
}

void api_pushrule_actions_put(struct http_req *req)
{
    run(req, PUSHRULES_PUT_ACTIONS, true);
}
