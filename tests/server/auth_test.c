/* auth_test.c - the authorization rules step by step, allows and rejections, across the
 * room version groups where they differ (v1, v6, v7, v8, v10, v11, v12). States are built in
 * memory: a JSON object keyed by statemap_key(type, state_key) holding PDUs. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/b64.h"
#include "server/sign.h"
#include "server/statemap.h"
#include "tests/unit.h"

#define ROOM "!room:a.org"

static const json_t *lookup(void *ctx, const char *type, const char *state_key)
{
    char *k = statemap_key(type, state_key);
    const json_t *v = json_object_get(ctx, k);
    free(k);
    return v;
}

static int signed_yes(void *ctx, const json_t *ev, const char *server)
{
    return 1;
}

static int signed_no(void *ctx, const json_t *ev, const char *server)
{
    return 0;
}

static json_t *ev(const char *type, const char *sender, const char *state_key, json_t *content)
{
    json_t *e = json_pack("{s:s,s:s,s:s,s:o,s:[s],s:[],s:i,s:I}", "type", type, "sender", sender,
                          "room_id", ROOM, "content", content ? content : json_object(),
                          "prev_events", "$prev", "auth_events", "depth", 5,
                          "origin_server_ts", (json_int_t)1);
    if (state_key)
        json_object_set_new(e, "state_key", json_string(state_key));
    return e;
}

static void put(json_t *st, json_t *e)
{
    char *k = statemap_key(json_string_value(json_object_get(e, "type")),
                           json_string_value(json_object_get(e, "state_key")));
    json_object_set_new(st, k, e);
    free(k);
}

/* The state event (type, "") of st (borrowed). */
static json_t *sget(json_t *st, const char *type)
{
    char *k = statemap_key(type, "");
    json_t *v = json_object_get(st, k);
    free(k);
    return v;
}

static json_t *member(const char *user, const char *m)
{
    return ev("m.room.member", user, user, json_pack("{s:s}", "membership", m));
}

/* A room in version `v`: created by @alice, who is joined with PL 100 (implicitly in v12);
 * @mod has 50; join rule `jr`. */
static json_t *room(const char *v, const char *jr)
{
    const struct room_version *rv = roomver_get(v);
    json_t *st = json_object();
    json_t *create = ev("m.room.create", "@alice:a.org", "", json_pack("{s:s}", "room_version", v));
    json_object_set_new(create, "event_id", json_string("$create"));
    if (!rv->implicit_room_creator)
        json_object_set_new(json_object_get(create, "content"), "creator",
                            json_string("@alice:a.org"));
    put(st, create);
    put(st, member("@alice:a.org", "join"));
    put(st, member("@mod:a.org", "join"));
    json_t *users = json_pack("{s:i}", "@mod:a.org", 50);
    if (!rv->creators_infinite_power)
        json_object_set_new(users, "@alice:a.org", json_integer(100));
    put(st, ev("m.room.power_levels", "@alice:a.org", "",
               json_pack("{s:o,s:i,s:i,s:i,s:i,s:i,s:i,s:{s:i}}", "users", users, "users_default",
                         0, "state_default", 50, "events_default", 0, "ban", 50, "kick", 50,
                         "invite", 0, "events", "m.room.power_levels", 100)));
    put(st, ev("m.room.join_rules", "@alice:a.org", "", json_pack("{s:s}", "join_rule", jr)));
    return st;
}

static char why[256];

static int check_with(const char *v, json_t *st, json_t *e, int (*sig)(void *, const json_t *,
                                                                      const char *))
{
    const struct room_version *rv = roomver_get(v);
    if (rv->room_id_from_create)
        json_object_set_new(e, "room_id", json_string("!create"));
    struct auth_ops ops = {lookup, sig, st};
    int rc = auth_check(rv, e, &ops, why, sizeof why);
    json_decref(e);
    return rc;
}

static int check(const char *v, json_t *st, json_t *e)
{
    return check_with(v, st, e, signed_yes);
}

