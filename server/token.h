/* token.h - the tokens clients hand back: strict parsing, and whether a stream position in
 * one can have been issued by this server. */
#ifndef AMTSBOTE_TOKEN_H
#define AMTSBOTE_TOKEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dbc;

/* Parse `s` against `shape`: each '#' in the shape stands for a decimal number (1-18 digits,
 * no sign, space or other decoration, so it cannot overflow), stored in v[0..n) in order;
 * every other character must appear as is, and nothing may follow. Returns 0, or -1 when s
 * is NULL or does not fit (v is then unspecified). Example: token_parse(s, "t#_#", v, 2).
 * '~' is a number that may be negative ("-" then digits). */
int token_parse(const char *s, const char *shape, int64_t *v, size_t n);

/* Whether a pagination token's stream position `pos` can have been issued: at most one past
 * the highest position handed out (tokens name the boundary just after an event). Asks the
 * database's sequence only when the notifier has not yet published that far (a commit it is
 * about to hear of); c is a connection the caller holds, or NULL to take one. A database
 * error counts as issued (the token is then only as good as its syntax). */
bool token_stream_issued(struct dbc *c, int64_t pos);

#endif
