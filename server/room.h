/* room.h - the room engine: the one writer of every room (STYLE.md s.2.9). Local sends
 * (server/room.c) and PDUs received from other servers (server/room_receive.c,
 * room_outlier.c) go through the same steps under the same per-room lock: build or check the
 * PDU, authorise it against the room's state, persist it with its state, wake listeners. */
#ifndef AMTSBOTE_ROOM_H
#define AMTSBOTE_ROOM_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"
#include "server/sign.h"

enum room_rc {
    ROOM_ERR = -1,       /* internal error (logged) */
    ROOM_OK = 0,
    ROOM_NOT_FOUND,      /* unknown room or event */
    ROOM_FORBIDDEN,      /* the authorization rules refused; `why` names the rule */
    ROOM_BAD_JSON,       /* malformed request content */
    ROOM_TOO_LARGE,      /* the event would exceed 65536 bytes */
    ROOM_BAD_VERSION,    /* unknown room version */
    ROOM_IN_USE,         /* the alias is taken */
    ROOM_INVALID_STATE,  /* createRoom's initial state is not acceptable */
    ROOM_NOT_LOCAL,      /* needs federation (a remote user or room) */
    ROOM_BAD_ALIAS,      /* m.room.canonical_alias names an alias not pointing to the room */
    ROOM_BAD_PARAM,      /* a malformed parameter, or a token this server did not issue
                            (M_INVALID_PARAM) */
    ROOM_INCOMPATIBLE,   /* the room's version is not among those the other server supports */
    ROOM_UNAUTHORISABLE, /* a restricted room's conditions cannot be checked here */
    ROOM_CANNOT_GRANT,   /* they are met, but no local member may vouch: ask another server */
};

/* The HTTP status and errcode (*errcode, static) both APIs answer a room_rc with; 0 (and
 * NULL) for ROOM_OK and ROOM_ERR (an internal error: 500). */
int room_rc_http(int rc, const char **errcode);

/* A client's transaction: the same (device, txn_id) returns the first event again. txn_id is
 * a key of server/room_txn.h (the txnId and the request path it came on), compared only. */
struct room_txn {
    const char *device_id, *txn_id;
};

/* Called after each event is committed (stream ordering, room, PDU borrowed): local sends and
 * accepted events received from other servers alike (a federation sender must pick the
 * local ones: ids_is_local of the sender). */
typedef void (*room_listener)(int64_t stream, const char *room_id, const json_t *pdu);

/* Start-up: the server's name, signing key and default room version, and a listener. */
void room_init(const char *server_name, const struct sign_key *key,
               const char *default_room_version, room_listener listener);

/* POST /createRoom: `req` is the request body (borrowed, validated here). On ROOM_OK sets
 * *room_id (malloc'd). Errors explain themselves in why. */
enum room_rc room_create(const char *creator, json_t *req, char **room_id, char *why, size_t n);

/* Append an event authored by a local user: `state_key` NULL for a message event;
 * `content` borrowed. On ROOM_OK sets *event_id (malloc'd). An m.room.canonical_alias must
 * name aliases that point to the room (ROOM_BAD_ALIAS, ROOM_BAD_PARAM for bad syntax). */
enum room_rc room_send(const char *room_id, const char *sender, const char *type,
                       const char *state_key, json_t *content, const struct room_txn *txn,
                       char **event_id, char *why, size_t n);

/* Redact `target` with an m.room.redaction from `sender` (the target's own sender, or a
 * user with the redact power level); the reason is optional. */
enum room_rc room_redact(const char *room_id, const char *sender, const char *target,
                         const char *reason, const struct room_txn *txn, char **event_id,
                         char *why, size_t n);

/* Membership change by `sender` for `target` ("join", "invite", "leave", "ban", "knock"),
 * with an optional reason; joins and invites carry the target's profile. */
enum room_rc room_membership(const char *room_id, const char *sender, const char *target,
                             const char *membership, const char *reason, json_t *extra,
                             char **event_id, char *why, size_t n);

