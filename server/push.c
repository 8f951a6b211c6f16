/* push.c - push rules, Client-Server API v1.19: "Push Rules" (kinds, actions, conditions),
 * "Predefined Rules", and the appendices "Glob-style matching" and
 * "Dot-separated property paths". Pure: no I/O, no database, no global state.
 *
 * Invariants and readings of the spec:
 *  1. The predefined rules are the table `predefined` below, copied from the v1.19 text in its
 *     order; "[the user's Matrix ID]" stands for the rule set's owner there, as in the spec.
 *  2. Kinds are evaluated override, content, room, sender, underride; the first enabled rule
 *     that matches decides. The user's own events never notify. "dont_notify" and "coalesce"
 *     are ignored (evaluation) or stripped (stored rules), as "Historical Actions" says.
 *  3. Unknown condition kinds never match; a property that is absent or of the wrong type
 *     never matches, even the pattern "*".
 *  4. Globs (`*` any run, `?` one character) match code points, case-insensitively, by a
 *     bit-parallel NFA over the pattern, never backtracking: ceil((tokens + 1) / 64) word
 *     operations a character. One evaluation of a user's rules spends at most
 *     PUSH_GLOB_BUDGET on globs (push.h); a glob it cannot finish does not match.
 *     "Case-insensitive" is left to the server: here ASCII, Latin-1, Latin Extended-A,
 *     Greek and Cyrillic capitals fold to their small letters.
 *  5. event_match on content.body, content rules' patterns and contains_display_name match
 *     a substring of content.body that starts and ends at a word boundary: the start or end
 *     of the value, or a character outside [A-Za-z0-9_]. For non-ASCII text letters count as
 *     word characters (so "Jörg" is one word) and punctuation, symbols and emoji as
 *     boundaries (so „Alice“ holds the word Alice) - the table `boundaries`.
 * The stored rules and the /pushrules edits are in push_store.c. */
#include "server/push.h"
#include "server/push_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_PLACEHOLDER "[the user's Matrix ID]"

const char *const push_kinds[K_COUNT] = {"override", "content", "room", "sender", "underride"};

int push_kind_index(const char *kind)
{
    for (int k = 0; kind && k < K_COUNT; k++)
        if (strcmp(kind, push_kinds[k]) == 0)
            return k;
    return -1;
}

/* --- the predefined rules (spec "Predefined Rules", v1.19) ------------------------------- */

#define A_SOUND "{\"set_tweak\":\"sound\",\"value\":\"default\"}"
#define A_HIGHLIGHT "{\"set_tweak\":\"highlight\"}"
#define C_MATCH(key, pattern)                                                                      \
    "{\"kind\":\"event_match\",\"key\":\"" key "\",\"pattern\":\"" pattern "\"}"

