/* room_fed.c - the membership handshakes as the resident server (Server-Server API "Joining
 * Rooms", "Leaving Rooms (Rejecting Invites)", "Knocking upon a room", "Inviting to a room").
 *
 * make_*: a template built as this server would append the event now (server/room.c's
 * room_template), checked against the authorization rules first, so a refused join, knock or
 * leave is answered before the other server signs anything. send_*: the other server's signed
 * event goes through the same receive path as any PDU (server/room_receive.c): nothing here
 * writes events itself. Invariants:
 *   1. Only an event of the asking server's own user, of the announced type and membership,
 *      whose ID is the one in the path, is countersigned or received.
 *   2. This server signs a join only when one of its users is the join's
 *      join_authorised_via_users_server (restricted rooms), and an invite only for its own
 *      users; never anything else another server sends. */
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
#include "server/notify.h"
#include "server/pdu.h"
#include "server/roomver.h"
#include "storage/fedmember.h"
#include "storage/rooms.h"
#include "storage/state.h"

#define MAX_AUTH_CHAIN 50000    /* events of one send_join answer's auth chain */
#define MAX_INVITE_STATE 50     /* invite_room_state entries kept */
#define MAX_INVITE_STATE_IN 100 /* invite_room_state entries accepted (v12 checks them all) */

static room_relay_fn relay;

void room_set_relay(room_relay_fn fn)
{
    relay = fn;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

json_t *room_servers(const char *room_id)
{
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    json_t *out = db_fed_servers_in_room(c, room_id);
    db_put(c);
    return out;
}

json_t *room_server_acl(const char *room_id)
{
    struct dbc *c = db_get();
    char *id = NULL;
    json_t *out = NULL;
    if (c && db_current_state_get(c, room_id, "m.room.server_acl", "", &id) == 0 && id) {
        json_t *pdu = room_load_pdu(c, id);
        out = json_incref(json_object_get(pdu, "content"));
        json_decref(pdu);
    }
    free(id);
    if (c)
        db_put(c);
    return out;
}

bool room_is_resident(const char *room_id)
{
    json_t *s = room_servers(room_id);
    bool in = false;
    size_t i;
    json_t *v;
    json_array_foreach(s, i, v)
    {
        if (ids_is_local_server(json_string_value(v)))
            in = true;
    }
    json_decref(s);
    return in;
}

json_t *room_stripped_pdus(const char *room_id)
{
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    json_t *out = db_fed_stripped_pdus(c, room_id);
    db_put(c);
    return out;
}

/* Does the array `versions` hold `v`? An empty or missing list means ["1"] (spec: ver
 * defaults to [1]). */
static bool supports(const json_t *versions, const char *v)
{
    if (!json_array_size(versions))
        return strcmp(v, "1") == 0;
    size_t i;
    json_t *x;
    json_array_foreach((json_t *)versions, i, x)
    {
        if (json_is_string(x) && strcmp(json_string_value(x), v) == 0)
            return true;
    }
    return false;
}

/* Is the room's join rule restricted (v8+) or knock_restricted (v10+)? */
static bool is_restricted(struct dbc *c, const char *room_id, const struct room_version *rv)
{
    json_t *jc = db_join_rules_content(c, room_id);
    const char *rule = str(jc, "join_rule");
    bool r = rv->restricted && rule &&
             (strcmp(rule, "restricted") == 0 ||
              (rv->knock_restricted && strcmp(rule, "knock_restricted") == 0));
    json_decref(jc);
    return r;
}

/* Why a restricted join cannot be vouched for here (Server-Server API make_join, 400): the
 * user is in an allowed room but no local member may invite (M_UNABLE_TO_GRANT_JOIN: another
 * server may), this server is in none of the allowed rooms (M_UNABLE_TO_AUTHORISE_JOIN), or
 * the user is in none of those this server knows (403). */
static enum room_rc restricted_refusal(struct dbc *c, const char *room_id, const char *user_id,
                                       char *why, size_t n)
{
    json_t *jc = db_join_rules_content(c, room_id);
    bool satisfied = false, known = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(jc, "allow"), i, v)
    {
        const char *t = str(v, "type"), *other = str(v, "room_id");
        char *m = NULL;
        if (!t || !other || strcmp(t, "m.room_membership") != 0 || !room_is_resident(other))
            continue;
        known = true;
        if (db_current_membership(c, other, user_id, &m, NULL) == 0 && m && strcmp(m, "join") == 0)
            satisfied = true;
        free(m);
    }
    json_decref(jc);
    if (satisfied) {
        snprintf(why, n, "No member of this server may invite %s: try another server", user_id);
        return ROOM_CANNOT_GRANT;
    }
    if (!known) {
        snprintf(why, n, "This server is in none of the rooms the join rules allow");
        return ROOM_UNAUTHORISABLE;
    }
    snprintf(why, n, "%s is in none of the rooms the join rules allow", user_id);
    return ROOM_FORBIDDEN;
}

