/* slidingsync.c - POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (MSC4186
 * "Simplified Sliding Sync"): the body's lists, subscriptions and extensions, the `pos` and
 * `timeout` query parameters, the connection store, and long-polling.
 *
 * A request with `pos` names a connection state (server/ssconn.h) by user, device and
 * conn_id; one the server does not have (never issued to this user and device, replaced,
 * forgotten) answers 400 M_UNKNOWN_POS and the client starts again. A response with nothing
 * to say parks the connection on the notifier through a waker, as GET /sync does, and is computed
 * again from the same state when woken, so nothing falls between; the room list read before
 * is kept for that and only the rooms that moved are read again (server/slidingsync.c); the
 * connection keeps the last list read too (ssconn_cache), so its next request does the same. Each
 * response's state is stored under a new pos; the presented one stays valid until a newer one is
 * presented. A request whose pos stopped being good while it was computed or parked (the
 * conn_id started again, or the client went on with a newer pos) answers M_UNKNOWN_POS and
 * records nothing: an old connection is never revived (server/ssconn.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/clock.h"
#include "server/httpjob.h"
#include "server/notify.h"
#include "server/slidingsync.h"
#include "server/ssconn.h"

struct sspark {
    struct ss_req q;
    json_t *body; /* owned: q.body */
    json_t *snap; /* owned: q.snap */
    const char *conn_id, *pos;
    int64_t deadline;
    int64_t at, typing;       /* what the empty response covered */
    json_t *rooms;            /* owned */
    json_t *list, *direct;    /* owned: q.list, q.direct (what the last computation read) */
    struct http_waker *waker; /* the current waiter's, or NULL */
    bool unchanged;           /* list and direct are still the connection cache's */
    uint64_t serial;          /* that cache's serial */
    char *parked;             /* malloc'd: list and direct as text while parked, or NULL */
    bool compact;             /* parked without its trees (park_compact) */
};

static void release(struct sspark *p)
{
    json_decref(p->body);
    json_decref(p->snap);
    json_decref(p->rooms);
    json_decref(p->list);
    json_decref(p->direct);
    free(p->parked);
    p->parked = NULL;
    p->body = p->snap = p->rooms = p->list = p->direct = NULL;
    p->q.body = p->q.snap = p->q.list = p->q.direct = NULL;
}

/* While parked, the connection's state is not held as trees: the snapshot is the store's
 * (read again by the parked pos), the room list and m.direct the connection cache's when
 * unchanged, else kept as compact text. park_expand brings them back when woken. 0 or -1
 * (then nothing changed). */
static int park_compact(struct sspark *p)
{
    char *text = NULL;
    if (!p->unchanged) {
        json_t *all = json_pack("{s:O?,s:O?}", "list", p->list, "direct", p->direct);
        text = all ? json_dumps(all, JSON_COMPACT) : NULL;
        json_decref(all);
        if (!text)
            return -1;
    }
    json_decref(p->snap);
    json_decref(p->list);
    json_decref(p->direct);
    p->snap = p->list = p->direct = NULL;
    p->q.snap = p->q.list = p->q.direct = NULL;
    p->parked = text;
    p->compact = true;
    return 0;
}

/* 0, or -1 when the pos is no longer good (M_UNKNOWN_POS) or on memory. */
static int park_expand(struct sspark *p)
{
    if (!p->compact)
        return 0;
    p->compact = false;
    const char *dev = p->q.device_id ? p->q.device_id : "";
    if (ssconn_get(p->q.user_id, dev, p->conn_id, p->pos, &p->snap) < 0)
        return -1;
    p->q.snap = p->snap;
    json_t *all = NULL;
    if (p->parked) {
        all = json_loads(p->parked, 0, NULL);
        free(p->parked);
        p->parked = NULL;
    } else {
        int64_t at;
        uint64_t serial;
        all = ssconn_cache(p->q.user_id, dev, p->conn_id, &at, &serial);
        /* the same text still stands for q.list_pos (nothing moved up to it); another
         * answer of the connection may have replaced it meanwhile: then read it again */
        if (all && serial != p->serial) {
            json_decref(all);
            all = NULL;
        }
    }
    json_t *l = json_object_get(all, "list"), *d = json_object_get(all, "direct");
    p->q.list = p->list = json_is_array(l) ? json_incref(l) : NULL;
    p->q.direct = p->direct = json_is_object(d) ? json_incref(d) : NULL;
    if (!p->list)
        p->unchanged = false;
    json_decref(all);
    return 0;
}

/* The request ended (answered, or unanswered when its client went away or the server
 * stopped): the waiter, if any, resumes nothing after this. */
static void on_end(void *ctx)
{
    struct sspark *p = ctx;
    http_waker_detach(&p->waker);
    release(p);
}