/* Columns: kind, rule_id, enabled, conditions (JSON), actions (JSON). */
static const struct predefined_rule {
    int kind;
    const char *rule_id;
    bool enabled;
    const char *conditions, *actions;
} predefined[] = {
    {K_OVERRIDE, ".m.rule.master", false, "[]", "[]"},
    {K_OVERRIDE, ".m.rule.suppress_notices", true, "[" C_MATCH("content.msgtype", "m.notice") "]",
     "[]"},
    {K_OVERRIDE, ".m.rule.invite_for_me", true,
     "[" C_MATCH("type", "m.room.member") "," C_MATCH("content.membership", "invite") "," C_MATCH(
         "state_key", USER_PLACEHOLDER) "]",
     "[\"notify\"," A_SOUND "]"},
    {K_OVERRIDE, ".m.rule.member_event", true, "[" C_MATCH("type", "m.room.member") "]", "[]"},
    {K_OVERRIDE, ".m.rule.is_user_mention", true,
     "[{\"kind\":\"event_property_contains\",\"key\":\"content.m\\\\.mentions.user_ids\","
     "\"value\":\"" USER_PLACEHOLDER "\"}]",
     "[\"notify\"," A_SOUND "," A_HIGHLIGHT "]"},
    {K_OVERRIDE, ".m.rule.is_room_mention", true,
     "[{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.mentions.room\",\"value\":true},"
     "{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}]",
     "[\"notify\"," A_HIGHLIGHT "]"},
    {K_OVERRIDE, ".m.rule.tombstone", true,
     "[" C_MATCH("type", "m.room.tombstone") "," C_MATCH("state_key", "") "]",
     "[\"notify\"," A_HIGHLIGHT "]"},
    {K_OVERRIDE, ".m.rule.reaction", true, "[" C_MATCH("type", "m.reaction") "]", "[]"},
    {K_OVERRIDE, ".m.rule.room.server_acl", true,
     "[" C_MATCH("type", "m.room.server_acl") "," C_MATCH("state_key", "") "]", "[]"},
    {K_OVERRIDE, ".m.rule.suppress_edits", true,
     "[{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.relates_to.rel_type\","
     "\"value\":\"m.replace\"}]",
     "[]"},
    {K_UNDERRIDE, ".m.rule.call", true, "[" C_MATCH("type", "m.call.invite") "]",
     "[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"ring\"}]"},
    {K_UNDERRIDE, ".m.rule.encrypted_room_one_to_one", true,
     "[{\"kind\":\"room_member_count\",\"is\":\"2\"}," C_MATCH("type", "m.room.encrypted") "]",
     "[\"notify\"," A_SOUND "]"},
    {K_UNDERRIDE, ".m.rule.room_one_to_one", true,
     "[{\"kind\":\"room_member_count\",\"is\":\"2\"}," C_MATCH("type", "m.room.message") "]",
     "[\"notify\"," A_SOUND "]"},
    {K_UNDERRIDE, ".m.rule.message", true, "[" C_MATCH("type", "m.room.message") "]",
     "[\"notify\"]"},
    {K_UNDERRIDE, ".m.rule.encrypted", true, "[" C_MATCH("type", "m.room.encrypted") "]",
     "[\"notify\"]"},
};
#define PREDEFINED_COUNT (sizeof predefined / sizeof predefined[0])

bool push_is_predefined(int kind, const char *rule_id)
{
    for (size_t i = 0; i < PREDEFINED_COUNT; i++)
        if (predefined[i].kind == kind && strcmp(predefined[i].rule_id, rule_id) == 0)
            return true;
    return false;
}

/* Replace the placeholder in each condition's "pattern" and "value" by user_id. 0 or -1. */
static int fill_user(json_t *conditions, const char *user_id)
{
    static const char *const params[] = {"pattern", "value"};
    size_t i;
    json_t *c;
    json_array_foreach(conditions, i, c)
    {
        for (size_t p = 0; p < 2; p++) {
            const char *s = json_string_value(json_object_get(c, params[p]));
            if (s && strcmp(s, USER_PLACEHOLDER) == 0 &&
                json_object_set_new(c, params[p], json_string(user_id)) != 0)
                return -1;
        }
    }
    return 0;
}

bool push_utf8_valid(const char *s)
{
    json_t *j = json_string(s); /* NULL unless valid */
    bool valid = j != NULL;
    json_decref(j);
    return valid;
}

/* The predefined rule set with USER_PLACEHOLDER where the user's ID goes, built once. */
static json_t *template_ruleset;
static pthread_once_t template_once = PTHREAD_ONCE_INIT;

