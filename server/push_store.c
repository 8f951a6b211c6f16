/* push_store.c - a user's stored push rules and the /pushrules edits on them
 * (Client-Server API v1.19 "Push Rules: API"): validation of user-defined rules, placement
 * with before/after, enabling and actions for user-defined and predefined rules, and the
 * merge of a store with the predefined rules into the rule set GET /pushrules/ answers and
 * push_eval (push.c) evaluates. Pure: no I/O, no database, no global state.
 *
 * Invariants:
 *  1. Every edit leaves the store unchanged when it fails.
 *  2. In the stored form (push.h) user rules precede the predefined rules of their kind, but
 *     .m.rule.master stays first of all, as "Predefined Rules" requires.
 *  3. Predefined rules cannot be deleted or replaced; only their enabled state and actions
 *     are recorded (under "defaults"). */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "server/push.h"
#include "server/push_internal.h"

/* Columns: HTTP status, errcode; indexed by enum push_status. */
static const struct {
    int http;
    const char *errcode;
} statuses[] = {
    [PUSH_OK] = {200, NULL},
    [PUSH_NOT_FOUND] = {404, "M_NOT_FOUND"},
    [PUSH_ANCHOR_NOT_FOUND] = {400, "M_UNKNOWN"},
    [PUSH_INVALID_PARAM] = {400, "M_INVALID_PARAM"},
    [PUSH_BAD_JSON] = {400, "M_BAD_JSON"},
    [PUSH_DEFAULT_RULE] = {400, "M_INVALID_PARAM"},
    [PUSH_NOMEM] = {500, "M_UNKNOWN"},
    [PUSH_TOO_LARGE] = {400, "M_TOO_LARGE"},
};

const char *push_status_errcode(enum push_status s, int *http_status)
{
    if ((size_t)s >= sizeof statuses / sizeof statuses[0])
        s = PUSH_NOMEM;
    if (http_status)
        *http_status = statuses[s].http;
    return statuses[s].errcode;
}

json_t *push_store_new(void)
{
    return json_pack("{s:[],s:[],s:[],s:[],s:[],s:{}}", "override", "content", "room", "sender",
                     "underride", "defaults");
}

static bool is_legacy_action(const json_t *a)
{
    const char *s = json_string_value(a);
    return s && (strcmp(s, "dont_notify") == 0 || strcmp(s, "coalesce") == 0);
}

/* A copy of `actions` (an array) without the historical actions. New reference or NULL. */
static json_t *actions_copy(const json_t *actions)
{
    json_t *copy = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        if (!is_legacy_action(a) && json_array_append_new(copy, json_deep_copy(a)) != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}

static bool actions_valid(const json_t *actions, const char **err)
{
    size_t i;
    json_t *a;
    if (!json_is_array(actions)) {
        *err = "actions must be an array";
        return false;
    }
    json_array_foreach(actions, i, a)
    {
        if (!json_is_string(a) && !json_is_object(a)) {
            *err = "each action must be a string or an object";
            return false;
        }
    }
    return true;
}

/* The parameters each known condition kind requires (push_condition.yaml). Columns: kind,
 * requires a string "key", a string "pattern", a simple "value", a string "is". */
static const struct {
    const char *kind;
    bool key, pattern, value, is;
} condition_params[] = {
    {"event_match", true, true, false, false},
    {"event_property_is", true, false, true, false},
    {"event_property_contains", true, false, true, false},
    {"contains_display_name", false, false, false, false},
    {"room_member_count", false, false, false, true},
    {"sender_notification_permission", true, false, false, false},
};

static bool conditions_valid(const json_t *conditions, const char **err)
{
    size_t i;
    json_t *c;
    if (!json_is_array(conditions)) {
        *err = "conditions must be an array";
        return false;
    }
    json_array_foreach(conditions, i, c)
    {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        if (!json_is_object(c) || !kind) {
            *err = "each condition must be an object with a string kind";
            return false;
        }
        for (size_t k = 0; k < sizeof condition_params / sizeof condition_params[0]; k++) {
            if (strcmp(kind, condition_params[k].kind) != 0)
                continue;
            if ((condition_params[k].key && !json_is_string(json_object_get(c, "key"))) ||
                (condition_params[k].pattern && !json_is_string(json_object_get(c, "pattern"))) ||
                (condition_params[k].value && !push_simple_value(json_object_get(c, "value"))) ||
                (condition_params[k].is && !json_is_string(json_object_get(c, "is")))) {
                *err = "a condition lacks a parameter its kind requires";
                return false;
            }
        }
        /* unknown kinds are allowed: they never match */
    }
    return true;
}

/* The index of the user rule `rule_id` in `list`, or -1. */
static ssize_t find_index(const json_t *list, const char *rule_id)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "rule_id"));
        if (id && strcmp(id, rule_id) == 0)
            return (ssize_t)i;
    }
    return -1;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* The bounds of push.h on a PUT body already checked for shape. */
