/* pusher.c - pushers (POST /pushers/set, GET /pushers), GET /notifications, and the sender
 * that delivers notifications to HTTP push gateways (Push Gateway API,
 * POST /_matrix/push/v1/notify) through the outbound HTTP client.
 *
 * Invariants:
 *  1. Deliveries live in the database (push_queue), queued in the transaction that records an
 *     event's push actions: a crash or restart loses none, and nothing is queued for an event
 *     that was not stored.
 *  2. By default a push carries no content: event ID, room ID, unread count, the device's
 *     pushkey and data (without its url) and the deciding rule's tweaks (sound, highlight).
 *     Only with push.include_content, and a pusher that did not ask for event_id_only, do
 *     type, sender and content go out.
 *  3. A failed delivery is retried with back-off (1 s doubling to 10 min) and given up after a
 *     day; pushkeys the gateway rejects lose their pushers, as the spec says.
 *  4. The sender is one thread with bounded work per round (at most MAX_IN_FLIGHT deliveries
 *     out, at most PER_GATEWAY of them for one gateway URL, whose further deliveries are not
 *     fetched meanwhile); the requests go through the outbound client
 *     (server/outbound.h), which sends to each gateway separately (GATEWAY_CONNS at a time),
 *     so a silent gateway, however large its backlog, delays only its own pushes. A delivery in
 *     flight is leased in the database (next_ts pushed past its timeout): the next round does
 *     not pick it again, and after a crash it comes due again. When the server stops,
 *     outbound_stop ends requests in flight at once and their deliveries stay queued.
 *  5. Gateways are reached only at addresses ip_range_blacklist / ip_range_whitelist allow,
 *     checked when connecting (after DNS); the URL must be exactly an http(s) URL whose path
 *     is /_matrix/push/v1/notify, without user information, query or fragment. */
#include "server/pusher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/ipfilter.h"
#include "server/outbound.h"
#include "server/retention.h"
#include "server/token.h"
#include "server/userslots.h"
#include "server/worker.h"
#include "storage/pushers.h"

#define BATCH 50
#define TICK_MS 1000
#define REQUEST_TIMEOUT_MS 10000
#define GIVE_UP_MS (24LL * 3600 * 1000)
#define MAX_PUSHERS 20
#define MAX_IN_FLIGHT 200
#define PER_GATEWAY 50     /* deliveries in flight per gateway URL: a share of the above */
#define GATEWAY_CONNS 8    /* requests on the wire per gateway; the rest wait in the client */
#define DEFER_MS 2000      /* a delivery for a gateway at its share looks again after this */
#define LEASE_MS (REQUEST_TIMEOUT_MS + 20000)

static bool include_content, started;
static const struct ipfilter *gateway_filter;
static void deliver(struct worker *w);
static struct worker sender = {.name = "push sender", .tick_ms = TICK_MS, .round = deliver};

int64_t pusher_backoff_ms(int attempts)
{
    int64_t ms = 1000;
    for (int i = 0; i < attempts && ms < 600000; i++)
        ms *= 2;
    return ms > 600000 ? 600000 : ms;
}

