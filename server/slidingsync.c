/* slidingsync.c - native sliding sync (MSC4186 "Simplified Sliding Sync", unstable prefix
 * org.matrix.simplified_msc3575): lists, room subscriptions and extensions of one request.
 *
 *  1. The server list: the user's rooms with a membership (join, invite, knock; a kick or ban
 *     by someone else; a leave of their own only when the connection got the room before),
 *     newest activity first (the newest event the user may know of; ties by room ID). A
 *     parked request woken again reuses the list it read and reads only the joined rooms
 *     the notifier saw move (their new events), unless something named the user.
 *  2. Each list filters it (is_dm from m.direct, is_encrypted, is_invite, room_types,
 *     not_room_types, spaces from the joined spaces' m.space.child events, tags and not_tags
 *     from m.tag), answers its
 *     `count`, and selects the rooms inside its ranges. Subscriptions select rooms the user
 *     has a membership in; others are ignored. A room selected several times gets the
 *     largest timeline_limit and the union of the required_state.
 *  3. The rooms: server/slidingsync_room.c.
 *  4. Extensions: server/slidingsync_ext.c.
 * The response covers (since, upto] with upto = notify_position(), as /sync does. */
#include "server/slidingsync.h"
#include "server/slidingsync_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/notify.h"
#include "storage/slidingsync.h"
#include "storage/userdata.h"

#define MAX_LISTS 100
#define MAX_RANGES 10
#define MAX_REQUIRED_STATE 100
#define MAX_SUBSCRIPTIONS 100
#define MAX_FILTER_ITEMS 50
#define MAX_TIMELINE 100

/* --- validation ------------------------------------------------------------------------- */

static bool is_uint(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int bad(char *why, size_t n, const char *what)
{
    snprintf(why, n, "%s", what);
    return -1;
}

/* required_state: [[type, state_key], ...], or the MSC's newer {include, exclude,
 * lazy_members} (only include and lazy_members are honoured). */
static int check_rs(const json_t *rs, char *why, size_t n)
{
    if (!rs)
        return 0;
    if (json_is_object(rs)) {
        const json_t *inc = json_object_get(rs, "include");
        if (inc && (!json_is_array(inc) || json_array_size(inc) > MAX_REQUIRED_STATE))
            return bad(why, n, "required_state.include must be an array of at most 100");
        size_t i;
        json_t *e;
        json_array_foreach(inc, i, e)
        {
            json_t *t = json_object_get(e, "type"), *k = json_object_get(e, "state_key");
            if (!json_is_object(e) || (t && !json_is_string(t)) || (k && !json_is_string(k)))
                return bad(why, n, "required_state.include holds objects of strings");
        }
        return 0;
    }
    if (!json_is_array(rs) || json_array_size(rs) > MAX_REQUIRED_STATE)
        return bad(why, n, "required_state must be an array of at most 100 pairs");
    size_t i;
    json_t *p;
    json_array_foreach(rs, i, p)
    {
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_string(json_array_get(p, 0)) ||
            !json_is_string(json_array_get(p, 1)))
            return bad(why, n, "required_state entries are [type, state_key]");
    }
    return 0;
}

static int check_config(const json_t *cfg, char *why, size_t n)
{
    const json_t *tl = json_object_get(cfg, "timeline_limit");
    if (tl && !is_uint(tl))
        return bad(why, n, "timeline_limit must be a non-negative integer");
    return check_rs(json_object_get(cfg, "required_state"), why, n);
}

static int check_strings(const json_t *a, bool nulls)
{
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MAX_FILTER_ITEMS)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) && !(nulls && json_is_null(v)))
            return -1;
    }
    return 0;
}

