/* e2e_fed.c - end-to-end encryption across servers (Server-Server API "End-to-End
 * Encryption", "Device Management"): what this server answers other servers about its users
 * (GET /user/devices/{userId}, POST /user/keys/query and /user/keys/claim), and how a local
 * client's /keys/query and /keys/claim reach other servers' users.
 *
 * Invariants:
 *  1. Over federation only local users are answered, with device display names only under
 *     allow_device_name_lookup_over_federation (Synapse's key, default off), and with the
 *     cross-signing signatures of the key's owner and of the asking server's users only.
 *  2. A client's request asks each other server once, all servers at the same time, each
 *     within the client's timeout; a server that does not answer is named in `failures` and
 *     the others' keys are still returned.
 *  3. Remote answers are untrusted: only objects for the users and devices asked, whose
 *     user_id and device_id fields are the ones asked for, whose user belongs to the server
 *     that answered, are kept.
 *  4. Device lists of remote users who share a room with a local user are cached
 *     (storage/remote.h) and served while fresh; an m.device_list_update that follows the
 *     copy's stream_id is applied to it, one after a gap and an m.signing_key_update mark it
 *     stale (server/e2e_devlist.c), and the next query fetches the whole list again with
 *     /user/devices. Users sharing no room are asked each time, since no update would
 *     reach us. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/e2e_internal.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/remote.h"
#include "storage/remote.h"

#define RESYNCS_PER_SERVER 8 /* /user/devices fetches per server and query; more: keys/query */
#define PATH_MAX_LEN 1024

/* --- answering other servers ------------------------------------------------------------ */

json_t *e2e_fed_user_devices(const char *user_id, struct e2e_error *err)
{
    if (!e2e_server_of(user_id) || !e2e_is_local(user_id)) {
        e2e_fail(err, 400, "M_INVALID_PARAM", "Not a user of this server");
        return NULL;
    }
    struct e2e_viewer v = {.names = e2e_names_over_federation};
    struct e2e_answer a = {json_object(), json_object(), json_object(), NULL};
    json_t *local = json_pack("{s:[]}", user_id), *out = NULL, *devices = json_array();
    int64_t stream_id = 0;
    struct dbc *c = db_get();
    int rc = c ? db_device_list_stream_id(c, user_id, &stream_id) : -1;
    db_put(c);
    if (rc < 0 || e2e_query_local(&v, local, &a) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    const char *d;
    json_t *keys;
    json_object_foreach(json_object_get(a.device_keys, user_id), d, keys)
    {
        json_t *dev = json_pack("{s:s,s:O}", "device_id", d, "keys", keys);
        json_t *name = json_object_get(json_object_get(keys, "unsigned"), "device_display_name");
        if (dev && json_is_string(name)) /* only with e2e_names_over_federation */
            json_object_set(dev, "device_display_name", name);
        json_array_append_new(devices, dev);
    }
    out = json_pack("{s:s,s:I,s:O}", "user_id", user_id, "stream_id", (json_int_t)stream_id,
                    "devices", devices);
    json_t *m = json_object_get(a.master, user_id), *s = json_object_get(a.self, user_id);
    if (out && m)
        json_object_set(out, "master_key", m);
    if (out && s)
        json_object_set(out, "self_signing_key", s);
    if (!out)
        e2e_fail_internal(err);
out:
    json_decref(local);
    json_decref(devices);
    e2e_answer_clear(&a);
    return out;
}

json_t *e2e_fed_query(const char *origin, const json_t *body, struct e2e_error *err)
{
    json_t *want = json_object_get(body, "device_keys");
    if (!json_is_object(want)) {
        e2e_fail(err, 400, "M_BAD_JSON", "device_keys must be an object of user IDs");
        return NULL;
    }
    json_t *local = json_object(), *out = NULL;
    struct e2e_answer a = {json_object(), json_object(), json_object(), NULL};
    const char *u;
    json_t *list;
    json_object_foreach(want, u, list)
    {
        size_t i;
        json_t *d;
        bool ok = json_is_array(list);
        json_array_foreach(list, i, d)
        {
            ok = ok && json_is_string(d);
        }
        if (!ok) {
            e2e_fail(err, 400, "M_BAD_JSON", "device_keys.%s must be a list of device IDs", u);
            goto out;
        }
        if (e2e_server_of(u) && e2e_is_local(u)) /* others' users: not ours to answer */
            json_object_set(local, u, list);
    }
    struct e2e_viewer v = {.server = origin, .names = e2e_names_over_federation};
    if (e2e_query_local(&v, local, &a) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    out = json_pack("{s:O,s:O,s:O}", "device_keys", a.device_keys, "master_keys", a.master,
                    "self_signing_keys", a.self);
out:
    json_decref(local);
    e2e_answer_clear(&a);
    return out;
}

json_t *e2e_fed_claim(const char *origin, const json_t *body, struct e2e_error *err)
{
    (void)origin;
    json_t *want = json_array(), *keys = json_object(), *out = NULL;
    if (e2e_claim_parse(json_object_get(body, "one_time_keys"), want, NULL, err) < 0)
        goto out;
    if (e2e_claim_local(want, keys) < 0) {
        e2e_fail_internal(err);
        goto out;
    }
    out = json_pack("{s:O}", "one_time_keys", keys);
out:
    json_decref(want);
    json_decref(keys);
    return out;
}

/* --- asking other servers --------------------------------------------------------------- */

/* failures[server] for a server that gave no usable answer. */
static void server_failed(json_t *failures, const char *server, const struct remote_call *c)
{
    int st = c->status > 0 ? c->status : 503;
    log_info("keys: %s: %s", server, c->status > 0 ? "unexpected answer" : c->err);
    json_object_set_new(failures, server,
                        json_pack("{s:i,s:s}", "status", st, "message",
                                  c->status == -2 ? "Federation with this server is not allowed"
                                  : c->status > 0 ? "The server refused the request"
                                                  : "The server could not be reached"));
}

/* Whether `user` is a user ID of `server`. */
static bool of_server(const char *user, const char *server)
{
    const char *s = e2e_server_of(user);
    return s && strcmp(s, server) == 0;
}

/* A key object (device or cross-signing) from another server, if it names user (and device,
 * when non-NULL). */
static bool key_for(const json_t *k, const char *user, const char *device)
{
    const char *u = json_string_value(json_object_get(k, "user_id"));
    const char *d = json_string_value(json_object_get(k, "device_id"));
    return json_is_object(k) && u && strcmp(u, user) == 0 &&
           (!device || (d && strcmp(d, device) == 0));
}

/* Whether the array of strings `list` holds s. */
static bool in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (json_is_string(x) && strcmp(json_string_value(x), s) == 0)
            return true;
    }
    return false;
}

