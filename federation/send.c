/* send.c - PUT /_matrix/federation/v1/send/{txnId} (Server-Server API "Transactions", "PDUs",
 * "EDUs"): the PDUs and EDUs another server pushes to us.
 *
 * 1. The route is X-Matrix authenticated; the origin is http_origin(req) and must equal the
 *    body's `origin`.
 * 2. At most FED_TXN_MAX_PDUS PDUs and FED_TXN_MAX_EDUS EDUs (400 M_BAD_JSON otherwise).
 * 3. Idempotent per (origin, txnId): the answer is stored (storage/fedqueue.c) and a repeated
 *    transaction gets it again without being processed; one origin's transactions are
 *    processed one at a time (a striped lock), so a retry that arrives while the first is
 *    still being processed waits for its stored answer.
 * 4. Each PDU: its room must be one this server is in and the room's m.room.server_acl must
 *    allow the origin; then the engine's checks, with bounded fetching of missing events.
 *    Its fate goes in pdus[event_id] ({} or {error}; a PDU dropped before its ID was known
 *    answers under the ID computed from it); one bad PDU never fails the transaction. A
 *    room's PDUs go to the engine in runs that end after each state event (the room and ACL
 *    checks are made per run; a state event may change them), each run as a group that is
 *    committed together (room_receive_group: one COMMIT for the run, each PDU's outcome its
 *    own); a run of one goes through room_receive_pdu_fetching.
 * 5. Each room's PDUs are received in order by one of up to FED_TXN_ROOM_THREADS workers, so
 *    a slow room (fetching missing events) does not hold up the others. The answer waits at
 *    most FED_TXN_BUDGET_MS: PDUs still being received then answer an error and the answer is
 *    not stored, so the sender's retry asks again (the work goes on meanwhile). Likewise when
 *    a PDU hit a transient failure (key fetch, database).
 * 6. Each EDU must come from one of the origin's users (its sender / user_id is on the
 *    origin) and concern a room whose ACL allows the origin; bad EDUs are skipped (EDUs have
 *    no per-item answer).
 * 7. The transaction's to-device messages (m.direct_to_device) are delivered before any of
 *    its PDUs is received, so a room key never reaches /sync after the message it opens;
 *    the other EDUs are received while the PDUs are. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/clock.h"
#include "server/e2e.h"
#include "server/event.h"
#include "server/fedacl.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/room.h"
#include "server/room_group.h"
#include "server/roomver.h"
#include "server/userdata.h"
#include "storage/fedqueue.h"

#define FED_TXN_MAX_PDUS 50
#define FED_TXN_MAX_EDUS 100
#define FED_TXN_BUDGET_MS 20000
#define FED_TXN_ROOM_THREADS 4
#define FED_TYPING_MS 30000
#define MAX_RECEIPT_EVENTS 16
#define ORIGIN_STRIPES 64

static pthread_mutex_t stripes[ORIGIN_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
    for (int i = 0; i < ORIGIN_STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

static pthread_mutex_t *stripe_of(const char *origin)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)origin; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &stripes[h % ORIGIN_STRIPES];
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Does user_id (untrusted) belong to origin? */
static bool from_origin(const char *user_id, const char *origin)
{
    const char *s = user_id ? ids_server_of(user_id) : NULL;
    return s && strcmp(s, origin) == 0;
}

/* Is this server in room_id, and does its ACL allow origin? */
static bool room_allows(const char *room_id, const char *origin)
{
    if (!room_id || !room_is_resident(room_id))
        return false;
    json_t *acl = room_server_acl(room_id);
    bool ok = fedacl_allowed(acl, origin);
    json_decref(acl);
    return ok;
}

/* --- PDUs --------------------------------------------------------------------------------- */

/* The event ID of an unchecked PDU (malloc'd), or NULL: by its room's version; for a room
 * this server does not know, its event_id (room versions 1 and 2) or else the reference hash
 * as from version 4 on (the only other ID format in use). */
static char *pdu_event_id(const json_t *pdu)
{
    if (!json_is_object(pdu))
        return NULL;
    char *version = room_version_of(str(pdu, "room_id") ? str(pdu, "room_id") : "");
    const struct room_version *rv = version ? roomver_get(version) : NULL;
    free(version);
    if (!rv && str(pdu, "event_id"))
        return strdup(str(pdu, "event_id"));
    if (!rv)
        rv = roomver_get("11");
    return rv ? event_compute_id(pdu, rv) : NULL;
}

