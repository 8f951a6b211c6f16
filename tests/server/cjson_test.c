/* cjson_test.c - canonical JSON against the spec appendix's own examples ("Canonical JSON")
 * plus the edges: escapes, NUL, code point ordering, integer range, reals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/cjson.h"
#include "tests/unit.h"

/* Parse `in` as a client would send it and compare the canonical encoding with `want`
 * (NULL: the encoder must refuse). */
static void check(const char *in, const char *want)
{
    json_error_t err;
    json_t *v = json_loads(in, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!v) {
        UNIT_FAIL("cannot parse %s: %s", in, err.text);
        return;
    }
    size_t len = 0;
    char *got = cjson_encode(v, &len);
    if (!want) {
        if (got)
            UNIT_FAIL("%s: want refusal, got %s", in, got);
        CHECK(!cjson_valid(v));
    } else if (!got) {
        UNIT_FAIL("%s: refused, want %s", in, want);
    } else {
        if (len != strlen(want) || memcmp(got, want, len) != 0)
            UNIT_FAIL("%s: got %.*s, want %s", in, (int)len, got, want);
        CHECK(cjson_valid(v));
    }
    free(got);
    json_decref(v);
}

TEST(spec_examples)
{
    check("{}", "{}");
    check("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", "{\"one\":1,\"two\":\"Two\"}");
    check("{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", "{\"a\":\"1\",\"b\":\"2\"}");
    check("{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
    check("{\"auth\": {\"success\": true, \"mxid\": \"@john.doe:example.com\", \"profile\": "
          "{\"display_name\": \"John Doe\", \"three_pids\": [{\"medium\": \"email\", "
          "\"address\": \"john.doe@example.org\"}, {\"medium\": \"msisdn\", \"address\": "
          "\"123456789\"}]}}}",
          "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":\"John "
          "Doe\",\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":\"email\"},{"
          "\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":true}}");
    check("{\"a\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}",
          "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}");
    check("{\"\xe6\x9c\xac\": 2, \"\xe6\x97\xa5\": 1}", "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}");
    check("{\"a\": \"\\u65E5\"}", "{\"a\":\"\xe6\x97\xa5\"}");
    check("{\"a\": null}", "{\"a\":null}");
    check("{\"a\": -0, \"b\": 1e10}", "{\"a\":0,\"b\":10000000000}");
}

TEST(escapes)
{
    /* mandatory escapes in their short form; other controls as lower-case \u00xx */
    check("[\"\\b\\f\\n\\r\\t\\\"\\\\\"]", "[\"\\b\\f\\n\\r\\t\\\"\\\\\"]");
    check("[\"\\u001F\\u0001\\u000B\\u007f\"]", "[\"\\u001f\\u0001\\u000b\x7f\"]");
    check("[\"\\u0000x\"]", "[\"\\u0000x\"]");
    check("[\"/\"]", "[\"/\"]");                             /* solidus is not escaped */
    check("[\"\\ud83d\\ude00\"]", "[\"\xf0\x9f\x98\x80\"]"); /* surrogate pair -> UTF-8 */
}

TEST(key_order_by_code_point)
{
    /* "Z" (0x5A) < "a" (0x61) < "é" (U+00E9) < "日" (U+65E5) < emoji (U+1F600) */
    check("{\"\xf0\x9f\x98\x80\":5,\"\xe6\x97\xa5\":4,\"\xc3\xa9\":3,\"a\":2,\"Z\":1}",
          "{\"Z\":1,\"a\":2,\"\xc3\xa9\":3,\"\xe6\x97\xa5\":4,\"\xf0\x9f\x98\x80\":5}");
    /* a key that is a prefix of another sorts first */
    check("{\"ab\":1,\"a\":2}", "{\"a\":2,\"ab\":1}");
    /* nested objects and arrays keep array order */
    check("{\"x\":[{\"b\":1,\"a\":2},3,[]],\"w\":{}}", "{\"w\":{},\"x\":[{\"a\":2,\"b\":1},3,[]]}");
}

TEST(numbers)
{
    check("[9007199254740991, -9007199254740991]", "[9007199254740991,-9007199254740991]");
    check("[9007199254740992]", NULL);
    check("[-9007199254740992]", NULL);
    check("[1.5]", NULL);
    check("[1e300]", NULL);
    check("[2.0, -3e2]", "[2,-300]");
    check("[true,false,null,0]", "[true,false,null,0]");
}

