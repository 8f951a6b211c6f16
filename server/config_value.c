/* config_value.c - the text of one configuration scalar into its typed field: booleans,
 * integers, locale-independent decimals, Synapse's size and duration strings, server names,
 * and the space-separated defaults of string lists. Every failure is reported through
 * config_fail naming the key path; no value is ever copied into an error (config.c's
 * invariant 5). */
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/config_internal.h"
#include "server/ids.h"

static int parse_bool(const char *s, bool *out)
{
    /* spelling, value */
    static const struct {
        const char *word;
        bool value;
    } words[] = {{"true", true},   {"yes", true}, {"on", true},
                 {"false", false}, {"no", false}, {"off", false}};
    for (size_t i = 0; i < COUNT(words); i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            *out = words[i].value;
            return 0;
        }
    }
    return -1;
}

/* Decimal integer: optional '-', 1 to 18 digits. */
int config_parse_int(const char *s, long long *out)
{
    bool neg = *s == '-';
    long long v = 0;
    size_t digits = 0;
    for (s += neg; *s; s++, digits++) {
        if (*s < '0' || *s > '9' || digits == 18)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (!digits)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

/* Non-negative decimal: digits with at most one '.', at most 15 digits in all, then optionally
 * an exponent (1e-05, as JSON writers put it). The digits form an exact integer and the net
 * power of ten is kept within 10^±22, which doubles hold exactly, so one multiplication or
 * division gives the correctly rounded value. Locale-independent, unlike strtod. */
static int parse_decimal(const char *s, double *out)
{
    uint64_t mant = 0;
    int digits = 0, frac = -1, exp10 = 0; /* frac: digits after the '.', -1 while none seen */
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 15)
                return -1;
            mant = mant * 10 + (uint64_t)(*s - '0');
            if (frac >= 0)
                frac++;
        } else if (*s == '.' && frac < 0) {
            frac = 0;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    if (*s) {
        bool neg = *++s == '-';
        int e = 0, edigits = 0;
        s += *s == '-' || *s == '+';
        for (; *s; s++, edigits++) {
            if (*s < '0' || *s > '9' || edigits == 3)
                return -1;
            e = e * 10 + (*s - '0');
        }
        if (!edigits)
            return -1;
        exp10 = neg ? -e : e;
    }
    exp10 -= frac > 0 ? frac : 0;
    if (exp10 < -22 || exp10 > 22)
        return -1;
    double scale = 1;
    for (int i = 0; i < (exp10 < 0 ? -exp10 : exp10); i++)
        scale *= 10;
    *out = exp10 < 0 ? (double)mant / scale : (double)mant * scale;
    return 0;
}

/* A unit letter and what it multiplies by. */
struct unit {
    char suffix;
    int64_t mult;
};

/* Decimal digits, then at most one unit letter from `units` (upper and lower case alike when
 * `any_case`); no unit: 1. 0 with *out, or -1 when malformed or out of range. */
static int parse_scaled(const char *s, const struct unit *units, size_t n, bool any_case,
                        int64_t *out)
{
    int64_t v = 0, mult = 1;
    size_t digits = 0;
    if (!s)
        return -1;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (!digits)
        return -1;
    if (*s) {
        mult = 0;
        for (size_t i = 0; i < n; i++)
            if (*s == units[i].suffix ||
                (any_case && tolower((unsigned char)*s) == tolower((unsigned char)units[i].suffix)))
                mult = units[i].mult;
        if (!mult || s[1])
            return -1;
    }
    if (v > INT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int config_parse_size(const char *s, int64_t *out)
{
    /* Synapse's: powers of 1024, either case */
    static const struct unit units[] = {
        {'K', INT64_C(1) << 10}, {'M', INT64_C(1) << 20}, {'G', INT64_C(1) << 30}};
    return parse_scaled(s, units, COUNT(units), true, out);
}

/* ids_server_name_valid, plus what a name we are configured with must also have: DNS labels
 * that are not empty, and a port that exists. */
bool config_server_name_ok(const char *s, size_t len)
{
    if (!ids_server_name_valid(s, len))
        return false;
    const char *end = s + len, *port = NULL;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        port = close + 1 < end ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        const char *host_end = colon ? colon : end;
        port = colon ? colon + 1 : NULL;
        if (s[0] == '.' || host_end[-1] == '.')
            return false;
        for (const char *c = s; c + 1 < host_end; c++)
            if (c[0] == '.' && c[1] == '.')
                return false;
    }
    if (port) {
        long v = 0;
        for (; port < end; port++)
            v = v * 10 + (*port - '0');
        if (v < 1 || v > 65535)
            return false;
    }
    return true;
}

int config_parse_duration(const char *s, int64_t *out)
{
    /* Synapse's units, to milliseconds; a bare number is milliseconds */
    static const struct unit units[] = {{'s', 1000},      {'m', 60000},
                                        {'h', 3600000},   {'d', 86400000},
                                        {'w', 604800000}, {'y', INT64_C(31536000000)}};
    return parse_scaled(s, units, COUNT(units), false, out);
}

static bool choice_ok(const char *words, const char *s, size_t len)
{
    while (*words) {
        size_t n = strcspn(words, " ");
        if (n == len && memcmp(words, s, n) == 0)
            return true;
        words += n + (words[n] == ' ');
    }
    return false;
}

void config_free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Store a new string list at row's destination, releasing the old one. */
void config_put_list(const struct key *row, void *base, char **list, size_t n)
{
    char ***dst = (char ***)(void *)((char *)base + row->off);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);
    config_free_list(*dst, *count);
    *dst = list;
    *count = n;
}

/* Set a scalar-typed row from text s (NULL: the value was not a usable scalar); `bare` says
 * it was unquoted. Returns 0, or fails naming `path` if the text does not fit the row. */
int config_set_text(struct parse *p, const struct key *row, void *base, const char *s, size_t len,
                    bool bare, const char *path)
{
    void *dst = row->off == NO_DEST ? NULL : (char *)base + row->off;
    long long iv;
    int64_t zv;
    double dv;
    bool bv;
    enum log_level lv;

    switch (row->type) {
    case K_STR: {
        if (!s)
            return config_fail(p, path, "expected %s",
                               row->check ? row->arg : config_expected[K_STR]);
        if (!len)
            return config_fail(p, path, "must not be empty (leave the key out instead)");
        if (row->check && !row->check(s, len))
            return config_fail(p, path, "expected %s", row->arg);
        char *copy = strdup(s);
        if (!copy)
            return config_fail(p, path, "out of memory");
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case K_BOOL:
    case K_FALSE:
        if (!s || !bare || parse_bool(s, &bv) < 0)
            return config_fail(p, path, "expected %s", config_expected[row->type]);
        if (row->type == K_FALSE && bv)
            return config_fail(p, path, "%s", row->arg);
        if (dst)
            *(bool *)dst = bv;
        return 0;
    case K_INT:
        if (!s || !bare || config_parse_int(s, &iv) < 0)
            return config_fail(p, path, "expected %s", config_expected[K_INT]);
        if (iv < row->min || iv > row->max)
            return config_fail(p, path, "must be between %lld and %lld", row->min, row->max);
        *(int *)dst = (int)iv;
        return 0;
    case K_NUM:
        if (!s || !bare || parse_decimal(s, &dv) < 0)
            return config_fail(p, path, "expected %s", config_expected[K_NUM]);
        *(double *)dst = dv;
        return 0;
    case K_SIZE:
        if (!s || config_parse_size(s, &zv) < 0)
            return config_fail(p, path, "expected %s", config_expected[K_SIZE]);
        if (zv < row->min || zv > row->max)
            return config_fail(p, path, "must be at least %lld bytes", row->min);
        *(int64_t *)dst = zv;
        return 0;
    case K_DURATION:
        if (!s || config_parse_duration(s, &zv) < 0)
            return config_fail(p, path, "expected %s", config_expected[K_DURATION]);
        *(int64_t *)dst = zv;
        return 0;
    case K_LOGLEVEL:
        if (!s || log_level_parse(s, &lv) < 0)
            return config_fail(p, path, "expected %s", config_expected[K_LOGLEVEL]);
        *(enum log_level *)dst = lv;
        return 0;
    case K_CHOICE:
        if (!s || !choice_ok(row->arg, s, len))
            return config_fail(p, path, "expected one of: %s", row->arg);
        return 0;
    case K_STRLIST: { /* only for a default: space-separated words */
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += s[i] != ' ' && (i == 0 || s[i - 1] == ' ');
        char **list = calloc(n + 1, sizeof *list);
        if (!list)
            return config_fail(p, path, "out of memory");
        for (size_t i = 0, at = 0; at < len; i++) {
            size_t w = strcspn(s + at, " ");
            if (!(list[i] = strndup(s + at, w))) {
                config_free_list(list, i);
                return config_fail(p, path, "out of memory");
            }
            at += w + 1;
        }
        config_put_list(row, base, list, n);
        return 0;
    }
    case K_SECTION:
    case K_LISTENERS:
    case K_RESOURCES:
    case K_RESNAMES:
    case K_THUMBSIZES:
    case K_NOTARIES:
    case K_OLDKEYS:
    case K_STRMAP:
    case K_PURGEJOBS:
    case K_IGNORED:
        break;
    }
    assert(!"set_text on a row that is not a scalar");
    return -1;
}
