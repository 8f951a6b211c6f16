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
 *    allow the origin; then room_receive_pdu_fetching (the engine's checks, with bounded
 *    fetching of missing events). Its fate goes in pdus[event_id] ({} or {error}); one bad
 *    PDU never fails the transaction.
 * 5. The whole transaction has a time budget (FED_TXN_BUDGET_MS): PDUs left when it is spent
 *    answer an error and the answer is not stored, so the sender's retry processes them.
 *    Likewise when a PDU hit a transient failure (key fetch, database).
 * 6. Each EDU must come from one of the origin's users (its sender / user_id is on the
 *    origin) and concern a room whose ACL allows the origin; bad EDUs are skipped (EDUs have
 *    no per-item answer). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation/federation.h"
#include "server/clock.h"
#include "server/e2e.h"
#include "server/event.h"
#include "server/fedacl.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/room.h"
#include "server/roomver.h"
#include "server/userdata.h"
#include "storage/fedqueue.h"

#define FED_TXN_MAX_PDUS 50
#define FED_TXN_MAX_EDUS 100
#define FED_TXN_BUDGET_MS 40000
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

/* The fate of one PDU as the answer's entry (new object); *transient when a retry may help. */
static json_t *receive_one(const char *origin, const json_t *pdu, char **event_id,
                           bool *transient)
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
    if (!allowed)
        return json_pack("{s:s}", "error", "Server is banned from this room");
    enum room_recv rc = room_receive_pdu_fetching(origin, pdu, event_id, why, sizeof why);
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
    return json_pack("{s:s}", "error", *why ? why : "PDU not accepted");
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

/* m.device_list_update and m.signing_key_update: the remote user's keys changed; local users
 * who share a room see the user in device_lists.changed and query the keys again. */
static void edu_device_list(const char *origin, const json_t *c)
{
    const char *user_id = str(c, "user_id");
    if (from_origin(user_id, origin))
        e2e_device_list_touch(user_id);
}

/* EDU types this server takes (columns: type, handler). m.presence is ignored: presence
 * does not federate here. */
static const struct {
    const char *type;
    void (*handle)(const char *origin, const json_t *content);
} edu_types[] = {
    {"m.typing", edu_typing},
    {"m.receipt", edu_receipt},
    {"m.direct_to_device", edu_to_device},
    {"m.device_list_update", edu_device_list},
    {"m.signing_key_update", edu_device_list},
};

static void receive_edu(const char *origin, const json_t *edu)
{
    const char *type = str(edu, "edu_type");
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

/* Process the transaction; new answer; *keep false when it must not be stored. */
static json_t *process(const char *origin, const json_t *pdus, const json_t *edus, bool *keep)
{
    int64_t deadline = clock_now_ms() + FED_TXN_BUDGET_MS;
    json_t *results = json_object();
    size_t i;
    json_t *pdu;
    *keep = true;
    json_array_foreach(pdus, i, pdu)
    {
        char *event_id = NULL;
        bool transient = false;
        json_t *entry;
        if (clock_now_ms() > deadline) {
            entry = json_pack("{s:s}", "error", "Not processed in time; send the transaction again");
            transient = true;
            event_id = pdu_event_id(pdu);
        } else {
            entry = receive_one(origin, pdu, &event_id, &transient);
        }
        if (transient)
            *keep = false;
        if (event_id)
            json_object_set_new(results, event_id, entry);
        else
            json_decref(entry); /* no event ID to answer under (malformed) */
        free(event_id);
    }
    json_t *edu;
    json_array_foreach(edus, i, edu)
    {
        if (json_is_object(edu))
            receive_edu(origin, edu);
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
