/* sender.c - the outbound transaction queue (Server-Server API "Transactions"): PDUs of local
 * senders and EDUs of local users go to every other server that should hear of them, in
 * transactions of at most SENDER_MAX_PDUS PDUs and SENDER_MAX_EDUS EDUs per destination.
 *
 * Flow: the room listener and the EDU sink (server/fedout.h) only append to an in-memory
 * inbox and wake the sender thread; that thread works out the destinations (the room's
 * servers, or those sharing a room with the user, or the one server named), drops this server
 * and servers off federation_domain_whitelist, and writes one queue row per destination to
 * PostgreSQL (storage/fedqueue.c). Then, per destination with rows and no transaction in
 * flight whose back-off has passed, a short-lived thread takes a transaction from the queue
 * and PUTs it through federation_request.
 *
 * Invariants:
 * 1. At most one transaction in flight per destination; at most SENDER_MAX_IN_FLIGHT in all,
 *    each on its own thread, so a slow destination holds up nobody else.
 * 2. A transaction's rows stay in the database until the destination answers 200; a
 *    failure keeps them and the destination is tried again after the back-off:
 *    SENDER_RETRY_MIN_MS doubled per failure up to SENDER_RETRY_MAX_MS, kept in the
 *    database, so a restart loses neither the queue nor the back-off. A transaction cut
 *    short by our own shutdown goes again unchanged (same txnId, same PDUs).
 * 4. Catch-up (as Synapse's per_destination_queue): a try after a failure first gives up the
 *    failed transaction and keeps, of the PDUs queued for the destination, only the newest
 *    of each room (db_fedq_catch_up); the destination fetches the rest through that event's
 *    prev_events with /get_missing_events. So a long outage ends with one PDU per room, not
 *    a replay of every one, and the queue does not grow past one PDU per room plus what came
 *    since the last try. EDUs (to-device messages, device-list changes) are all kept.
 *    A valid signed request from a destination in back-off ends the wait at once
 *    (federation_sender_wake, as Synapse does).
 * 3. Memory is bounded: the inbox holds at most SENDER_MAX_INBOX items (more are dropped with
 *    a warning) and the destination list holds only destinations with queued rows.
 * The one window a crash can lose is an event committed but not yet written to the queue
 * (between the listener and the sender thread's insert, normally milliseconds); a clean stop
 * writes what the inbox holds before the thread ends. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/clock.h"
#include "server/fedout.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/room.h"
#include "server/roomver.h"
#include "storage/fedqueue.h"

#define SENDER_MAX_PDUS 50
#define SENDER_MAX_EDUS 100
#define SENDER_MAX_IN_FLIGHT 32
#define SENDER_MAX_INBOX 10000
#define SENDER_RETRY_MIN_MS 2000
#define SENDER_RETRY_MAX_MS (3600 * 1000)
#define SENDER_TIMEOUT_MS 60000
#define SENDER_IDLE_MS 60000
#define SENDER_WAKE_MIN_MS 30000 /* federation_sender_wake ends a back-off at most so often */

enum scope { TO_ROOM, TO_USER_ROOMS, TO_SERVER };

struct item {
    struct item *next;
    enum scope scope;
    int kind;     /* DB_FEDQ_PDU or DB_FEDQ_EDU */
    char *key;    /* room ID, user ID or server name */
    char *body;   /* JSON text of the PDU or EDU */
    char *except; /* a server not to send to (the one a forwarded PDU came from), or NULL */
};

