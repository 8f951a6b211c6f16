/* fakeremote.h - for unit tests that feed the receive path (server/room_receive.c) events of a
 * fake remote server against a real PostgreSQL: the remote's signing key and a key fetcher
 * that serves it, and small readers used while building PDUs (the depth of a stored event, a
 * room's current state event, an array of event IDs). Define REMOTE (its server name) before
 * including; include after tests/dbtest.h. Used by receive_test.c, syncfork_test.c and
 * readfork_test.c. */
#ifndef AMTSBOTE_FAKEREMOTE_H
#define AMTSBOTE_FAKEREMOTE_H
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "server/sign.h"
#include "storage/db.h"
#include "storage/events.h"
#include "storage/state.h"

#ifndef REMOTE
#error "define REMOTE before including tests/storage/fakeremote.h"
#endif

static struct sign_key remote; /* REMOTE's signing key: the test generates it */

/* A key fetcher (keyring_set_fetcher) that knows REMOTE's key and nothing else. */
static inline int fakeremote_lookup(void *ctx, const char *server, const char *key_id,
                                    int64_t min_ts, uint8_t pk[32])
{
    if (strcmp(server, REMOTE) == 0 && strcmp(key_id, remote.key_id) == 0) {
        memcpy(pk, remote.pk, 32);
        return 1;
    }
    return 0;
}

/* Depth of a stored event, 0 when it is not stored. */
static inline int64_t depth_of(const char *id)
{
    struct dbc *c = db_get();
    struct db_event e;
    int64_t d = 0;
    if (c && db_events_get(c, id, &e) == 1) {
        d = e.depth;
        db_event_clear(&e);
    }
    db_put(c);
    return d;
}

/* Current state event ID of (type, state_key) in a room (malloc'd) or NULL. */
static inline char *cur(const char *room, const char *type, const char *sk)
{
    struct dbc *c = db_get();
    char *id = NULL;
    if (c)
        db_current_state_get(c, room, type, sk, &id);
    db_put(c);
    return id;
}

/* The IDs (NULLs skipped) as a new array. */
static inline json_t *ids(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            json_array_append_new(a, json_string(v[i]));
    return a;
}
#define IDS(...)                                                                                   \
    ids((const char *const[]){__VA_ARGS__},                                                        \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

#endif
