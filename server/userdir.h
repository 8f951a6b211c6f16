/* userdir.h - the user directory (Client-Server API "User directory"). */
#ifndef AMTSBOTE_USERDIR_H
#define AMTSBOTE_USERDIR_H
#include <jansson.h>
#include <stdbool.h>

#define USERDIR_MAX_TERM 256

/* Search for `term` as `searcher` (limit 1..50): a new {results, limited} object, or NULL on
 * an internal error. */
json_t *userdir_search(const char *searcher, const char *term, int limit, bool all_users);

#endif
