/* room_internal.h - what the room engine's files (room.c, room_send.c, room_member.c,
 * room_client.c, roomread.c, roomadmin.c, ..., and the admin API's adminrooms.c) share and
 * nobody else uses. */
#ifndef AMTSBOTE_ROOM_INTERNAL_H
#define AMTSBOTE_ROOM_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/room.h"
#include "server/roomver.h"
#include "server/notify.h"
#include "server/sign.h"
#include "storage/db.h"

#define MAX_INITIAL_EVENTS 100
#define MAX_INVITES 100
#define MAX_AUTH_KEYS 8 /* auth events one event selects, at most */

/* The engine's configuration (room_init). */
struct room_engine {
    char *server_name;
    struct sign_key key;
    const char *default_version;
    room_listener listener;
};
extern struct room_engine eng;

/* Events committed in the current transaction, announced to the listener after COMMIT. */
struct committed {
    int64_t stream;
    char *room_id;
    json_t *pdu;
};
/* A message event whose row is written with the COMMIT (room_push_commit): one round trip
 * for a whole batch of sends. */
#define MAX_DEFERRED 64
struct deferred {
    char *event_id, *room_id, *type, *sender, *json, *prev, *txn_device, *txn_id;
    int64_t ts, depth, state_group;
    size_t item; /* index in batch.items */
};
struct batch {
    struct committed items[MAX_INITIAL_EVENTS + MAX_INVITES + 16];
    size_t n;
    struct deferred deferred[MAX_DEFERRED];
    size_t n_deferred;
    struct notify_ticket *ticket; /* taken before the transaction (server/notify.h) */
    json_t *push_targets;         /* room_push.c's cache for message events of one room */
    json_t *push_rows;            /* notifications, inserted with the COMMIT (room_push_commit) */
    json_t *push_rules;           /* user_id -> rule set, for this batch */
    char push_room[256];
};
/* Tell the notifier and the listener (when committed), end the ticket, empty the batch. */
void room_batch_announce(struct batch *b, bool committed);

/* One event to append. */
struct append_req {
    const char *room_id; /* NULL only for a v12 create event */
    int64_t parent_group;
    const struct room_version *rv;
    const char *sender, *type, *state_key;
    json_t *content; /* borrowed */
    const struct room_txn *txn;
    const char *redacts; /* m.room.redaction: the target (content or top level by version) */
    json_t *pre_ext;     /* prefetched [[id, depth]] extremities, or NULL to query */
    json_t *pre_auth;    /* prefetched statemap_key -> PDU superset, or NULL to query */
};
/* Build, authorise and persist one event inside the caller's transaction (room.c's header
 * describes the steps). On ROOM_OK sets *event_id and *room_id (malloc'd), updates *group to
 * the state after it, and queues it in b. */
enum room_rc room_append(struct dbc *c, const struct append_req *a, struct batch *b, int64_t *group,
                         char **event_id, char **room_id, char *why, size_t n);
/* The auth keys to prefetch for the event template `proto` whatever the room version: the
 * selection with the create event included (versions 1-11 select it; v12 needs it for the
 * rules). Fills keys (MAX_AUTH_KEYS; strings borrowed from proto) and returns their number. */
struct auth_key;
size_t room_auth_superset(const json_t *proto, struct auth_key *keys);
/* Whether the redaction a->redacts may be applied: its target's own sender, or anyone with
 * the redact power level (spec "Redactions"). ROOM_OK, or the error explained in why. */
enum room_rc room_check_redaction(struct dbc *c, const struct append_req *a, char *why, size_t n);
/* The creators with unlimited power (room version 12+: the create event's sender and its
 * additional_creators; server/room_push.c). New array, or NULL when the room's version has
 * none such (or on error). */
json_t *room_creators(struct dbc *c, const char *room_id);
/* room_create, and then (room upgrades) a ban of each user ID in `bans` (borrowed, may be
 * NULL) after the named state, in the same transaction. */