static int check_list(const json_t *l, char *why, size_t n)
{
    if (!json_is_object(l))
        return bad(why, n, "a list must be an object");
    const json_t *ranges = json_object_get(l, "ranges");
    const json_t *range = json_object_get(l, "range");
    if (range && (!json_is_array(range) || json_array_size(range) != 2))
        return bad(why, n, "range must be [start, end]");
    if (ranges && (!json_is_array(ranges) || json_array_size(ranges) > MAX_RANGES))
        return bad(why, n, "ranges must be an array of at most 10 [start, end]");
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r)
    {
        if (!json_is_array(r) || json_array_size(r) != 2)
            return bad(why, n, "ranges must hold [start, end] pairs");
    }
    for (size_t k = 0; k <= json_array_size(ranges); k++) {
        const json_t *p = k < json_array_size(ranges) ? json_array_get(ranges, k) : range;
        if (!p)
            continue;
        if (!is_uint(json_array_get(p, 0)) || !is_uint(json_array_get(p, 1)) ||
            json_integer_value(json_array_get(p, 0)) > json_integer_value(json_array_get(p, 1)))
            return bad(why, n, "a range is two non-negative integers, start <= end");
    }
    const json_t *f = json_object_get(l, "filters");
    if (f && !json_is_object(f))
        return bad(why, n, "filters must be an object");
    const char *flags[] = {"is_dm", "is_encrypted", "is_invite", "is_invited"};
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) {
        const json_t *v = json_object_get(f, flags[k]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return bad(why, n, "filter flags must be booleans");
    }
    if (check_strings(json_object_get(f, "room_types"), true) < 0 ||
        check_strings(json_object_get(f, "not_room_types"), true) < 0 ||
        check_strings(json_object_get(f, "spaces"), false) < 0 ||
        check_strings(json_object_get(f, "tags"), false) < 0 ||
        check_strings(json_object_get(f, "not_tags"), false) < 0)
        return bad(why, n,
                   "room_types, not_room_types, spaces, tags and not_tags are arrays of at "
                   "most 50");
    return check_config(l, why, n);
}

static int check_ext(const json_t *e, char *why, size_t n)
{
    if (!e)
        return 0;
    if (!json_is_object(e))
        return bad(why, n, "extensions must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)e, key, v)
    {
        if (!json_is_object(v))
            return bad(why, n, "an extension config must be an object");
        const json_t *en = json_object_get(v, "enabled");
        if (en && !json_is_boolean(en) && !json_is_null(en))
            return bad(why, n, "enabled must be a boolean");
        if (check_strings(json_object_get(v, "lists"), false) < 0 ||
            check_strings(json_object_get(v, "rooms"), false) < 0)
            return bad(why, n, "an extension's lists and rooms are arrays of strings");
    }
    const json_t *td = json_object_get(e, "to_device");
    const json_t *lim = json_object_get(td, "limit");
    const json_t *since = json_object_get(td, "since");
    if (lim && !json_is_null(lim) && !is_uint(lim))
        return bad(why, n, "to_device.limit must be a non-negative integer");
    if (since && !json_is_null(since) && !json_is_string(since))
        return bad(why, n, "to_device.since must be a string");
    return 0;
}

int ss_validate(const json_t *body, char *why, size_t n)
{
    if (!json_is_object(body))
        return bad(why, n, "the body must be an object");
    const json_t *conn = json_object_get(body, "conn_id");
    if (conn && !json_is_null(conn) && (!json_is_string(conn) || json_string_length(conn) > 255))
        return bad(why, n, "conn_id must be a string of at most 255 bytes");
    const json_t *lists = json_object_get(body, "lists");
    if (lists && (!json_is_object(lists) || json_object_size(lists) > MAX_LISTS))
        return bad(why, n, "lists must be an object of at most 100 lists");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)lists, key, v)
    {
        if (strlen(key) > 255)
            return bad(why, n, "list names are at most 255 bytes");
        if (check_list(v, why, n) < 0)
            return -1;
    }
    const json_t *subs = json_object_get(body, "room_subscriptions");
    if (subs && (!json_is_object(subs) || json_object_size(subs) > MAX_SUBSCRIPTIONS))
        return bad(why, n, "room_subscriptions must be an object of at most 100 rooms");
    json_object_foreach((json_t *)subs, key, v)
    {
        if (!json_is_object(v))
            return bad(why, n, "a room subscription must be an object");
        if (check_config(v, why, n) < 0)
            return -1;
    }
    return check_ext(json_object_get(body, "extensions"), why, n);
}

/* --- lists ------------------------------------------------------------------------------ */

/* required_state of a config as [[type, state_key], ...] (new array). */
static json_t *rs_pairs(const json_t *cfg)
{
    const json_t *rs = json_object_get(cfg, "required_state");
    if (!json_is_object(rs))
        return json_is_array(rs) ? json_deep_copy(rs) : json_array();
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rs, "include"), i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *k = json_string_value(json_object_get(e, "state_key"));
        json_array_append_new(out, json_pack("[ss]", t ? t : "*", k ? k : "*"));
    }
    if (json_is_true(json_object_get(rs, "lazy_members")))
        json_array_append_new(out, json_pack("[ss]", "m.room.member", "$LAZY"));
    return out;
}

