/* cjson_test.c - canonical JSON against the spec appendix's own examples ("Canonical JSON")
 * plus the edges: escapes, NUL, code point ordering, integer range, reals. */
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
    check("{\"\xe6\x9c\xac\": 2, \"\xe6\x97\xa5\": 1}",
          "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}");
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
    check("[\"/\"]", "[\"/\"]");                       /* solidus is not escaped */
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

TEST(depth)
{
    json_t *v = json_loads("{\"a\":[{\"b\":1}]}", 0, NULL);
    CHECK_INT(cjson_depth(v), 4);
    json_decref(v);
    v = json_integer(1);
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
    RUN(depth);
    RUN(roundtrip_of_its_own_output);
    return unit_done();
}
