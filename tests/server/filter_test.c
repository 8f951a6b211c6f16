/* filter_test.c - event filters (Client-Server API "Filtering"): the wildcard match and its
 * edges, event matching (not_ lists win, empty lists, senders, rooms, contains_url), room
 * matching, limit clamping, the event_fields projection with nested paths and escapes,
 * validation (the spec's example filters from filter.yaml pass; wrong types, bad enums, bad
 * sigils and oversized lists fail), the inline parameter parser and the accessors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/filter.h"
#include "tests/unit.h"

/* Parse a JSON literal; tests abort on a typo rather than test NULL. */
static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, err.text);
        abort();
    }
    return v;
}

#define GLOB(p, s) filter_glob(p, strlen(p), s, strlen(s))

/* filter_event_ok for literal filter and event texts. */
static bool event_ok(const char *filter, const char *event)
{
    json_t *f = J(filter), *e = J(event);
    bool ok = filter_event_ok(f, e);
    json_decref(f);
    json_decref(e);
    return ok;
}

/* filter_validate for a literal; 0 or -1. */
static int valid(const char *filter)
{
    char why[160];
    json_t *f = J(filter);
    int rc = filter_validate(f, why, sizeof why);
    json_decref(f);
    return rc;
}

/* The reason filter_validate gives for a literal ("" when it passes), into a static buffer. */
static const char *why_invalid(const char *filter)
{
    static char why[160];
    why[0] = '\0';
    json_t *f = J(filter);
    if (filter_validate(f, why, sizeof why) == 0)
        why[0] = '\0';
    json_decref(f);
    return why;
}

/* filter_project for literals, compared to a literal: 1 if equal. */
static int projects_to(const char *event, const char *fields, const char *want)
{
    json_t *e = J(event), *f = fields ? J(fields) : NULL, *w = J(want);
    json_t *got = filter_project(e, f);
    int eq = got && json_equal(got, w);
    if (!eq) {
        char *s = got ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        printf("    projection: got %s, want %s\n", s ? s : "(null)", want);
        free(s);
    }
    json_decref(got);
    json_decref(e);
    json_decref(f);
    json_decref(w);
    return eq;
}

/* The example filter of filter.yaml (POST request body and GET response). */
static const char *spec_example =
    "{\"room\": {\"state\": {\"types\": [\"m.room.*\"], \"not_rooms\": "
    "[\"!726s6s6q:example.com\"]},"
    " \"timeline\": {\"limit\": 10, \"types\": [\"m.room.message\"],"
    "  \"not_rooms\": [\"!726s6s6q:example.com\"], \"not_senders\": [\"@spam:example.com\"]},"
    " \"ephemeral\": {\"types\": [\"m.receipt\", \"m.typing\"],"
    "  \"not_rooms\": [\"!726s6s6q:example.com\"], \"not_senders\": [\"@spam:example.com\"]}},"
    " \"presence\": {\"types\": [\"m.presence\"], \"not_senders\": [\"@alice:example.com\"]},"
    " \"event_format\": \"client\", \"event_fields\": [\"type\", \"content\", \"sender\"]}";