static int cmp_activity(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t lx = json_integer_value(json_object_get(x, "last"));
    json_int_t ly = json_integer_value(json_object_get(y, "last"));
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "room_id")),
                  json_string_value(json_object_get(y, "room_id")));
}

static bool in_types(const json_t *types, const json_t *room_type)
{
    size_t i;
    json_t *v;
    json_array_foreach(types, i, v)
    {
        if (json_is_null(v) ? !json_is_string(room_type) : json_equal(v, room_type))
            return true;
    }
    return false;
}

/* Whether a room (row of db_ss_rooms) passes a list's filters; `children`: the spaces'
 * children (NULL: no spaces filter). */
static bool filter_ok(const struct ss_ctx *x, const json_t *f, const json_t *row,
                      const json_t *children)
{
    const char *room_id = json_string_value(json_object_get(row, "room_id"));
    const json_t *v;
    if (json_is_boolean(v = json_object_get(f, "is_dm")) &&
        json_is_true(v) != (json_object_get(x->direct, room_id) != NULL))
        return false;
    if (json_is_boolean(v = json_object_get(f, "is_encrypted")) &&
        json_is_true(v) != json_is_true(json_object_get(row, "encrypted")))
        return false;
    v = json_object_get(f, "is_invite");
    if (!json_is_boolean(v))
        v = json_object_get(f, "is_invited");
    bool invited = strcmp(json_string_value(json_object_get(row, "membership")), "invite") == 0;
    if (json_is_boolean(v) && json_is_true(v) != invited)
        return false;
    const json_t *rt = json_object_get(row, "room_type");
    const json_t *types = json_object_get(f, "room_types");
    if (json_is_array(types) && !in_types(types, rt))
        return false;
    if (in_types(json_object_get(f, "not_room_types"), rt))
        return false;
    if (children && !json_object_get(children, room_id))
        return false;
    /* not_tags wins over tags */
    const json_t *tags = json_object_get(row, "tags");
    size_t i;
    json_array_foreach(json_object_get(f, "not_tags"), i, v)
    {
        if (json_object_get(tags, json_string_value(v)))
            return false;
    }
    const json_t *want = json_object_get(f, "tags");
    if (!json_is_array(want))
        return true;
    json_array_foreach(want, i, v)
    {
        if (json_object_get(tags, json_string_value(v)))
            return true;
    }
    return false;
}

static bool in_ranges(const json_t *l, size_t k)
{
    const json_t *ranges = json_object_get(l, "ranges");
    const json_t *range = json_object_get(l, "range");
    if (!ranges && !range)
        return true; /* MSC4186: no range, no limit */
    for (size_t i = 0; i <= json_array_size(ranges); i++) {
        const json_t *p = i < json_array_size(ranges) ? json_array_get(ranges, i) : range;
        if (p && (json_int_t)k >= json_integer_value(json_array_get(p, 0)) &&
            (json_int_t)k <= json_integer_value(json_array_get(p, 1)))
            return true;
    }
    return false;
}

/* Selected rooms: list holds n entries, index by room ID in `idx`. */
struct selection {
    struct ss_room *list;
    size_t n;
    json_t *idx;   /* room_id -> index */
    json_t *held;  /* keeps the required_state arrays and rs keys alive */
    json_t *where; /* room_id -> {"lists": [names], "sub": bool} for extension scoping */
};

