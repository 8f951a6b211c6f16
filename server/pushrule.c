/* pushrule.c - the predefined push rules and their evaluation (Client-Server API "Push
 * Rules": kinds, conditions, actions, "Predefined Rules"; "User and room mentions").
 *
 * Kinds are evaluated in the order override, content, room, sender, underride; within a
 * kind, in list order; the first enabled rule whose conditions all hold decides, and its
 * actions say whether to notify and with which tweaks. Conditions:
 *   event_match              glob of a string property (dotted key, "\." escapes a dot);
 *                            on content.body a glob over words, as the spec says
 *   event_property_is        exact value (string, integer, boolean, null)
 *   event_property_contains  an array property holds the value
 *   contains_display_name    the display name as a whole word in content.body
 *   room_member_count        "2", "==2", "<2", ">2", "<=2", ">=2"
 *   sender_notification_permission  the sender's power level reaches notifications[key]
 * Unknown condition kinds never match (the spec's rule). Content rules match their pattern
 * against words of content.body. */
#include "server/pushrule.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- the predefined rules ------------------------------------------------------------- */

static json_t *rule(const char *id, bool enabled, json_t *conditions, json_t *actions)
{
    return json_pack("{s:s,s:b,s:b,s:o,s:o}", "rule_id", id, "default", 1, "enabled", enabled,
                     "conditions", conditions, "actions", actions);
}

static json_t *match(const char *key, const char *pattern)
{
    return json_pack("{s:s,s:s,s:s}", "kind", "event_match", "key", key, "pattern", pattern);
}

static json_t *sound(const char *s)
{
    return json_pack("{s:s,s:s}", "set_tweak", "sound", "value", s);
}

static json_t *highlight(void)
{
    return json_pack("{s:s}", "set_tweak", "highlight");
}

/* Placeholders of the shared template (pushrule_eval_defaults): the evaluating user's ID and
 * localpart, resolved in resolve(). */
#define PH_USER "\x01user_id"
#define PH_LOCALPART "\x01localpart"

static json_t *build_defaults(const char *user_id, json_t *localpart)
{
    json_t *o = json_array(), *c = json_array(), *u = json_array();

    json_array_append_new(o, rule(".m.rule.master", false, json_array(), json_array()));
    json_array_append_new(o, rule(".m.rule.suppress_notices", true,
                                  json_pack("[o]", match("content.msgtype", "m.notice")),
                                  json_array()));
    json_array_append_new(o, rule(".m.rule.invite_for_me", true,
                                  json_pack("[o,o,o]", match("type", "m.room.member"),
                                            match("content.membership", "invite"),
                                            match("state_key", user_id)),
                                  json_pack("[s,o]", "notify", sound("default"))));
    json_array_append_new(o, rule(".m.rule.member_event", true,
                                  json_pack("[o]", match("type", "m.room.member")), json_array()));
    json_array_append_new(
        o, rule(".m.rule.is_user_mention", true,
                json_pack("[{s:s,s:s,s:s}]", "kind", "event_property_contains", "key",
                          "content.m\\.mentions.user_ids", "value", user_id),
                json_pack("[s,o,o]", "notify", sound("default"), highlight())));
    json_array_append_new(o, rule(".m.rule.contains_display_name", true,
                                  json_pack("[{s:s}]", "kind", "contains_display_name"),
                                  json_pack("[s,o,o]", "notify", sound("default"), highlight())));
    json_array_append_new(
        o, rule(".m.rule.is_room_mention", true,
                json_pack("[{s:s,s:s,s:b},{s:s,s:s}]", "kind", "event_property_is", "key",
                          "content.m\\.mentions.room", "value", 1, "kind",
                          "sender_notification_permission", "key", "room"),
                json_pack("[s,o]", "notify", highlight())));
    json_array_append_new(o, rule(".m.rule.roomnotif", true,
                                  json_pack("[o,{s:s,s:s}]", match("content.body", "@room"), "kind",
                                            "sender_notification_permission", "key", "room"),
                                  json_pack("[s,o]", "notify", highlight())));
    json_array_append_new(o, rule(".m.rule.tombstone", true,
                                  json_pack("[o,o]", match("type", "m.room.tombstone"),
                                            match("state_key", "")),
                                  json_pack("[s,o]", "notify", highlight())));
    json_array_append_new(o, rule(".m.rule.reaction", true,
                                  json_pack("[o]", match("type", "m.reaction")), json_array()));
    json_array_append_new(o, rule(".m.rule.room.server_acl", true,
                                  json_pack("[o,o]", match("type", "m.room.server_acl"),
                                            match("state_key", "")),
                                  json_array()));
    json_array_append_new(o, rule(".m.rule.suppress_edits", true,
                                  json_pack("[{s:s,s:s,s:s}]", "kind", "event_property_is", "key",
                                            "content.m\\.relates_to.rel_type", "value",
                                            "m.replace"),
                                  json_array()));

    json_t *cu = rule(".m.rule.contains_user_name", true, json_array(),
                      json_pack("[s,o,o]", "notify", sound("default"), highlight()));
    json_object_del(cu, "conditions"); /* content rules have a pattern instead */
    json_object_set_new(cu, "pattern", localpart);
    json_array_append_new(c, cu);

    json_array_append_new(u, rule(".m.rule.call", true, json_pack("[o]", match("type", "m.call.invite")),
                                  json_pack("[s,o]", "notify", sound("ring"))));
    json_array_append_new(u, rule(".m.rule.encrypted_room_one_to_one", true,
                                  json_pack("[{s:s,s:s},o]", "kind", "room_member_count", "is",
                                            "2", match("type", "m.room.encrypted")),
                                  json_pack("[s,o]", "notify", sound("default"))));
    json_array_append_new(u, rule(".m.rule.room_one_to_one", true,
                                  json_pack("[{s:s,s:s},o]", "kind", "room_member_count", "is",
                                            "2", match("type", "m.room.message")),
                                  json_pack("[s,o]", "notify", sound("default"))));
    json_array_append_new(u, rule(".m.rule.message", true,
                                  json_pack("[o]", match("type", "m.room.message")),
                                  json_pack("[s]", "notify")));
    json_array_append_new(u, rule(".m.rule.encrypted", true,
                                  json_pack("[o]", match("type", "m.room.encrypted")),
                                  json_pack("[s]", "notify")));
    return json_pack("{s:{s:o,s:o,s:[],s:[],s:o}}", "global", "override", o, "content", c, "room",
                     "sender", "underride", u);
}