#define ALLOW(v, st, e) CHECK_INT(check(v, st, e), 0)
#define DENY(v, st, e, step)                                                                       \
    do {                                                                                           \
        why[0] = '\0';                                                                             \
        CHECK_INT(check(v, st, e), -1);                                                            \
        if (strncmp(why, step, strlen(step)) != 0)                                                 \
            UNIT_FAIL("rejected by \"%s\", want step %s", why, step);                              \
    } while (0)

TEST(create_rules)
{
    json_t *st = json_object();
    json_t *c = ev("m.room.create", "@alice:a.org", "", json_pack("{s:s}", "creator", "@alice:a.org"));
    json_array_clear(json_object_get(c, "prev_events"));
    ALLOW("1", st, json_deep_copy(c));
    json_t *withprev = json_deep_copy(c);
    json_array_append_new(json_object_get(withprev, "prev_events"), json_string("$x"));
    DENY("10", st, withprev, "1.1");
    json_t *foreign = json_deep_copy(c);
    json_object_set_new(foreign, "room_id", json_string("!room:b.org"));
    DENY("10", st, foreign, "1.2");
    json_t *badver = json_deep_copy(c);
    json_object_set_new(json_object_get(badver, "content"), "room_version", json_string("99"));
    DENY("10", st, badver, "1.3");
    json_t *nocreator = json_deep_copy(c);
    json_object_del(json_object_get(nocreator, "content"), "creator");
    DENY("10", st, json_deep_copy(nocreator), "1.4");
    ALLOW("11", st, json_deep_copy(nocreator)); /* v11: the sender is the creator */
    /* v12: no room_id at all, additional_creators must be user IDs */
    json_t *v12 = json_deep_copy(nocreator);
    json_object_del(v12, "room_id");
    struct auth_ops ops = {lookup, signed_yes, st};
    CHECK_INT(auth_check(roomver_get("12"), v12, &ops, why, sizeof why), 0);
    json_object_set_new(json_object_get(v12, "content"), "additional_creators",
                        json_pack("[s]", "not a user"));
    CHECK_INT(auth_check(roomver_get("12"), v12, &ops, why, sizeof why), -1);
    json_object_set_new(v12, "room_id", json_string("!x"));
    json_object_set_new(json_object_get(v12, "content"), "additional_creators", json_array());
    CHECK_INT(auth_check(roomver_get("12"), v12, &ops, why, sizeof why), -1);
    json_decref(v12);
    json_decref(nocreator);
    json_decref(c);
    json_decref(st);
}

/* Defect 1: rule 1 applies to every m.room.create event, whatever its state_key. An admin's
 * m.room.create with state_key "x" inside an existing room has prev_events: rejected by 1.1,
 * not allowed by rule 8 as an ordinary state event. */
TEST(create_with_other_state_key)
{
    json_t *st = room("10", "public");
    json_t *c = ev("m.room.create", "@alice:a.org", "x", json_pack("{s:s}", "creator",
                                                                   "@alice:a.org"));
    DENY("10", st, c, "1.1");
    json_t *msg = ev("m.room.create", "@alice:a.org", NULL, json_object());
    json_object_del(msg, "state_key");
    DENY("10", st, msg, "1.1");
    json_decref(st);
}

/* v1-5 "floaty" power levels: 50.57 counts as 50 (enough for state_default 50); from v6 a
 * float is no power level at all (users_default 0 applies). */
TEST(float_power_levels)
{
    const char *vs[] = {"1", "5", "6", "10"};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        json_t *st = room(vs[i], "public");
        json_object_set_new(json_object_get(json_object_get(sget(st, "m.room.power_levels"),
                                                             "content"),
                                            "users"),
                            "@mod:a.org", json_real(50.57));
        json_t *topic = ev("m.room.topic", "@mod:a.org", "", json_pack("{s:s}", "topic", "t"));
        if (strcmp(vs[i], "6") < 0 && strlen(vs[i]) == 1)
            ALLOW(vs[i], st, topic);
        else
            DENY(vs[i], st, topic, "8");
        json_decref(st);
    }
}

