/* pushrule_test.c - the predefined push rules and their evaluation. */
#include "server/pushrule.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit.h"

#define ME "@alice:example.org"

static json_t *msg(const char *sender, const char *body)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "type", "m.room.message", "sender", sender,
                     "room_id", "!r:example.org", "content", "msgtype", "m.text", "body", body);
}

static struct pushrule_result eval(json_t *ev, int64_t members, const char *name,
                                   const json_t *pl)
{
    json_t *rules = pushrule_defaults(ME);
    struct pushrule_ctx ctx = {ME, name, members, pl};
    struct pushrule_result r;
    CHECK_INT(pushrule_eval(rules, ev, &ctx, &r), 0);
    /* rule_id and sound are borrowed from the rule set: keep copies */
    static char id[128], snd[64];
    snprintf(id, sizeof id, "%s", r.rule_id ? r.rule_id : "");
    snprintf(snd, sizeof snd, "%s", r.sound ? r.sound : "");
    r.rule_id = id;
    r.sound = snd;
    json_decref(rules);
    json_decref(ev);
    return r;
}

TEST(defaults_shape)
{
    json_t *rules = pushrule_defaults(ME);
    json_t *g = json_object_get(rules, "global");
    CHECK_INT((int)json_array_size(json_object_get(g, "override")), 12);
    CHECK_INT((int)json_array_size(json_object_get(g, "content")), 1);
    CHECK_INT((int)json_array_size(json_object_get(g, "underride")), 5);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(g, "override"), 0),
                                                "rule_id")),
              ".m.rule.master");
    CHECK(json_is_false(
        json_object_get(json_array_get(json_object_get(g, "override"), 0), "enabled")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(g, "content"), 0),
                                                "pattern")),
              "alice");
    CHECK(pushrule_defaults("nobody") == NULL);
    json_decref(rules);
}

TEST(messages_notify_own_do_not)
{
    struct pushrule_result r = eval(msg("@bob:example.org", "hello"), 5, "Alice", NULL);
    CHECK(r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.message");
    r = eval(msg(ME, "hello"), 5, "Alice", NULL);
    CHECK(!r.notify);
}

TEST(one_to_one_has_sound)
{
    struct pushrule_result r = eval(msg("@bob:example.org", "hi"), 2, NULL, NULL);
    CHECK(r.notify);
    CHECK_STR(r.rule_id, ".m.rule.room_one_to_one");
    CHECK_STR(r.sound, "default");
}

TEST(display_name_words)
{
    CHECK(eval(msg("@bob:example.org", "hi Alice!"), 5, "Alice", NULL).highlight);
    CHECK(eval(msg("@bob:example.org", "ALICE, look"), 5, "Alice", NULL).highlight);
    CHECK(!eval(msg("@bob:example.org", "malice aforethought"), 5, "Bobby", NULL).highlight);
    /* the localpart content rule: "alice" as a word */
    CHECK(eval(msg("@bob:example.org", "ask alice"), 5, NULL, NULL).highlight);
    CHECK(!eval(msg("@bob:example.org", "malice"), 5, NULL, NULL).highlight);
}

TEST(mentions_replace_legacy_rules)
{
    json_t *ev = msg("@bob:example.org", "hi alice");
    json_object_set_new(json_object_get(ev, "content"), "m.mentions", json_pack("{s:[]}", "user_ids"));
    struct pushrule_result r = eval(ev, 5, "alice", NULL);
    CHECK(r.notify && !r.highlight); /* body names alice, but m.mentions does not */
    ev = msg("@bob:example.org", "hi");
    json_object_set_new(json_object_get(ev, "content"), "m.mentions",
                        json_pack("{s:[s]}", "user_ids", ME));
    r = eval(ev, 5, NULL, NULL);
    CHECK(r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.is_user_mention");
}

TEST(room_mention_needs_power)
{
    json_t *pl = json_pack("{s:{s:i},s:i}", "users", "@boss:example.org", 100, "users_default", 0);
    json_t *ev = msg("@bob:example.org", "@room hello");
    CHECK(!eval(ev, 5, NULL, pl).highlight);
    ev = msg("@boss:example.org", "@room hello");
    CHECK(eval(ev, 5, NULL, pl).highlight);
    ev = msg("@boss:example.org", "x");
    json_object_set_new(json_object_get(ev, "content"), "m.mentions", json_pack("{s:b}", "room", 1));
    struct pushrule_result r = eval(ev, 5, NULL, pl);
    CHECK_STR(r.rule_id, ".m.rule.is_room_mention");
    CHECK(r.highlight);
    json_decref(pl);
}

TEST(suppressed_kinds)
{
    json_t *ev = msg("@bob:example.org", "bot says");
    json_object_set_new(json_object_get(ev, "content"), "msgtype", json_string("m.notice"));
    CHECK(!eval(ev, 5, NULL, NULL).notify);
    ev = msg("@bob:example.org", "* edit");
    json_object_set_new(json_object_get(ev, "content"), "m.relates_to",
                        json_pack("{s:s,s:s}", "rel_type", "m.replace", "event_id", "$x"));
    CHECK(!eval(ev, 5, NULL, NULL).notify);
    CHECK(!eval(json_pack("{s:s,s:s,s:{}}", "type", "m.reaction", "sender", "@bob:example.org",
                          "content"),
                5, NULL, NULL)
               .notify);
    CHECK(!eval(json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "m.room.member", "sender",
                          "@bob:example.org", "state_key", "@bob:example.org", "content",
                          "membership", "join"),
                5, NULL, NULL)
               .notify);
}

TEST(invite_for_me)
{
    struct pushrule_result r =
        eval(json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "m.room.member", "sender",
                       "@bob:example.org", "state_key", ME, "content", "membership", "invite"),
             2, NULL, NULL);
    CHECK(r.notify);
    CHECK_STR(r.rule_id, ".m.rule.invite_for_me");
}