json_t *pushrule_defaults(const char *user_id)
{
    const char *colon = user_id && user_id[0] == '@' ? strchr(user_id, ':') : NULL;
    if (!colon)
        return NULL;
    return build_defaults(user_id, json_stringn(user_id + 1, (size_t)(colon - user_id - 1)));
}

static json_t *template;
static pthread_once_t template_once = PTHREAD_ONCE_INIT;

static void template_build(void)
{
    template = build_defaults(PH_USER, json_string(PH_LOCALPART));
}

/* --- matching ------------------------------------------------------------------------- */

/* Glob over s[0..s_end): the classic single-backtrack matcher, O(len(p) * len(s)) at worst
 * (no recursion, so no pattern can make it exponential). */
static bool glob_at(const char *p, const char *s, const char *s_end)
{
    const char *star = NULL, *resume = NULL;
    while (s < s_end) {
        if (*p == '*') {
            star = ++p;
            resume = s;
        } else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

bool pushrule_glob(const char *pattern, const char *s)
{
    return pattern && s && glob_at(pattern, s, s + strlen(s));
}

static bool word_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80;
}

/* Does `word` occur in `body` (case-insensitively) between word boundaries? */
static bool has_word(const char *word, const char *body)
{
    size_t wn = strlen(word), bn = strlen(body);
    for (size_t i = 0; wn && i + wn <= bn; i++) {
        if (strncasecmp(body + i, word, wn) != 0)
            continue;
        bool left = i == 0 || !word_char(body[i - 1]) || !word_char(word[0]);
        bool right = i + wn == bn || !word_char(body[i + wn]) || !word_char(word[wn - 1]);
        if (left && right)
            return true;
    }
    return false;
}

#define GLOB_WORDS_MAX 2048 /* bytes of a body searched with a wildcard pattern */

/* Does `pattern` (a glob) match a run of `body` that starts and ends at word boundaries?
 * A pattern without wildcards is a plain word search over the whole body; one with them
 * looks at the first GLOB_WORDS_MAX bytes only, which bounds the work on a 64 KB body. */
static bool glob_words(const char *pattern, const char *body)
{
    if (!pattern || !*pattern || !body)
        return false;
    if (!strpbrk(pattern, "*?"))
        return has_word(pattern, body);
    size_t n = strlen(body);
    if (n > GLOB_WORDS_MAX)
        n = GLOB_WORDS_MAX;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && word_char(body[i - 1]) && word_char(body[i]))
            continue;
        for (size_t j = n; j > i; j--) {
            if (j < n && word_char(body[j - 1]) && word_char(body[j]))
                continue;
            if (glob_at(pattern, body + i, body + j))
                return true;
        }
    }
    return false;
}