static enum push_status size_check(int kind, const json_t *body, const char **err)
{
    const json_t *conditions = json_object_get(body, "conditions");
    const json_t *pattern = kind == K_CONTENT ? json_object_get(body, "pattern") : NULL;
    if ((kind == K_OVERRIDE || kind == K_UNDERRIDE) &&
        json_array_size(conditions) > PUSH_CONDITIONS_MAX) {
        *err = "a push rule may have at most " STR(PUSH_CONDITIONS_MAX) " conditions";
        return PUSH_TOO_LARGE;
    }
    size_t i;
    json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const json_t *p = json_object_get(c, "pattern");
        if (json_is_string(p) && json_string_length(p) > PUSH_PATTERN_MAX)
            pattern = p;
    }
    if (json_is_string(pattern) && json_string_length(pattern) > PUSH_PATTERN_MAX) {
        *err = "a push rule pattern may be at most " STR(PUSH_PATTERN_MAX) " bytes long";
        return PUSH_TOO_LARGE;
    }
    return PUSH_OK;
}

/* The user-defined rules in `store`, all kinds together. */
static size_t user_rule_count(const json_t *store)
{
    size_t n = 0;
    for (int k = 0; k < K_COUNT; k++)
        n += json_array_size(json_object_get(store, push_kinds[k]));
    return n;
}

static enum push_status rule_id_check(int kind, const char *rule_id, const char **err)
{
    if (kind < 0) {
        *err = "unknown push rule kind";
        return PUSH_INVALID_PARAM;
    }
    if (!rule_id || !*rule_id || rule_id[0] == '.' || strpbrk(rule_id, "/\\")) {
        *err = "rule_id may not be empty, start with '.' or hold '/' or '\\'";
        return PUSH_INVALID_PARAM;
    }
    if ((kind == K_ROOM && rule_id[0] != '!') || (kind == K_SENDER && rule_id[0] != '@')) {
        *err = "a room rule's rule_id is a room ID, a sender rule's a user ID";
        return PUSH_INVALID_PARAM;
    }
    if (!push_utf8_valid(rule_id)) {
        *err = "rule_id is not valid UTF-8";
        return PUSH_INVALID_PARAM;
    }
    return PUSH_OK;
}

/* The stored rule for a PUT body already checked. New reference or NULL. */
static json_t *stored_rule(int kind, const char *rule_id, bool enabled, const json_t *body)
{
    json_t *r = json_pack("{s:s,s:b,s:o*}", "rule_id", rule_id, "enabled", enabled, "actions",
                          actions_copy(json_object_get(body, "actions")));
    const json_t *conditions = json_object_get(body, "conditions");
    int rc = 0;
    if (r && (kind == K_OVERRIDE || kind == K_UNDERRIDE))
        rc = json_object_set_new(r, "conditions",
                                 conditions ? json_deep_copy(conditions) : json_array());
    else if (r && kind == K_CONTENT)
        rc = json_object_set_new(r, "pattern", json_deep_copy(json_object_get(body, "pattern")));
    if (rc != 0 || !json_object_get(r, "actions")) {
        json_decref(r);
        return NULL;
    }
    return r;
}

