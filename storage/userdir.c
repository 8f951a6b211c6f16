/* userdir.c - SQL for /user_directory/search: who a user may find, matched on user ID and
 * display name. Read straight from current_state and users, so the directory never lags
 * behind a join or a profile change. */
#include "storage/userdir.h"

#include <stdio.h>

#include "storage/db_internal.h"

json_t *db_userdir_search(struct dbc *c, const char *searcher, const char *pattern,
                          const char *prefix_pattern, int limit, bool all_users)
{
    char l[24];
    const char *p[] = {searcher, pattern, prefix_pattern, db_i64(l, limit + 1),
                       all_users ? "t" : "f"};
    return db_json(db_exec(
        c,
        "WITH mine AS (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND "
        "state_key = $1 AND membership = 'join'), "
        "public_rooms AS (SELECT r.room_id FROM rooms r WHERE r.is_public OR EXISTS (SELECT 1 "
        "FROM current_state jr JOIN events e ON e.event_id = jr.event_id WHERE jr.room_id = "
        "r.room_id AND jr.type = 'm.room.join_rules' AND jr.state_key = '' AND "
        "e.json::json -> 'content' ->> 'join_rule' = 'public')), "
        "visible AS (SELECT cs.state_key AS user_id, bool_or(cs.room_id IN (SELECT room_id "
        "FROM mine)) AS shared FROM current_state cs WHERE cs.type = 'm.room.member' AND "
        "cs.membership = 'join' AND (cs.room_id IN (SELECT room_id FROM mine) OR cs.room_id "
        "IN (SELECT room_id FROM public_rooms)) GROUP BY cs.state_key "
        "UNION ALL SELECT user_id, false FROM users WHERE $5::boolean), "
        "best AS (SELECT user_id, bool_or(shared) AS shared FROM visible GROUP BY user_id), "
        "hits AS (SELECT u.user_id, u.displayname, u.avatar_url, b.shared, "
        "(lower(u.user_id) LIKE $3 OR lower(coalesce(u.displayname, '')) LIKE $3) AS prefix "
        "FROM best b JOIN users u ON u.user_id = b.user_id WHERE NOT u.deactivated AND "
        "u.user_id <> $1 AND " /* never the searcher himself */
        "(lower(u.user_id) LIKE $2 OR lower(coalesce(u.displayname, '')) LIKE $2) "
        "ORDER BY prefix DESC, b.shared DESC, lower(coalesce(u.displayname, u.user_id)), "
        "u.user_id LIMIT $4) "
        "SELECT coalesce(json_agg(json_build_object('user_id', user_id, 'display_name', "
        "displayname, 'avatar_url', avatar_url) ORDER BY prefix DESC, shared DESC, "
        "lower(coalesce(displayname, user_id)), user_id), '[]'::json) FROM hits",
        5, p));
}