/* POST /kick: like room_membership(.., "leave", ..), but only of a user who is in the room
 * (joined, invited or knocking); anyone else is ROOM_FORBIDDEN (spec: "The kickee is not
 * currently in the room"), and nothing is written. */
enum room_rc room_kick(const char *room_id, const char *sender, const char *target,
                       const char *reason, char **event_id, char *why, size_t n);

/* The room version of a room (malloc'd), or NULL if unknown. */
char *room_version_of(const char *room_id);

/* Client-format event (spec "ClientEvent") of a stored PDU: content, event_id,
 * origin_server_ts, room_id, sender, state_key, type and unsigned (age, redacted_because,
 * transaction_id when `txn_device` sent it). New reference. */
json_t *room_client_event(const json_t *pdu, const char *event_id, const char *room_id,
                          const char *redacted_by, int64_t now_ms);

/* --- events from other servers (server/room_receive.c) ----------------------------------- */

/* What became of a received PDU (Server-Server API "Checks performed on receipt of a PDU"). */
enum room_recv {
    ROOM_RECV_ERR = -1,       /* internal error (logged); nothing stored: try again later */
    ROOM_RECV_ACCEPTED = 0,   /* stored, in the timeline, current state updated */
    ROOM_RECV_DUPLICATE,      /* already stored (in whatever standing it got then) */
    ROOM_RECV_REJECTED,       /* steps 4/5 failed: stored as rejected, never shown */
    ROOM_RECV_SOFT_FAILED,    /* step 6 failed: stored with its state, not shown, no extremity */
    ROOM_RECV_DROPPED,        /* steps 1/2 failed (format, signatures): not stored */
    ROOM_RECV_RETRY,          /* a signing key could not be fetched now: not stored */
    ROOM_RECV_MISSING_AUTH,   /* some auth_events are unknown: *missing lists them */
    ROOM_RECV_MISSING_PREV,   /* some prev_events are unknown, or known only as outliers (no
                                 state): *missing lists them */
    ROOM_RECV_UNKNOWN_ROOM,   /* this server is not in the room */
};

/* How the engine may ask other servers for events (the Server-Server API's /event,
 * /get_missing_events, /state_ids); federation/ registers it at start-up (server/ includes no
 * federation/ header, STYLE.md s.1). Every member may be NULL: "not available". Each returns
 * a new reference (NULL: failed) and may block on the network: the engine calls them outside
 * any room lock. The PDUs returned are untrusted: the engine checks them like any other. */
struct room_fetcher {
    /* GET /event/{event_id} from `server`: the PDU. */
    json_t *(*get_event)(void *ctx, const char *server, const char *room_id,
                         const char *event_id);
    /* POST /get_missing_events/{room_id}: up to `limit` PDUs between earliest_events
     * (borrowed array of IDs) and latest_events, not below min_depth. An array. */
    json_t *(*get_missing_events)(void *ctx, const char *server, const char *room_id,
                                  const json_t *earliest_events, const json_t *latest_events,
                                  int limit, int64_t min_depth);
    /* GET /state_ids/{room_id}?event_id=: {"pdu_ids": [...], "auth_chain_ids": [...]}. */
    json_t *(*get_state_ids)(void *ctx, const char *server, const char *room_id,
                             const char *event_id);
    /* GET /backfill/{room_id}?v=...&limit=: the PDUs (an array) of `server` from the events
     * `from` (borrowed array of IDs) backwards. */
    json_t *(*backfill)(void *ctx, const char *server, const char *room_id, const json_t *from,
                        int limit);
    void *ctx;
};
/* Start-up: register the fetcher (copied; NULL: none). */
void room_set_fetcher(const struct room_fetcher *f);
/* The registered fetcher (all members NULL when none). */
const struct room_fetcher *room_fetcher(void);