/* The cached row of user (db_remote_devices_get's array), or NULL. */
static json_t *row_of(const json_t *rows, const char *user)
{
    size_t i;
    json_t *x;
    json_array_foreach(rows, i, x)
    {
        const char *u = json_string_value(json_object_get(x, "user_id"));
        if (u && strcmp(u, user) == 0)
            return x;
    }
    return NULL;
}

/* Whether the client asked for device d of a user: `asked` is its list ([] = all). */
static bool asked_for(const json_t *asked, const char *d)
{
    return !json_array_size(asked) || in_list(asked, d);
}

/* Put a user's devices ({device_id: keys}) and cross-signing keys into the answer, the devices
 * filtered to those asked for. */
static void answer_user(struct e2e_answer *a, const char *user, const json_t *asked,
                        const json_t *devices, const json_t *master, const json_t *self)
{
    json_t *mine = json_object();
    const char *d;
    json_t *k;
    json_object_foreach((json_t *)devices, d, k)
    {
        if (asked_for(asked, d) && key_for(k, user, d))
            json_object_set(mine, d, k);
    }
    json_object_set_new(a->device_keys, user, mine);
    if (key_for(master, user, NULL))
        json_object_set(a->master, user, (json_t *)master);
    if (key_for(self, user, NULL))
        json_object_set(a->self, user, (json_t *)self);
}

/* A /user/devices answer as {device_id: keys} (display names as the client API's unsigned),
 * or NULL when it is not for `user`. */
static json_t *devices_of(const json_t *ans, const char *user)
{
    json_t *list = json_object_get(ans, "devices");
    const char *u = json_string_value(json_object_get(ans, "user_id"));
    if (!u || strcmp(u, user) != 0 || !json_is_array(list) ||
        !json_is_integer(json_object_get(ans, "stream_id")))
        return NULL;
    json_t *out = json_object();
    size_t i;
    json_t *dev;
    json_array_foreach(list, i, dev)
    {
        const char *d = json_string_value(json_object_get(dev, "device_id"));
        json_t *keys = json_object_get(dev, "keys");
        if (!d || !key_for(keys, user, d))
            continue;
        json_t *k = json_deep_copy(keys);
        json_t *name = json_object_get(dev, "device_display_name");
        if (k && json_is_string(name))
            json_object_set_new(k, "unsigned", json_pack("{s:O}", "device_display_name", name));
        json_object_set_new(out, d, k);
    }
    return out;
}