/* The answer's entry for an outcome of the room engine (new object); *transient when a retry
 * may help. */
static json_t *entry_of(enum room_recv rc, const char *why, bool *transient)
{
    switch (rc) {
    case ROOM_RECV_ACCEPTED:
    case ROOM_RECV_DUPLICATE:
    case ROOM_RECV_SOFT_FAILED: /* accepted as far as the sender can tell */
        return json_object();
    case ROOM_RECV_RETRY:
    case ROOM_RECV_ERR:
        *transient = true;
        break;
    default:
        break;
    }
    return json_pack("{s:s}", "error", why && *why ? why : "PDU not accepted");
}

/* The fate of one PDU as the answer's entry (new object); *transient when a retry may help. */
static json_t *receive_one(const char *origin, const json_t *pdu, char **event_id, bool *transient)
{
    char why[512] = "";
    const char *room_id = str(pdu, "room_id");
    if (!json_is_object(pdu))
        return json_pack("{s:s}", "error", "PDU is not an object");
    if (!room_id || !room_is_resident(room_id)) {
        *event_id = pdu_event_id(pdu);
        return json_pack("{s:s}", "error", "This server is not in the room");
    }
    json_t *acl = room_server_acl(room_id);
    bool allowed = fedacl_allowed(acl, origin);
    json_decref(acl);
    if (!allowed) {
        *event_id = pdu_event_id(pdu);
        return json_pack("{s:s}", "error", "Server is banned from this room");
    }
    enum room_recv rc = room_receive_pdu_fetching(origin, pdu, event_id, why, sizeof why);
    return entry_of(rc, why, transient);
}

/* Put a PDU's entry into results under its event ID; a PDU dropped before its ID was known
 * (bad signatures, say) is answered under the ID computed from it, when it has one. */
static void answer(json_t *results, const json_t *pdu, char *event_id, json_t *entry)
{
    if (!event_id)
        event_id = pdu_event_id(pdu);
    if (event_id)
        json_object_set_new(results, event_id, entry);
    else
        json_decref(entry); /* no event ID to answer under (malformed) */
    free(event_id);
}

/* One room's PDUs of a transaction (borrowed), in order, their entries into results. They go
 * in runs that end after each state event (which may change the room's ACL, or whether this
 * server is in the room): for each run the room is checked as receive_one checks it, then
 * the run is received as a group, committed together (server/room_group.h). */
static void receive_room(const char *origin, const json_t *pdus, json_t *results, bool *transient)
{
    size_t n = json_array_size(pdus), i = 0;
    struct room_group_item *items = calloc(n ? n : 1, sizeof *items);
    while (i < n) {
        const json_t *first = json_array_get(pdus, i);
        const char *room_id = str(first, "room_id");
        size_t end = i;
        while (end < n) {
            const json_t *p = json_array_get(pdus, end++);
            if (!json_is_object(p) || json_object_get(p, "state_key"))
                break;
        }
        if (!items || end - i == 1 || !json_is_object(first) || !room_id ||
            !room_allows(room_id, origin)) {
            for (; i < end; i++) { /* one by one: the errors as receive_one gives them */
                char *event_id = NULL;
                json_t *entry = receive_one(origin, json_array_get(pdus, i), &event_id, transient);
                answer(results, json_array_get(pdus, i), event_id, entry);
            }
            continue;
        }
        for (size_t k = i; k < end; k++)
            items[k - i] = (struct room_group_item){.pdu = json_array_get(pdus, k)};
        room_receive_group(origin, room_id, items, end - i);
        for (size_t k = 0; k < end - i; k++)
            answer(results, items[k].pdu, items[k].event_id,
                   entry_of(items[k].rc, items[k].why, transient));
        i = end;
    }
    free(items);
}

/* --- EDUs --------------------------------------------------------------------------------- */

static void edu_typing(const char *origin, const json_t *c)
{
    const char *room_id = str(c, "room_id"), *user_id = str(c, "user_id");
    json_t *typing = json_object_get(c, "typing");
    char why[256];
    if (!from_origin(user_id, origin) || !json_is_boolean(typing) || !room_allows(room_id, origin))
        return;
    /* userdata_typing checks that the user is joined to the room */
    userdata_typing(user_id, room_id, json_is_true(typing), FED_TYPING_MS, why, sizeof why);
}

