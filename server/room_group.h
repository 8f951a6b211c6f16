/* room_group.h - receiving the PDUs of one inbound transaction that belong to one room with one
 * database commit (server/room_group.c). */
#ifndef AMTSBOTE_ROOM_GROUP_H
#define AMTSBOTE_ROOM_GROUP_H
#include <jansson.h>
#include <stddef.h>

#include "server/room.h"

/* One PDU of a group: the PDU (borrowed) in, its fate out. */
struct room_group_item {
    const json_t *pdu;
    char *event_id; /* malloc'd (the caller frees it), or NULL when none can be computed */
    enum room_recv rc;
    char why[300];
};

/* Receive n PDUs of room_id (each one's room_id is room_id; in their order) as n calls of
 * room_receive_pdu_fetching would, with the same outcome for each, but placing them in as few
 * database transactions as it can: steps 1-3 for all of them before the room's writer lock is
 * taken, then steps 4-6 for each inside a savepoint of one transaction, committed together
 * (ROOM_GROUP_MAX at most). An outcome that says stored (ACCEPTED, REJECTED, SOFT_FAILED) is
 * only set once its COMMIT succeeded. Outside any lock; may wait on the network (key lookups,
 * fetching what a PDU is missing). */
void room_receive_group(const char *origin, const char *room_id, struct room_group_item *items,
                        size_t n);

#endif