enum room_rc room_make_membership(const char *origin, const char *room_id, const char *user_id,
                                  const char *membership, const json_t *versions, json_t **event,
                                  char **room_version, char *why, size_t n)
{
    struct dbc *c = NULL;
    json_t *proto = NULL;
    char *version = NULL, *mine = NULL, *via = NULL;
    enum room_rc rc = ROOM_ERR;
    *event = NULL;
    *room_version = NULL;
    if (!ids_server_of(user_id) || strcmp(ids_server_of(user_id), origin) != 0) {
        snprintf(why, n, "%s is not a user of %s", user_id, origin);
        return ROOM_FORBIDDEN;
    }
    if (strcmp(membership, "leave") != 0 && adminrooms_blocked(room_id)) {
        snprintf(why, n, "This room has been blocked on this server");
        return ROOM_FORBIDDEN;
    }
    if (!room_is_resident(room_id)) {
        snprintf(why, n, "Unknown room %s", room_id);
        return ROOM_NOT_FOUND;
    }
    version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    if (!rv)
        goto out;
    if (strcmp(membership, "leave") != 0 && !supports(versions, rv->id)) {
        snprintf(why, n, "Your homeserver does not support room version %s", rv->id);
        *room_version = version;
        version = NULL;
        rc = ROOM_INCOMPATIBLE;
        goto out;
    }
    proto = json_pack("{s:s,s:s,s:s,s:s,s:I,s:{s:s}}", "type", "m.room.member", "sender", user_id,
                      "state_key", user_id, "origin", ids_local_server(), "origin_server_ts",
                      (json_int_t)clock_now_ms(), "content", "membership", membership);
    if (!proto || !(c = db_get()))
        goto out;
    /* a restricted join of a user neither invited nor joined needs a local member to vouch */
    if (strcmp(membership, "join") == 0 && is_restricted(c, room_id, rv)) {
        if (db_current_membership(c, room_id, user_id, &mine, NULL) < 0)
            goto out;
        if (!mine || (strcmp(mine, "invite") != 0 && strcmp(mine, "join") != 0)) {
            via = room_restricted_authoriser(room_id, user_id);
            if (!via) {
                rc = restricted_refusal(c, room_id, user_id, why, n);
                goto out;
            }
            json_object_set_new(json_object_get(proto, "content"),
                                "join_authorised_via_users_server", json_string(via));
        }
    }
    rc = room_template(c, room_id, rv, proto, why, n);
    if (rc != ROOM_OK)
        goto out;
    *event = proto;
    proto = NULL;
    *room_version = version;
    version = NULL;
out:
    if (c)
        db_put(c);
    json_decref(proto);
    free(version);
    free(mine);
    free(via);
    return rc;
}

/* Invariant 1: the asking server's own user's member event with the path's ID. The event ID
 * computed (v3+) or carried (v1, v2) into *id. */
