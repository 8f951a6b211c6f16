/* devices.c - SQL for devices and access tokens.
 *
 * Tokens are looked up by the SHA-256 of the presented token; the plain token is never stored,
 * so a database dump does not hand out sessions. Deleting a device deletes its tokens through
 * the foreign key (ON DELETE CASCADE). */
#include "storage/devices.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

int db_devices_upsert(struct dbc *c, const char *user_id, const char *device_id,
                      const char *display_name, int64_t now_ms)
{
    char ts[24];
    const char *p[] = {user_id, device_id, display_name, db_i64(ts, now_ms)};
    /* xmax is 0 on a row version this statement inserted, not on an updated one */
    PGresult *res = db_exec(c,
                            "INSERT INTO devices (user_id, device_id, display_name, created_ts) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE "
                            "SET display_name = coalesce(devices.display_name, "
                            "EXCLUDED.display_name) RETURNING xmax = 0",
                            4, p);
    if (!res)
        return -1;
    int created = PQntuples(res) == 1 && db_bool(res, 0, 0);
    PQclear(res);
    return created;
}

static json_t *device_row(PGresult *res, int i)
{
    /* Unknown values are null rather than absent, as Synapse answers and some clients
     * (matrix-nio) require. */
    json_t *d = json_object();
    const char *v;
    json_object_set_new(d, "device_id", json_string(db_val(res, i, 0)));
    v = db_val(res, i, 1);
    json_object_set_new(d, "display_name", v ? json_string(v) : json_null());
    v = db_val(res, i, 2);
    json_object_set_new(d, "last_seen_ip", v ? json_string(v) : json_null());
    json_object_set_new(d, "last_seen_ts",
                        db_val(res, i, 3) ? json_integer(db_int(res, i, 3)) : json_null());
    return d;
}

json_t *db_devices_list(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *res = db_exec(c,
                            "SELECT device_id, display_name, last_seen_ip, last_seen_ts "
                            "FROM devices WHERE user_id = $1 ORDER BY device_id",
                            1, p);
    if (!res)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, device_row(res, i));
    PQclear(res);
    return arr;
}

json_t *db_devices_whois(struct dbc *c, const char *user_id)
{
    const char *p[] = {user_id};
    return db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(device_id, json_build_object('sessions', "
        "json_build_array(json_build_object('connections', CASE WHEN last_seen_ts IS NULL THEN "
        "'[]'::json ELSE json_build_array(json_strip_nulls(json_build_object('ip', "
        "last_seen_ip, 'last_seen', last_seen_ts, 'user_agent', last_seen_user_agent))) "
        "END)))), '{}'::json) FROM devices WHERE user_id = $1",
        1, p));
}

int db_devices_get(struct dbc *c, const char *user_id, const char *device_id, json_t **out)
{
    const char *p[] = {user_id, device_id};
    PGresult *res = db_exec(c,
                            "SELECT device_id, display_name, last_seen_ip, last_seen_ts "
                            "FROM devices WHERE user_id = $1 AND device_id = $2",
                            2, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found)
        *out = device_row(res, 0);
    PQclear(res);
    return found;
}

int db_devices_set_name(struct dbc *c, const char *user_id, const char *device_id,
                        const char *display_name)
{
    const char *p[] = {user_id, device_id, display_name};
    return db_affected_one(db_exec(
        c, "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2", 3, p));
}

/* Deleting devices also drops their to-device inbox and transaction IDs (the key tables go
 * by cascade). */
#define DELETE_DEVICE_TAIL                                                                         \
    "RETURNING device_id), i AS (DELETE FROM device_inbox WHERE user_id = $1 AND device_id IN "    \
    "(SELECT device_id FROM d)), x AS (DELETE FROM to_device_txns WHERE user_id = $1 AND "         \
    "device_id IN (SELECT device_id FROM d)) SELECT count(*) FROM d"

static long count_of(PGresult *res)
{
    if (!res)
        return -1;
    long n = PQntuples(res) ? (long)db_int(res, 0, 0) : 0;
    PQclear(res);
    return n;
}

int db_devices_delete(struct dbc *c, const char *user_id, const char *device_id)
{
    const char *p[] = {user_id, device_id};
    long n = count_of(db_exec(c,
                              "WITH d AS (DELETE FROM devices WHERE user_id = $1 AND device_id "
                              "= $2 " DELETE_DEVICE_TAIL,
                              2, p));
    return n < 0 ? -1 : n > 0;
}