static void edu_receipt(const char *origin, const json_t *c)
{
    const char *room_id;
    json_t *types;
    json_object_foreach((json_t *)c, room_id, types)
    {
        json_t *users = json_object_get(types, "m.read"); /* m.read.private never federates */
        if (!json_is_object(users) || !room_allows(room_id, origin))
            continue;
        const char *user_id;
        json_t *r;
        json_object_foreach(users, user_id, r)
        {
            json_t *ids = json_object_get(r, "event_ids");
            const char *thread = str(json_object_get(r, "data"), "thread_id");
            if (!from_origin(user_id, origin) || !json_is_array(ids))
                continue;
            size_t i;
            json_t *id;
            json_array_foreach(ids, i, id)
            {
                char why[256];
                if (i >= MAX_RECEIPT_EVENTS || !json_is_string(id))
                    break;
                userdata_receipt(user_id, room_id, "m.read", json_string_value(id), thread, why,
                                 sizeof why);
            }
        }
    }
}

static void edu_to_device(const char *origin, const json_t *c)
{
    const char *sender = str(c, "sender"), *type = str(c, "type");
    const char *message_id = str(c, "message_id");
    json_t *messages = json_object_get(c, "messages");
    if (!from_origin(sender, origin) || !type || !message_id || !json_is_object(messages))
        return;
    json_t *local = json_object();
    const char *u;
    json_t *devs;
    json_object_foreach(messages, u, devs)
    {
        if (ids_is_local(u))
            json_object_set(local, u, devs);
    }
    json_t *body = json_pack("{s:o}", "messages", local);
    struct e2e_error err;
    /* the (sender, message_id) pair is the transaction key: a repeat delivers nothing */
    if (body && e2e_send_to_device(sender, NULL, type, message_id, body, &err) < 0)
        log_info("federation: to-device from %s not delivered", origin);
    json_decref(body);
}

/* m.device_list_update: one device of a remote user changed; the cached list takes it when
 * the prev_id chain holds, else it is fetched again (server/e2e_devlist.c); local users who
 * share a room see the user in device_lists.changed. */
static void edu_device_list(const char *origin, const json_t *c)
{
    const char *user_id = str(c, "user_id");
    if (from_origin(user_id, origin))
        e2e_device_list_update(user_id, c);
}

/* m.signing_key_update: the remote user's cross-signing keys changed; the cached list is
 * fetched again with them. */
static void edu_signing_key(const char *origin, const json_t *c)
{
    const char *user_id = str(c, "user_id");
    if (from_origin(user_id, origin))
        e2e_device_list_touch(user_id);
}

/* m.presence: only with presence.enabled (else ignored, as the client API keeps nothing);
 * each update must be for one of the origin's users, who shares a room with a local user
 * (userdata_presence_put wakes those who share a room). */
static void edu_presence(const char *origin, const json_t *c)
{
    if (!fed_cfg || !fed_cfg->presence_enabled)
        return;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "push"), i, p)
    {
        const char *user_id = str(p, "user_id"), *presence = str(p, "presence");
        json_t *rooms = NULL;
        char why[128];
        if (i >= FED_TXN_MAX_EDUS || !from_origin(user_id, origin) || !presence)
            continue;
        if (room_joined_rooms(user_id, &rooms) == ROOM_OK && json_array_size(rooms))
            userdata_presence_put(user_id, presence, str(p, "status_msg"), why, sizeof why);
        json_decref(rooms);
    }
}

/* EDU types this server takes (columns: type, handler). */
static const struct {
    const char *type;
    void (*handle)(const char *origin, const json_t *content);
} edu_types[] = {
    {"m.typing", edu_typing},
    {"m.receipt", edu_receipt},
    {"m.direct_to_device", edu_to_device},
    {"m.device_list_update", edu_device_list},
    {"m.signing_key_update", edu_signing_key},
    {"m.presence", edu_presence},
};

static bool is_to_device(const json_t *edu)
{
    const char *type = json_is_object(edu) ? str(edu, "edu_type") : NULL;
    return type && strcmp(type, "m.direct_to_device") == 0;
}

