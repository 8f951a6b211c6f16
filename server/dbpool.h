/* dbpool.h - the database pool opened from the configuration. */
#ifndef AMTSBOTE_DBPOOL_H
#define AMTSBOTE_DBPOOL_H
#include <stddef.h>

#include "server/config.h"

/* Open storage's pool (storage/db.h) on the configuration's database (Synapse's
 * database.args: host, user, password, database, port) with min..max connections; min or
 * max 0 takes cp_min / cp_max. cfg is read only here. Returns 0, or -1 with a message in err
 * (close with db_pool_close). */
int dbpool_open(const struct config *cfg, int min, int max, char *err, size_t errlen);
#endif