TEST(glob_wildcards)
{
    CHECK(GLOB("m.room.message", "m.room.message"));
    CHECK(!GLOB("m.room.message", "m.room.messages"));
    CHECK(!GLOB("m.room.message", "m.room.messag"));
    CHECK(GLOB("m.*", "m.room.message"));
    CHECK(GLOB("m.*", "m.")); /* '*' matches the empty sequence */
    CHECK(!GLOB("m.*", "m")); /* but the prefix must be there */
    CHECK(!GLOB("m.*", "mx.room"));
    CHECK(!GLOB("m.*", "org.m.room"));
    CHECK(GLOB("*", "m.room.message"));
    CHECK(GLOB("*", ""));
    CHECK(GLOB("**", "x"));
    CHECK(GLOB("*.message", "m.room.message"));
    CHECK(GLOB("*.message", ".message"));
    CHECK(!GLOB("*.message", "m.room.messages"));
    CHECK(!GLOB("*.message", "message"));
    CHECK(GLOB("m.room.*.x", "m.room.a.x"));
    CHECK(GLOB("m.room.*.x", "m.room.a.b.c.x"));
    CHECK(GLOB("m.room.*.x", "m.room..x"));
    CHECK(!GLOB("m.room.*.x", "m.room.x"));     /* prefix and suffix may not overlap */
    CHECK(!GLOB("m.room.*.x", "m.room.a.x.y")); /* the suffix is anchored */
    CHECK(GLOB("a*a", "aa"));
    CHECK(!GLOB("a*a", "a"));
    CHECK(GLOB("*a*b*c*", "xxaxxbxxcxx"));
    CHECK(!GLOB("*a*b*c*", "xxcxxbxxaxx")); /* segments in order */
    CHECK(GLOB("*abab*", "aabaabab"));      /* KMP fallback inside a segment */
    CHECK(GLOB("a*ab*b", "aabb"));
    CHECK(!GLOB("a*ab*b", "aab"));
    CHECK(!GLOB("m.?", "m.x")); /* only '*' is special */
    CHECK(GLOB("m.?", "m.?"));
    CHECK(!GLOB("", "x"));
    CHECK(GLOB("", ""));
    CHECK(filter_glob("a*", 2, "a\0b", 3)); /* lengths, not NULs, delimit */
    char big[FILTER_MAX_STRING + 2];
    memset(big, '*', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(!GLOB(big, "anything")); /* over-long patterns match nothing */
    big[FILTER_MAX_STRING] = '\0';
    CHECK(GLOB(big, "anything"));
}

TEST(types_and_not_types)
{
    const char *msg = "{\"type\": \"m.room.message\", \"sender\": \"@a:x\", \"content\": {}}";
    const char *topic = "{\"type\": \"m.room.topic\", \"sender\": \"@a:x\", \"content\": {}}";
    CHECK(filter_event_ok(NULL, NULL));
    json_t *e = J(msg);
    CHECK(filter_event_ok(NULL, e));
    json_decref(e);
    CHECK(event_ok("{}", msg));
    CHECK(event_ok("{\"types\": [\"m.room.message\"]}", msg));
    CHECK(!event_ok("{\"types\": [\"m.room.message\"]}", topic));
    CHECK(event_ok("{\"types\": [\"m.room.*\"]}", topic));
    CHECK(event_ok("{\"types\": [\"*\"]}", topic));
    CHECK(event_ok("{\"types\": [\"m.call.*\", \"*.topic\"]}", topic));
    /* an empty types list matches nothing; an empty not_types excludes nothing */
    CHECK(!event_ok("{\"types\": []}", msg));
    CHECK(event_ok("{\"not_types\": []}", msg));
    /* not_types wins over types */
    CHECK(!event_ok("{\"types\": [\"m.room.message\"], \"not_types\": [\"m.room.message\"]}", msg));
    CHECK(!event_ok("{\"types\": [\"m.*\"], \"not_types\": [\"*.message\"]}", msg));
    CHECK(event_ok("{\"types\": [\"m.*\"], \"not_types\": [\"*.message\"]}", topic));
    CHECK(!event_ok("{\"not_types\": [\"*\"]}", topic));
    /* an event without a type fails types and passes not_types */
    CHECK(!event_ok("{\"types\": [\"*\"]}", "{\"sender\": \"@a:x\"}"));
    CHECK(event_ok("{\"not_types\": [\"*\"]}", "{\"sender\": \"@a:x\"}"));
    /* malformed parts are read as absent */
    CHECK(event_ok("{\"types\": \"m.room.topic\"}", msg));
    CHECK(event_ok("[1]", msg));
}

TEST(senders)
{
    const char *ev = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\"}";
    CHECK(event_ok("{\"senders\": [\"@bob:example.org\"]}", ev));
    CHECK(!event_ok("{\"senders\": [\"@alice:example.org\"]}", ev));
    CHECK(!event_ok("{\"senders\": []}", ev));
    CHECK(!event_ok("{\"not_senders\": [\"@bob:example.org\"]}", ev));
    CHECK(!event_ok(
        "{\"senders\": [\"@bob:example.org\"], \"not_senders\": [\"@bob:example.org\"]}", ev));
    /* senders are exact: no wildcards ('*' is legal in historical localparts) */
    CHECK(!event_ok("{\"senders\": [\"@bob:*\"]}", ev));
    CHECK(event_ok("{\"senders\": [\"@st*r:x\"]}", "{\"type\": \"t\", \"sender\": \"@st*r:x\"}"));
    CHECK(!event_ok("{\"senders\": [\"@bob:example.org\"]}", "{\"type\": \"m.typing\"}"));
    CHECK(event_ok("{\"not_senders\": [\"@bob:example.org\"]}", "{\"type\": \"m.typing\"}"));
}

TEST(contains_url)
{
    const char *img = "{\"type\": \"m.room.message\", \"content\": {\"url\": \"mxc://x/y\"}}";
    const char *text = "{\"type\": \"m.room.message\", \"content\": {\"body\": \"hi\"}}";
    const char *odd = "{\"type\": \"m.room.message\", \"content\": {\"url\": 5}}";
    CHECK(event_ok("{\"contains_url\": true}", img));
    CHECK(!event_ok("{\"contains_url\": true}", text));
    CHECK(!event_ok("{\"contains_url\": true}", odd)); /* url must be a string */
    CHECK(!event_ok("{\"contains_url\": true}", "{\"type\": \"x\"}"));
    CHECK(!event_ok("{\"contains_url\": false}", img));
    CHECK(event_ok("{\"contains_url\": false}", text));
    CHECK(event_ok("{\"contains_url\": false}", odd));
    CHECK(event_ok("{}", img));
    CHECK(event_ok("{}", text));
}

TEST(event_rooms)
{
    const char *in_a = "{\"type\": \"m.room.message\", \"room_id\": \"!a:x\"}";
    const char *no_room = "{\"type\": \"m.room.message\"}";
    CHECK(event_ok("{\"rooms\": [\"!a:x\"]}", in_a));
    CHECK(!event_ok("{\"rooms\": [\"!b:x\"]}", in_a));
    CHECK(!event_ok("{\"rooms\": []}", in_a));
    CHECK(!event_ok("{\"not_rooms\": [\"!a:x\"]}", in_a));
    CHECK(!event_ok("{\"rooms\": [\"!a:x\"], \"not_rooms\": [\"!a:x\"]}", in_a));
    CHECK(!event_ok("{\"rooms\": [\"!*\"]}", in_a)); /* exact, no wildcard */
    /* without a room_id the room lists are the caller's business (filter_room_ok) */
    CHECK(event_ok("{\"rooms\": [\"!b:x\"]}", no_room));
    CHECK(event_ok("{\"not_rooms\": [\"!b:x\"]}", no_room));
}

TEST(room_ok)
{
    json_t *f = J("{\"rooms\": [\"!a:x\", \"!b:x\"], \"not_rooms\": [\"!b:x\"]}");
    CHECK(filter_room_ok(f, "!a:x"));
    CHECK(!filter_room_ok(f, "!b:x")); /* not_rooms wins */
    CHECK(!filter_room_ok(f, "!c:x"));
    CHECK(!filter_room_ok(f, "!a:x2")); /* exact, not a prefix */
    CHECK(!filter_room_ok(f, NULL));
    json_decref(f);
    f = J("{\"not_rooms\": [\"!b:x\"]}");
    CHECK(filter_room_ok(f, "!a:x"));
    CHECK(!filter_room_ok(f, "!b:x"));
    CHECK(filter_room_ok(f, NULL));
    json_decref(f);
    f = J("{\"rooms\": []}");
    CHECK(!filter_room_ok(f, "!a:x"));
    json_decref(f);
    f = J("{\"rooms\": [\"!*\"]}");
    CHECK(!filter_room_ok(f, "!a:x"));
    json_decref(f);
    f = J("{\"timeline\": {\"limit\": 3}}");
    CHECK(filter_room_ok(f, "!a:x"));
    json_decref(f);
    CHECK(filter_room_ok(NULL, "!a:x"));
}

TEST(limits)
{
    CHECK_INT(filter_limit(NULL, 10, 100), 10);
    json_t *f = J("{\"limit\": 20}");
    CHECK_INT(filter_limit(f, 10, 100), 20);
    CHECK_INT(filter_limit(f, 10, 15), 15);
    json_decref(f);
    f = J("{\"limit\": 1}");
    CHECK_INT(filter_limit(f, 10, 100), 1);
    json_decref(f);
    f = J("{\"limit\": 0}");
    CHECK_INT(filter_limit(f, 10, 100), 10);
    json_decref(f);
    f = J("{\"limit\": -5}");
    CHECK_INT(filter_limit(f, 10, 100), 10);
    json_decref(f);
    f = J("{\"limit\": \"20\"}");
    CHECK_INT(filter_limit(f, 10, 100), 10);
    json_decref(f);
    f = J("{\"limit\": 20.0}");
    CHECK_INT(filter_limit(f, 10, 100), 10);
    json_decref(f);
    f = J("{\"limit\": 9007199254740991}");
    CHECK_INT(filter_limit(f, 10, 100), 100);
    json_decref(f);
    f = J("{}");
    CHECK_INT(filter_limit(f, 10, 100), 10);
    CHECK_INT(filter_limit(f, 500, 100), 100); /* the default is clamped too */
    CHECK_INT(filter_limit(f, 0, 100), 1);
    CHECK_INT(filter_limit(f, 10, 0), 1);
    json_decref(f);
}

TEST(projection)
{
    const char *ev = "{\"type\": \"m.room.message\", \"sender\": \"@a:x\", \"event_id\": \"$e\","
                     " \"content\": {\"body\": \"hi\", \"msgtype\": \"m.text\","
                     "  \"m.relates_to\": {\"rel_type\": \"m.thread\", \"event_id\": \"$r\"},"
                     "  \"m\\\\foo\": 1, \"info\": {\"w\": 2, \"h\": 3}}}";
    CHECK(projects_to(ev, "[\"type\", \"sender\"]",
                      "{\"type\": \"m.room.message\", \"sender\": \"@a:x\"}"));
    CHECK(projects_to(ev, "[\"content.body\"]", "{\"content\": {\"body\": \"hi\"}}"));
    CHECK(projects_to(ev, "[\"content.info.w\", \"content.body\"]",
                      "{\"content\": {\"body\": \"hi\", \"info\": {\"w\": 2}}}"));
    /* "\." is a literal dot, "\\" a backslash */
    CHECK(projects_to(ev, "[\"content.m\\\\.relates_to.rel_type\"]",
                      "{\"content\": {\"m.relates_to\": {\"rel_type\": \"m.thread\"}}}"));
    CHECK(projects_to(ev, "[\"content.m\\\\\\\\foo\"]", "{\"content\": {\"m\\\\foo\": 1}}"));
    /* without the escape the dot separates: content.m -> relates_to, which is absent */
    CHECK(projects_to(ev, "[\"content.m.relates_to\"]", "{}"));
    /* other escapes stay as written: "\x" is a backslash and an x */
    CHECK(projects_to("{\"a\\\\x\": 1, \"ax\": 2}", "[\"a\\\\x\"]", "{\"a\\\\x\": 1}"));
    /* missing fields and paths through non-objects are skipped */
    CHECK(projects_to(ev, "[\"state_key\", \"content.body.len\", \"content.nope.x\", \"type\"]",
                      "{\"type\": \"m.room.message\"}"));
    /* overlapping paths, in either order, give the whole object */
    CHECK(projects_to(ev, "[\"content.info.w\", \"content.info\"]",
                      "{\"content\": {\"info\": {\"w\": 2, \"h\": 3}}}"));
    CHECK(projects_to(ev, "[\"content.info\", \"content.info.w\"]",
                      "{\"content\": {\"info\": {\"w\": 2, \"h\": 3}}}"));
    CHECK(projects_to(ev, "[]", "{}"));
    CHECK(projects_to("{\"\": {\"\": 7}, \"a\": 1}", "[\".\"]", "{\"\": {\"\": 7}}"));
    CHECK(projects_to(ev, "[5, \"event_id\"]", "{\"event_id\": \"$e\"}"));
    /* no event_fields: the event itself */
    json_t *e = J(ev);
    json_t *same = filter_project(e, NULL);
    CHECK(same == e);
    json_decref(same);
    /* the projection shares nothing with the event */
    json_t *fields = J("[\"content.info\"]");
    json_t *p = filter_project(e, fields);
    CHECK(p && p != e);
    json_object_set_new(json_object_get(json_object_get(p, "content"), "info"), "w",
                        json_integer(99));
    CHECK_INT(json_integer_value(
                  json_object_get(json_object_get(json_object_get(e, "content"), "info"), "w")),
              2);
    json_decref(p);
    json_decref(fields);
    json_decref(e);
}

TEST(validate_accepts)
{
    CHECK_INT(valid(spec_example), 0);
    CHECK_INT(valid("{}"), 0);
    CHECK_INT(valid("{\"event_format\": \"federation\"}"), 0);
    CHECK_INT(
        valid("{\"room\": {\"state\": {\"lazy_load_members\": true,"
              " \"include_redundant_members\": false}, \"include_leave\": true,"
              " \"timeline\": {\"unread_thread_notifications\": true, \"contains_url\": false,"
              " \"rooms\": [\"!a:x\"], \"limit\": 1}, \"account_data\": {\"types\": []},"
              " \"rooms\": [], \"not_rooms\": [\"!b:x\"]},"
              " \"account_data\": {\"limit\": 5, \"senders\": [\"@a:x\"]}}"),
        0);
    /* unknown keys are ignored, also where a RoomEventFilter key sits in an EventFilter */
    CHECK_INT(valid("{\"org.example.x\": 1, \"presence\": {\"lazy_load_members\": \"yes\"},"
                    " \"room\": {\"unknown\": [1]}}"),
              0);
    json_t *f = J("{\"contains_url\": true, \"types\": [\"m.room.message\"],"
                  " \"lazy_load_members\": true, \"limit\": 3}");
    CHECK_INT(filter_validate_room_event(f, NULL, 0), 0);
    json_decref(f);
}

TEST(validate_rejects)
{
    char why[160];
    json_t *arr = J("[]");
    CHECK_INT(filter_validate(arr, why, sizeof why), -1);
    CHECK_STR(why, "filter must be an object");
    json_decref(arr);
    CHECK_INT(filter_validate(NULL, NULL, 0), -1);
    CHECK_STR(why_invalid("{\"room\": {\"timeline\": {\"types\": \"m.room.message\"}}}"),
              "room.timeline.types must be an array of strings");
    CHECK_STR(why_invalid("{\"room\": {\"timeline\": {\"types\": [\"ok\", 5]}}}"),
              "room.timeline.types[1] must be a string");
    CHECK_STR(why_invalid("{\"room\": {\"timeline\": {\"limit\": \"10\"}}}"),
              "room.timeline.limit must be an integer greater than 0");
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"limit\": 0}}}"), -1);
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"limit\": -1}}}"), -1);
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"limit\": 1.5}}}"), -1);
    CHECK_INT(valid("{\"presence\": {\"limit\": true}}"), -1);
    CHECK_STR(why_invalid("{\"event_format\": \"xml\"}"),
              "event_format must be \"client\" or \"federation\"");
    CHECK_INT(valid("{\"event_format\": 1}"), -1);
    CHECK_STR(why_invalid("{\"room\": {\"state\": {\"lazy_load_members\": \"true\"}}}"),
              "room.state.lazy_load_members must be a boolean");
    CHECK_INT(valid("{\"room\": {\"state\": {\"include_redundant_members\": 1}}}"), -1);
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"contains_url\": null}}}"), -1);
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"unread_thread_notifications\": 0}}}"), -1);
    CHECK_INT(valid("{\"room\": {\"include_leave\": \"no\"}}"), -1);
    CHECK_STR(why_invalid("{\"room\": []}"), "room must be an object");
    CHECK_STR(why_invalid("{\"room\": {\"ephemeral\": 3}}"), "room.ephemeral must be an object");
    CHECK_INT(valid("{\"presence\": \"all\"}"), -1);
    CHECK_INT(valid("{\"account_data\": []}"), -1);
    CHECK_INT(valid("{\"room\": {\"account_data\": {\"not_types\": {}}}}"), -1);
    CHECK_INT(valid("{\"event_fields\": \"content\"}"), -1);
    CHECK_INT(valid("{\"event_fields\": [\"content\", null]}"), -1);
    CHECK_STR(why_invalid("{\"room\": {\"not_rooms\": [\"#alias:x\"]}}"),
              "room.not_rooms[0] must start with '!'");
    CHECK_INT(valid("{\"room\": {\"timeline\": {\"rooms\": [\"\"]}}}"), -1);
    CHECK_STR(why_invalid("{\"presence\": {\"senders\": [\"bob\"]}}"),
              "presence.senders[0] must start with '@'");
    CHECK_INT(valid("{\"room\": {\"state\": {\"not_senders\": [\"\"]}}}"), -1);
}

