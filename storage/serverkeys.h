/* serverkeys.h - remote servers' signing keys and their signed key answers (migration 0050). */
#ifndef AMTSBOTE_STORAGE_SERVERKEYS_H
#define AMTSBOTE_STORAGE_SERVERKEYS_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* One stored key. */
struct db_server_key {
    char verify_key[64]; /* unpadded base64 */
    int64_t valid_until_ts;
    int64_t expired_ts; /* 0: current key */
};

/* Look up (server_name, key_id). Returns 1 with *out filled, 0 when unknown, -1 on error. */
int db_server_key_get(struct dbc *c, const char *server_name, const char *key_id,
                      struct db_server_key *out);

/* Store a server's verified key answer: `keys` (borrowed) is an array of objects {key_id,
 * key, valid_until_ts, expired_ts (0: current)}; the answer text `key_json` replaces the
 * stored one unless that is valid for longer. One transaction. 0 or -1. */
int db_server_keys_store(struct dbc *c, const char *server_name, const json_t *keys,
                         const char *key_json, int64_t valid_until_ts, int64_t now_ms);

/* The stored answer of server_name: *key_json malloc'd (NULL when none) and its
 * valid_until_ts. 0 or -1. */
int db_server_keys_json(struct dbc *c, const char *server_name, char **key_json,
                        int64_t *valid_until_ts);

#endif