static void build_template(void)
{
    json_t *ruleset = json_pack("{s:{s:[],s:[],s:[],s:[],s:[]}}", "global", "override", "content",
                                "room", "sender", "underride");
    json_t *global = json_object_get(ruleset, "global"); /* borrowed */
    for (size_t i = 0; ruleset && i < PREDEFINED_COUNT; i++) {
        const struct predefined_rule *d = &predefined[i];
        json_t *conditions = json_loads(d->conditions, JSON_REJECT_DUPLICATES, NULL);
        json_t *actions = json_loads(d->actions, JSON_REJECT_DUPLICATES, NULL);
        json_t *r = NULL;
        if (conditions && actions)
            /* "O" takes references of its own; ours are dropped below */
            r = json_pack("{s:s,s:b,s:b,s:O,s:O}", "rule_id", d->rule_id, "default", 1, "enabled",
                          d->enabled, "conditions", conditions, "actions", actions);
        json_decref(conditions);
        json_decref(actions);
        if (json_array_append_new(json_object_get(global, push_kinds[d->kind]), r) != 0) {
            json_decref(ruleset);
            ruleset = NULL;
        }
    }
    template_ruleset = ruleset; /* lives as long as the process; never changed */
}

const json_t *push_predefined(void)
{
    pthread_once(&template_once, build_template);
    return template_ruleset;
}

json_t *push_default_ruleset(const char *user_id)
{
    if (!user_id || user_id[0] != '@' || !strchr(user_id, ':') || !push_utf8_valid(user_id))
        return NULL;
    pthread_once(&template_once, build_template);
    json_t *ruleset = template_ruleset ? json_deep_copy(template_ruleset) : NULL;
    json_t *global = json_object_get(ruleset, "global");
    for (size_t k = 0; ruleset && k < K_COUNT; k++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(global, push_kinds[k]), i, r)
        {
            if (fill_user(json_object_get(r, "conditions"), user_id) != 0) {
                json_decref(ruleset);
                return NULL;
            }
        }
    }
    return ruleset;
}

/* --- text: UTF-8, case folding, word boundaries ----------------------------------------- */

#define BAD_BYTE 0x80000000u /* or'd with a byte that starts no valid sequence */

/* The code point at *p (not past end), advancing *p; a byte that starts no valid sequence
 * is returned or'd with BAD_BYTE and consumed alone. */
static uint32_t utf8_next(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    size_t more = c >= 0xC2 && c <= 0xDF   ? 1
                  : c >= 0xE0 && c <= 0xEF ? 2
                  : c >= 0xF0 && c <= 0xF4 ? 3
                                           : 0;
    *p = s + 1;
    if (c < 0x80)
        return c;
    if (more == 0 || (size_t)(end - s - 1) < more)
        return BAD_BYTE | c;
    uint32_t cp = c & (more == 1 ? 0x1F : more == 2 ? 0x0F : 0x07);
    for (size_t i = 1; i <= more; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return BAD_BYTE | c;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p = s + 1 + more;
    return cp;
}

/* Capital letters and their small ones. Columns: first, last, which fold (2 every code point,
 * 0 the even, 1 the odd ones), distance to the small letter. */
static const struct fold_range {
    uint32_t lo, hi;
    int parity;
    uint32_t delta;
} folds[] = {
    {0x41, 0x5A, 2, 32},   {0xC0, 0xD6, 2, 32},   {0xD8, 0xDE, 2, 32},   {0x100, 0x12F, 0, 1},
    {0x132, 0x137, 0, 1},  {0x139, 0x148, 1, 1},  {0x14A, 0x177, 0, 1},  {0x179, 0x17E, 1, 1},
    {0x391, 0x3A1, 2, 32}, {0x3A3, 0x3AB, 2, 32}, {0x400, 0x40F, 2, 80}, {0x410, 0x42F, 2, 32},
};

static uint32_t fold(uint32_t c)
{
    if (c == 0x178) /* Y with diaeresis: its small letter is in Latin-1 */
        return 0xFF;
    if (c == 0x1E9E) /* capital sharp s */
        return 0xDF;
    for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++)
        if (c >= folds[i].lo && c <= folds[i].hi &&
            (folds[i].parity == 2 || (int)(c & 1) == folds[i].parity))
            return c + folds[i].delta;
    return c;
}

/* Non-ASCII code points that are word boundaries (first, last): Latin-1 punctuation and
 * symbols, general punctuation (spaces, dashes, quotes), symbols and arrows, CJK and
 * full-width punctuation, emoji. Other non-ASCII code points are word characters. */
