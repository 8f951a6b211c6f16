/* pushrules.h - SQL for users' push rule stores (migration 0011). */
#ifndef AMTSBOTE_STORAGE_PUSHRULES_H
#define AMTSBOTE_STORAGE_PUSHRULES_H
#include "storage/db.h"

/* In a transaction: the user's store (JSON text, malloc'd into *out; NULL when the user has
 * none), its row locked until the transaction ends so that edits do not cross. 0 or -1. */
int db_push_store_lock(struct dbc *c, const char *user_id, char **out);
/* The user's store without locking (malloc'd; NULL when none). 0 or -1. */
int db_push_store_get(struct dbc *c, const char *user_id, char **out);
/* Write the user's store. 0 or -1. */
int db_push_store_put(struct dbc *c, const char *user_id, const char *store);

#endif