/* Receive one full PDU that `origin` sent (a /send transaction, a backfilled or fetched event),
 * in a room this server is in. Runs the spec's checks in order: 1 format and sizes, 2
 * signatures (server/pdu.c, keys through server/keyring.h), 3 content hash (mismatch: the
 * redacted copy goes on), then under the room's writer lock 4 auth against its auth_events,
 * 5 auth against the state before it (the resolution of the states after its prev_events), 6
 * auth against the current state (soft failure). An accepted event gets its state group, the
 * room's forward extremities and current state follow it (current state = the resolution of
 * the states at the extremities when it joins a fork), and /sync and pushes hear of it as of a
 * local send. `pdu` is borrowed. *event_id (malloc'd) is set once the ID is known (anything
 * but DROPPED for a malformed event, ERR, UNKNOWN_ROOM); *missing (new array of event IDs) on
 * MISSING_AUTH / MISSING_PREV; `missing` may be NULL. why explains anything but ACCEPTED. */
enum room_recv room_receive_pdu(const char *origin, const json_t *pdu, char **event_id,
                                json_t **missing, char *why, size_t n);

/* One event fetched from another server (an auth event another event needs) stored as an
 * outlier of room_id, a room this server is in: steps 1-4 (format, signatures, hash, auth
 * against its own auth events: stored rejected when that fails), no state, no timeline.
 * ACCEPTED (stored), REJECTED, DUPLICATE, DROPPED, RETRY, MISSING_AUTH (*missing: its own
 * unknown auth events), UNKNOWN_ROOM, ERR. A later room_receive_pdu of the same event places
 * it in the timeline. */
enum room_recv room_receive_outlier(const char *origin, const char *room_id, const json_t *pdu,
                                    char **event_id, json_t **missing, char *why, size_t n);

/* room_receive_pdu with the registered fetcher's help (federation's /send handler calls this
 * outside any lock): on MISSING_AUTH the missing auth events are fetched from `origin`
 * (get_event) and stored as outliers, their own missing auth events first; on MISSING_PREV
 * the events between the room's extremities and the PDU are asked for (get_missing_events,
 * ROOM_FETCH_MISSING_LIMIT at a time) and received the same way, shallowest first, up to
 * ROOM_FETCH_DEPTH levels; then the PDU is tried again (ROOM_FETCH_ROUNDS times at most;
 * ROOM_FETCH_BUDGET fetches in all). When get_missing_events cannot close the gap, the state
 * before each missing prev event is asked for (get_state_ids, then get_event for the events
 * not stored here) and the prev event is stored as an outlier with that state, so the PDU
 * can be placed. Without a fetcher it is room_receive_pdu. Answers as room_receive_pdu. */
#define ROOM_FETCH_MISSING_LIMIT 10
#define ROOM_FETCH_DEPTH 3
#define ROOM_FETCH_ROUNDS 4
#define ROOM_FETCH_BUDGET 100
#define ROOM_FETCH_STATE_MAX 20000 /* state and auth chain events of one /state_ids answer */
enum room_recv room_receive_pdu_fetching(const char *origin, const json_t *pdu, char **event_id,
                                         char *why, size_t n);

/* The send_join flow (Server-Server API "Joining Rooms"): store `state` and `auth_chain`
 * (arrays of PDUs, borrowed) of room `room_id` in version `room_version` as outliers, each
 * checked (steps 1-4: format, signatures, hash, auth against its own auth_events; events that
 * fail step 4 are stored rejected and left out of the state), then the `join` event (this
 * server's, signed by the resident server too) as the room's first timeline event, whose
 * state before is `state`: it is checked (steps 1-5) and persisted with its state group; the
 * room row is created if new, extremities become {join}, current state the state after it.
 * Returns ROOM_RECV_ACCEPTED, ROOM_RECV_DROPPED / REJECTED (the join itself failed; nothing
 * is kept of the room then), ROOM_RECV_MISSING_AUTH (an event's auth event is in neither
 * list nor stored), ROOM_RECV_RETRY, ROOM_RECV_ERR. For v1-11 room_id must be the join's;
 * for v12 the create event among `state` names the room. */
enum room_recv room_receive_state(const char *room_id, const char *room_version,
                                  const json_t *state, const json_t *auth_chain,
                                  const json_t *join, char **event_id, char *why, size_t n);

