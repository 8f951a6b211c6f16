/* stateres_test.c - state resolution on hand-built forked DAGs: the classic cases (a ban
 * racing a power level change, a join racing a join-rule change, conflicting topics ordered
 * by the mainline and timestamps), version 1's depth ordering, version 12's changed start
 * (v2.1), determinism under reordering, and a few hundred random forks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/stateres.h"
#include "server/statemap.h"
#include "tests/unit.h"

static json_t *events; /* event ID -> PDU */
static int64_t clock_ms = 1000;

static const json_t *fetch(void *ctx, const char *id)
{
    return json_object_get(events, id);
}

static const struct stateres_ops ops = {fetch, NULL, NULL, NULL};

/* Add an event; auth is a NULL-terminated list of event IDs. Returns its ID. */
static const char *add(const char *id, const char *type, const char *sk, const char *sender,
                       json_t *content, int depth, const char *const *auth)
{
    json_t *a = json_array();
    for (; auth && *auth; auth++)
        json_array_append_new(a, json_string(*auth));
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:[],s:i,s:I}", "event_id", id, "room_id",
                           "!create", "type", type, "sender", sender, "content",
                           content ? content : json_object(), "auth_events", a, "prev_events",
                           "depth", depth, "origin_server_ts", (json_int_t)(clock_ms += 10));
    if (sk)
        json_object_set_new(ev, "state_key", json_string(sk));
    json_object_set_new(events, id, ev);
    return id;
}

#define AUTH(...) ((const char *const[]){__VA_ARGS__, NULL})
#define A "@alice:x"
#define B "@bob:x"
#define C "@carol:x"

static bool creators_implicit; /* v12: the creator may not appear in users */

static json_t *pl(int bob, int users_default)
{
    json_t *c = json_pack("{s:{s:i,s:i},s:i,s:i,s:i,s:i}", "users", A, 100, B, bob,
                          "users_default", users_default, "ban", 50, "kick", 50,
                          "state_default", 50);
    if (creators_implicit)
        json_object_del(json_object_get(c, "users"), A);
    return c;
}

static json_t *mem(const char *m)
{
    return json_pack("{s:s}", "membership", m);
}

/* The shared start of every test room: create, alice joins, PL1 (bob 50), public, bob and
 * carol join. */
static json_t *base_state(const char *version)
{
    json_decref(events);
    events = json_object();
    creators_implicit = strcmp(version, "12") == 0;
    json_t *create = json_pack("{s:s,s:s}", "creator", A, "room_version", version);
    add("$create", "m.room.create", "", A, create, 1, NULL);
    add("$ma", "m.room.member", A, A, mem("join"), 2, AUTH("$create"));
    add("$pl1", "m.room.power_levels", "", A, pl(50, 0), 3, AUTH("$create", "$ma"));
    add("$jr", "m.room.join_rules", "", A, json_pack("{s:s}", "join_rule", "public"), 4,
        AUTH("$create", "$ma", "$pl1"));
    add("$mb", "m.room.member", B, B, mem("join"), 5, AUTH("$create", "$jr", "$pl1"));
    add("$mc", "m.room.member", C, C, mem("join"), 6, AUTH("$create", "$jr", "$pl1"));
    json_t *st = json_object();
    statemap_set(st, "m.room.create", "", "$create");
    statemap_set(st, "m.room.member", A, "$ma");
    statemap_set(st, "m.room.power_levels", "", "$pl1");
    statemap_set(st, "m.room.join_rules", "", "$jr");
    statemap_set(st, "m.room.member", B, "$mb");
    statemap_set(st, "m.room.member", C, "$mc");
    return st;
}

static json_t *resolve2(const char *version, json_t *s1, json_t *s2)
{
    char why[256];
    json_t *sets = json_pack("[O,O]", s1, s2);
    json_t *out = stateres_resolve(roomver_get(version), sets, &ops, why, sizeof why);
    /* the order of the state sets must not matter */
    json_t *rev = json_pack("[O,O]", s2, s1);
    json_t *out2 = stateres_resolve(roomver_get(version), rev, &ops, why, sizeof why);
    CHECK(out && out2 && json_equal(out, out2));
    json_decref(sets);
    json_decref(rev);
    json_decref(out2);
    return out;
}

