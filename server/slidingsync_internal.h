/* slidingsync_internal.h - what server/slidingsync.c (lists, subscriptions, extensions) and
 * server/slidingsync_room.c (one room's result) share. Not for use elsewhere. */
#ifndef AMTSBOTE_SLIDINGSYNC_INTERNAL_H
#define AMTSBOTE_SLIDINGSYNC_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/slidingsync.h"
#include "storage/db.h"

/* One computation. */
struct ss_ctx {
    const struct ss_req *q;
    struct dbc *c;
    int64_t since, upto, now; /* since: the snapshot's upto (0 for a new connection) */
    json_t *direct;           /* {room_id: true} from m.direct */
};

/* One room to answer for: its row of db_ss_rooms (borrowed), the combined room config, and
 * what the connection last sent of it (borrowed; NULL: never). */
struct ss_room {
    const char *room_id;
    const json_t *row;
    int timeline_limit;
    json_t *required_state; /* array of [type, state_key] (borrowed) */
    const char *rs_key;     /* its canonical form, to see it change */
    const json_t *prev;
};

/* The results of the n rooms of `list`, added to `rooms` (object, room_id -> result) for those
 * with something to say, and their snapshot entries to `sent` (room_id -> entry; carried over
 * for the others). 0 or -1. */
int ss_rooms_build(struct ss_ctx *x, struct ss_room *list, size_t n, json_t *rooms,
                   json_t *sent);

/* Extensions (server/slidingsync_ext.c), into `exts`; *news is set when one has something
 * to say. `where`: room_id -> {"lists": [names], "sub": bool} of the selected rooms;
 * `rooms_out`: the room results of this response. 0 or -1. */
int ss_ext_keys(struct ss_ctx *x, json_t *exts, bool *news);
int ss_ext_rooms(struct ss_ctx *x, const json_t *where, const json_t *rooms_out,
                 int64_t typing_since, json_t *exts, bool *news);

#endif
