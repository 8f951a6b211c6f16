/* preview.c - SQL for cached URL previews (migration 0014). */
#include "storage/preview.h"

#include "storage/db_internal.h"

json_t *db_preview_get(struct dbc *c, const char *url, int64_t since)
{
    char s[24];
    const char *p[] = {url, db_i64(s, since)};
    return db_json(
        db_exec(c, "SELECT og FROM url_previews WHERE url = $1 AND fetched_ts >= $2", 2, p));
}

int db_preview_put(struct dbc *c, const char *url, int64_t now_ms, const char *og)
{
    char n[24];
    const char *p[] = {url, db_i64(n, now_ms), og};
    return db_run(c,
                  "INSERT INTO url_previews (url, fetched_ts, og) VALUES ($1, $2, $3) ON "
                  "CONFLICT (url) DO UPDATE SET fetched_ts = EXCLUDED.fetched_ts, og = "
                  "EXCLUDED.og",
                  3, p);
}