/* --- membership handshakes as the resident server (server/room_fed.c) ---------------------- */

/* GET /make_join, /make_leave, /make_knock (Server-Server API "Joining Rooms", "Leaving Rooms",
 * "Knocking upon a room"): the unsigned template of user_id's `membership` event ("join",
 * "leave", "knock") in room_id, for `origin` (user_id must be of that server: ROOM_FORBIDDEN).
 * `versions` (borrowed array of strings, NULL for leave) are those the other server supports
 * ("1" when empty). On ROOM_OK *event (new object) and *room_version (malloc'd); on
 * ROOM_INCOMPATIBLE *room_version names the room's version. ROOM_NOT_FOUND (this server is not
 * in the room), ROOM_FORBIDDEN (the rules refuse it, or a restricted join's user is in none of
 * the allowed rooms), ROOM_UNAUTHORISABLE (this server is in none of them), ROOM_CANNOT_GRANT
 * (no local member may vouch for a user who qualifies), ROOM_ERR. */
enum room_rc room_make_membership(const char *origin, const char *room_id, const char *user_id,
                                  const char *membership, const json_t *versions, json_t **event,
                                  char **room_version, char *why, size_t n);

/* PUT /send_join, /send_leave, /send_knock (v2): check that `pdu` (borrowed) is `origin`'s
 * user's `membership` event of room_id with ID event_id, countersign a restricted join this
 * server authorised (join_authorised_via_users_server), and receive it (room_receive_pdu).
 * On ROOM_OK: *signed (new: the PDU as accepted, with our signature when we added one) and,
 * for a join, *state (the current state before it, PDUs) and *auth_chain (theirs and the
 * join's); for a knock, *state is the knock_room_state. ROOM_BAD_PARAM (not such an event),
 * ROOM_NOT_FOUND, ROOM_FORBIDDEN (rejected or soft failed), ROOM_ERR. */
enum room_rc room_send_membership(const char *origin, const char *room_id, const char *event_id,
                                  const char *membership, const json_t *pdu, json_t **signed_ev,
                                  json_t **state, json_t **auth_chain, char *why, size_t n);

/* Called after a join, leave or knock of `origin`'s user was accepted through send_join,
 * send_leave or send_knock here (`pdu` borrowed, as accepted): the resident server passes it
 * on to the room's other servers but origin (Server-Server API "Joining Rooms": "the resident
 * server ... sends the event to the other servers in the room"). The outbound transaction
 * queue registers it at start-up; NULL: not passed on. */
typedef void (*room_relay_fn)(const char *room_id, const json_t *pdu, const char *origin);
void room_set_relay(room_relay_fn fn);

/* PUT /invite (v2): `origin` invites one of our users: check `pdu` (signatures, type, sender
 * of origin, state_key a local user, ID event_id), sign it, remember the invite with the
 * stripped form of invite_room_state for the invitee's /sync, and receive it too when this
 * server is in the room. On ROOM_OK *signed (new). ROOM_INCOMPATIBLE (unknown version),
 * ROOM_BAD_PARAM, ROOM_FORBIDDEN (no such user), ROOM_ERR. */
enum room_rc room_receive_invite(const char *origin, const char *room_id, const char *event_id,
                                 const char *room_version, const json_t *pdu,
                                 const json_t *invite_room_state, json_t **signed_ev, char *why,
                                 size_t n);

/* The stripped-state PDUs other servers and invitees get (invite_room_state,
 * knock_room_state): create, join rules, name, avatar, canonical alias, topic, encryption.
 * New array, or NULL on error. */
json_t *room_stripped_pdus(const char *room_id);

/* The content of room_id's current m.room.server_acl (new), or NULL when it has none. */
json_t *room_server_acl(const char *room_id);

/* The servers of room_id's joined members (current state), this one included when it is in
 * the room; new sorted array of server names, NULL on error. The outbound transaction queue
 * sends a local event to each of these but this server. */
json_t *room_servers(const char *room_id);