TEST(ban_racing_power_change)
{
    /* bob (50) bans carol while alice concurrently takes bob's power away: the power change
     * is ordered first (higher sender power) and the ban no longer passes */
    json_t *s1 = base_state("10"), *s2 = json_deep_copy(s1);
    add("$ban", "m.room.member", C, B, mem("ban"), 7, AUTH("$create", "$pl1", "$mb", "$mc"));
    add("$pl2", "m.room.power_levels", "", A, pl(0, 0), 7, AUTH("$create", "$ma", "$pl1"));
    statemap_set(s1, "m.room.member", C, "$ban");
    statemap_set(s2, "m.room.power_levels", "", "$pl2");
    json_t *r = resolve2("10", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.power_levels", ""), "$pl2");
    CHECK_STR(statemap_get(r, "m.room.member", C), "$mc");
    json_decref(r);
    json_decref(s1);
    json_decref(s2);
}

TEST(join_racing_join_rule_change)
{
    /* dave joins the public room while alice makes it invite-only: the join rule change is a
     * power event and wins; dave's join then fails the iterative auth checks */
    json_t *s1 = base_state("10"), *s2 = json_deep_copy(s1);
    add("$jr2", "m.room.join_rules", "", A, json_pack("{s:s}", "join_rule", "invite"), 7,
        AUTH("$create", "$ma", "$pl1"));
    add("$md", "m.room.member", "@dave:x", "@dave:x", mem("join"), 7,
        AUTH("$create", "$jr", "$pl1"));
    statemap_set(s1, "m.room.join_rules", "", "$jr2");
    statemap_set(s2, "m.room.member", "@dave:x", "$md");
    json_t *r = resolve2("10", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.join_rules", ""), "$jr2");
    CHECK(statemap_get(r, "m.room.member", "@dave:x") == NULL);
    CHECK_STR(statemap_get(r, "m.room.member", B), "$mb");
    json_decref(r);
    json_decref(s1);
    json_decref(s2);
}

TEST(topics_by_mainline_then_time)
{
    json_t *s1 = base_state("10"), *s2 = json_deep_copy(s1);
    /* both topics rest on PL1: same mainline position, so the later one wins */
    add("$t1", "m.room.topic", "", A, json_pack("{s:s}", "topic", "early"), 7,
        AUTH("$create", "$ma", "$pl1"));
    add("$t2", "m.room.topic", "", B, json_pack("{s:s}", "topic", "late"), 7,
        AUTH("$create", "$mb", "$pl1"));
    statemap_set(s1, "m.room.topic", "", "$t1");
    statemap_set(s2, "m.room.topic", "", "$t2");
    json_t *r = resolve2("10", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.topic", ""), "$t2");
    json_decref(r);

    /* a topic resting on a later power level event in the mainline beats one on an earlier */
    add("$pl2", "m.room.power_levels", "", A, pl(50, 0), 8, AUTH("$create", "$ma", "$pl1"));
    add("$t3", "m.room.topic", "", A, json_pack("{s:s}", "topic", "on pl2"), 9,
        AUTH("$create", "$ma", "$pl2"));
    clock_ms = 0; /* make the competitor look newer by its clock: the mainline still rules */
    add("$t4", "m.room.topic", "", B, json_pack("{s:s}", "topic", "on pl1, newer clock"), 9,
        AUTH("$create", "$mb", "$pl1"));
    json_object_set_new(json_object_get(events, "$t4"), "origin_server_ts",
                        json_integer(999999999));
    statemap_set(s1, "m.room.power_levels", "", "$pl2");
    statemap_set(s2, "m.room.power_levels", "", "$pl2");
    statemap_set(s1, "m.room.topic", "", "$t3");
    statemap_set(s2, "m.room.topic", "", "$t4");
    r = resolve2("10", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.topic", ""), "$t3");
    json_decref(r);
    json_decref(s1);
    json_decref(s2);
}

/* v2 "Rejected events": when the partial state lacks a key, a rejected auth event is not
 * used in its place. Bob's member key is in neither state set (an unconflicted event of his
 * keeps $mb in both auth chains, out of the conflicted set), so bob's topic can pass only
 * through its own auth event $mb: with $mb known as rejected it fails, and alice's earlier
 * topic stays. */
static const char *rejected_id;

static int is_rejected(void *ctx, const char *id)
{
    return rejected_id && strcmp(id, rejected_id) == 0;
}

TEST(rejected_auth_events_not_used)
{
    json_t *s1 = base_state("10");
    char *bk = statemap_key("m.room.member", B);
    json_object_del(s1, bk);
    free(bk);
    add("$xb", "x.bob", "", B, NULL, 7, AUTH("$create", "$mb", "$pl1"));
    statemap_set(s1, "x.bob", "", "$xb");
    json_t *s2 = json_deep_copy(s1);
    add("$ta", "m.room.topic", "", A, json_pack("{s:s}", "topic", "alice"), 7,
        AUTH("$create", "$ma", "$pl1"));
    add("$tb", "m.room.topic", "", B, json_pack("{s:s}", "topic", "bob"), 7,
        AUTH("$create", "$mb", "$pl1"));
    statemap_set(s1, "m.room.topic", "", "$ta");
    statemap_set(s2, "m.room.topic", "", "$tb");
    char why[256];
    json_t *sets = json_pack("[O,O]", s1, s2);
    struct stateres_ops with = {fetch, NULL, NULL, is_rejected};
    rejected_id = NULL;
    json_t *r = stateres_resolve(roomver_get("10"), sets, &with, why, sizeof why);
    CHECK_STR(statemap_get(r, "m.room.topic", ""), "$tb");
    json_decref(r);
    rejected_id = "$mb";
    r = stateres_resolve(roomver_get("10"), sets, &with, why, sizeof why);
    CHECK_STR(statemap_get(r, "m.room.topic", ""), "$ta");
    json_decref(r);
    rejected_id = NULL;
    json_decref(sets);
    json_decref(s1);
    json_decref(s2);
}

TEST(tie_break_by_event_id)
{
    json_t *s1 = base_state("10"), *s2 = json_deep_copy(s1);
    add("$tb", "m.room.topic", "", A, json_pack("{s:s}", "topic", "b"), 7,
        AUTH("$create", "$ma", "$pl1"));
    add("$ta", "m.room.topic", "", A, json_pack("{s:s}", "topic", "a"), 7,
        AUTH("$create", "$ma", "$pl1"));
    json_object_set_new(json_object_get(events, "$ta"), "origin_server_ts", json_integer(5));
    json_object_set_new(json_object_get(events, "$tb"), "origin_server_ts", json_integer(5));
    statemap_set(s1, "m.room.topic", "", "$ta");
    statemap_set(s2, "m.room.topic", "", "$tb");
    json_t *r = resolve2("10", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.topic", ""), "$tb"); /* greater ID is applied last */
    json_decref(r);
    json_decref(s1);
    json_decref(s2);
}

TEST(unconflicted_passes_through)
{
    json_t *s1 = base_state("10");
    json_t *r = resolve2("10", s1, s1);
    CHECK(json_equal(r, s1));
    json_decref(r);
    json_decref(s1);
}

TEST(version_1_depth_ordering)
{
    json_t *s1 = base_state("1"), *s2 = json_deep_copy(s1);
    /* power levels: ascending depth, each later one kept while it passes auth */
    add("$pla", "m.room.power_levels", "", A, pl(10, 0), 7, AUTH("$create", "$ma", "$pl1"));
    add("$plb", "m.room.power_levels", "", A, pl(20, 0), 9, AUTH("$create", "$ma", "$pl1"));
    /* other keys: the highest depth that passes */
    add("$n1", "m.room.name", "", A, json_pack("{s:s}", "name", "deep"), 12,
        AUTH("$create", "$ma", "$pl1"));
    add("$n2", "m.room.name", "", A, json_pack("{s:s}", "name", "shallow"), 8,
        AUTH("$create", "$ma", "$pl1"));
    statemap_set(s1, "m.room.power_levels", "", "$pla");
    statemap_set(s2, "m.room.power_levels", "", "$plb");
    statemap_set(s1, "m.room.name", "", "$n1");
    statemap_set(s2, "m.room.name", "", "$n2");
    json_t *r = resolve2("1", s1, s2);
    CHECK_STR(statemap_get(r, "m.room.power_levels", ""), "$plb");
    CHECK_STR(statemap_get(r, "m.room.name", ""), "$n1");
    json_decref(r);
    json_decref(s1);
    json_decref(s2);
}

/* Defect 2: version 1 resolves the member keys one after another, each result written to R
 * at once, so their order must not follow the order of the state sets. bob's member key
 * conflicts between two joins; dave's between two invites by bob. Resolved first, bob is
 * joined in R and dave's later invite passes; resolved after dave, bob is absent from R and
 * the earlier invite stays. The keys are inserted in opposite orders in the two sets. */
TEST(version_1_member_order)
{
    json_t *s1 = base_state("1");
    const char *D = "@dave:x";
    add("$mb2", "m.room.member", B, B, json_pack("{s:s,s:s}", "membership", "join",
                                                  "displayname", "Bob"),
        7, AUTH("$create", "$jr", "$pl1", "$mb"));
    add("$invd1", "m.room.member", D, B, mem("invite"), 8, AUTH("$create", "$jr", "$pl1", "$mb"));
    add("$invd2", "m.room.member", D, B, json_pack("{s:s,s:s}", "membership", "invite",
                                                    "reason", "again"),
        9, AUTH("$create", "$jr", "$pl1", "$mb2"));
    statemap_set(s1, "m.room.member", D, "$invd1");
    json_t *s2 = json_object();
    statemap_set(s2, "m.room.member", D, "$invd2"); /* dave's key before bob's */
    json_t *rest = json_deep_copy(s1);
    char *dk = statemap_key("m.room.member", D);
    json_object_del(rest, dk);
    free(dk);
    json_object_update(s2, rest);
    statemap_set(s2, "m.room.member", B, "$mb2");
    json_t *r = resolve2("1", s1, s2); /* checks both orders agree */
    CHECK_STR(statemap_get(r, "m.room.member", B), "$mb2");
    CHECK_STR(statemap_get(r, "m.room.member", D), "$invd2");
    json_decref(r);
    json_decref(rest);
    json_decref(s1);
    json_decref(s2);
}

TEST(version_12_starts_from_nothing)
{
    /* Both forks agree bob is banned (unconflicted), but one holds a power level change bob
     * made while still joined. v2 checks it against the unconflicted state (bob banned:
     * rejected); v2.1 starts from the empty state and falls back to the event's own auth
     * events (bob joined: allowed), laying the unconflicted state over it at the end. */
    const char *versions[] = {"11", "12"};
    const char *want[] = {"$pl1", "$plbob"};
    for (int v = 0; v < 2; v++) {
        json_t *s1 = base_state(versions[v]), *s2 = json_deep_copy(s1);
        add("$plbob", "m.room.power_levels", "", B, pl(50, 5), 7,
            AUTH("$create", "$mb", "$pl1"));
        add("$banb", "m.room.member", B, A, mem("ban"), 8, AUTH("$create", "$ma", "$pl1", "$mb"));
        json_object_set_new(json_object_get(json_object_get(events, "$pl1"), "content"),
                            "events", json_pack("{s:i}", "m.room.power_levels", 50));
        statemap_set(s1, "m.room.power_levels", "", "$plbob");
        statemap_set(s1, "m.room.member", B, "$banb");
        statemap_set(s2, "m.room.member", B, "$banb");
        json_t *r = resolve2(versions[v], s1, s2);
        CHECK_STR(statemap_get(r, "m.room.power_levels", ""), want[v]);
        CHECK_STR(statemap_get(r, "m.room.member", B), "$banb");
        json_decref(r);
        json_decref(s1);
        json_decref(s2);
    }
}

TEST(random_forks_terminate_and_agree)
{
    /* 300 events: a chain of topic and member changes forking into 6 branches */
    json_t *base = base_state("10");
    json_t *sets = json_array();
    srand(42);
    for (int b = 0; b < 6; b++) {
        json_t *st = json_deep_copy(base);
        const char *prev_pl = "$pl1";
        for (int i = 0; i < 50; i++) {
            char id[32], user[32];
            snprintf(id, sizeof id, "$e%d_%d", b, i);
            if (rand() % 3 == 0) {
                snprintf(user, sizeof user, "@u%d_%d:x", b, i);
                add(id, "m.room.member", user, user, mem("join"), 7 + i,
                    AUTH("$create", "$jr", prev_pl));
                statemap_set(st, "m.room.member", user, id);
            } else {
                add(id, "m.room.topic", "", A, json_pack("{s:i}", "n", i), 7 + i,
                    AUTH("$create", "$ma", prev_pl));
                statemap_set(st, "m.room.topic", "", id);
            }
        }
        json_array_append_new(sets, st);
    }
    char why[256];
    json_t *r1 = stateres_resolve(roomver_get("10"), sets, &ops, why, sizeof why);
    json_t *rev = json_array();
    for (size_t i = json_array_size(sets); i-- > 0;)
        json_array_append(rev, json_array_get(sets, i));
    json_t *r2 = stateres_resolve(roomver_get("10"), rev, &ops, why, sizeof why);
    CHECK(r1 && r2 && json_equal(r1, r2));
    CHECK(statemap_get(r1, "m.room.topic", "") != NULL);
    CHECK_STR(statemap_get(r1, "m.room.member", A), "$ma");
    json_decref(r1);
    json_decref(r2);
    json_decref(rev);
    json_decref(sets);
    json_decref(base);
}

int main(void)
{
    RUN(ban_racing_power_change);
    RUN(join_racing_join_rule_change);
    RUN(topics_by_mainline_then_time);
    RUN(rejected_auth_events_not_used);
    RUN(tie_break_by_event_id);
    RUN(unconflicted_passes_through);
    RUN(version_1_depth_ordering);
    RUN(version_1_member_order);
    RUN(version_12_starts_from_nothing);
    RUN(random_forks_terminate_and_agree);
    json_decref(events);
    return unit_done();
}
