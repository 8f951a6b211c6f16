/* room_remote.c - local users' membership in rooms of other servers (Server-Server API
 * "Joining Rooms", "Knocking upon a room", "Leaving Rooms (Rejecting Invites)", "Inviting to a
 * room", "Querying for information"), over the request function federation registered
 * (server/remote.h: server/ makes no network requests itself).
 *
 * Each handshake asks a resident server for a template (make_*), checks it is the event asked
 * for (the spec's MUST: room_id, sender, state_key, type, membership), fills in what the
 * joining server owns (origin, timestamp, profile, reason), hashes and signs it, and sends it
 * back (send_*). Invariants:
 *   1. Nothing a remote server answers is stored without the receive path's checks: a join's
 *      state and auth chain go through room_receive_state, a signed invite through
 *      room_receive_pdu.
 *   2. Every network wait happens outside any room lock and is bounded (REMOTE_*_MS), and at
 *      most MAX_TRIES servers are tried per request.
 *   3. Errors the other server answers reach the client unchanged (status and errcode). */
#include "server/room.h"
#include "server/room_internal.h"
#include "server/adminrooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/clock.h"
#include "server/event.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/pdu.h"
#include "server/remote.h"
#include "server/roomver.h"
#include "storage/fedmember.h"

#define REMOTE_MAKE_MS 15000
#define REMOTE_SEND_JOIN_MS 120000 /* a large room's state takes a while to assemble */
#define REMOTE_SEND_MS 30000
#define MAX_TRIES 5

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Append `s` to the array of candidate servers unless it is empty, ours, or there already. */
static void add_server(json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    if (!s || !*s || ids_is_local_server(s) || !ids_server_name_valid(s, strlen(s)))
        return;
    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return;
    }
    json_array_append_new(list, json_string(s));
}

/* The servers to try for room_id: `servers` first, then the room ID's own server (v1-11),
 * then the senders of a remembered invite or knock. New array. */
static json_t *candidates(const char *room_id, const char *user_id, const json_t *servers)
{
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)servers, i, v) add_server(list, json_string_value(v));
    const char *colon = strchr(room_id, ':');
    if (colon)
        add_server(list, colon + 1);
    struct dbc *c = db_get();
    struct db_remote_membership m;
    if (c && db_remote_membership_get(c, user_id, room_id, &m) == 1) {
        json_array_foreach(m.servers, i, v) add_server(list, json_string_value(v));
        add_server(list, ids_server_of(m.sender));
        db_remote_membership_clear(&m);
    }
    if (c)
        db_put(c);
    return list;
}

/* Keep the other server's error for the client (invariant 3). */
static void keep_error(struct room_remote_err *err, int status, const json_t *body, char *why,
                       size_t n, const char *server)
{
    const char *code = str(body, "errcode"), *msg = str(body, "error");
    if (status >= 400 && status < 600 && code) {
        err->status = status;
        snprintf(err->errcode, sizeof err->errcode, "%s", code);
        snprintf(why, n, "%s", msg ? msg : code);
    } else if (!err->status) {
        snprintf(why, n, "%s did not answer usefully (%d)", server, status);
    }
}

/* One request to `server`: 0 with *ans (new) on 200; else -1 with the other server's error
 * kept (err may be NULL) or the transport's reason in why, *ans NULL. */
static int call(const char *server, const char *method, const char *path, json_t *body,
                long timeout_ms, json_t **ans, struct room_remote_err *err, char *why, size_t n)
{
    char e[256];
    int st = remote_send(server, method, path, body, timeout_ms, ans, e, sizeof e);
    if (st == 200)
        return 0;
    if (st < 0)
        snprintf(why, n, "%s: %s", server, e);
    else if (err)
        keep_error(err, st, *ans, why, n, server);
    else
        snprintf(why, n, "%s answered %d", server, st);
    json_decref(*ans);
    *ans = NULL;
    return -1;
}