static void receive_edu(const char *origin, const json_t *edu)
{
    const char *type = json_is_object(edu) ? str(edu, "edu_type") : NULL;
    const json_t *content = json_object_get(edu, "content");
    if (!type || !json_is_object(content))
        return;
    for (size_t i = 0; i < sizeof edu_types / sizeof edu_types[0]; i++) {
        if (strcmp(edu_types[i].type, type) == 0) {
            edu_types[i].handle(origin, content);
            return;
        }
    }
}

/* --- the transaction ------------------------------------------------------------------------ */

/* One room's PDUs of a transaction, received in order by one worker. */
struct room_group {
    json_t *pdus; /* deep copy, private to the worker */
    size_t *idx;  /* their positions in the request's pdus */
    size_t n_idx;
    json_t *results; /* event_id -> entry, set when done */
    bool transient;
    bool done;
};

/* The PDU work of one transaction, shared by the handler and the workers; freed by the last
 * of them (refs), because workers may outlive the answer (FED_TXN_BUDGET_MS). */
struct txn_work {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    char *origin;
    struct room_group *groups;
    size_t n, next, finished;
};

static void work_unref(struct txn_work *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left)
        return;
    for (size_t i = 0; i < w->n; i++) {
        json_decref(w->groups[i].pdus);
        json_decref(w->groups[i].results);
        free(w->groups[i].idx);
    }
    free(w->groups);
    free(w->origin);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void *room_worker(void *arg)
{
    struct txn_work *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (w->next >= w->n) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        struct room_group *g = &w->groups[w->next++];
        pthread_mutex_unlock(&w->mu);
        json_t *results = json_object();
        bool transient = false;
        receive_room(w->origin, g->pdus, results, &transient);
        pthread_mutex_lock(&w->mu);
        g->results = results;
        g->transient = transient;
        g->done = true;
        w->finished++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    work_unref(w);
    return NULL;
}

/* Group the PDUs by room (order kept within a room). NULL on OOM. */
static struct txn_work *work_new(const char *origin, const json_t *pdus)
{
    struct txn_work *w = calloc(1, sizeof *w);
    size_t np = json_array_size(pdus);
    if (!w || !(w->origin = strdup(origin)) ||
        !(w->groups = calloc(np ? np : 1, sizeof *w->groups))) {
        if (w)
            free(w->origin);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    json_t *by_room = json_object();
    size_t i;
    json_t *pdu;
    json_array_foreach(pdus, i, pdu)
    {
        const char *room = str(pdu, "room_id");
        json_t *gi = json_object_get(by_room, room ? room : "");
        struct room_group *g;
        if (gi) {
            g = &w->groups[json_integer_value(gi)];
        } else {
            json_object_set_new(by_room, room ? room : "", json_integer((json_int_t)w->n));
            g = &w->groups[w->n++];
            g->pdus = json_array();
            g->idx = calloc(np, sizeof *g->idx);
        }
        if (g->idx) {
            json_array_append_new(g->pdus, json_deep_copy(pdu));
            g->idx[g->n_idx++] = i;
        }
    }
    json_decref(by_room);
    return w;
}

/* Process the transaction: each room's PDUs on a worker (at most FED_TXN_ROOM_THREADS at a
 * time, so one slow room does not hold up the others), the EDUs meanwhile here; wait for the
 * PDUs until FED_TXN_BUDGET_MS. New answer; *keep false when it must not be stored. */
static json_t *process(const char *origin, const json_t *pdus, const json_t *edus, bool *keep)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FED_TXN_BUDGET_MS / 1000;
    json_t *results = json_object();
    *keep = true;
    struct txn_work *w = json_array_size(pdus) ? work_new(origin, pdus) : NULL;
    if (json_array_size(pdus) && !w) {
        json_decref(results);
        return NULL;
    }
    /* To-device messages first, before any PDU is received: a sender puts a Megolm key in
     * the queue before the message it opens, and when both travel in one transaction the
     * key must reach the recipient's /sync no later than the message (clients such as
     * matrix-nio do not try an undecryptable event again when its key comes later). They are
     * a row each, so the PDUs wait for little. */
    size_t i;
    json_t *edu;
    json_array_foreach(edus, i, edu)
    {
        if (is_to_device(edu))
            receive_edu(origin, edu);
    }
    size_t threads = 0;
    if (w) {
        w->refs = 1;
        for (size_t t = 0; t < w->n && t < FED_TXN_ROOM_THREADS; t++) {
            pthread_t th;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_mutex_lock(&w->mu);
            w->refs++;
            pthread_mutex_unlock(&w->mu);
            if (pthread_create(&th, &attr, room_worker, w) != 0) {
                pthread_mutex_lock(&w->mu);
                w->refs--;
                pthread_mutex_unlock(&w->mu);
            } else {
                threads++;
            }
            pthread_attr_destroy(&attr);
        }
        if (!threads) { /* no thread to be had: here, then */
            w->refs++;
            room_worker(w);
        }
    }
    json_array_foreach(edus, i, edu) /* the other EDUs while the PDUs are received */
    {
        if (!is_to_device(edu))
            receive_edu(origin, edu);
    }
    if (w) {
        pthread_mutex_lock(&w->mu);
        while (w->finished < w->n)
            if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
                break;
        for (size_t g = 0; g < w->n; g++) {
            struct room_group *rg = &w->groups[g];
            if (rg->done) {
                json_object_update(results, rg->results);
                if (rg->transient)
                    *keep = false;
                continue;
            }
            /* still being received: answered as not yet processed, the answer not kept, so
             * the sender's retry asks again (the work goes on; a repeat is a duplicate) */
            *keep = false;
            for (size_t k = 0; k < rg->n_idx; k++) {
                char *event_id = pdu_event_id(json_array_get(pdus, rg->idx[k]));
                if (event_id)
                    json_object_set_new(
                        results, event_id,
                        json_pack("{s:s}", "error", "Not processed in time; send it again"));
                free(event_id);
            }
        }
        pthread_mutex_unlock(&w->mu);
        work_unref(w);
    }
    return json_pack("{s:o}", "pdus", results);
}

