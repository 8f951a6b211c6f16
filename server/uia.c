/* uia.c - User-Interactive Authentication (Client-Server API s. "User-Interactive
 * Authentication API").
 *
 * A session is created on the first request (or when the client sends auth without a
 * session) and stored in the database, bound to the request's method and path, so the same
 * session cannot authorise a different operation and any server process can continue it.
 * Stages must be completed in the order of one of the offered flows; a stage submitted out of
 * order, or a failed stage, is answered with 401 carrying the flows, the completed stages and
 * an errcode. When a flow is complete the session is deleted and the caller performs the
 * operation. Sessions older than UIA_SESSION_TTL_MS are purged (and any registration token
 * use they reserved is released) whenever a new session is created.
 *
 * Stages implemented: m.login.dummy, m.login.password (m.id.user identifier or the legacy
 * "user" field), m.login.registration_token. */
#include "server/uia.h"

#include <string.h>

#include "server/account.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "storage/registration.h"
#include "storage/uia.h"

#define UIA_SESSION_TTL_MS (60 * 60 * 1000)
#define SESSION_ID_LEN 24

int uia_token_syntax_ok(const char *token)
{
    size_t n = strlen(token);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = token[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '~' || ch == '-'))
            return 0;
    }
    return 1;
}

static json_t *flows_json(const struct uia_flow *flows, size_t n_flows)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n_flows; i++) {
        json_t *st = json_array();
        for (size_t j = 0; j < flows[i].n; j++)
            json_array_append_new(st, json_string(flows[i].stages[j]));
        json_array_append_new(arr, json_pack("{s:o}", "stages", st));
    }
    return arr;
}

/* Answer 401 with the UIA state; errcode NULL for a plain "more stages needed". */
static void reply_401(struct http_req *req, const struct uia_flow *flows, size_t n_flows,
                      const char *session, json_t *completed, const char *errcode,
                      const char *error)
{
    json_t *body = json_pack("{s:o,s:{},s:s}", "flows", flows_json(flows, n_flows), "params",
                             "session", session);
    if (completed && json_array_size(completed))
        json_object_set(body, "completed", completed);
    if (errcode) {
        json_object_set_new(body, "errcode", json_string(errcode));
        json_object_set_new(body, "error", json_string(error));
    }
    http_reply_json(req, 401, body);
}

/* Is `done` (stage types in order) plus `next` (may be NULL) a prefix of some flow? Sets
 * *complete when it is a whole flow. */
static int follows_a_flow(const struct uia_flow *flows, size_t n_flows, json_t *done,
                          const char *next, int *complete)
{
    size_t nd = json_array_size(done);
    int ok = 0;
    *complete = 0;
    for (size_t f = 0; f < n_flows; f++) {
        size_t len = nd + (next ? 1 : 0);
        if (len > flows[f].n)
            continue;
        size_t i;
        for (i = 0; i < nd; i++)
            if (strcmp(flows[f].stages[i], json_string_value(json_array_get(done, i))) != 0)
                break;
        if (i < nd || (next && strcmp(flows[f].stages[nd], next) != 0))
            continue;
        ok = 1;
        if (len == flows[f].n)
            *complete = 1;
    }
    return ok;
}

/* Check the submitted stage. Returns 1 if it passed, 0 if it failed (errcode/error set),
 * -1 on an internal error. */
static int check_stage(struct http_req *req, struct dbc *c, const char *type, json_t *auth,
                       const char *user_id, const char *session, struct db_uia *s,
                       const char **errcode, const char **error)
{
    if (strcmp(type, "m.login.dummy") == 0)
        return 1;

    if (strcmp(type, "m.login.password") == 0) {
        const char *given = NULL, *password = json_string_value(json_object_get(auth, "password"));
        json_t *ident = json_object_get(auth, "identifier");
        if (ident) {
            const char *it = json_string_value(json_object_get(ident, "type"));
            if (it && strcmp(it, "m.id.user") == 0)
                given = json_string_value(json_object_get(ident, "user"));
        } else {
            given = json_string_value(json_object_get(auth, "user"));
        }
        *errcode = "M_FORBIDDEN";
        *error = "Invalid username or password";
        if (!user_id || !given || !password)
            return 0;
        char *resolved = NULL;
        enum account_rc rc =
            account_resolve_user(given, http_config(req)->server_name, &resolved);
        if (rc == ACCOUNT_ERR)
            return -1;
        int same = rc == ACCOUNT_OK && strcmp(resolved, user_id) == 0;
        free(resolved);
        if (!same)
            return 0;
        rc = account_verify_password(user_id, password);
        if (rc == ACCOUNT_ERR)
            return -1;
        return rc == ACCOUNT_OK;
    }

    if (strcmp(type, "m.login.registration_token") == 0) {
        const char *token = json_string_value(json_object_get(auth, "token"));
        *errcode = "M_FORBIDDEN";
        *error = "Invalid registration token";
        if (!token || !uia_token_syntax_ok(token))
            return 0;
        if (s->reg_token) /* already reserved in this session */
            return strcmp(s->reg_token, token) == 0;
        int rc = db_regtokens_reserve(c, token, clock_now_ms());
        if (rc <= 0)
            return rc;
        if (db_uia_set_reg_token(c, session, token) < 0)
            return -1;
        s->reg_token = strdup(token);
        return 1;
    }

    *errcode = "M_UNRECOGNIZED";
    *error = "Unrecognised authentication type";
    return 0;
}