TEST(validate_bounds)
{
    json_t *list = json_array();
    for (int i = 0; i < FILTER_MAX_LIST; i++)
        json_array_append_new(list, json_string("m.room.*"));
    json_t *f = json_pack("{s:{s:{s:O}}}", "room", "timeline", "not_types", list);
    CHECK_INT(filter_validate(f, NULL, 0), 0);
    json_array_append_new(list, json_string("one.too.many"));
    char why[160];
    CHECK_INT(filter_validate(f, why, sizeof why), -1);
    CHECK_STR(why, "room.timeline.not_types has more than 1000 entries");
    json_decref(f);
    json_decref(list);

    char s[FILTER_MAX_STRING + 2];
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    f = json_pack("{s:[s]}", "event_fields", s);
    CHECK_INT(filter_validate(f, NULL, 0), -1);
    json_decref(f);
    s[FILTER_MAX_STRING] = '\0';
    f = json_pack("{s:[s]}", "event_fields", s);
    CHECK_INT(filter_validate(f, NULL, 0), 0);
    json_decref(f);
    f = json_pack("{s:{s:[s#]}}", "presence", "types", "a\0b", (size_t)3);
    CHECK_INT(filter_validate(f, NULL, 0), -1); /* NUL inside a string */
    json_decref(f);

    /* a truncated reason is still a terminated string */
    char tiny[8];
    f = J("{\"room\": {\"timeline\": {\"limit\": \"x\"}}}");
    CHECK_INT(filter_validate(f, tiny, sizeof tiny), -1);
    CHECK_STR(tiny, "room.ti");
    json_decref(f);
}