enum push_status push_put_rule(json_t *store, const char *kind, const char *rule_id,
                               const json_t *body, const char *before, const char *after,
                               const char **err)
{
    const char *unused;
    if (!err)
        err = &unused;
    *err = NULL;
    int k = push_kind_index(kind);
    enum push_status st = rule_id_check(k, rule_id, err);
    if (st != PUSH_OK)
        return st;
    if (!json_is_object(body)) {
        *err = "the rule must be an object";
        return PUSH_BAD_JSON;
    }
    if (!actions_valid(json_object_get(body, "actions"), err))
        return PUSH_BAD_JSON;
    if ((k == K_OVERRIDE || k == K_UNDERRIDE) && json_object_get(body, "conditions") &&
        !conditions_valid(json_object_get(body, "conditions"), err))
        return PUSH_BAD_JSON;
    if (k == K_CONTENT && !json_is_string(json_object_get(body, "pattern"))) {
        *err = "a content rule needs a string pattern";
        return PUSH_BAD_JSON;
    }

    if ((st = size_check(k, body, err)) != PUSH_OK)
        return st;

    json_t *list = json_object_get(store, kind); /* borrowed */
    if (!json_is_array(list))
        list = NULL; /* no rules of this kind yet (or a malformed entry, replaced below) */
    ssize_t old = list ? find_index(list, rule_id) : -1;
    if (old < 0 && user_rule_count(store) >= PUSH_RULES_MAX) {
        *err = "too many push rules (at most " STR(PUSH_RULES_MAX) ")";
        return PUSH_TOO_LARGE;
    }
    const char *anchor = before ? before : after;
    ssize_t at = anchor && list ? find_index(list, anchor) : -1;
    if (anchor && (at < 0 || at == old)) {
        *err = "before/after names no other user-defined rule of this kind";
        return PUSH_ANCHOR_NOT_FOUND;
    }
    bool enabled =
        old < 0 || !json_is_false(json_object_get(json_array_get(list, (size_t)old), "enabled"));
    json_t *rule = stored_rule(k, rule_id, enabled, body);
    if (!rule)
        return PUSH_NOMEM;
    if (!list) {
        if (json_object_set_new(store, kind, json_pack("[o]", rule)) != 0) /* steals rule */
            return PUSH_NOMEM;
        return PUSH_OK;
    }
    /* Insert first, then drop the old version, so that failure leaves the list as it was. */
    size_t pos = before ? (size_t)at : after ? (size_t)at + 1 : old >= 0 ? (size_t)old : 0;
    if (json_array_insert_new(list, pos, rule) != 0) /* steals rule, even on failure */
        return PUSH_NOMEM;
    if (old >= 0)
        json_array_remove(list, (size_t)old < pos ? (size_t)old : (size_t)old + 1);
    return PUSH_OK;
}

enum push_status push_delete_rule(json_t *store, const char *kind, const char *rule_id)
{
    int k = push_kind_index(kind);
    if (k < 0 || !rule_id)
        return PUSH_INVALID_PARAM;
    json_t *list = json_object_get(store, kind); /* borrowed */
    ssize_t i = find_index(list, rule_id);
    if (i >= 0 && rule_id[0] != '.') {
        json_array_remove(list, (size_t)i);
        return PUSH_OK;
    }
    return push_is_predefined(k, rule_id) ? PUSH_DEFAULT_RULE : PUSH_NOT_FOUND;
}

/* Set `field` to `value` (stolen) on the user rule or the store's record of the predefined
 * rule `rule_id` of `kind`, making the records' objects as needed. */
static enum push_status set_field(json_t *store, const char *kind, const char *rule_id,
                                  const char *field, json_t *value)
{
    int k = push_kind_index(kind);
    enum push_status st = PUSH_OK;
    if (!value)
        return PUSH_NOMEM;
    if (k < 0 || !rule_id) {
        st = PUSH_INVALID_PARAM;
        goto out;
    }
    json_t *list = json_object_get(store, kind); /* borrowed */
    ssize_t i = rule_id[0] == '.' ? -1 : find_index(list, rule_id);
    if (i >= 0)
        return json_object_set_new(json_array_get(list, (size_t)i), field, value) == 0
                   ? PUSH_OK
                   : PUSH_NOMEM; /* set_new steals value, even on failure */
    if (!push_is_predefined(k, rule_id)) {
        st = PUSH_NOT_FOUND;
        goto out;
    }
    /* store.defaults[kind][rule_id][field] = value; new objects are linked in last, so that a
     * failure leaves the store as it was */
    json_t *chain[3] = {json_object_get(store, "defaults"), NULL, NULL};
    chain[1] = json_object_get(chain[0], kind);
    chain[2] = json_object_get(chain[1], rule_id);
    const char *names[3] = {"defaults", kind, rule_id};
    json_t *child = value;
    const char *child_name = field;
    for (int level = 2; level >= -1; level--) {
        json_t *parent = level >= 0 ? chain[level] : store;
        bool fresh = level >= 0 && !json_is_object(parent);
        if (fresh && !(parent = json_object())) {
            json_decref(child);
            return PUSH_NOMEM;
        }
        if (json_object_set_new(parent, child_name, child) != 0) { /* steals child */
            if (fresh)
                json_decref(parent);
            return PUSH_NOMEM;
        }
        if (!fresh)
            return PUSH_OK;
        child = parent;
        child_name = names[level];
    }
    return PUSH_OK; /* not reached: the store is never fresh */
out:
    json_decref(value);
    return st;
}