/* "/_matrix/federation/<ver>/<what>/<room>/<id>" with both parts percent-encoded. 0 or -1. */
static int fed_path(char *out, size_t cap, const char *prefix, const char *a, const char *b)
{
    char ea[800], eb[800];
    if (remote_encode(a, ea, sizeof ea) < 0 || remote_encode(b, eb, sizeof eb) < 0)
        return -1;
    int w = snprintf(out, cap, "%s/%s/%s", prefix, ea, eb);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* Turn a checked template into our signed event: origin, timestamp, the user's profile (joins),
 * the reason, the v1/v2 event ID; hash, sign. *id set (malloc'd). 0 or -1. */
static int sign_template(const struct room_version *rv, json_t *ev, const char *user_id,
                         const char *reason, char **id)
{
    json_t *content = json_object_get(ev, "content");
    const char *ms = str(content, "membership");
    json_object_set_new(ev, "origin", json_string(ids_local_server()));
    json_object_set_new(ev, "origin_server_ts", json_integer(clock_now_ms()));
    json_object_del(ev, "signatures");
    json_object_del(ev, "hashes");
    json_object_del(ev, "unsigned");
    if (ms && strcmp(ms, "join") == 0) {
        json_t *profile = NULL;
        if (account_profile(user_id, &profile) == ACCOUNT_OK) {
            json_t *dn = json_object_get(profile, "displayname");
            json_t *av = json_object_get(profile, "avatar_url");
            if (json_is_string(dn))
                json_object_set(content, "displayname", dn);
            if (json_is_string(av))
                json_object_set(content, "avatar_url", av);
            json_decref(profile);
        }
    }
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    if (rv->event_ids == ROOMVER_EVID_V1) {
        char rnd[19], full[300];
        ids_random_alnum(rnd, 18);
        snprintf(full, sizeof full, "$%s:%s", rnd, ids_local_server());
        json_object_set_new(ev, "event_id", json_string(full));
    }
    if (event_set_content_hash(ev) < 0 || event_sign(ev, rv, ids_local_server(), &eng.key) < 0)
        return -1;
    *id = event_compute_id(ev, rv);
    return *id ? 0 : -1;
}

/* The make_* answer is the event asked for (spec: MUST be checked, else discarded). */
static bool template_ok(const json_t *t, const char *room_id, const char *user_id,
                        const char *membership)
{
    const char *rid = str(t, "room_id"), *s = str(t, "sender"), *sk = str(t, "state_key");
    const char *type = str(t, "type");
    const char *ms = str(json_object_get(t, "content"), "membership");
    return json_is_object(t) && rid && strcmp(rid, room_id) == 0 && s && strcmp(s, user_id) == 0 &&
           sk && strcmp(sk, user_id) == 0 && type && strcmp(type, "m.room.member") == 0 && ms &&
           strcmp(ms, membership) == 0;
}

/* make_<membership> at `server`: the checked template (new) and its room version, or NULL
 * with the error kept. */
static json_t *make(const char *server, const char *room_id, const char *user_id,
                    const char *membership, const struct room_version **rv,
                    struct room_remote_err *err, char *why, size_t n)
{
    char path[2400], prefix[64];
    json_t *body = NULL, *ev = NULL;
    snprintf(prefix, sizeof prefix, "/_matrix/federation/v1/make_%s", membership);
    if (fed_path(path, sizeof path, prefix, room_id, user_id) < 0)
        return NULL;
    if (strcmp(membership, "leave") != 0) { /* the room versions we support */
        size_t nv = 0, used = strlen(path);
        const struct room_version *all = roomver_all(&nv);
        for (size_t i = 0; i < nv && used + 16 < sizeof path; i++) {
            int w = snprintf(path + used, sizeof path - used, "%cver=%s", i ? '&' : '?', all[i].id);
            if (w > 0)
                used += (size_t)w;
        }
    }
    if (call(server, "GET", path, NULL, REMOTE_MAKE_MS, &body, err, why, n) < 0)
        return NULL;
    const char *ver = str(body, "room_version");
    *rv = roomver_get(ver ? ver : "1");
    ev = json_object_get(body, "event");
    if (!*rv || !template_ok(ev, room_id, user_id, membership)) {
        snprintf(why, n, "%s answered a malformed make_%s template", server, membership);
        json_decref(body);
        return NULL;
    }
    ev = json_deep_copy(ev);
    json_decref(body);
    return ev;
}

/* The handshake through `server`: make_<membership>, our signed event (*ev, *id, *rv), and
 * PUT <send_prefix>/<room>/<id>, whose answer goes to *ans. ROOM_OK, or ROOM_FORBIDDEN (an
 * error of theirs, kept in err), ROOM_NOT_FOUND (no usable answer: try another server),
 * ROOM_ERR; on failure nothing is left in the out-parameters. */
static enum room_rc handshake(const char *server, const char *room_id, const char *user_id,
                              const char *membership, const char *reason, const char *send_prefix,
                              long timeout_ms, json_t **ev, char **id,
                              const struct room_version **rv, json_t **ans,
                              struct room_remote_err *err, char *why, size_t n)
{
    char path[2400];
    *id = NULL;
    *ans = NULL;
    *ev = make(server, room_id, user_id, membership, rv, err, why, n);
    if (!*ev)
        return err->status ? ROOM_FORBIDDEN : ROOM_NOT_FOUND;
    enum room_rc rc = ROOM_ERR;
    if (sign_template(*rv, *ev, user_id, reason, id) == 0 &&
        fed_path(path, sizeof path, send_prefix, room_id, *id) == 0)
        rc = call(server, "PUT", path, *ev, timeout_ms, ans, err, why, n) == 0 ? ROOM_OK
             : err->status                                                     ? ROOM_FORBIDDEN
                                                                               : ROOM_NOT_FOUND;
    if (rc != ROOM_OK) {
        json_decref(*ev);
        free(*id);
        *ev = NULL;
        *id = NULL;
    }
    return rc;
}

/* One join through `server`. ROOM_OK, or an error (kept in err/why). */
static enum room_rc join_via(const char *server, const char *room_id, const char *user_id,
                             const char *reason, char **event_id, struct room_remote_err *err,
                             char *why, size_t n)
{
    const struct room_version *rv = NULL;
    json_t *ev = NULL, *ans = NULL;
    char *id = NULL;
    enum room_rc rc =
        handshake(server, room_id, user_id, "join", reason, "/_matrix/federation/v2/send_join",
                  REMOTE_SEND_JOIN_MS, &ev, &id, &rv, &ans, err, why, n);
    if (rc != ROOM_OK)
        return rc;
    json_t *state = json_object_get(ans, "state"), *chain = json_object_get(ans, "auth_chain");
    json_t *signed_ev = json_object_get(ans, "event");
    const json_t *join = json_is_object(signed_ev) ? signed_ev : ev;
    if (!json_is_array(state) || !json_is_array(chain)) {
        snprintf(why, n, "%s answered send_join without state and auth_chain", server);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    char *got = NULL;
    int64_t t0 = clock_mono_ms();
    enum room_recv r = room_receive_state(room_id, rv->id, state, chain, join, &got, why, n);
    log_info("join of %s to %s through %s: %zu state, %zu auth chain events, %lld ms: %s", user_id,
             room_id, server, json_array_size(state), json_array_size(chain),
             (long long)(clock_mono_ms() - t0), why);
    if (r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_DUPLICATE) {
        *event_id = got ? got : strdup(id);
        got = NULL;
    } else {
        rc = r == ROOM_RECV_REJECTED ? ROOM_FORBIDDEN : ROOM_ERR;
    }
    free(got);
out:
    json_decref(ev);
    json_decref(ans);
    free(id);
    return rc;
}

/* One knock through `server`: remembered with the knock_room_state answered. */
static enum room_rc knock_via(const char *server, const char *room_id, const char *user_id,
                              const char *reason, char **event_id, struct room_remote_err *err,
                              char *why, size_t n)
{
    const struct room_version *rv = NULL;
    json_t *ev = NULL, *ans = NULL, *servers = NULL;
    char *id = NULL;
    enum room_rc rc =
        handshake(server, room_id, user_id, "knock", reason, "/_matrix/federation/v1/send_knock",
                  REMOTE_SEND_MS, &ev, &id, &rv, &ans, err, why, n);
    if (rc != ROOM_OK)
        return rc;
    json_t *krs = json_object_get(ans, "knock_room_state");
    servers = json_pack("[s]", server);
    if (room_remember_remote(user_id, room_id, "knock", id, rv->id, ev,
                             json_is_array(krs) ? krs : NULL, servers) == 0) {
        *event_id = id;
        id = NULL;
    } else {
        rc = ROOM_ERR;
    }
    json_decref(ev);
    json_decref(ans);
    json_decref(servers);
    free(id);
    return rc;
}

enum room_rc room_join_remote(const char *room_id, const char *user_id, const char *membership,
                              const char *reason, const json_t *servers, char **event_id,
                              struct room_remote_err *err, char *why, size_t n)
{
    *event_id = NULL;
    memset(err, 0, sizeof *err);
    if (adminrooms_blocked(room_id)) {
        snprintf(why, n, "This room has been blocked on this server");
        return ROOM_FORBIDDEN;
    }
    if (room_is_resident(room_id))
        return room_membership(room_id, user_id, user_id, membership, reason, NULL, event_id, why,
                               n);
    json_t *list = candidates(room_id, user_id, servers);
    if (!json_array_size(list)) { /* nobody else to ask: the local engine answers */
        json_decref(list);
        return room_membership(room_id, user_id, user_id, membership, reason, NULL, event_id, why,
                               n);
    }
    enum room_rc rc = ROOM_NOT_FOUND;
    snprintf(why, n, "No server to join %s through (give server_name or via)", room_id);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (i >= MAX_TRIES)
            break;
        const char *s = json_string_value(v);
        rc = strcmp(membership, "knock") == 0
                 ? knock_via(s, room_id, user_id, reason, event_id, err, why, n)
                 : join_via(s, room_id, user_id, reason, event_id, err, why, n);
        /* another resident may answer differently only when this one could not tell */
        if (rc == ROOM_OK || err->status == 403 || rc == ROOM_ERR)
            break;
    }
    json_decref(list);
    return rc;
}

/* The leave `pdu` handed to `server` with send_leave v2. 0 or -1. */
static int send_leave(const char *server, const char *room_id, const char *id, json_t *pdu,
                      char *why, size_t n)
{
    char path[2400];
    json_t *ans = NULL;
    if (fed_path(path, sizeof path, "/_matrix/federation/v2/send_leave", room_id, id) < 0 ||
        call(server, "PUT", path, pdu, REMOTE_SEND_MS, &ans, NULL, why, n) < 0)
        return -1;
    json_decref(ans);
    return 0;
}

/* This server is in the room: the local leave, then handed to the other servers. */
static enum room_rc leave_resident(const char *room_id, const char *user_id, const char *reason,
                                   char **event_id, char *why, size_t n)
{
    enum room_rc rc =
        room_membership(room_id, user_id, user_id, "leave", reason, NULL, event_id, why, n);
    if (rc != ROOM_OK)
        return rc;
    /* Until the outbound transaction queue carries local events, hand the leave to the
     * room's other servers now (send_leave accepts any valid leave of the sender's user). */
    json_t *servers = room_servers(room_id), *pdu = NULL;
    char *version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    struct dbc *c = db_get();
    if (c && rv) {
        pdu = room_load_pdu(c, *event_id);
        if (pdu && rv->event_ids != ROOMVER_EVID_V1)
            json_object_del(pdu, "event_id");
    }
    if (c)
        db_put(c);
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v)
    {
        char w[256];
        const char *s = json_string_value(v);
        if (!pdu || ids_is_local_server(s) || i >= 64)
            continue;
        if (send_leave(s, room_id, *event_id, pdu, w, sizeof w) < 0)
            log_info("leave of %s in %s not handed to %s: %s", user_id, room_id, s, w);
    }
    json_decref(pdu);
    json_decref(servers);
    free(version);
    return ROOM_OK;
}

enum room_rc room_leave_remote(const char *room_id, const char *user_id, const char *reason,
                               char **event_id, struct room_remote_err *err, char *why, size_t n)
{
    struct db_remote_membership m = {0};
    *event_id = NULL;
    memset(err, 0, sizeof *err);
    if (room_is_resident(room_id))
        return leave_resident(room_id, user_id, reason, event_id, why, n);
    struct dbc *c = db_get();
    int found = c ? db_remote_membership_get(c, user_id, room_id, &m) : -1;
    if (c)
        db_put(c);
    if (found < 0)
        return ROOM_ERR;
    if (found == 0 || strcmp(m.membership, "leave") == 0) {
        db_remote_membership_clear(&m);
        /* not resident, nothing remote: the local engine explains (or it is a local room) */
        return room_membership(room_id, user_id, user_id, "leave", reason, NULL, event_id, why, n);
    }
    json_t *list = candidates(room_id, user_id, NULL), *done = NULL;
    enum room_rc rc = ROOM_ERR;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const struct room_version *rv = NULL;
        json_t *ev = NULL, *ans = NULL;
        char *id = NULL;
        if (i >= MAX_TRIES)
            break;
        if (handshake(json_string_value(v), room_id, user_id, "leave", reason,
                      "/_matrix/federation/v2/send_leave", REMOTE_SEND_MS, &ev, &id, &rv, &ans, err,
                      why, n) == ROOM_OK) {
            json_decref(ans);
            done = ev;
            *event_id = id;
            break;
        }
    }
    if (!done) {
        /* nobody could take the rejection: forget the invite here all the same (the other
         * servers keep it pending), as the spec allows a server that cannot reach the room */
        log_info("rejection of %s in %s: %s; rejected locally", user_id, room_id, why);
        done = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "type", "m.room.member", "room_id", room_id,
                         "sender", user_id, "state_key", user_id, "content", "membership", "leave");
        char rnd[19], full[64];
        ids_random_alnum(rnd, 18);
        snprintf(full, sizeof full, "$%s", rnd);
        *event_id = strdup(full);
    }
    json_t *none = json_array();
    if (done && *event_id &&
        room_remember_remote(user_id, room_id, "leave", *event_id, m.room_version, done, none,
                             m.servers) == 0) {
        rc = ROOM_OK;
        memset(err, 0, sizeof *err);
    }
    json_decref(none);
    json_decref(done);
    json_decref(list);
    db_remote_membership_clear(&m);
    return rc;
}