static const struct {
    uint32_t lo, hi;
} boundaries[] = {
    {0x80, 0xBF},     {0xD7, 0xD7},     {0xF7, 0xF7},     {0x2000, 0x206F},   {0x20A0, 0x20CF},
    {0x2100, 0x2BFF}, {0x2E00, 0x2E7F}, {0x3000, 0x303F}, {0xFE10, 0xFE1F},   {0xFE30, 0xFE6F},
    {0xFEFF, 0xFEFF}, {0xFF00, 0xFF0F}, {0xFF1A, 0xFF20}, {0x1F000, 0x1FAFF},
};

static bool word_char(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++)
        if (c >= boundaries[i].lo && c <= boundaries[i].hi)
            return false;
    return true;
}

/* --- glob matching ---------------------------------------------------------------------- */

enum glob_mode {
    GLOB_WHOLE, /* the pattern matches the whole value */
    GLOB_WORDS, /* ... a substring between word boundaries (content.body) */
    TEXT_WORDS, /* a literal text (no wildcards) between word boundaries (display names) */
};

#define TOK_STAR 0xFFFFFFFFu
#define TOK_ONE 0xFFFFFFFEu
#define GLOB_STACK_TOKENS 128 /* patterns of up to 128 bytes need no allocation ... */
#define GLOB_STACK_WORDS 256  /* ... nor their state vectors (2 KiB) */
#define GLOB_SETUP_COST 16    /* budget units a match costs before its first token */

/* The common case of a whole-value match without wildcards over ASCII (event types,
 * msgtypes, user IDs): a case-insensitive comparison. 1 or 0 when it decides, -1 when the
 * general matcher must (a wildcard, or a byte outside ASCII, which case folding may map). */
static int glob_plain(const char *pattern, size_t pn, const char *s, size_t sn)
{
    for (size_t i = 0; i < pn; i++)
        if (pattern[i] == '*' || pattern[i] == '?' || (unsigned char)pattern[i] >= 0x80)
            return -1;
    for (size_t i = 0; i < sn; i++)
        if ((unsigned char)s[i] >= 0x80)
            return -1;
    return pn == sn && strncasecmp(pattern, s, pn) == 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The NFA of a pattern as bit vectors of W words: bit k of a state vector stands for "the
 * first k tokens matched" (k = 0..m). */
struct glob_nfa {
    size_t m, w;           /* tokens, words per vector */
    uint64_t *star;        /* the `*` tokens (never two in a row) */
    uint64_t *one;         /* the `?` tokens */
    uint32_t *vals;        /* the distinct folded literals, the ASCII ones first, then the
                              others sorted ... */
    size_t nvals, nascii;  /* ... how many, how many ASCII ... */
    uint64_t *masks;       /* ... and the tokens equal to each: vector i + 1 for vals[i];
                              vector 0 is empty, for characters the pattern does not hold */
    uint8_t ascii[128];    /* the vector of each ASCII character */
};

/* s |= (s & star) << 1: the states reachable past a `*` without consuming a character. One
 * shift is enough, as a `*` never follows a `*`. */
static void closure(uint64_t *s, const struct glob_nfa *a)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < a->w; i++) {
        uint64_t st = s[i] & a->star[i];
        s[i] |= (st << 1) | carry;
        carry = st >> 63;
    }
}

/* The vector of literal tokens equal to the folded code point fc (the empty one if none). */
static uint64_t *literal_mask(const struct glob_nfa *a, uint32_t fc)
{
    if (fc < 128)
        return a->masks + a->ascii[fc] * a->w;
    const uint32_t *v =
        bsearch(&fc, a->vals + a->nascii, a->nvals - a->nascii, sizeof *a->vals, cmp_u32);
    return a->masks + (v ? (size_t)(v - a->vals) + 1 : 0) * a->w;
}

