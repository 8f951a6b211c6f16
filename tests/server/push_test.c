/* push_test.c - push rules (server/push.c) against the Client-Server API v1.19 text: the
 * predefined rule set's shape and order, every condition kind with matching and failing
 * events (including the spec's own examples for event_match, event_property_is and
 * event_property_contains), escaped dotted paths, globs, word boundaries, evaluation order and
 * actions, and the /pushrules edits on a stored rule set (before/after, not found, predefined
 * rules that cannot be deleted, enabling and actions). */
#include "server/push.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit.h"

#define ME "@alice:example.org"
#define BOB "@bob:example.org"
#define ROOM "!r:example.org"

/* JSON written with single quotes for readability; new reference (aborts on a typo). */
static json_t *J(const char *text)
{
    char buf[2048];
    size_t n = strlen(text);
    if (n >= sizeof buf)
        abort();
    for (size_t i = 0; i <= n; i++)
        buf[i] = text[i] == '\'' ? '"' : text[i];
    json_error_t e;
    json_t *v = json_loads(buf, 0, &e);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, buf);
        abort();
    }
    return v;
}

static json_t *message(const char *sender, const char *body)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "type", "m.room.message", "sender", sender,
                     "room_id", ROOM, "content", "msgtype", "m.text", "body", body);
}

/* The evaluation of `ev` (stolen) by `ruleset` (borrowed) for ME; rule_id and sound are
 * copied, as they are borrowed from the rule set. */
static struct push_result eval_with(const json_t *ruleset, json_t *ev, const struct push_ctx *c)
{
    static char id[128], sound[64];
    struct push_result r;
    CHECK_INT(push_eval(ruleset, ev, c, &r), 0);
    snprintf(id, sizeof id, "%s", r.rule_id ? r.rule_id : "");
    snprintf(sound, sizeof sound, "%s", r.sound ? r.sound : "");
    r.rule_id = id;
    r.sound = sound;
    json_decref(ev);
    return r;
}

/* The same with the predefined rules, `members` joined and the display name "Alice". */
static struct push_result eval(json_t *ev, int64_t members)
{
    json_t *rules = push_default_ruleset(ME);
    struct push_ctx c = {.user_id = ME, .display_name = "Alice", .member_count = members};
    struct push_result r = eval_with(rules, ev, &c);
    json_decref(rules);
    return r;
}

/* Does the single condition `cond` (stolen) hold for `ev` (stolen) under ctx? */
static bool holds(json_t *cond, json_t *ev, const struct push_ctx *c)
{
    json_t *rules =
        json_pack("{s:{s:[{s:s,s:b,s:b,s:[o],s:[s]}]}}", "global", "override", "rule_id", "t",
                  "default", 0, "enabled", 1, "conditions", cond, "actions", "notify");
    struct push_ctx me = {.user_id = ME};
    struct push_result r = eval_with(rules, ev, c ? c : &me);
    json_decref(rules);
    return r.notify;
}

static bool glob(const char *key, const char *pattern, json_t *ev)
{
    return holds(json_pack("{s:s,s:s,s:s}", "kind", "event_match", "key", key, "pattern", pattern),
                 ev, NULL);
}

static json_t *topic(const char *t)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "m.room.topic", "sender", BOB, "state_key",
                     "", "content", "topic", t);
}

/* push_put_rule with a body written as J() text. */
static enum push_status put(json_t *store, const char *kind, const char *id, const char *body,
                            const char *before, const char *after)
{
    json_t *b = J(body);
    const char *err = NULL;
    enum push_status st = push_put_rule(store, kind, id, b, before, after, &err);
    if ((st == PUSH_OK) != (err == NULL))
        UNIT_FAIL("push_put_rule %s: status %d, error \"%s\"", id, (int)st, err ? err : "");
    json_decref(b);
    return st;
}

TEST(predefined_rules_in_spec_order)
{
    static const char *const override[] = {".m.rule.master",          ".m.rule.suppress_notices",
                                           ".m.rule.invite_for_me",   ".m.rule.member_event",
                                           ".m.rule.is_user_mention", ".m.rule.is_room_mention",
                                           ".m.rule.tombstone",       ".m.rule.reaction",
                                           ".m.rule.room.server_acl", ".m.rule.suppress_edits"};
    static const char *const underride[] = {".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                                            ".m.rule.room_one_to_one", ".m.rule.message",
                                            ".m.rule.encrypted"};
    json_t *rules = push_default_ruleset(ME);
    json_t *g = json_object_get(rules, "global");
    CHECK_INT(json_object_size(g), 5);
    CHECK_INT(json_array_size(json_object_get(g, "override")), 10);
    CHECK_INT(json_array_size(json_object_get(g, "content")), 0); /* v1.17 removed the one */
    CHECK_INT(json_array_size(json_object_get(g, "room")), 0);
    CHECK_INT(json_array_size(json_object_get(g, "sender")), 0);
    CHECK_INT(json_array_size(json_object_get(g, "underride")), 5);
    for (size_t i = 0; i < 10; i++) {
        json_t *r = json_array_get(json_object_get(g, "override"), i);
        CHECK_STR(json_string_value(json_object_get(r, "rule_id")), override[i]);
        CHECK(json_is_true(json_object_get(r, "default")));
        CHECK(json_is_boolean(json_object_get(r, "enabled")));
        CHECK(json_is_array(json_object_get(r, "conditions")));
        CHECK(json_is_array(json_object_get(r, "actions")));
    }
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get(json_object_get(g, "underride"), i);
        CHECK_STR(json_string_value(json_object_get(r, "rule_id")), underride[i]);
        CHECK(json_is_true(json_object_get(r, "enabled")));
    }
    /* the master rule is disabled; the user's ID is filled in */
    json_t *master = json_array_get(json_object_get(g, "override"), 0);
    CHECK(json_is_false(json_object_get(master, "enabled")));
    const json_t *invite = push_find_rule(rules, "override", ".m.rule.invite_for_me");
    json_t *want = J("[{'key':'type','kind':'event_match','pattern':'m.room.member'},"
                     "{'key':'content.membership','kind':'event_match','pattern':'invite'},"
                     "{'key':'state_key','kind':'event_match','pattern':'@alice:example.org'}]");
    CHECK(json_equal(json_object_get(invite, "conditions"), want));
    json_decref(want);
    const json_t *mention = push_find_rule(rules, "override", ".m.rule.is_user_mention");
    want = J("{'rule_id':'.m.rule.is_user_mention','default':true,'enabled':true,"
             "'conditions':[{'kind':'event_property_contains',"
             "'key':'content.m\\\\.mentions.user_ids','value':'@alice:example.org'}],"
             "'actions':['notify',{'set_tweak':'sound','value':'default'},"
             "{'set_tweak':'highlight'}]}");
    CHECK(json_equal(mention, want));
    json_decref(want);
    CHECK(push_find_rule(rules, "override", ".m.rule.contains_display_name") == NULL);
    CHECK(push_find_rule(rules, "override", ".m.rule.roomnotif") == NULL);
    CHECK(push_find_rule(rules, "nonsense", ".m.rule.master") == NULL);
    json_decref(rules);
    CHECK(push_default_ruleset("alice") == NULL);
    CHECK(push_default_ruleset("@alice") == NULL);
    CHECK(push_default_ruleset(NULL) == NULL);
}

