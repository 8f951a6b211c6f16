/* notify.h - the stream position and the notifier that wakes waiting /sync requests.
 *
 * Writers that take positions from the stream (events, receipts, account data, to-device
 * messages, device-list changes) bracket their transaction with notify_begin/notify_end and
 * say what they touched with notify_room/notify_user; readers take notify_position() as the
 * upper bound of what they may show. Waiters (suspended /sync requests) are woken when
 * something they care about reaches that bound. Typing lives only here (in memory). */
#ifndef AMTSBOTE_NOTIFY_H
#define AMTSBOTE_NOTIFY_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Start the timeout thread. `stream_max` is the highest position already in the database
 * (storage: db_stream_max). 0 or -1. */
int notify_start(int64_t stream_max);
/* Wake every waiter (their requests answer at once) and stop the thread; from then on
 * notify_wait wakes at once. Safe to call twice. */
void notify_stop(void);
/* Requests parked in notify_wait now (for the metrics). */
long notify_waiters(void);
/* Release everything (after the HTTP front has stopped: no writer or reader is left). */
void notify_cleanup(void);
/* True once notify_stop has begun: long-polls should answer rather than park. */
bool notify_stopping(void);

/* --- writers --------------------------------------------------------------------------- */

/* Register a transaction that may take stream positions; call before its first nextval.
 * Every ticket must be ended exactly once. Returns the ticket (never fails). */
struct notify_ticket *notify_begin(void);
/* What a touch changed, so a sync can skip the reads that cannot have news. */
enum notify_kind {
    NOTIFY_EVENT = 1 << 0,    /* a room event */
    NOTIFY_RECEIPT = 1 << 1,  /* a receipt in a room */
    NOTIFY_ACCOUNT = 1 << 2,  /* account data of a user */
    NOTIFY_PRESENCE = 1 << 3, /* presence of a user */
    NOTIFY_INBOX = 1 << 4,    /* a to-device message for a user */
    NOTIFY_DEVICES = 1 << 5,  /* a device list changed */
    NOTIFY_MEMBER = 1 << 6,   /* a member event (with NOTIFY_EVENT): who shares a room moved */
    /* set only for the events of a room's timeline (the room engine's batches), with
     * NOTIFY_EVENT; sliding sync keeps its room list in order from them (notify_moves) */
    NOTIFY_TIMELINE = 1 << 7,
    NOTIFY_BUMP = 1 << 8,    /* an event type that counts as activity (MSC4186 bump_stamp) */
    NOTIFY_ENCRYPT = 1 << 9, /* m.room.encryption (state key "") */
    NOTIFY_ALL = 0x3ff,
};
/* The NOTIFY_TIMELINE, NOTIFY_BUMP and NOTIFY_ENCRYPT bits for a room event of this type and
 * state key (NULL: not a state event). */
unsigned notify_event_kinds(const char *type, const char *state_key);
/* The event types of NOTIFY_BUMP (static storage; *n of them). */
const char *const *notify_bump_types(size_t *n);
/* Record what the transaction wrote at position `pos`: a room (room_id, and `user_id` when
 * the change concerns one user in particular, e.g. the target of a member event) or only a
 * user (room_id NULL: account data, to-device). Strings are copied. */
void notify_touch(struct notify_ticket *t, int64_t pos, const char *room_id, const char *user_id,
                  unsigned kind);
/* The transaction is over (committed or not). Committed touches become visible, in stream
 * order, once no earlier ticket is still open; waiters that match are woken then. */
void notify_end(struct notify_ticket *t, bool committed);

/* --- readers --------------------------------------------------------------------------- */

/* The highest position below which every transaction has finished: reads up to it are
 * complete and never change afterwards. */
int64_t notify_position(void);

/* What changed in (since, upto]: *user_kinds for touches naming user_id, and in `rooms`
 * (an object, filled) room_id -> kinds for every room touched. Returns 0, or -1 when the
 * notifier no longer remembers that far back (then assume everything changed). */
int notify_changes(const char *user_id, int64_t since, int64_t upto, unsigned *user_kinds,
                   json_t *rooms);

/* As notify_changes, and in `moves` (an object, filled) for every room with timeline events
 * in (since, upto] (touches with NOTIFY_TIMELINE; `moves` NULL: as notify_changes): room_id -> [last, bump, kinds], the newest
 * such position, the newest of an activity event (0: none), and the OR of their kinds; null
 * for a room also touched with NOTIFY_EVENT without NOTIFY_TIMELINE in the range (its
 * positions are not known here: read them). 0, or -1 as notify_changes. */
int notify_moves(const char *user_id, int64_t since, int64_t upto, unsigned *user_kinds,
                 json_t *rooms, json_t *moves);

/* A parked /sync. `rooms` are the rooms whose changes concern it (sorted by notify_wait). */
typedef void (*notify_wake_fn)(void *arg);
/* Park until anything for user_id (or in one of `rooms`, an array of room IDs, borrowed only
 * during the call) moves past `pos` / `typing`, or until timeout_ms passes; then call
 * wake(arg) once, from another thread. If something already moved, wake is called before
 * this returns. Waiters are never cancelled: a client that went away is answered (into the
 * void) at its timeout. */
void notify_wait(const char *user_id, json_t *rooms, int64_t pos, int64_t typing,
                                  int64_t timeout_ms, notify_wake_fn wake, void *arg);

/* --- typing (Client-Server API "Typing Notifications") --------------------------------- */

/* Set or clear a user's typing flag in a room (timeout_ms bounded by the caller). */
void notify_typing_set(const char *room_id, const char *user_id, bool typing, int64_t timeout_ms);
/* The current typing serial (changes with every typing change and expiry). */
int64_t notify_typing_serial(void);
/* The users typing in room_id now (new array) if it changed after `since` (or always when
 * since < 0); NULL when unchanged. */
json_t *notify_typing_get(const char *room_id, int64_t since);

#endif