TEST(first_join_and_basic_joins)
{
    json_t *st = json_object();
    json_t *create =
        ev("m.room.create", "@alice:a.org", "", json_pack("{s:s}", "creator", "@alice:a.org"));
    json_object_set_new(create, "event_id", json_string("$create"));
    put(st, create);
    json_t *j = member("@alice:a.org", "join");
    json_object_set_new(j, "prev_events", json_pack("[s]", "$create"));
    ALLOW("10", st, j); /* 5.3.1 */
    json_t *bob = member("@bob:b.org", "join");
    json_object_set_new(bob, "prev_events", json_pack("[s]", "$create"));
    DENY("10", st, bob, "5.3.7"); /* no join rules: not public */
    json_decref(st);

    st = room("10", "public");
    ALLOW("10", st, member("@bob:b.org", "join")); /* 5.3.6 */
    json_t *other = member("@bob:b.org", "join");
    json_object_set_new(other, "sender", json_string("@eve:b.org"));
    DENY("10", st, other, "5.3.2");
    put(st, member("@bob:b.org", "ban"));
    DENY("10", st, member("@bob:b.org", "join"), "5.3.3");
    json_decref(st);

    st = room("10", "invite");
    DENY("10", st, member("@bob:b.org", "join"), "5.3.4");
    put(st, member("@bob:b.org", "invite"));
    ALLOW("10", st, member("@bob:b.org", "join"));
    json_decref(st);
}

TEST(restricted_and_knock)
{
    json_t *st = room("8", "restricted");
    json_t *j = member("@bob:b.org", "join");
    DENY("8", st, json_deep_copy(j), "5.3.5.2"); /* nobody authorised it */
    json_object_set_new(json_object_get(j, "content"), "join_authorised_via_users_server",
                        json_string("@alice:a.org"));
    ALLOW("8", st, json_deep_copy(j));
    CHECK_INT(check_with("8", st, json_deep_copy(j), signed_no), -1); /* 5.2.1 */
    json_t *weak = json_deep_copy(j);
    json_object_set_new(json_object_get(weak, "content"), "join_authorised_via_users_server",
                        json_string("@mod:a.org"));
    json_t *pl = json_object_get(sget(st, "m.room.power_levels"), "content");
    json_object_set_new(pl, "invite", json_integer(60));
    DENY("8", st, weak, "5.3.5.2"); /* mod (50) may not invite (60) */
    DENY("7", st, json_deep_copy(j), "5.3.7"); /* no restricted rule before v8 */
    json_decref(j);
    json_decref(st);

    st = room("7", "knock");
    ALLOW("7", st, member("@bob:b.org", "knock"));
    DENY("6", st, member("@bob:b.org", "knock"), "5.8"); /* no knock before v7 */
    json_decref(st);
    st = room("7", "public");
    DENY("7", st, member("@bob:b.org", "knock"), "5.7.1");
    json_decref(st);
    st = room("10", "knock_restricted");
    ALLOW("10", st, member("@bob:b.org", "knock"));
    put(st, member("@bob:b.org", "invite"));
    DENY("10", st, member("@bob:b.org", "knock"), "5.7.4");
    json_decref(st);
}

static json_t *act(const char *sender, const char *target, const char *m)
{
    return ev("m.room.member", sender, target, json_pack("{s:s}", "membership", m));
}