TEST(event_match_globs)
{
    /* the spec's example: "lunc?*" on content.topic */
    CHECK(glob("content.topic", "lunc?*", topic("Lunch plans")));
    CHECK(glob("content.topic", "lunc?*", topic("LUNCH")));
    CHECK(!glob("content.topic", "lunc?*", topic(" lunch")));
    CHECK(!glob("content.topic", "lunc?*", topic("lunc")));
    CHECK(!glob("content.topic", "*", J("{'type':'m.room.topic','content':{'topic':null}}")));
    CHECK(!glob("content.topic", "*", J("{'type':'m.room.topic','content':{}}")));
    CHECK(!glob("content.topic", "1", J("{'content':{'topic':1}}")));
    CHECK(glob("content.topic", "*", topic("")));
    CHECK(glob("state_key", "", topic("x")));
    CHECK(!glob("state_key", "", message(BOB, "x"))); /* no state_key at all */
    /* the whole value, anchored at both ends */
    CHECK(!glob("type", "m.room", topic("x")));
    CHECK(glob("type", "m.room.*", topic("x")));
    CHECK(glob("type", "*.topic", topic("x")));
    CHECK(glob("type", "m?room?topic", topic("x")));
    CHECK(!glob("type", "m?room?topi", topic("x")));
    CHECK(glob("type", "**m**.*t*c", topic("x")));
    CHECK(glob("content.topic", "caf?", topic("Caf\xc3\xa9"))); /* ? is a code point */
    CHECK(glob("content.topic", "\xc3\x9c*",
               topic("\xc3\xbc"
                     "ber"))); /* Ü folds to ü */
    /* plain ASCII patterns (the fast path) and what it must leave to case folding */
    CHECK(glob("type", "M.ROOM.TOPIC", topic("x")));
    CHECK(!glob("type", "m.room.topics", topic("x")));
    CHECK(!glob("type", "m.room.topi", topic("x")));
    CHECK(glob("content.topic", "lunch", topic("LUNCH")));
    CHECK(!glob("content.topic", "lunch", topic("lunch\xc3\xa9")));
    CHECK(glob("content.topic", "*a*a*a*a*a*a*b", topic("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab")));
    CHECK(!glob("content.topic", "*a*a*a*a*a*a*b", topic("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")));
    /* a long pattern takes the heap path */
    char big[400];
    memset(big, '?', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[400];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    CHECK(glob("content.topic", big, topic(text)));
    big[0] = 'y';
    CHECK(!glob("content.topic", big, topic(text)));
}

TEST(event_match_body_words)
{
    /* the spec's example: "ex*ple" on content.body */
    CHECK(glob("content.body", "ex*ple", message(BOB, "An example event.")));
    CHECK(glob("content.body", "ex*ple", message(BOB, "exple")));
    CHECK(glob("content.body", "ex*ple", message(BOB, "An exciting triple-whammy")));
    CHECK(!glob("content.body", "ex*ple", message(BOB, "An examples event")));
    CHECK(!glob("content.body", "ex*ple", message(BOB, "anexample")));
    CHECK(glob("content.body", "cake", message(BOB, "the CAKE is a lie")));
    CHECK(!glob("content.body", "cake", message(BOB, "cakes")));
    CHECK(!glob("content.body", "cake", message(BOB, "pancake")));
    CHECK(!glob("content.body", "cake", message(BOB, "cake_walk"))); /* _ is a word char */
    CHECK(glob("content.body", "@room", message(BOB, "hey @room!")));
    CHECK(glob("content.body", "c?ke", message(BOB, "(coke)")));
    /* other keys match the whole value, never words */
    CHECK(!glob("content.msgtype", "text", message(BOB, "x")));
}

TEST(event_property_is_and_contains)
{
    json_t *create = J("{'type':'m.room.create','state_key':'','sender':'@bob:example.org',"
                       "'content':{'creator':'@bob:example.org','m.federate':true,"
                       "'room_version':'1','n':5,'nothing':null,'obj':{},"
                       "'alt_aliases':['#somewhere:example.org','#myroom:example.com',5,true,"
                       "null,{}]}}");
#define IS(key, value)                                                                             \
    holds(J("{'kind':'event_property_is','key':'" key "','value':" value "}"),                     \
          json_deep_copy(create), NULL)
#define CONTAINS(key, value)                                                                       \
    holds(J("{'kind':'event_property_contains','key':'" key "','value':" value "}"),               \
          json_deep_copy(create), NULL)
    CHECK(IS("content.m\\\\.federate", "true"));
    CHECK(!IS("content.m\\\\.federate", "'true'")); /* no casts */
    CHECK(!IS("content.m\\\\.federate", "1"));
    CHECK(!IS("content.m.federate", "true")); /* unescaped: content.m.federate is a path */
    CHECK(IS("content.room_version", "'1'"));
    CHECK(!IS("content.room_version", "1"));
    CHECK(IS("content.n", "5"));
    CHECK(!IS("content.n", "5.0"));
    CHECK(IS("content.nothing", "null"));
    CHECK(!IS("content.absent", "null"));
    CHECK(!IS("content.obj", "{}")); /* compound values never match */
    CHECK(CONTAINS("content.alt_aliases", "'#myroom:example.com'"));
    CHECK(!CONTAINS("content.alt_aliases", "':example.com'"));
    CHECK(CONTAINS("content.alt_aliases", "5"));
    CHECK(CONTAINS("content.alt_aliases", "true"));
    CHECK(CONTAINS("content.alt_aliases", "null"));
    CHECK(!CONTAINS("content.alt_aliases", "{}"));
    CHECK(!CONTAINS("content.alt_aliases", "'5'"));
    CHECK(!CONTAINS("content.creator", "'@bob:example.org'")); /* not an array */
    CHECK(!CONTAINS("content.absent", "null"));
#undef IS
#undef CONTAINS
    json_decref(create);
}

TEST(escaped_dotted_paths)
{
    json_t *ev = J("{'content':{'m.relates_to':{'rel_type':'m.thread'},'a':{'b':'nested'},"
                   "'a.b':'dotted','m\\\\foo':'backslash','x\\\\y':{'z':'deep'},"
                   "'we\\\\ird':'kept'}}");
    CHECK(glob("content.a.b", "nested", json_deep_copy(ev)));
    CHECK(glob("content.a\\.b", "dotted", json_deep_copy(ev)));
    CHECK(glob("content.m\\.relates_to.rel_type", "m.thread", json_deep_copy(ev)));
    CHECK(!glob("content.m.relates_to.rel_type", "m.thread", json_deep_copy(ev)));
    CHECK(glob("content.m\\\\foo", "backslash", json_deep_copy(ev)));
    CHECK(glob("content.x\\\\y.z", "deep", json_deep_copy(ev)));
    CHECK(glob("content.we\\ird", "kept", json_deep_copy(ev))); /* \i stays as it is */
    CHECK(!glob("content.a", "*", json_deep_copy(ev)));         /* an object, not a string */
    CHECK(!glob("content.a.b.c", "*", json_deep_copy(ev)));
    CHECK(!glob("", "*", json_deep_copy(ev)));
    json_decref(ev);
}

TEST(contains_display_name_words)
{
    struct push_ctx c = {.user_id = ME, .display_name = "Alice"};
#define NAMED(body) holds(J("{'kind':'contains_display_name'}"), message(BOB, body), &c)
    CHECK(NAMED("hi alice!"));
    CHECK(NAMED("ALICE"));
    CHECK(NAMED("Alice: look"));
    CHECK(NAMED("\xe2\x80\x9e"
                "Alice\xe2\x80\x9c")); /* German quotes are boundaries */
    CHECK(!NAMED("malice"));
    CHECK(!NAMED("Alice_"));
    CHECK(!NAMED("Alices"));
    CHECK(!NAMED("Ali ce"));
    c.display_name = "J\xc3\xb6rg";
    CHECK(NAMED("Hallo J\xc3\x96RG,")); /* Ö folds to ö */
    CHECK(!NAMED("J\xc3\xb6rgen"));
    c.display_name = "A*"; /* a display name is literal text */
    CHECK(NAMED("Hi A*!"));
    CHECK(!NAMED("Hi Alice"));
    c.display_name = "";
    CHECK(!NAMED("anything at all"));
    c.display_name = NULL;
    CHECK(!NAMED("anything at all"));
#undef NAMED
    c.display_name = "Alice";
    CHECK(!holds(J("{'kind':'contains_display_name'}"), topic("Alice"), &c)); /* no body */
}

TEST(room_member_count_operators)
{
    static const struct {
        const char *is;
        int64_t count;
        bool want;
    } cases[] = {
        {"2", 2, true},     {"2", 3, false},
        {"==2", 2, true},   {"==2", 1, false},
        {"<2", 1, true},    {"<2", 2, false},
        {">2", 3, true},    {">2", 2, false},
        {"<=2", 2, true},   {"<=2", 3, false},
        {">=2", 2, true},   {">=2", 1, false},
        {"=2", 2, false},   {"", 0, false},
        {"two", 2, false},  {"2x", 2, false},
        {">= 2", 2, false}, {"-1", -1, false},
        {"10", 10, true},   {"99999999999999999999", 2, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct push_ctx c = {.user_id = ME, .member_count = cases[i].count};
        bool got = holds(json_pack("{s:s,s:s}", "kind", "room_member_count", "is", cases[i].is),
                         message(BOB, "x"), &c);
        if (got != cases[i].want)
            UNIT_FAIL("is \"%s\" with %lld members: got %d", cases[i].is, (long long)cases[i].count,
                      got);
    }
    CHECK(!holds(J("{'kind':'room_member_count'}"), message(BOB, "x"), NULL));
}

TEST(sender_notification_permission_levels)
{
    json_t *pl = J("{'users':{'@bob:example.org':50,'@carol:example.org':10},"
                   "'users_default':0}");
    struct push_ctx c = {.user_id = ME, .power_levels = pl};
#define MAY(sender)                                                                                \
    holds(J("{'kind':'sender_notification_permission','key':'room'}"), message(sender, "x"), &c)
    CHECK(MAY(BOB)); /* 50 >= the default 50 */
    CHECK(!MAY("@carol:example.org"));
    CHECK(!MAY("@dave:example.org")); /* users_default 0 */
    json_object_set_new(pl, "notifications", J("{'room':10}"));
    CHECK(MAY("@carol:example.org"));
    CHECK(!MAY("@dave:example.org"));
    json_object_set_new(pl, "users_default", json_integer(20));
    CHECK(MAY("@dave:example.org"));
    json_object_set_new(pl, "notifications", J("{'room':'60'}")); /* string levels (v1-v9) */
    CHECK(!MAY(BOB));
    json_object_set_new(json_object_get(pl, "users"), BOB, json_string("60"));
    CHECK(MAY(BOB));
    /* no power levels: nobody but the creators */
    c.power_levels = NULL;
    CHECK(!MAY(BOB));
    json_t *creators = J("['@bob:example.org']");
    c.creators = creators;
    CHECK(MAY(BOB));
    CHECK(!MAY("@carol:example.org"));
    /* creators (room version 12) beat any required level */
    c.power_levels = J("{'notifications':{'room':1000}}");
    CHECK(MAY(BOB));
    json_decref((json_t *)c.power_levels);
    CHECK(!holds(J("{'kind':'sender_notification_permission'}"), message(BOB, "x"), &c));
#undef MAY
    json_decref(creators);
    json_decref(pl);
}

TEST(unknown_conditions_never_match)
{
    CHECK(!holds(J("{'kind':'org.example.future'}"), message(BOB, "x"), NULL));
    CHECK(!holds(J("{'key':'type','pattern':'*'}"), message(BOB, "x"), NULL));
    CHECK(holds(J("{'kind':'event_match','key':'type','pattern':'*'}"), message(BOB, "x"), NULL));
}

TEST(predefined_outcomes)
{
    struct push_result r = eval(message(BOB, "hello"), 2);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.room_one_to_one");
    CHECK_STR(r.sound, "default");

    r = eval(message(BOB, "hello"), 5);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.message");
    CHECK_STR(r.sound, "");

    r = eval(J("{'type':'m.room.encrypted','sender':'@bob:example.org','content':{}}"), 2);
    CHECK_STR(r.rule_id, ".m.rule.encrypted_room_one_to_one");
    CHECK_STR(r.sound, "default");
    r = eval(J("{'type':'m.room.encrypted','sender':'@bob:example.org','content':{}}"), 3);
    CHECK(r.notify);
    CHECK_STR(r.rule_id, ".m.rule.encrypted");

    r = eval(J("{'type':'m.call.invite','sender':'@bob:example.org','content':{}}"), 2);
    CHECK_STR(r.rule_id, ".m.rule.call");
    CHECK_STR(r.sound, "ring");

    /* notices, reactions, edits, ACLs, other members' events: matched, silent */
    r = eval(J("{'type':'m.room.message','sender':'@bob:example.org',"
               "'content':{'msgtype':'m.notice','body':'bot'}}"),
             2);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, ".m.rule.suppress_notices");
    r = eval(J("{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':"
               "'m.text','body':'* fixed','m.relates_to':{'rel_type':'m.replace',"
               "'event_id':'$e'}}}"),
             2);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, ".m.rule.suppress_edits");
    r = eval(J("{'type':'m.reaction','sender':'@bob:example.org','content':{}}"), 2);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, ".m.rule.reaction");
    r = eval(J("{'type':'m.room.server_acl','state_key':'','sender':'@bob:example.org',"
               "'content':{}}"),
             2);
    CHECK_STR(r.rule_id, ".m.rule.room.server_acl");
    r = eval(J("{'type':'m.room.member','state_key':'@bob:example.org',"
               "'sender':'@bob:example.org','content':{'membership':'join'}}"),
             2);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, ".m.rule.member_event");

    /* an invite for me, a tombstone (state only), an unmatched event */
    r = eval(J("{'type':'m.room.member','state_key':'@alice:example.org',"
               "'sender':'@bob:example.org','content':{'membership':'invite'}}"),
             2);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.invite_for_me");
    r = eval(J("{'type':'m.room.tombstone','state_key':'','sender':'@bob:example.org',"
               "'content':{}}"),
             9);
    CHECK(r.notify && r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.tombstone");
    r = eval(J("{'type':'m.room.tombstone','sender':'@bob:example.org','content':{}}"), 9);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, "");
    r = eval(J("{'type':'m.room.topic','state_key':'','sender':'@bob:example.org',"
               "'content':{'topic':'t'}}"),
             2);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, "");
}

