/* e2e.c - end-to-end encryption support (Client-Server API "End-to-End Encryption",
 * "Send-to-Device messaging", "Cross-signing"). Clients upload device keys, one-time keys,
 * fallback keys and cross-signing keys; others query and claim them; devices exchange
 * to-device messages through the server's inbox.
 *
 * Invariants:
 *  1. The server stores what a client signed as canonical JSON and serves it back unchanged,
 *     adding only what the spec lets it add (unsigned.device_display_name, and signatures
 *     uploaded later through /keys/signatures/upload, each verified before it is stored).
 *  2. A device's identity keys are never silently replaced: a different upload for the same
 *     device is refused, as is a one-time key ID reused with other content.
 *  3. Every change another device must hear of (device keys, cross-signing keys, a deleted or
 *     renamed device, a to-device message) takes a stream position under a notifier ticket
 *     and touches the rooms of the user (device lists) or the recipient (to-device), so the
 *     waiting syncs wake.
 *  4. Signatures by a user's user-signing key are private to that user: they are served to
 *     the signer only.
 * Cross-signing uploads and signature checks are in crosssign.c. */
#include "server/e2e.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/cjson.h"
#include "server/clock.h"
#include "server/fedout.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/room_txn.h"
#include "server/sign.h"
#include "server/sync.h"
#include "server/e2e_internal.h"
#include "storage/keys.h"
#include "storage/remote.h"

bool e2e_names_over_federation;

void e2e_init(const char *server_name, bool device_names_over_federation)
{
    (void)server_name; /* "is it local?" is answered by ids_is_local (server/ids.h) */
    e2e_names_over_federation = device_names_over_federation;
}

void e2e_fail(struct e2e_error *e, int status, const char *errcode, const char *fmt, ...)
{
    e->status = status;
    e->errcode = errcode;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap);
    va_end(ap);
}

void e2e_fail_internal(struct e2e_error *e)
{
    e2e_fail(e, 500, "M_UNKNOWN", "Internal server error");
}

/* The server part of a user ID, or NULL when it is not one. */
const char *e2e_server_of(const char *user_id)
{
    return user_id && user_id[0] == '@' && strlen(user_id) <= MAX_ID ? ids_server_of(user_id)
                                                                       : NULL;
}

bool e2e_is_local(const char *user_id)
{
    return ids_is_local_server(e2e_server_of(user_id));
}

/* Canonical JSON of `v` without `signatures` and `unsigned` (what signatures cover);
 * malloc'd, NULL when v is not an object or not canonicalisable. */
char *e2e_signed_part(const json_t *v)
{
    if (!json_is_object(v))
        return NULL;
    json_t *copy = json_copy((json_t *)v);
    if (!copy)
        return NULL;
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    char *s = cjson_encode(copy, NULL);
    json_decref(copy);
    return s;
}

