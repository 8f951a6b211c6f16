/* room_send.c - the local send path of the room engine (server/room.c): room_send and
 * room_redact queue each send per room, and one writer appends a batch of them in one
 * transaction through room_append (group commit; the section below says how). Every send
 * gets exactly its own result (event ID, or rc and why), and a client's transaction ID sent
 * again gets the event ID it got the first time. Lock order as in room.c: the room row
 * first, taken by db_rooms_append_view. */
#include "server/room.h"
#include "server/room_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/roomver.h"
#include "server/statemap.h"
#include "storage/events.h"
#include "storage/rooms.h"

char *room_version_of(const char *room_id)
{
    struct db_room r;
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    int found = db_rooms_get(c, room_id, false, &r);
    db_put(c);
    if (found != 1)
        return NULL;
    char *v = r.room_version;
    r.room_version = NULL;
    db_room_clear(&r);
    return v;
}

/* --- sending, with group commit -----------------------------------------------------------
 *
 * Sends to one room are queued per room in this process. Whoever finds no writer for the
 * room becomes it: it takes up to SEND_BATCH queued sends and appends them in one
 * transaction (one room lock, one commit), in queue order, then hands the results back.
 * Under load this turns N commits into one; alone, a send is a batch of one. A writer stops
 * after a few batches once its own send is done, and a waiting sender takes over, so no
 * request waits on others indefinitely. If a batch meets a database error it is rolled back
 * and each of its sends is retried in a transaction of its own. The room row lock still
 * serialises writers of different processes (storage/rooms.c). */

#define SEND_BATCH 64
#define WRITER_EXTRA_ROUNDS 3
#define QUEUE_BUCKETS 256

struct send_item {
    const char *room_id, *sender, *type, *state_key, *top_redacts;
    json_t *content;
    const struct room_txn *txn;
    enum room_rc rc;
    char *event_id;
    char why[512];
    bool done;
    struct send_item *next;
};

struct room_queue {
    char *room_id;
    struct send_item *head, *tail;
    bool writing;
    struct room_queue *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct room_queue *q_table[QUEUE_BUCKETS];

static size_t q_bucket(const char *room_id)
{
    size_t h = 5381;
    for (const char *p = room_id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % QUEUE_BUCKETS;
}

/* What a batch knows of its room between appends: read once under the lock, then carried
 * forward in memory (each append makes itself the only extremity and, for state events,
 * part of the auth state). */
struct batch_view {
    struct db_append_view v;
    const struct room_version *rv;
    json_t *txns; /* txn_key -> event ID, stored or made in this batch */
};

/* "user\x1fdevice\x1fkey" (key: server/room_txn.h) in TXN_MAP_KEY bytes, which hold the
 * longest: a 255-byte user, a server-notice admin "device" (api/admin_rooms.c, up to 517)
 * and ROOM_TXN_KEY_MAX. storage/events.c's db_txn_lookup_many makes the same. */
#define TXN_MAP_KEY 1200
static void txn_key(char *buf, size_t n, const struct send_item *it)
{
    snprintf(buf, n, "%s\x1f%s\x1f%s", it->sender, it->txn->device_id ? it->txn->device_id : "",
             it->txn->txn_id);
}

/* Lock the room and read what every send in `items` needs, in two queries. */
static int batch_view_load(struct dbc *c, struct send_item *items, size_t count,
                           struct batch_view *bv)
{
    json_t *seen = json_object();
    const char *types[SEND_BATCH * MAX_AUTH_KEYS], *skeys[SEND_BATCH * MAX_AUTH_KEYS];
    const char *users[SEND_BATCH], *devices[SEND_BATCH], *txns[SEND_BATCH];
    json_t *protos = json_array();
    size_t nk = 0, nt = 0, i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++) {
        struct auth_key keys[MAX_AUTH_KEYS];
        json_t *proto = json_pack("{s:s,s:s,s:O}", "type", it->type, "sender", it->sender,
                                  "content", it->content);
        if (it->state_key)
            json_object_set_new(proto, "state_key", json_string(it->state_key));
        json_array_append_new(protos, proto); /* keeps the key strings alive */
        size_t k = room_auth_superset(proto, keys);
        for (size_t j = 0; j < k; j++) {
            char *sk = statemap_key(keys[j].type, keys[j].state_key);
            if (sk && !json_object_get(seen, sk)) {
                json_object_set_new(seen, sk, json_true());
                types[nk] = keys[j].type;
                skeys[nk] = keys[j].state_key;
                nk++;
            }
            free(sk);
        }
        if (it->txn && it->txn->txn_id) {
            users[nt] = it->sender;
            devices[nt] = it->txn->device_id ? it->txn->device_id : "";
            txns[nt] = it->txn->txn_id;
            nt++;
        }
    }
    /* a batch of one checks its transaction ID in the view's own read */
    const struct room_txn *one = count == 1 ? items->txn : NULL;
    bool messages = false; /* only message events use the members read here (room_push.c) */
    i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++)
        messages = messages || !it->state_key;
    int found = db_rooms_append_view(c, items->room_id, items->sender, one ? one->device_id : NULL,
                                     one ? one->txn_id : NULL, types, skeys, nk, messages, &bv->v);
    json_decref(seen);
    json_decref(protos);
    if (found <= 0)
        return found;
    bv->rv = roomver_get(bv->v.room_version);
    if (count > 1 && nt) {
        bv->txns = db_txn_lookup_many(c, users, devices, txns, nt);
    } else {
        bv->txns = json_object();
        if (one && one->txn_id && bv->v.prior_event_id) {
            char key[TXN_MAP_KEY];
            txn_key(key, sizeof key, items);
            json_object_set_new(bv->txns, key, json_string(bv->v.prior_event_id));
        }
    }
    return bv->rv && bv->txns ? 1 : -1;
}