static void select_room(struct selection *s, const json_t *row, const json_t *cfg,
                        const char *list_name, const json_t *prev_rooms)
{
    const char *room_id = json_string_value(json_object_get(row, "room_id"));
    json_t *at = json_object_get(s->idx, room_id);
    struct ss_room *r;
    if (at) {
        r = &s->list[json_integer_value(at)];
    } else {
        r = &s->list[s->n];
        memset(r, 0, sizeof *r);
        r->room_id = room_id;
        r->row = row;
        r->required_state = json_array();
        json_array_append_new(s->held, r->required_state);
        r->prev = json_object_get(prev_rooms, room_id);
        json_object_set_new(s->idx, room_id, json_integer((json_int_t)s->n++));
        json_object_set_new(s->where, room_id, json_pack("{s:[],s:b}", "lists", "sub", 0));
    }
    json_int_t tl = json_integer_value(json_object_get(cfg, "timeline_limit"));
    if (tl > MAX_TIMELINE)
        tl = MAX_TIMELINE;
    if (tl > r->timeline_limit)
        r->timeline_limit = (int)tl;
    json_t *pairs = rs_pairs(cfg);
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p)
    {
        size_t j;
        json_t *q;
        bool dup = false;
        json_array_foreach(r->required_state, j, q) dup = dup || json_equal(p, q);
        if (!dup)
            json_array_append(r->required_state, p);
    }
    json_decref(pairs);
    json_t *w = json_object_get(s->where, room_id);
    if (list_name)
        json_array_append_new(json_object_get(w, "lists"), json_string(list_name));
    else
        json_object_set_new(w, "sub", json_true());
}

static int cmp_pair(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c =
        strcmp(json_string_value(json_array_get(x, 0)), json_string_value(json_array_get(y, 0)));
    return c ? c
             : strcmp(json_string_value(json_array_get(x, 1)),
                      json_string_value(json_array_get(y, 1)));
}

/* The canonical form of a room's required_state (sorted pairs), kept in s->held. */
static void rs_keys(struct selection *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct ss_room *r = &s->list[i];
        size_t k = json_array_size(r->required_state);
        json_t **v = calloc(k ? k : 1, sizeof *v);
        json_t *sorted = json_array();
        if (v) {
            for (size_t j = 0; j < k; j++)
                v[j] = json_array_get(r->required_state, j);
            qsort(v, k, sizeof *v, cmp_pair);
            for (size_t j = 0; j < k; j++)
                json_array_append(sorted, v[j]);
            free(v);
        }
        char *d = json_dumps(sorted, JSON_COMPACT);
        json_decref(sorted);
        json_t *str = json_string(d ? d : "");
        free(d);
        json_array_append_new(s->held, str);
        r->rs_key = json_string_value(str);
    }
}

/* --- the response ----------------------------------------------------------------------- */

void ss_result_clear(struct ss_result *r)
{
    json_decref(r->body);
    json_decref(r->snap);
    json_decref(r->rooms);
    json_decref(r->list);
    json_decref(r->direct);
    memset(r, 0, sizeof *r);
}

static json_t *direct_rooms(struct dbc *c, const char *user_id)
{
    json_t *d = db_account_data_get(c, user_id, "", "m.direct");
    if (!d)
        return NULL;
    json_t *out = json_object();
    const char *u;
    json_t *ids;
    json_object_foreach(d, u, ids)
    {
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            if (json_is_string(v))
                json_object_set_new(out, json_string_value(v), json_true());
        }
    }
    json_decref(d);
    return out;
}

/* The room list of a previous computation (q->list, read at q->list_pos) brought to x->upto:
 * the rooms the user is joined to that had events since get their activity, encryption,
 * from one read of those rooms' new events. NULL (read it all again) when something named
 * the user since, the notifier no longer knows, or on error; *direct_ok then tells whether
 * q->direct still holds (no account data of the user moved). New reference. */
