/* notify.c - the stream position and the notifier (Client-Server API "Syncing": /sync
 * long-polling; "Typing Notifications").
 *
 * One stream. Everything /sync reports incrementally (events, receipts, account data,
 * to-device messages, device-list changes) takes its position from one PostgreSQL sequence,
 * stream_ordering_seq, inside the writing transaction. A sync token names a position P and
 * means "the client has seen everything at or below P". Positions are taken in one order and
 * committed in another, so a reader may only trust positions up to the point below which every
 * writer has finished: notify_position().
 *
 * How that point is known without a round trip: a writer registers a ticket before its
 * transaction takes any position; the ticket records `floor`, the highest committed position
 * known at that moment. The sequence is monotonic, so everything that ticket will take lies
 * above its floor. Hence
 *   position = no ticket open ? highest committed position : the oldest open ticket's floor.
 * Tickets are kept in begin order, so their floors never decrease along the list.
 *
 * Invariants:
 *  1. The position never decreases, and every position at or below it that will ever be
 *     committed has been committed.
 *  2. A waiter is woken at most once, by the first of: a touch it matches at a position above
 *     its own and at or below the published position, a typing change in one of its rooms, its
 *     timeout, notify_stop. Touches are delivered in publication order.
 *  3. No callback runs under the lock.
 *
 * Scaling out (several processes sharing one database). Nothing here assumes the writer is in
 * this process except where positions come from: a second process would run its own tickets
 * and, when one ends, publish its committed touches with `NOTIFY amtsbote_stream, '<pos> <room>
 * <user>'` inside the same transaction (PostgreSQL delivers notifications on commit, in commit
 * order). Each process keeps one connection in `LISTEN amtsbote_stream` and feeds what it hears
 * into the same delivery path as local touches (deliver() below); the published position of a
 * process is then min(own open floors, the lowest position any peer has announced as still in
 * flight), which peers announce with the same channel. Readers are unchanged: they only ever
 * see notify_position() and the wake callbacks. Until that exists, one process owns the
 * database (deploy/ says so).
 *
 * Typing notifications are ephemeral and live only here: per room the users typing and when
 * each expires, and a serial that moves on every change. The serial starts at the wall clock
 * in milliseconds, so a token from before a restart is older than every serial after it. */
#include "server/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/clock.h"
#include "server/log.h"

#define RECENT 4096        /* delivered touches remembered for waiters that arrive late */
#define TYPING_BUCKETS 1024
#define MAX_TYPERS 64      /* per room; more are ignored */

struct touch {
    int64_t pos;
    char *room_id, *user_id;
    unsigned kind;
};

struct notify_ticket {
    int64_t floor;
    struct touch *touches;
    size_t n, cap;
    struct notify_ticket *prev, *next;
};

struct notify_waiter {
    char *user_id;
    char **rooms; /* sorted */
    size_t n_rooms;
    int64_t pos, typing, deadline;
    notify_wake_fn wake;
    void *arg;
    struct notify_waiter *prev, *next;
};