/* Does pattern[0..pn) match s[0..sn) in `mode`? A bit-parallel NFA (shift-and with stars):
 * each character of s costs ceil((m+1)/64) word operations for a pattern of m tokens, never
 * backtracking. In the word modes a run may start at every boundary. Each character costs
 * that many units of *budget; when the budget runs out the match fails (and *budget is 0).
 * False on allocation failure. */
static bool glob_match(const char *pattern, size_t pn, const char *s, size_t sn,
                       enum glob_mode mode, size_t *budget)
{
    int plain = mode == GLOB_WHOLE ? glob_plain(pattern, pn, s, sn) : -1;
    if (plain >= 0)
        return plain == 1;
    /* Tokens (`*` runs collapse to one, `?` one code point, literals folded) and the sorted
     * distinct non-ASCII literals: two arrays of at most pn entries. Every step of the setup
     * is paid from the budget before it is taken. */
    size_t cost = GLOB_SETUP_COST + pn * 4;
    if (*budget < cost) {
        *budget = 0;
        return false;
    }
    *budget -= cost;
    uint32_t tok_stack[2 * GLOB_STACK_TOKENS];
    uint32_t *tok = pn <= GLOB_STACK_TOKENS ? tok_stack : malloc(2 * pn * sizeof *tok);
    uint64_t stack[GLOB_STACK_WORDS], *block = NULL;
    bool found = false;
    if (!tok)
        return false;
    struct glob_nfa a = {.vals = tok + (tok == tok_stack ? GLOB_STACK_TOKENS : pn)};
    const unsigned char *pp = (const unsigned char *)pattern, *pend = pp + pn;
    while (pp < pend) {
        uint32_t c = utf8_next(&pp, pend);
        if (mode != TEXT_WORDS && c == '*') {
            if (a.m == 0 || tok[a.m - 1] != TOK_STAR)
                tok[a.m++] = TOK_STAR;
        } else {
            tok[a.m++] = mode != TEXT_WORDS && c == '?' ? TOK_ONE : fold(c);
        }
    }
    memset(a.ascii, 0, sizeof a.ascii);
    for (size_t k = 0; k < a.m; k++)
        if (tok[k] < 128 && !a.ascii[tok[k]]) {
            a.vals[a.nvals++] = tok[k];
            a.ascii[tok[k]] = (uint8_t)a.nvals; /* at most 128 */
        }
    a.nascii = a.nvals;
    for (size_t k = 0; k < a.m; k++)
        if (tok[k] >= 128 && tok[k] != TOK_STAR && tok[k] != TOK_ONE)
            a.vals[a.nvals++] = tok[k];
    qsort(a.vals + a.nascii, a.nvals - a.nascii, sizeof *a.vals, cmp_u32);
    size_t d = a.nascii;
    for (size_t i = a.nascii; i < a.nvals; i++)
        if (d == a.nascii || a.vals[d - 1] != a.vals[i])
            a.vals[d++] = a.vals[i];
    a.nvals = d;

    /* The vectors, w words each: star, one, cur, nxt, the empty one, one per literal. */
    size_t w = a.w = a.m / 64 + 1, need = (5 + a.nvals) * w;
    cost = need / 2;
    if (*budget < cost) {
        *budget = 0;
        goto out;
    }
    *budget -= cost;
    block = need <= GLOB_STACK_WORDS ? stack : calloc(need, sizeof *block);
    if (!block)
        goto out;
    if (block == stack)
        memset(stack, 0, need * sizeof *stack);
    a.star = block;
    a.one = a.star + w;
    uint64_t *cur = a.one + w, *nxt = cur + w;
    a.masks = nxt + w;
    for (size_t k = 0; k < a.m; k++) {
        uint64_t bit = 1ull << (k & 63);
        if (tok[k] == TOK_STAR)
            a.star[k >> 6] |= bit;
        else if (tok[k] == TOK_ONE)
            a.one[k >> 6] |= bit;
        else
            literal_mask(&a, tok[k])[k >> 6] |= bit;
    }
    uint64_t final_bit = 1ull << (a.m & 63);
    size_t final_word = a.m >> 6;
    if (mode == GLOB_WHOLE) {
        cur[0] = 1;
        closure(cur, &a);
    }

