/* userdir.c - the user directory (Client-Server API "User directory",
 * POST /user_directory/search). A user finds the people they share a room with and the
 * members of public rooms; with user_directory.search_all_users every active local user
 * (Synapse's setting, off by default so an agency's staff list is not an open book). The
 * term matches anywhere in the user ID or display name, case-insensitively; prefix matches
 * and people sharing a room come first. Deactivated users and the searcher are never found. */
#include "server/userdir.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "storage/userdir.h"

/* A LIKE pattern for `term`: lower-cased (ASCII), %, _ and \ escaped, with `lead` ("%" or "")
 * before it and % after. Into out (at least 2 * len + 3 bytes). */
static void like_pattern(const char *term, const char *lead, char *out)
{
    char *o = out;
    o += strlen(strcpy(o, lead));
    for (const char *s = term; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = (char)tolower((unsigned char)*s);
    }
    *o++ = '%';
    *o = '\0';
}

json_t *userdir_search(const char *searcher, const char *term, int limit, bool all_users)
{
    size_t n = strlen(term);
    char *any = malloc(2 * n + 3), *prefix = malloc(2 * n + 3);
    json_t *rows = NULL, *out = NULL;
    if (!any || !prefix)
        goto out;
    like_pattern(term, "%", any);
    like_pattern(term, "", prefix);
    struct dbc *c = db_get();
    rows = c ? db_userdir_search(c, searcher, any, prefix, limit, all_users) : NULL;
    db_put(c);
    if (!json_is_array(rows))
        goto out;
    bool limited = json_array_size(rows) > (size_t)limit;
    if (limited)
        json_array_remove(rows, (size_t)limit);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        /* absent rather than null, as the spec's examples show */
        if (json_is_null(json_object_get(r, "display_name")))
            json_object_del(r, "display_name");
        if (json_is_null(json_object_get(r, "avatar_url")))
            json_object_del(r, "avatar_url");
    }
    out = json_pack("{s:O,s:b}", "results", rows, "limited", limited);
out:
    json_decref(rows);
    free(any);
    free(prefix);
    return out;
}