struct dest {
    struct dest *next;
    char *name;
    int64_t next_ts;  /* not before (back-off) */
    int64_t woken_ts; /* the last federation_sender_wake that ended a back-off */
    bool in_flight;
    bool has_work;             /* rows may be queued */
    unsigned gen, started_gen; /* gen counts touches: an empty take clears has_work only when
                                  nothing was queued since the transaction started */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started, stopping, quiet;
    struct item *inbox, **inbox_tail;
    size_t inbox_n;
    struct dest *dests;
    int in_flight;
    unsigned txn_counter;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void federation_sender_stats(long *inbox, long *dests_waiting, long *in_flight)
{
    long w = 0;
    pthread_mutex_lock(&S.mu);
    for (struct dest *d = S.dests; d; d = d->next)
        w += d->has_work;
    *inbox = (long)S.inbox_n;
    *in_flight = S.in_flight;
    pthread_mutex_unlock(&S.mu);
    *dests_waiting = w;
}

void federation_sender_wake(const char *server)
{
    if (!server)
        return;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&S.mu);
    for (struct dest *d = S.dests; d; d = d->next) {
        if (strcmp(d->name, server) == 0 && d->has_work && !d->in_flight && d->next_ts > now &&
            now - d->woken_ts >= SENDER_WAKE_MIN_MS) {
            /* the stored back-off doubles on from retry_ms if it fails again; a server that
             * talks to us but keeps failing our transactions is tried at most this often */
            d->next_ts = 0;
            d->woken_ts = now;
            pthread_cond_broadcast(&S.cv);
            log_info("federation sender: %s is back; its queue goes now", server);
        }
    }
    pthread_mutex_unlock(&S.mu);
}

static void item_free(struct item *it)
{
    if (!it)
        return;
    free(it->key);
    free(it->body);
    free(it->except);
    free(it);
}

/* Queue in memory and wake the thread. json is borrowed; except may be NULL. */
static void push_except(enum scope scope, int kind, const char *key, const json_t *json,
                        const char *except)
{
    if (!key || !json)
        return;
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return;
    it->scope = scope;
    it->kind = kind;
    it->key = strdup(key);
    it->body = json_dumps(json, JSON_COMPACT);
    it->except = except ? strdup(except) : NULL;
    if (!it->key || !it->body || (except && !it->except)) {
        item_free(it);
        return;
    }
    pthread_mutex_lock(&S.mu);
    if (!S.started || S.stopping || S.inbox_n >= SENDER_MAX_INBOX) {
        bool full = S.started && !S.stopping;
        pthread_mutex_unlock(&S.mu);
        if (full)
            log_warn("federation sender: inbox full, an item for %s dropped", key);
        item_free(it);
        return;
    }
    if (!S.inbox)
        S.inbox_tail = &S.inbox;
    *S.inbox_tail = it;
    S.inbox_tail = &it->next;
    S.inbox_n++;
    pthread_cond_signal(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static void push(enum scope scope, int kind, const char *key, const json_t *json)
{
    push_except(scope, kind, key, json, NULL);
}

void federation_sender_relay(const char *room_id, const json_t *ev, const char *origin)
{
    /* in federation form: event_id only in room versions 1 and 2, no unsigned */
    char *version = room_version_of(room_id);
    const struct room_version *rv = version ? roomver_get(version) : NULL;
    free(version);
    if (!rv || !json_is_object(ev))
        return;
    json_t *pdu = json_copy((json_t *)ev);
    if (rv->event_ids != ROOMVER_EVID_V1)
        json_object_del(pdu, "event_id");
    json_object_del(pdu, "unsigned");
    push_except(TO_ROOM, DB_FEDQ_PDU, room_id, pdu, origin);
    json_decref(pdu);
}

void federation_sender_listener(int64_t stream, const char *room_id, const json_t *pdu)
{
    const char *sender = json_string_value(json_object_get(pdu, "sender"));
    if (ids_is_local(sender)) /* events received from other servers are theirs to send */
        push(TO_ROOM, DB_FEDQ_PDU, room_id, pdu);
}

static void edu(enum scope scope, const char *key, const char *type, const json_t *content)
{
    json_t *e = json_pack("{s:s,s:O}", "edu_type", type, "content", content);
    push(scope, DB_FEDQ_EDU, key, e);
    json_decref(e);
}

static void edu_room(const char *room_id, const char *type, const json_t *content)
{
    edu(TO_ROOM, room_id, type, content);
}

static void edu_user_rooms(const char *user_id, const char *type, const json_t *content)
{
    edu(TO_USER_ROOMS, user_id, type, content);
}

static void edu_server(const char *server, const char *type, const json_t *content)
{
    edu(TO_SERVER, server, type, content);
}

/* --- destinations --------------------------------------------------------------------------- */

/* The destination named `name` (added when missing); under S.mu. NULL on OOM. */
static struct dest *dest_get(const char *name)
{
    for (struct dest *d = S.dests; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    struct dest *d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name))) {
        free(d);
        return NULL;
    }
    d->next = S.dests;
    S.dests = d;
    return d;
}