json_t *pusher_notification(const json_t *row, bool with_content)
{
    json_t *data = json_deep_copy(json_object_get(row, "data"));
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    const char *format = json_string_value(json_object_get(data, "format"));
    json_object_del(data, "url"); /* the spec: data without url */
    /* the deciding rule's tweaks: stored ones (sound, ...) and highlight */
    json_t *tweaks = json_is_object(json_object_get(row, "tweaks"))
                         ? json_deep_copy(json_object_get(row, "tweaks"))
                         : json_object();
    if (json_is_true(json_object_get(row, "highlight")))
        json_object_set_new(tweaks, "highlight", json_true());
    json_t *device = json_pack("{s:O,s:O,s:O,s:o,s:o}", "app_id", json_object_get(row, "app_id"),
                               "pushkey", json_object_get(row, "pushkey"), "pushkey_ts",
                               json_object_get(row, "pushkey_ts"), "data", data, "tweaks", tweaks);
    json_int_t pts = json_integer_value(json_object_get(row, "pushkey_ts")) / 1000;
    json_object_set_new(device, "pushkey_ts", json_integer(pts));
    json_t *n =
        json_pack("{s:O,s:O,s:{s:O},s:[o],s:s}", "event_id", json_object_get(row, "event_id"),
                  "room_id", json_object_get(row, "room_id"), "counts", "unread",
                  json_object_get(row, "unread"), "devices", device, "prio", "high");
    const json_t *ev = json_object_get(row, "event");
    if (with_content && (!format || strcmp(format, "event_id_only") != 0) && json_is_object(ev)) {
        static const char *const fields[] = {"type", "sender", "content"};
        for (size_t i = 0; i < 3; i++)
            if (json_object_get(ev, fields[i]))
                json_object_set(n, fields[i], json_object_get(ev, fields[i]));
    }
    return json_pack("{s:o}", "notification", n);
}

/* --- sending ---------------------------------------------------------------------------- */

/* One delivery in flight: what the round needs to record its outcome. */
struct flight {
    struct flight *next;
    char gateway[300]; /* host:port: the outbound client's destination */
    char *url;         /* the gateway URL: the per_gateway key */
    int64_t id, created;
    int attempts;
    char *user_id, *app_id, *pushkey;
    int sent;       /* 1 delivered, 0 retry, -1 give up; -2 not recorded (server stopping) */
    bool rejected;
};

static pthread_mutex_t flights_mu = PTHREAD_MUTEX_INITIALIZER;
static struct flight *landed; /* results waiting for the round, under flights_mu */
static int in_flight;         /* under flights_mu */
static struct userslots per_gateway = USERSLOTS_INIT;

static void flight_free(struct flight *f)
{
    free(f->url);
    free(f->user_id);
    free(f->app_id);
    free(f->pushkey);
    free(f);
}

/* The outbound client's callback (its thread: no database here): classify, hand to the
 * round. 1 delivered (rejected when the gateway rejected the pushkey), 0 retry, -1 the
 * gateway will not take it. */
static void on_answer(void *arg, struct outbound_res *res)
{
    struct flight *f = arg;
    f->sent = 0;
    if (res->err == OUTBOUND_E_STOPPED) {
        f->sent = -2; /* not tried: stays queued */
    } else if (res->err == OUTBOUND_OK && res->status == 200) {
        f->sent = 1;
        json_t *r = res->body ? json_loadb(res->body, res->len, 0, NULL) : NULL;
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(r, "rejected"), i, k)
        {
            if (json_is_string(k) && strcmp(json_string_value(k), f->pushkey) == 0)
                f->rejected = true;
        }
        json_decref(r);
    } else if (res->err == OUTBOUND_OK && res->status >= 400 && res->status < 500 &&
               res->status != 429) {
        f->sent = -1;
    } else if (res->err == OUTBOUND_E_BLOCKED || res->err == OUTBOUND_E_BAD_URL) {
        f->sent = -1; /* an address ip_range_blacklist refuses: no retry will help */
        log_warn("push: a gateway of %s is refused: %s", f->user_id, res->why);
    }
    userslots_give(&per_gateway, f->url);
    pthread_mutex_lock(&flights_mu);
    f->next = landed;
    landed = f;
    in_flight--;
    pthread_mutex_unlock(&flights_mu);
    worker_wake(&sender);
}