/* Cache a fetched list. */
static void remember(const char *user, const json_t *ans, const json_t *devices)
{
    char *dv = json_dumps(devices, JSON_COMPACT);
    json_t *m = json_object_get(ans, "master_key"), *s = json_object_get(ans, "self_signing_key");
    char *mt = key_for(m, user, NULL) ? json_dumps(m, JSON_COMPACT) : NULL;
    char *st = key_for(s, user, NULL) ? json_dumps(s, JSON_COMPACT) : NULL;
    struct dbc *c = dv ? db_get() : NULL;
    if (c && db_remote_devices_put(c, user, json_integer_value(json_object_get(ans, "stream_id")),
                                   dv, mt, st, clock_now_ms()) < 0)
        log_warn("keys: cannot cache the device list of %s", user);
    db_put(c);
    free(dv);
    free(mt);
    free(st);
}

/* What one server is asked in a /keys/query. */
struct server_plan {
    const char *server;
    json_t *asked;          /* {user: [devices]} as the client asked (borrowed) */
    json_t *query;          /* {user: [devices]} for POST /user/keys/query (owned) */
    size_t first, n_resync; /* calls[first..+n_resync) are /user/devices of users in resync */
    json_t *resync;         /* array of user IDs (owned) */
    int query_call;         /* index of the keys/query call, or -1 */
};

void e2e_remote_query(const json_t *remote, long timeout_ms, struct e2e_answer *a, json_t *failures)
{
    size_t n_servers = json_object_size(remote), ns = 0, nc = 0;
    struct server_plan *plans = calloc(n_servers ? n_servers : 1, sizeof *plans);
    struct remote_call *calls = calloc(REMOTE_BATCH_MAX, sizeof *calls);
    char(*paths)[PATH_MAX_LEN] = calloc(REMOTE_BATCH_MAX, PATH_MAX_LEN);
    json_t *users = json_array(), *tracked = NULL, *cached = NULL, *bodies = json_array();
    if (!plans || !calls || !paths)
        goto out;
    const char *server, *u;
    json_t *asked, *list;
    json_object_foreach((json_t *)remote, server, asked)
    {
        json_object_foreach(asked, u, list)
        {
            json_array_append_new(users, json_string(u));
        }
    }
    /* invariant 4: which users share a room with us, and what we hold of them */
    struct dbc *c = db_get();
    if (c) {
        tracked = db_users_sharing_with_server(c, users, ids_local_server());
        cached = tracked ? db_remote_devices_get(c, tracked) : NULL;
        json_t *untracked = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(users, i, x)
        {
            if (!in_list(tracked, json_string_value(x)))
                json_array_append(untracked, x);
        }
        if (tracked && json_array_size(untracked))
            db_remote_devices_forget(c, untracked);
        json_decref(untracked);
    }
    db_put(c);
    json_object_foreach((json_t *)remote, server, asked)
    {
        struct server_plan *p = &plans[ns++];
        p->server = server;
        p->asked = asked;
        p->query = json_object();
        p->resync = json_array();
        p->query_call = -1;
        json_object_foreach(asked, u, list)
        {
            bool is_tracked = in_list(tracked, u);
            json_t *row = row_of(cached, u);
            if (is_tracked && row && !json_is_true(json_object_get(row, "stale"))) {
                answer_user(a, u, list, json_object_get(row, "devices"),
                            json_object_get(row, "master_key"),
                            json_object_get(row, "self_signing_key"));
                continue;
            }
            char enc[800];
            if (is_tracked && json_array_size(p->resync) < RESYNCS_PER_SERVER &&
                nc + n_servers < REMOTE_BATCH_MAX && remote_encode(u, enc, sizeof enc) == 0) {
                if (!p->n_resync)
                    p->first = nc;
                snprintf(paths[nc], PATH_MAX_LEN, "/_matrix/federation/v1/user/devices/%s", enc);
                calls[nc] = (struct remote_call){
                    .destination = server, .method = "GET", .path_query = paths[nc]};
                nc++;
                p->n_resync++;
                json_array_append_new(p->resync, json_string(u));
                continue;
            }
            json_object_set(p->query, u, list);
        }
        if (json_object_size(p->query) && nc < REMOTE_BATCH_MAX) {
            json_t *b = json_pack("{s:O}", "device_keys", p->query);
            json_array_append_new(bodies, b);
            p->query_call = (int)nc;
            calls[nc++] =
                (struct remote_call){.destination = server,
                                     .method = "POST",
                                     .path_query = "/_matrix/federation/v1/user/keys/query",
                                     .body = b};
        } else if (json_object_size(p->query)) {
            struct remote_call none = {.status = -1};
            snprintf(none.err, sizeof none.err, "too many servers in one request");
            server_failed(failures, server, &none);
        }
    }
    remote_send_all(calls, nc, timeout_ms);
    for (size_t i = 0; i < ns; i++) {
        struct server_plan *p = &plans[i];
        bool failed = false;
        for (size_t k = 0; k < p->n_resync; k++) {
            struct remote_call *rc = &calls[p->first + k];
            const char *user = json_string_value(json_array_get(p->resync, k));
            json_t *devices = rc->status == 200 ? devices_of(rc->answer, user) : NULL;
            if (!devices) {
                if (!failed)
                    server_failed(failures, p->server, rc);
                failed = true;
                continue;
            }
            remember(user, rc->answer, devices);
            answer_user(a, user, json_object_get(p->asked, user), devices,
                        json_object_get(rc->answer, "master_key"),
                        json_object_get(rc->answer, "self_signing_key"));
            json_decref(devices);
        }
        if (p->query_call < 0)
            continue;
        struct remote_call *rc = &calls[p->query_call];
        json_t *dk = json_object_get(rc->answer, "device_keys");
        if (rc->status != 200 || !json_is_object(dk)) {
            if (!failed)
                server_failed(failures, p->server, rc);
            continue;
        }
        json_object_foreach(p->query, u, list)
        {
            if (!of_server(u, p->server))
                continue;
            answer_user(a, u, list,
                        json_is_object(json_object_get(dk, u)) ? json_object_get(dk, u) : NULL,
                        json_object_get(json_object_get(rc->answer, "master_keys"), u),
                        json_object_get(json_object_get(rc->answer, "self_signing_keys"), u));
        }
    }
out:
    for (size_t i = 0; i < nc; i++)
        json_decref(calls[i].answer);
    for (size_t i = 0; plans && i < ns; i++) {
        json_decref(plans[i].query);
        json_decref(plans[i].resync);
    }
    free(plans);
    free(calls);
    free(paths);
    json_decref(users);
    json_decref(tracked);
    json_decref(cached);
    json_decref(bodies);
}