TEST(invite_kick_ban_leave)
{
    json_t *st = room("10", "invite");
    ALLOW("10", st, act("@mod:a.org", "@bob:b.org", "invite"));
    DENY("10", st, act("@eve:b.org", "@bob:b.org", "invite"), "5.4.2");
    DENY("10", st, act("@mod:a.org", "@alice:a.org", "invite"), "5.4.3");
    json_t *pl = json_object_get(sget(st, "m.room.power_levels"), "content");
    json_object_set_new(pl, "invite", json_integer(75));
    DENY("10", st, act("@mod:a.org", "@bob:b.org", "invite"), "5.4.5");

    /* kick: needs the kick level and a higher level than the target */
    put(st, member("@bob:b.org", "join"));
    ALLOW("10", st, act("@mod:a.org", "@bob:b.org", "leave"));
    DENY("10", st, act("@mod:a.org", "@alice:a.org", "leave"), "5.5.5");
    DENY("10", st, act("@bob:b.org", "@mod:a.org", "leave"), "5.5.5");
    /* ban / unban */
    ALLOW("10", st, act("@mod:a.org", "@bob:b.org", "ban"));
    DENY("10", st, act("@bob:b.org", "@mod:a.org", "ban"), "5.6.3");
    put(st, member("@bob:b.org", "ban"));
    json_object_set_new(pl, "ban", json_integer(75));
    DENY("10", st, act("@mod:a.org", "@bob:b.org", "leave"), "5.5.3");
    ALLOW("10", st, act("@alice:a.org", "@bob:b.org", "leave"));
    /* leaving oneself */
    ALLOW("10", st, member("@mod:a.org", "leave"));
    DENY("10", st, member("@carol:c.org", "leave"), "5.5.1");
    put(st, member("@carol:c.org", "knock"));
    ALLOW("10", st, member("@carol:c.org", "leave")); /* v7+: withdraw a knock */
    DENY("6", st, member("@carol:c.org", "leave"), "5.5.1");
    json_decref(st);
}

TEST(non_members_and_levels)
{
    json_t *st = room("10", "public");
    DENY("10", st, ev("m.room.message", "@bob:b.org", NULL, NULL), "6");
    ALLOW("10", st, ev("m.room.message", "@mod:a.org", NULL, NULL));
    put(st, member("@bob:b.org", "join"));
    DENY("10", st, ev("m.room.topic", "@bob:b.org", "", NULL), "8"); /* state_default 50 */
    ALLOW("10", st, ev("m.room.topic", "@mod:a.org", "", NULL));
    DENY("10", st, ev("m.room.power_levels", "@mod:a.org", "", NULL), "8"); /* events: 100 */
    DENY("10", st, ev("org.example.profile", "@mod:a.org", "@alice:a.org", NULL), "9");
    ALLOW("10", st, ev("org.example.profile", "@mod:a.org", "@mod:a.org", NULL));
    ALLOW("10", st, ev("m.room.third_party_invite", "@bob:b.org", "tok", NULL)); /* invite 0 */
    json_decref(st);

    /* m.federate: false keeps other servers out */
    st = room("10", "public");
    json_object_set_new(json_object_get(sget(st, "m.room.create"), "content"),
                        "m.federate", json_false());
    DENY("10", st, member("@bob:b.org", "join"), "4");
    ALLOW("10", st, member("@carl:a.org", "join"));
    json_decref(st);

    /* no power levels at all: the creator 100, others 0, state_default 0 */
    st = json_object();
    json_t *c =
        ev("m.room.create", "@alice:a.org", "", json_pack("{s:s}", "creator", "@alice:a.org"));
    put(st, c);
    put(st, member("@alice:a.org", "join"));
    put(st, member("@bob:b.org", "join"));
    ALLOW("10", st, ev("m.room.topic", "@bob:b.org", "", NULL));
    struct auth_ops ops = {lookup, NULL, st};
    CHECK_INT(auth_user_power(roomver_get("10"), &ops, "@alice:a.org"), 100);
    CHECK_INT(auth_user_power(roomver_get("10"), &ops, "@bob:b.org"), 0);
    json_decref(st);
}

static json_t *pl_change(const char *sender, json_t *content)
{
    return ev("m.room.power_levels", sender, "", content);
}