static void arm(struct http_req *req)
{
    struct sspark *p = http_ctx(req);
    p->waker = http_waker_new(req);
    if (!p->waker) { /* cannot wait: answer at once, as a timeout would */
        http_resume(req);
        return;
    }
    notify_wait(p->q.user_id, p->rooms, p->at, p->typing, p->deadline - clock_mono_ms(),
                http_waker_fire, p->waker);
    json_decref(p->rooms); /* borrowed by notify_wait only during the call */
    p->rooms = NULL;
}

static void respond(struct http_req *req)
{
    struct sspark *p = http_ctx(req);
    http_waker_detach(&p->waker); /* woken (or never parked): that waiter is done with us */
    if (p->pos &&
        !ssconn_valid(p->q.user_id, p->q.device_id ? p->q.device_id : "", p->conn_id, p->pos)) {
        release(p); /* the connection moved on without this request: nothing to compute */
        http_reply_error(req, 400, "M_UNKNOWN_POS", "Unknown position");
        return;
    }
    struct ss_result r;
    if (park_expand(p) < 0) {
        release(p);
        http_reply_error(req, 400, "M_UNKNOWN_POS", "Unknown position");
        return;
    }
    if (ss_compute(&p->q, &r) < 0) {
        release(p);
        http_reply_internal(req);
        return;
    }
    p->unchanged = p->unchanged && r.list == p->q.list && r.direct == p->q.direct;
    if (r.empty && p->snap && clock_mono_ms() < p->deadline && !notify_stopping()) {
        json_decref(p->rooms);
        p->rooms = r.rooms;
        r.rooms = NULL;
        p->at = r.pos;
        p->typing = r.typing;
        /* a wake-up reads again only what moved (the room list, m.direct) */
        json_decref(p->list);
        json_decref(p->direct);
        p->q.list = p->list = r.list;
        p->q.direct = p->direct = r.direct;
        p->q.list_pos = r.pos;
        r.list = r.direct = NULL;
        ss_result_clear(&r);
        park_compact(p); /* on failure the trees stay: only memory */
        http_suspend(req, arm, respond);
        return;
    }
    char pos[48];
    /* the room list read goes with the connection: its next request starts from it */
    bool same = r.list && p->unchanged;
    json_t *cache =
        r.list && !same ? json_pack("{s:O,s:O?}", "list", r.list, "direct", r.direct) : NULL;
    int put =
        ssconn_put_cached(p->q.user_id, p->q.device_id ? p->q.device_id : "", p->conn_id, p->pos,
                          r.snap, cache, r.pos, same ? p->serial : 0, pos, sizeof pos);
    json_decref(cache);
    r.snap = NULL;
    if (put < 0) { /* replaced, expired or superseded while computed or parked */
        release(p);
        ss_result_clear(&r);
        http_reply_error(req, 400, "M_UNKNOWN_POS", "Unknown position");
        return;
    }
    json_object_set_new(r.body, "pos", json_string(pos));
    release(p);
    http_reply_json(req, 200, r.body);
    r.body = NULL;
    ss_result_clear(&r);
}

void api_slidingsync(struct http_req *req)
{
    const struct http_user *u = http_user(req);
    struct sspark *p = http_alloc(req, sizeof *p);
    memset(p, 0, sizeof *p);
    p->q.user_id = u->user_id;
    p->q.device_id = u->device_id;
    json_t *body = http_json(req);
    char why[160];
    if (ss_validate(body, why, sizeof why) < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "%s", why);
        return;
    }
    const char *conn = json_string_value(json_object_get(body, "conn_id"));
    p->conn_id = http_strdup(req, conn ? conn : "");
    int64_t timeout = 0;
    const char *sp = NULL;
    if (!api_sync_params(req, &timeout, &sp))
        return;
    const char *pos = http_query(req, "pos");
    if (pos && *pos) {
        p->pos = http_strdup(req, pos);
        if (ssconn_get(u->user_id, u->device_id ? u->device_id : "", p->conn_id, pos, &p->snap) <
            0) {
            http_reply_error(req, 400, "M_UNKNOWN_POS", "Unknown position");
            return;
        }
        /* the room list the connection's last answer read: brought forward, not read again */
        int64_t at;
        json_t *cache =
            ssconn_cache(u->user_id, u->device_id ? u->device_id : "", p->conn_id, &at, &p->serial);
        json_t *list = json_object_get(cache, "list");
        if (json_is_array(list)) {
            p->q.list = p->list = json_incref(list);
            p->unchanged = true;
            json_t *d = json_object_get(cache, "direct");
            p->q.direct = p->direct = json_is_object(d) ? json_incref(d) : NULL;
            p->q.list_pos = at;
        }
        json_decref(cache);
    }
    api_sync_presence(req, u->user_id, sp);
    p->body = json_incref(body);
    p->q.body = p->body;
    p->q.snap = p->snap;
    p->deadline = clock_mono_ms() + timeout;
    http_set_ctx(req, p);
    http_on_end(req, on_end);
    respond(req);
}