long db_devices_delete_all(struct dbc *c, const char *user_id, const char *keep_device,
                           int64_t keep_token_id)
{
    char id[24];
    const char *t[] = {user_id, db_i64(id, keep_token_id)};
    const char *p[] = {user_id, keep_device};
    if (db_run(c, "DELETE FROM access_tokens WHERE user_id = $1 AND id <> $2", 2, t) < 0)
        return -1;
    return count_of(db_exec(c,
                            "WITH d AS (DELETE FROM devices WHERE user_id = $1 AND "
                            "($2::text IS NULL OR device_id <> $2) " DELETE_DEVICE_TAIL,
                            2, p));
}

int db_devices_touch(struct dbc *c, const char *user_id, const char *device_id, const char *ip,
                     const char *user_agent, int64_t now_ms, int64_t interval_ms)
{
    char ts[24], cut[24];
    const char *p[] = {user_id,    device_id,          ip,
                       user_agent, db_i64(ts, now_ms), db_i64(cut, now_ms - interval_ms)};
    return db_run(c,
                  "UPDATE devices SET last_seen_ip = $3, last_seen_user_agent = $4, "
                  "last_seen_ts = $5 WHERE user_id = $1 AND device_id = $2 AND "
                  "(last_seen_ts IS NULL OR last_seen_ts < $6 OR last_seen_ip IS DISTINCT FROM $3)",
                  6, p);
}

/* bytea parameters travel as hex text: '\x' + 64 hex digits. */
static const char *hash_hex(char buf[67], const uint8_t hash[32])
{
    static const char hex[] = "0123456789abcdef";
    buf[0] = '\\';
    buf[1] = 'x';
    for (int i = 0; i < 32; i++) {
        buf[2 + 2 * i] = hex[hash[i] >> 4];
        buf[3 + 2 * i] = hex[hash[i] & 15];
    }
    buf[66] = '\0';
    return buf;
}

int db_tokens_insert(struct dbc *c, const uint8_t hash[32], const char *user_id,
                     const char *device_id, int64_t now_ms, int64_t *id)
{
    char h[67], ts[24];
    const char *p[] = {hash_hex(h, hash), user_id, device_id, db_i64(ts, now_ms)};
    PGresult *res = db_exec(c,
                            "INSERT INTO access_tokens (token_hash, user_id, device_id, "
                            "created_ts) VALUES ($1::bytea, $2, $3, $4) RETURNING id",
                            4, p);
    if (!res)
        return -1;
    *id = db_int(res, 0, 0);
    PQclear(res);
    return 0;
}

int db_tokens_lookup(struct dbc *c, const uint8_t hash[32], struct db_token_owner *out)
{
    char h[67];
    const char *p[] = {hash_hex(h, hash)};
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(c,
                            "SELECT t.id, t.user_id, t.device_id, u.admin, u.deactivated, u.locked, "
                            "u.suspended, u.shadow_banned "
                            "FROM access_tokens t JOIN users u USING (user_id) "
                            "WHERE t.token_hash = $1::bytea",
                            1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        out->token_id = db_int(res, 0, 0);
        out->user_id = strdup(db_val(res, 0, 1));
        out->device_id = db_val(res, 0, 2) ? strdup(db_val(res, 0, 2)) : NULL;
        out->admin = db_bool(res, 0, 3);
        out->deactivated = db_bool(res, 0, 4);
        out->locked = db_bool(res, 0, 5);
        out->suspended = db_bool(res, 0, 6);
        out->shadow_banned = db_bool(res, 0, 7);
    }
    PQclear(res);
    return found;
}

void db_token_owner_clear(struct db_token_owner *o)
{
    free(o->user_id);
    free(o->device_id);
    memset(o, 0, sizeof *o);
}

int db_tokens_delete(struct dbc *c, int64_t token_id)
{
    char id[24];
    const char *p[] = {db_i64(id, token_id)};
    return db_run(c, "DELETE FROM access_tokens WHERE id = $1", 1, p);
}

int db_tokens_delete_device(struct dbc *c, const char *user_id, const char *device_id)
{
    const char *p[] = {user_id, device_id};
    return db_run(c, "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", 2, p);
}
