/* uia.h - user-interactive authentication sessions. */
#ifndef AMTSBOTE_STORAGE_UIA_H
#define AMTSBOTE_STORAGE_UIA_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

struct db_uia {
    char *method, *uri, *user_id; /* user_id may be NULL */
    json_t *completed;            /* array of stage type strings (owned) */
    char *reg_token;              /* may be NULL */
    int64_t created_ts;
};

/* Create a session. Returns 0, 1 if the ID exists, -1. */
int db_uia_create(struct dbc *c, const char *session_id, const char *method, const char *uri,
                  const char *user_id, int64_t now_ms);
/* Returns 1 (fill *out; free with db_uia_clear), 0 if absent, -1. */
int db_uia_get(struct dbc *c, const char *session_id, struct db_uia *out);
void db_uia_clear(struct db_uia *s);
/* Record a completed stage (once). Returns 0 or -1. */
int db_uia_add_stage(struct dbc *c, const char *session_id, const char *stage);
/* Remember the registration token validated in this session. Returns 0 or -1. */
int db_uia_set_reg_token(struct dbc *c, const char *session_id, const char *token);
/* Delete one session. Returns 0 or -1. */
int db_uia_delete(struct dbc *c, const char *session_id);
/* Delete sessions created before `before_ms`, returning their registration tokens to the
 * pool (pending decremented). Returns the number deleted or -1. */
long db_uia_expire(struct dbc *c, int64_t before_ms);

#endif
