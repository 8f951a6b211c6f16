/* pducache.h - parsed PDUs of state events, kept so that the room writer does not parse the
 * same auth events (create, power levels, join rules, members) again for every event. */
#ifndef AMTSBOTE_STORAGE_PDUCACHE_H
#define AMTSBOTE_STORAGE_PDUCACHE_H
#include <jansson.h>

/* A deep copy (caller owns) of the PDU cached for event_id in the given redaction state
 * (redacted_by NULL: not redacted), or NULL when not cached. Thread-safe. */
json_t *pducache_get(const char *event_id, const char *redacted_by);
/* Cache a deep copy of pdu (borrowed) for event_id in that redaction state. */
void pducache_put(const char *event_id, const char *redacted_by, const json_t *pdu);
/* Drop everything (shutdown). */
void pducache_free(void);

#endif