static enum room_rc check_member_event(const struct room_version *rv, const char *origin,
                                       const char *room_id, const char *event_id,
                                       const char *membership, const json_t *pdu, char **id,
                                       char *why, size_t n)
{
    const char *type = str(pdu, "type"), *sender = str(pdu, "sender");
    const char *sk = str(pdu, "state_key"), *rid = str(pdu, "room_id");
    const char *ms = str(json_object_get(pdu, "content"), "membership");
    *id = NULL;
    if (!json_is_object(pdu) || !type || strcmp(type, "m.room.member") != 0 || !sender || !sk ||
        !ms || strcmp(ms, membership) != 0 || !rid || strcmp(rid, room_id) != 0) {
        snprintf(why, n, "Not an m.room.member event with membership %s in %s", membership,
                 room_id);
        return ROOM_BAD_PARAM;
    }
    if (strcmp(membership, "invite") != 0 && strcmp(sender, sk) != 0) {
        snprintf(why, n, "The sender and state_key differ");
        return ROOM_BAD_PARAM;
    }
    if (!ids_server_of(sender) || strcmp(ids_server_of(sender), origin) != 0) {
        snprintf(why, n, "The sender is not a user of %s", origin);
        return ROOM_BAD_PARAM;
    }
    *id = rv->event_ids == ROOMVER_EVID_V1
              ? (str(pdu, "event_id") ? strdup(str(pdu, "event_id")) : NULL)
              : event_compute_id(pdu, rv);
    if (!*id || strcmp(*id, event_id) != 0) {
        snprintf(why, n, "The event ID is not %s", event_id);
        free(*id);
        *id = NULL;
        return ROOM_BAD_PARAM;
    }
    return ROOM_OK;
}

/* The IDs of the state events and of the join's auth events, for the auth chain query. */
static json_t *chain_seeds(const struct room_version *rv, const json_t *state, const json_t *join)
{
    json_t *ids = room_pdu_ids(rv, state);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(join, "auth_events"), i, v)
    {
        const char *id = room_recv_ref_id(v);
        if (id)
            json_array_append_new(ids, json_string(id));
    }
    return ids;
}

enum room_rc room_send_membership(const char *origin, const char *room_id, const char *event_id,
                                  const char *membership, const json_t *pdu, json_t **signed_ev,
                                  json_t **state, json_t **auth_chain, char *why, size_t n)
{
    char *version = room_version_of(room_id), *id = NULL, *got = NULL;
    const struct room_version *rv = roomver_get(version);
    json_t *ev = NULL, *before = NULL, *missing = NULL;
    struct dbc *c = NULL;
    enum room_rc rc = ROOM_ERR;
    *signed_ev = *state = *auth_chain = NULL;
    if (!rv || !room_is_resident(room_id)) {
        snprintf(why, n, "Unknown room %s", room_id);
        rc = ROOM_NOT_FOUND;
        goto out;
    }
    if (strcmp(membership, "leave") != 0 && adminrooms_blocked(room_id)) {
        snprintf(why, n, "This room has been blocked on this server");
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    rc = check_member_event(rv, origin, room_id, event_id, membership, pdu, &id, why, n);
    if (rc != ROOM_OK)
        goto out;
    rc = ROOM_ERR;
    ev = json_deep_copy(pdu);
    json_object_del(ev, "unsigned");
    /* invariant 2: countersign a restricted join one of our users vouches for */
    const char *via = str(json_object_get(ev, "content"), "join_authorised_via_users_server");
    if (strcmp(membership, "join") == 0 && via && ids_is_local(via) && rv->restricted &&
        event_sign(ev, rv, ids_local_server(), &eng.key) < 0)
        goto out;
    if (strcmp(membership, "join") == 0) { /* the state the join comes into */
        if (!(c = db_get()) || !(before = db_fed_current_state_pdus(c, room_id)))
            goto out;
        db_put(c);
        c = NULL;
    }
    enum room_recv r = room_receive_pdu(origin, ev, &got, &missing, why, n);
    switch (r) {
    case ROOM_RECV_ACCEPTED:
    case ROOM_RECV_DUPLICATE:
        break;
    case ROOM_RECV_REJECTED:
    case ROOM_RECV_SOFT_FAILED:
        rc = ROOM_FORBIDDEN;
        goto out;
    case ROOM_RECV_DROPPED:
    case ROOM_RECV_MISSING_AUTH:
    case ROOM_RECV_MISSING_PREV:
        rc = ROOM_BAD_PARAM;
        goto out;
    case ROOM_RECV_UNKNOWN_ROOM:
        rc = ROOM_NOT_FOUND;
        goto out;
    default:
        goto out;
    }
    if (strcmp(membership, "join") == 0) {
        json_t *seeds = chain_seeds(rv, before, ev);
        if (!(c = db_get()) || !seeds ||
            !(*auth_chain = db_fed_auth_chain(c, seeds, MAX_AUTH_CHAIN))) {
            json_decref(seeds);
            goto out;
        }
        json_decref(seeds);
        *state = before;
        before = NULL;
    } else if (strcmp(membership, "knock") == 0) {
        if (!(*state = room_stripped_pdus(room_id)))
            goto out;
    }
    if (relay && r == ROOM_RECV_ACCEPTED)
        relay(room_id, ev, origin);
    *signed_ev = ev;
    ev = NULL;
    rc = ROOM_OK;
out:
    if (c)
        db_put(c);
    if (rc != ROOM_OK) {
        json_decref(*auth_chain);
        *auth_chain = NULL;
    }
    json_decref(ev);
    json_decref(before);
    json_decref(missing);
    free(version);
    free(id);
    free(got);
    return rc;
}

/* Stripped state (Client-Server API "Stripped state") of PDUs: type, state_key, content,
 * sender of each well-formed state event of room_id (others are left out, as the spec allows
 * for improperly formatted entries). New array. */
static json_t *strip(const json_t *pdus, const json_t *own)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)pdus, i, v)
    {
        if (i >= MAX_INVITE_STATE)
            break;
        const char *type = str(v, "type"), *sk = str(v, "state_key"), *sender = str(v, "sender");
        json_t *content = json_object_get(v, "content");
        if (!type || !sk || !sender || !json_is_object(content))
            continue;
        if (own && strcmp(type, "m.room.member") == 0 && strcmp(sk, str(own, "state_key")) == 0)
            continue; /* the membership event itself goes last */
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:O}", "type", type, "state_key", sk,
                                             "sender", sender, "content", content));
    }
    if (own)
        json_array_append_new(out,
                              json_pack("{s:s,s:s,s:s,s:O}", "type", "m.room.member", "state_key",
                                        str(own, "state_key"), "sender", str(own, "sender"),
                                        "content", json_object_get(own, "content")));
    return out;
}