/* Whether a and b are the same key apart from their signatures. */
bool e2e_same_key(const json_t *a, const json_t *b)
{
    char *x = e2e_signed_part(a), *y = e2e_signed_part(b);
    bool same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

/* Decode an unpadded base64 ed25519 public key. 0 or -1. */
int e2e_decode_pk(const char *b64, uint8_t pk[32])
{
    size_t n = 0;
    return b64 && b64_decode(b64, strlen(b64), pk, 32, &n) == 0 && n == 32 ? 0 : -1;
}

/* Verify signatures[signer_user][signer_key] on obj with the base64 key `pub`. */
bool e2e_verified(const json_t *obj, const char *signer_user, const char *signer_key,
                  const char *pub)
{
    uint8_t pk[32];
    return e2e_decode_pk(pub, pk) == 0 && sign_verify_json(obj, signer_user, signer_key, pk) == 0;
}

/* Add signatures[signer_user][signer_key] = sig to obj (borrowed). */
void e2e_add_signature(json_t *obj, const char *signer_user, const char *signer_key,
                       const char *sig)
{
    json_t *sigs = json_object_get(obj, "signatures");
    if (!json_is_object(sigs)) {
        sigs = json_object();
        json_object_set_new(obj, "signatures", sigs);
    }
    json_t *by = json_object_get(sigs, signer_user);
    if (!json_is_object(by)) {
        by = json_object();
        json_object_set_new(sigs, signer_user, by);
    }
    json_object_set_new(by, signer_key, json_string(sig));
}

/* --- /keys/upload ------------------------------------------------------------------------- */

/* Check a DeviceKeys object against the uploading device. */
static bool device_keys_ok(const json_t *dk, const char *user_id, const char *device_id,
                           struct e2e_error *err)
{
    const char *u = json_string_value(json_object_get(dk, "user_id"));
    const char *d = json_string_value(json_object_get(dk, "device_id"));
    json_t *algs = json_object_get(dk, "algorithms"), *keys = json_object_get(dk, "keys");
    json_t *sigs = json_object_get(dk, "signatures");
    if (!json_is_object(dk) || !u || !d || !json_is_array(algs) || !json_is_object(keys) ||
        !json_is_object(sigs)) {
        e2e_fail(err, 400, "M_BAD_JSON",
                 "device_keys needs user_id, device_id, algorithms, keys and signatures");
        return false;
    }
    if (strcmp(u, user_id) != 0 || strcmp(d, device_id) != 0) {
        e2e_fail(err, 400, "M_INVALID_PARAM",
                 "device_keys must be for the device of the access token (%s, %s)", user_id,
                 device_id);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(keys, k, v)
    {
        if (!json_is_string(v) || strlen(k) > MAX_ID) {
            e2e_fail(err, 400, "M_BAD_JSON", "device_keys.keys must map key IDs to strings");
            return false;
        }
    }
    return true;
}

/* One-time or fallback keys as rows {algorithm, key_id, json}; NULL with *err when bad. */
static json_t *key_rows(const json_t *keys, const char *what, bool objects_only,
                        struct e2e_error *err)
{
    if (!json_is_object(keys)) {
        e2e_fail(err, 400, "M_BAD_JSON", "%s must be an object", what);
        return NULL;
    }
    if (json_object_size(keys) > MAX_UPLOAD_KEYS) {
        e2e_fail(err, 400, "M_TOO_LARGE", "At most %d %s in one upload", MAX_UPLOAD_KEYS, what);
        return NULL;
    }
    json_t *rows = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)keys, k, v)
    {
        const char *colon = strchr(k, ':');
        if (!colon || colon == k || !colon[1] || strlen(k) > MAX_ID ||
            !(json_is_object(v) || (!objects_only && json_is_string(v)))) {
            e2e_fail(err, 400, "M_BAD_JSON", "%s: '%s' is not <algorithm>:<key id> with a key",
                     what, k);
            json_decref(rows);
            return NULL;
        }
        char *text = cjson_encode(v, NULL);
        if (!text) {
            e2e_fail(err, 400, "M_BAD_JSON", "%s: key '%s' is not valid canonical JSON", what, k);
            json_decref(rows);
            return NULL;
        }
        json_array_append_new(rows, json_pack("{s:s%,s:s,s:s}", "algorithm", k, (size_t)(colon - k),
                                              "key_id", colon + 1, "json", text));
        free(text);
    }
    return rows;
}

/* {algorithm: n} with signed_curve25519 always present (clients read it as their count). */
static json_t *otk_counts(const json_t *counts)
{
    json_t *out = json_is_object(counts) ? json_copy((json_t *)counts) : json_object();
    if (!json_object_get(out, "signed_curve25519"))
        json_object_set_new(out, "signed_curve25519", json_integer(0));
    return out;
}