/* --- events served to other servers (server/room_serve.c) --------------------------------- */
/* Server-Server API "Retrieving events" and "Backfilling and retrieving missing events", as
 * the room's history visibility allows `origin` (the authenticated server; room_serve.c's
 * header has the rules). PDUs are in the federation format, without "unsigned"; an event the
 * origin may not see is served redacted. Each returns ROOM_OK with a new *out,
 * ROOM_NOT_FOUND (unknown room or event, or no state known at it), ROOM_FORBIDDEN (origin
 * has no joined user in the room and it is not world_readable), ROOM_ERR. The room's server
 * ACL is for the caller to apply. */

/* GET /event/{eventId}: the PDU, and its room (malloc'd) for the ACL. */
enum room_rc room_fed_event(const char *origin, const char *event_id, json_t **pdu,
                            char **room_id, char *why, size_t n);
/* GET /state and /state_ids: the state before event_id (the resolution of the states after
 * its prev events) and its auth chain: {"pdus", "auth_chain"} or, ids_only, {"pdu_ids",
 * "auth_chain_ids"}. */
enum room_rc room_fed_state(const char *origin, const char *room_id, const char *event_id,
                            bool ids_only, json_t **out, char *why, size_t n);
/* GET /event_auth: {"auth_chain": [...]} of event_id. */
enum room_rc room_fed_event_auth(const char *origin, const char *room_id, const char *event_id,
                                 json_t **out, char *why, size_t n);
/* POST /get_missing_events: breadth first through the prev_events of latest_events (borrowed
 * array of IDs), never through earliest_events, at most `limit` events of depth >= min_depth;
 * *events a new array, the oldest first. */
enum room_rc room_fed_missing(const char *origin, const char *room_id, const json_t *earliest,
                              const json_t *latest, int limit, int64_t min_depth,
                              json_t **events, char *why, size_t n);
/* GET /backfill: the events `from` (borrowed array of IDs) and those before them, the deepest
 * first, at most `limit`; *pdus a new array. */
enum room_rc room_fed_backfill(const char *origin, const char *room_id, const json_t *from,
                               int limit, json_t **pdus, char *why, size_t n);

/* --- backfill from other servers (server/room_backfill.c) --------------------------------- */
/* Extend room_id's history backwards: when its earliest timeline event has prev events this
 * server lacks, ask the room's other servers (the registered fetcher's backfill, at most
 * ROOM_BACKFILL_SERVERS of them, each bounded in time by the fetcher) for up to `limit` events
 * before it (ROOM_BACKFILL_MAX at most), check each (format, signatures, hash, auth against
 * its own auth events) and store the accepted ones in the timeline below everything there
 * (negative stream orderings, storage/backfill.h): they never change current state or
 * extremities, never reach /sync as new, and are read with the state before the earliest
 * event the room had. Returns how many events were stored (0: nothing to do or nothing got),
 * -1 on error. Blocks on the network; call it without a database connection held. */
#define ROOM_BACKFILL_MAX 100
#define ROOM_BACKFILL_SERVERS 3
int room_backfill(const char *room_id, int limit);
/* Would room_backfill ask anyone (a fetcher is registered, the earliest event has prev events
 * not here, and the room's last backfill did not come back empty in the last 30 s)? Reads
 * the database only: for /messages to decide whether to wait on other servers. */
bool room_backfill_wanted(const char *room_id);

/* --- membership in rooms on other servers (server/room_remote.c) --------------------------- */

/* An error another server answered, passed through to the client (status 0: none). */
struct room_remote_err {
    int status;
    char errcode[64];
};

/* Join or knock (`membership`) user_id into room_id through another server: make_join /
 * send_join v2 (or make_knock / send_knock) with the servers in `servers` (borrowed array,
 * may be NULL), then the room ID's server (v1-11), then those of a remembered invite or knock,
 * first answer wins. A join stores the answer's state and auth chain (room_receive_state): the
 * room and the join then appear in the user's /sync. When this server is already in the room
 * it is room_membership. `reason` may be NULL. On failure *err holds what the other server
 * answered (passed through), or why explains. */