TEST(parse_param)
{
    char why[160];
    CHECK(filter_param_is_inline("{\"room\":{}}"));
    CHECK(!filter_param_is_inline("66696p746572"));
    CHECK(!filter_param_is_inline(""));
    CHECK(!filter_param_is_inline(NULL));

    json_t *f = filter_parse_param(spec_example, FILTER_KIND_SYNC, why, sizeof why);
    CHECK(f != NULL);
    CHECK_INT(filter_limit(filter_room_part(f, "timeline"), 20, 50), 10);
    json_decref(f);
    f = filter_parse_param("{\"contains_url\":true}", FILTER_KIND_ROOM_EVENT, why, sizeof why);
    CHECK(f && json_is_true(json_object_get(f, "contains_url")));
    json_decref(f);
    f = filter_parse_param("{\"lazy_load_members\":true}", FILTER_KIND_SYNC, why, sizeof why);
    CHECK(f != NULL); /* unknown at the top of a Filter: ignored */
    json_decref(f);

    CHECK(
        !filter_parse_param("{\"limit\":1,\"limit\":2}", FILTER_KIND_ROOM_EVENT, why, sizeof why));
    CHECK(strncmp(why, "filter is not valid JSON", 24) == 0);
    CHECK(!filter_parse_param("{\"room\":", FILTER_KIND_SYNC, why, sizeof why));
    CHECK(!filter_parse_param("[]", FILTER_KIND_SYNC, why, sizeof why));
    CHECK_STR(why, "filter must be an object");
    CHECK(!filter_parse_param("\"x\"", FILTER_KIND_SYNC, why, sizeof why));
    CHECK(!filter_parse_param("{\"types\":\"x\"}", FILTER_KIND_ROOM_EVENT, why, sizeof why));
    CHECK_STR(why, "types must be an array of strings");
    CHECK(!filter_parse_param("{\"room\":{\"state\":{\"lazy_load_members\":1}}}", FILTER_KIND_SYNC,
                              why, sizeof why));
    CHECK_STR(why, "room.state.lazy_load_members must be a boolean");
    CHECK(!filter_parse_param(NULL, FILTER_KIND_SYNC, why, sizeof why));
}

