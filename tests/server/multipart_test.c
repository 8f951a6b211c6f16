/* multipart_test.c - reading federation media answers: the spec's example (v1.11
 * "Content Repository"), a quoted boundary and a preamble (RFC 2046), a Location part, binary
 * content holding CRLFs and near-delimiters, file names in both forms, and refusals
 * (another type, no boundary, one part, unterminated parts, a cut at every length). */
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"
#include "tests/unit.h"

#define CT "multipart/mixed; boundary=gc0p4Jq0M2Yt08jU534c0p"

static const char spec_example[] = "--gc0p4Jq0M2Yt08jU534c0p\r\n"
                                   "Content-Type: application/json\r\n"
                                   "\r\n"
                                   "{}\r\n"
                                   "--gc0p4Jq0M2Yt08jU534c0p\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "Content-Disposition: attachment; filename=\"a b.txt\"\r\n"
                                   "\r\n"
                                   "This media is plain text, though multipart/mixed "
                                   "permits anything.\r\n"
                                   "--gc0p4Jq0M2Yt08jU534c0p--\r\n";

TEST(spec_example_parses)
{
    struct multipart_part p[2];
    CHECK_INT(multipart_parse(spec_example, strlen(spec_example), CT, p), 0);
    CHECK_STR(p[0].type, "application/json");
    CHECK_INT(p[0].len, 2);
    CHECK(memcmp(p[0].body, "{}", 2) == 0);
    CHECK_STR(p[1].type, "text/plain");
    CHECK_INT(p[1].len, strlen("This media is plain text, though multipart/mixed permits "
                               "anything."));
    char name[64];
    multipart_filename(p[1].disposition, name, sizeof name);
    CHECK_STR(name, "a b.txt");
    CHECK_STR(p[1].location, "");
}

TEST(quoted_boundary_preamble_location)
{
    const char body[] = "preamble to be ignored\r\n--xyz\r\ncontent-type: application/json\r\n"
                        "\r\n{\"a\":1}\r\n--xyz\r\nLOCATION:  https://cdn.example/m/1 \r\n\r\n"
                        "\r\n--xyz--";
    struct multipart_part p[2];
    CHECK_INT(multipart_parse(body, sizeof body - 1, "Multipart/Mixed; Boundary=\"xyz\"", p), 0);
    CHECK_STR(p[1].location, "https://cdn.example/m/1");
    CHECK_INT(p[1].len, 0);
}

TEST(binary_content_with_near_delimiters)
{
    const char body[] = "--b\r\n\r\n{}\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n"
                        "\r\n--\r\n-b\0\r\n--c\r\n--b--";
    struct multipart_part p[2];
    CHECK_INT(multipart_parse(body, sizeof body - 1, "multipart/mixed; boundary=b", p), 0);
    CHECK_INT(p[1].len, 14);
    CHECK(memcmp(p[1].body, "\r\n--\r\n-b\0\r\n--c", 14) == 0);
}

TEST(file_names)
{
    char n[32];
    multipart_filename("inline; filename*=utf-8''caf%C3%A9%20plan.png", n, sizeof n);
    CHECK_STR(n, "caf\xc3\xa9 plan.png");
    multipart_filename("attachment; filename=plain.txt; size=3", n, sizeof n);
    CHECK_STR(n, "plain.txt");
    multipart_filename("attachment", n, sizeof n);
    CHECK_STR(n, "");
    multipart_filename("attachment; filename*=utf-8''a%0Ab", n, sizeof n);
    CHECK_STR(n, "");
    multipart_filename("attachment; filename=\"0123456789012345678901234567890123456789\"", n,
                       sizeof n);
    CHECK_INT(strlen(n), sizeof n - 1);
}

TEST(refusals)
{
    struct multipart_part p[2];
    size_t n = strlen(spec_example);
    CHECK_INT(multipart_parse(spec_example, n, "application/json", p), -1);
    CHECK_INT(multipart_parse(spec_example, n, "multipart/mixed", p), -1);
    CHECK_INT(multipart_parse(spec_example, n, "multipart/mixed; boundary=", p), -1);
    CHECK_INT(multipart_parse(spec_example, n, "multipart/mixed; boundary=other", p), -1);
    CHECK_INT(multipart_parse(NULL, 0, CT, p), -1);
    const char one[] = "--b\r\n\r\n{}\r\n--b--\r\n";
    CHECK_INT(multipart_parse(one, sizeof one - 1, "multipart/mixed; boundary=b", p), -1);
    /* every cut before the closing delimiter is refused, and none reads beyond the cut */
    size_t close_at = (size_t)(strstr(spec_example, "anything.") - spec_example) + 9;
    for (size_t cut = 0; cut < close_at; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, spec_example, cut);
        CHECK_INT(multipart_parse(copy, cut, CT, p), -1);
        free(copy);
    }
    char longb[200] = "multipart/mixed; boundary=";
    memset(longb + strlen(longb), 'a', 80);
    CHECK_INT(multipart_parse(spec_example, n, longb, p), -1);
}

int main(void)
{
    RUN(spec_example_parses);
    RUN(quoted_boundary_preamble_location);
    RUN(binary_content_with_near_delimiters);
    RUN(file_names);
    RUN(refusals);
    return unit_done();
}