TEST(mentions)
{
    /* m.mentions.user_ids highlights; a display name in the body no longer does (v1.17) */
    struct push_result r = eval(
        J("{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':'m.text',"
          "'body':'hi','m.mentions':{'user_ids':['@carol:example.org','@alice:example.org']}}}"),
        5);
    CHECK(r.notify && r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.is_user_mention");
    CHECK_STR(r.sound, "default");
    r = eval(J("{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':"
               "'m.text','body':'hi','m.mentions':{'user_ids':['@carol:example.org']}}}"),
             5);
    CHECK(r.notify && !r.highlight);
    r = eval(message(BOB, "Alice, @room: @alice:example.org"), 5);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.message");

    /* a room mention needs the sender's notifications.room level */
    json_t *rules = push_default_ruleset(ME);
    json_t *pl = J("{'users':{'@bob:example.org':50}}");
    struct push_ctx c = {.user_id = ME, .member_count = 5, .power_levels = pl};
#define ROOM_MENTION(sender)                                                                       \
    J("{'type':'m.room.message','sender':'" sender "','content':{'msgtype':'m.text',"              \
      "'body':'all','m.mentions':{'room':true}}}")
    r = eval_with(rules, ROOM_MENTION("@bob:example.org"), &c);
    CHECK(r.notify && r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.is_room_mention");
    CHECK_STR(r.sound, "");
    r = eval_with(rules, ROOM_MENTION("@carol:example.org"), &c);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.message");
#undef ROOM_MENTION
    json_decref(pl);
    json_decref(rules);
}

/* The shared predefined rules (push_predefined) decide exactly as a user's own copy does,
 * with the user's ID taken from the context. */
TEST(shared_template_decides_like_a_copy)
{
    const char *events[] = {
        "{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':'m.text',"
        "'body':'hi','m.mentions':{'user_ids':['@alice:example.org']}}}",
        "{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':'m.text',"
        "'body':'hi','m.mentions':{'user_ids':['@carol:example.org']}}}",
        "{'type':'m.room.member','state_key':'@alice:example.org','sender':'@bob:example.org',"
        "'content':{'membership':'invite'}}",
        "{'type':'m.room.member','state_key':'@carol:example.org','sender':'@bob:example.org',"
        "'content':{'membership':'invite'}}",
        "{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':'m.text',"
        "'body':'@alice:example.org'}}",
    };
    const char *users[] = {ME, "@carol:example.org"};
    const json_t *shared = push_predefined();
    CHECK(shared != NULL);
    for (size_t u = 0; u < 2; u++) {
        json_t *own = push_default_ruleset(users[u]);
        struct push_ctx c = {.user_id = users[u], .member_count = 5};
        for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
            struct push_result a = eval_with(own, J(events[i]), &c);
            char a_id[128];
            snprintf(a_id, sizeof a_id, "%s", a.rule_id);
            struct push_result b = eval_with(shared, J(events[i]), &c);
            CHECK(a.notify == b.notify && a.highlight == b.highlight);
            CHECK_STR(b.rule_id, a_id);
        }
        json_decref(own);
    }
    /* the mention of alice highlights for alice only, through the shared rules */
    struct push_ctx alice = {.user_id = ME, .member_count = 5};
    struct push_result r = eval_with(shared, J(events[0]), &alice);
    CHECK(r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.is_user_mention");
    struct push_ctx carol = {.user_id = "@carol:example.org", .member_count = 5};
    r = eval_with(shared, J(events[0]), &carol);
    CHECK(!r.highlight);
    r = eval_with(shared, J(events[3]), &carol);
    CHECK_STR(r.rule_id, ".m.rule.invite_for_me");
}

/* Issue 13: what an evaluation read of the user, so room_push.c can evaluate the shared rules
 * once for nobody in particular: a join and a plain message read nothing of the user, an
 * invite only the state_key, a mention or a user's contains_display_name the user. */
TEST(reads_of_the_user)
{
    const json_t *shared = push_predefined();
    struct push_ctx nobody = {.member_count = 5};
    struct push_result r = eval_with(
        shared,
        J("{'type':'m.room.member','state_key':'@carol:example.org','sender':"
          "'@carol:example.org','content':{'membership':'join','displayname':'Carol'}}"),
        &nobody);
    CHECK(!r.notify && r.reads == 0);
    CHECK_STR(r.rule_id, ".m.rule.member_event");
    r = eval_with(shared, message(BOB, "hello"), &nobody);
    CHECK(r.notify && r.reads == 0);
    r = eval_with(shared,
                  J("{'type':'m.room.member','state_key':'@carol:example.org','sender':"
                    "'@bob:example.org','content':{'membership':'invite'}}"),
                  &nobody);
    CHECK(!r.notify && r.reads == PUSH_READ_STATE_KEY);
    r = eval_with(shared,
                  J("{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':"
                    "'m.text','body':'hi','m.mentions':{'user_ids':['@carol:example.org']}}}"),
                  &nobody);
    CHECK((r.reads & PUSH_READ_USER) != 0);
    json_t *store = J("{'override':[{'rule_id':'n','enabled':true,'actions':['notify'],"
                      "'conditions':[{'kind':'contains_display_name'}]}]}");
    json_t *own = push_merge(store, ME);
    json_decref(store);
    r = eval_with(own, message(BOB, "hello"), &nobody);
    CHECK((r.reads & PUSH_READ_USER) != 0);
    json_decref(own);
    /* who might an invite's state_key match: the invitee, in any case, and glob-like IDs */
    CHECK(push_user_may_match("@carol:example.org", "@carol:example.org"));
    CHECK(push_user_may_match("@Carol:example.org", "@carol:example.org"));
    CHECK(push_user_may_match("@c*:example.org", "@carol:example.org"));
    CHECK(push_user_may_match("@carol:example.org", "@c\xc3\xa4rol:example.org"));
    CHECK(!push_user_may_match("@dave:example.org", "@carol:example.org"));
}

TEST(own_events_never_notify)
{
    struct push_result r = eval(message(ME, "hello"), 2);
    CHECK(!r.notify && !r.highlight);
    CHECK_STR(r.rule_id, "");
    r = eval(J("{'type':'m.room.message','sender':'@alice:example.org','content':{'msgtype':"
               "'m.text','body':'me','m.mentions':{'user_ids':['@alice:example.org']}}}"),
             5);
    CHECK(!r.notify && !r.highlight);
}

/* The deciding rule's actions and their tweaks (what a notification stores and the push
 * gateway gets): sound and custom tweaks, a valueless tweak as true, highlight left out. */
TEST(tweaks_of_the_deciding_rule)
{
    json_t *rules = push_default_ruleset(ME);
    struct push_ctx c = {.user_id = ME, .display_name = "Alice", .member_count = 2};
    json_t *ev = message(BOB, "hallo");
    struct push_result r;
    CHECK_INT(push_eval(rules, ev, &c, &r), 0);
    CHECK_STR(r.rule_id, ".m.rule.room_one_to_one");
    json_t *t = push_tweaks(r.actions);
    CHECK(t && json_object_size(t) == 1);
    CHECK_STR(json_string_value(json_object_get(t, "sound")), "default");
    json_decref(t);
    c.member_count = 5; /* .m.rule.message: notify, no tweaks */
    CHECK_INT(push_eval(rules, ev, &c, &r), 0);
    CHECK(r.notify && r.actions);
    CHECK(push_tweaks(r.actions) == NULL);
    json_decref(ev);
    ev = message(ME, "own");
    CHECK_INT(push_eval(rules, ev, &c, &r), 0);
    CHECK(r.actions == NULL);
    json_decref(ev);
    json_decref(rules);
    json_t *a = J("['notify',{'set_tweak':'highlight'},{'set_tweak':'x-flash'},"
                  "{'set_tweak':'sound','value':'bell'},'coalesce']");
    t = push_tweaks(a);
    CHECK(t && json_object_size(t) == 2 && json_is_true(json_object_get(t, "x-flash")));
    CHECK_STR(json_string_value(json_object_get(t, "sound")), "bell");
    json_decref(t);
    json_decref(a);
    CHECK(push_tweaks(NULL) == NULL);
}

TEST(evaluation_order_and_actions)
{
    struct push_ctx c = {.user_id = ME, .member_count = 5};
    /* override beats content beats room beats sender beats underride */
    json_t *rules = J("{'global':{"
                      "'underride':[{'rule_id':'u','enabled':true,'conditions':[],"
                      "  'actions':['notify']}],"
                      "'sender':[{'rule_id':'@bob:example.org','enabled':true,"
                      "  'actions':['notify',{'set_tweak':'sound','value':'bob'}]}],"
                      "'room':[{'rule_id':'!r:example.org','enabled':true,'actions':[]}],"
                      "'content':[{'rule_id':'c','enabled':true,'pattern':'tea',"
                      "  'actions':['notify',{'set_tweak':'highlight','value':false}]}],"
                      "'override':[{'rule_id':'o','enabled':true,'conditions':["
                      "  {'kind':'event_match','key':'content.body','pattern':'urgent'}],"
                      "  'actions':['dont_notify','notify',{'set_tweak':'highlight'},"
                      "  {'set_tweak':'sound','value':'bell'},'coalesce']}]}}");
    struct push_result r = eval_with(rules, message(BOB, "urgent tea"), &c);
    CHECK_STR(r.rule_id, "o");
    CHECK(r.notify && r.highlight);
    CHECK_STR(r.sound, "bell");
    r = eval_with(rules, message(BOB, "time for tea"), &c);
    CHECK_STR(r.rule_id, "c");
    CHECK(r.notify && !r.highlight); /* "value": false */
    r = eval_with(rules, message(BOB, "teatime"), &c);
    CHECK_STR(r.rule_id, "!r:example.org");
    CHECK(!r.notify);
    json_t *other_room = message(BOB, "teatime");
    json_object_set_new(other_room, "room_id", json_string("!other:example.org"));
    r = eval_with(rules, other_room, &c);
    CHECK_STR(r.rule_id, "@bob:example.org");
    CHECK_STR(r.sound, "bob");
    other_room = message("@carol:example.org", "x");
    json_object_set_new(other_room, "room_id", json_string("!other:example.org"));
    r = eval_with(rules, other_room, &c);
    CHECK_STR(r.rule_id, "u");
    /* disabled rules never match; the next kind decides */
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(rules, "global"), "override"), 0), "enabled",
        json_false());
    r = eval_with(rules, message(BOB, "urgent tea"), &c);
    CHECK_STR(r.rule_id, "c");
    /* "dont_notify" alone means nothing; tweaks without notify are dropped */
    json_decref(rules);
    rules = J("{'global':{'override':[{'rule_id':'x','enabled':true,'actions':['dont_notify',"
              "{'set_tweak':'highlight'},{'set_tweak':'sound','value':'s'}]}]}}");
    r = eval_with(rules, message(BOB, "x"), &c); /* no conditions: always matches */
    CHECK_STR(r.rule_id, "x");
    CHECK(!r.notify && !r.highlight);
    CHECK_STR(r.sound, "");
    json_decref(rules);
    /* malformed input */
    struct push_result out;
    json_t *ev = message(BOB, "x");
    CHECK_INT(push_eval(NULL, ev, &c, &out), -1);
    rules = J("{'global':[]}");
    CHECK_INT(push_eval(rules, ev, &c, &out), -1);
    CHECK(!out.notify && out.rule_id == NULL);
    json_decref(rules);
    json_decref(ev);
}

