/* auth.c - the authorization rules (room version pages, "Authorisation rules"; fragments
 * v1-auth-rules, v3-auth-rules, v8-auth-rules; v6, v7, v10, v11 and v12 pages) and the
 * auth events selection (Server-Server API "Auth events selection").
 *
 * One function serves every version: the differences are columns of the room version table
 * (server/roomver.c), consulted where the spec's step differs. The step numbers in comments
 * follow room version 12's numbering ("v12 n.m"), with the older number where it differs.
 * Power levels before v10 may be strings that hold integers ("stringy" power levels); from
 * v10 they must be integers. In v12 room creators (the create event's sender and
 * additional_creators) have infinite power: INT64_MAX here.
 *
 * Invariants: the functions read only through auth_ops; nothing is allocated that outlives
 * a call; a rejection always fills `why` with the step and the reason. */
#include "server/auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/ids.h"
#include "server/sign.h"

#define POWER_INFINITE INT64_MAX

static int reject(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reject(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const json_t *content_of(const json_t *ev)
{
    return json_object_get(ev, "content");
}

/* Domain of a user ID / event ID / room ID ("@a:b" -> "b"), or NULL. */
static const char *domain_of(const char *id)
{
    const char *c = id ? strchr(id, ':') : NULL;
    return c ? c + 1 : NULL;
}

static bool same_domain(const char *a, const char *b)
{
    const char *da = domain_of(a), *db = domain_of(b);
    return da && db && strcmp(da, db) == 0;
}

/* A power level value: an integer, or before v10 a string holding one. Returns 0 and sets
 * *out, -1 if the value is not acceptable. */
static int power_value(const struct room_version *rv, const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    /* v1-5 ("floaty" power levels): a float counts truncated, 50.57 as 50; beyond a 64-bit
     * integer it is unusable */
    if (!rv->strict_canonical_json && json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d > -9.2e18 && d < 9.2e18))
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (!rv->integer_power_levels && json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        while (isspace((unsigned char)*s))
            s++;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end != s && !*end && !errno) {
            *out = x;
            return 0;
        }
    }
    return -1;
}

/* A field of a power levels content, with its default when absent or unusable. */
static int64_t pl_field(const struct room_version *rv, const json_t *pl, const char *key,
                        int64_t dflt)
{
    int64_t v;
    const json_t *j = json_object_get(content_of(pl), key);
    return j && power_value(rv, j, &v) == 0 ? v : dflt;
}

static const json_t *state(const struct auth_ops *ops, const char *type, const char *key)
{
    return ops->state(ops->ctx, type, key);
}

static const char *membership_of(const struct auth_ops *ops, const char *user)
{
    const json_t *m = user ? state(ops, "m.room.member", user) : NULL;
    return m ? str(content_of(m), "membership") : NULL;
}

static bool is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool auth_is_creator(const struct room_version *rv, const struct auth_ops *ops, const char *user_id)
{
    const json_t *create = state(ops, "m.room.create", "");
    if (!create || !user_id)
        return false;
    if (rv->implicit_room_creator) {
        if (is(str(create, "sender"), user_id))
            return true;
    } else if (is(str(content_of(create), "creator"), user_id)) {
        return true;
    }
    if (rv->creators_infinite_power) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(content_of(create), "additional_creators"), i, v)
        {
            if (is(json_string_value(v), user_id))
                return true;
        }
    }
    return false;
}

int64_t auth_user_power(const struct room_version *rv, const struct auth_ops *ops,
                        const char *user_id)
{
    if (rv->creators_infinite_power && auth_is_creator(rv, ops, user_id))
        return POWER_INFINITE;
    const json_t *pl = state(ops, "m.room.power_levels", "");
    if (!pl) /* no power levels: the creator 100, everyone else 0 */
        return auth_is_creator(rv, ops, user_id) ? 100 : 0;
    int64_t v;
    const json_t *u = json_object_get(json_object_get(content_of(pl), "users"), user_id);
    if (u && power_value(rv, u, &v) == 0)
        return v;
    return pl_field(rv, pl, "users_default", 0);
}

int64_t auth_event_power(const struct room_version *rv, const struct auth_ops *ops,
                         const char *type, bool is_state)
{
    const json_t *pl = state(ops, "m.room.power_levels", "");
    int64_t v;
    const json_t *e = json_object_get(json_object_get(content_of(pl), "events"), type);
    if (e && power_value(rv, e, &v) == 0)
        return v;
    if (is_state) /* state_default is 50, but 0 when there are no power levels at all */
        return pl ? pl_field(rv, pl, "state_default", 50) : 0;
    return pl_field(rv, pl, "events_default", 0);
}

