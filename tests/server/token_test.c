/* token_test.c - token_parse: the shapes the server issues read back, and everything sscanf
 * or strtoll would have let through (signs, spaces, overflow, trailing bytes) refused. */
#include <stdint.h>

#include "server/token.h"
#include "tests/unit.h"

TEST(shapes_read_back)
{
    int64_t v[3] = {0};
    CHECK(token_parse("s12_0_7", "s#_#_#", v, 3) == 0);
    CHECK_INT(v[0], 12);
    CHECK_INT(v[1], 0);
    CHECK_INT(v[2], 7);
    CHECK(token_parse("t5_999999999999999999", "t#_#", v, 2) == 0); /* 18 digits */
    CHECK_INT(v[0], 5);
    CHECK_INT(v[1], 999999999999999999LL);
    CHECK(token_parse("o0", "o#", v, 1) == 0 && v[0] == 0);
    CHECK(token_parse("42", "#", v, 1) == 0 && v[0] == 42);
    CHECK(token_parse("007", "#", v, 1) == 0 && v[0] == 7);
}

TEST(refused)
{
    int64_t v[3];
    static const char *const bad[] = {
        "",          "garbage",      "s1_2",         "s1_2_3_4",   "s1_2_3x",
        "s 1_2_3",   "s+1_2_3",      "s-1_2_3",      "s1_ 2_3",    "s1__3",
        "S1_2_3",    "s1_2_3\n",     "s1_2_\xc3\xa4", "s0x1_2_3",  "s1234567890123456789_0_0",
        "s99999999999999999999999_0_0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (token_parse(bad[i], "s#_#_#", v, 3) == 0)
            UNIT_FAIL("accepted \"%s\"", bad[i]);
    CHECK(token_parse(NULL, "#", v, 1) == -1);
    CHECK(token_parse("1", "#", v, 0) == -1);        /* more numbers than room */
    CHECK(token_parse("1_2", "#_#", v, 1) == -1);
    CHECK(token_parse("1", "#_#", v, 2) == -1);      /* shape not complete */
    CHECK(token_parse("t1_2", "t#_#", v, 3) == -1);  /* fewer numbers than asked */
}

int main(void)
{
    RUN(shapes_read_back);
    RUN(refused);
    return unit_done();
}