/* The servers of room_id other than this one (new array), through `cache` (room -> array). */
static json_t *servers_of_room(json_t *cache, const char *room_id)
{
    json_t *s = json_object_get(cache, room_id);
    if (s)
        return json_incref(s);
    s = room_servers(room_id);
    if (!s)
        s = json_array();
    json_object_set(cache, room_id, s);
    return s;
}

/* Add the servers of `from` to the set `to` (object used as a set). */
static void add_servers(json_t *to, const json_t *from)
{
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !ids_is_local_server(s))
            json_object_set_new(to, s, json_true());
    }
}

/* The destinations of one item (new array of allowed server names). */
static json_t *destinations(const struct item *it, json_t *cache)
{
    json_t *set = json_object();
    if (it->scope == TO_SERVER) {
        json_t *one = json_pack("[s]", it->key);
        add_servers(set, one);
        json_decref(one);
    } else if (it->scope == TO_ROOM) {
        json_t *s = servers_of_room(cache, it->key);
        add_servers(set, s);
        json_decref(s);
    } else {
        json_t *rooms = NULL;
        if (room_joined_rooms(it->key, &rooms) == ROOM_OK) {
            size_t i;
            json_t *r;
            json_array_foreach(rooms, i, r)
            {
                json_t *s = servers_of_room(cache, json_string_value(r));
                add_servers(set, s);
                json_decref(s);
            }
        }
        json_decref(rooms);
    }
    if (it->except)
        json_object_del(set, it->except);
    json_t *out = json_array();
    const char *name;
    json_t *v;
    json_object_foreach(set, name, v)
    {
        if (federation_domain_allowed(name))
            json_array_append_new(out, json_string(name));
    }
    json_decref(set);
    return out;
}

/* Write the inbox's items to the queue; the destinations touched go into `touched` (a set).
 * Several items go in one database transaction (one commit, not one each: under a burst of
 * sends the queue's commits were as many as the events'); should that fail, item by item,
 * so that one bad item costs only itself. */
static void store_items(struct item *list, json_t *touched)
{
    json_t *cache = json_object(), *all = json_array();
    struct dbc *c = db_get();
    for (struct item *it = list; it; it = it->next)
        json_array_append_new(all, destinations(it, cache));
    size_t i = 0;
    bool tried = c && list && list->next && db_begin(c) == 0, together = tried;
    for (struct item *it = list; together && it; it = it->next, i++) {
        json_t *dests = json_array_get(all, i);
        if (json_array_size(dests) && db_fedq_add(c, dests, it->kind, it->body) < 0)
            together = false;
    }
    if (together && db_commit(c) == 0) {
        json_t *dests;
        json_array_foreach(all, i, dests) add_servers(touched, dests);
    } else {
        if (tried)
            db_rollback(c);
        i = 0;
        for (struct item *it = list; it; it = it->next, i++) {
            json_t *dests = json_array_get(all, i);
            if (json_array_size(dests) && c) {
                if (db_fedq_add(c, dests, it->kind, it->body) < 0)
                    log_warn("federation sender: could not queue an item for %s", it->key);
                else
                    add_servers(touched, dests);
            }
        }
    }
    if (c)
        db_put(c);
    json_decref(all);
    json_decref(cache);
}

/* --- one transaction -------------------------------------------------------------------------- */

/* Parse each JSON text of `texts` into a new array. */
static json_t *parse_all(const json_t *texts)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(texts, i, v)
    {
        json_t *j = json_loads(json_string_value(v), 0, NULL);
        if (j)
            json_array_append_new(out, j);
    }
    return out;
}

/* Send the destination's transaction (or find nothing to send). Sets *next_ts (0: go on at
 * once) and *empty (nothing was queued). */
