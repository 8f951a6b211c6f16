/* query.c - GET /_matrix/federation/v1/query/profile (Server-Server API "Querying for
 * information"): a local user's public profile for another server, X-Matrix authenticated by
 * its route row; and the generic /query/{queryType} for the types this server has no
 * handler for. */
#include <string.h>

#include "federation/federation.h"
#include "server/account.h"
#include "server/ids.h"

void federation_query_profile(struct http_req *req)
{
    const char *uid = http_query(req, "user_id"), *field = http_query(req, "field");
    const char *lp, *server;
    size_t lp_len, server_len;
    json_t *profile = NULL;
    const char *me = http_config(req)->server_name;

    if (!uid) {
        http_reply_error(req, 400, "M_MISSING_PARAM", "user_id is required");
        return;
    }
    if (ids_user_id_split(uid, &lp, &lp_len, &server, &server_len) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
        return;
    }
    if (server_len != strlen(me) || memcmp(server, me, server_len) != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Not a user of this server");
        return;
    }
    enum account_rc rc = account_profile(uid, &profile);
    if (rc == ACCOUNT_NOT_FOUND) {
        http_reply_error(req, 404, "M_NOT_FOUND", "User does not exist");
        return;
    }
    if (rc != ACCOUNT_OK) {
        http_reply_internal(req);
        return;
    }
    if (field) {
        json_t *v = json_object_get(profile, field);
        json_t *one = v ? json_pack("{s:O}", field, v) : NULL;
        json_decref(profile);
        if (!one)
            http_reply_error(req, 404, "M_NOT_FOUND", "The user has no %s", field);
        else
            http_reply_json(req, 200, one);
        return;
    }
    http_reply_json(req, 200, profile);
}

/* GET /_matrix/federation/v1/query/{queryType}: the generic form. The known types (profile,
 * directory) have rows of their own ahead of this one in the route table; any other type has
 * no handler here: 404 M_NOT_FOUND, as Synapse answers. */
void federation_query_other(struct http_req *req)
{
    http_reply_error(req, 404, "M_NOT_FOUND", "No handler for this query type");
}