TEST(master_rule_silences_everything)
{
    json_t *store = push_store_new();
    CHECK_INT(push_set_enabled(store, "override", ".m.rule.master", true), PUSH_OK);
    CHECK_INT(put(store, "override", "mine", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    json_t *rules = push_merge(store, ME);
    struct push_ctx c = {.user_id = ME, .member_count = 2};
    struct push_result r = eval_with(rules, message(BOB, "hello"), &c);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, ".m.rule.master");
    r = eval_with(rules,
                  J("{'type':'m.room.message','sender':'@bob:example.org','content':{'body':"
                    "'x','m.mentions':{'user_ids':['@alice:example.org']}}}"),
                  &c);
    CHECK(!r.notify && !r.highlight);
    json_decref(rules);
    CHECK_INT(push_set_enabled(store, "override", ".m.rule.master", false), PUSH_OK);
    rules = push_merge(store, ME);
    r = eval_with(rules, message(BOB, "hello"), &c);
    CHECK_STR(r.rule_id, "mine");
    json_decref(rules);
    json_decref(store);
}

/* The rule IDs of `kind` in the merged rule set, comma-separated, predefined ones left out. */
static const char *ids(const json_t *store, const char *kind)
{
    static char buf[512];
    json_t *rules = push_merge(store, ME);
    size_t i, n = 0;
    json_t *r;
    buf[0] = '\0';
    json_array_foreach(json_object_get(json_object_get(rules, "global"), kind), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "rule_id"));
        if (id[0] == '.' && strcmp(id, ".m.rule.master") != 0)
            continue;
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "", id);
        if (w > 0 && (size_t)w < sizeof buf - n)
            n += (size_t)w;
    }
    json_decref(rules);
    return buf;
}

