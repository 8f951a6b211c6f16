/* push.h - push rules (Client-Server API v1.19 "Push Rules", "Predefined Rules" and
 * "Push Rules: API"): the predefined rule set, the evaluation of a rule set against an event,
 * and the pure JSON edits behind /pushrules (a user's stored rules, merged with the
 * predefined ones into the rule set GET /pushrules/ answers). No I/O, no database. */
#ifndef AMTSBOTE_PUSH_H
#define AMTSBOTE_PUSH_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* --- the predefined rules and evaluation ------------------------------------------------ */

/* The predefined rules of v1.19 for user_id, in the spec's order, shaped as GET /pushrules/
 * answers: {"global": {"override": [10 rules], "content": [], "room": [], "sender": [],
 * "underride": [5 rules]}}, each rule with rule_id, "default": true, enabled, conditions and
 * actions. (v1.17 removed the legacy body-mention rules .m.rule.contains_display_name,
 * .m.rule.roomnotif and .m.rule.contains_user_name; v1.19 lists none of them.) New
 * reference; NULL if user_id is not "@localpart:server" or on allocation failure. It parses
 * some thirty small JSON texts: evaluate many events against one result, not one each. */
json_t *push_default_ruleset(const char *user_id);

/* The same predefined rules with a stand-in where the user's ID goes, which push_eval reads
 * as ctx->user_id: one rule set for every user who changed nothing, built once. Borrowed,
 * never changed, safe to read from any thread (take a reference to keep it: jansson's
 * reference counts are atomic). NULL only on allocation failure at the first call. */
const json_t *push_predefined(void);

/* Bounds on what one user's rules may cost (issue 17: a 200,000-byte glob made every message
 * in the user's rooms cost seconds in the room's writer). The edits refuse a pattern longer
 * than PUSH_PATTERN_MAX bytes, a rule with more than PUSH_CONDITIONS_MAX conditions and more
 * than PUSH_RULES_MAX user-defined rules (all kinds together) or PUSH_STORE_MAX bytes of
 * them; push_eval stops matching globs
 * for a user once they cost PUSH_GLOB_BUDGET units (a unit: one character of a value against
 * 64 pattern tokens), and a glob it could not finish does not match. The budget is some 30
 * scans of a 64 KiB body with short patterns (about 5 ms): users within the limits do not
 * reach it with ordinary messages. */
#define PUSH_PATTERN_MAX 512
#define PUSH_CONDITIONS_MAX 16
#define PUSH_RULES_MAX 500
#define PUSH_STORE_MAX 262144 /* bytes of a user's stored rules (pushrules.c refuses more) */
#define PUSH_GLOB_BUDGET 2000000

/* What the evaluator needs besides the event and the rule set. All borrowed. */
struct push_ctx {
    const char *user_id;        /* whose rules these are; their own events never notify */
    const char *display_name;   /* their display name in the room; NULL or "" never matches */
    int64_t member_count;       /* the room's joined members (room_member_count) */
    const json_t *power_levels; /* content of the room's m.room.power_levels; may be NULL */
    const json_t *creators;     /* array of user IDs whose power is unlimited for
                                   sender_notification_permission: the creators of a room
                                   version 12 room, or the creator of an older room that has
                                   no power levels (then level 100); may be NULL */
};

/* The outcome: the first enabled rule that matched decides. */
struct push_result {
    bool notify;           /* the rule's actions hold "notify" */
    bool highlight;        /* its highlight tweak (no value: true); false unless notify */
    const char *sound;     /* its sound tweak, borrowed from the rule set; NULL if none or
                              unless notify */
    const char *rule_id;   /* the deciding rule, borrowed from the rule set; NULL when no
                              rule matched or the event is the user's own */
    const json_t *actions; /* the deciding rule's actions, borrowed; NULL unless notify */
    unsigned reads;        /* PUSH_READ_* flags: what of the user the outcome depended on */
};

/* What push_eval consulted of ctx->user_id and ctx->display_name on its way to the outcome
 * (conditions of rules tried before the deciding one, and its own), so a caller can evaluate
 * one rule set once for many users: with no flag set the outcome is the same for every user
 * whose rules are this rule set and who did not send the event (same member count, power
 * levels and creators); with PUSH_READ_STATE_KEY alone it is the same for every such user
 * but those whose ID could match the event's state_key as a glob (push_user_may_match). */
#define PUSH_READ_STATE_KEY 1u /* an event_match of "state_key" against the user's ID */
#define PUSH_READ_USER 2u      /* any other comparison with the user's ID or display name */

/* Could an event_match of `state_key` against user_id's ID hold (compared as push_eval does:
 * glob, case-insensitive)? False only when it surely cannot: user_id holds no glob character,
 * state_key is ASCII and the two differ beyond ASCII case. */
bool push_user_may_match(const char *user_id, const char *state_key);

/* Evaluate `ruleset` ({"global": {...}} as push_default_ruleset or push_merge make it)
 * against `event` (a client event or PDU: type, content, sender, state_key, room_id, ...).
 * Kinds are tried in the order override, content, room, sender, underride, rules within a
 * kind in list order; rules with "enabled": false are skipped. Events whose sender is
 * ctx->user_id never notify (the spec's MUST NOT): *out is all zero and rule_id NULL. The
 * historical actions "dont_notify" and "coalesce" are ignored, so ["dont_notify"] means no
 * notification, as the spec says. *out borrows from `ruleset`, valid while it is.
 * Returns 0, or -1 (with *out all zero) if an argument is NULL or the rule set has no
 * "global" object. */
int push_eval(const json_t *ruleset, const json_t *event, const struct push_ctx *ctx,
              struct push_result *out);