struct typer {
    char *user_id;
    int64_t expires; /* monotonic ms */
};
struct typing_room {
    char *room_id;
    int64_t serial;
    struct typer typers[MAX_TYPERS];
    size_t n;
    struct typing_room *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick;
static pthread_t timer;
static bool running, stopping;

static int64_t committed_max; /* highest committed position known */
static int64_t published;     /* notify_position() */
static struct notify_ticket *open_head, *open_tail;
static struct touch *pending; /* committed, above `published` */
static size_t n_pending, cap_pending;
static struct touch recent[RECENT]; /* ring of delivered touches */
static size_t recent_next, recent_count;
static int64_t recent_floor; /* the ring holds every delivered touch above this position */
static struct notify_waiter *waiters;
static atomic_long n_waiters; /* linked in `waiters`, for the metrics */
static struct typing_room *typing_rooms[TYPING_BUCKETS];
static int64_t typing_serial;

/* Woken waiters collected under the lock and called after it. */
struct woken {
    struct notify_waiter **w;
    size_t n, cap;
};

static void waiter_free(struct notify_waiter *w)
{
    for (size_t i = 0; i < w->n_rooms; i++)
        free(w->rooms[i]);
    free(w->rooms);
    free(w->user_id);
    free(w);
}

static void unlink_waiter(struct notify_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    atomic_fetch_sub_explicit(&n_waiters, 1, memory_order_relaxed);
}

long notify_waiters(void)
{
    return atomic_load_explicit(&n_waiters, memory_order_relaxed);
}

static void woken_add(struct woken *k, struct notify_waiter *w)
{
    unlink_waiter(w);
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct notify_waiter **nw = realloc(k->w, cap * sizeof *nw);
        if (!nw) { /* cannot remember it: wake it right here rather than lose it */
            w->wake(w->arg);
            waiter_free(w);
            return;
        }
        k->w = nw;
        k->cap = cap;
    }
    k->w[k->n++] = w;
}

static void woken_run(struct woken *k)
{
    for (size_t i = 0; i < k->n; i++) {
        k->w[i]->wake(k->w[i]->arg);
        waiter_free(k->w[i]);
    }
    free(k->w);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool waiter_has_room(const struct notify_waiter *w, const char *room_id)
{
    return w->n_rooms && bsearch(&room_id, w->rooms, w->n_rooms, sizeof *w->rooms, cmp_str);
}

static bool touch_matches(const struct touch *t, const struct notify_waiter *w)
{
    if (t->pos <= w->pos)
        return false;
    if (t->user_id && strcmp(t->user_id, w->user_id) == 0)
        return true;
    return t->room_id && waiter_has_room(w, t->room_id);
}

static void recent_put(struct touch *t)
{
    struct touch *slot = &recent[recent_next];
    if (recent_count == RECENT) {
        if (slot->pos > recent_floor)
            recent_floor = slot->pos;
        free(slot->room_id);
        free(slot->user_id);
    } else {
        recent_count++;
    }
    *slot = *t;
    recent_next = (recent_next + 1) % RECENT;
}

/* Publish what became safe; wake the waiters it concerns. Under the lock. */
static void advance(struct woken *k)
{
    int64_t pos = open_head ? open_head->floor : committed_max;
    if (pos > published)
        published = pos;
    size_t keep = 0;
    for (size_t i = 0; i < n_pending; i++) {
        struct touch *t = &pending[i];
        if (t->pos > published) {
            pending[keep++] = *t;
            continue;
        }
        for (struct notify_waiter *w = waiters, *nx; w; w = nx) {
            nx = w->next;
            if (touch_matches(t, w))
                woken_add(k, w);
        }
        recent_put(t);
    }
    n_pending = keep;
}

int64_t notify_position(void)
{
    pthread_mutex_lock(&mu);
    int64_t p = published;
    pthread_mutex_unlock(&mu);
    return p;
}

struct notify_ticket *notify_begin(void)
{
    struct notify_ticket *t = calloc(1, sizeof *t);
    if (!t) /* out of memory: there is no way to write safely; stop loudly */
        abort();
    pthread_mutex_lock(&mu);
    t->floor = committed_max;
    t->prev = open_tail;
    if (open_tail)
        open_tail->next = t;
    else
        open_head = t;
    open_tail = t;
    pthread_mutex_unlock(&mu);
    return t;
}

void notify_touch(struct notify_ticket *t, int64_t pos, const char *room_id, const char *user_id,
                  unsigned kind)
{
    if (!t || pos <= 0)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct touch *nt = realloc(t->touches, cap * sizeof *nt);
        if (!nt)
            abort();
        t->touches = nt;
        t->cap = cap;
    }
    t->touches[t->n++] = (struct touch){pos, room_id ? strdup(room_id) : NULL,
                                        user_id ? strdup(user_id) : NULL, kind};
}