enum room_rc room_join_remote(const char *room_id, const char *user_id, const char *membership,
                              const char *reason, const json_t *servers, char **event_id,
                              struct room_remote_err *err, char *why, size_t n);

/* Leave room_id: when this server is in the room, room_membership's leave, then (until the
 * outbound transaction queue carries it) the leave is handed to the room's other servers with
 * /send_leave; when user_id only has a remote invite or knock, the rejection goes through
 * make_leave / send_leave v2 with the servers remembered with it. */
enum room_rc room_leave_remote(const char *room_id, const char *user_id, const char *reason,
                               char **event_id, struct room_remote_err *err, char *why, size_t n);

/* Invite a user of another server: the invite is built here (content: membership, the
 * fields of `extra` (borrowed, may be NULL; e.g. is_direct) and the reason), signed by the
 * invitee's server (PUT /invite v2) and then received into the room like any PDU. */
enum room_rc room_invite_remote(const char *room_id, const char *sender, const char *target,
                                const char *reason, const json_t *extra, char **event_id,
                                struct room_remote_err *err, char *why, size_t n);

/* Resolve a room alias of another server (GET /query/directory): *room_id (malloc'd) and
 * *servers (new array). ROOM_NOT_FOUND, ROOM_FORBIDDEN (federation refused), ROOM_ERR. */
enum room_rc room_alias_remote(const char *alias, char **room_id, json_t **servers, char *why,
                               size_t n);

/* Is this server in room_id (a local user joined there)? */
bool room_is_resident(const char *room_id);

/* --- reads (server/roomread.c), with the spec's visibility rules ------------------------- */

/* Room IDs the user has joined (new array). */
enum room_rc room_joined_rooms(const char *user_id, json_t **out);
/* All current state as client events (new array); members and former members (state as of
 * their leaving) only, or anyone in a world_readable room. */
enum room_rc room_state(const char *room_id, const char *user_id, json_t **out, char *why,
                        size_t n);
/* The content of one state event (new reference). */
enum room_rc room_state_event(const char *room_id, const char *user_id, const char *type,
                              const char *state_key, json_t **out, char *why, size_t n);
/* One event as a client event, if the user may see it (history visibility). */
enum room_rc room_event(const char *room_id, const char *user_id, const char *event_id,
                        json_t **out, char *why, size_t n);
/* /members: member events (client format) now, or as of the pagination token `at` (may be
 * NULL), filtered by membership / not_membership. */
enum room_rc room_members(const char *room_id, const char *user_id, const char *at,
                          const char *membership, const char *not_membership, json_t **out,
                          char *why, size_t n);
/* /joined_members: {user_id: {display_name, avatar_url}} of joined users. */
enum room_rc room_joined_members(const char *room_id, const char *user_id, json_t **out,
                                 char *why, size_t n);
/* /messages: dir 'b' or 'f', from/to tokens (NULL: the natural ends), limit, filter
 * (RoomEventFilter, borrowed, may be NULL). *out = {start, end?, chunk}. Reads what this
 * server has; a page that reaches its earliest event without `end` may want room_backfill
 * (room_backfill_wanted) and a second read. */
enum room_rc room_messages(const char *room_id, const char *user_id, const char *from,
                           const char *to, char dir, int limit, json_t *filter, json_t **out,
                           char *why, size_t n);
/* /context: events around event_id (limit split before/after), the event, the state. */
enum room_rc room_context(const char *room_id, const char *user_id, const char *event_id,
                          int limit, json_t *filter, json_t **out, char *why, size_t n);
/* /relations: children of `parent` (rel_type and event_type optional), paginated. */
enum room_rc room_relations(const char *room_id, const char *user_id, const char *parent,
                            const char *rel_type, const char *event_type, const char *from,
                            char dir, int limit, bool recurse, json_t **out, char *why,
                            size_t n);
