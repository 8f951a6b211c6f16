/* serverkeys.c - SQL for remote servers' signing keys (migration 0050). A newer fetch
 * overwrites a key's validity; a key once seen in old_verify_keys keeps its expired_ts even
 * if a stale answer still lists it as current. */
#include "storage/serverkeys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

int db_server_key_get(struct dbc *c, const char *server_name, const char *key_id,
                      struct db_server_key *out)
{
    const char *p[] = {server_name, key_id};
    PGresult *r = db_exec(c,
                          "SELECT verify_key, valid_until_ts, coalesce(expired_ts, 0) FROM "
                          "server_signature_keys WHERE server_name = $1 AND key_id = $2",
                          2, p);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(out->verify_key, sizeof out->verify_key, "%s", db_val(r, 0, 0));
        out->valid_until_ts = db_int(r, 0, 1);
        out->expired_ts = db_int(r, 0, 2);
    }
    PQclear(r);
    return found;
}

int db_server_keys_store(struct dbc *c, const char *server_name, const json_t *keys,
                         const char *key_json, int64_t valid_until_ts, int64_t now_ms)
{
    char *text = json_dumps(keys, JSON_COMPACT);
    char v[24], n[24];
    if (!text)
        return -1;
    const char *p[] = {server_name, text, key_json, db_i64(v, valid_until_ts), db_i64(n, now_ms)};
    int rc = db_begin(c);
    if (rc == 0)
        rc = db_run(c,
                    "INSERT INTO server_signature_keys (server_name, key_id, verify_key, "
                    "valid_until_ts, expired_ts, fetched_ts) SELECT $1, k->>'key_id', "
                    "k->>'key', (k->>'valid_until_ts')::bigint, nullif((k->>'expired_ts')::"
                    "bigint, 0), $3 FROM json_array_elements($2::json) k "
                    "ON CONFLICT (server_name, key_id) DO UPDATE SET verify_key = "
                    "excluded.verify_key, valid_until_ts = excluded.valid_until_ts, expired_ts = "
                    "coalesce(server_signature_keys.expired_ts, excluded.expired_ts), "
                    "fetched_ts = excluded.fetched_ts",
                    3, (const char *[]){p[0], p[1], p[4]});
    if (rc == 0)
        rc = db_commit_after(c,
                             "INSERT INTO server_keys_json (server_name, valid_until_ts, "
                             "key_json, fetched_ts) VALUES ($1, $3, $2, $4) ON CONFLICT "
                             "(server_name) DO UPDATE SET valid_until_ts = "
                             "excluded.valid_until_ts, key_json = excluded.key_json, fetched_ts "
                             "= excluded.fetched_ts WHERE server_keys_json.valid_until_ts <= "
                             "excluded.valid_until_ts",
                             4, (const char *[]){p[0], p[2], p[3], p[4]});
    if (rc < 0)
        db_rollback(c);
    free(text);
    return rc;
}

int db_server_keys_json(struct dbc *c, const char *server_name, char **key_json,
                        int64_t *valid_until_ts)
{
    const char *p[] = {server_name};
    *key_json = NULL;
    PGresult *r = db_exec(
        c, "SELECT key_json, valid_until_ts FROM server_keys_json WHERE server_name = $1", 1, p);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 1) {
        *valid_until_ts = db_int(r, 0, 1);
        if (!(*key_json = strdup(db_val(r, 0, 0))))
            rc = -1;
    }
    PQclear(r);
    return rc;
}
