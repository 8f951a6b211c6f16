/* crosssign.c - cross-signing (Client-Server API "Cross-signing"): a user's master,
 * self-signing and user-signing keys (POST /keys/device_signing/upload) and the signatures
 * made with them (POST /keys/signatures/upload).
 *
 * Invariants:
 *  1. The self-signing and user-signing keys are stored only when the master key signed them;
 *     replacing keys needs user-interactive auth (the first upload does not, as the spec has
 *     allowed since v1.11), and replacing a key drops the signatures made with it and on it.
 *  2. Every uploaded signature is verified with the signing key it names before it is stored:
 *     a device by its owner's self-signing key, a master key by one of its owner's devices,
 *     another user's master key by the uploader's user-signing key. The signed object must be
 *     the stored key, apart from its signatures. Anything else is a failure entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cjson.h"
#include "server/e2e_internal.h"
#include "storage/keys.h"

/* --- cross-signing ------------------------------------------------------------------------ */

static const char *const usages[] = {"master", "self_signing", "user_signing"};
static const char *const body_keys[] = {"master_key", "self_signing_key", "user_signing_key"};

/* Check a CrossSigningKey object; its public key into pub (malloc'd). */
static bool cross_key_ok(const json_t *k, const char *user_id, const char *usage, char **pub,
                         struct e2e_error *err)
{
    const char *u = json_string_value(json_object_get(k, "user_id"));
    json_t *us = json_object_get(k, "usage"), *keys = json_object_get(k, "keys");
    bool has_usage = false;
    size_t i;
    json_t *v;
    json_array_foreach(us, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), usage) == 0)
            has_usage = true;
    }
    const char *kid =
        json_object_size(keys) == 1 ? json_object_iter_key(json_object_iter(keys)) : NULL;
    const char *val = kid ? json_string_value(json_object_get(keys, kid)) : NULL;
    uint8_t pk[32];
    if (!u || strcmp(u, user_id) != 0 || !has_usage || !val || strncmp(kid, "ed25519:", 8) != 0 ||
        strcmp(kid + 8, val) != 0 || e2e_decode_pk(val, pk) < 0) {
        e2e_fail(err, 400, "M_INVALID_PARAM",
                 "The %s key must be for %s, have usage '%s' and one ed25519 key", usage, user_id,
                 usage);
        return false;
    }
    if (!cjson_valid(k)) {
        e2e_fail(err, 400, "M_BAD_JSON", "The %s key is not valid canonical JSON", usage);
        return false;
    }
    *pub = strdup(val);
    return *pub != NULL;
}

/* The stored cross-signing keys of one user: rows[usage index] borrowed from *all. */
static int load_cross(struct dbc *c, const char *user_id, json_t **all, json_t *rows[3])
{
    json_t *users = json_pack("[s]", user_id);
    *all = db_keys_cross_signing_get(c, users);
    json_decref(users);
    if (!*all)
        return -1;
    for (int u = 0; u < 3; u++)
        rows[u] = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(*all, i, r)
    {
        const char *usage = json_string_value(json_object_get(r, "usage"));
        for (int u = 0; u < 3; u++)
            if (usage && strcmp(usage, usages[u]) == 0)
                rows[u] = r;
    }
    return 0;
}

int e2e_cross_signing_needs_auth(const char *user_id, const json_t *body, struct e2e_error *err)
{
    struct dbc *c = db_get();
    json_t *all = NULL, *rows[3];
    int rc = c ? load_cross(c, user_id, &all, rows) : -1;
    db_put(c);
    if (rc < 0) {
        e2e_fail_internal(err);
        return -1;
    }
    int need = 0;
    for (int u = 0; u < 3 && rows[0]; u++) {
        json_t *k = json_object_get(body, body_keys[u]);
        if (k && !json_is_null(k) &&
            (!rows[u] || !e2e_same_key(json_object_get(rows[u], "key"), k)))
            need = 1;
    }
    json_decref(all);
    return need;
}

