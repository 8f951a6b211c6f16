/* auth.h - the authorization rules for events (spec: room version pages, "Authorisation
 * rules"; Server-Server API "Auth events selection"). Pure functions: the caller supplies the
 * state to check against through callbacks, so the same code serves local sends, received
 * PDUs (against auth_events, the state before the event, and current state) and state
 * resolution. */
#ifndef AMTSBOTE_AUTH_H
#define AMTSBOTE_AUTH_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/roomver.h"

/* What the rules may look at. */
struct auth_ops {
    /* The state event (type, state_key) the event is checked against (borrowed, valid during
     * the call), or NULL if there is none. For v12 rooms the m.room.create event must be
     * returned too, although it is never among auth_events. */
    const json_t *(*state)(void *ctx, const char *type, const char *state_key);
    /* 1 if `ev` carries a valid signature of `server_name` (rule: join_authorised_via_users_
     * server, and third-party invite checks need it), 0 if not. May be NULL: then such
     * signatures count as invalid. */
    int (*signed_by)(void *ctx, const json_t *ev, const char *server_name);
    void *ctx;
};

/* Run the authorization rules of rv for `ev` against the state ops gives. The rules about
 * the auth_events list itself (duplicates, unexpected entries, rejected entries, foreign room)
 * are auth_check_auth_events'. Returns 0 to allow; -1 to reject, with the rule that rejected
 * in why (e.g. "5.3.2: sender does not match state_key"). */
int auth_check(const struct room_version *rv, const json_t *ev, const struct auth_ops *ops,
               char *why, size_t n);

/* The rules about an event's auth_events list (v12 numbering: 3.1-3.5): `auth_events` are
 * the events the PDU lists (borrowed), `rejected[i]` whether each was rejected. Returns 0 or
 * -1 with a reason. */
int auth_check_auth_events(const struct room_version *rv, const json_t *ev,
                           const json_t *const *auth_events, const bool *rejected, size_t n_auth,
                           char *why, size_t n);

/* Auth events selection (Server-Server API): the (type, state_key) pairs an event with this
 * type, sender, state_key and content needs (create (not in v12), power levels, the sender's
 * member event, and for membership events the target's member, join rules, third-party invite
 * and the authorising user's member). Writes up to `max` pairs (borrowed strings from ev or
 * static) and returns how many there are. */
struct auth_key {
    const char *type;
    const char *state_key;
};
size_t auth_select_keys(const struct room_version *rv, const json_t *ev, struct auth_key *out,
                        size_t max);

/* The sender's power level in this state (content of m.room.power_levels, or the defaults
 * when absent: the creator(s) 100 before v12). INT64_MAX for v12 creators. */
int64_t auth_user_power(const struct room_version *rv, const struct auth_ops *ops,
                        const char *user_id);
/* The power needed to send an event of this type (state or not), per power levels. */
int64_t auth_event_power(const struct room_version *rv, const struct auth_ops *ops,
                         const char *type, bool is_state);
/* Is user_id a creator (v12: create sender or additional_creators; earlier: create sender or
 * content.creator)? */
bool auth_is_creator(const struct room_version *rv, const struct auth_ops *ops,
                     const char *user_id);

#endif