json_t *e2e_upload(const char *user_id, const char *device_id, const json_t *body,
                   struct e2e_error *err)
{
    if (!device_id) {
        e2e_fail(err, 400, "M_INVALID_PARAM", "This access token belongs to no device");
        return NULL;
    }
    json_t *dk = json_object_get(body, "device_keys");
    json_t *otk = json_object_get(body, "one_time_keys");
    json_t *fb = json_object_get(body, "fallback_keys");
    if (json_is_null(dk))
        dk = NULL;
    if (json_is_null(otk))
        otk = NULL;
    if (json_is_null(fb))
        fb = NULL;
    char *dk_text = NULL, *old = NULL, *conflict = NULL;
    json_t *otk_rows = NULL, *fb_rows = NULL, *out = NULL, *counts = NULL;
    struct dbc *c = NULL;
    struct notify_ticket *t = NULL;
    bool ok = false;
    if (dk &&
        (!device_keys_ok(dk, user_id, device_id, err) || !(dk_text = cjson_encode(dk, NULL)))) {
        if (dk_text == NULL && err->status == 0)
            e2e_fail(err, 400, "M_BAD_JSON", "device_keys is not valid canonical JSON");
        goto out;
    }
    if (otk && !(otk_rows = key_rows(otk, "one_time_keys", false, err)))
        goto out;
    if (fb && !(fb_rows = key_rows(fb, "fallback_keys", true, err)))
        goto out;
    if (!(c = db_get()))
        goto internal;
    if (dk_text) {
        if (db_keys_device_get(c, user_id, device_id, &old) < 0)
            goto internal;
        json_t *prev = old ? json_loads(old, 0, NULL) : NULL;
        bool same_identity =
            !prev || json_equal(json_object_get(prev, "keys"), json_object_get(dk, "keys"));
        json_decref(prev);
        if (!same_identity) {
            e2e_fail(err, 400, "M_INVALID_PARAM",
                     "Device %s already has different identity keys; log in as a new device "
                     "to use new keys",
                     device_id);
            goto out;
        }
        if (old && strcmp(old, dk_text) == 0) { /* the same upload again */
            free(dk_text);
            dk_text = NULL;
        }
    }
    if (db_begin(c) < 0)
        goto internal;
    if (dk_text) {
        t = notify_begin();
        int put = db_keys_device_put(c, user_id, device_id, dk_text);
        if (put < 0 || (put == 1 && e2e_record_device_change(c, t, user_id, device_id) < 0))
            goto internal;
        if (put == 0) {
            e2e_fail(err, 404, "M_NOT_FOUND", "Unknown device");
            goto out;
        }
    }
    if (otk_rows && json_array_size(otk_rows)) {
        if (db_keys_otk_add(c, user_id, device_id, otk_rows, &conflict) < 0)
            goto internal;
        if (conflict) {
            e2e_fail(err, 400, "M_INVALID_PARAM",
                     "One-time key %s already exists with different content", conflict);
            goto out;
        }
    }
    size_t i;
    json_t *row;
    json_array_foreach(fb_rows, i, row)
    {
        if (db_keys_fallback_put(c, user_id, device_id,
                                 json_string_value(json_object_get(row, "algorithm")),
                                 json_string_value(json_object_get(row, "key_id")),
                                 json_string_value(json_object_get(row, "json"))) < 0)
            goto internal;
    }
    if (db_commit(c) < 0)
        goto internal;
    ok = true;
    if (t) {
        notify_end(t, true);
        t = NULL;
    }
    if (!(counts = db_keys_counts(c, user_id, device_id)))
        goto internal;
    out = json_pack("{s:o}", "one_time_key_counts", otk_counts(json_object_get(counts, "counts")));
    goto out;
internal:
    e2e_fail_internal(err);
out:
    if (c && !ok)
        db_rollback(c);
    if (t)
        notify_end(t, false);
    db_put(c);
    json_decref(counts);
    json_decref(otk_rows);
    json_decref(fb_rows);
    free(dk_text);
    free(old);
    free(conflict);
    return out;
}

/* --- /keys/query -------------------------------------------------------------------------- */

/* Merge the stored signatures on (user, key) into obj. Without a viewer: all; else only those
 * by the key's owner, by viewer_user, or by users of viewer_server (invariant 4). */
static void merge_signatures(json_t *obj, const json_t *sigs, const char *user, const char *key,
                             const struct e2e_viewer *v)
{
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s)
    {
        const char *tu = json_string_value(json_object_get(s, "target_user"));
        const char *tk = json_string_value(json_object_get(s, "target_key"));
        const char *su = json_string_value(json_object_get(s, "signer_user"));
        if (!tu || !tk || !su || strcmp(tu, user) != 0 || strcmp(tk, key) != 0)
            continue;
        if (v && strcmp(su, user) != 0 && !(v->user && strcmp(su, v->user) == 0) &&
            !(v->server && e2e_server_of(su) && strcmp(e2e_server_of(su), v->server) == 0))
            continue;
        e2e_add_signature(obj, su, json_string_value(json_object_get(s, "signer_key")),
                          json_string_value(json_object_get(s, "signature")));
    }
}

