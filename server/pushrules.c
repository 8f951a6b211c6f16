/* pushrules.c - the push rules API (Client-Server API "Push Rules: API", /pushrules/...):
 * reads answer from the user's effective rule set (push_merge of their stored changes over
 * the predefined rules); edits lock the user's store row, apply server/push.c's edit, store
 * it and publish the effective set as m.push_rules global account data in the same
 * transaction, under a notifier ticket, so the user's other devices see the change in
 * /sync. The room writer picks up stored rules with the room's members. */
#include "server/pushrules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/notify.h"
#include "server/push.h"
#include "storage/pushrules.h"
#include "storage/userdata.h"

static json_t *fail(int *status, const char **errcode, char *why, size_t n, int st,
                    const char *code, const char *msg)
{
    *status = st;
    *errcode = code;
    snprintf(why, n, "%s", msg);
    return NULL;
}

static bool is_kind(const char *k)
{
    static const char *const kinds[] = {"override", "content", "room", "sender", "underride"};
    for (size_t i = 0; k && i < 5; i++)
        if (strcmp(k, kinds[i]) == 0)
            return true;
    return false;
}

/* The effective rule set of a user from a store text (NULL: none). New, or NULL. */
static json_t *effective(const char *user_id, const char *store_text)
{
    json_t *store = store_text ? json_loads(store_text, 0, NULL) : NULL;
    json_t *set = push_merge(store, user_id);
    json_decref(store);
    return set;
}

static json_t *read_op(const char *user_id, enum pushrules_op op, const char *kind,
                       const char *rule_id, int *status, const char **errcode, char *why, size_t n)
{
    char *text = NULL;
    struct dbc *c = db_get();
    int rc = c ? db_push_store_get(c, user_id, &text) : -1;
    db_put(c);
    json_t *set = rc == 0 ? effective(user_id, text) : NULL;
    free(text);
    if (!set)
        return fail(status, errcode, why, n, 500, "M_UNKNOWN", "Internal server error");
    json_t *out = NULL;
    if (op == PUSHRULES_GET_ALL) {
        out = json_incref(set);
    } else if (op == PUSHRULES_GET_GLOBAL) {
        out = json_incref(json_object_get(set, "global"));
    } else {
        const json_t *rule = push_find_rule(set, kind, rule_id);
        if (!rule)
            fail(status, errcode, why, n, 404, "M_NOT_FOUND", "No such push rule");
        else if (op == PUSHRULES_GET_RULE)
            out = json_deep_copy(rule);
        else if (op == PUSHRULES_GET_ENABLED)
            out = json_pack("{s:O}", "enabled", json_object_get(rule, "enabled"));
        else
            out = json_pack("{s:O}", "actions", json_object_get(rule, "actions"));
    }
    json_decref(set);
    return out;
}

json_t *pushrules_run(const char *user_id, enum pushrules_op op, const char *kind,
                      const char *rule_id, const json_t *body, const char *before,
                      const char *after, int *status, const char **errcode, char *why, size_t n)
{
    if (op != PUSHRULES_GET_ALL && op != PUSHRULES_GET_GLOBAL && !is_kind(kind))
        return fail(status, errcode, why, n, 400, "M_INVALID_PARAM", "Unknown push rule kind");
    if (op == PUSHRULES_GET_ALL || op == PUSHRULES_GET_GLOBAL || op == PUSHRULES_GET_RULE ||
        op == PUSHRULES_GET_ENABLED || op == PUSHRULES_GET_ACTIONS)
        return read_op(user_id, op, kind, rule_id, status, errcode, why, n);

    const char *err = NULL;
    json_t *enabled = json_object_get(body, "enabled");
    if (op == PUSHRULES_PUT_ENABLED && !json_is_boolean(enabled))
        return fail(status, errcode, why, n, 400, "M_BAD_JSON", "'enabled' must be a boolean");
    if (op == PUSHRULES_PUT_ACTIONS && !json_object_get(body, "actions"))
        return fail(status, errcode, why, n, 400, "M_BAD_JSON", "'actions' is required");

    char *text = NULL, *stored = NULL, *published = NULL;
    json_t *store = NULL, *set = NULL;
    struct notify_ticket *t = NULL;
    struct dbc *c = db_get();
    if (!c || db_begin(c) < 0 || db_push_store_lock(c, user_id, &text) < 0)
        goto internal;
    store = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(store)) {
        json_decref(store);
        store = push_store_new();
    }
    enum push_status ps = PUSH_NOMEM;
    if (op == PUSHRULES_PUT_RULE)
        ps = push_put_rule(store, kind, rule_id, body, before, after, &err);
    else if (op == PUSHRULES_DELETE_RULE)
        ps = push_delete_rule(store, kind, rule_id);
    else if (op == PUSHRULES_PUT_ENABLED)
        ps = push_set_enabled(store, kind, rule_id, json_is_true(enabled));
    else
        ps = push_set_actions(store, kind, rule_id, json_object_get(body, "actions"), &err);
    if (ps != PUSH_OK) {
        const char *code = push_status_errcode(ps, status);
        *errcode = code;
        snprintf(why, n, "%s",
                 err                           ? err
                 : ps == PUSH_NOT_FOUND        ? "No such push rule"
                 : ps == PUSH_DEFAULT_RULE     ? "Predefined rules cannot be deleted"
                 : ps == PUSH_ANCHOR_NOT_FOUND ? "'before' or 'after' names no rule of yours"
                                               : "Invalid push rule");
        goto out;
    }
    stored = json_dumps(store, JSON_COMPACT);
    _Static_assert(PUSH_STORE_MAX == 256 * 1024, "the message below says 256 KiB");
    if (stored && strlen(stored) > PUSH_STORE_MAX && op != PUSHRULES_DELETE_RULE) {
        /* the room writer reads the store with every event in the user's rooms */
        fail(status, errcode, why, n, 400, "M_TOO_LARGE",
             "Your push rules would take more than 256 KiB");
        goto out;
    }
    set = push_merge(store, user_id);
    published = set ? json_dumps(set, JSON_COMPACT) : NULL; /* {"global": ...}, as the spec */
    if (!stored || !published || db_push_store_put(c, user_id, stored) < 0)
        goto internal;
    t = notify_begin();
    int64_t pos = 0;
    if (db_account_data_put(c, user_id, "", "m.push_rules", published, &pos) < 0 ||
        db_commit(c) < 0)
        goto internal;
    notify_touch(t, pos, NULL, user_id, NOTIFY_ACCOUNT);
    notify_end(t, true);
    t = NULL;
    db_put(c);
    c = NULL;
    json_decref(store);
    json_decref(set);
    free(text);
    free(stored);
    free(published);
    return json_object();
internal:
    fail(status, errcode, why, n, 500, "M_UNKNOWN", "Internal server error");
out:
    if (t)
        notify_end(t, false);
    if (c)
        db_rollback(c);
    db_put(c);
    json_decref(store);
    json_decref(set);
    free(text);
    free(stored);
    free(published);
    return NULL;
}