    const unsigned char *p = (const unsigned char *)s, *end = p + sn;
    bool prev_word = false;
    for (;;) {
        const unsigned char *q = p;
        uint32_t c = p < end ? utf8_next(&q, end) : 0;
        bool c_word = p < end && word_char(c);
        if (mode == GLOB_WHOLE) {
            if (p == end) {
                found = cur[final_word] & final_bit;
                break;
            }
        } else {
            if (!prev_word) { /* the start of the value or after a boundary */
                cur[0] |= 1;
                closure(cur, &a);
            }
            if ((cur[final_word] & final_bit) && !c_word) { /* before a boundary or the end */
                found = true;
                break;
            }
            if (p == end)
                break;
        }
        if (*budget < w) {
            *budget = 0;
            break;
        }
        *budget -= w;
        uint32_t fc = c < 128 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : fold(c);
        const uint64_t *lit = literal_mask(&a, fc);
        uint64_t carry = 0, any = 0;
        for (size_t i = 0; i < w; i++) {
            uint64_t adv = cur[i] & (lit[i] | a.one[i]);
            nxt[i] = (adv << 1) | carry | (cur[i] & a.star[i]);
            carry = adv >> 63;
            any |= nxt[i];
        }
        closure(nxt, &a);
        uint64_t *t = cur;
        cur = nxt;
        nxt = t;
        if (!any && mode == GLOB_WHOLE)
            break;
        prev_word = c_word;
        p = q;
    }
out:
    if (block != stack)
        free(block);
    if (tok != tok_stack)
        free(tok);
    return found;
}

/* --- conditions ------------------------------------------------------------------------- */

#define PATH_SEGMENT_MAX 256 /* bytes of one property name in a dotted path */

/* The property of `event` at the dotted path `key` ("\." a literal dot, "\\" a backslash,
 * other escapes left as they are); borrowed, or NULL if absent or a segment is too long. */
static const json_t *event_property(const json_t *event, const char *key)
{
    char seg[PATH_SEGMENT_MAX];
    const json_t *v = event;
    const char *p = key;
    for (;;) {
        size_t n = 0;
        while (*p && *p != '.') {
            char ch = *p++;
            if (ch == '\\' && (*p == '.' || *p == '\\'))
                ch = *p++;
            if (n + 1 >= sizeof seg)
                return NULL;
            seg[n++] = ch;
        }
        seg[n] = '\0';
        v = json_is_object(v) ? json_object_get(v, seg) : NULL;
        if (!v || !*p)
            return v;
        p++; /* the separating dot */
    }
}

bool push_simple_value(const json_t *v)
{
    return json_is_string(v) || json_is_integer(v) || json_is_boolean(v) || json_is_null(v);
}