int e2e_query_local(const struct e2e_viewer *v, const json_t *local, struct e2e_answer *a)
{
    json_t *users = json_array(), *rows = NULL, *xs = NULL, *sigs = NULL;
    const char *u;
    json_t *list;
    json_object_foreach((json_t *)local, u, list)
    {
        json_array_append_new(users, json_string(u));
        json_object_set_new(a->device_keys, u, json_object());
    }
    int rc = -1;
    if (!json_array_size(users)) {
        rc = 0;
        goto out;
    }
    struct dbc *c = db_get();
    if (c) {
        rows = db_keys_devices_query(c, local);
        xs = rows ? db_keys_cross_signing_get(c, users) : NULL;
        sigs = xs ? db_keys_signatures_on(c, users) : NULL;
    }
    db_put(c);
    if (!sigs)
        goto out;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *user = json_string_value(json_object_get(r, "user_id"));
        const char *dev = json_string_value(json_object_get(r, "device_id"));
        json_t *keys = json_object_get(r, "keys");
        json_t *name = json_object_get(r, "display_name");
        if (!user || !dev || !json_is_object(keys))
            continue;
        if (json_is_string(name) && v->names)
            json_object_set_new(keys, "unsigned", json_pack("{s:O}", "device_display_name", name));
        merge_signatures(keys, sigs, user, dev, NULL);
        json_object_set(json_object_get(a->device_keys, user), dev, keys);
    }
    json_array_foreach(xs, i, r)
    {
        const char *user = json_string_value(json_object_get(r, "user_id"));
        const char *usage = json_string_value(json_object_get(r, "usage"));
        const char *pub = json_string_value(json_object_get(r, "public_key"));
        json_t *key = json_object_get(r, "key");
        if (!user || !usage || !pub || !json_is_object(key))
            continue;
        merge_signatures(key, sigs, user, pub, v);
        if (strcmp(usage, "master") == 0)
            json_object_set(a->master, user, key);
        else if (strcmp(usage, "self_signing") == 0)
            json_object_set(a->self, user, key);
        else if (strcmp(usage, "user_signing") == 0 && a->user_signing && v->user &&
                 strcmp(user, v->user) == 0)
            json_object_set(a->user_signing, user, key);
    }
    rc = 0;
out:
    json_decref(users);
    json_decref(rows);
    json_decref(xs);
    json_decref(sigs);
    return rc;
}

/* The client's timeout for waiting on other servers (ms): `timeout` of the body, default
 * 10 s, kept within [1 s, 30 s]. */
static long remote_timeout(const json_t *body)
{
    json_t *t = json_object_get(body, "timeout");
    json_int_t v = json_is_integer(t) ? json_integer_value(t) : 10000;
    return v < 1000 ? 1000 : v > 30000 ? 30000 : (long)v;
}

json_t *e2e_query(const char *requester, const json_t *body, struct e2e_error *err)
{
    json_t *want = json_object_get(body, "device_keys");
    if (!json_is_object(want)) {
        e2e_fail(err, 400, "M_BAD_JSON", "device_keys must be an object of user IDs");
        return NULL;
    }
    json_t *local = json_object(), *remote = json_object(), *failures = json_object();
    struct e2e_answer a = {json_object(), json_object(), json_object(), json_object()};
    json_t *out = NULL;
    const char *u;
    json_t *list;
    json_object_foreach(want, u, list)
    {
        size_t i;
        json_t *d;
        if (!json_is_array(list)) {
            e2e_fail(err, 400, "M_BAD_JSON", "device_keys.%s must be a list of device IDs", u);
            goto out;
        }
        json_array_foreach(list, i, d)
        {
            if (!json_is_string(d)) {
                e2e_fail(err, 400, "M_BAD_JSON", "device_keys.%s must be a list of device IDs", u);
                goto out;
            }
        }
        const char *server = e2e_server_of(u);
        if (!server)
            continue;
        if (!e2e_is_local(u)) { /* grouped by server: one request each (server/e2e_fed.c) */
            json_t *by = json_object_get(remote, server);
            if (!by)
                json_object_set_new(remote, server, by = json_object());
            json_object_set(by, u, list);
            continue;
        }
        json_object_set(local, u, list);
    }
    struct e2e_viewer v = {.user = requester, .names = true};
    if (e2e_query_local(&v, local, &a) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    if (json_object_size(remote))
        e2e_remote_query(remote, remote_timeout(body), &a, failures);
    out = json_pack("{s:O,s:O,s:O,s:O,s:O}", "device_keys", a.device_keys, "master_keys",
                    a.master, "self_signing_keys", a.self, "user_signing_keys", a.user_signing,
                    "failures", failures);
out:
    json_decref(local);
    json_decref(remote);
    json_decref(failures);
    e2e_answer_clear(&a);
    return out;
}

void e2e_answer_clear(struct e2e_answer *a)
{
    json_decref(a->device_keys);
    json_decref(a->master);
    json_decref(a->self);
    json_decref(a->user_signing);
    memset(a, 0, sizeof *a);
}

/* --- /keys/claim -------------------------------------------------------------------------- */

int e2e_claim_local(const json_t *want, json_t *keys)
{
    if (!json_array_size(want))
        return 0;
    struct dbc *c = db_get();
    json_t *rows = c ? db_keys_claim(c, want) : NULL;
    db_put(c);
    if (!rows)
        return -1;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *user = json_string_value(json_object_get(r, "user_id"));
        const char *dev = json_string_value(json_object_get(r, "device_id"));
        const char *kid = json_string_value(json_object_get(r, "key_id"));
        if (!user || !dev || !kid)
            continue;
        json_t *by_user = json_object_get(keys, user);
        if (!by_user) {
            by_user = json_object();
            json_object_set_new(keys, user, by_user);
        }
        json_object_set_new(by_user, dev, json_pack("{s:O}", kid, json_object_get(r, "key")));
    }
    json_decref(rows);
    return 0;
}

