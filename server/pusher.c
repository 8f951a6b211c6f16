/* pusher.c - pushers (POST /pushers/set, GET /pushers), GET /notifications, and the sender
 * that delivers notifications to HTTP push gateways (Push Gateway API,
 * POST /_matrix/push/v1/notify) with libcurl.
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
 *  4. The sender is one thread with bounded work per round and a timeout per request; it
 *     stops within about a second of pusher_stop, a request in flight included (libcurl's
 *     progress callback aborts it; the delivery stays queued). */
#include "server/pusher.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/token.h"
#include "server/worker.h"
#include "storage/pushers.h"

#define BATCH 50
#define TICK_MS 1000
#define REQUEST_TIMEOUT_MS 10000
#define GIVE_UP_MS (24LL * 3600 * 1000)
#define MAX_PUSHERS 20

static bool include_content, started;
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

struct buf {
    char *p;
    size_t n;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t add = size * nmemb;
    if (b->n + add > 65536) /* a gateway's answer is small */
        return 0;
    char *q = realloc(b->p, b->n + add + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, ptr, add);
    b->p = q;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* libcurl's progress callback (at least about once a second, even while a gateway is
 * silent): a nonzero answer aborts the request, so pusher_stop need not wait for it. */
static int abort_if_stopping(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return worker_stopping(arg) ? 1 : 0;
}

/* POST the notification. 1 delivered (and *rejected set when the gateway rejected the
 * pushkey), 0 failed or cut short by pusher_stop (retry), -1 hopeless (give up). */
static int post(struct worker *w, const char *url, const json_t *body, const char *pushkey,
                bool *rejected)
{
    *rejected = false;
    char *text = json_dumps(body, JSON_COMPACT);
    CURL *c = curl_easy_init();
    if (!text || !c) {
        free(text);
        if (c)
            curl_easy_cleanup(c);
        return 0;
    }
    struct buf out = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_if_stopping);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    int rc = 0;
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200) {
            rc = 1;
            json_t *r = out.p ? json_loads(out.p, 0, NULL) : NULL;
            size_t i;
            json_t *k;
            json_array_foreach(json_object_get(r, "rejected"), i, k)
            {
                if (json_is_string(k) && strcmp(json_string_value(k), pushkey) == 0)
                    *rejected = true;
            }
            json_decref(r);
        } else if (status >= 400 && status < 500 && status != 429) {
            rc = -1; /* the gateway will not take it */
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(out.p);
    free(text);
    return rc;
}

/* One round: deliver what is due. */
static void deliver(struct worker *w)
{
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    json_t *rows = c ? db_push_queue_due(c, now, BATCH, include_content) : NULL;
    db_put(c);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (worker_stopping(w))
            break;
        int64_t id = json_integer_value(json_object_get(row, "id"));
        const char *url = json_string_value(json_object_get(json_object_get(row, "data"), "url"));
        const char *pushkey = json_string_value(json_object_get(row, "pushkey"));
        json_t *body = pusher_notification(row, include_content);
        bool rejected = false;
        int sent = url && pushkey ? post(w, url, body, pushkey, &rejected) : -1;
        json_decref(body);
        int attempts = (int)json_integer_value(json_object_get(row, "attempts"));
        int64_t created = json_integer_value(json_object_get(row, "created_ts"));
        if ((c = db_get()) == NULL)
            break;
        if (sent == 1 && rejected)
            db_pushers_delete(c, json_string_value(json_object_get(row, "user_id")),
                              json_string_value(json_object_get(row, "app_id")), pushkey);
        else if (sent != 0 || clock_now_ms() - created > GIVE_UP_MS)
            db_push_queue_done(c, id);
        else
            db_push_queue_retry(c, id, clock_now_ms() + pusher_backoff_ms(attempts));
        if (sent == -1)
            log_warn("push: the gateway refused a notification for %s; dropped",
                     json_string_value(json_object_get(row, "user_id")));
        db_put(c);
    }
    json_decref(rows);
}

int pusher_start(bool with_content)
{
    include_content = with_content;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread uses libcurl */
    if (worker_start(&sender) < 0) {
        curl_global_cleanup();
        return -1;
    }
    started = true;
    return 0;
}

void pusher_stop(void)
{
    if (!started)
        return;
    worker_stop(&sender);
    curl_global_cleanup();
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
    size_t ul = strlen(url), tail = strlen("/_matrix/push/v1/notify");
    if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) || ul > 2048 ||
        ul < tail || strcmp(url + ul - tail, "/_matrix/push/v1/notify") != 0)
        return "data.url must be an http(s) URL ending in /_matrix/push/v1/notify";
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
    db_put(c);
    if (!rows)
        return NULL;
    json_t *list = json_array();
    size_t i;
    json_t *r;
    long long last = 0;
    json_array_foreach(rows, i, r)
    {
        json_t *ev = json_object_get(r, "event");
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
        last = json_integer_value(json_object_get(r, "stream"));
    }
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
