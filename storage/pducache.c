/* pducache.c - a direct-mapped cache of parsed state-event PDUs by event ID.
 *
 * Invariants:
 *  1. An event's stored JSON changes only when it is redacted, so an entry is keyed by the
 *     event ID *and* the redaction that applies to it: a lookup with another redaction state
 *     (also one made by another server process) misses and the caller parses what the
 *     database holds. Nothing can be served stale.
 *  2. Entries are private deep copies, and lookups hand out deep copies: callers may change
 *     what they get, and no jansson object is shared between threads.
 *  3. Bounded: SLOTS entries; a colliding put replaces the slot. */
#include "storage/pducache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096 /* a power of two */
#define STRIPES 16

struct slot {
    char *event_id, *redacted_by; /* malloc'd; redacted_by may be NULL */
    json_t *pdu;
};

static struct slot slots[SLOTS];
static pthread_mutex_t locks[STRIPES] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER};

static uint32_t slot_of(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (SLOTS - 1);
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

json_t *pducache_get(const char *event_id, const char *redacted_by)
{
    uint32_t i = slot_of(event_id);
    pthread_mutex_t *m = &locks[i % STRIPES];
    json_t *out = NULL;
    pthread_mutex_lock(m);
    struct slot *s = &slots[i];
    if (s->event_id && strcmp(s->event_id, event_id) == 0 && same(s->redacted_by, redacted_by))
        out = json_deep_copy(s->pdu);
    pthread_mutex_unlock(m);
    return out;
}

void pducache_put(const char *event_id, const char *redacted_by, const json_t *pdu)
{
    uint32_t i = slot_of(event_id);
    json_t *copy = json_deep_copy(pdu);
    char *id = strdup(event_id), *red = redacted_by ? strdup(redacted_by) : NULL;
    if (!copy || !id || (redacted_by && !red)) {
        json_decref(copy);
        free(id);
        free(red);
        return;
    }
    pthread_mutex_t *m = &locks[i % STRIPES];
    pthread_mutex_lock(m);
    struct slot *s = &slots[i];
    struct slot old = *s;
    s->event_id = id;
    s->redacted_by = red;
    s->pdu = copy;
    pthread_mutex_unlock(m);
    free(old.event_id);
    free(old.redacted_by);
    json_decref(old.pdu);
}

void pducache_free(void)
{
    for (uint32_t i = 0; i < SLOTS; i++) {
        pthread_mutex_lock(&locks[i % STRIPES]);
        free(slots[i].event_id);
        free(slots[i].redacted_by);
        json_decref(slots[i].pdu);
        memset(&slots[i], 0, sizeof slots[i]);
        pthread_mutex_unlock(&locks[i % STRIPES]);
    }
}
