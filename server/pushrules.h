/* pushrules.h - the /pushrules endpoints' logic over the stored rules (server/push.h has
 * the rules themselves). */
#ifndef AMTSBOTE_PUSHRULES_H
#define AMTSBOTE_PUSHRULES_H
#include <jansson.h>

/* What a /pushrules request does. */
enum pushrules_op {
    PUSHRULES_GET_ALL,    /* GET /pushrules/ */
    PUSHRULES_GET_GLOBAL, /* GET /pushrules/global/ */
    PUSHRULES_GET_RULE,   /* GET /pushrules/global/{kind}/{ruleId} */
    PUSHRULES_PUT_RULE,   /* PUT ... (before, after) */
    PUSHRULES_DELETE_RULE,
    PUSHRULES_GET_ENABLED,
    PUSHRULES_PUT_ENABLED,
    PUSHRULES_GET_ACTIONS,
    PUSHRULES_PUT_ACTIONS,
};

/* Carry out `op` for user_id (kind, rule_id, body, before, after as the op needs; others
 * NULL). Returns the response body (new), or NULL with *status, *errcode and why set
 * (status 500: internal). A change is stored and published as the user's m.push_rules
 * account data (the effective rule set), which wakes their syncs. */
json_t *pushrules_run(const char *user_id, enum pushrules_op op, const char *kind,
                      const char *rule_id, const json_t *body, const char *before,
                      const char *after, int *status, const char **errcode, char *why,
                      size_t n);

#endif