void federation_send_txn(struct http_req *req)
{
    const char *txn_id = http_param(req, 0), *origin = http_origin(req);
    json_t *body = http_json(req);
    json_t *pdus = json_object_get(body, "pdus"), *edus = json_object_get(body, "edus");
    const char *body_origin = str(body, "origin");
    if (!origin || !txn_id) {
        http_reply_error(req, 401, "M_UNAUTHORIZED", "Signed request required");
        return;
    }
    if (!json_is_array(pdus) || (edus && !json_is_array(edus)) || !body_origin ||
        !json_is_integer(json_object_get(body, "origin_server_ts"))) {
        http_reply_error(req, 400, "M_BAD_JSON", "origin, origin_server_ts and pdus are required");
        return;
    }
    if (strcmp(body_origin, origin) != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "origin does not match the signed origin");
        return;
    }
    if (json_array_size(pdus) > FED_TXN_MAX_PDUS || json_array_size(edus) > FED_TXN_MAX_EDUS) {
        http_reply_error(req, 400, "M_BAD_JSON", "At most %d PDUs and %d EDUs in a transaction",
                         FED_TXN_MAX_PDUS, FED_TXN_MAX_EDUS);
        return;
    }
    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_t *lock = stripe_of(origin);
    pthread_mutex_lock(lock);
    struct dbc *c = db_get();
    char *stored = NULL;
    if (!c || db_fedtxn_get(c, origin, txn_id, &stored) < 0) {
        if (c)
            db_put(c);
        pthread_mutex_unlock(lock);
        http_reply_internal(req);
        return;
    }
    db_put(c);
    if (stored) {
        pthread_mutex_unlock(lock);
        json_t *ans = json_loads(stored, 0, NULL);
        free(stored);
        if (!ans)
            http_reply_internal(req);
        else
            http_reply_json(req, 200, ans);
        return;
    }
    bool keep = true;
    json_t *ans = process(origin, pdus, edus, &keep);
    char *text = keep && ans ? json_dumps(ans, JSON_COMPACT) : NULL;
    if (text && (c = db_get())) {
        if (db_fedtxn_put(c, origin, txn_id, text, clock_now_ms()) < 0)
            log_warn("federation: answer to a transaction from %s not stored", origin);
        db_put(c);
    }
    free(text);
    pthread_mutex_unlock(lock);
    if (!ans)
        http_reply_internal(req);
    else
        http_reply_json(req, 200, ans);
}
