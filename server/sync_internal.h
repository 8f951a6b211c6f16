/* sync_internal.h - what the two halves of /sync share: server/sync.c (the whole response:
 * sections, ephemeral, account data, to-device, device lists) and server/sync_room.c (one
 * room's timeline and state). Not for use outside them. */
#ifndef AMTSBOTE_SYNC_INTERNAL_H
#define AMTSBOTE_SYNC_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/sync.h"
#include "storage/db.h"

/* One computation of a response. */
struct sync_ctx {
    const struct sync_req *q;
    struct dbc *c;
    int64_t since, upto, now;
    int limit;
    bool lazy;               /* lazy_load_members */
    const json_t *fields;    /* event_fields, borrowed */
    bool federation_format;
    /* what changed since `since` (server/notify.h kinds); everything when unknown */
    bool known;
    unsigned user_kinds;
    json_t *room_kinds;
    /* a timeline filter that can turn events away (filter_event_narrows): state events of
     * the range may be missing from the timeline; groups {room_id: [g_since, g_upto]} (read
     * for a narrowing filter and for every incremental sync; else NULL) */
    bool narrow;
    json_t *groups;
    /* lazy-loading record of the device (migration 0020): `lazy_sent` {room_id: {state_key:
     * event_id}} what it has (NULL: nothing is left out), `lazy_new` the rows to record
     * (NULL: nothing is recorded) */
    json_t *lazy_sent, *lazy_new;
};

/* A {"events": events} object (events stolen). */
json_t *sync_events_wrap(json_t *events);

/* One joined or left room's object {timeline, state} from its rows (newest first, as
 * db_sync_timelines gives them; borrowed); NULL on error. *worth: it has something to say.
 * Notes the member events it sends in x->lazy_new. */
json_t *sync_room_entry(struct sync_ctx *x, const char *room_id, const json_t *member,
                        json_t *rows, bool from_scratch, bool *worth);

/* One row ({event_id, pdu, redacted_by, txn_id, related}, borrowed) as the client gets it
 * (event_format, event_fields of the filter; bundled aggregations). New reference. */
json_t *sync_format_event(struct sync_ctx *x, const char *room_id, json_t *row);

/* Step 1 alone (for sliding sync, server/slidingsync.c): the timeline of one room from its
 * rows (newest first, borrowed), visibility decided as for /sync: a new array of client
 * events, oldest first. Adds the senders to `senders`; sets *limited, and prev_batch (the
 * /messages token before the oldest event; "" when there is none). */
json_t *sync_room_timeline(struct sync_ctx *x, const char *room_id, json_t *rows,
                           const json_t *member, json_t *senders, bool *limited,
                           char *prev_batch, size_t n);

/* The member events of `users` (array of user IDs, borrowed) in state group `group`, as
 * db_state_group_members gives them (new object {user_id: event_id}, NULL on error), through
 * a bounded process-wide cache: a state group never changes, so what one request read serves
 * every other (the /sync and sliding sync requests one message wakes all ask it for the
 * sender). Thread-safe. */
json_t *sync_group_members(struct dbc *c, int64_t group, json_t *users);

#endif