/* Levels named in the rules; ban, kick, redact default to 50, invite to 0. */
static int64_t level(const struct room_version *rv, const struct auth_ops *ops, const char *name)
{
    const json_t *pl = state(ops, "m.room.power_levels", "");
    int64_t dflt = strcmp(name, "invite") == 0 ? 0 : 50;
    return pl ? pl_field(rv, pl, name, dflt) : dflt;
}

/* --- auth events selection ---------------------------------------------------------------- */

size_t auth_select_keys(const struct room_version *rv, const json_t *ev, struct auth_key *out,
                        size_t max)
{
    size_t n = 0;
    const char *type = str(ev, "type");
    const json_t *c = content_of(ev);
#define ADD(t, k)                                                                                  \
    do {                                                                                           \
        if (n < max) {                                                                             \
            out[n].type = (t);                                                                     \
            out[n].state_key = (k);                                                                \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    if (is(type, "m.room.create") && is(str(ev, "state_key"), ""))
        return 0;
    if (rv->create_in_auth_events)
        ADD("m.room.create", "");
    ADD("m.room.power_levels", "");
    if (str(ev, "sender"))
        ADD("m.room.member", str(ev, "sender"));
    if (is(type, "m.room.member") && str(ev, "state_key")) {
        const char *target = str(ev, "state_key"), *m = str(c, "membership");
        if (!is(target, str(ev, "sender")))
            ADD("m.room.member", target);
        if (is(m, "join") || is(m, "invite") || is(m, "knock"))
            ADD("m.room.join_rules", "");
        const char *token =
            str(json_object_get(json_object_get(c, "third_party_invite"), "signed"), "token");
        if (is(m, "invite") && token)
            ADD("m.room.third_party_invite", token);
        const char *via = str(c, "join_authorised_via_users_server");
        if (rv->restricted && is(m, "join") && via && !is(via, target) &&
            !is(via, str(ev, "sender")))
            ADD("m.room.member", via);
    }
#undef ADD
    return n;
}

int auth_check_auth_events(const struct room_version *rv, const json_t *ev,
                           const json_t *const *auth_events, const bool *rejected, size_t n_auth,
                           char *why, size_t n)
{
    struct auth_key keys[16];
    size_t nk = auth_select_keys(rv, ev, keys, 16);
    bool have_create = false;
    if (nk > 16)
        nk = 16;
    for (size_t i = 0; i < n_auth; i++) {
        const char *t = str(auth_events[i], "type"), *k = str(auth_events[i], "state_key");
        /* v12 3.1: duplicate (type, state_key) */
        for (size_t j = 0; j < i; j++)
            if (is(t, str(auth_events[j], "type")) && is(k, str(auth_events[j], "state_key")))
                return reject(why, n, "3.1: duplicate auth event (%s, %s)", t, k);
        /* 3.2: only what the selection algorithm selects */
        bool expected = false;
        for (size_t j = 0; j < nk && !expected; j++)
            expected = is(t, keys[j].type) && is(k, keys[j].state_key);
        if (!expected)
            return reject(why, n, "3.2: unexpected auth event (%s, %s)", t ? t : "?", k ? k : "?");
        /* 3.3: no rejected auth events */
        if (rejected && rejected[i])
            return reject(why, n, "3.3: auth event (%s, %s) was rejected", t, k);
        /* v1-v11 2.4: a create event must be among them */
        if (is(t, "m.room.create"))
            have_create = true;
        /* 3.5: same room */
        if (!is(str(auth_events[i], "room_id"), str(ev, "room_id")) &&
            !(is(t, "m.room.create") && rv->room_id_from_create))
            return reject(why, n, "3.5: auth event from another room");
    }
    if (rv->create_in_auth_events && !have_create &&
        !(is(str(ev, "type"), "m.room.create") && is(str(ev, "state_key"), "")))
        return reject(why, n, "2.4: no m.room.create among the auth events");
    return 0;
}

/* --- the rules ------------------------------------------------------------------------------- */

/* v12 1: m.room.create */
static int check_create(const struct room_version *rv, const json_t *ev, char *why, size_t n)
{
    const json_t *c = content_of(ev);
    /* 1.1 */
    if (json_array_size(json_object_get(ev, "prev_events")) > 0)
        return reject(why, n, "1.1: a create event has no prev_events");
    /* 1.2: v12 no room_id; before, the room_id's domain is the sender's */
    if (rv->room_id_from_create) {
        if (json_object_get(ev, "room_id"))
            return reject(why, n, "1.2: a version 12 create event has no room_id");
    } else if (!same_domain(str(ev, "room_id"), str(ev, "sender"))) {
        return reject(why, n, "1.2: room_id and sender are on different servers");
    }
    /* 1.3 */
    const json_t *ver = json_object_get(c, "room_version");
    if (ver && (!json_is_string(ver) || !roomver_get(json_string_value(ver))))
        return reject(why, n, "1.3: unknown room_version");
    /* v1-v10 1.4: a creator */
    if (!rv->implicit_room_creator && !json_is_string(json_object_get(c, "creator")))
        return reject(why, n, "1.4: content has no creator");
    /* v12 1.4: additional_creators are user IDs */
    const json_t *ac = json_object_get(c, "additional_creators");
    if (rv->creators_infinite_power && ac) {
        if (!json_is_array(ac))
            return reject(why, n, "1.4: additional_creators is not an array");
        size_t i;
        json_t *v;
        json_array_foreach(ac, i, v)
        {
            const char *lp, *srv;
            size_t ll, sl;
            if (!json_is_string(v) ||
                ids_user_id_split(json_string_value(v), &lp, &ll, &srv, &sl) < 0)
                return reject(why, n, "1.4: additional_creators holds an invalid user ID");
        }
    }
    return 0; /* 1.5 */
}

/* Does any signature in `signed` verify with a public key of the third-party invite? */
static bool tpi_signature_ok(const json_t *signed_blk, const json_t *tpi)
{
    const json_t *c = content_of(tpi);
    json_t *keys = json_array();
    if (json_is_string(json_object_get(c, "public_key")))
        json_array_append(keys, json_object_get(c, "public_key"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "public_keys"), i, v)
    {
        if (json_is_string(json_object_get(v, "public_key")))
            json_array_append(keys, json_object_get(v, "public_key"));
    }
    bool ok = false;
    const char *server;
    json_t *sigs;
    json_object_foreach(json_object_get(signed_blk, "signatures"), server, sigs)
    {
        const char *key_id;
        json_t *sig;
        json_object_foreach(sigs, key_id, sig)
        {
            json_array_foreach(keys, i, v)
            {
                uint8_t pk[33];
                size_t len = 0;
                const char *b = json_string_value(v);
                if (b64_decode(b, strlen(b), pk, sizeof pk, &len) == 0 && len == 32 &&
                    sign_verify_json(signed_blk, server, key_id, pk) == 0)
                    ok = true;
            }
        }
    }
    json_decref(keys);
    return ok;
}

/* v12 5: m.room.member */
static int check_member(const struct room_version *rv, const json_t *ev, const struct auth_ops *ops,
                        char *why, size_t n)
{
    const json_t *c = content_of(ev);
    const char *sender = str(ev, "sender"), *target = str(ev, "state_key");
    const char *m = str(c, "membership");
    /* 5.1 */
    if (!target || !m)
        return reject(why, n, "5.1: a member event needs a state_key and a membership");
    /* 5.2: the authorising server signed it (v8+) */
    const char *via = str(c, "join_authorised_via_users_server");
    if (rv->restricted && via) {
        const char *dom = domain_of(via);
        if (!dom || !ops->signed_by || !ops->signed_by(ops->ctx, ev, dom))
            return reject(why, n,
                          "5.2.1: not signed by the server of "
                          "join_authorised_via_users_server");
    }
    const char *sender_m = membership_of(ops, sender);
    const char *target_m = membership_of(ops, target);
    const json_t *jr = state(ops, "m.room.join_rules", "");
    const char *join_rule = jr ? str(content_of(jr), "join_rule") : NULL;
    int64_t sender_pl = auth_user_power(rv, ops, sender);
    int64_t target_pl = auth_user_power(rv, ops, target);

    if (is(m, "join")) {
        /* 5.3.1: the creator's first join right after the create event */
        const json_t *prev = json_object_get(ev, "prev_events");
        const json_t *create = state(ops, "m.room.create", "");
        if (json_array_size(prev) == 1 && create) {
            const json_t *p0 = json_array_get(prev, 0);
            const char *pid = json_is_array(p0) ? json_string_value(json_array_get(p0, 0))
                                                : json_string_value(p0);
            const char *creator = rv->implicit_room_creator ? str(create, "sender")
                                                            : str(content_of(create), "creator");
            if (is(pid, str(create, "event_id")) && is(target, creator))
                return 0;
        }
        /* 5.3.2 */
        if (!is(sender, target))
            return reject(why, n, "5.3.2: sender does not match state_key");
        /* 5.3.3 */
        if (is(sender_m, "ban"))
            return reject(why, n, "5.3.3: the sender is banned");
        /* 5.3.4 */
        if (is(join_rule, "invite") || (rv->knock && is(join_rule, "knock"))) {
            if (is(sender_m, "invite") || is(sender_m, "join"))
                return 0;
            return reject(why, n, "5.3.4: the room is invite-only and there is no invite");
        }
        /* 5.3.5 (v8+) */
        if ((rv->restricted && is(join_rule, "restricted")) ||
            (rv->knock_restricted && is(join_rule, "knock_restricted"))) {
            if (is(sender_m, "join") || is(sender_m, "invite"))
                return 0;
            if (!via || !is(membership_of(ops, via), "join") ||
                auth_user_power(rv, ops, via) < level(rv, ops, "invite"))
                return reject(why, n,
                              "5.3.5.2: join_authorised_via_users_server is not a "
                              "joined user who may invite");
            return 0;
        }
        /* 5.3.6 */
        if (is(join_rule, "public"))
            return 0;
        return reject(why, n, "5.3.7: the join rule does not allow joining");
    }

    if (is(m, "invite")) {
        /* 5.4.1: third-party invites */
        const json_t *tpi_c = json_object_get(c, "third_party_invite");
        if (tpi_c) {
            if (is(target_m, "ban"))
                return reject(why, n, "5.4.1.1: the target is banned");
            const json_t *signed_blk = json_object_get(tpi_c, "signed");
            if (!json_is_object(signed_blk))
                return reject(why, n, "5.4.1.2: third_party_invite has no signed block");
            const char *mxid = str(signed_blk, "mxid"), *token = str(signed_blk, "token");
            if (!mxid || !token)
                return reject(why, n, "5.4.1.3: signed needs mxid and token");
            if (!is(mxid, target))
                return reject(why, n, "5.4.1.4: mxid does not match state_key");
            const json_t *tpi = state(ops, "m.room.third_party_invite", token);
            if (!tpi)
                return reject(why, n, "5.4.1.5: no m.room.third_party_invite for the token");
            if (!is(str(tpi, "sender"), sender))
                return reject(why, n, "5.4.1.6: sender did not make the third-party invite");
            if (tpi_signature_ok(signed_blk, tpi))
                return 0;
            return reject(why, n, "5.4.1.8: no valid signature from the invite's keys");
        }
        /* 5.4.2 */
        if (!is(sender_m, "join"))
            return reject(why, n, "5.4.2: the sender is not joined");
        /* 5.4.3 */
        if (is(target_m, "join") || is(target_m, "ban"))
            return reject(why, n, "5.4.3: the target is already joined or banned");
        /* 5.4.4 */
        if (sender_pl >= level(rv, ops, "invite"))
            return 0;
        return reject(why, n, "5.4.5: the sender may not invite");
    }

    if (is(m, "leave")) {
        /* 5.5.1 */
        if (is(sender, target)) {
            if (is(target_m, "invite") || is(target_m, "join") ||
                (rv->knock && is(target_m, "knock")))
                return 0;
            return reject(why, n, "5.5.1: cannot leave a room one is not in");
        }
        /* 5.5.2 */
        if (!is(sender_m, "join"))
            return reject(why, n, "5.5.2: the sender is not joined");
        /* 5.5.3 */
        if (is(target_m, "ban") && sender_pl < level(rv, ops, "ban"))
            return reject(why, n, "5.5.3: unbanning needs the ban level");
        /* 5.5.4 */
        if (sender_pl >= level(rv, ops, "kick") && target_pl < sender_pl)
            return 0;
        return reject(why, n, "5.5.5: the sender may not kick this user");
    }

    if (is(m, "ban")) {
        /* 5.6.1 */
        if (!is(sender_m, "join"))
            return reject(why, n, "5.6.1: the sender is not joined");
        /* 5.6.2 */
        if (sender_pl >= level(rv, ops, "ban") && target_pl < sender_pl)
            return 0;
        return reject(why, n, "5.6.3: the sender may not ban this user");
    }

    if (rv->knock && is(m, "knock")) {
        /* 5.7.1 */
        if (!is(join_rule, "knock") && !(rv->knock_restricted && is(join_rule, "knock_restricted")))
            return reject(why, n, "5.7.1: the join rule does not allow knocking");
        /* 5.7.2 */
        if (!is(sender, target))
            return reject(why, n, "5.7.2: sender does not match state_key");
        /* 5.7.3 */
        if (!is(sender_m, "ban") && !is(sender_m, "invite") && !is(sender_m, "join"))
            return 0;
        return reject(why, n, "5.7.4: banned, invited or joined users cannot knock");
    }
    return reject(why, n, "5.8: unknown membership '%s'", m);
}

/* Is `v` an object whose values are acceptable power levels? */
static bool levels_map_ok(const struct room_version *rv, const json_t *v, bool user_keys)
{
    if (!v)
        return true;
    if (!json_is_object(v))
        return false;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        int64_t p;
        if (power_value(rv, x, &p) < 0)
            return false;
        const char *lp, *srv;
        size_t ll, sl;
        if (user_keys && ids_user_id_split(k, &lp, &ll, &srv, &sl) < 0)
            return false;
    }
    return true;
}

/* Compare one level between old and new power levels (v12 10.6-10.10). `limit_eq` applies
 * the ">=" test of 10.9 (other users' current entries) instead of ">". */
static int check_change(const struct room_version *rv, const json_t *oldv, const json_t *newv,
                        int64_t sender_pl, bool limit_eq, bool check_new, const char *what,
                        char *why, size_t n)
{
    int64_t o = 0, nv = 0;
    bool has_o = oldv && power_value(rv, oldv, &o) == 0;
    bool has_n = newv && power_value(rv, newv, &nv) == 0;
    if (has_o == has_n && (!has_o || o == nv))
        return 0; /* unchanged */
    if (has_o && (limit_eq ? o >= sender_pl : o > sender_pl))
        return reject(why, n, "10: cannot change %s from a level at or above your own", what);
    if (check_new && has_n && nv > sender_pl)
        return reject(why, n, "10: cannot set %s above your own level", what);
    return 0;
}

/* v12 10: m.room.power_levels */
static int check_power_levels(const struct room_version *rv, const json_t *ev,
                              const struct auth_ops *ops, char *why, size_t n)
{
    static const char *const fields[] = {"users_default", "events_default", "state_default", "ban",
                                         "redact",        "kick",           "invite"};
    const json_t *c = content_of(ev);
    const char *sender = str(ev, "sender");
    /* 10.1 (v10+): the numeric fields are integers */
    if (rv->integer_power_levels) {
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            const json_t *v = json_object_get(c, fields[i]);
            if (v && !json_is_integer(v))
                return reject(why, n, "10.1: %s is not an integer", fields[i]);
        }
        /* 10.2 */
        if (!levels_map_ok(rv, json_object_get(c, "events"), false) ||
            !levels_map_ok(rv, json_object_get(c, "notifications"), false))
            return reject(why, n, "10.2: events or notifications hold a non-integer");
    }
    /* 10.3 */
    if (!levels_map_ok(rv, json_object_get(c, "users"), true))
        return reject(why, n, "10.3: users must map user IDs to integers");
    /* 10.4 (v12): creators are not listed */
    if (rv->creators_infinite_power) {
        const char *u;
        json_t *x;
        json_object_foreach(json_object_get(c, "users"), u, x)
        {
            if (auth_is_creator(rv, ops, u))
                return reject(why, n, "10.4: room creators cannot be given a power level");
        }
    }
    /* 10.5 */
    const json_t *old = state(ops, "m.room.power_levels", "");
    if (!old)
        return 0;
    const json_t *oc = content_of(old);
    int64_t sender_pl = auth_user_power(rv, ops, sender);
    /* 10.6 */
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (check_change(rv, json_object_get(oc, fields[i]), json_object_get(c, fields[i]),
                         sender_pl, false, true, fields[i], why, n) < 0)
            return -1;
    /* 10.7, 10.8: events (and notifications from v6) */
    const char *maps[] = {"events", "notifications"};
    for (size_t m = 0; m < (rv->limit_notifications_power_levels ? 2u : 1u); m++) {
        const json_t *om = json_object_get(oc, maps[m]), *nm = json_object_get(c, maps[m]);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)om, k, v)
        {
            if (check_change(rv, v, json_object_get(nm, k), sender_pl, false, true, k, why, n) < 0)
                return -1;
        }
        json_object_foreach((json_t *)nm, k, v)
        {
            if (!json_object_get(om, k) &&
                check_change(rv, NULL, v, sender_pl, false, true, k, why, n) < 0)
                return -1;
        }
    }
    /* 10.9, 10.10: users */
    const json_t *ou = json_object_get(oc, "users"), *nu = json_object_get(c, "users");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ou, k, v)
    {
        bool self = is(k, sender);
        if (check_change(rv, self ? NULL : v, json_object_get(nu, k), sender_pl, true, true, k, why,
                         n) < 0)
            return -1;
    }
    json_object_foreach((json_t *)nu, k, v)
    {
        if (!json_object_get(ou, k) &&
            check_change(rv, NULL, v, sender_pl, false, true, k, why, n) < 0)
            return -1;
    }
    return 0;
}