/* How many steps of relations `recurse` follows (the spec suggests at least 3). */
#define RELATIONS_RECURSION 3
/* /timestamp_to_event: {event_id, origin_server_ts} nearest ts in direction dir. */
/* The same for another server (GET /_matrix/federation/v1/timestamp_to_event): answered
 * when one of its users is joined to the room (else ROOM_FORBIDDEN). */
enum room_rc room_timestamp_server(const char *room_id, const char *server, int64_t ts, char dir,
                                   json_t **out, char *why, size_t n);
enum room_rc room_timestamp(const char *room_id, const char *user_id, int64_t ts, char dir,
                            json_t **out, char *why, size_t n);
/* /threads: the room's thread roots (client events with their bundled m.thread summary), most
 * recently active first; `participated`: only threads the user started or replied to; `from`
 * is a previous next_batch (NULL: start). *out = {chunk, next_batch?}. */
enum room_rc room_threads(const char *room_id, const char *user_id, bool participated,
                          const char *from, int limit, json_t **out, char *why, size_t n);
/* /hierarchy (server/spaces.c): the rooms of a space the user may see, breadth first, at
 * most max_depth levels down, `limit` per page from the offset token `from` (NULL: start).
 * *out = {rooms, next_batch?}. ROOM_FORBIDDEN when the root is not visible. */
enum room_rc room_hierarchy(const char *root, const char *user_id, bool suggested_only,
                            int limit, int max_depth, const char *from, json_t **out,
                            char *why, size_t n);
/* The federation form (GET /_matrix/federation/v1/hierarchy): `root` and its direct
 * children as `server` may see them (public, knockable, world-readable, or with a joined user
 * of that server, directly or, for restricted rooms, in a room of the allow list). *out =
 * {room (with children_state), children, inaccessible_children}; children unknown here are
 * left out. ROOM_NOT_FOUND when the root is unknown or not visible to the server. */
enum room_rc room_hierarchy_server(const char *root, const char *server, bool suggested_only,
                                   json_t **out, char *why, size_t n);
/* Room summary (MSC3266 / v1.15): for members, invitees, and rooms one could join or peek. */
enum room_rc room_summary(const char *room_id, const char *user_id, json_t **out, char *why,
                          size_t n);
/* /forget: only after leaving. */
enum room_rc room_forget(const char *room_id, const char *user_id, char *why, size_t n);

/* --- server/roomadmin.c, server/room_upgrade.c -------------------------------------------------------------------- */

/* Upgrade to new_version (server/room_upgrade.c): the replacement room's ID (malloc'd) on
 * ROOM_OK. additional_creators (borrowed array of user IDs, may be NULL) names the new room's
 * other creators when new_version has them (v12+), and is ignored otherwise. */
enum room_rc room_upgrade(const char *room_id, const char *user_id, const char *new_version,
                          json_t *additional_creators, char **replacement, char *why, size_t n);
/* The room's visibility in the public room directory. */
enum room_rc room_visibility(const char *room_id, bool *is_public);
/* Publish or unpublish: admins, or users who may set the canonical alias. */
enum room_rc room_set_visibility(const char *room_id, const char *user_id, bool is_admin,
                                 bool is_public, char *why, size_t n);
/* /publicRooms: published rooms, `since` an "o<offset>" token. */
enum room_rc room_public_rooms(const char *search, const char *since, int limit, json_t **out,
                               char *why, size_t n);
/* Report a room (event_id NULL) or an event the reporter can see. */
enum room_rc room_report(const char *room_id, const char *user_id, const char *event_id,
                         const char *reason, int score, bool has_score, char *why, size_t n);

/* Aliases (local ones). */
enum room_rc room_alias_set(const char *alias, const char *room_id, const char *user_id,
                            char *why, size_t n);
enum room_rc room_alias_get(const char *alias, char **room_id);
/* Delete: the alias's creator or a user with power to change m.room.canonical_alias. */
enum room_rc room_alias_delete(const char *alias, const char *user_id, bool is_admin, char *why,
                               size_t n);
enum room_rc room_aliases(const char *room_id, const char *user_id, json_t **out, char *why,
                          size_t n);

#endif