int e2e_claim_parse(const json_t *want_in, json_t *want, json_t *remote, struct e2e_error *err)
{
    if (!json_is_object(want_in)) {
        e2e_fail(err, 400, "M_BAD_JSON", "one_time_keys must be an object of user IDs");
        return -1;
    }
    size_t n = 0;
    const char *u;
    json_t *devs;
    json_object_foreach((json_t *)want_in, u, devs)
    {
        const char *d;
        json_t *alg;
        if (!json_is_object(devs)) {
            e2e_fail(err, 400, "M_BAD_JSON", "one_time_keys.%s must map device IDs to algorithms",
                     u);
            return -1;
        }
        json_object_foreach(devs, d, alg)
        {
            if (!json_is_string(alg)) {
                e2e_fail(err, 400, "M_BAD_JSON", "one_time_keys.%s.%s must be an algorithm", u, d);
                return -1;
            }
            if (++n > MAX_CLAIMS) {
                e2e_fail(err, 400, "M_TOO_LARGE", "At most %d devices in one claim", MAX_CLAIMS);
                return -1;
            }
        }
        const char *server = e2e_server_of(u);
        if (!server)
            continue;
        if (!e2e_is_local(u)) {
            if (remote) {
                json_t *by = json_object_get(remote, server);
                if (!by)
                    json_object_set_new(remote, server, by = json_object());
                json_object_set(by, u, devs);
            }
            continue;
        }
        json_object_foreach(devs, d, alg)
        {
            json_array_append_new(
                want, json_pack("{s:s,s:s,s:O}", "user_id", u, "device_id", d, "algorithm", alg));
        }
    }
    return 0;
}

