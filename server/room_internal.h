/* room_internal.h - what the room engine's files (room.c, roomread.c, roomadmin.c) share and
 * nobody else uses. */
#ifndef AMTSBOTE_ROOM_INTERNAL_H
#define AMTSBOTE_ROOM_INTERNAL_H
#include <stdbool.h>

#include "storage/db.h"

/* 1 if user_id is joined to room_id and its power level reaches what sending an event of
 * `type` (state or not) needs under the room's current state; 0 if not; -1 on error. */
int room_may_send(struct dbc *c, const char *room_id, const char *user_id, const char *type,
                  bool is_state);

#endif