enum room_rc room_create_banned(const char *creator, json_t *req, json_t *bans, char **room_id,
                                char *why, size_t n);
/* Client-Server API m.room.canonical_alias: `alias` and every `alt_aliases` entry must be a
 * room alias ("#local:server", at most 255 bytes: ROOM_BAD_PARAM otherwise) that exists on
 * this server and points to room_id (ROOM_BAD_ALIAS otherwise; another server's alias cannot
 * be checked without federation and is refused too). ROOM_OK, or the error explained in why. */
enum room_rc room_check_canonical_alias(struct dbc *c, const char *room_id, const json_t *content,
                                        char *why, size_t n);
/* origin_server_ts for a new m.room.create (server/room_create.c): the clock, but strictly
 * increasing within the process, so that two otherwise identical create events (one user's
 * concurrent /createRoom in v12, where the create event's hash is the room ID) differ. */
int64_t room_create_ts(void);
/* The auth events an event needs, from the room's current state: statemap_key -> PDU into
 * auth_map, their IDs into auth_ids. 0 or -1. */
int room_select_auth(struct dbc *c, const char *room_id, const struct room_version *rv,
                     json_t *proto, json_t *auth_map, json_t *auth_ids);
/* auth_ops.state over a statemap_key -> PDU object (ctx). */
const json_t *room_map_state(void *ctx, const char *type, const char *state_key);
/* The event ID of a v12 room's create event: the room ID with "$" for "!" (malloc'd). */
char *room_create_event_id(const char *room_id);
/* Replace the stored target of the redaction `pdu` (event_id) by its redacted form, unless
 * it is unknown or already redacted. 0 or -1. */
int room_apply_redaction(struct dbc *c, const struct room_version *rv, const json_t *pdu,
                         const char *event_id);
/* The event IDs of PDUs as stored or sent (the event_id key in v1/v2, else the reference
 * hash; server/room_serve.c). New array; PDUs without one are left out. */
json_t *room_pdu_ids(const struct room_version *rv, const json_t *pdus);
/* The meta row of a checked event `ev` (with its strings borrowed from ev) of room_id. */
struct db_event_meta;
void room_recv_meta(const json_t *ev, const char *id, const char *room_id,
                    struct db_event_meta *m);
/* A stored PDU with its "event_id" key set (new reference), or NULL. */
json_t *room_load_pdu(struct dbc *c, const char *event_id);

/* Fill an event template `proto` (type, sender, state_key, content set; borrowed, changed) of
 * room_id as this server would append it now: room_id, depth, prev_events (the extremities)
 * and auth_events (from current state), then check the authorization rules against that
 * state, any signature they need counting as present (the signers add them later). ROOM_OK,
 * ROOM_NOT_FOUND (no extremities: this server is not in the room), ROOM_FORBIDDEN (why says
 * which rule), ROOM_ERR. Not signed, hashed or stored. */
enum room_rc room_template(struct dbc *c, const char *room_id, const struct room_version *rv,
                           json_t *proto, char *why, size_t n);
/* For a join to a restricted room by a user neither invited nor joined, who is joined to a
 * room the join rules allow: a local joined member with the invite level to vouch for the
 * join (join_authorised_via_users_server). malloc'd user ID, or NULL. */
char *room_restricted_authoriser(const char *room_id, const char *user_id);

/* Remember (storage/fedmember.h) user_id's `membership` of room_id, a room this server is
 * not in, with the stripped form of state_pdus and the membership event `pdu`, and the
 * servers to reach it through; wakes the user's /sync. All borrowed. 0 or -1. */
int room_remember_remote(const char *user_id, const char *room_id, const char *membership,
                         const char *event_id, const char *room_version, const json_t *pdu,
                         const json_t *state_pdus, const json_t *servers);

/* 1 if user_id is joined to room_id and its power level reaches what sending an event of
 * `type` (state or not) needs under the room's current state; 0 if not; -1 on error. */