int uia_run(struct http_req *req, const struct uia_flow *flows, size_t n_flows,
            const char *user_id, char **reg_token_out)
{
    json_t *auth = json_object_get(http_json(req), "auth");
    const char *session = NULL, *type = NULL;
    char fresh[SESSION_ID_LEN + 1];
    struct db_uia s = {0};
    int ret = -1;

    *reg_token_out = NULL;
    if (auth && !json_is_object(auth)) {
        http_reply_error(req, 400, "M_BAD_JSON", "'auth' must be an object");
        return 0;
    }
    if (auth) {
        json_t *js = json_object_get(auth, "session");
        json_t *jt = json_object_get(auth, "type");
        if ((js && !json_is_string(js)) || (jt && !json_is_string(jt))) {
            http_reply_error(req, 400, "M_BAD_JSON", "'auth.session' and 'auth.type' are strings");
            return 0;
        }
        session = json_string_value(js);
        type = json_string_value(jt);
    }

    struct dbc *c = db_get();
    if (!c)
        goto fail;

    if (!session) {
        db_uia_expire(c, clock_now_ms() - UIA_SESSION_TTL_MS);
        ids_random_alnum(fresh, SESSION_ID_LEN);
        if (db_uia_create(c, fresh, http_method(req), http_path(req), user_id, clock_now_ms()) != 0)
            goto fail;
        session = fresh;
    }
    int found = db_uia_get(c, session, &s);
    if (found < 0)
        goto fail;
    if (found == 0) {
        http_reply_error(req, 400, "M_UNKNOWN", "Unknown session");
        ret = 0;
        goto out;
    }
    if (strcmp(s.method, http_method(req)) != 0 || strcmp(s.uri, http_path(req)) != 0 ||
        (s.user_id && (!user_id || strcmp(s.user_id, user_id) != 0))) {
        http_reply_error(req, 403, "M_FORBIDDEN",
                         "Requested operation has changed during the UI authentication session");
        ret = 0;
        goto out;
    }

    int complete = 0;
    if (!type) {
        /* No stage submitted: report progress, or finish if a flow is already complete. */
        follows_a_flow(flows, n_flows, s.completed, NULL, &complete);
        if (!complete) {
            reply_401(req, flows, n_flows, session, s.completed, NULL, NULL);
            ret = 0;
            goto out;
        }
    } else if (!follows_a_flow(flows, n_flows, s.completed, type, &complete)) {
        int already = 0;
        size_t i;
        json_t *v;
        json_array_foreach(s.completed, i, v) already |= strcmp(json_string_value(v), type) == 0;
        follows_a_flow(flows, n_flows, s.completed, NULL, &complete);
        if (!(already && complete)) {
            reply_401(req, flows, n_flows, session, s.completed, "M_FORBIDDEN",
                      "This stage is not next in any offered flow");
            ret = 0;
            goto out;
        }
    } else {
        const char *errcode = NULL, *error = NULL;
        int ok = check_stage(req, c, type, auth, user_id, session, &s, &errcode, &error);
        if (ok < 0)
            goto fail;
        if (!ok) {
            if (strcmp(errcode, "M_UNRECOGNIZED") == 0) {
                http_reply_error(req, 400, errcode, "%s", error);
            } else {
                reply_401(req, flows, n_flows, session, s.completed, errcode, error);
            }
            ret = 0;
            goto out;
        }
        if (db_uia_add_stage(c, session, type) < 0)
            goto fail;
        json_array_append_new(s.completed, json_string(type));
        if (!complete) {
            reply_401(req, flows, n_flows, session, s.completed, NULL, NULL);
            ret = 0;
            goto out;
        }
    }

    /* A flow is complete: the session is spent. The registration token use it reserved is
     * handed to the caller, who completes it with the account. */
    if (db_uia_delete(c, session) < 0)
        goto fail;
    if (s.reg_token) {
        *reg_token_out = s.reg_token;
        s.reg_token = NULL;
    }
    ret = 1;
    goto out;
fail:
    http_reply_internal(req);
    ret = -1;
out:
    db_uia_clear(&s);
    db_put(c);
    return ret;
}