TEST(master_rule_silences)
{
    json_t *rules = pushrule_defaults(ME);
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(rules, "global"), "override"), 0),
        "enabled", json_true());
    struct pushrule_ctx ctx = {ME, "Alice", 2, NULL};
    struct pushrule_result r;
    json_t *ev = msg("@bob:example.org", "Alice!");
    CHECK_INT(pushrule_eval(rules, ev, &ctx, &r), 0);
    CHECK(!r.notify && !r.highlight);
    CHECK_STR(r.rule_id, ".m.rule.master");
    json_decref(ev);
    json_decref(rules);
}

TEST(glob_and_member_count)
{
    CHECK(pushrule_glob("m.room.*", "m.room.message"));
    CHECK(pushrule_glob("M.ROOM.MESS?GE", "m.room.message"));
    CHECK(!pushrule_glob("m.room", "m.room.message"));
    CHECK(pushrule_glob("*", ""));
    json_t *rules = json_pack("{s:{s:[{s:s,s:b,s:[{s:s,s:s}],s:[s]}]}}", "global", "override",
                              "rule_id", "x", "enabled", 1, "conditions", "kind",
                              "room_member_count", "is", ">=3", "actions", "notify");
    struct pushrule_ctx ctx = {ME, NULL, 3, NULL};
    struct pushrule_result r;
    json_t *ev = msg("@bob:example.org", "x");
    pushrule_eval(rules, ev, &ctx, &r);
    CHECK(r.notify);
    ctx.member_count = 2;
    pushrule_eval(rules, ev, &ctx, &r);
    CHECK(!r.notify);
    /* an unknown condition kind never matches */
    json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(
                                                           json_object_get(rules, "global"),
                                                           "override"),
                                                       0),
                                                   "conditions"),
                                       0),
                        "kind", json_string("org.example.future"));
    ctx.member_count = 3;
    pushrule_eval(rules, ev, &ctx, &r);
    CHECK(!r.notify);
    json_decref(ev);
    json_decref(rules);
}

TEST(escaped_keys)
{
    json_t *rules = json_pack("{s:{s:[{s:s,s:b,s:[{s:s,s:s,s:s}],s:[s]}]}}", "global",
                              "override", "rule_id", "x", "enabled", 1, "conditions", "kind",
                              "event_match", "key", "content.a\\.b.c", "pattern", "yes",
                              "actions", "notify");
    json_t *ev = json_pack("{s:s,s:s,s:{s:{s:s}}}", "type", "t", "sender", "@bob:example.org",
                           "content", "a.b", "c", "yes");
    struct pushrule_ctx ctx = {ME, NULL, 3, NULL};
    struct pushrule_result r;
    pushrule_eval(rules, ev, &ctx, &r);
    CHECK(r.notify);
    json_decref(ev);
    json_decref(rules);
}

int main(void)
{
    RUN(defaults_shape);
    RUN(messages_notify_own_do_not);
    RUN(one_to_one_has_sound);
    RUN(display_name_words);
    RUN(mentions_replace_legacy_rules);
    RUN(room_mention_needs_power);
    RUN(suppressed_kinds);
    RUN(invite_for_me);
    RUN(master_rule_silences);
    RUN(glob_and_member_count);
    RUN(escaped_keys);
    return unit_done();
}
