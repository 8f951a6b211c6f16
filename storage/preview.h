/* preview.h - SQL for cached URL previews (migration 0014). */
#ifndef AMTSBOTE_STORAGE_PREVIEW_H
#define AMTSBOTE_STORAGE_PREVIEW_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* The cached answer for url fetched at or after `since` (new), JSON null when none, NULL on
 * error. */
json_t *db_preview_get(struct dbc *c, const char *url, int64_t since);
/* Store an answer (og: JSON text). 0 or -1. */
int db_preview_put(struct dbc *c, const char *url, int64_t now_ms, const char *og);

#endif
