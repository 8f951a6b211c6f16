/* keys.c - the server's published signing key and the notary service (Server-Server API
 * "Retrieving server keys": GET /_matrix/key/v2/server, GET and POST /_matrix/key/v2/query),
 * and GET /_matrix/federation/v1/version. The older GET /_matrix/key/v2/server/{keyId} (gone
 * from the spec, still requested by Synapse 1.67) gets the same answer: every current key,
 * whatever the key ID, as Synapse answers it.
 *
 * The key answer is signed with the key it publishes, so that other servers (and notary
 * servers) can verify it; valid_until_ts is a day ahead, as Synapse publishes by default.
 * As a notary, this server returns each queried server's own signed answer with its own
 * signature added: from the cache when it is valid until the requested time, otherwise after
 * fetching it from that server directly; a stale cached answer is still returned when the
 * server cannot be reached (the spec allows notaries to serve offline servers' keys). Limits:
 * QUERY_MAX_SERVERS servers per query, at most QUERY_MAX_FETCHES of them fetched. */
#include <stdlib.h>
#include <string.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/keyring.h"
#include "server/version.h"

#define KEY_VALIDITY_MS (24LL * 60 * 60 * 1000)
#define QUERY_MAX_SERVERS 100
#define QUERY_MAX_FETCHES 5

/* Our own key answer, signed. New reference, NULL on failure. */
static json_t *own_answer(const char *server_name)
{
    const struct sign_key *k = keyring_own();
    char *pub = sign_key_public_b64(k);
    if (!pub)
        return NULL;
    size_t n_old;
    const struct keyring_old_key *old = keyring_own_old(&n_old);
    json_t *olds = json_object();
    for (size_t i = 0; olds && i < n_old; i++)
        json_object_set_new(
            olds, old[i].key_id,
            json_pack("{s:s,s:I}", "key", old[i].key, "expired_ts", (json_int_t)old[i].expired_ts));
    json_t *body = json_pack("{s:s,s:I,s:{s:{s:s}},s:o*}", "server_name", server_name,
                             "valid_until_ts", (json_int_t)(clock_now_ms() + KEY_VALIDITY_MS),
                             "verify_keys", k->key_id, "key", pub, "old_verify_keys", olds);
    free(pub);
    if (body && sign_json(body, server_name, k) < 0) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

void federation_key_server(struct http_req *req)
{
    json_t *body = own_answer(http_config(req)->server_name);
    if (!body)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, body);
}

/* The answer for one queried server, countersigned, appended to list. *fetches counts the
 * direct fetches this query made. */
static void answer_for(const char *me, const char *server, int64_t min_valid, json_t *list,
                       int *fetches)
{
    json_t *a = NULL;
    if (strcmp(server, me) == 0) {
        if ((a = own_answer(me)))
            json_array_append_new(list, a);
        return;
    }
    if (!ids_server_name_valid(server, strlen(server)) || keyring_stored_answer(server, &a) < 0)
        return;
    json_t *vu = json_object_get(a, "valid_until_ts");
    if ((!a || json_integer_value(vu) < min_valid) && *fetches < QUERY_MAX_FETCHES) {
        ++*fetches;
        if (federation_fetch_keys_direct(server) == 0) {
            json_decref(a);
            a = NULL;
            keyring_stored_answer(server, &a);
        }
    }
    if (a && sign_json(a, me, keyring_own()) == 0)
        json_array_append(list, a);
    json_decref(a);
}

/* minimum_valid_until_ts from a criteria object or query value; now when absent. */
static int64_t min_valid_of(const json_t *criteria)
{
    json_t *v = json_object_get(criteria, "minimum_valid_until_ts");
    return json_is_integer(v) ? json_integer_value(v) : clock_now_ms();
}

void federation_key_query_get(struct http_req *req)
{
    const char *q = http_query(req, "minimum_valid_until_ts");
    int64_t min_valid = clock_now_ms();
    int fetches = 0;
    if (q) {
        char *end;
        long long v = strtoll(q, &end, 10);
        if (*end || end == q) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "minimum_valid_until_ts: not a number");
            return;
        }
        min_valid = v;
    }
    json_t *list = json_array();
    if (!list) {
        http_reply_internal(req);
        return;
    }
    answer_for(http_config(req)->server_name, http_param(req, 0), min_valid, list, &fetches);
    http_reply_json(req, 200, json_pack("{s:o}", "server_keys", list));
}

void federation_key_query_post(struct http_req *req)
{
    json_t *sk = json_object_get(http_json(req), "server_keys");
    const char *server;
    json_t *keys;
    int fetches = 0;
    if (!json_is_object(sk)) {
        http_reply_error(req, 400, "M_BAD_JSON", "server_keys must be an object");
        return;
    }
    if (json_object_size(sk) > QUERY_MAX_SERVERS) {
        http_reply_error(req, 400, "M_LIMIT_EXCEEDED", "At most %d servers per query",
                         QUERY_MAX_SERVERS);
        return;
    }
    json_t *list = json_array();
    if (!list) {
        http_reply_internal(req);
        return;
    }
    json_object_foreach(sk, server, keys)
    {
        /* the latest minimum asked of any key; none asked: valid now */
        int64_t min_valid = json_object_size(keys) ? 0 : clock_now_ms();
        const char *kid;
        json_t *crit;
        if (!json_is_object(keys)) {
            json_decref(list);
            http_reply_error(req, 400, "M_BAD_JSON", "server_keys.%s must be an object", server);
            return;
        }
        json_object_foreach(keys, kid, crit)
        {
            int64_t m = min_valid_of(crit);
            if (m > min_valid)
                min_valid = m;
        }
        answer_for(http_config(req)->server_name, server, min_valid, list, &fetches);
    }
    http_reply_json(req, 200, json_pack("{s:o}", "server_keys", list));
}

void federation_version(struct http_req *req)
{
    http_reply_json(
        req, 200,
        json_pack("{s:{s:s,s:s}}", "server", "name", "Amtsbote", "version", AMTSBOTE_VERSION));
}