void e2e_remote_claim(const json_t *remote, long timeout_ms, json_t *keys, json_t *failures)
{
    size_t n = json_object_size(remote), i = 0;
    struct remote_call *calls = calloc(n ? n : 1, sizeof *calls);
    json_t *bodies = json_array();
    if (!calls)
        goto out;
    const char *server;
    json_t *asked;
    json_object_foreach((json_t *)remote, server, asked)
    {
        json_t *b = json_pack("{s:O}", "one_time_keys", asked);
        json_array_append_new(bodies, b);
        calls[i++] = (struct remote_call){.destination = server,
                                          .method = "POST",
                                          .path_query = "/_matrix/federation/v1/user/keys/claim",
                                          .body = b};
    }
    remote_send_all(calls, n, timeout_ms);
    i = 0;
    json_object_foreach((json_t *)remote, server, asked)
    {
        struct remote_call *rc = &calls[i++];
        json_t *otk = json_object_get(rc->answer, "one_time_keys");
        if (rc->status != 200 || !json_is_object(otk)) {
            server_failed(failures, server, rc);
            continue;
        }
        const char *u;
        json_t *devs;
        json_object_foreach(asked, u, devs)
        {
            json_t *got = json_object_get(otk, u), *mine = json_object();
            const char *d;
            json_t *alg;
            json_object_foreach(devs, d, alg)
            {
                json_t *k = json_object_get(got, d);
                if (json_is_object(k) && json_object_size(k) == 1 && of_server(u, server))
                    json_object_set(mine, d, k);
            }
            if (json_object_size(mine))
                json_object_set(keys, u, mine);
            json_decref(mine);
        }
    }
out:
    for (size_t k = 0; calls && k < n; k++)
        json_decref(calls[k].answer);
    free(calls);
    json_decref(bodies);
}