/* Encode `v` (stolen) and compare with `want` (NULL: the encoder must refuse). */
static void check_tree(json_t *v, const char *want)
{
    size_t len = 0, wantlen = want ? strlen(want) : 0;
    char *got = v ? cjson_encode(v, &len) : NULL;
    if (!v)
        UNIT_FAIL("could not build the tree");
    else if (!want) {
        if (got)
            UNIT_FAIL("want refusal, got %s", got);
        CHECK(!cjson_valid(v));
    } else if (!got)
        UNIT_FAIL("refused, want %.*s", (int)wantlen, want);
    else {
        if (len != wantlen || memcmp(got, want, len) != 0)
            UNIT_FAIL("got %.*s, want %.*s", (int)len, got, (int)wantlen, want);
        CHECK(got[len] == '\0');
        CHECK(cjson_valid(v));
    }
    free(got);
    json_decref(v);
}

TEST(control_escape_table)
{
    /* The spec grammar's "escaped" rule, byte by byte for U+0000..U+001F. */
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
    for (int c = 0; c < 32; c++) {
        char in[3] = {'<', (char)c, '>'}, out[16];
        snprintf(out, sizeof out, "\"<%s>\"", want[c]);
        check_tree(json_stringn(in, 3), out);
    }
    /* the other printable ASCII, DEL, U+2028/U+2029 and a 4-byte character pass through */
    check_tree(json_string(" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\x7f"),
               "\" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\x7f\"");
    check_tree(json_string("\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80"),
               "\"\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80\"");
}

TEST(nul_in_strings_and_keys)
{
    /* jansson strings carry a length; a NUL must not end them early */
    check_tree(json_stringn("a\0b", 3), "\"a\\u0000b\"");
    json_t *o = json_object();
    json_object_setn_new(o, "k\0z", 3, json_integer(2));
    json_object_setn_new(o, "k", 1, json_integer(1));
    json_object_setn_new(o, "k\x01", 2, json_integer(3));
    check_tree(o, "{\"k\":1,\"k\\u0000z\":2,\"k\\u0001\":3}");
    check("{\"a\":\"x\\u0000y\\u0000\"}", "{\"a\":\"x\\u0000y\\u0000\"}");
}

TEST(key_order_is_code_point_not_utf16)
{
    /* U+FF61 < U+1F600 by code point (and UTF-8 bytes EF < F0), but a UTF-16 sort puts the
     * emoji's surrogate D83D before FF61. Canonical JSON wants code points. */
    check("{\"\xf0\x9f\x98\x80\":2,\"\xef\xbd\xa1\":1}",
          "{\"\xef\xbd\xa1\":1,\"\xf0\x9f\x98\x80\":2}");
    /* U+007F (one byte) < U+0080 (two bytes) < U+07FF < U+0800 (three) */
    check("{\"\xe0\xa0\x80\":4,\"\xdf\xbf\":3,\"\xc2\x80\":2,\"\x7f\":1}",
          "{\"\x7f\":1,\"\xc2\x80\":2,\"\xdf\xbf\":3,\"\xe0\xa0\x80\":4}");
    /* case: upper-case sorts before lower-case; digits before both */
    check("{\"b\":1,\"B\":2,\"1\":3,\"_\":4}", "{\"1\":3,\"B\":2,\"_\":4,\"b\":1}");
    /* nested objects at every level are sorted */
    check("{\"b\":{\"d\":{\"f\":1,\"e\":2},\"c\":[{\"z\":1,\"y\":{\"x\":0,\"w\":0}}]},\"a\":0}",
          "{\"a\":0,\"b\":{\"c\":[{\"y\":{\"w\":0,\"x\":0},\"z\":1}],\"d\":{\"e\":2,\"f\":1}}}");
}

TEST(numbers_built_by_hand)
{
    check_tree(json_integer(9007199254740991LL), "9007199254740991");
    check_tree(json_integer(-9007199254740991LL), "-9007199254740991");
    check_tree(json_integer(9007199254740992LL), NULL);
    check_tree(json_integer(-9007199254740992LL), NULL);
    check_tree(json_integer(INT64_MAX), NULL);
    check_tree(json_integer(INT64_MIN), NULL);
    check_tree(json_real(-0.0), "0"); /* "-0 MUST NOT appear" */
    check_tree(json_real(9007199254740991.0), "9007199254740991");
    check_tree(json_real(-9007199254740991.0), "-9007199254740991");
    check_tree(json_real(9007199254740992.0), NULL);
    check_tree(json_real(0.5), NULL);
    check_tree(json_real(-1e-300), NULL);
    check_tree(json_real(1e300), NULL);
    /* a bad number anywhere refuses the whole tree */
    check("{\"a\":[1,{\"b\":[0.1]}]}", NULL);
    check("{\"a\":{\"b\":{\"c\":18014398509481984}}}", NULL);
    check("{\"a\":[1,{\"b\":[1.0]}]}", "{\"a\":[1,{\"b\":[1]}]}");
}

/* v1-5 events: reals as Python's repr writes them (the expected strings are Python 3's own
 * output), any 64-bit integer; strict canonical JSON refuses every real. */
