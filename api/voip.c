/* voip.c - GET /voip/turnServer (Client-Server API "Voice over IP"). Without turn_uris and
 * turn_shared_secret in the configuration the answer is an empty object, which clients read
 * as "no TURN server" (and fall back to their own, if any). */
#include <stdlib.h>

#include "api/api.h"
#include "server/clock.h"
#include "server/voip.h"

void api_turn_server(struct http_req *req)
{
    const struct config *cfg = http_config(req);
    if (!cfg->n_turn_uris || !cfg->turn_shared_secret) {
        http_reply_json(req, 200, json_object());
        return;
    }
    char *user = NULL, *pass = NULL;
    if (voip_turn_credentials(cfg->turn_shared_secret, http_user(req)->user_id, clock_now_ms(),
                              cfg->turn_user_lifetime_ms, &user, &pass) < 0) {
        http_reply_internal(req);
        return;
    }
    json_t *uris = json_array();
    for (size_t i = 0; i < cfg->n_turn_uris; i++)
        json_array_append_new(uris, json_string(cfg->turn_uris[i]));
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:o,s:I}", "username", user, "password", pass, "uris", uris,
                              "ttl", (json_int_t)(cfg->turn_user_lifetime_ms / 1000)));
    free(user);
    free(pass);
}
