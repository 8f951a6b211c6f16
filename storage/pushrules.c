/* pushrules.c - SQL for users' push rule stores (migration 0011): one JSON text per user who
 * changed anything; the room writer reads them with the room's members (storage/rooms.c). */
#include "storage/pushrules.h"

#include "storage/db_internal.h"

int db_push_store_lock(struct dbc *c, const char *user_id, char **out)
{
    const char *p[] = {user_id};
    /* a row to lock even for a user without one yet (an empty store: {}) */
    if (db_run(c,
               "INSERT INTO push_rules (user_id, store) VALUES ($1, '{}') ON CONFLICT DO "
               "NOTHING",
               1, p) < 0)
        return -1;
    return db_string(db_exec(c, "SELECT store FROM push_rules WHERE user_id = $1 FOR UPDATE", 1, p),
                     out);
}

int db_push_store_get(struct dbc *c, const char *user_id, char **out)
{
    const char *p[] = {user_id};
    return db_string(db_exec(c, "SELECT store FROM push_rules WHERE user_id = $1", 1, p), out);
}

int db_push_store_put(struct dbc *c, const char *user_id, const char *store)
{
    const char *p[] = {user_id, store};
    return db_run(c, "UPDATE push_rules SET store = $2 WHERE user_id = $1", 2, p);
}