void notify_end(struct notify_ticket *t, bool committed)
{
    if (!t)
        return;
    struct woken k = {0};
    pthread_mutex_lock(&mu);
    if (t->prev)
        t->prev->next = t->next;
    else
        open_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        open_tail = t->prev;
    for (size_t i = 0; i < t->n; i++) {
        struct touch *x = &t->touches[i];
        if (!committed) {
            free(x->room_id);
            free(x->user_id);
            continue;
        }
        if (x->pos > committed_max)
            committed_max = x->pos;
        if (n_pending == cap_pending) {
            size_t cap = cap_pending ? cap_pending * 2 : 64;
            struct touch *np = realloc(pending, cap * sizeof *np);
            if (!np)
                abort();
            pending = np;
            cap_pending = cap;
        }
        pending[n_pending++] = *x;
    }
    advance(&k);
    pthread_mutex_unlock(&mu);
    free(t->touches);
    free(t);
    woken_run(&k);
}

/* MSC4186 "bump_stamp": the event types that count as activity */
static const char *const bump_types[] = {
    "m.room.create", "m.room.message", "m.room.encrypted", "m.sticker",
    "m.call.invite", "m.poll.start",   "m.beacon_info",
};

const char *const *notify_bump_types(size_t *n)
{
    *n = sizeof bump_types / sizeof *bump_types;
    return bump_types;
}

unsigned notify_event_kinds(const char *type, const char *state_key)
{
    unsigned k = NOTIFY_TIMELINE;
    for (size_t i = 0; type && i < sizeof bump_types / sizeof *bump_types; i++)
        if (strcmp(type, bump_types[i]) == 0)
            k |= NOTIFY_BUMP;
    if (type && state_key && !*state_key && strcmp(type, "m.room.encryption") == 0)
        k |= NOTIFY_ENCRYPT;
    return k;
}

int notify_moves(const char *user_id, int64_t since, int64_t upto, unsigned *user_kinds,
                 json_t *rooms, json_t *moves)
{
    *user_kinds = 0;
    pthread_mutex_lock(&mu);
    bool covered = recent_floor <= since && upto <= published;
    for (size_t i = 0; covered && i < recent_count; i++) {
        const struct touch *t = &recent[i];
        if (t->pos <= since || t->pos > upto)
            continue;
        if (t->user_id && strcmp(t->user_id, user_id) == 0)
            *user_kinds |= t->kind;
        if (!t->room_id)
            continue;
        json_t *k = json_object_get(rooms, t->room_id);
        json_object_set_new(rooms, t->room_id,
                            json_integer((json_int_t)t->kind | json_integer_value(k)));
        if (!moves)
            continue; /* notify_changes */
        json_t *m = json_object_get(moves, t->room_id);
        if (json_is_null(m))
            continue; /* unknown already */
        if (!(t->kind & NOTIFY_TIMELINE)) {
            if (t->kind & NOTIFY_EVENT) /* an event outside the engine's batches */
                json_object_set_new(moves, t->room_id, json_null());
            continue;
        }
        if (!m) {
            m = json_pack("[I,I,I]", (json_int_t)0, (json_int_t)0, (json_int_t)0);
            json_object_set_new(moves, t->room_id, m);
        }
        if (t->pos > json_integer_value(json_array_get(m, 0)))
            json_integer_set(json_array_get(m, 0), t->pos);
        if ((t->kind & NOTIFY_BUMP) && t->pos > json_integer_value(json_array_get(m, 1)))
            json_integer_set(json_array_get(m, 1), t->pos);
        json_integer_set(json_array_get(m, 2),
                         json_integer_value(json_array_get(m, 2)) | (json_int_t)t->kind);
    }
    pthread_mutex_unlock(&mu);
    return covered ? 0 : -1;
}

int notify_changes(const char *user_id, int64_t since, int64_t upto, unsigned *user_kinds,
                   json_t *rooms)
{
    return notify_moves(user_id, since, upto, user_kinds, rooms, NULL);
}