static void compat(json_t *v, const char *want)
{
    size_t len = 0;
    char *got = cjson_encode_compat(v, &len);
    if (!want) {
        if (got)
            UNIT_FAIL("want refusal, got %s", got);
    } else if (!got || strcmp(got, want) != 0 || len != strlen(want)) {
        UNIT_FAIL("compat: got %s, want %s", got ? got : "(null)", want);
    }
    free(got);
    json_decref(v);
}

TEST(compat_encoding_for_old_rooms)
{
    compat(json_real(50.57), "50.57");
    compat(json_real(1.0), "1.0");
    compat(json_real(1e10), "10000000000.0");
    compat(json_real(1e16), "1e+16");
    compat(json_real(1e22), "1e+22");
    compat(json_real(1.5e-5), "1.5e-05");
    compat(json_real(0.0001), "0.0001");
    compat(json_real(-0.0), "-0.0");
    compat(json_real(0.5), "0.5");
    compat(json_real(123456789012345678.0), "1.2345678901234568e+17");
    compat(json_real(12345678901234567.0), "1.2345678901234568e+16");
    compat(json_real(0.1 + 0.2), "0.30000000000000004");
    compat(json_real(5.114698E4), "51146.98");
    compat(json_real(1e-300), "1e-300");
    compat(json_real(-2.5), "-2.5");
    compat(json_integer(9007199254740993LL), "9007199254740993");
    compat(json_integer(INT64_MIN), "-9223372036854775808");
    compat(json_pack("{s:f,s:I,s:[i]}", "b", 50.0, "a", (json_int_t)INT64_MAX, "c", 1),
           "{\"a\":9223372036854775807,\"b\":50.0,\"c\":[1]}");
    /* on strict trees both encoders agree */
    json_t *t = json_pack("{s:i,s:[s,i]}", "x", -7, "y", "z", 9);
    char *a = cjson_encode(t, NULL), *b = cjson_encode_compat(t, NULL);
    CHECK(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
    CHECK(cjson_strict(t));
    json_decref(t);
    /* strict: no reals at all, integral or not */
    json_t *r = json_pack("{s:[f]}", "a", 1.0);
    CHECK(!cjson_strict(r));
    CHECK(cjson_valid(r)); /* the older, laxer predicate (cross-signing keys) */
    json_decref(r);
    r = json_real(1e10);
    CHECK(!cjson_strict(r));
    json_decref(r);
    r = json_integer(9007199254740992LL);
    CHECK(!cjson_strict(r));
    json_decref(r);
}

TEST(scalars_and_null)
{
    check("\"x\"", "\"x\"");
    check("5", "5");
    check("-5", "-5");
    check("null", "null");
    check("[]", "[]");
    check("[[],{},\"\"]", "[[],{},\"\"]");
    CHECK(cjson_encode(NULL, NULL) == NULL);
    CHECK(!cjson_valid(NULL));
    json_t *v = json_integer(7);
    char *s = cjson_encode(v, NULL); /* len is optional */
    CHECK_STR(s, "7");
    free(s);
    json_decref(v);
}

TEST(depth)
{
    json_t *v = json_loads("{\"a\":[{\"b\":1}]}", 0, NULL);
    CHECK_INT(cjson_depth(v), 4);
    json_decref(v);
    v = json_integer(1);
    CHECK_INT(cjson_depth(v), 1);
    json_decref(v);
    v = json_loads("[[[]],{},[{\"a\":{\"b\":[]}}]]", 0, NULL);
    CHECK_INT(cjson_depth(v), 5);
    json_decref(v);
    v = json_object();
    CHECK_INT(cjson_depth(v), 1);
    json_decref(v);
}

TEST(roundtrip_of_its_own_output)
{
    const char *in = "{\"z\":{\"y\":[1,\"\\u0007\",{\"k\":null}]},\"a\":\"\xc3\xa9\"}";
    json_t *v = json_loads(in, 0, NULL);
    char *once = cjson_encode(v, NULL);
    json_t *w = json_loads(once, 0, NULL);
    char *twice = cjson_encode(w, NULL);
    CHECK_STR(once, twice);
    free(once);
    free(twice);
    json_decref(v);
    json_decref(w);
}

int main(void)
{
    RUN(spec_examples);
    RUN(escapes);
    RUN(key_order_by_code_point);
    RUN(numbers);
    RUN(control_escape_table);
    RUN(nul_in_strings_and_keys);
    RUN(key_order_is_code_point_not_utf16);
    RUN(numbers_built_by_hand);
    RUN(compat_encoding_for_old_rooms);
    RUN(scalars_and_null);
    RUN(depth);
    RUN(roundtrip_of_its_own_output);
    return unit_done();
}