static json_t *list_moved(struct ss_ctx *x, const json_t *bt, bool *direct_ok)
{
    const struct ss_req *q = x->q;
    *direct_ok = false;
    if (!q->list || q->list_pos > x->upto)
        return NULL;
    unsigned uk = 0;
    json_t *rk = json_object(), *ids = json_array(), *moved = json_object(), *out = NULL;
    json_t *mv = json_object();
    if (notify_moves(q->user_id, q->list_pos, x->upto, &uk, rk, mv) < 0 ||
        (uk & (NOTIFY_EVENT | NOTIFY_ACCOUNT | NOTIFY_MEMBER)))
        goto out;
    *direct_ok = true;
    size_t i;
    json_t *row;
    json_array_foreach(q->list, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "room_id"));
        /* a room the user is not in shows activity only up to their membership */
        if (!(json_integer_value(json_object_get(rk, id)) & NOTIFY_EVENT) ||
            strcmp(json_string_value(json_object_get(row, "membership")), "join") != 0)
            continue;
        /* the notifier saw the room's new events (every woken connection of the room takes
         * them from there: no read); else read them */
        const json_t *m = json_object_get(mv, id);
        if (json_is_array(m)) {
            json_int_t bump = json_integer_value(json_array_get(m, 1));
            unsigned k = (unsigned)json_integer_value(json_array_get(m, 2));
            json_object_set_new(moved, id,
                                json_pack("{s:I,s:o,s:b}", "last",
                                          json_integer_value(json_array_get(m, 0)), "bump",
                                          bump ? json_integer(bump) : json_null(), "encrypted",
                                          (k & NOTIFY_ENCRYPT) != 0));
        } else {
            json_array_append_new(ids, json_string(id));
        }
    }
    if (json_array_size(ids)) {
        json_t *got = db_ss_rooms_moved(x->c, ids, q->list_pos, x->upto, bt);
        if (!got)
            goto out;
        json_object_update(moved, got);
        json_decref(got);
    }
    if (!json_object_size(moved)) {
        out = json_incref((json_t *)q->list);
        goto out;
    }
    out = json_array();
    json_array_foreach(q->list, i, row)
    {
        const json_t *m =
            json_object_get(moved, json_string_value(json_object_get(row, "room_id")));
        if (!m) {
            json_array_append(out, row);
            continue;
        }
        json_t *c = json_copy(row); /* shallow: the members stay shared, never changed */
        json_object_set(c, "last", json_object_get(m, "last"));
        if (json_is_integer(json_object_get(m, "bump")))
            json_object_set(c, "bump", json_object_get(m, "bump"));
        if (json_is_true(json_object_get(m, "encrypted")))
            json_object_set_new(c, "encrypted", json_true());
        json_array_append_new(out, c);
    }
out:
    json_decref(rk);
    json_decref(mv);
    json_decref(ids);
    json_decref(moved);
    return out;
}

