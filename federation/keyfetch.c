/* keyfetch.c - fetching other servers' signing keys (Server-Server API "Retrieving server
 * keys"): through the notaries of trusted_key_servers first (POST /_matrix/key/v2/query),
 * then from the server itself (GET /_matrix/key/v2/server), as Synapse orders its fetchers.
 * With no trusted_key_servers (the default here) keys come from the server directly.
 *
 * A notary's answer counts only when the notary signed it with one of its configured
 * verify_keys (or, when none are configured, with a key fetched from the notary itself), and
 * every answer must also carry the origin server's own valid signature: keyring_store_answer
 * checks that before anything is stored. */
#include <stdio.h>
#include <string.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/b64.h"
#include "server/keyring.h"
#include "server/log.h"
#include "server/sign.h"

#define KEY_TIMEOUT_MS 10000

/* Whether the notary ks signed `answer`. */
static bool notary_signed(const struct config_key_server *ks, const json_t *answer)
{
    json_t *sigs = json_object_get(json_object_get(answer, "signatures"), ks->server_name);
    const char *kid;
    json_t *v;
    uint8_t pk[35];
    size_t n;
    json_object_foreach(sigs, kid, v)
    {
        int have = 0;
        if (ks->n_keys) {
            for (size_t i = 0; i < ks->n_keys && !have; i++)
                have = strcmp(ks->key_ids[i], kid) == 0 &&
                       b64_decode(ks->keys[i], strlen(ks->keys[i]), pk, sizeof pk, &n) == 0 &&
                       n == 32;
        } else {
            have = keyring_lookup_request(ks->server_name, kid, pk) == 1;
        }
        if (have && sign_verify_json(answer, ks->server_name, kid, pk) == 0)
            return true;
    }
    return false;
}

static int via_notary(const struct config_key_server *ks, const char *server_name,
                      const char *key_id, int64_t min_valid_ts)
{
    char err[256];
    json_t *out = NULL;
    int stored = -1;
    json_t *body = json_pack("{s:{s:{s:{s:I}}}}", "server_keys", server_name, key_id,
                             "minimum_valid_until_ts", (json_int_t)min_valid_ts);
    if (!body)
        return -1;
    int st = federation_request(ks->server_name, "POST", "/_matrix/key/v2/query", body,
                                KEY_TIMEOUT_MS, &out, err, sizeof err);
    json_decref(body);
    if (st != 200) {
        log_warn("keys of %s through notary %s: %s", server_name, ks->server_name,
                 st < 0 ? err : "not 200");
        goto out;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "server_keys"), i, a)
    {
        const char *name = json_string_value(json_object_get(a, "server_name"));
        if (!name || strcmp(name, server_name) != 0)
            continue;
        if (!notary_signed(ks, a)) {
            log_warn("notary %s: answer for %s not signed by the notary", ks->server_name,
                     server_name);
            continue;
        }
        if (keyring_store_answer(a, server_name) == 0) {
            log_info("keys of %s stored through notary %s", server_name, ks->server_name);
            stored = 0;
        }
    }
out:
    json_decref(out);
    return stored;
}

int federation_fetch_keys_direct(const char *server_name)
{
    char err[256];
    json_t *out = NULL;
    int st = federation_request(server_name, "GET", "/_matrix/key/v2/server", NULL, KEY_TIMEOUT_MS,
                                &out, err, sizeof err);
    int rc = -1;
    if (st == 200)
        rc = keyring_store_answer(out, server_name);
    else
        log_warn("keys of %s: %s", server_name, st < 0 ? err : "not 200");
    json_decref(out);
    return rc;
}

int federation_fetch_keys(const char *server_name, const char *key_id, int64_t min_valid_ts)
{
    if (!federation_domain_allowed(server_name))
        return -1;
    for (size_t i = 0; fed_cfg && i < fed_cfg->n_trusted_key_servers; i++) {
        const struct config_key_server *ks = &fed_cfg->trusted_key_servers[i];
        if (strcmp(ks->server_name, server_name) != 0 &&
            via_notary(ks, server_name, key_id, min_valid_ts) == 0)
            return 0;
    }
    return federation_fetch_keys_direct(server_name);
}