int auth_check(const struct room_version *rv, const json_t *ev, const struct auth_ops *ops,
               char *why, size_t n)
{
    const char *type = str(ev, "type"), *sender = str(ev, "sender");
    const char *state_key = str(ev, "state_key");
    if (!type || !sender)
        return reject(why, n, "event has no type or sender");

    /* 1: m.room.create, whatever its state_key (a create event with another state_key is
     * still a create event: it must have no prev_events, so it cannot enter a room) */
    if (is(type, "m.room.create"))
        return check_create(rv, ev, why, n);

    const json_t *create = state(ops, "m.room.create", "");
    if (!create)
        return reject(why, n, "2: the room has no m.room.create event");
    /* v12 2: the room ID names the create event */
    if (rv->room_id_from_create) {
        const char *rid = str(ev, "room_id"), *cid = str(create, "event_id");
        if (!rid || !cid || rid[0] != '!' || cid[0] != '$' || strcmp(rid + 1, cid + 1) != 0)
            return reject(why, n, "2: room_id is not the create event's ID");
    }
    /* v12 4 (v1 3): m.federate */
    const json_t *fed = json_object_get(content_of(create), "m.federate");
    if (json_is_false(fed) && !same_domain(sender, str(create, "sender")))
        return reject(why, n, "4: the room does not federate");

    /* v1-v5 4: m.room.aliases */
    if (rv->special_case_aliases_auth && is(type, "m.room.aliases")) {
        if (!state_key)
            return reject(why, n, "4.1: m.room.aliases needs a state_key");
        if (!is(domain_of(sender), state_key))
            return reject(why, n, "4.2: the state_key must be the sender's server");
        return 0;
    }

    /* 5: m.room.member */
    if (is(type, "m.room.member"))
        return check_member(rv, ev, ops, why, n);

    /* 6 */
    if (!is(membership_of(ops, sender), "join"))
        return reject(why, n, "6: the sender is not joined to the room");

    int64_t sender_pl = auth_user_power(rv, ops, sender);
    /* 7: m.room.third_party_invite */
    if (is(type, "m.room.third_party_invite")) {
        if (sender_pl >= level(rv, ops, "invite"))
            return 0;
        return reject(why, n, "7.1: the sender may not invite");
    }
    /* 8 */
    if (auth_event_power(rv, ops, type, state_key != NULL) > sender_pl)
        return reject(why, n, "8: the sender's power level is too low for %s", type);
    /* 9 */
    if (state_key && state_key[0] == '@' && !is(state_key, sender))
        return reject(why, n, "9: a state_key starting with @ must be the sender");
    /* 10 */
    if (is(type, "m.room.power_levels") && is(state_key, ""))
        return check_power_levels(rv, ev, ops, why, n);
    /* v1-v2 11: redactions */
    if (rv->event_ids == ROOMVER_EVID_V1 && is(type, "m.room.redaction")) {
        if (sender_pl >= level(rv, ops, "redact"))
            return 0;
        if (same_domain(str(ev, "event_id"), str(ev, "redacts")))
            return 0;
        return reject(why, n, "11.3: the sender may not redact this event");
    }
    return 0; /* 11 */
}
