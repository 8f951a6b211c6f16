/* userdir.h - SQL for the user directory search. */
#ifndef AMTSBOTE_STORAGE_USERDIR_H
#define AMTSBOTE_STORAGE_USERDIR_H
#include <jansson.h>
#include <stdbool.h>

#include "storage/db.h"

/* Users `searcher` may find whose user ID or display name contains `pattern` (a LIKE
 * pattern, lower case, wildcards escaped by the caller): those sharing a room with the
 * searcher, those in public rooms, and with `all_users` every active local user. At most
 * `limit` + 1 rows, best first (prefix matches, then sharing a room, then by name): a new
 * array of {user_id, display_name, avatar_url}, or NULL on error. */
json_t *db_userdir_search(struct dbc *c, const char *searcher, const char *pattern,
                          const char *prefix_pattern, int limit, bool all_users);

#endif
