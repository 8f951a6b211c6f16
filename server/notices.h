/* notices.h - server notices: messages from the server's notices user to a local user in a
 * room of their own (Synapse's server_notices). */
#ifndef AMTSBOTE_NOTICES_H
#define AMTSBOTE_NOTICES_H
#include <jansson.h>
#include <stdbool.h>

#include "server/config.h"
#include "server/room.h"

/* Send `content` (borrowed) as an event of `type` (NULL: m.room.message; state_key non-NULL:
 * a state event) from the notices user to user_id's notices room, made when needed. `txn`
 * (may be NULL) makes a retransmission return the first event. On ROOM_OK *event_id
 * (malloc'd). ROOM_BAD_PARAM when notices are not configured or the user is not local,
 * ROOM_NOT_FOUND for an unknown user, or what room_send answers. */
enum room_rc notices_send(const struct config *cfg, const char *user_id, const char *type,
                          const char *state_key, json_t *content, const struct room_txn *txn,
                          char **event_id, char *why, size_t n);
/* Whether user_id is invited to room_id, their server-notices room (a client may not reject
 * that invite, as in Synapse). A database error answers false. */
bool notices_invite_pending(const char *room_id, const char *user_id);
#endif