int e2e_cross_signing_upload(const char *user_id, const json_t *body, struct e2e_error *err)
{
    json_t *given[3];
    char *pub[3] = {NULL, NULL, NULL}, *text[3] = {NULL, NULL, NULL};
    json_t *all = NULL, *rows[3] = {NULL, NULL, NULL};
    struct dbc *c = NULL;
    struct notify_ticket *t = NULL;
    int rc = -1;
    bool any = false;
    for (int u = 0; u < 3; u++) {
        given[u] = json_object_get(body, body_keys[u]);
        if (json_is_null(given[u]))
            given[u] = NULL;
        if (given[u] && !cross_key_ok(given[u], user_id, usages[u], &pub[u], err))
            goto out;
        any |= given[u] != NULL;
    }
    if (!any) {
        e2e_fail(err, 400, "M_MISSING_PARAM", "No cross-signing key given");
        goto out;
    }
    if (!(c = db_get()) || load_cross(c, user_id, &all, rows) < 0)
        goto internal;
    /* the master key that must have signed the others: the new one, else the stored one */
    const char *master_pub = pub[0]    ? pub[0]
                             : rows[0] ? json_string_value(json_object_get(rows[0], "public_key"))
                                       : NULL;
    if (!master_pub && (given[1] || given[2])) {
        e2e_fail(err, 400, "M_MISSING_PARAM", "A master key is needed to sign the other keys");
        goto out;
    }
    char signer[8 + MAX_ID + 1];
    snprintf(signer, sizeof signer, "ed25519:%s", master_pub ? master_pub : "");
    for (int u = 1; u < 3; u++) {
        if (given[u] && !e2e_verified(given[u], user_id, signer, master_pub)) {
            e2e_fail(err, 400, "M_INVALID_SIGNATURE", "The %s key is not signed by the master key",
                     usages[u]);
            goto out;
        }
    }
    for (int u = 0; u < 3; u++)
        if (given[u] && !(text[u] = cjson_encode(given[u], NULL)))
            goto internal;
    if (db_begin(c) < 0)
        goto internal;
    t = notify_begin();
    for (int u = 0; u < 3; u++) {
        if (!given[u])
            continue;
        const char *old =
            rows[u] ? json_string_value(json_object_get(rows[u], "public_key")) : NULL;
        if (old && strcmp(old, pub[u]) != 0 && db_keys_signatures_drop(c, user_id, old) < 0)
            goto internal;
        if (db_keys_cross_signing_put(c, user_id, usages[u], pub[u], text[u]) < 0)
            goto internal;
    }
    /* a user-signing key alone is private to its owner: only their devices learn of it */
    if (e2e_record_change_for(c, t, user_id, given[0] || given[1] ? NULL : user_id) < 0 ||
        db_commit(c) < 0)
        goto internal;
    notify_end(t, true);
    t = NULL;
    rc = 0;
    goto out;
internal:
    e2e_fail_internal(err);
out:
    if (t) {
        db_rollback(c);
        notify_end(t, false);
    }
    db_put(c);
    json_decref(all);
    for (int u = 0; u < 3; u++) {
        free(pub[u]);
        free(text[u]);
    }
    return rc;
}

/* --- /keys/signatures/upload -------------------------------------------------------------- */

static void sig_failure(json_t *failures, const char *user, const char *key, const char *errcode,
                        const char *why)
{
    json_t *by = json_object_get(failures, user);
    if (!by) {
        by = json_object();
        json_object_set_new(failures, user, by);
    }
    json_object_set_new(by, key, json_pack("{s:s,s:s}", "errcode", errcode, "error", why));
}

/* The stored public key of `usage` for `user`, borrowed from rows. */
static const char *cross_pub(json_t *rows[3], int usage)
{
    return rows[usage] ? json_string_value(json_object_get(rows[usage], "public_key")) : NULL;
}

/* Verify and store the signatures by `signer` (the uploader) on one object. Returns the
 * number stored, or -1 on a database error; a bad signature is a failure entry. */