enum push_status push_set_enabled(json_t *store, const char *kind, const char *rule_id,
                                  bool enabled)
{
    return set_field(store, kind, rule_id, "enabled", json_boolean(enabled));
}

enum push_status push_set_actions(json_t *store, const char *kind, const char *rule_id,
                                  const json_t *actions, const char **err)
{
    const char *unused;
    if (!err)
        err = &unused;
    *err = NULL;
    if (!actions_valid(actions, err))
        return PUSH_BAD_JSON;
    return set_field(store, kind, rule_id, "actions", actions_copy(actions));
}

/* The rule the API shows for a stored user rule of `kind`; new reference, or NULL if the
 * stored entry is malformed (it is then left out) or on allocation failure. */
static json_t *shown_rule(int kind, const json_t *r)
{
    const json_t *id = json_object_get(r, "rule_id"), *actions = json_object_get(r, "actions");
    const json_t *conditions = json_object_get(r, "conditions");
    const json_t *pattern = json_object_get(r, "pattern");
    if (!json_is_string(id) || !json_is_array(actions) ||
        (kind == K_CONTENT && !json_is_string(pattern)))
        return NULL;
    json_t *shown =
        json_pack("{s:o*,s:b,s:b,s:o*}", "rule_id", json_deep_copy(id), "default", 0, "enabled",
                  !json_is_false(json_object_get(r, "enabled")), "actions", actions_copy(actions));
    int rc = 0;
    if (shown && (kind == K_OVERRIDE || kind == K_UNDERRIDE))
        rc = json_object_set_new(shown, "conditions",
                                 json_is_array(conditions) ? json_deep_copy(conditions)
                                                           : json_array());
    else if (shown && kind == K_CONTENT)
        rc = json_object_set_new(shown, "pattern", json_deep_copy(pattern));
    /* nothing shared with the store: an "o*" that got NULL (no memory) left its key out */
    if (rc != 0 || !json_object_get(shown, "actions") || !json_object_get(shown, "rule_id")) {
        json_decref(shown);
        return NULL;
    }
    return shown;
}

json_t *push_merge(const json_t *store, const char *user_id)
{
    json_t *ruleset = push_default_ruleset(user_id);
    json_t *global = json_object_get(ruleset, "global"); /* borrowed */
    const json_t *changes = json_object_get(store, "defaults");
    for (int k = 0; ruleset && k < K_COUNT; k++) {
        json_t *defaults = json_object_get(global, push_kinds[k]); /* borrowed */
        json_t *merged = json_array();
        size_t i, first_default = 0;
        json_t *r;
        json_array_foreach(defaults, i, r)
        {
            const char *id = json_string_value(json_object_get(r, "rule_id"));
            const json_t *change = json_object_get(json_object_get(changes, push_kinds[k]), id);
            const json_t *enabled = json_object_get(change, "enabled");
            const json_t *actions = json_object_get(change, "actions");
            if (json_is_boolean(enabled))
                json_object_set(r, "enabled", (json_t *)enabled);
            if (json_is_array(actions))
                json_object_set_new(r, "actions", actions_copy(actions));
        }
        /* .m.rule.master precedes the user's rules; the other predefined ones follow them */
        r = json_array_get(defaults, 0);
        if (k == K_OVERRIDE &&
            strcmp(json_string_value(json_object_get(r, "rule_id")), ".m.rule.master") == 0) {
            json_array_append(merged, r);
            first_default = 1;
        }
        json_array_foreach(json_object_get(store, push_kinds[k]), i, r)
        {
            json_t *shown = shown_rule(k, r);
            if (shown)
                json_array_append_new(merged, shown);
        }
        for (i = first_default; i < json_array_size(defaults); i++)
            json_array_append(merged, json_array_get(defaults, i));
        if (json_object_set_new(global, push_kinds[k], merged) != 0) { /* steals merged */
            json_decref(ruleset);
            return NULL;
        }
    }
    return ruleset;
}

const json_t *push_find_rule(const json_t *ruleset, const char *kind, const char *rule_id)
{
    if (push_kind_index(kind) < 0 || !rule_id)
        return NULL;
    const json_t *list = json_object_get(json_object_get(ruleset, "global"), kind);
    ssize_t i = find_index(list, rule_id);
    return i >= 0 ? json_array_get(list, (size_t)i) : NULL;
}