TEST(accessors)
{
    json_t *f = J(spec_example);
    const json_t *tl = filter_room_part(f, "timeline");
    CHECK(tl && json_integer_value(json_object_get(tl, "limit")) == 10);
    CHECK(filter_room_part(f, "state") != NULL);
    CHECK(filter_room_part(f, "account_data") == NULL);
    CHECK(filter_part(f, "presence") != NULL);
    CHECK(filter_part(f, "account_data") == NULL);
    CHECK(filter_room(f) != NULL);
    CHECK_INT(json_array_size(filter_event_fields(f)), 3);
    CHECK(!filter_federation_format(f));
    CHECK(!filter_include_leave(f));
    CHECK(!filter_unread_threads(f));
    bool red = true;
    CHECK(!filter_lazy_members(f, &red));
    CHECK(!red);
    /* the spec's example through the matchers */
    const char *spam = "{\"type\": \"m.room.message\", \"sender\": \"@spam:example.com\"}";
    const char *ham = "{\"type\": \"m.room.message\", \"sender\": \"@ham:example.com\"}";
    json_t *e1 = J(spam), *e2 = J(ham);
    CHECK(!filter_event_ok(tl, e1));
    CHECK(filter_event_ok(tl, e2));
    CHECK(filter_event_ok(filter_room_part(f, "state"), e1)); /* m.room.* */
    CHECK(!filter_room_ok(tl, "!726s6s6q:example.com"));
    CHECK(filter_room_ok(filter_room(f), "!726s6s6q:example.com"));
    json_decref(e1);
    json_decref(e2);
    json_decref(f);

    f = J("{\"event_format\": \"federation\", \"event_fields\": \"x\", \"room\": {"
          " \"include_leave\": true, \"state\": {\"lazy_load_members\": true,"
          " \"include_redundant_members\": true},"
          " \"timeline\": {\"unread_thread_notifications\": true, \"lazy_load_members\": false},"
          " \"ephemeral\": []}}");
    CHECK(filter_federation_format(f));
    CHECK(filter_include_leave(f));
    CHECK(filter_unread_threads(f));
    CHECK(filter_event_fields(f) == NULL); /* not an array: keep everything */
    CHECK(filter_room_part(f, "ephemeral") == NULL);
    red = false;
    CHECK(filter_lazy_members(f, &red));
    CHECK(red);
    CHECK(filter_lazy_members(f, NULL));
    json_decref(f);

    /* lazy loading is read from room.state only; include_redundant needs lazy loading */
    f = J("{\"room\": {\"timeline\": {\"lazy_load_members\": true},"
          " \"state\": {\"include_redundant_members\": true}}}");
    red = true;
    CHECK(!filter_lazy_members(f, &red));
    CHECK(!red);
    json_decref(f);
    f = J("{\"lazy_load_members\": true}");
    red = true;
    CHECK(filter_event_lazy_members(f, &red));
    CHECK(!red);
    json_decref(f);
    CHECK(!filter_event_lazy_members(NULL, NULL));
    CHECK(!filter_lazy_members(NULL, NULL));
    CHECK(!filter_include_leave(NULL));
    CHECK(!filter_unread_threads(NULL));
    CHECK(!filter_federation_format(NULL));
    CHECK(filter_room_part(NULL, "state") == NULL);
}

