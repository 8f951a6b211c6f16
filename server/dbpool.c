/* dbpool.c - the database pool opened from the configuration: the one place that turns the
 * configuration's database section into storage's db_params, for the server (server/main.c)
 * and its offline commands (export-data), which only choose another pool size. */
#include "server/dbpool.h"

#include "storage/db.h"

int dbpool_open(const struct config *cfg, int min, int max, char *err, size_t errlen)
{
    struct db_params dp = {
        .host = cfg->database.host,
        .user = cfg->database.user,
        .password = cfg->database.password,
        .dbname = cfg->database.dbname,
        .port = cfg->database.port,
        .min = min ? min : cfg->database.cp_min,
        .max = max ? max : cfg->database.cp_max,
    };
    return db_pool_open(&dp, err, errlen);
}