TEST(power_level_changes)
{
    json_t *st = room("10", "public");
    /* alice (100) may promote mod to 100 but mod (50) may not promote anyone above 50 */
    ALLOW("10", st,
          pl_change("@alice:a.org", json_pack("{s:{s:i,s:i}}", "users", "@alice:a.org", 100,
                                              "@mod:a.org", 100)));
    json_t *ev_pl = json_object_get(sget(st, "m.room.power_levels"), "content");
    json_object_set_new(json_object_get(ev_pl, "events"), "m.room.power_levels",
                        json_integer(50));
    DENY("10", st,
         pl_change("@mod:a.org", json_pack("{s:{s:i,s:i,s:i}}", "users", "@alice:a.org", 100,
                                           "@mod:a.org", 50, "@bob:b.org", 75)),
         "10");
    /* removing an equal-level user is refused (10.9: current value >= sender's) */
    json_object_set_new(json_object_get(ev_pl, "users"), "@peer:a.org", json_integer(50));
    DENY("10", st,
         pl_change("@mod:a.org",
                   json_pack("{s:{s:i,s:i},s:{s:i}}", "users", "@alice:a.org", 100, "@mod:a.org",
                             50, "events", "m.room.power_levels", 50)),
         "10");
    /* v10 requires integers; v9 accepts strings holding integers */
    json_t *stringy = json_pack("{s:{s:s}}", "users", "@alice:a.org", "100");
    DENY("10", st, pl_change("@alice:a.org", json_deep_copy(stringy)), "10.3");
    json_decref(st);
    st = room("9", "public");
    ALLOW("9", st, pl_change("@alice:a.org", stringy));
    DENY("9", st, pl_change("@alice:a.org", json_pack("{s:{s:s}}", "users", "bad", "1")), "10.3");
    json_decref(st);
}

TEST(v12_creators)
{
    json_t *st = room("12", "public");
    struct auth_ops ops = {lookup, NULL, st};
    const struct room_version *v12 = roomver_get("12");
    CHECK(auth_user_power(v12, &ops, "@alice:a.org") == INT64_MAX);
    CHECK(auth_is_creator(v12, &ops, "@alice:a.org"));
    /* creators cannot be listed in users */
    DENY("12", st, pl_change("@alice:a.org", json_pack("{s:{s:i}}", "users", "@alice:a.org", 100)),
         "10.4");
    ALLOW("12", st, pl_change("@alice:a.org", json_pack("{s:{s:i}}", "users", "@mod:a.org", 99)));
    /* the creator beats anyone: kicking a user with 1000 */
    json_t *users = json_object_get(json_object_get(sget(st, "m.room.power_levels"), "content"), "users");
    json_object_set_new(users, "@mod:a.org", json_integer(1000));
    ALLOW("12", st, act("@alice:a.org", "@mod:a.org", "leave"));
    DENY("12", st, act("@mod:a.org", "@alice:a.org", "leave"), "5.5.5");
    /* room_id must name the create event */
    json_t *wrong = ev("m.room.message", "@mod:a.org", NULL, NULL);
    struct auth_ops o = {lookup, signed_yes, st};
    json_object_set_new(wrong, "room_id", json_string("!other"));
    CHECK_INT(auth_check(v12, wrong, &o, why, sizeof why), -1);
    CHECK(strncmp(why, "2:", 2) == 0);
    json_decref(wrong);
    json_decref(st);
}

TEST(aliases_special_case)
{
    json_t *st = room("5", "public");
    json_t *a = ev("m.room.aliases", "@bob:b.org", "b.org", NULL); /* not even a member */
    ALLOW("5", st, json_deep_copy(a));
    json_object_set_new(a, "state_key", json_string("a.org"));
    DENY("5", st, json_deep_copy(a), "4.2");
    DENY("6", st, a, "6"); /* v6: an ordinary state event */
    json_decref(st);
}