int room_may_send(struct dbc *c, const char *room_id, const char *user_id, const char *type,
                  bool is_state);

/* Notification rows for a stored event (server/room_push.c), collected in the batch and
 * inserted by room_push_commit with the writer's COMMIT. 0 or -1. */
/* Seed the batch's push-target cache from the append view: joined members [{user_id,
 * displayname}] and the auth map (for the power levels). Borrowed. */
void room_push_seed(struct batch *b, const char *room_id, json_t *members, json_t *auth);
/* Write the batch's deferred event rows and notification rows and COMMIT, in one round
 * trip; the items get their stream orderings. 0, or -1: roll back. */
int room_push_commit(struct dbc *c, struct batch *b);
/* Write the deferred rows now (before anything that reads or follows them in the DAG). */
int room_deferred_flush(struct dbc *c, struct batch *b);
/* Free the deferred rows (after commit or rollback). */
void room_deferred_clear(struct batch *b);
int room_push_actions(struct dbc *c, struct batch *b, const char *room_id, const json_t *pdu,
                      const char *event_id);

/* --- receiving (server/room_receive.c, shared with server/room_outlier.c) ------------------ */

/* What one receive reads, inside the transaction that holds the room's writer lock. */
struct room_recv_ctx {
    struct dbc *c;
    const struct room_version *rv;
    const char *room_id;
    json_t *cache;    /* event ID -> PDU with "event_id", or null when unknown here */
    json_t *rejected; /* event ID -> true */
    bool failed;      /* a database error while loading */
    json_t *lookups;  /* state-group entries read so far, shared by a group's receives
                         (server/room_group.c), or NULL: none kept */
};
/* One entry of a state group's state (db_state_group_get), remembered in x->lookups when
 * that is set (state groups never change once stored). 0 (*id malloc'd, or NULL when
 * absent) or -1. */
int room_recv_group_get(struct room_recv_ctx *x, int64_t group, const char *type,
                        const char *state_key, char **id);
/* A stored event of this room (borrowed from the cache), or NULL: unknown, or of another room
 * (which counts as unknown: "fetched events checked to belong to the room"). */
const json_t *room_recv_load(struct room_recv_ctx *x, const char *id);
/* stateres_ops.rejected over a room_recv_ctx. */
int room_recv_rejected(void *ctx, const char *id);
/* The event ID of a prev_events / auth_events entry (plain from v3, [id, hashes] before). */
const char *room_recv_ref_id(const json_t *entry);
/* The IDs of a PDU's prev_events (new array). */
json_t *room_recv_prev_ids(const json_t *pdu);

/* auth_ops state over a state map (statemap key -> event ID, through the cache), a map of
 * PDUs (statemap key -> PDU), or a stored state group (one lookup per key: the auth rules
 * read a handful, and a room's whole state may be large); ctx is a struct room_recv_state. */
struct room_recv_state {
    struct room_recv_ctx *x;
    const json_t *map;  /* IDs, or NULL */
    const json_t *pdus; /* PDUs, or NULL */
    int64_t group;      /* without map and pdus: this state group */
};
const json_t *room_recv_map_state(void *ctx, const char *type, const char *state_key);
int room_recv_map_signed(void *ctx, const json_t *ev, const char *server);

/* Step 4: `ev` against its own auth_events. 0 passes, 1 fails (rejected; why set), 2 some are
 * unknown (IDs appended to missing), -1 error. */
int room_recv_check_auth(struct room_recv_ctx *x, const json_t *ev, json_t *missing, char *why,
                         size_t n);
/* Resolve state maps (a non-empty array, borrowed) of the room (server/stateres.h). New
 * reference, or NULL (why says why). */