static int sign_one(struct dbc *c, const char *signer, json_t *mine[3], const char *target,
                    const char *key_id, const json_t *obj, json_t *failures)
{
    json_t *by = json_object_get(json_object_get(obj, "signatures"), signer);
    if (!json_is_object(obj) || !json_is_object(by) || !json_object_size(by)) {
        sig_failure(failures, target, key_id, "M_INVALID_SIGNATURE",
                    "No signature by the uploader");
        return 0;
    }
    bool own = strcmp(target, signer) == 0;
    json_t *theirs_all = NULL, *theirs[3];
    json_t **cross = mine;
    if (!own) {
        if (!e2e_is_local(target)) {
            sig_failure(failures, target, key_id, "M_NOT_FOUND",
                        "Keys of users on other servers are not available");
            return 0;
        }
        if (load_cross(c, target, &theirs_all, theirs) < 0)
            return -1;
        cross = theirs;
    }
    int stored = 0;
    char *dev_text = NULL;
    json_t *dev = NULL;
    const char *master = cross_pub(cross, 0);
    if (master && strcmp(key_id, master) == 0) {
        /* a master key: own, signed by one of the uploader's devices; another user's, signed
         * by the uploader's user-signing key */
        if (!e2e_same_key(obj, json_object_get(cross[0], "key"))) {
            sig_failure(failures, target, key_id, "M_INVALID_PARAM",
                        "The signed object is not the stored master key");
            goto out;
        }
        const char *sk;
        json_t *sig;
        json_object_foreach(by, sk, sig)
        {
            const char *pub = NULL;
            char *dkt = NULL;
            json_t *dk = NULL;
            if (own && strncmp(sk, "ed25519:", 8) == 0 && strcmp(sk + 8, master) != 0) {
                if (db_keys_device_get(c, signer, sk + 8, &dkt) < 0) {
                    stored = -1;
                    goto out;
                }
                dk = dkt ? json_loads(dkt, 0, NULL) : NULL;
                pub = json_string_value(json_object_get(json_object_get(dk, "keys"), sk));
            } else if (!own) {
                const char *us = cross_pub(mine, 2);
                if (us && strncmp(sk, "ed25519:", 8) == 0 && strcmp(sk + 8, us) == 0)
                    pub = us;
            } else {
                continue; /* the master key's own signature is part of the stored key */
            }
            bool good = pub && json_is_string(sig) && e2e_verified(obj, signer, sk, pub);
            if (good &&
                db_keys_signature_put(c, signer, sk, target, key_id, json_string_value(sig)) < 0)
                stored = -1;
            else if (good)
                stored++;
            else
                sig_failure(failures, target, key_id, "M_INVALID_SIGNATURE",
                            pub ? "Invalid signature" : "Unknown signing key");
            json_decref(dk);
            free(dkt);
            if (stored < 0)
                goto out;
        }
        goto out;
    }
    if (own) {
        /* one of the uploader's devices, signed by their self-signing key */
        if (db_keys_device_get(c, signer, key_id, &dev_text) < 0) {
            stored = -1;
            goto out;
        }
        dev = dev_text ? json_loads(dev_text, 0, NULL) : NULL;
        if (dev) {
            const char *ss = cross_pub(mine, 1);
            char sk[8 + MAX_ID + 1];
            snprintf(sk, sizeof sk, "ed25519:%s", ss ? ss : "");
            const char *sig = json_string_value(json_object_get(by, sk));
            if (!e2e_same_key(obj, dev))
                sig_failure(failures, target, key_id, "M_INVALID_PARAM",
                            "The signed object is not the stored device keys");
            else if (!ss || !sig || !e2e_verified(obj, signer, sk, ss))
                sig_failure(failures, target, key_id, "M_INVALID_SIGNATURE",
                            ss ? "Invalid signature by the self-signing key"
                               : "No self-signing key uploaded");
            else if (db_keys_signature_put(c, signer, sk, target, key_id, sig) < 0)
                stored = -1;
            else
                stored = 1;
            goto out;
        }
    }
    sig_failure(failures, target, key_id, "M_NOT_FOUND", "Unknown key");
out:
    json_decref(dev);
    free(dev_text);
    json_decref(theirs_all);
    return stored;
}

json_t *e2e_signatures_upload(const char *user_id, const json_t *body, struct e2e_error *err)
{
    if (!json_is_object(body)) {
        e2e_fail(err, 400, "M_BAD_JSON", "The body must be an object of user IDs");
        return NULL;
    }
    const char *u;
    json_t *keys;
    size_t total = 0;
    json_object_foreach((json_t *)body, u, keys)
    {
        if (!json_is_object(keys)) {
            e2e_fail(err, 400, "M_BAD_JSON", "%s must map key IDs to signed objects", u);
            return NULL;
        }
        total += json_object_size(keys);
    }
    if (total > MAX_UPLOAD_KEYS) {
        e2e_fail(err, 400, "M_TOO_LARGE", "At most %d signed objects in one upload",
                 MAX_UPLOAD_KEYS);
        return NULL;
    }
    json_t *failures = json_object(), *all = NULL, *mine[3];
    struct dbc *c = db_get();
    int stored = 0;
    if (!c || load_cross(c, user_id, &all, mine) < 0)
        goto internal;
    if (db_begin(c) < 0)
        goto internal;
    struct notify_ticket *t = notify_begin();
    json_object_foreach((json_t *)body, u, keys)
    {
        const char *k;
        json_t *obj;
        int theirs = 0;
        json_object_foreach(keys, k, obj)
        {
            int n = sign_one(c, user_id, mine, u, k, obj, failures);
            if (n < 0) {
                notify_end(t, false);
                goto internal;
            }
            if (strcmp(u, user_id) == 0)
                stored += n;
            else
                theirs += n;
        }
        /* a signature on another user's key (made with the user-signing key) is visible to
         * the signer alone: only the signer's devices learn that u changed */
        if (theirs && e2e_record_change_for(c, t, u, user_id) < 0) {
            notify_end(t, false);
            goto internal;
        }
    }
    if ((stored && e2e_record_change(c, t, user_id) < 0) || db_commit(c) < 0) {
        notify_end(t, false);
        goto internal;
    }
    notify_end(t, true);
    db_put(c);
    json_decref(all);
    json_t *out = json_pack("{s:O}", "failures", failures);
    json_decref(failures);
    return out;
internal:
    e2e_fail_internal(err);
    if (c)
        db_rollback(c);
    db_put(c);
    json_decref(all);
    json_decref(failures);
    return NULL;
}