TEST(third_party_invites)
{
    unsigned char pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct sign_key k;
    memcpy(k.pk, pk, 32);
    memcpy(k.sk, sk, 64);
    snprintf(k.key_id, sizeof k.key_id, "ed25519:0");
    char *pkb = b64_encode(pk, 32);
    json_t *st = room("10", "invite");
    put(st, ev("m.room.third_party_invite", "@mod:a.org", "tok",
               json_pack("{s:s,s:s}", "display_name", "b...", "public_key", pkb)));
    json_t *signed_blk = json_pack("{s:s,s:s,s:s}", "mxid", "@bob:b.org", "sender", "@mod:a.org",
                                   "token", "tok");
    sign_json(signed_blk, "id.example", &k);
    json_t *inv = act("@mod:a.org", "@bob:b.org", "invite");
    json_object_set_new(json_object_get(inv, "content"), "third_party_invite",
                        json_pack("{s:s,s:O}", "display_name", "b...", "signed", signed_blk));
    ALLOW("10", st, json_deep_copy(inv));
    /* a forged signature */
    json_object_set_new(json_object_get(json_object_get(json_object_get(json_object_get(
                                            inv, "content"), "third_party_invite"), "signed"),
                                        "signatures"),
                        "id.example", json_pack("{s:s}", "ed25519:0", "AAAA"));
    DENY("10", st, json_deep_copy(inv), "5.4.1.8");
    /* another inviter than the one who made the 3pid invite */
    json_object_set_new(inv, "sender", json_string("@alice:a.org"));
    DENY("10", st, inv, "5.4.1.6");
    json_decref(signed_blk);
    free(pkb);
    json_decref(st);
}

TEST(auth_event_selection)
{
    struct auth_key keys[8];
    json_t *j = member("@bob:b.org", "join");
    json_object_set_new(json_object_get(j, "content"), "join_authorised_via_users_server",
                        json_string("@alice:a.org"));
    size_t n = auth_select_keys(roomver_get("10"), j, keys, 8);
    CHECK_INT(n, 5); /* create, power levels, sender, join rules, authoriser */
    CHECK_STR(keys[0].type, "m.room.create");
    n = auth_select_keys(roomver_get("12"), j, keys, 8);
    CHECK_INT(n, 4); /* v12: no create */
    CHECK(strcmp(keys[0].type, "m.room.create") != 0);
    json_decref(j);
    json_t *msg = ev("m.room.message", "@bob:b.org", NULL, NULL);
    CHECK_INT(auth_select_keys(roomver_get("10"), msg, keys, 8), 3);
    json_decref(msg);

    /* the list itself: duplicates, unexpected entries, missing create (v1-v11) */
    json_t *m2 = ev("m.room.message", "@bob:b.org", NULL, NULL);
    json_t *create = ev("m.room.create", "@alice:a.org", "", NULL);
    json_t *pl = ev("m.room.power_levels", "@alice:a.org", "", NULL);
    json_t *topic = ev("m.room.topic", "@alice:a.org", "", NULL);
    const json_t *ok[] = {create, pl}, *dup[] = {create, pl, pl}, *odd[] = {create, topic},
                 *nocreate[] = {pl};
    const struct room_version *v10 = roomver_get("10");
    CHECK_INT(auth_check_auth_events(v10, m2, ok, NULL, 2, why, sizeof why), 0);
    CHECK_INT(auth_check_auth_events(v10, m2, dup, NULL, 3, why, sizeof why), -1);
    CHECK_INT(auth_check_auth_events(v10, m2, odd, NULL, 2, why, sizeof why), -1);
    CHECK_INT(auth_check_auth_events(v10, m2, nocreate, NULL, 1, why, sizeof why), -1);
    bool rej[] = {false, true};
    CHECK_INT(auth_check_auth_events(v10, m2, ok, rej, 2, why, sizeof why), -1);
    json_decref(m2);
    json_decref(create);
    json_decref(pl);
    json_decref(topic);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(create_rules);
    RUN(create_with_other_state_key);
    RUN(float_power_levels);
    RUN(first_join_and_basic_joins);
    RUN(restricted_and_knock);
    RUN(invite_kick_ban_leave);
    RUN(non_members_and_levels);
    RUN(power_level_changes);
    RUN(v12_creators);
    RUN(aliases_special_case);
    RUN(third_party_invites);
    RUN(auth_event_selection);
    return unit_done();
}
