/* b64_test.c - base64 against the spec appendix's "Unpadded Base64" examples and RFC 4648's
 * section 10 vectors, in both alphabets (RFC 4648 s.4 and s.5), decoding padded and unpadded
 * input as receivers must, and refusing what is not base64. */
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "tests/unit.h"

/* Decode `in` (NUL-terminated) and compare with `want` of `wantlen` bytes. */
static void check_decode(const char *in, const void *want, size_t wantlen)
{
    uint8_t out[64];
    size_t n = 999;
    if (b64_decode(in, strlen(in), out, sizeof out, &n) != 0)
        UNIT_FAIL("decode \"%s\" refused", in);
    else if (n != wantlen || memcmp(out, want, n) != 0)
        UNIT_FAIL("decode \"%s\": got %zu bytes, want %zu", in, n, wantlen);
}

/* The decoder must refuse `len` bytes of `in`. */
static void check_refused(const char *in, size_t len)
{
    uint8_t out[64];
    size_t n = 0;
    if (b64_decode(in, len, out, sizeof out, &n) != -1)
        UNIT_FAIL("decode \"%.*s\" accepted", (int)len, in);
}

/* RFC 4648 s.10, which is also the spec appendix's list: input, unpadded, padded. */
static const char *const rfc4648[][3] = {
    {"", "", ""},
    {"f", "Zg", "Zg=="},
    {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg", "Zm9vYg=="},
    {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(spec_and_rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *raw = rfc4648[i][0];
        char *s = b64_encode((const uint8_t *)raw, strlen(raw));
        char *u = b64_encode_urlsafe((const uint8_t *)raw, strlen(raw));
        CHECK_STR(s, rfc4648[i][1]);
        CHECK_STR(u, rfc4648[i][1]); /* no '+' or '/' in these: both alphabets agree */
        free(s);
        free(u);
        check_decode(rfc4648[i][1], raw, strlen(raw));
        check_decode(rfc4648[i][2], raw, strlen(raw));
    }
}

TEST(alphabets)
{
    /* 0xfb 0xff 0xbf is 62 63 62 63: the two characters the alphabets disagree on. */
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    char *s = b64_encode(bytes, sizeof bytes), *u = b64_encode_urlsafe(bytes, sizeof bytes);
    CHECK_STR(s, "+/+/+/8");
    CHECK_STR(u, "-_-_-_8");
    free(s);
    free(u);
    check_decode("+/+/+/8", bytes, sizeof bytes);
    check_decode("-_-_-_8", bytes, sizeof bytes);
    check_decode("+/+/+/8=", bytes, sizeof bytes);
    check_decode("-_-_-_8=", bytes, sizeof bytes);
}

TEST(every_byte_round_trips)
{
    uint8_t all[256], out[256 + 3];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)i;
    /* every length 0..256 exercises all three tail shapes */
    for (size_t len = 0; len <= sizeof all; len++) {
        char *s = b64_encode(all, len), *u = b64_encode_urlsafe(all, len);
        size_t n = 999, m = 999;
        CHECK(s && u);
        if (!s || !u) {
            free(s);
            free(u);
            return;
        }
        CHECK_INT(strlen(s), (len * 4 + 2) / 3); /* unpadded length */
        CHECK(strchr(s, '=') == NULL && strchr(s, '-') == NULL && strchr(s, '_') == NULL);
        CHECK(strchr(u, '=') == NULL && strchr(u, '+') == NULL && strchr(u, '/') == NULL);
        CHECK(b64_decoded_max(strlen(s)) >= len);
        CHECK(b64_decode(s, strlen(s), out, sizeof out, &n) == 0 && n == len &&
              memcmp(out, all, len) == 0);
        CHECK(b64_decode(u, strlen(u), out, sizeof out, &m) == 0 && m == len &&
              memcmp(out, all, len) == 0);
        free(s);
        free(u);
    }
}

TEST(output_capacity)
{
    uint8_t out[6];
    size_t n = 0;
    CHECK(b64_decode("Zm9vYmFy", 8, out, 6, &n) == 0 && n == 6); /* exactly enough */
    CHECK(b64_decode("Zm9vYmFy", 8, out, 5, &n) == -1);          /* one short */
    CHECK(b64_decode("Zm9v", 4, out, 2, &n) == -1);
    CHECK(b64_decode("", 0, out, 0, &n) == 0 && n == 0);
    for (size_t len = 0; len < 64; len++)
        CHECK(b64_decoded_max(len) >= len * 3 / 4);
}

TEST(invalid_input_refused)
{
    check_refused("Z", 1);            /* 6 bits cannot end a byte */
    check_refused("Zm9vY", 5);        /* nor can 30 */
    check_refused("Z===", 4);         /* three '=' */
    check_refused("Zg=", 3);          /* padding that does not reach a multiple of 4 */
    check_refused("Zm8==", 5);        /* too much padding */
    check_refused("Zg==Zg==", 8);     /* padding in the middle */
    check_refused("=Zg=", 4);         /* leading padding */
    check_refused("====", 4);         /* padding alone */
    check_refused("Zm9*", 4);         /* not in either alphabet */
    check_refused("Zm 9v", 5);        /* whitespace */
    check_refused("Zm9v\n", 5);       /* trailing newline */
    check_refused("Zm\0v", 4);        /* NUL inside the given length */
    check_refused("Zm9v\xc3\xa9", 6); /* non-ASCII */
}

TEST(nonzero_trailing_bits_tolerated)
{
    /* The spec's test-vector seed ends in '1' (0b110101): its last two bits are not zero. */
    static const char seed[] = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
    uint8_t out[35];
    size_t n = 0;
    CHECK(b64_decode(seed, strlen(seed), out, sizeof out, &n) == 0);
    CHECK_INT(n, 32);
    /* and re-encoding gives the canonical form, with those bits cleared */
    char *again = b64_encode(out, n);
    CHECK_STR(again, "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
    free(again);
    check_decode("Zh", "f", 1); /* "Zg" with a stray low bit */
}

int main(void)
{
    RUN(spec_and_rfc4648_vectors);
    RUN(alphabets);
    RUN(every_byte_round_trips);
    RUN(output_capacity);
    RUN(invalid_input_refused);
    RUN(nonzero_trailing_bits_tolerated);
    return unit_done();
}