/* --- typing ----------------------------------------------------------------------------- */

static size_t bucket_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % TYPING_BUCKETS);
}

static struct typing_room *typing_room(const char *room_id, bool create)
{
    struct typing_room **head = &typing_rooms[bucket_of(room_id)];
    for (struct typing_room *r = *head; r; r = r->next)
        if (strcmp(r->room_id, room_id) == 0)
            return r;
    if (!create)
        return NULL;
    struct typing_room *r = calloc(1, sizeof *r);
    if (!r || !(r->room_id = strdup(room_id))) {
        free(r);
        return NULL;
    }
    r->next = *head;
    *head = r;
    return r;
}

/* The room's typing changed: new serial, wake its waiters. Under the lock. */
static void typing_changed(struct typing_room *r, struct woken *k)
{
    r->serial = ++typing_serial;
    for (struct notify_waiter *w = waiters, *nx; w; w = nx) {
        nx = w->next;
        if (waiter_has_room(w, r->room_id))
            woken_add(k, w);
    }
}

void notify_typing_set(const char *room_id, const char *user_id, bool typing, int64_t timeout_ms)
{
    struct woken k = {0};
    pthread_mutex_lock(&mu);
    struct typing_room *r = typing_room(room_id, typing);
    if (r) {
        size_t i = 0;
        while (i < r->n && strcmp(r->typers[i].user_id, user_id) != 0)
            i++;
        int64_t expires = clock_mono_ms() + timeout_ms;
        if (typing && i < r->n) {
            r->typers[i].expires = expires; /* still typing: no change to report */
        } else if (typing && r->n < MAX_TYPERS) {
            char *u = strdup(user_id);
            if (u) {
                r->typers[r->n++] = (struct typer){u, expires};
                typing_changed(r, &k);
            }
        } else if (!typing && i < r->n) {
            free(r->typers[i].user_id);
            r->typers[i] = r->typers[--r->n];
            typing_changed(r, &k);
        }
    }
    pthread_cond_signal(&tick);
    pthread_mutex_unlock(&mu);
    woken_run(&k);
}

int64_t notify_typing_serial(void)
{
    pthread_mutex_lock(&mu);
    int64_t s = typing_serial;
    pthread_mutex_unlock(&mu);
    return s;
}

json_t *notify_typing_get(const char *room_id, int64_t since)
{
    json_t *out = NULL;
    pthread_mutex_lock(&mu);
    struct typing_room *r = typing_room(room_id, false);
    if (since < 0 || (r && r->serial > since)) {
        out = json_array();
        for (size_t i = 0; r && i < r->n; i++)
            json_array_append_new(out, json_string(r->typers[i].user_id));
    }
    pthread_mutex_unlock(&mu);
    return out;
}

/* Drop expired typers; the earliest remaining expiry into *next. Under the lock. */
static void typing_expire(int64_t now, int64_t *next, struct woken *k)
{
    for (size_t b = 0; b < TYPING_BUCKETS; b++) {
        for (struct typing_room *r = typing_rooms[b]; r; r = r->next) {
            bool changed = false;
            for (size_t i = 0; i < r->n;) {
                if (r->typers[i].expires <= now) {
                    free(r->typers[i].user_id);
                    r->typers[i] = r->typers[--r->n];
                    changed = true;
                    continue;
                }
                if (r->typers[i].expires < *next)
                    *next = r->typers[i].expires;
                i++;
            }
            if (changed)
                typing_changed(r, k);
        }
    }
}

/* --- waiters ---------------------------------------------------------------------------- */