int ss_compute(const struct ss_req *q, struct ss_result *r)
{
    memset(r, 0, sizeof *r);
    struct ss_ctx x = {.q = q, .now = clock_now_ms()};
    x.upto = notify_position();
    int64_t typing_now = notify_typing_serial();
    const json_t *snap = q->snap;
    x.since = json_integer_value(json_object_get(snap, "upto"));
    if (x.since > x.upto)
        x.since = x.upto;
    const json_t *prev_rooms = json_object_get(snap, "rooms");
    int rc = -1;
    json_t *bt = json_array(), *all = NULL, *server_list = json_array(), *joined = json_array();
    json_t *lists_out = json_object(), *rooms_out = json_object(), *sent = json_object();
    json_t *exts = json_object(), *counts = json_object(), *by_id = json_object();
    json_t **order = NULL;
    struct selection s = {.idx = json_object(), .held = json_array(), .where = json_object()};
    size_t nbt;
    const char *const *bts = notify_bump_types(&nbt); /* MSC4186 bump_stamp */
    for (size_t i = 0; i < nbt; i++)
        json_array_append_new(bt, json_string(bts[i]));
    x.c = db_get();
    bool direct_ok = false;
    if (!x.c)
        goto out;
    all = list_moved(&x, bt, &direct_ok);
    x.direct = direct_ok && q->direct ? json_incref((json_t *)q->direct) : NULL;
    if ((!all && !(all = db_ss_rooms(x.c, q->user_id, x.upto, bt))) ||
        (!x.direct && !(x.direct = direct_rooms(x.c, q->user_id))))
        goto out;

    /* step 1: the server list */
    size_t na = json_array_size(all), nl = 0;
    order = calloc(na ? na : 1, sizeof *order);
    s.list = calloc(na ? na : 1, sizeof *s.list);
    if (!order || !s.list)
        goto out;
    size_t i;
    json_t *row;
    json_array_foreach(all, i, row)
    {
        const char *room_id = json_string_value(json_object_get(row, "room_id"));
        const char *ms = json_string_value(json_object_get(row, "membership"));
        const char *sender = json_string_value(json_object_get(row, "sender"));
        json_object_set(by_id, room_id, row);
        if (strcmp(ms, "join") == 0)
            json_array_append_new(joined, json_string(room_id));
        bool by_other = sender && strcmp(sender, q->user_id) != 0;
        if (strcmp(ms, "join") == 0 || strcmp(ms, "invite") == 0 || strcmp(ms, "knock") == 0 ||
            ((strcmp(ms, "leave") == 0 || strcmp(ms, "ban") == 0) &&
             (by_other || json_object_get(prev_rooms, room_id))))
            order[nl++] = row;
    }
    qsort(order, nl, sizeof *order, cmp_activity);

    /* step 2: lists and subscriptions */
    const char *name;
    json_t *l;
    json_object_foreach(json_object_get(q->body, "lists"), name, l)
    {
        const json_t *f = json_object_get(l, "filters");
        json_t *children = NULL; /* the spaces' children; NULL: no spaces filter */
        const json_t *spaces = json_object_get(f, "spaces");
        if (json_is_array(spaces)) {
            children = json_object();
            json_t *ids = db_ss_space_children(x.c, q->user_id, spaces);
            if (!ids) {
                json_decref(children);
                goto out;
            }
            json_t *v;
            json_array_foreach(ids, i, v)
                json_object_set_new(children, json_string_value(v), json_true());
            json_decref(ids);
        }
        size_t k = 0;
        for (size_t j = 0; j < nl; j++) {
            if (!filter_ok(&x, f, order[j], children))
                continue;
            if (in_ranges(l, k))
                select_room(&s, order[j], l, name, prev_rooms);
            k++;
        }
        json_decref(children);
        json_object_set_new(lists_out, name, json_pack("{s:I}", "count", (json_int_t)k));
        json_object_set_new(counts, name, json_integer((json_int_t)k));
    }
    const char *sub_id;
    json_t *sub;
    json_object_foreach(json_object_get(q->body, "room_subscriptions"), sub_id, sub)
    {
        const json_t *rrow = json_object_get(by_id, sub_id);
        if (rrow) /* rooms without a membership of the user are ignored (MSC4186) */
            select_room(&s, rrow, sub, NULL, prev_rooms);
    }
    rs_keys(&s);

    /* step 3 */
    if (ss_rooms_build(&x, s.list, s.n, rooms_out, sent) < 0)
        goto out;
    const char *k;
    json_t *v;
    /* the lists a room is in (MSC4186 "lists"; absent for a subscription alone) */
    json_object_foreach(rooms_out, k, v)
    {
        json_t *names = json_object_get(json_object_get(s.where, k), "lists");
        if (json_array_size(names))
            json_object_set(v, "lists", names);
    }
    /* rooms sent before and not selected now keep their entry while the user has a
     * membership there */
    json_object_foreach((json_t *)prev_rooms, k, v)
    {
        if (!json_object_get(sent, k) && json_object_get(by_id, k))
            json_object_set(sent, k, v);
    }

    /* step 4 */
    const json_t *old_counts = json_object_get(snap, "counts");
    bool news = json_object_size(rooms_out) ||
                (old_counts ? !json_equal(counts, old_counts) : json_object_size(counts) > 0);
    if (ss_ext_keys(&x, exts, &news) < 0 ||
        ss_ext_rooms(&x, s.where, rooms_out, json_integer_value(json_object_get(snap, "typing")),
                     exts, &news) < 0)
        goto out;

    r->body =
        json_pack("{s:O,s:O,s:O}", "lists", lists_out, "rooms", rooms_out, "extensions", exts);
    const json_t *txn = json_object_get(q->body, "txn_id");
    if (json_is_string(txn))
        json_object_set(r->body, "txn_id", (json_t *)txn);
    r->snap = json_pack("{s:I,s:I,s:O,s:O}", "upto", (json_int_t)x.upto, "typing",
                        (json_int_t)typing_now, "rooms", sent, "counts", counts);
    r->rooms = joined;
    joined = NULL;
    r->list = json_incref(all);
    r->direct = json_incref(x.direct);
    r->empty = !news;
    r->pos = x.upto;
    r->typing = typing_now;
    rc = 0;
out:
    if (rc < 0)
        log_error("slidingsync: computing the response for %s failed", q->user_id);
    db_put(x.c);
    free(order);
    free(s.list);
    json_decref(s.idx);
    json_decref(s.held);
    json_decref(s.where);
    json_decref(bt);
    json_decref(all);
    json_decref(server_list);
    json_decref(joined);
    json_decref(lists_out);
    json_decref(rooms_out);
    json_decref(sent);
    json_decref(exts);
    json_decref(counts);
    json_decref(by_id);
    json_decref(x.direct);
    return rc;
}