/* The property at a dotted key ("\." a literal dot, "\\" a backslash); borrowed or NULL. */
static const json_t *property(const json_t *event, const char *key)
{
    const json_t *v = event;
    char seg[256];
    const char *p = key;
    while (v && *p) {
        size_t n = 0;
        while (*p && *p != '.') {
            if (*p == '\\' && (p[1] == '.' || p[1] == '\\'))
                p++;
            if (n + 1 >= sizeof seg)
                return NULL;
            seg[n++] = *p++;
        }
        seg[n] = '\0';
        if (*p == '.')
            p++;
        v = json_is_object(v) ? json_object_get(v, seg) : NULL;
    }
    return v;
}

static int64_t user_power(const json_t *pl, const char *user_id)
{
    if (!pl)
        return 0; /* no power levels: only the creator has power, nobody is "notifying" */
    const json_t *v = json_object_get(json_object_get(pl, "users"), user_id);
    if (!json_is_integer(v))
        v = json_object_get(pl, "users_default");
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static bool member_count_is(const char *is, int64_t count)
{
    if (!is)
        return false;
    char op[3] = "==";
    const char *p = is;
    if (*p == '<' || *p == '>' || *p == '=') {
        size_t k = (p[1] == '=') ? 2 : 1;
        memcpy(op, p, k);
        op[k] = '\0';
        p += k;
    }
    char *end;
    long long n = strtoll(p, &end, 10);
    if (end == p || *end)
        return false;
    if (!strcmp(op, "==") || !strcmp(op, "="))
        return count == n;
    if (!strcmp(op, "<"))
        return count < n;
    if (!strcmp(op, ">"))
        return count > n;
    if (!strcmp(op, "<="))
        return count <= n;
    if (!strcmp(op, ">="))
        return count >= n;
    return false;
}

/* The evaluating user's localpart, for the template's placeholder. */
struct eval {
    const struct pushrule_ctx *ctx;
    char localpart[256];
};

static const char *resolve(const struct eval *e, const char *s)
{
    if (s && s[0] == '\x01') {
        if (strcmp(s, PH_USER) == 0)
            return e->ctx->user_id;
        if (strcmp(s, PH_LOCALPART) == 0)
            return e->localpart;
    }
    return s;
}

static bool condition_holds(const json_t *cond, const json_t *event, const struct eval *e)
{
    const struct pushrule_ctx *ctx = e->ctx;
    const char *kind = json_string_value(json_object_get(cond, "kind"));
    const char *key = json_string_value(json_object_get(cond, "key"));
    if (!kind)
        return false;
    if (strcmp(kind, "event_match") == 0) {
        const json_t *v = key ? property(event, key) : NULL;
        const char *pattern = resolve(e, json_string_value(json_object_get(cond, "pattern")));
        if (!json_is_string(v))
            return false;
        /* the spec's exception: on content.body the pattern matches words, not the whole */
        return strcmp(key, "content.body") == 0 ? glob_words(pattern, json_string_value(v))
                                                : pushrule_glob(pattern, json_string_value(v));
    }
    if (strcmp(kind, "event_property_is") == 0) {
        const json_t *v = key ? property(event, key) : NULL;
        const json_t *want = json_object_get(cond, "value");
        return v && want && !json_is_real(want) && json_equal((json_t *)v, (json_t *)want);
    }
    if (strcmp(kind, "event_property_contains") == 0) {
        const json_t *v = key ? property(event, key) : NULL;
        const json_t *want = json_object_get(cond, "value");
        const char *ws = resolve(e, json_string_value(want));
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (ws ? json_is_string(x) && strcmp(json_string_value(x), ws) == 0
                   : want && json_equal(x, (json_t *)want))
                return true;
        }
        return false;
    }
    if (strcmp(kind, "contains_display_name") == 0) {
        const json_t *body = property(event, "content.body");
        return ctx->display_name && *ctx->display_name && json_is_string(body) &&
               has_word(ctx->display_name, json_string_value(body));
    }
    if (strcmp(kind, "room_member_count") == 0)
        return member_count_is(json_string_value(json_object_get(cond, "is")), ctx->member_count);
    if (strcmp(kind, "sender_notification_permission") == 0) {
        const json_t *need = json_object_get(json_object_get(ctx->power_levels, "notifications"),
                                             key ? key : "");
        int64_t required = json_is_integer(need) ? json_integer_value(need) : 50;
        const char *sender = json_string_value(json_object_get(event, "sender"));
        return sender && user_power(ctx->power_levels, sender) >= required;
    }
    return false;
}