int room_remember_remote(const char *user_id, const char *room_id, const char *membership,
                         const char *event_id, const char *room_version, const json_t *pdu,
                         const json_t *state_pdus, const json_t *servers)
{
    json_t *stripped = strip(state_pdus, pdu);
    char *text = json_dumps(pdu, JSON_COMPACT | JSON_SORT_KEYS);
    struct dbc *c = db_get();
    int64_t stream = 0;
    int rc = -1;
    struct notify_ticket *t = notify_begin();
    if (c && stripped && text &&
        db_remote_membership_put(c, user_id, room_id, membership, event_id, room_version,
                                 str(pdu, "sender"), servers, stripped, text, &stream) == 0) {
        notify_touch(t, stream, room_id, user_id, NOTIFY_EVENT | NOTIFY_MEMBER);
        rc = 0;
    }
    notify_end(t, rc == 0);
    if (c)
        db_put(c);
    json_decref(stripped);
    free(text);
    return rc;
}

/* invite_room_state's checks (Server-Server API invite v2: SHOULD from room version 12 on,
 * MAY before; done for v12+ here): an m.room.create event is there, and every entry is a
 * well-formed, correctly signed event of room_id. 0, or -1 with why. */
static int check_invite_state(const struct room_version *rv, const char *room_id, const json_t *irs,
                              char *why, size_t n)
{
    bool create = false;
    size_t i;
    json_t *v;
    if (json_array_size(irs) > MAX_INVITE_STATE_IN) {
        snprintf(why, n, "invite_room_state has more than %d events", MAX_INVITE_STATE_IN);
        return -1;
    }
    json_array_foreach((json_t *)irs, i, v)
    {
        json_t *checked = NULL;
        char *id = NULL, reason[200] = "";
        enum pdu_verdict pv = pdu_check(rv, v, &checked, &id, reason, sizeof reason);
        bool ok = pv == PDU_VALID || pv == PDU_REDACTED;
        const char *type = str(checked, "type"), *sk = str(checked, "state_key");
        bool is_create = ok && type && sk && !*sk && strcmp(type, "m.room.create") == 0;
        if (ok && is_create && rv->room_id_from_create)
            ok = id && strcmp(id + 1, room_id + 1) == 0; /* the create event names the room */
        else if (ok)
            ok = str(checked, "room_id") && strcmp(str(checked, "room_id"), room_id) == 0;
        create = create || (ok && is_create);
        json_decref(checked);
        free(id);
        if (!ok) {
            snprintf(why, n, "invite_room_state[%zu] is not a valid event of the room%s%s", i,
                     *reason ? ": " : "", reason);
            return -1;
        }
    }
    if (!create) {
        snprintf(why, n, "invite_room_state lacks the m.room.create event");
        return -1;
    }
    return 0;
}

