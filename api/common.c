/* common.c - small helpers every Client-Server handler uses: typed access to optional body
 * fields with the spec's M_BAD_JSON on a wrong type, token query parameters, the rate-limit
 * reply and the message rate limit. */
#include <inttypes.h>

#include "api/api.h"
#include "server/ratelimit.h"

const char *api_opt_string(struct http_req *req, json_t *obj, const char *key, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        if (!*bad)
            http_reply_error(req, 400, "M_BAD_JSON", "'%s' must be a string", key);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

const char *api_token_query(struct http_req *req, const char *name)
{
    const char *v = http_query(req, name);
    return v && *v ? v : NULL;
}

bool api_opt_bool(struct http_req *req, json_t *obj, const char *key, bool dflt, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_boolean(v)) {
        if (!*bad)
            http_reply_error(req, 400, "M_BAD_JSON", "'%s' must be a boolean", key);
        *bad = true;
        return dflt;
    }
    return json_is_true(v);
}

void api_reply_limited(struct http_req *req, int64_t retry_after_ms)
{
    json_t *extra = json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_after_ms);
    http_reply_error_extra(req, 429, "M_LIMIT_EXCEEDED", extra, "Too many requests");
}

bool api_message_allowed(struct http_req *req)
{
    int64_t retry;
    const struct http_user *u = http_user(req);
    if (!u || ratelimit_take("message", u->user_id, &http_config(req)->rc_message, true, &retry))
        return true;
    api_reply_limited(req, retry);
    return false;
}