json_t *room_recv_resolve(struct room_recv_ctx *x, json_t *maps, char *why, size_t n);
/* The PDU as stored: without "event_id" from v3, in its version's encoding. malloc'd or NULL. */
char *room_recv_stored_text(const struct room_version *rv, const json_t *checked);
/* Is `ev` (checked, with "event_id") an event of room_id? (v12: the create event names the
 * room by its own ID.) */
bool room_recv_of_room(const struct room_version *rv, const json_t *ev, const char *room_id);
/* The checks of an event received alone, under the room's writer lock (backfill,
 * /get_missing_events, fetched outliers): it is of this room; unless already stored, step 4
 * against its own auth events. Returns 0 (new, allowed), 1 (new, rejected: reason says why),
 * 2 (already stored: not checked again), or -1 with *out the answer (ROOM_RECV_DROPPED,
 * ROOM_RECV_ERR or ROOM_RECV_MISSING_AUTH, the IDs appended to missing) and why set. */
int room_recv_admit(struct room_recv_ctx *x, const json_t *ev, const char *id, json_t *missing,
                    char *reason, size_t rn, enum room_recv *out, char *why, size_t n);
/* Fetch the events `ids` (array of IDs) from `origin` and store them as outliers, with their
 * own missing auth events first; at most *budget fetches. Returns 0 when every one is stored
 * (accepted or rejected), -1 when one could not be fetched or stored (or f fetches nothing). */
int room_recv_fetch_auth(const struct room_fetcher *f, const char *origin, const char *room_id,
                         const json_t *ids, int *budget);
/* Store a received event (or, with promote, give a stored outlier its standing). */
int room_recv_insert(struct room_recv_ctx *x, const json_t *ev, const char *id, int64_t group,
                     const char *rejected, bool outlier, bool soft_failed, json_t *prevs,
                     int64_t *stream, bool promote);
/* The state group after an accepted event whose state before is the group `before`. */
int64_t room_recv_group_after(struct room_recv_ctx *x, const json_t *ev, const char *id,
                              int64_t before);
/* Relations, redaction and notifications of an accepted event (state before it: `before`). */
int room_recv_side_effects(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                           const char *id, const struct room_recv_state *before);
/* Queue an accepted event for the announcement after COMMIT. */
void room_recv_queue(struct batch *b, int64_t stream, const char *room_id, const json_t *ev);
/* The part of a receive that runs under the room's writer lock: `ev` is the checked PDU (with
 * "event_id"), missing collects unknown event IDs. */
typedef enum room_recv (*room_recv_step)(struct room_recv_ctx *x, struct batch *b,
                                         const json_t *ev, const char *id, json_t *missing,
                                         char *why, size_t n);
/* Steps 4-6 and persistence of a received PDU (room_receive_pdu's room_recv_step; also run
 * for each PDU of a group, server/room_group.c). */
enum room_recv room_recv_locked(struct room_recv_ctx *x, struct batch *b, const json_t *ev,
                                const char *id, json_t *missing, char *why, size_t n);
/* Steps 1-3 for `pdu` of room_id (outside any lock), then `locked` in a transaction holding
 * the room's writer lock, then commit (what is kept) or roll back. As room_receive_pdu. */
enum room_recv room_recv_run(const char *origin, const char *room_id, const json_t *pdu,
                             room_recv_step locked, char **event_id, json_t **missing, char *why,
                             size_t n);
/* ROOM_RECV_RETRY for PDU_RETRY, else ROOM_RECV_DROPPED. */
enum room_recv room_recv_verdict(int pdu_verdict);
/* Commit what is kept (accepted, rejected, soft failed) or roll back; announce. */
enum room_recv room_recv_finish(struct dbc *c, struct batch *b, enum room_recv rc);

/* --- reading (server/roomread.c) ------------------------------------------------------------ */

#define MAX_LIMIT 1000 /* events per page */

/* The user's standing in a room: the current membership and, once they left, the point they
 * left at (their membership event). */