json_t *e2e_claim(const json_t *body, struct e2e_error *err)
{
    json_t *want = json_array(), *remote = json_object(), *failures = json_object();
    json_t *keys = json_object(), *out = NULL;
    if (e2e_claim_parse(json_object_get(body, "one_time_keys"), want, remote, err) < 0)
        goto out;
    if (e2e_claim_local(want, keys) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    if (json_object_size(remote))
        e2e_remote_claim(remote, remote_timeout(body), keys, failures);
    out = json_pack("{s:O,s:O}", "one_time_keys", keys, "failures", failures);
out:
    json_decref(want);
    json_decref(remote);
    json_decref(failures);
    json_decref(keys);
    return out;
}

/* --- /keys/changes ------------------------------------------------------------------------ */

json_t *e2e_changes(const char *user_id, const char *from, const char *to, struct e2e_error *err)
{
    struct sync_token f, t;
    if (!from || !to || sync_token_parse(from, &f) < 0 || sync_token_parse(to, &t) < 0) {
        e2e_fail(err, 400, "M_INVALID_PARAM", "'from' and 'to' must be sync tokens");
        return NULL;
    }
    int64_t upto = t.pos < notify_position() ? t.pos : notify_position();
    if (f.pos >= upto)
        return json_pack("{s:[],s:[]}", "changed", "left");
    struct dbc *c = db_get();
    json_t *out = c ? db_device_lists(c, user_id, f.pos, upto) : NULL;
    db_put(c);
    if (!json_is_object(out)) {
        json_decref(out);
        e2e_fail_internal(err);
        return NULL;
    }
    return out;
}

/* --- /sendToDevice ------------------------------------------------------------------------ */

/* One m.direct_to_device EDU per server of `remote` ({server: {user: {device: content}}}).
 * The message ID is derived from the client's transaction (device, and the path's event type
 * and txnId), so a repeated request is a repeated message the receiving server drops, and the
 * same txnId for another event type is another message (receivers such as Synapse drop a
 * message ID they saw, whatever its type). Only for local senders (received EDUs are not
 * relayed). */
static void send_remote(const char *sender, const char *device_id, const char *type,
                        const char *txn_id, const json_t *remote)
{
    char message_id[ROOM_TXN_HASH_HEX + 1];
    if (!e2e_is_local(sender) || !json_object_size(remote))
        return;
    const char *parts[] = {device_id ? device_id : "", "sendToDevice", type,
                           txn_id ? txn_id : ""};
    room_txn_hash(message_id, parts, 4);
    const char *server;
    json_t *msgs;
    json_object_foreach((json_t *)remote, server, msgs)
    {
        json_t *edu = json_pack("{s:s,s:s,s:s,s:O}", "sender", sender, "type", type,
                                "message_id", message_id, "messages", msgs);
        fedout_edu_server(server, "m.direct_to_device", edu);
        json_decref(edu);
    }
}

int e2e_send_to_device(const char *sender, const char *device_id, const char *type,
                       const char *txn_id, const json_t *body, struct e2e_error *err)
{
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_object(messages)) {
        e2e_fail(err, 400, "M_BAD_JSON", "messages must be an object of user IDs");
        return -1;
    }
    json_t *rows = json_array(), *remote = json_object();
    int rc = -1;
    const char *u;
    json_t *devs;
    json_object_foreach(messages, u, devs)
    {
        const char *d;
        json_t *content;
        if (!json_is_object(devs)) {
            e2e_fail(err, 400, "M_BAD_JSON", "messages.%s must map device IDs to contents", u);
            goto out;
        }
        json_object_foreach(devs, d, content)
        {
            if (!json_is_object(content) || strlen(d) > MAX_ID) {
                e2e_fail(err, 400, "M_BAD_JSON", "messages.%s.%s must be an object", u, d);
                goto out;
            }
        }
        if (!e2e_is_local(u)) { /* remote devices: an EDU to their server; a bad ID: nothing */
            const char *server = e2e_server_of(u);
            if (server) {
                json_t *by = json_object_get(remote, server);
                if (!by)
                    json_object_set_new(remote, server, by = json_object());
                json_object_set(by, u, devs);
            }
            continue;
        }
        json_object_foreach(devs, d, content)
        {
            if (json_array_size(rows) >= MAX_TO_DEVICE) {
                e2e_fail(err, 400, "M_TOO_LARGE", "At most %d devices in one request",
                         MAX_TO_DEVICE);
                goto out;
            }
            char *text = json_dumps(content, JSON_COMPACT);
            if (!text)
                goto internal;
            json_array_append_new(
                rows, json_pack("{s:s,s:s,s:s}", "user_id", u, "device_id", d, "content", text));
            free(text);
        }
    }
    rc = 0;
    send_remote(sender, device_id, type, txn_id, remote);
    if (!json_array_size(rows))
        goto out;
    struct dbc *c = db_get();
    if (!c)
        goto internal;
    int64_t pos = 0;
    json_t *users = NULL;
    struct notify_ticket *t = notify_begin();
    int sent = db_to_device_send(c, sender, device_id ? device_id : "", txn_id, type, rows,
                                 clock_now_ms(), &pos, &users);
    db_put(c);
    size_t i;
    json_t *r;
    json_array_foreach(users, i, r)
    {
        notify_touch(t, pos, NULL, json_string_value(r), NOTIFY_INBOX);
    }
    notify_end(t, sent == 0);
    json_decref(users);
    if (sent < 0)
        goto internal;
    goto out;
internal:
    e2e_fail_internal(err);
    rc = -1;
out:
    json_decref(rows);
    json_decref(remote);
    return rc;
}