/* A power level: an integer, or (room versions before 10) a string holding one. */
static bool power_value(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || *end || !((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
        return false;
    *out = n;
    return true;
}

static bool sender_may_notify(const char *key, const json_t *event, const struct push_ctx *ctx)
{
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (!key || !sender)
        return false;
    size_t i;
    json_t *c;
    json_array_foreach(ctx->creators, i, c)
    {
        if (json_is_string(c) && strcmp(json_string_value(c), sender) == 0)
            return true;
    }
    const json_t *pl = ctx->power_levels;
    int64_t required = 50, level = 0; /* the spec's default for notifications, users_default */
    power_value(json_object_get(json_object_get(pl, "notifications"), key), &required);
    if (!power_value(json_object_get(json_object_get(pl, "users"), sender), &level))
        power_value(json_object_get(pl, "users_default"), &level);
    return level >= required;
}

/* room_member_count's "is": an optional operator, then a decimal integer. */
static bool member_count_is(const char *is, int64_t count)
{
    /* Columns: prefix, and whether it holds for count < n, count == n, count > n. The empty
     * prefix, last, always matches. */
    static const struct {
        const char *op;
        bool lt, eq, gt;
    } ops[] = {{"==", 0, 1, 0}, {"<=", 1, 1, 0}, {">=", 0, 1, 1},
               {"<", 1, 0, 0},  {">", 0, 0, 1},  {"", 0, 1, 0}};
    size_t o = 0;
    if (!is)
        return false;
    while (strncmp(is, ops[o].op, strlen(ops[o].op)) != 0)
        o++;
    const char *digits = is + strlen(ops[o].op);
    char *end;
    errno = 0;
    long long n = strtoll(digits, &end, 10);
    if (*digits < '0' || *digits > '9' || errno || *end)
        return false;
    return count < n ? ops[o].lt : count == n ? ops[o].eq : ops[o].gt;
}

/* Is v the template's stand-in for the user's ID (push_predefined)? */
static bool is_placeholder(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), USER_PLACEHOLDER) == 0;
}

/* x (an event value) equals want (a condition's value); the placeholder means ctx->user_id. */
static bool value_is(const json_t *x, const json_t *want, const struct push_ctx *ctx,
                     unsigned *reads)
{
    if (is_placeholder(want)) {
        *reads |= PUSH_READ_USER;
        return ctx->user_id && json_is_string(x) && strcmp(json_string_value(x), ctx->user_id) == 0;
    }
    return push_simple_value(x) && json_equal(x, want);
}

/* Does `cond` hold? *reads gains PUSH_READ_* when the answer depended on the user's ID or
 * display name (push.h). */
static bool condition_holds(const json_t *cond, const json_t *event, const struct push_ctx *ctx,
                            size_t *budget, unsigned *reads)
{
    const char *kind = json_string_value(json_object_get(cond, "kind"));
    const char *key = json_string_value(json_object_get(cond, "key"));
    if (!kind)
        return false;
    if (strcmp(kind, "event_match") == 0) {
        const json_t *pattern = json_object_get(cond, "pattern");
        const json_t *v = key ? event_property(event, key) : NULL;
        const char *pat = is_placeholder(pattern) ? ctx->user_id : json_string_value(pattern);
        size_t pat_len =
            is_placeholder(pattern) ? (pat ? strlen(pat) : 0) : json_string_length(pattern);
        if (is_placeholder(pattern) && json_is_string(v))
            *reads |= strcmp(key, "state_key") == 0 ? PUSH_READ_STATE_KEY : PUSH_READ_USER;
        return pat && json_is_string(v) &&
               glob_match(pat, pat_len, json_string_value(v), json_string_length(v),
                          strcmp(key, "content.body") == 0 ? GLOB_WORDS : GLOB_WHOLE, budget);
    }
    if (strcmp(kind, "event_property_is") == 0) {
        const json_t *want = json_object_get(cond, "value");
        const json_t *v = key ? event_property(event, key) : NULL;
        return push_simple_value(want) && value_is(v, want, ctx, reads);
    }
    if (strcmp(kind, "event_property_contains") == 0) {
        const json_t *want = json_object_get(cond, "value");
        const json_t *v = key ? event_property(event, key) : NULL;
        size_t i;
        json_t *x;
        if (!push_simple_value(want))
            return false;
        json_array_foreach(v, i, x)
        {
            if (value_is(x, want, ctx, reads))
                return true;
        }
        return false;
    }
    if (strcmp(kind, "contains_display_name") == 0) {
        const json_t *body = event_property(event, "content.body");
        const char *name = ctx->display_name;
        if (json_is_string(body))
            *reads |= PUSH_READ_USER;
        return name && *name && json_is_string(body) &&
               glob_match(name, strlen(name), json_string_value(body), json_string_length(body),
                          TEXT_WORDS, budget);
    }
    if (strcmp(kind, "room_member_count") == 0)
        return member_count_is(json_string_value(json_object_get(cond, "is")), ctx->member_count);
    if (strcmp(kind, "sender_notification_permission") == 0)
        return sender_may_notify(key, event, ctx);
    return false; /* unrecognised conditions never match */
}