struct standing {
    char *membership;      /* NULL: never a member */
    char *event_id;        /* their current member event */
    int64_t group;         /* state to read: current (joined/world_readable) or at leaving */
    int64_t depth, stream; /* position limit for history (leave point); INT64_MAX if none */
    bool world_readable;
};

/* What the user may read in the room (roomread.c's rule 1); fills *s (free with
 * room_standing_clear). ROOM_FORBIDDEN / ROOM_NOT_FOUND explain themselves in why. */
enum room_rc room_standing(struct dbc *c, const char *room_id, const char *user_id,
                           struct standing *s, char *why, size_t n);
void room_standing_clear(struct standing *s);
/* What a user may see of one event (roomread.c's rules 2 and 3). */
enum room_vis {
    ROOM_VIS_HIDDEN = 0, /* not at all */
    ROOM_VIS_FULL,       /* as stored */
    ROOM_VIS_PRUNED,     /* redacted: its sender is erased and the user was not joined at it */
};
/* The verdict for `pdu` with the state after it (group); cache (a JSON object the caller
 * keeps for one request): group -> verdict, sender -> erased, the room version. */
enum room_vis room_event_visibility(struct dbc *c, const struct standing *s, const char *user_id,
                                    int64_t group, const json_t *pdu, json_t *cache);
/* The membership of user_id (malloc'd) in the state group, or NULL when none. */
char *room_membership_at(struct dbc *c, int64_t group, const char *user_id);
/* room_erased.c: whether sender is an erased account (GDPR erasure); cached in cache under
 * "erased:<id>". */
bool room_sender_erased(struct dbc *c, const char *sender, json_t *cache);
/* The PDU to serve under a verdict: pdu itself (new reference), or for ROOM_VIS_PRUNED its
 * redacted form under the room's version (new). NULL on error. */
json_t *room_served_pdu(struct dbc *c, const json_t *pdu, enum room_vis vis, json_t *cache);
/* A stored event bundled into another's unsigned m.relations (the latest thread reply, the
 * latest edit) as a client event for user_id, pruned under rule 3 when its sender is erased
 * and the user was not joined at it. New reference, or NULL. */
json_t *room_bundled_event(struct dbc *c, const char *event_id, const char *user_id, int64_t now);
/* content[key] (malloc'd string) of the state event (type, "") in state group `group`, or
 * NULL when absent or not a string. */
char *room_group_string(struct dbc *c, int64_t group, const char *type, const char *key);
/* A stored event in client format (new reference) or NULL. */
json_t *room_client_event_of(struct dbc *c, const char *event_id, int64_t now);
/* Add unsigned["m.relations"] to a client event. */
void room_aggregate(struct dbc *c, json_t *ev, const char *user_id, int64_t now);
/* "t<depth>_<stream>" -> position; 0 or -1. */
int room_parse_token(struct dbc *c, const char *t, int64_t *depth, int64_t *stream);
/* Does the PDU pass a RoomEventFilter's types, senders and contains_url? */
bool room_filter_ok(json_t *f, const json_t *pdu);
/* The users `user_id` ignores (m.ignored_user_list's ignored_users; spec "Ignoring Users"):
 * a new object, {} when none; NULL on error. */
json_t *room_ignored_users(struct dbc *c, const char *user_id);
/* Whether pdu is hidden from a user ignoring `ignored`: a non-state event of one of them. */
bool room_ignored(const json_t *ignored, const json_t *pdu);

/* Run `body` with a connection and the user's standing; answers ROOM_* codes. */
#define WITH_STANDING(room_id, user_id)                                                            \
    struct dbc *c = db_get();                                                                      \
    struct standing s;                                                                             \
    enum room_rc rc = ROOM_ERR;                                                                    \
    if (!c)                                                                                        \
        return ROOM_ERR;                                                                           \
    if ((rc = room_standing(c, room_id, user_id, &s, why, n)) != ROOM_OK)                          \
        goto out;                                                                                  \
    rc = ROOM_ERR

#endif