TEST(put_with_before_and_after)
{
    json_t *store = push_store_new();
    CHECK_STR(ids(store, "override"), ".m.rule.master");
    CHECK_INT(put(store, "override", "a", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    CHECK_INT(put(store, "override", "b", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,b,a"); /* new: most important */
    CHECK_INT(put(store, "override", "c", "{'actions':[]}", NULL, "a"), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,b,a,c");
    CHECK_INT(put(store, "override", "d", "{'actions':[]}", "a", NULL), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,b,d,a,c");
    CHECK_INT(put(store, "override", "e", "{'actions':[]}", "b", "c"), PUSH_OK); /* before wins */
    CHECK_STR(ids(store, "override"), ".m.rule.master,e,b,d,a,c");
    /* moving an existing rule; updating one in place keeps its place and enabled state */
    CHECK_INT(put(store, "override", "e", "{'actions':[]}", NULL, "c"), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,b,d,a,c,e");
    CHECK_INT(put(store, "override", "c", "{'actions':[]}", "b", NULL), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,c,b,d,a,e");
    CHECK_INT(push_set_enabled(store, "override", "d", false), PUSH_OK);
    CHECK_INT(put(store, "override", "d",
                  "{'actions':['notify','dont_notify'],'conditions':[{'kind':'event_match',"
                  "'key':'type','pattern':'m.room.message'}]}",
                  NULL, NULL),
              PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,c,b,d,a,e");
    json_t *rules = push_merge(store, ME);
    json_t *want = J("{'rule_id':'d','default':false,'enabled':false,'actions':['notify'],"
                     "'conditions':[{'kind':'event_match','key':'type','pattern':"
                     "'m.room.message'}]}");
    CHECK(json_equal(push_find_rule(rules, "override", "d"), want));
    json_decref(want);
    json_decref(rules);
    /* anchors: unknown, predefined, the rule itself, another kind */
    CHECK_INT(put(store, "override", "f", "{'actions':[]}", "zzz", NULL), PUSH_ANCHOR_NOT_FOUND);
    CHECK_INT(put(store, "override", "f", "{'actions':[]}", NULL, ".m.rule.master"),
              PUSH_ANCHOR_NOT_FOUND);
    CHECK_INT(put(store, "override", "a", "{'actions':[]}", "a", NULL), PUSH_ANCHOR_NOT_FOUND);
    CHECK_INT(put(store, "underride", "f", "{'actions':[]}", "a", NULL), PUSH_ANCHOR_NOT_FOUND);
    CHECK_STR(ids(store, "override"), ".m.rule.master,c,b,d,a,e");
    /* user underride rules precede the predefined ones */
    CHECK_INT(put(store, "underride", "u", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    rules = push_merge(store, ME);
    json_t *under = json_object_get(json_object_get(rules, "global"), "underride");
    CHECK_INT(json_array_size(under), 6);
    CHECK_STR(json_string_value(json_object_get(json_array_get(under, 0), "rule_id")), "u");
    CHECK_STR(json_string_value(json_object_get(json_array_get(under, 1), "rule_id")),
              ".m.rule.call");
    json_decref(rules);
    /* a store that was never written to: the predefined rules only */
    rules = push_merge(NULL, ME);
    json_t *defaults = push_default_ruleset(ME);
    CHECK(json_equal(rules, defaults));
    json_decref(defaults);
    json_decref(rules);
    CHECK(push_merge(store, "nobody") == NULL);
    json_decref(store);
}

TEST(put_validates)
{
    json_t *store = push_store_new();
    const char *err = NULL;
    json_t *body = J("{'actions':['notify']}");
    CHECK_INT(push_put_rule(store, "bogus", "x", body, NULL, NULL, &err), PUSH_INVALID_PARAM);
    CHECK(err != NULL);
    CHECK_INT(push_put_rule(store, "override", ".m.rule.mine", body, NULL, NULL, &err),
              PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "override", "a/b", body, NULL, NULL, &err), PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "override", "a\\b", body, NULL, NULL, &err), PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "override", "", body, NULL, NULL, &err), PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "override", "\xff", body, NULL, NULL, &err), PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "room", "@bob:example.org", body, NULL, NULL, &err),
              PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "sender", "!r:example.org", body, NULL, NULL, &err),
              PUSH_INVALID_PARAM);
    CHECK_INT(push_put_rule(store, "content", "c", body, NULL, NULL, &err), PUSH_BAD_JSON);
    CHECK_STR(err, "a content rule needs a string pattern");
    json_decref(body);
    static const char *const bad[] = {
        "{}",
        "{'actions':'notify'}",
        "{'actions':[1]}",
        "{'actions':[],'conditions':{}}",
        "{'actions':[],'conditions':[1]}",
        "{'actions':[],'conditions':[{'key':'type'}]}",
        "{'actions':[],'conditions':[{'kind':'event_match','key':'type'}]}",
        "{'actions':[],'conditions':[{'kind':'event_property_is','key':'k','value':{}}]}",
        "{'actions':[],'conditions':[{'kind':'room_member_count','is':2}]}",
        "{'actions':[],'conditions':[{'kind':'sender_notification_permission'}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        CHECK_INT(put(store, "override", "x", bad[i], NULL, NULL), PUSH_BAD_JSON);
    }
    CHECK_INT(push_put_rule(store, "override", "x", NULL, NULL, NULL, NULL), PUSH_BAD_JSON);
    CHECK_STR(ids(store, "override"), ".m.rule.master"); /* nothing was stored */
    /* unknown condition kinds are accepted (they never match) */
    CHECK_INT(
        put(store, "override", "x", "{'actions':[],'conditions':[{'kind':'org.x'}]}", NULL, NULL),
        PUSH_OK);
    /* room, sender and content rules, as the API shows them */
    CHECK_INT(put(store, "room", "!r:example.org", "{'actions':[],'conditions':[1]}", NULL, NULL),
              PUSH_OK); /* conditions mean nothing for room rules */
    CHECK_INT(put(store, "sender", BOB, "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    CHECK_INT(
        put(store, "content", "cake", "{'actions':['notify'],'pattern':'cake*lie'}", NULL, NULL),
        PUSH_OK);
    json_t *rules = push_merge(store, ME);
    json_t *want = J("{'rule_id':'cake','default':false,'enabled':true,'actions':['notify'],"
                     "'pattern':'cake*lie'}");
    CHECK(json_equal(push_find_rule(rules, "content", "cake"), want));
    json_decref(want);
    want = J("{'rule_id':'!r:example.org','default':false,'enabled':true,'actions':[]}");
    CHECK(json_equal(push_find_rule(rules, "room", "!r:example.org"), want));
    json_decref(want);
    struct push_ctx c = {.user_id = ME, .member_count = 5};
    struct push_result r = eval_with(rules, message(BOB, "the cake is a lie"), &c);
    CHECK_STR(r.rule_id, "cake");
    r = eval_with(rules, message(BOB, "no"), &c); /* in !r:example.org: the room rule */
    CHECK_STR(r.rule_id, "!r:example.org");
    CHECK(!r.notify);
    json_decref(rules);
    json_decref(store);
}

TEST(delete_enable_and_actions)
{
    json_t *store = push_store_new();
    CHECK_INT(put(store, "override", "a", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    CHECK_INT(put(store, "override", "b", "{'actions':['notify']}", NULL, NULL), PUSH_OK);
    CHECK_INT(push_delete_rule(store, "override", "a"), PUSH_OK);
    CHECK_STR(ids(store, "override"), ".m.rule.master,b");
    CHECK_INT(push_delete_rule(store, "override", "a"), PUSH_NOT_FOUND);
    CHECK_INT(push_delete_rule(store, "underride", "b"), PUSH_NOT_FOUND);
    CHECK_INT(push_delete_rule(store, "override", ".m.rule.master"), PUSH_DEFAULT_RULE);
    CHECK_INT(push_delete_rule(store, "underride", ".m.rule.message"), PUSH_DEFAULT_RULE);
    CHECK_INT(push_delete_rule(store, "override", ".m.rule.message"), PUSH_NOT_FOUND);
    CHECK_INT(push_delete_rule(store, "bogus", "b"), PUSH_INVALID_PARAM);

    /* enabled and actions on user and predefined rules */
    CHECK_INT(push_set_enabled(store, "override", "b", false), PUSH_OK);
    CHECK_INT(push_set_enabled(store, "underride", ".m.rule.message", false), PUSH_OK);
    CHECK_INT(push_set_enabled(store, "override", "nope", false), PUSH_NOT_FOUND);
    CHECK_INT(push_set_enabled(store, "override", ".m.rule.message", false), PUSH_NOT_FOUND);
    CHECK_INT(push_set_enabled(store, "bogus", "b", false), PUSH_INVALID_PARAM);
    json_t *actions = J("['notify',{'set_tweak':'sound','value':'chime'},'coalesce']");
    const char *err = NULL;
    CHECK_INT(push_set_actions(store, "override", ".m.rule.suppress_notices", actions, &err),
              PUSH_OK);
    CHECK_INT(push_set_actions(store, "override", "nope", actions, &err), PUSH_NOT_FOUND);
    json_decref(actions);
    actions = J("{'notify':true}");
    CHECK_INT(push_set_actions(store, "override", "b", actions, &err), PUSH_BAD_JSON);
    CHECK_STR(err, "actions must be an array");
    json_decref(actions);

    json_t *rules = push_merge(store, ME);
    const json_t *notices = push_find_rule(rules, "override", ".m.rule.suppress_notices");
    json_t *want = J("['notify',{'set_tweak':'sound','value':'chime'}]");
    CHECK(json_equal(json_object_get(notices, "actions"), want));
    CHECK(json_is_true(json_object_get(notices, "default")));
    json_decref(want);
    CHECK(json_is_false(
        json_object_get(push_find_rule(rules, "underride", ".m.rule.message"), "enabled")));
    CHECK(json_is_false(json_object_get(push_find_rule(rules, "override", "b"), "enabled")));
    struct push_ctx c = {.user_id = ME, .member_count = 5};
    struct push_result r = eval_with(rules, message(BOB, "hi"), &c);
    CHECK(!r.notify);
    CHECK_STR(r.rule_id, "");
    r = eval_with(rules,
                  J("{'type':'m.room.message','sender':'@bob:example.org','content':{"
                    "'msgtype':'m.notice','body':'bot'}}"),
                  &c);
    CHECK(r.notify);
    CHECK_STR(r.sound, "chime");
    json_decref(rules);

    /* and back */
    CHECK_INT(push_set_enabled(store, "underride", ".m.rule.message", true), PUSH_OK);
    CHECK_INT(push_set_enabled(store, "override", "b", true), PUSH_OK);
    rules = push_merge(store, ME);
    r = eval_with(rules, message(BOB, "hi"), &c);
    CHECK_STR(r.rule_id, "b");
    json_decref(rules);
    json_decref(store);
}

TEST(status_codes)
{
    int http = 0;
    CHECK(push_status_errcode(PUSH_OK, &http) == NULL);
    CHECK_INT(http, 200);
    CHECK_STR(push_status_errcode(PUSH_NOT_FOUND, &http), "M_NOT_FOUND");
    CHECK_INT(http, 404);
    CHECK_STR(push_status_errcode(PUSH_ANCHOR_NOT_FOUND, &http), "M_UNKNOWN");
    CHECK_INT(http, 400);
    CHECK_STR(push_status_errcode(PUSH_BAD_JSON, &http), "M_BAD_JSON");
    CHECK_STR(push_status_errcode(PUSH_INVALID_PARAM, NULL), "M_INVALID_PARAM");
    CHECK_STR(push_status_errcode(PUSH_DEFAULT_RULE, NULL), "M_INVALID_PARAM");
}

/* --- bounds on the cost of a user's rules (issue 17) ------------------------------------- */

/* The reference matcher: does p[0..pn) match s[0..sn) wholly? Plain recursion with a memo
 * over (i, j); ASCII only, case-sensitive (the tests use lower case). */
static int ref_whole(const char *p, size_t pn, const char *s, size_t sn, size_t i, size_t j,
                     signed char *memo)
{
    signed char *m = &memo[i * (sn + 1) + j];
    if (*m >= 0)
        return *m;
    int r;
    if (i == pn)
        r = j == sn;
    else if (p[i] == '*')
        r = ref_whole(p, pn, s, sn, i + 1, j, memo) ||
            (j < sn && ref_whole(p, pn, s, sn, i, j + 1, memo));
    else
        r = j < sn && (p[i] == '?' || p[i] == s[j]) && ref_whole(p, pn, s, sn, i + 1, j + 1, memo);
    return *m = (signed char)r;
}

static bool ref_match(const char *p, const char *s, bool words)
{
    size_t pn = strlen(p), sn = strlen(s);
    signed char *memo = malloc((pn + 1) * (sn + 1));
    bool found = false;
    for (size_t a = 0; a <= sn && !found; a++) {
        if (!words && a > 0)
            break;
        if (words && a > 0 && s[a - 1] != ' ') /* a run starts at a boundary */
            continue;
        for (size_t b = words ? a : sn; b <= sn && !found; b++) {
            if (words && b < sn && s[b] != ' ') /* ... and ends at one */
                continue;
            memset(memo, -1, (pn + 1) * (sn + 1));
            found = ref_whole(p, pn, s + a, b - a, 0, 0, memo);
        }
    }
    free(memo);
    return found;
}

/* Random patterns over {a, b, *, ?} and values over {a, b, space}, up to 150 tokens (three
 * state words): the bit-parallel matcher agrees with the reference, whole and in words. */
TEST(glob_agrees_with_reference)
{
    unsigned seed = 17;
    char p[160], s[200];
    int mismatches = 0;
    for (int t = 0; t < 3000 && mismatches < 5; t++) {
        seed = seed * 1103515245u + 12345u;
        size_t pn = (seed >> 8) % (t % 3 == 0 ? 150 : 12), sn = (seed >> 20) % 40 + pn / 2;
        for (size_t i = 0; i < pn; i++) {
            seed = seed * 1103515245u + 12345u;
            p[i] = "ab*?a*ba"[(seed >> 16) % 8];
        }
        p[pn] = '\0';
        for (size_t i = 0; i < sn; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = "aab b"[(seed >> 16) % 5];
        }
        s[sn] = '\0';
        bool whole = glob("content.topic", p, topic(s));
        bool words = glob("content.body", p, message(BOB, s));
        if (whole != ref_match(p, s, false) || words != ref_match(p, s, true)) {
            UNIT_FAIL("pattern \"%s\" value \"%s\": whole %d words %d", p, s, whole, words);
            mismatches++;
        }
    }
}

/* The budget's cost per character grows with the pattern's words of state: a long pattern
 * matches across word boundaries of the state vector. */
TEST(glob_long_patterns)
{
    char p[PUSH_PATTERN_MAX + 1], s[1000];
    memset(p, 'x', PUSH_PATTERN_MAX);
    p[PUSH_PATTERN_MAX] = '\0';
    p[0] = '*';
    p[200] = '?';
    p[PUSH_PATTERN_MAX - 1] = '*';
    memset(s, 'x', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    CHECK(glob("content.topic", p, topic(s)));
    CHECK(glob("content.body", p, message(BOB, s)));
    s[500] = 'y'; /* fits the ? of the window that starts at 301 */
    CHECK(glob("content.topic", p, topic(s)));
    s[PUSH_PATTERN_MAX - 1] = '\0'; /* two windows left (at 0 and 1): y at 300 fits neither */
    s[500] = 'x';
    s[300] = 'y';
    CHECK(!glob("content.topic", p, topic(s)));
    CHECK(!glob("content.body", p, message(BOB, s)));
    s[200] = 'y'; /* now the window at 1 has y under its ? ... */
    s[300] = 'x';
    CHECK(glob("content.topic", p, topic(s)));
    s[PUSH_PATTERN_MAX - 2] = 'y'; /* ... but not at its last literal x */
    CHECK(!glob("content.topic", p, topic(s)));
    CHECK(glob("content.topic", "\xc3\xa9*\xc3\x89?\xc3\xa9",
               topic("\xc3\x89x\xc3\xa9\xc3\xa9\xc3\x89")));
    CHECK(
        !glob("content.topic", "\xc3\xa9*\xc3\x89?\xc3\xa9", topic("\xc3\x89x\xc3\xa9\xc3\xa9y")));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rule of the issue: "a*" 100,000 times against a 60,000-byte body of 'a's took seconds
 * per evaluation. A stored rule beyond today's bounds (written before them) costs at most the
 * budget: evaluation ends quickly, the unfinished glob does not match and the predefined rules
 * still decide. */
TEST(pathological_glob_is_bounded)
{
    size_t pn = 200000, sn = 60000;
    char *p = malloc(pn + 1), *s = malloc(sn + 1);
    for (size_t i = 0; i < pn; i += 2) {
        p[i] = 'a';
        p[i + 1] = '*';
    }
    p[pn - 1] = 'b'; /* never matches: the NFA runs through the whole body */
    p[pn] = '\0';
    memset(s, 'a', sn);
    s[sn] = '\0';
    json_t *store = push_store_new();
    json_t *rule = json_pack("{s:s,s:b,s:[s],s:s}", "rule_id", "k", "enabled", 1, "actions",
                             "notify", "pattern", p);
    json_array_append_new(json_object_get(store, "content"), rule);
    json_t *over = json_pack("{s:s,s:b,s:[s],s:[{s:s,s:s,s:s}]}", "rule_id", "o", "enabled", 1,
                             "actions", "notify", "conditions", "kind", "event_match", "key",
                             "content.body", "pattern", p);
    for (int i = 0; i < 3; i++)
        json_array_append(json_object_get(store, "override"), over);
    json_decref(over);
    json_t *rules = push_merge(store, ME);
    struct push_ctx c = {.user_id = ME, .display_name = "Alice", .member_count = 3};
    double t0 = now_s();
    struct push_result r = eval_with(rules, message(BOB, s), &c);
    double took = now_s() - t0;
    CHECK(took < 1.0); /* ASan build; ~0.02 s measured; minutes without the bounds */
    CHECK_STR(r.rule_id, ".m.rule.message"); /* the globs gave up, the predefined rule decides */
    json_decref(rules);
    json_decref(store);
    free(p);
    free(s);
}

TEST(put_bounds)
{
    json_t *store = push_store_new();
    char body[PUSH_PATTERN_MAX + 100];
    char pat[PUSH_PATTERN_MAX + 2];
    memset(pat, 'a', sizeof pat - 1);
    pat[sizeof pat - 1] = '\0';
    snprintf(body, sizeof body, "{'actions':['notify'],'pattern':'%s'}", pat);
    CHECK_INT(put(store, "content", "c", body, NULL, NULL), PUSH_TOO_LARGE);
    snprintf(body, sizeof body,
             "{'actions':['notify'],'conditions':[{'kind':'event_match','key':'content.body',"
             "'pattern':'%s'}]}",
             pat);
    CHECK_INT(put(store, "override", "o", body, NULL, NULL), PUSH_TOO_LARGE);
    pat[PUSH_PATTERN_MAX] = '\0'; /* exactly the limit */
    snprintf(body, sizeof body, "{'actions':['notify'],'pattern':'%s'}", pat);
    CHECK_INT(put(store, "content", "c", body, NULL, NULL), PUSH_OK);
    char conds[1500];
    size_t n = (size_t)snprintf(conds, sizeof conds, "{'actions':[],'conditions':[");
    for (int i = 0; i <= PUSH_CONDITIONS_MAX; i++)
        n += (size_t)snprintf(conds + n, sizeof conds - n, "%s{'kind':'org.x'}", i ? "," : "");
    snprintf(conds + n, sizeof conds - n, "]}");
    CHECK_INT(put(store, "override", "o", conds, NULL, NULL), PUSH_TOO_LARGE);
    /* the rule count: replacing an existing rule is always allowed */
    json_t *b = J("{'actions':['notify'],'pattern':'w'}");
    char id[32];
    for (int i = 1; i < PUSH_RULES_MAX; i++) {
        snprintf(id, sizeof id, "r%d", i);
        CHECK_INT(push_put_rule(store, "content", id, b, NULL, NULL, NULL), PUSH_OK);
    }
    const char *err = NULL;
    CHECK_INT(push_put_rule(store, "room", "!one:example.org", b, NULL, NULL, &err),
              PUSH_TOO_LARGE);
    CHECK(err && strstr(err, "too many"));
    CHECK_INT(push_put_rule(store, "content", "r7", b, NULL, NULL, NULL), PUSH_OK);
    CHECK_INT(push_delete_rule(store, "content", "r7"), PUSH_OK);
    CHECK_INT(push_put_rule(store, "room", "!one:example.org", b, NULL, NULL, NULL), PUSH_OK);
    json_decref(b);
    int http = 0;
    CHECK_STR(push_status_errcode(PUSH_TOO_LARGE, &http), "M_TOO_LARGE");
    CHECK_INT(http, 400);
    json_decref(store);
}

int main(void)
{
    RUN(predefined_rules_in_spec_order);
    RUN(event_match_globs);
    RUN(event_match_body_words);
    RUN(event_property_is_and_contains);
    RUN(escaped_dotted_paths);
    RUN(contains_display_name_words);
    RUN(room_member_count_operators);
    RUN(sender_notification_permission_levels);
    RUN(unknown_conditions_never_match);
    RUN(predefined_outcomes);
    RUN(mentions);
    RUN(shared_template_decides_like_a_copy);
    RUN(reads_of_the_user);
    RUN(own_events_never_notify);
    RUN(evaluation_order_and_actions);
    RUN(tweaks_of_the_deciding_rule);
    RUN(master_rule_silences_everything);
    RUN(put_with_before_and_after);
    RUN(put_validates);
    RUN(delete_enable_and_actions);
    RUN(status_codes);
    RUN(glob_agrees_with_reference);
    RUN(glob_long_patterns);
    RUN(pathological_glob_is_bounded);
    RUN(put_bounds);
    return unit_done();
}