/* Record the outcomes that landed. */
static void record_landed(void)
{
    pthread_mutex_lock(&flights_mu);
    struct flight *l = landed;
    landed = NULL;
    pthread_mutex_unlock(&flights_mu);
    while (l) {
        struct flight *f = l;
        l = f->next;
        struct dbc *c = db_get();
        if (c && f->sent == -2) /* cut short by the stop: due again at once after a restart */
            db_push_queue_lease(c, &f->id, 1, clock_now_ms());
        else if (c && f->sent == 1 && f->rejected)
            db_pushers_delete(c, f->user_id, f->app_id, f->pushkey);
        else if (c && (f->sent != 0 || clock_now_ms() - f->created > GIVE_UP_MS))
            db_push_queue_done(c, f->id);
        else if (c)
            db_push_queue_retry(c, f->id, clock_now_ms() + pusher_backoff_ms(f->attempts));
        if (f->sent == -1)
            log_warn("push: the gateway refused a notification for %s; dropped", f->user_id);
        db_put(c);
        flight_free(f);
    }
}

/* Send one queued delivery `row`: 1 in flight, 0 its gateway has its share in flight
 * already (try again shortly), -1 failed. */
static int launch(const json_t *row)
{
    const char *url = json_string_value(json_object_get(json_object_get(row, "data"), "url"));
    const char *pushkey = json_string_value(json_object_get(row, "pushkey"));
    struct outbound_url u;
    struct flight *f = calloc(1, sizeof *f);
    if (!f || !url || outbound_url_parse(url, &u) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->gateway, sizeof f->gateway, "%s:%d", u.host, u.port);
    if (!(f->url = strdup(url)) || !userslots_take(&per_gateway, url, PER_GATEWAY)) {
        bool oom = !f->url;
        flight_free(f);
        return oom ? -1 : 0;
    }
    f->id = json_integer_value(json_object_get(row, "id"));
    f->created = json_integer_value(json_object_get(row, "created_ts"));
    f->attempts = (int)json_integer_value(json_object_get(row, "attempts"));
    const char *user_id = json_string_value(json_object_get(row, "user_id"));
    const char *app_id = json_string_value(json_object_get(row, "app_id"));
    f->user_id = strdup(user_id ? user_id : "");
    f->app_id = strdup(app_id ? app_id : "");
    f->pushkey = strdup(pushkey ? pushkey : "");
    json_t *body = pusher_notification(row, include_content);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    struct outbound_req r = {.method = "POST",
                             .url = url,
                             .headers = hdrs,
                             .body = text,
                             .body_len = text ? strlen(text) : 0,
                             .destination = f->gateway,
                             .max_in_flight = GATEWAY_CONNS,
                             .timeout_ms = REQUEST_TIMEOUT_MS,
                             .max_body = 65536, /* a gateway's answer is small */
                             .filter = gateway_filter};
    bool ok = text && f->user_id && f->app_id && f->pushkey;
    if (ok) {
        pthread_mutex_lock(&flights_mu);
        in_flight++;
        pthread_mutex_unlock(&flights_mu);
        if (outbound_submit(&r, on_answer, f) < 0) {
            pthread_mutex_lock(&flights_mu);
            in_flight--;
            pthread_mutex_unlock(&flights_mu);
            ok = false;
        }
    }
    free(text);
    if (!ok) {
        userslots_give(&per_gateway, f->url);
        flight_free(f);
    }
    return ok ? 1 : -1;
}

/* One round: record what landed, then send what is due, each gateway in parallel (the
 * outbound client queues per destination, so a silent gateway holds up only its own). */