static void send_one(const char *dest, int64_t *next_ts, bool *empty)
{
    char new_id[64], path[128], err[256];
    char *txn_id = NULL;
    json_t *pdus = NULL, *edus = NULL, *out = NULL;
    *next_ts = 0;
    *empty = false;
    pthread_mutex_lock(&S.mu);
    unsigned n = ++S.txn_counter;
    pthread_mutex_unlock(&S.mu);
    snprintf(new_id, sizeof new_id, "%lld.%u", (long long)clock_now_ms(), n);
    struct dbc *c = db_get();
    if (!c) {
        *next_ts = clock_now_ms() + SENDER_RETRY_MIN_MS;
        return;
    }
    int rc = db_begin(c);
    long skipped = 0;
    if (rc == 0 && db_fedq_retry_ms(c, dest) > 0) /* the last attempt failed: catch up */
        rc = (skipped = db_fedq_catch_up(c, dest)) < 0 ? -1 : 0;
    if (rc == 0)
        rc = db_fedq_take(c, dest, new_id, SENDER_MAX_PDUS, SENDER_MAX_EDUS, &txn_id, &pdus, &edus);
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    db_put(c);
    if (rc < 0) {
        *next_ts = clock_now_ms() + SENDER_RETRY_MIN_MS;
        goto out;
    }
    if (skipped > 0) {
        metrics_add(METRICS_FED_CATCHUP_SKIPPED, (uint64_t)skipped);
        log_info("federation sender: catching up with %s: %ld older PDUs left to its "
                 "/get_missing_events",
                 dest, skipped);
    }
    if (!json_array_size(pdus) && !json_array_size(edus)) {
        *empty = true;
        goto out;
    }
    json_t *body =
        json_pack("{s:s,s:I,s:o,s:o}", "origin", fed_cfg->server_name, "origin_server_ts",
                  (json_int_t)clock_now_ms(), "pdus", parse_all(pdus), "edus", parse_all(edus));
    snprintf(path, sizeof path, "/_matrix/federation/v1/send/%s", txn_id);
    int status =
        body ? federation_request(dest, "PUT", path, body, SENDER_TIMEOUT_MS, &out, err, sizeof err)
             : FED_ERR_TRANSPORT;
    json_decref(body);
    c = db_get();
    if (!c) {
        *next_ts = clock_now_ms() + SENDER_RETRY_MIN_MS;
        goto out;
    }
    pthread_mutex_lock(&S.mu);
    bool quiet = S.quiet;
    pthread_mutex_unlock(&S.mu);
    if (quiet && status != 200) {
        /* shutting down: not the destination's failure; the same transaction goes next time */
    } else if (status == 200 || status == FED_ERR_REFUSED) {
        if (status == FED_ERR_REFUSED)
            log_info("federation sender: %s refused (%s); its queue is dropped", dest, err);
        db_fedq_done(c, dest, txn_id);
        if (status == 200)
            metrics_add(METRICS_FED_PDUS_SENT, json_array_size(pdus));
    } else {
        int64_t retry = db_fedq_retry_ms(c, dest);
        retry = retry <= 0 ? SENDER_RETRY_MIN_MS : retry * 2;
        if (retry > SENDER_RETRY_MAX_MS)
            retry = SENDER_RETRY_MAX_MS;
        *next_ts = clock_now_ms() + retry;
        db_fedq_failed(c, dest, retry, *next_ts);
        if (status > 0)
            log_info("federation sender: %s answered %d; retry in %lld s", dest, status,
                     (long long)(retry / 1000));
        else
            log_info("federation sender: %s: %s; retry in %lld s", dest, err,
                     (long long)(retry / 1000));
    }
    db_put(c);
out:
    free(txn_id);
    json_decref(pdus);
    json_decref(edus);
    json_decref(out);
}

