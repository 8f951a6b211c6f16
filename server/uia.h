/* uia.h - User-Interactive Authentication (Client-Server API s. "User-Interactive
 * Authentication API") for /register, /account/password, /account/deactivate and device
 * deletion. */
#ifndef AMTSBOTE_UIA_H
#define AMTSBOTE_UIA_H
#include <stddef.h>

#include "server/http.h"

#define UIA_MAX_STAGES 4

/* One flow: the stage types that together complete it, in order. */
struct uia_flow {
    size_t n;
    const char *stages[UIA_MAX_STAGES];
};

/* Run UIA for the current request (its JSON body's "auth"). `user_id` is the account whose
 * password m.login.password checks (NULL while registering). Returns 1 when a flow is
 * complete (the session is consumed; *reg_token_out is a malloc'd registration token used in
 * it, or NULL), 0 when the request has already been answered (401 with the flows, or an
 * error), -1 on an internal error (answered too). */
int uia_run(struct http_req *req, const struct uia_flow *flows, size_t n_flows,
            const char *user_id, char **reg_token_out);

/* Check a registration token's syntax (1-64 chars of [A-Za-z0-9._~-]). */
int uia_token_syntax_ok(const char *token);

#endif
