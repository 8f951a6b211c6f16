/* sync.c - GET /sync (Client-Server API "Syncing"): parameters, filters, and long-polling on
 * parked connections.
 *
 * A sync with `since` that has nothing to report parks its connection (http_suspend) and
 * registers with the notifier (server/notify.h); no thread waits for it. When the notifier
 * wakes it (something for this user moved past the position computed, or typing changed in
 * one of their rooms, or the timeout passed), the response is computed again from the same
 * `since`, so nothing can fall between the two computations. If a wake turns out to concern
 * nothing the user may see, the request parks again for the rest of its timeout. A parked
 * request can end before its waiter fires (the client went away): the waiter holds a
 * waker (server/httpjob.h), not the request, and resumes it only while it lives. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/clock.h"
#include "server/httpjob.h"
#include "server/notify.h"
#include "server/sync.h"
#include "server/userdata.h"

#define MAX_TIMEOUT_MS 90000

struct park {
    struct sync_req q;
    struct http_waker *wref; /* the current waiter's, or NULL */
    json_t *filter; /* owned; released with the reply */
    int64_t deadline;
    int64_t pos, typing; /* what the empty response covered */
    json_t *rooms;       /* owned */
    json_t *mems;        /* owned: p->q.mems */
};

static void park_release(struct park *p)
{
    json_decref(p->filter);
    p->filter = NULL;
    json_decref(p->mems);
    p->mems = p->q.mems = NULL;
    json_decref(p->rooms);
    p->rooms = NULL;
}

static void respond(struct http_req *req);

/* The request lets go of its waiter's waker; after its end the waiter resumes nothing. */
static void park_drop_waiter(struct park *p)
{
    http_waker_detach(&p->wref);
}

/* The request ended (also unanswered, when the server stopped with it parked, or when its
 * client went away). */
static void park_end(void *ctx)
{
    park_drop_waiter(ctx);
    park_release(ctx);
}

static void arm(struct http_req *req)
{
    struct park *p = http_ctx(req);
    int64_t left = p->deadline - clock_mono_ms();
    struct http_waker *w = http_waker_new(req);
    if (!w) { /* cannot wait: answer at once, as a timeout would */
        http_resume(req);
        return;
    }
    p->wref = w;
    notify_wait(p->q.user_id, p->rooms, p->pos, p->typing, left, http_waker_fire, w);
}

static void respond(struct http_req *req)
{
    struct park *p = http_ctx(req);
    park_drop_waiter(p); /* woken (or never parked): that waiter is done with us */
    struct sync_result r;
    if (sync_compute(&p->q, &r) < 0) {
        park_release(p);
        http_reply_internal(req);
        return;
    }
    if (r.empty && p->q.has_since && clock_mono_ms() < p->deadline && !notify_stopping()) {
        json_decref(p->rooms);
        p->rooms = r.rooms;
        r.rooms = NULL;
        p->pos = r.next.pos;
        p->typing = r.next.typing;
        json_decref(p->mems);
        p->mems = p->q.mems = r.mems;
        p->q.mems_pos = r.next.pos;
        r.mems = NULL;
        sync_result_clear(&r);
        http_suspend(req, arm, respond);
        return;
    }
    park_release(p);
    http_reply_json(req, 200, r.body);
    r.body = NULL;
    sync_result_clear(&r);
}

bool api_sync_params(struct http_req *req, int64_t *timeout, const char **set_presence)
{
    *timeout = 0;
    const char *t = http_query(req, "timeout");
    if (t && *t) {
        char *end;
        long long v = strtoll(t, &end, 10);
        if (*end || v < 0) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "timeout must be a non-negative integer");
            return false;
        }
        *timeout = v > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : v;
    }
    const char *sp = http_query(req, "set_presence");
    if (sp && strcmp(sp, "online") != 0 && strcmp(sp, "offline") != 0 &&
        strcmp(sp, "unavailable") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "set_presence must be online, offline or unavailable");
        return false;
    }
    *set_presence = sp;
    return true;
}

void api_sync_presence(struct http_req *req, const char *user_id, const char *set_presence)
{
    /* "online" unless told otherwise; only stored when presence is enabled */
    bool offline = set_presence && strcmp(set_presence, "offline") == 0;
    if (http_config(req)->presence_enabled && !offline) {
        char why[128];
        userdata_presence_put(user_id, set_presence ? set_presence : "online", NULL, why,
                              sizeof why);
    }
}

/* The `filter` parameter: inline JSON or the ID of a stored filter. Answers on error. */
static bool load_filter(struct http_req *req, const char *user_id, json_t **out)
{
    const char *f = http_query(req, "filter");
    *out = NULL;
    if (!f || !*f)
        return true;
    char why[256];
    if (f[0] == '{') {
        *out = api_filter_parse(f, strlen(f), why, sizeof why);
        if (!*out) {
            http_reply_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", why);
            return false;
        }
        return true;
    }
    enum room_rc rc = userdata_filter_get(user_id, f, out);
    if (rc == ROOM_NOT_FOUND) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Unknown filter '%s'", f);
        return false;
    }
    if (rc != ROOM_OK) {
        http_reply_internal(req);
        return false;
    }
    return true;
}

void api_sync(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    struct park *p = http_alloc(req, sizeof *p);
    memset(p, 0, sizeof *p);
    p->q.user_id = u->user_id;
    p->q.device_id = u->device_id;
    p->q.presence_enabled = http_config(req)->presence_enabled;

    const char *since = http_query(req, "since");
    if (since && *since) {
        if (sync_token_parse(since, &p->q.since) < 0) {
            http_reply_error(req, 400, "M_INVALID_PARAM", "Invalid 'since' token");
            return;
        }
        p->q.has_since = true;
    }
    const char *fs = http_query(req, "full_state");
    if (fs && strcmp(fs, "true") != 0 && strcmp(fs, "false") != 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "full_state must be true or false");
        return;
    }
    p->q.full_state = fs && strcmp(fs, "true") == 0;
    int64_t timeout = 0;
    const char *sp = NULL;
    if (!api_sync_params(req, &timeout, &sp))
        return;
    if (!load_filter(req, u->user_id, &p->filter))
        return;
    p->q.filter = p->filter;
    api_sync_presence(req, u->user_id, sp);
    p->deadline = clock_mono_ms() + (p->q.full_state ? 0 : timeout);
    http_set_ctx(req, p);
    http_on_end(req, park_end);
    respond(req);
}
