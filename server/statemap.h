/* statemap.h - keys of (type, state_key) pairs in state maps.
 *
 * A state map is a JSON object whose keys are statemap_key(type, state_key) and whose values
 * are event ID strings. The key "<bytes of type>:<type><state_key>" is unambiguous for any
 * strings (unlike a separator character, which an event type could contain). */
#ifndef AMTSBOTE_STATEMAP_H
#define AMTSBOTE_STATEMAP_H
#include <jansson.h>

/* malloc'd key; NULL on OOM. */
char *statemap_key(const char *type, const char *state_key);
/* Split a key into malloc'd *type and *state_key. Returns 0, or -1 if malformed. */
int statemap_split(const char *key, char **type, char **state_key);
/* Borrowed event ID for (type, state_key) in map, or NULL. */
const char *statemap_get(const json_t *map, const char *type, const char *state_key);
/* Set (type, state_key) -> event_id (copied). Returns 0 or -1. */
int statemap_set(json_t *map, const char *type, const char *state_key, const char *event_id);

#endif