/* --- evaluation ------------------------------------------------------------------------- */

static bool rule_matches(int kind, const json_t *rule, const json_t *event,
                         const struct push_ctx *ctx, size_t *budget, unsigned *reads)
{
    const json_t *id = json_object_get(rule, "rule_id");
    switch (kind) {
    case K_CONTENT: {
        const json_t *pattern = json_object_get(rule, "pattern");
        const json_t *body = event_property(event, "content.body");
        return json_is_string(pattern) && json_is_string(body) &&
               glob_match(json_string_value(pattern), json_string_length(pattern),
                          json_string_value(body), json_string_length(body), GLOB_WORDS, budget);
    }
    case K_ROOM:
        return json_is_string(id) && json_equal(id, json_object_get(event, "room_id"));
    case K_SENDER:
        return json_is_string(id) && json_equal(id, json_object_get(event, "sender"));
    default: {
        const json_t *conditions = json_object_get(rule, "conditions");
        size_t i;
        json_t *c;
        if (conditions && !json_is_array(conditions))
            return false;
        json_array_foreach(conditions, i, c)
        {
            if (!condition_holds(c, event, ctx, budget, reads))
                return false;
        }
        return true; /* no conditions: always */
    }
    }
}

static void apply_actions(const json_t *actions, struct push_result *out)
{
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
        const json_t *value = json_object_get(a, "value");
        if (json_is_string(a) && strcmp(json_string_value(a), "notify") == 0)
            out->notify = true;
        else if (tweak && strcmp(tweak, "highlight") == 0)
            out->highlight = !value || json_is_true(value);
        else if (tweak && strcmp(tweak, "sound") == 0)
            out->sound = json_string_value(value);
        /* "dont_notify", "coalesce" and unknown actions or tweaks: nothing to do */
    }
    if (!out->notify) {
        out->highlight = false;
        out->sound = NULL;
    } else {
        out->actions = actions;
    }
}

json_t *push_tweaks(const json_t *actions)
{
    json_t *out = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
        if (!tweak || strcmp(tweak, "highlight") == 0)
            continue;
        if (!out && (out = json_object()) == NULL)
            return NULL;
        json_t *value = json_object_get(a, "value");
        json_object_set_new(out, tweak, value ? json_incref(value) : json_true());
    }
    return out;
}

bool push_user_may_match(const char *user_id, const char *state_key)
{
    if (!user_id || !state_key || strpbrk(user_id, "*?"))
        return true;
    for (const unsigned char *p = (const unsigned char *)state_key; *p; p++)
        if (*p >= 0x80)
            return true; /* the fold reaches beyond ASCII: not worth the doubt */
    return strcasecmp(user_id, state_key) == 0;
}

int push_eval(const json_t *ruleset, const json_t *event, const struct push_ctx *ctx,
              struct push_result *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    const json_t *global = json_object_get(ruleset, "global");
    if (!json_is_object(global) || !event || !ctx)
        return -1;
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (sender && ctx->user_id && strcmp(sender, ctx->user_id) == 0)
        return 0; /* "MUST NOT notify ... for events that the user has sent themselves" */
    size_t budget = PUSH_GLOB_BUDGET;
    for (int k = 0; k < K_COUNT; k++) {
        size_t i;
        json_t *rule;
        json_array_foreach(json_object_get(global, push_kinds[k]), i, rule)
        {
            const char *id = json_string_value(json_object_get(rule, "rule_id"));
            if (!id || json_is_false(json_object_get(rule, "enabled")) ||
                !rule_matches(k, rule, event, ctx, &budget, &out->reads))
                continue;
            out->rule_id = id;
            apply_actions(json_object_get(rule, "actions"), out);
            return 0;
        }
    }
    return 0;
}