static void batch_view_clear(struct batch_view *bv)
{
    db_append_view_clear(&bv->v);
    json_decref(bv->txns);
    memset(bv, 0, sizeof *bv);
}

/* One send inside the batch's transaction, from the batch view. */
static enum room_rc send_in_txn(struct dbc *c, struct send_item *it, struct batch_view *bv,
                                struct batch *b)
{
    enum room_rc rc = ROOM_ERR;
    char *rid = NULL, key[TXN_MAP_KEY];
    size_t n = sizeof it->why;
    char *why = it->why;
    const struct room_version *rv = bv->rv;

    it->event_id = NULL;
    snprintf(why, n, "Internal error");
    if (it->txn && it->txn->txn_id) { /* the same transaction again: the same answer */
        txn_key(key, sizeof key, it);
        const char *prior = json_string_value(json_object_get(bv->txns, key));
        if (prior) {
            it->event_id = strdup(prior);
            return it->event_id ? ROOM_OK : ROOM_ERR;
        }
    }
    const char *redacts = NULL;
    if (strcmp(it->type, "m.room.redaction") == 0) {
        /* the target travels in content from v11, at the top level before (room_redact) */
        redacts = rv->redacts_in_content
                      ? json_string_value(json_object_get(it->content, "redacts"))
                      : it->top_redacts;
        /* a pre-v11 redaction sent through /send with the newer shape (content.redacts) is
         * a redaction of that event, as Synapse treats it: never one that names a target
         * in content only, which clients reading content would believe */
        if (!redacts)
            redacts = json_string_value(json_object_get(it->content, "redacts"));
    }
    struct append_req a = {it->room_id, bv->v.state_group, rv,          it->sender,
                           it->type,    it->state_key,     it->content, it->txn,
                           redacts,     bv->v.extremities, bv->v.auth};
    if (redacts && room_deferred_flush(c, b) < 0) /* the target may wait in this batch */
        return ROOM_ERR;
    if (redacts && (rc = room_check_redaction(c, &a, why, n)) != ROOM_OK)
        return rc;
    int64_t group = bv->v.state_group;
    rc = room_append(c, &a, b, &group, &it->event_id, &rid, why, n);
    free(rid);
    if (rc != ROOM_OK)
        return rc;
    /* carry the room forward: the new event is the only extremity now */
    const json_t *pdu = b->n ? b->items[b->n - 1].pdu : NULL;
    json_int_t depth = json_integer_value(json_object_get(pdu, "depth"));
    json_array_clear(bv->v.extremities);
    json_array_append_new(bv->v.extremities, json_pack("[s,I]", it->event_id, depth));
    bv->v.state_group = group;
    if (it->state_key && pdu) {
        json_t *copy = json_copy((json_t *)pdu);
        json_object_set_new(copy, "event_id", json_string(it->event_id));
        char *k = statemap_key(it->type, it->state_key);
        if (k)
            json_object_set_new(bv->v.auth, k, copy);
        else
            json_decref(copy);
        free(k);
    }
    if (it->txn && it->txn->txn_id)
        json_object_set_new(bv->txns, key, json_string(it->event_id));
    return ROOM_OK;
}

/* Append `items` (a list of count sends to one room) in one transaction; on a database
 * error, one transaction each. Fills every item's rc / event_id / why. */