enum room_rc room_receive_invite(const char *origin, const char *room_id, const char *event_id,
                                 const char *room_version, const json_t *pdu,
                                 const json_t *invite_room_state, json_t **signed_ev, char *why,
                                 size_t n)
{
    const struct room_version *rv = roomver_get(room_version);
    json_t *checked = NULL, *ev = NULL, *servers = NULL;
    char *id = NULL, *cid = NULL;
    enum room_rc rc = ROOM_ERR;
    *signed_ev = NULL;
    if (!rv) {
        snprintf(why, n, "Room version %s is not supported", room_version ? room_version : "?");
        return ROOM_INCOMPATIBLE;
    }
    rc = check_member_event(rv, origin, room_id, event_id, "invite", pdu, &id, why, n);
    if (rc != ROOM_OK)
        goto out;
    if (adminrooms_blocked(room_id)) {
        snprintf(why, n, "This room has been blocked on this server");
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    rc = ROOM_BAD_PARAM;
    const char *target = str(pdu, "state_key");
    if (!ids_is_local(target)) {
        snprintf(why, n, "%s is not a user of this server", target);
        goto out;
    }
    ev = json_deep_copy(pdu);
    json_object_del(ev, "unsigned");
    if (pdu_check(rv, ev, &checked, &cid, why, n) != PDU_VALID) {
        if (!*why)
            snprintf(why, n, "The invite's signatures do not verify");
        goto out;
    }
    if (!json_is_array(invite_room_state) && invite_room_state) {
        snprintf(why, n, "invite_room_state must be an array");
        goto out;
    }
    if (rv->room_id_from_create && check_invite_state(rv, room_id, invite_room_state, why, n) < 0)
        goto out;
    json_t *profile = NULL;
    if (account_profile(target, &profile) != ACCOUNT_OK) {
        snprintf(why, n, "Unknown user %s", target);
        rc = ROOM_FORBIDDEN;
        goto out;
    }
    json_decref(profile);
    rc = ROOM_ERR;
    if (event_sign(ev, rv, ids_local_server(), &eng.key) < 0)
        goto out;
    servers = json_pack("[s]", origin);
    if (!servers || room_remember_remote(target, room_id, "invite", id, rv->id, ev,
                                         invite_room_state, servers) < 0)
        goto out;
    if (room_is_resident(room_id)) { /* it will come by /send too; this is earlier */
        char *got = NULL, w[200];
        json_t *missing = NULL;
        room_receive_pdu(origin, ev, &got, &missing, w, sizeof w);
        free(got);
        json_decref(missing);
    }
    /* the answer is their event untouched but for our signature (unsigned included) */
    *signed_ev = json_deep_copy(pdu);
    if (!*signed_ev ||
        json_object_set(*signed_ev, "signatures", json_object_get(ev, "signatures")) < 0) {
        json_decref(*signed_ev);
        *signed_ev = NULL;
        goto out;
    }
    rc = ROOM_OK;
out:
    json_decref(checked);
    json_decref(ev);
    json_decref(servers);
    free(id);
    free(cid);
    return rc;
}
