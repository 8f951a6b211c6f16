/* cjson.c - Matrix canonical JSON (spec appendix "Canonical JSON") over jansson trees.
 *
 * jansson's own sorted output is not canonical (upper-case \u001F escapes, reals), so this
 * encoder writes the bytes itself: object keys sorted by code point (byte order of UTF-8,
 * which is the same order), no whitespace, strings with only the mandatory escapes in their
 * shortest form, other characters (all valid UTF-8, jansson guarantees it) passed through,
 * integers in [-(2^53-1), 2^53-1] only (a real with an integral value, such as 1e10 or -0.0, is
 * written as that integer, as the spec's last example requires; any other real is refused).
 * Keys and strings may contain NUL (jansson's *_len accessors are used throughout). Strings
 * are assumed to be valid UTF-8, which jansson checks unless a caller used a *_nocheck
 * constructor. Recursion depth is bounded by the input's, which callers bound when parsing
 * (jansson: 2048).
 *
 * Events of room versions 1-5 need not follow these rules (appendix: "Servers SHOULD be
 * capable of handling JSON which is considered invalid by these restrictions"), yet their
 * IDs, hashes and signatures are still computed over an encoding: cjson_encode_compat writes
 * any 64-bit integer, and reals the way the Python reference implementation writes them
 * (repr: the shortest digits that read back as the same double, "50.0", "1e+16"), so a float
 * power level of an old room hashes to what its sender hashed. */
#include "server/cjson.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CJSON_MAX_INT 9007199254740991LL /* 2^53 - 1 */

struct out {
    char *buf;
    size_t len, cap;
    int failed;
    int compat; /* cjson_encode_compat: v1-5 events */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) {
            o->failed = 1;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* The two-character escapes of the spec grammar's "escaped" rule, by byte; other bytes below
 * 0x20 are written \u00xx in lower-case hex, and every other byte passes through. */
static const char *const short_escape[0x60] = {
    ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
    ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

static void put_string(struct out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the bytes not yet written */
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        assert(c < sizeof short_escape / sizeof short_escape[0]); /* c < 0x20, '"' or '\\' */
        put(o, s + run, i - run);
        run = i + 1;
        if (short_escape[c]) {
            put(o, short_escape[c], 2);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, u, sizeof u);
        }
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

struct key {
    const char *k;
    size_t n;
    json_t *v;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->k, y->k, n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* A finite double as Python's repr writes it: the shortest digit string that reads back as
 * the same double, in positional notation when the decimal exponent is in [-4, 16) (with
 * ".0" for integral values), else d[.ddd]e+XX / e-XX. Returns the length, or -1 for
 * NaN and infinities (which JSON cannot carry). */
static int py_repr(double d, char *buf, size_t n)
{
    char tmp[40], digits[24];
    if (!isfinite(d))
        return -1;
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp = [-]D[.DDD]e(+|-)XX */
    const char *s = tmp;
    bool neg = *s == '-';
    if (neg)
        s++;
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.' && nd < sizeof digits - 1)
            digits[nd++] = *s;
    digits[nd] = '\0';
    int x = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    size_t o = 0;
    char out[64];
    if (neg)
        out[o++] = '-';
    if (x >= -4 && x < 16) {
        if (x < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = -1; i > x; i--)
                out[o++] = '0';
            for (size_t i = 0; i < nd; i++)
                out[o++] = digits[i];
        } else {
            for (int i = 0; i <= x; i++)
                out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)x + 1 < nd)
                for (size_t i = (size_t)x + 1; i < nd; i++)
                    out[o++] = digits[i];
            else
                out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    int len = snprintf(buf, n, "%s", out);
    return len > 0 && (size_t)len < n ? len : -1;
}

static void encode(struct out *o, const json_t *v)
{
    char num[32];
    if (o->failed)
        return;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        struct key *keys = n ? malloc(n * sizeof *keys) : NULL;
        const char *k;
        size_t klen;
        json_t *val;
        if (n && !keys) {
            o->failed = 1;
            return;
        }
        json_object_keylen_foreach((json_t *)v, k, klen, val)
        {
            keys[i].k = k;
            keys[i].n = klen;
            keys[i].v = val;
            i++;
        }
        if (n > 1)
            qsort(keys, n, sizeof *keys, key_cmp);
        put(o, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                put(o, ",", 1);
            put_string(o, keys[i].k, keys[i].n);
            put(o, ":", 1);
            encode(o, keys[i].v);
        }
        put(o, "}", 1);
        free(keys);
        break;
    }
    case JSON_ARRAY:
        put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(o, ",", 1);
            encode(o, json_array_get(v, i));
        }
        put(o, "]", 1);
        break;
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        if (!o->compat && (x > CJSON_MAX_INT || x < -CJSON_MAX_INT)) {
            o->failed = 1;
            return;
        }
        int len = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, x);
        put(o, num, (size_t)len);
        break;
    }
    case JSON_REAL: {
        /* A real with an integral value in range is that integer ("1e10" is 10000000000,
         * per the spec's examples); any other real has no canonical form. */
        double d = json_real_value(v);
        if (o->compat) {
            int len = py_repr(d, num, sizeof num);
            if (len < 0)
                o->failed = 1;
            else
                put(o, num, (size_t)len);
            break;
        }
        if (!(d <= CJSON_MAX_INT && d >= -CJSON_MAX_INT) || d != (double)(long long)d) {
            o->failed = 1;
            return;
        }
        int len = snprintf(num, sizeof num, "%lld", (long long)d); /* -0.0 gives "0" */
        put(o, num, (size_t)len);
        break;
    }
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    case JSON_NULL:
        put(o, "null", 4);
        break;
    default:
        o->failed = 1;
    }
}

static char *encode_top(const json_t *v, size_t *len, int compat)
{
    struct out o = {.compat = compat};
    if (!v)
        return NULL;
    encode(&o, v);
    if (!o.failed && !o.buf)
        put(&o, "", 0);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}

char *cjson_encode(const json_t *v, size_t *len)
{
    return encode_top(v, len, 0);
}

char *cjson_encode_compat(const json_t *v, size_t *len)
{
    return encode_top(v, len, 1);
}

/* Every number an integer in range; with `integral_reals`, reals with such a value too. */
static int numbers_ok(const json_t *v, int integral_reals)
{
    if (!v)
        return 0;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return integral_reals && d <= CJSON_MAX_INT && d >= -CJSON_MAX_INT &&
               d == (double)(long long)d;
    }
    if (json_is_integer(v))
        return json_integer_value(v) <= CJSON_MAX_INT && json_integer_value(v) >= -CJSON_MAX_INT;
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) if (!numbers_ok(val, integral_reals)) return 0;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!numbers_ok(json_array_get(v, i), integral_reals))
                return 0;
    }
    return 1;
}

int cjson_strict(const json_t *v)
{
    return numbers_ok(v, 0);
}

size_t cjson_depth(const json_t *v)
{
    size_t max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val)
        {
            size_t d = cjson_depth(val);
            if (d > max)
                max = d;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = cjson_depth(json_array_get(v, i));
            if (d > max)
                max = d;
        }
    }
    return max + 1;
}

int cjson_valid(const json_t *v)
{
    return numbers_ok(v, 1);
}
