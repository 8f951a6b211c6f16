/* cjson.h - Matrix canonical JSON (spec appendix "Canonical JSON") over jansson trees. */
#ifndef AMTSBOTE_CJSON_H
#define AMTSBOTE_CJSON_H
#include <jansson.h>
#include <stddef.h>

/* Encode `v` (borrowed) as canonical JSON: object keys sorted by Unicode code point, no
 * insignificant whitespace, UTF-8 passed through unescaped, only the mandatory escapes in their
 * shortest form (\" \\ \b \f \n \r \t, other controls as \u00xx lower-case), integers only.
 * Returns a malloc'd NUL-terminated string (caller frees) and sets *len if len != NULL; returns
 * NULL if the tree holds a non-integral real, a number outside [-(2^53-1), 2^53-1], or on
 * OOM. Integral reals (1e10, -0.0) are written as integers, as the spec's examples require. */
char *cjson_encode(const json_t *v, size_t *len);

/* The encoding of events in room versions 1-5, which need not be canonical: as cjson_encode,
 * except that any 64-bit integer is written as it is, and reals as Python's repr writes them
 * ("50.57", "10000000000.0", "1e+16"), which is what the reference implementation signed.
 * NULL only for NaN/infinity or OOM. On trees with integers in range and no reals the bytes
 * are cjson_encode's. */
char *cjson_encode_compat(const json_t *v, size_t *len);
/* The signature of both encoders (sign_json_enc, server/event.c). */
typedef char *(*cjson_encoder)(const json_t *v, size_t *len);

/* Strict canonical JSON (room versions 6+, and everything clients send in events): 1 if
 * every number is an integer in [-(2^53-1), 2^53-1] and no number was written as a real
 * ("1.0" and "1e10" are reals), else 0. */
int cjson_strict(const json_t *v);

/* Nesting depth of `v` (a scalar is 1). Used to bound request bodies. */
size_t cjson_depth(const json_t *v);

/* 1 if the tree is representable as canonical JSON (integral numbers in range), else 0. */
int cjson_valid(const json_t *v);

#endif