static void send_batch(struct send_item *items, size_t count)
{
    struct batch b = {.n = 0};
    struct batch_view bv = {0};
    struct dbc *c = db_get();
    b.ticket = notify_begin();
    bool failed = !c || db_begin(c) < 0;
    if (!failed) {
        int found = batch_view_load(c, items, count, &bv);
        if (found == 0) { /* unknown room: every send gets the same answer */
            size_t i = 0;
            for (struct send_item *it = items; it && i < count; it = it->next, i++) {
                it->rc = ROOM_NOT_FOUND;
                snprintf(it->why, sizeof it->why, "Unknown room %s", it->room_id);
            }
            db_rollback(c);
            db_put(c);
            room_batch_announce(&b, false);
            return;
        }
        failed = found < 0;
    }
    size_t done = 0;
    if (!failed) /* the push targets of the batch's message events, from the same read */
        room_push_seed(&b, items->room_id, bv.v.members, bv.v.auth);
    for (struct send_item *it = items; it && done < count && !failed; it = it->next, done++) {
        it->rc = send_in_txn(c, it, &bv, &b);
        failed = it->rc == ROOM_ERR;
    }
    batch_view_clear(&bv);
    if (!failed && room_push_commit(c, &b) == 0) {
        db_put(c);
        room_batch_announce(&b, true);
        return;
    }
    if (c)
        db_rollback(c);
    db_put(c);
    room_batch_announce(&b, false);
    size_t i = 0;
    for (struct send_item *it = items; it && i < count; it = it->next, i++) {
        free(it->event_id);
        it->event_id = NULL;
        if (count == 1) { /* nothing to retry separately */
            it->rc = ROOM_ERR;
            continue;
        }
        struct send_item *next = it->next;
        it->next = NULL;
        send_batch(it, 1);
        it->next = next;
    }
}

static enum room_rc send_event(const char *room_id, const char *sender, const char *type,
                               const char *state_key, json_t *content, const char *top_redacts,
                               const struct room_txn *txn, char **event_id, char *why, size_t n)
{
    struct send_item it = {.room_id = room_id,
                           .sender = sender,
                           .type = type,
                           .state_key = state_key,
                           .top_redacts = top_redacts,
                           .content = content,
                           .txn = txn,
                           .rc = ROOM_ERR};
    size_t bucket = q_bucket(room_id);
    struct room_queue *rq;

    pthread_mutex_lock(&q_lock);
    for (rq = q_table[bucket]; rq && strcmp(rq->room_id, room_id) != 0; rq = rq->next)
        ;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        char *copy = strdup(room_id);
        if (!rq || !copy) {
            pthread_mutex_unlock(&q_lock);
            free(rq);
            free(copy);
            snprintf(why, n, "Internal error");
            return ROOM_ERR;
        }
        rq->room_id = copy;
        rq->next = q_table[bucket];
        q_table[bucket] = rq;
    }
    if (rq->tail)
        rq->tail->next = &it;
    else
        rq->head = &it;
    rq->tail = &it;

    while (!it.done) {
        if (rq->writing) {
            pthread_cond_wait(&q_cond, &q_lock);
            continue;
        }
        /* become the room's writer */
        rq->writing = true;
        int extra = 0;
        while (rq->head && (!it.done || extra++ < WRITER_EXTRA_ROUNDS)) {
            struct send_item *first = rq->head, *last = first;
            size_t count = 1;
            while (last->next && count < SEND_BATCH) {
                last = last->next;
                count++;
            }
            rq->head = last->next;
            if (!rq->head)
                rq->tail = NULL;
            last->next = NULL;
            pthread_mutex_unlock(&q_lock);
            send_batch(first, count);
            pthread_mutex_lock(&q_lock);
            for (struct send_item *x = first, *next; x; x = next) {
                next = x->next;
                x->done = true; /* after this, x (on its sender's stack) is not touched */
            }
            pthread_cond_broadcast(&q_cond);
        }
        rq->writing = false;
        if (!rq->head) { /* idle: forget the room's queue */
            struct room_queue **pp = &q_table[bucket];
            while (*pp != rq)
                pp = &(*pp)->next;
            *pp = rq->next;
            free(rq->room_id);
            free(rq);
            rq = NULL;
        }
        pthread_cond_broadcast(&q_cond);
        break;
    }
    pthread_mutex_unlock(&q_lock);
    *event_id = it.event_id;
    if (it.rc != ROOM_OK)
        snprintf(why, n, "%s", it.why);
    return it.rc;
}

enum room_rc room_send(const char *room_id, const char *sender, const char *type,
                       const char *state_key, json_t *content, const struct room_txn *txn,
                       char **event_id, char *why, size_t n)
{
    if (state_key && !*state_key && strcmp(type, "m.room.canonical_alias") == 0) {
        struct dbc *c = db_get();
        if (!c)
            return ROOM_ERR;
        enum room_rc rc = room_check_canonical_alias(c, room_id, content, why, n);
        db_put(c);
        if (rc != ROOM_OK)
            return rc;
    }
    return send_event(room_id, sender, type, state_key, content, NULL, txn, event_id, why, n);
}

enum room_rc room_redact(const char *room_id, const char *sender, const char *target,
                         const char *reason, const struct room_txn *txn, char **event_id, char *why,
                         size_t n)
{
    char *version = room_version_of(room_id);
    const struct room_version *rv = roomver_get(version);
    free(version);
    if (!rv) {
        snprintf(why, n, "Unknown room %s", room_id);
        return ROOM_NOT_FOUND;
    }
    json_t *content = json_object();
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    if (rv->redacts_in_content)
        json_object_set_new(content, "redacts", json_string(target));
    enum room_rc rc = send_event(room_id, sender, "m.room.redaction", NULL, content,
                                 rv->redacts_in_content ? NULL : target, txn, event_id, why, n);
    json_decref(content);
    return rc;
}