static void *send_thread(void *arg)
{
    struct dest *d = arg; /* stays in the list while in_flight */
    int64_t next_ts;
    bool empty;
    send_one(d->name, &next_ts, &empty);
    pthread_mutex_lock(&S.mu);
    d->in_flight = false;
    d->next_ts = next_ts;
    if (empty && d->gen == d->started_gen)
        d->has_work = false;
    S.in_flight--;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

/* --- the sender thread ------------------------------------------------------------------------ */

/* Start what may start; drop idle destinations; the earliest retry time (under S.mu). */
static int64_t dispatch(void)
{
    int64_t now = clock_now_ms(), wake = now + SENDER_IDLE_MS;
    for (struct dest **p = &S.dests; *p;) {
        struct dest *d = *p;
        if (!d->has_work && !d->in_flight) {
            *p = d->next;
            free(d->name);
            free(d);
            continue;
        }
        p = &d->next;
        if (d->in_flight || !d->has_work)
            continue;
        if (d->next_ts > now) {
            if (d->next_ts < wake)
                wake = d->next_ts;
            continue;
        }
        if (S.in_flight >= SENDER_MAX_IN_FLIGHT || S.quiet)
            continue;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        d->in_flight = true;
        d->started_gen = d->gen;
        S.in_flight++;
        if (pthread_create(&t, &attr, send_thread, d) != 0) {
            d->in_flight = false;
            S.in_flight--;
            d->next_ts = now + SENDER_RETRY_MIN_MS;
        }
        pthread_attr_destroy(&attr);
    }
    return wake;
}

static void *sender_main(void *arg)
{
    /* what was queued before a restart */
    struct dbc *c = db_get();
    json_t *pending = c ? db_fedq_pending(c) : NULL;
    if (c)
        db_put(c);
    pthread_mutex_lock(&S.mu);
    size_t i;
    json_t *row;
    json_array_foreach(pending, i, row)
    {
        struct dest *d = dest_get(json_string_value(json_array_get(row, 0)));
        if (d) {
            d->has_work = true;
            d->next_ts = json_integer_value(json_array_get(row, 1));
        }
    }
    json_decref(pending);
    while (!S.stopping) {
        struct item *list = S.inbox;
        S.inbox = NULL;
        S.inbox_n = 0;
        if (list) {
            pthread_mutex_unlock(&S.mu);
            json_t *touched = json_object();
            store_items(list, touched);
            while (list) {
                struct item *next = list->next;
                item_free(list);
                list = next;
            }
            pthread_mutex_lock(&S.mu);
            const char *name;
            json_t *v;
            json_object_foreach(touched, name, v)
            {
                struct dest *d = dest_get(name);
                if (d) {
                    d->has_work = true;
                    d->gen++;
                }
            }
            json_decref(touched);
            continue; /* look at the inbox again before sleeping */
        }
        int64_t wake = dispatch();
        if (S.inbox || S.stopping)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = wake - clock_now_ms();
        if (wait < 10)
            wait = 10;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&S.cv, &S.mu, &ts);
    }
    /* stopping: what the inbox still holds (events committed just before the signal) goes to
     * the queue, to be sent after the restart, rather than being lost */
    struct item *rest = S.inbox;
    S.inbox = NULL;
    S.inbox_n = 0;
    pthread_mutex_unlock(&S.mu);
    if (rest) {
        json_t *touched = json_object();
        store_items(rest, touched);
        json_decref(touched);
    }
    while (rest) {
        struct item *next = rest->next;
        item_free(rest);
        rest = next;
    }
    return NULL;
}

int federation_sender_start(void)
{
    static const struct fedout sink = {edu_room, edu_user_rooms, edu_server};
    pthread_mutex_lock(&S.mu);
    if (S.started) {
        pthread_mutex_unlock(&S.mu);
        return 0;
    }
    S.stopping = false;
    S.quiet = false;
    S.started = true;
    if (pthread_create(&S.thread, NULL, sender_main, NULL) != 0) {
        S.started = false;
        pthread_mutex_unlock(&S.mu);
        return -1;
    }
    pthread_mutex_unlock(&S.mu);
    fedout_set(&sink);
    room_set_relay(federation_sender_relay);
    return 0;
}

void federation_sender_quiesce(void)
{
    pthread_mutex_lock(&S.mu);
    S.quiet = true;
    pthread_mutex_unlock(&S.mu);
}

void federation_sender_stop(void)
{
    pthread_mutex_lock(&S.mu);
    if (!S.started) {
        pthread_mutex_unlock(&S.mu);
        return;
    }
    fedout_set(NULL);
    room_set_relay(NULL);
    S.stopping = true;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.thread, NULL);
    /* transactions in flight end within SENDER_TIMEOUT_MS; wait for them (they use the
     * database), bounded by their own timeout */
    pthread_mutex_lock(&S.mu);
    while (S.in_flight > 0)
        pthread_cond_wait(&S.cv, &S.mu);
    while (S.inbox) {
        struct item *next = S.inbox->next;
        item_free(S.inbox);
        S.inbox = next;
    }
    S.inbox_n = 0;
    while (S.dests) {
        struct dest *next = S.dests->next;
        free(S.dests->name);
        free(S.dests);
        S.dests = next;
    }
    S.started = false;
    pthread_mutex_unlock(&S.mu);
}
