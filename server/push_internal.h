/* push_internal.h - what push.c (predefined rules, evaluation) shares with push_store.c
 * (stored rules, the /pushrules edits). Not for other files: server/push.h is the interface. */
#ifndef AMTSBOTE_PUSH_INTERNAL_H
#define AMTSBOTE_PUSH_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>

/* The rule kinds, in evaluation order; push_kinds holds their names. */
enum { K_OVERRIDE, K_CONTENT, K_ROOM, K_SENDER, K_UNDERRIDE, K_COUNT };
extern const char *const push_kinds[K_COUNT];

/* The index of a kind's name, or -1 (also for NULL). */
int push_kind_index(const char *kind);
/* Is rule_id a predefined rule of that kind? */
bool push_is_predefined(int kind, const char *rule_id);
/* Is s valid UTF-8 (jansson's test, which every JSON string must pass)? */
bool push_utf8_valid(const char *s);
/* A value event_property_is and event_property_contains compare: string, integer, boolean,
 * null ("non-compound canonical JSON values"). */
bool push_simple_value(const json_t *v);

#endif