void notify_wait(const char *user_id, json_t *rooms, int64_t pos, int64_t typing,
                 int64_t timeout_ms, notify_wake_fn wake, void *arg)
{
    struct notify_waiter *w = calloc(1, sizeof *w);
    size_t n = json_array_size(rooms);
    if (!w || !(w->user_id = strdup(user_id)) || (n && !(w->rooms = calloc(n, sizeof *w->rooms)))) {
        if (w)
            waiter_free(w);
        wake(arg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = json_string_value(json_array_get(rooms, i));
        if (r && (w->rooms[w->n_rooms] = strdup(r)))
            w->n_rooms++;
    }
    if (w->n_rooms)
        qsort(w->rooms, w->n_rooms, sizeof *w->rooms, cmp_str);
    w->pos = pos;
    w->typing = typing;
    w->deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    w->wake = wake;
    w->arg = arg;

    pthread_mutex_lock(&mu);
    bool now = stopping || timeout_ms <= 0;
    /* did something this waiter cares about happen since `pos` already? */
    if (!now && published > pos) {
        if (recent_floor > pos) {
            now = true; /* the ring forgot that far back: be safe */
        } else {
            for (size_t i = 0; i < recent_count && !now; i++)
                now = touch_matches(&recent[i], w);
        }
    }
    for (size_t i = 0; i < w->n_rooms && !now; i++) {
        struct typing_room *r = typing_room(w->rooms[i], false);
        now = r && r->serial > typing;
    }
    if (!now) {
        w->next = waiters;
        if (waiters)
            waiters->prev = w;
        waiters = w;
        atomic_fetch_add_explicit(&n_waiters, 1, memory_order_relaxed);
        pthread_cond_signal(&tick);
    }
    pthread_mutex_unlock(&mu);
    if (now) {
        wake(arg);
        waiter_free(w);
    }
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct woken k = {0};
        int64_t now = clock_mono_ms(), next = now + 60000;
        for (struct notify_waiter *w = waiters, *nx; w; w = nx) {
            nx = w->next;
            if (w->deadline <= now)
                woken_add(&k, w);
            else if (w->deadline < next)
                next = w->deadline;
        }
        typing_expire(now, &next, &k);
        if (k.n) {
            pthread_mutex_unlock(&mu);
            woken_run(&k);
            pthread_mutex_lock(&mu);
            continue;
        }
        free(k.w);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = next - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&tick, &mu, &ts);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int notify_start(int64_t stream_max)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tick, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&mu);
    committed_max = published = recent_floor = stream_max;
    typing_serial = clock_now_ms();
    stopping = false;
    pthread_mutex_unlock(&mu);
    if (pthread_create(&timer, NULL, timer_main, NULL) != 0) {
        log_error("notify: cannot start the timeout thread");
        return -1;
    }
    running = true;
    return 0;
}

bool notify_stopping(void)
{
    pthread_mutex_lock(&mu);
    bool s = stopping;
    pthread_mutex_unlock(&mu);
    return s;
}

void notify_stop(void)
{
    struct woken k = {0};
    pthread_mutex_lock(&mu);
    stopping = true;
    for (struct notify_waiter *w = waiters, *nx; w; w = nx) {
        nx = w->next;
        woken_add(&k, w);
    }
    pthread_cond_signal(&tick);
    pthread_mutex_unlock(&mu);
    woken_run(&k);
    if (running) {
        pthread_join(timer, NULL);
        running = false;
    }
}

void notify_cleanup(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < recent_count; i++) {
        free(recent[i].room_id);
        free(recent[i].user_id);
    }
    recent_count = recent_next = 0;
    for (size_t i = 0; i < n_pending; i++) {
        free(pending[i].room_id);
        free(pending[i].user_id);
    }
    free(pending);
    pending = NULL;
    n_pending = cap_pending = 0;
    for (size_t b = 0; b < TYPING_BUCKETS; b++) {
        while (typing_rooms[b]) {
            struct typing_room *r = typing_rooms[b];
            typing_rooms[b] = r->next;
            for (size_t i = 0; i < r->n; i++)
                free(r->typers[i].user_id);
            free(r->room_id);
            free(r);
        }
    }
    pthread_mutex_unlock(&mu);
}