static void deliver(struct worker *w)
{
    record_landed();
    pthread_mutex_lock(&flights_mu);
    int room = MAX_IN_FLIGHT - in_flight;
    pthread_mutex_unlock(&flights_mu);
    if (room <= 0 || worker_stopping(w))
        return;
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    /* gateways with their share in flight are left out, so their backlog cannot hide others */
    json_t *full = userslots_full(&per_gateway, PER_GATEWAY);
    char *skip = full && json_array_size(full) ? json_dumps(full, JSON_COMPACT) : NULL;
    json_decref(full);
    json_t *rows = c ? db_push_queue_due(c, now, room < BATCH ? room : BATCH, include_content,
                                         skip)
                     : NULL;
    free(skip);
    size_t n = json_array_size(rows), i;
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (ids)
            ids[i] = json_integer_value(json_object_get(row, "id"));
    }
    /* leased before sending, so the next round does not pick them again */
    bool leased = c && ids && db_push_queue_lease(c, ids, n, now + LEASE_MS) == 0;
    db_put(c);
    size_t n_deferred = 0;
    json_array_foreach(rows, i, row)
    {
        if (!leased || worker_stopping(w))
            break;
        int rc = launch(row);
        if (rc == 0) /* its gateway has its share out: looked at again shortly */
            ids[n_deferred++] = json_integer_value(json_object_get(row, "id"));
        else if (rc < 0) /* not sent: due again when the lease ends */
            log_warn("push: cannot queue a notification for %s",
                     json_string_value(json_object_get(row, "user_id")));
    }
    if (n_deferred && (c = db_get()) != NULL) {
        db_push_queue_lease(c, ids, n_deferred, now + DEFER_MS);
        db_put(c);
    }
    free(ids);
    json_decref(rows);
}

int pusher_start(bool with_content, const struct ipfilter *filter)
{
    include_content = with_content;
    gateway_filter = filter;
    if (worker_start(&sender) < 0)
        return -1;
    started = true;
    return 0;
}

void pusher_stop(void)
{
    if (!started)
        return;
    worker_stop(&sender);
    record_landed(); /* what landed before the outbound client stopped */
    started = false;
}

void pusher_wake(void)
{
    worker_wake(&sender);
}

/* --- the endpoints' logic ------------------------------------------------------------------ */

static bool str_field(const json_t *body, const char *k, size_t max, bool required)
{
    json_t *v = json_object_get(body, k);
    if (!v || json_is_null(v))
        return !required;
    return json_is_string(v) && json_string_length(v) <= max &&
           (json_string_length(v) > 0 || !required);
}

const char *pusher_set(const char *user_id, const char *device_id, const json_t *body,
                       const char **errcode, bool *internal)
{
    *internal = false;
    *errcode = "M_MISSING_PARAM";
    if (!str_field(body, "app_id", 64, true) || !str_field(body, "pushkey", 512, true))
        return "app_id (at most 64 bytes) and pushkey (at most 512) are required";
    json_t *kind = json_object_get(body, "kind");
    if (!kind) /* required; null (deletion) is a value */
        return "kind is required (null deletes the pusher)";
    const char *app_id = json_string_value(json_object_get(body, "app_id"));
    const char *pushkey = json_string_value(json_object_get(body, "pushkey"));
    struct dbc *c;
    if (json_is_null(kind)) { /* delete */
        c = db_get();
        *internal = !c || db_pushers_delete(c, user_id, app_id, pushkey) < 0;
        db_put(c);
        return NULL;
    }
    *errcode = "M_INVALID_PARAM";
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "http") != 0)
        return "Only pushers of kind http are supported";
    *errcode = "M_MISSING_PARAM";
    if (!str_field(body, "app_display_name", 255, true) ||
        !str_field(body, "device_display_name", 255, true) || !str_field(body, "lang", 32, true) ||
        !str_field(body, "profile_tag", 64, false))
        return "app_display_name, device_display_name and lang are required";
    const json_t *data = json_object_get(body, "data");
    const char *url = json_string_value(json_object_get(data, "url"));
    const char *format = json_string_value(json_object_get(data, "format"));
    *errcode = "M_INVALID_PARAM";
    if (!json_is_object(data) || !url)
        return "data.url is required for http pushers";
    struct outbound_url u;
    if (strlen(url) > 2048 || outbound_url_parse(url, &u) < 0 ||
        strcmp(u.path, "/_matrix/push/v1/notify") != 0 || u.has_query || u.has_fragment ||
        u.has_userinfo)
        return "data.url must be an http(s) URL whose path is /_matrix/push/v1/notify";
    if (u.host_is_ip && !ipfilter_allows_text(gateway_filter, u.host))
        return "data.url points to an address this server does not send to";
    if (json_object_get(data, "format") && (!format || strcmp(format, "event_id_only") != 0))
        return "data.format can only be event_id_only";
    char *dump = json_dumps(data, JSON_COMPACT);
    size_t dl = dump ? strlen(dump) : 0;
    free(dump);
    if (dl > 4096)
        return "data is too large";
    json_t *append = json_object_get(body, "append");
    c = db_get();
    int rc = c ? db_pushers_set(c, user_id, device_id, body, json_is_true(append), MAX_PUSHERS,
                                clock_now_ms())
               : -1;
    db_put(c);
    if (rc < 0)
        *internal = true;
    if (rc == 0) {
        *errcode = "M_LIMIT_EXCEEDED";
        return "Too many pushers";
    }
    return NULL;
}