/* The tweaks of `actions` (a rule's action list) other than highlight, as the push gateway
 * API's devices[].tweaks and the store of a notification want them: {"sound": "default",
 * "<other tweak>": value, ...}; a set_tweak without a value counts as true. New object, or
 * NULL when there are none (or on allocation failure): callers store nothing then. */
json_t *push_tweaks(const json_t *actions);

/* --- a user's stored rules and the /pushrules edits ------------------------------------- */

/* The stored form of a user's push rules (the "store"), what a database keeps per user:
 *   {"override":  [{"rule_id", "enabled", "actions", "conditions"}, ...],
 *    "content":   [{"rule_id", "enabled", "actions", "pattern"}, ...],
 *    "room":      [{"rule_id", "enabled", "actions"}, ...],
 *    "sender":    [{"rule_id", "enabled", "actions"}, ...],
 *    "underride": [{"rule_id", "enabled", "actions", "conditions"}, ...],
 *    "defaults":  {"<kind>": {"<predefined rule_id>": {"enabled": bool, "actions": [...]}}}}
 * The five lists hold the user-defined rules, most important first; "defaults" the user's
 * changes to predefined rules (either key may be absent: the predefined value holds). Any key
 * may be missing; entries that are not of this shape are ignored by push_merge. */

/* Outcomes of the edits. push_status_errcode maps each to the HTTP status and errcode. */
enum push_status {
    PUSH_OK = 0,
    PUSH_NOT_FOUND,        /* 404 M_NOT_FOUND: no rule of that kind and rule_id */
    PUSH_ANCHOR_NOT_FOUND, /* 400 M_UNKNOWN (the spec's example): `before`/`after` names no
                              user-defined rule of that kind (predefined ones never count) */
    PUSH_INVALID_PARAM,    /* 400 M_INVALID_PARAM: unknown kind, or a rule_id that is
                              reserved (starts with '.', holds '/' or '\') or not a room ID
                              (room rules) or user ID (sender rules) */
    PUSH_BAD_JSON,         /* 400 M_BAD_JSON: the rule body is malformed */
    PUSH_DEFAULT_RULE,     /* 400 M_INVALID_PARAM: predefined rules cannot be deleted */
    PUSH_NOMEM,            /* 500 M_UNKNOWN: allocation failed; the store is unchanged */
    PUSH_TOO_LARGE,        /* 400 M_TOO_LARGE: a pattern, a rule's conditions or the user's
                              rules beyond the bounds above */
};

/* The HTTP status and Matrix errcode for `s` (PUSH_OK: 200 and NULL). Static strings. */
const char *push_status_errcode(enum push_status s, int *http_status);

/* An empty store (no user-defined rules, predefined rules unchanged). New reference; NULL on
 * allocation failure. */
json_t *push_store_new(void);

/* The effective rule set of user_id, shaped as push_default_ruleset's: .m.rule.master first,
 * then the user's override rules, then the other predefined override rules; in every other
 * kind the user's rules before the predefined ones. User rules carry "default": false; the
 * store's changes to predefined rules are applied. `store` is borrowed and may be NULL (the
 * predefined rules alone). New reference; NULL on a bad user_id or allocation failure. */
json_t *push_merge(const json_t *store, const char *user_id);

/* The rule `rule_id` of `kind` in a rule set ({"global": ...}), borrowed from it; NULL if
 * there is none (or kind is unknown). */
const json_t *push_find_rule(const json_t *ruleset, const char *kind, const char *rule_id);

/* PUT /pushrules/global/{kind}/{rule_id}[?before=|after=] on the store. `body` (borrowed)
 * must hold "actions" (an array of strings and objects); override and underride rules may
 * hold "conditions" (an array of objects, each with a string "kind"; known kinds with their
 * parameters); content rules need a string "pattern". The historical actions "dont_notify"
 * and "coalesce" are stripped. An existing user rule of that kind and rule_id is replaced
 * and keeps its place and enabled state unless before/after move it; a new one is enabled
 * and goes to `before`'s place, after `after` (when both are given `before` wins, as the spec
 * says), or first among the user's rules of the kind. before/after may be NULL. A pattern
 * longer than PUSH_PATTERN_MAX bytes, more than PUSH_CONDITIONS_MAX conditions or a new rule
 * beyond PUSH_RULES_MAX user-defined ones is PUSH_TOO_LARGE. On any error
 * the store is unchanged; *err (if err is non-NULL) is set to a static message for the
 * M_BAD_JSON / M_INVALID_PARAM answer, or NULL. */
enum push_status push_put_rule(json_t *store, const char *kind, const char *rule_id,
                               const json_t *body, const char *before, const char *after,
                               const char **err);

/* DELETE /pushrules/global/{kind}/{rule_id}: removes a user-defined rule. PUSH_DEFAULT_RULE
 * for a predefined rule of that kind, PUSH_NOT_FOUND if there is no such rule,
 * PUSH_INVALID_PARAM for an unknown kind. */
enum push_status push_delete_rule(json_t *store, const char *kind, const char *rule_id);

/* PUT .../{kind}/{rule_id}/enabled: for a user-defined or a predefined rule of that kind
 * (the latter recorded under the store's "defaults"). PUSH_NOT_FOUND if there is no such
 * rule, PUSH_INVALID_PARAM for an unknown kind, PUSH_NOMEM (store unchanged). */
enum push_status push_set_enabled(json_t *store, const char *kind, const char *rule_id,
                                  bool enabled);

/* PUT .../{kind}/{rule_id}/actions: `actions` (borrowed; copied, historical actions
 * stripped) for a user-defined or predefined rule. PUSH_BAD_JSON (with *err) if actions is
 * not an array of strings and objects; otherwise as push_set_enabled. */
enum push_status push_set_actions(json_t *store, const char *kind, const char *rule_id,
                                  const json_t *actions, const char **err);

#endif
