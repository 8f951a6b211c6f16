/* room_group.c - group commit of received PDUs (Server-Server API "Transactions", "Checks
 * performed on receipt of a PDU"): the PDUs of one inbound transaction that belong to the
 * same room are checked (steps 1-3, server/pdu.c) before the room's writer lock is taken, then
 * placed one after the other (steps 4-6 and persistence: room_recv_locked, server/
 * room_receive.c) in ONE database transaction holding that lock, each inside its own
 * savepoint, and committed together: one COMMIT (one WAL flush) for up to ROOM_GROUP_MAX PDUs
 * instead of one each.
 *
 * Invariants:
 *  1. Each PDU gets the outcome room_receive_pdu_fetching would give it in that order: the
 *     same checks, each PDU reading through a fresh event cache as room_receive_pdu does, and
 *     PDU i+1 sees what PDU i stored. A PDU whose outcome stores nothing (a duplicate, no prev
 *     events) rolls back to its savepoint and the group goes on.
 *  2. An outcome that says stored (ACCEPTED, REJECTED, SOFT_FAILED) is set only once the COMMIT
 *     that stores it succeeded; when that COMMIT fails, those PDUs and every later one of the
 *     group answer ROOM_RECV_ERR (transient: the sender retries the transaction).
 *  3. A PDU that needs other servers (MISSING_AUTH / MISSING_PREV), or that hit an internal
 *     error, ends the group: what came before it is committed and the lock released; that PDU
 *     goes through room_receive_pdu_fetching (which fetches outside any lock, and tries the
 *     PDU alone); the PDUs after it form the next group.
 *  4. At most ROOM_GROUP_MAX savepoints in one transaction, below PostgreSQL's 64 cached
 *     subtransaction IDs per backend.
 *  5. What the PDUs of a group share, to spare round trips, is only what cannot change under
 *     them: the entries of state groups read so far (a state group never changes once
 *     stored; their IDs are never reused), and the event cache (events of this room loaded
 *     or stored) as long as nothing rewrote a stored event. After each PDU its own entry
 *     leaves the cache (a redaction that came first may have rewritten it), and the whole
 *     cache is dropped after a state event or a redaction (which may rewrite others: the
 *     target, a leaving member's erased events) and after a PDU rolled back to its
 *     savepoint (what it left in the cache was never stored). The room's writer lock,
 *     held throughout, keeps every other writer of the room out. */
#include "server/room_group.h"
#include "server/room_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/pdu.h"
#include "storage/state.h"
#include "storage/rooms.h"

#define ROOM_GROUP_MAX 48
#define ROOM_GROUP_LOOKUPS 4096 /* state-group entries remembered in one group */

int room_recv_group_get(struct room_recv_ctx *x, int64_t group, const char *type,
                        const char *state_key, char **id)
{
    *id = NULL;
    /* the key: group, type and state_key joined by the unit separator; unambiguous as long
     * as the type has none (the auth rules ask for fixed types; any other is not kept) */
    if (!x->lookups || !type || !state_key || strchr(type, '\x1f'))
        return db_state_group_get(x->c, group, type, state_key, id);
    size_t need = strlen(type) + strlen(state_key) + 48;
    char *key = malloc(need);
    if (!key)
        return db_state_group_get(x->c, group, type, state_key, id);
    snprintf(key, need, "%lld\x1f%s\x1f%s", (long long)group, type, state_key);
    const json_t *hit = json_object_get(x->lookups, key);
    if (hit) {
        free(key);
        if (json_is_string(hit) && !(*id = strdup(json_string_value(hit))))
            return -1;
        return 0;
    }
    int rc = db_state_group_get(x->c, group, type, state_key, id);
    if (rc == 0 && json_object_size(x->lookups) < ROOM_GROUP_LOOKUPS)
        json_object_set_new(x->lookups, key, *id ? json_string(*id) : json_null());
    free(key);
    return rc;
}

static bool stored(enum room_recv rc)
{
    return rc == ROOM_RECV_ACCEPTED || rc == ROOM_RECV_REJECTED || rc == ROOM_RECV_SOFT_FAILED;
}

static void set(struct room_group_item *it, enum room_recv rc, const char *why)
{
    it->rc = rc;
    snprintf(it->why, sizeof it->why, "%s", why);
}

/* Drop notification rows past `keep` (those a PDU rolled back to its savepoint had queued). */
static void push_rows_truncate(struct batch *b, size_t keep)
{
    while (b->push_rows && json_array_size(b->push_rows) > keep)
        json_array_remove(b->push_rows, json_array_size(b->push_rows) - 1);
}

/* Steps 4-6 for the checked PDUs from `start` on (checked[i] NULL: already answered) in one
 * transaction holding the room's lock, then COMMIT. Returns the index of the first PDU not
 * handled: n, or a PDU that needs the slow path (*slow set), or the one after the last of
 * ROOM_GROUP_MAX. */