json_t *pusher_list(const char *user_id)
{
    struct dbc *c = db_get();
    json_t *l = c ? db_pushers_list(c, user_id) : NULL;
    db_put(c);
    return l ? json_pack("{s:o}", "pushers", l) : NULL;
}

json_t *pusher_notifications(const char *user_id, const char *from, int limit, bool only_highlight,
                             bool *bad)
{
    *bad = false;
    int64_t before = INT64_MAX;
    if (from && (token_parse(from, "#", &before, 1) < 0 || before <= 0 ||
                 !token_stream_issued(NULL, before))) {
        *bad = true;
        return NULL;
    }
    struct dbc *c = db_get();
    json_t *rows = c ? db_notifications(c, user_id, before, limit, only_highlight) : NULL;
    if (!rows) {
        db_put(c);
        return NULL;
    }
    json_t *list = json_array(), *cache = json_object();
    size_t i;
    json_t *r;
    long long last = 0;
    int64_t now = clock_now_ms();
    json_array_foreach(rows, i, r)
    {
        json_t *ev = json_object_get(r, "event");
        last = json_integer_value(json_object_get(r, "stream"));
        if (retention_hidden(c, json_string_value(json_object_get(r, "room_id")), ev, cache, now))
            continue; /* expired under the room's retention policy */
        json_t *client = json_pack(
            "{s:O,s:O,s:O,s:O,s:O,s:O}", "event_id", json_object_get(r, "event_id"), "room_id",
            json_object_get(r, "room_id"), "type", json_object_get(ev, "type"), "sender",
            json_object_get(ev, "sender"), "origin_server_ts",
            json_object_get(ev, "origin_server_ts"), "content", json_object_get(ev, "content"));
        if (json_object_get(ev, "state_key"))
            json_object_set(client, "state_key", json_object_get(ev, "state_key"));
        /* the deciding rule's actions: notify and its tweaks (migration 0007 keeps them) */
        json_t *actions = json_pack("[s]", "notify");
        if (json_is_true(json_object_get(r, "highlight")))
            json_array_append_new(actions,
                                  json_pack("{s:s,s:b}", "set_tweak", "highlight", "value", 1));
        const char *tk;
        json_t *tv;
        json_object_foreach(json_object_get(r, "tweaks"), tk, tv)
        {
            json_array_append_new(actions, json_pack("{s:s,s:O}", "set_tweak", tk, "value", tv));
        }
        json_array_append_new(list, json_pack("{s:o,s:o,s:O,s:O,s:O}", "actions", actions, "event",
                                              client, "read", json_object_get(r, "read"), "room_id",
                                              json_object_get(r, "room_id"), "ts",
                                              json_object_get(r, "ts")));
    }
    db_put(c);
    json_decref(cache);
    size_t n = json_array_size(rows);
    json_decref(rows);
    json_t *out = json_pack("{s:o}", "notifications", list);
    if (n == (size_t)limit && last > 0) {
        char tok[24];
        snprintf(tok, sizeof tok, "%lld", last);
        json_object_set_new(out, "next_token", json_string(tok));
    }
    return out;
}