TEST(narrows)
{
    static const char *const yes[] = {
        "{\"types\": [\"m.room.message\"]}", "{\"not_types\": []}",
        "{\"senders\": [\"@a:x\"]}", "{\"not_senders\": [\"@a:x\"]}",
        "{\"contains_url\": false, \"limit\": 3}",
    };
    static const char *const no[] = {
        "{}", "{\"limit\": 3}", "{\"rooms\": [\"!r:x\"], \"not_rooms\": []}",
        "{\"lazy_load_members\": true}",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        json_t *f = J(yes[i]);
        CHECK(filter_event_narrows(f));
        json_decref(f);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        json_t *f = J(no[i]);
        CHECK(!filter_event_narrows(f));
        json_decref(f);
    }
    CHECK(!filter_event_narrows(NULL));
    json_t *arr = J("[\"types\"]");
    CHECK(!filter_event_narrows(arr));
    json_decref(arr);
}

int main(void)
{
    RUN(glob_wildcards);
    RUN(types_and_not_types);
    RUN(senders);
    RUN(contains_url);
    RUN(event_rooms);
    RUN(room_ok);
    RUN(limits);
    RUN(projection);
    RUN(validate_accepts);
    RUN(validate_rejects);
    RUN(validate_bounds);
    RUN(parse_param);
    RUN(accessors);
    RUN(narrows);
    return unit_done();
}