static bool legacy_mention_rule(const char *id)
{
    return strcmp(id, ".m.rule.contains_display_name") == 0 ||
           strcmp(id, ".m.rule.contains_user_name") == 0 || strcmp(id, ".m.rule.roomnotif") == 0;
}

static bool rule_matches(const char *kind, const json_t *r, const json_t *event,
                         const struct eval *e)
{
    const char *id = json_string_value(json_object_get(r, "rule_id"));
    if (!id)
        return false;
    if (strcmp(kind, "content") == 0) {
        const json_t *body = property(event, "content.body");
        return json_is_string(body) &&
               glob_words(resolve(e, json_string_value(json_object_get(r, "pattern"))),
                          json_string_value(body));
    }
    if (strcmp(kind, "room") == 0)
        return json_equal(json_object_get(event, "room_id"), json_object_get(r, "rule_id"));
    if (strcmp(kind, "sender") == 0)
        return json_equal(json_object_get(event, "sender"), json_object_get(r, "rule_id"));
    size_t i;
    json_t *cond;
    json_array_foreach(json_object_get(r, "conditions"), i, cond)
    {
        if (!condition_holds(cond, event, e))
            return false;
    }
    return true;
}

int pushrule_eval(const json_t *ruleset, const json_t *event, const struct pushrule_ctx *ctx,
                  struct pushrule_result *out)
{
    static const char *const kinds[] = {"override", "content", "room", "sender", "underride"};
    memset(out, 0, sizeof *out);
    struct eval e = {.ctx = ctx};
    const char *colon = ctx->user_id ? strchr(ctx->user_id, ':') : NULL;
    if (colon && (size_t)(colon - ctx->user_id) < sizeof e.localpart)
        snprintf(e.localpart, sizeof e.localpart, "%.*s", (int)(colon - ctx->user_id - 1),
                 ctx->user_id + 1);
    const json_t *global = json_object_get(ruleset, "global");
    if (!json_is_object(global))
        return -1;
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (sender && ctx->user_id && strcmp(sender, ctx->user_id) == 0)
        return 0;
    bool has_mentions = json_object_get(json_object_get(event, "content"), "m.mentions") != NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(global, kinds[k]), i, r)
        {
            const char *id = json_string_value(json_object_get(r, "rule_id"));
            if (!json_is_true(json_object_get(r, "enabled")) || !id)
                continue;
            if (has_mentions && legacy_mention_rule(id))
                continue;
            if (!rule_matches(kinds[k], r, event, &e))
                continue;
            out->rule_id = id;
            size_t j;
            json_t *a;
            json_array_foreach(json_object_get(r, "actions"), j, a)
            {
                if (json_is_string(a) && strcmp(json_string_value(a), "notify") == 0)
                    out->notify = true;
                const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
                if (tweak && strcmp(tweak, "highlight") == 0) {
                    json_t *v = json_object_get(a, "value");
                    out->highlight = !v || json_is_true(v);
                } else if (tweak && strcmp(tweak, "sound") == 0) {
                    out->sound = json_string_value(json_object_get(a, "value"));
                }
            }
            if (!out->notify)
                out->highlight = false;
            return 0;
        }
    }
    return 0;
}

int pushrule_eval_defaults(const json_t *event, const struct pushrule_ctx *ctx,
                           struct pushrule_result *out)
{
    pthread_once(&template_once, template_build);
    return pushrule_eval(template, event, ctx, out);
}