static size_t place(const struct room_version *rv, const char *room_id,
                    struct room_group_item *items, json_t **checked, size_t start, size_t n,
                    bool *slow)
{
    struct db_room r = {0};
    struct batch b = {.n = 0};
    size_t i = start, placed = 0;
    bool failed = false;
    *slow = false;
    struct dbc *c = db_get();
    if (!c) {
        for (; i < n; i++)
            if (checked[i])
                set(&items[i], ROOM_RECV_ERR, "database unavailable");
        return n;
    }
    b.ticket = notify_begin();
    if (db_begin(c) < 0 || db_rooms_get(c, room_id, true, &r) != 1) { /* the writer lock */
        db_rollback(c);
        room_batch_announce(&b, false);
        db_put(c);
        db_room_clear(&r);
        for (; i < n; i++)
            if (checked[i])
                set(&items[i], ROOM_RECV_ERR, "internal error");
        return n;
    }
    json_t *cache = json_object(), *rejected = json_object(), *lookups = json_object();
    for (; i < n && placed < ROOM_GROUP_MAX; i++) {
        if (!checked[i])
            continue;
        if (db_savepoint(c) < 0) {
            failed = true;
            break;
        }
        size_t rows = json_array_size(b.push_rows), queued = b.n;
        struct room_recv_ctx x = {c, rv, room_id, cache, rejected, false, lookups};
        json_t *missing = json_array();
        char why[300] = "";
        enum room_recv rc =
            room_recv_locked(&x, &b, checked[i], items[i].event_id, missing, why, sizeof why);
        json_decref(missing);
        placed++;
        const char *type = json_string_value(json_object_get(checked[i], "type"));
        if (!stored(rc) || json_object_get(checked[i], "state_key") || !type ||
            strcmp(type, "m.room.redaction") == 0) { /* invariant 5 */
            json_object_clear(cache);
            json_object_clear(rejected);
        } else {
            json_object_del(cache, items[i].event_id);
        }
        if (stored(rc)) {
            set(&items[i], rc, why); /* final once the COMMIT below succeeds */
            continue;
        }
        if (db_savepoint_rollback(c) < 0) {
            failed = true;
            break;
        }
        push_rows_truncate(&b, rows);
        if (b.n != queued) { /* only an accepted PDU queues an announcement */
            failed = true;
            break;
        }
        if (rc == ROOM_RECV_DUPLICATE || rc == ROOM_RECV_DROPPED) {
            set(&items[i], rc, why);
            json_decref(checked[i]);
            checked[i] = NULL;
            continue;
        }
        *slow = true; /* missing events, or an error: alone, with the fetcher's help */
        break;
    }
    json_decref(cache);
    json_decref(rejected);
    json_decref(lookups);
    if (failed || room_push_commit(c, &b) < 0) {
        db_rollback(c);
        room_batch_announce(&b, false);
        db_put(c);
        db_room_clear(&r);
        log_warn("federation: a group of PDUs in %s could not be stored", room_id);
        for (size_t k = start; k < n; k++) /* a duplicate may be of a PDU rolled back here */
            if (items[k].rc != ROOM_RECV_DROPPED)
                set(&items[k], ROOM_RECV_ERR, "not stored: database error; send it again");
        *slow = false;
        return n;
    }
    room_batch_announce(&b, true);
    db_put(c);
    db_room_clear(&r);
    for (size_t k = start; k < i; k++) { /* answered now */
        json_decref(checked[k]);
        checked[k] = NULL;
    }
    return i;
}

void room_receive_group(const char *origin, const char *room_id, struct room_group_item *items,
                        size_t n)
{
    json_t **checked = calloc(n ? n : 1, sizeof *checked);
    char *version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    free(version);
    for (size_t i = 0; i < n; i++) {
        items[i].event_id = NULL;
        set(&items[i], ROOM_RECV_ERR, "internal error");
    }
    if (!checked || !rv) {
        for (size_t i = 0; i < n; i++) /* one at a time: each answers for itself */
            items[i].rc = room_receive_pdu_fetching(origin, items[i].pdu, &items[i].event_id,
                                                    items[i].why, sizeof items[i].why);
        free(checked);
        return;
    }
    /* 1-3, outside the lock */
    for (size_t i = 0; i < n; i++) {
        const char *rid = json_string_value(json_object_get(items[i].pdu, "room_id"));
        if (!json_is_object(items[i].pdu) || !rid || strcmp(rid, room_id) != 0) {
            set(&items[i], ROOM_RECV_DROPPED, "invalid event: not of this group's room");
            continue;
        }
        enum pdu_verdict v = pdu_check(rv, items[i].pdu, &checked[i], &items[i].event_id,
                                       items[i].why, sizeof items[i].why);
        if (v == PDU_DROP || v == PDU_RETRY) {
            log_info("pdu from %s dropped: %s", origin ? origin : "?", items[i].why);
            items[i].rc = room_recv_verdict(v);
            json_decref(checked[i]);
            checked[i] = NULL;
        }
    }
    /* 4-6, a group at a time */
    size_t i = 0;
    while (i < n) {
        if (!checked[i]) {
            i++;
            continue;
        }
        bool slow = false;
        i = place(rv, room_id, items, checked, i, n, &slow);
        if (!slow || i >= n)
            continue;
        json_decref(checked[i]);
        checked[i] = NULL;
        free(items[i].event_id);
        items[i].event_id = NULL;
        items[i].rc = room_receive_pdu_fetching(origin, items[i].pdu, &items[i].event_id,
                                                items[i].why, sizeof items[i].why);
        i++;
    }
    for (size_t k = 0; k < n; k++)
        json_decref(checked[k]);
    free(checked);
}