enum room_rc room_invite_remote(const char *room_id, const char *sender, const char *target,
                                const char *reason, const json_t *extra, char **event_id,
                                struct room_remote_err *err, char *why, size_t n)
{
    char *version = room_version_of(room_id), *id = NULL, *got = NULL, path[2400];
    const struct room_version *rv = roomver_get(version);
    const char *server = ids_server_of(target);
    json_t *proto = NULL, *state = NULL, *body = NULL, *ans = NULL, *missing = NULL;
    struct dbc *c = NULL;
    enum room_rc rc = ROOM_ERR;
    *event_id = NULL;
    memset(err, 0, sizeof *err);
    if (!rv || !room_is_resident(room_id)) {
        snprintf(why, n, "Unknown room %s", room_id);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    proto = json_pack("{s:s,s:s,s:s,s:s,s:I,s:{s:s}}", "type", "m.room.member", "sender", sender,
                      "state_key", target, "origin", ids_local_server(), "origin_server_ts",
                      (json_int_t)clock_now_ms(), "content", "membership", "invite");
    if (!proto || !server || !(c = db_get()))
        goto out;
    json_t *content = json_object_get(proto, "content");
    if (extra) { /* is_direct and the like; the membership stays an invite */
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)extra, k, x)
        {
            if (strcmp(k, "membership") != 0)
                json_object_set(content, k, x);
        }
    }
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    rc = room_template(c, room_id, rv, proto, why, n);
    db_put(c);
    c = NULL;
    if (rc != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    if (rv->event_ids == ROOMVER_EVID_V1) {
        char rnd[19], full[300];
        ids_random_alnum(rnd, 18);
        snprintf(full, sizeof full, "$%s:%s", rnd, ids_local_server());
        json_object_set_new(proto, "event_id", json_string(full));
    }
    if (event_set_content_hash(proto) < 0 ||
        event_sign(proto, rv, ids_local_server(), &eng.key) < 0 ||
        !(id = event_compute_id(proto, rv)) || !(state = room_stripped_pdus(room_id)) ||
        fed_path(path, sizeof path, "/_matrix/federation/v2/invite", room_id, id) < 0)
        goto out;
    body = json_pack("{s:s,s:O,s:O}", "room_version", rv->id, "event", proto, "invite_room_state",
                     state);
    if (!body)
        goto out;
    if (call(server, "PUT", path, body, REMOTE_SEND_MS, &ans, err, why, n) < 0) {
        rc = err->status ? ROOM_FORBIDDEN : ROOM_NOT_FOUND;
        goto out;
    }
    /* invariant 1: the answer must be our event, now signed by the invitee's server */
    json_t *signed_ev = json_object_get(ans, "event");
    char *sid =
        json_is_object(signed_ev)
            ? (rv->event_ids == ROOMVER_EVID_V1
                   ? (str(signed_ev, "event_id") ? strdup(str(signed_ev, "event_id")) : NULL)
                   : event_compute_id(signed_ev, rv))
            : NULL;
    bool same = sid && strcmp(sid, id) == 0;
    free(sid);
    if (!same || !pdu_signed_by(rv, signed_ev, server)) {
        snprintf(why, n, "%s did not sign the invite", server);
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    enum room_recv r = room_receive_pdu(ids_local_server(), signed_ev, &got, &missing, why, n);
    if (r == ROOM_RECV_ACCEPTED || r == ROOM_RECV_DUPLICATE) {
        *event_id = id;
        id = NULL;
        rc = ROOM_OK;
    } else {
        rc = r == ROOM_RECV_REJECTED || r == ROOM_RECV_SOFT_FAILED ? ROOM_FORBIDDEN : ROOM_ERR;
    }
out:
    if (c)
        db_put(c);
    json_decref(proto);
    json_decref(state);
    json_decref(body);
    json_decref(ans);
    json_decref(missing);
    free(version);
    free(id);
    free(got);
    return rc;
}

enum room_rc room_alias_remote(const char *alias, char **room_id, json_t **servers, char *why,
                               size_t n)
{
    char enc[800], path[900], e[256];
    json_t *ans = NULL;
    const char *server = ids_server_of(alias);
    *room_id = NULL;
    *servers = NULL;
    if (!server || remote_encode(alias, enc, sizeof enc) < 0) {
        snprintf(why, n, "Invalid room alias");
        return ROOM_BAD_PARAM;
    }
    snprintf(path, sizeof path, "/_matrix/federation/v1/query/directory?room_alias=%s", enc);
    int st = remote_send(server, "GET", path, NULL, REMOTE_MAKE_MS, &ans, e, sizeof e);
    const char *rid = str(ans, "room_id");
    if (st == 404 || (st == 200 && !rid)) {
        snprintf(why, n, "Room alias %s not found", alias);
        json_decref(ans);
        return ROOM_NOT_FOUND;
    }
    if (st != 200) {
        snprintf(why, n, "%s: %s", server, st < 0 ? e : "could not resolve the alias");
        json_decref(ans);
        return st == -2 ? ROOM_FORBIDDEN : ROOM_NOT_FOUND;
    }
    *room_id = strdup(rid);
    *servers = json_array();
    json_t *list = json_object_get(ans, "servers");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (i < 20)
            add_server(*servers, json_string_value(v));
    }
    add_server(*servers, server);
    json_decref(ans);
    return ROOM_OK;
}
