/* pushrule.h - push rules: the spec's predefined rule set and their evaluation against an
 * event (Client-Server API "Push Rules"). Pure functions, no I/O. */
#ifndef AMTSBOTE_PUSHRULE_H
#define AMTSBOTE_PUSHRULE_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The predefined rule set for user_id, shaped as GET /pushrules/ answers it:
 * {"global": {"override": [...], "content": [...], "room": [], "sender": [],
 * "underride": [...]}}. New reference; NULL if user_id has no localpart. */
json_t *pushrule_defaults(const char *user_id);

/* What the evaluator needs to know besides the event. */
struct pushrule_ctx {
    const char *user_id;
    const char *display_name; /* the user's display name in the room; may be NULL */
    int64_t member_count;     /* joined members */
    const json_t *power_levels; /* m.room.power_levels content; may be NULL */
};

/* The outcome of the first enabled rule that matched (none: notify false). */
struct pushrule_result {
    bool notify, highlight;
    const char *sound;   /* borrowed from the rule set, or NULL */
    const char *rule_id; /* borrowed, or NULL when no rule matched */
};

/* Evaluate `ruleset` (as pushrule_defaults makes it) against `event` (a PDU or client event
 * with type, content, sender, state_key, room_id). The user's own events never notify. The
 * deprecated mention rules (.m.rule.contains_display_name, .m.rule.contains_user_name,
 * .m.rule.roomnotif) are skipped for events that carry content["m.mentions"], as the spec
 * says. Returns 0, or -1 when the rule set is malformed. */
int pushrule_eval(const json_t *ruleset, const json_t *event, const struct pushrule_ctx *ctx,
                  struct pushrule_result *out);

/* pushrule_eval with the predefined rules of ctx->user_id, from one rule set shared by all
 * users (built once; nothing allocated per call). */
int pushrule_eval_defaults(const json_t *event, const struct pushrule_ctx *ctx,
                           struct pushrule_result *out);

/* Glob match (`*` any run, `?` one character), case-insensitive, of the whole string. */
bool pushrule_glob(const char *pattern, const char *s);

#endif
