/* stateres.c - state resolution (room version 1 "State resolution"; fragment v2-state-res
 * for versions 2-11; room version 12's changes, called v2.1 here).
 *
 * v2 / v2.1, the spec's definitions and steps:
 *   - unconflicted state map U and conflicted state set C from the state sets;
 *   - auth difference D = union of the sets' full auth chains minus their intersection;
 *   - v2.1 only: the conflicted state subgraph G, the events on auth_events paths between
 *     conflicted events;
 *   - full conflicted set F = C + D (+ G);
 *   1. power events of F plus their auth chains within F, in reverse topological power
 *      ordering (Kahn's algorithm, smallest candidate first);
 *   2. iterative auth checks from U (v2) or from the empty map (v2.1);
 *   3. the other events of F in mainline ordering based on the partially resolved power
 *      levels;
 *   4. iterative auth checks on those;
 *   5. U laid over the result.
 * v1 resolves conflicts key group by key group: power levels, join rules, each member key,
 * then every other key, with the depth and sha1(event_id) orderings of its spec.
 *
 * Guarantees: the result depends only on the events (not on the order of the state sets);
 * auth chains are computed once per event with an explicit stack (no recursion, so DAG depth
 * cannot overflow the C stack); every event is fetched through ops->fetch and never freed
 * here. */
#include "server/stateres.h"

#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/statemap.h"

struct res {
    const struct room_version *rv;
    const struct stateres_ops *ops;
    json_t *chains;       /* event ID -> object used as a set of auth-chain event IDs */
    json_t *power;        /* event ID -> sender's power at the event (memo) */
    json_t *mainline_pos; /* event ID -> mainline position (memo) */
};

static const json_t *fetch(struct res *r, const char *id)
{
    return id ? r->ops->fetch(r->ops->ctx, id) : NULL;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The event IDs an event's auth_events name (plain IDs from v3, [id, hashes] before). */
static const char *auth_id(const json_t *entry)
{
    return json_is_array(entry) ? json_string_value(json_array_get(entry, 0))
                                : json_string_value(entry);
}

/* The auth chain of `id` as a set (borrowed from the memo), computed iteratively. */
static json_t *auth_chain(struct res *r, const char *id)
{
    json_t *hit = json_object_get(r->chains, id);
    if (hit)
        return hit;
    /* post-order over auth_events with an explicit stack of (id, next child index) */
    json_t *stack = json_pack("[[s,i]]", id, 0);
    while (json_array_size(stack)) {
        json_t *top = json_array_get(stack, json_array_size(stack) - 1);
        const char *cur = json_string_value(json_array_get(top, 0));
        size_t i = (size_t)json_integer_value(json_array_get(top, 1));
        const json_t *ev = fetch(r, cur);
        json_t *auth = ev ? json_object_get(ev, "auth_events") : NULL;
        bool pushed = false;
        for (; i < json_array_size(auth); i++) {
            const char *child = auth_id(json_array_get(auth, i));
            if (child && !json_object_get(r->chains, child) && fetch(r, child)) {
                json_array_set_new(top, 1, json_integer((json_int_t)i + 1));
                json_array_append_new(stack, json_pack("[s,i]", child, 0));
                pushed = true;
                break;
            }
        }
        if (pushed)
            continue;
        json_t *set = json_object();
        for (i = 0; i < json_array_size(auth); i++) {
            const char *child = auth_id(json_array_get(auth, i));
            json_t *cs = child ? json_object_get(r->chains, child) : NULL;
            if (!cs)
                continue;
            json_object_set_new(set, child, json_true());
            json_object_update(set, cs);
        }
        json_object_set_new(r->chains, cur, set);
        json_array_remove(stack, json_array_size(stack) - 1);
    }
    json_decref(stack);
    return json_object_get(r->chains, id);
}

static bool is_power_event(const json_t *ev)
{
    const char *type = str(ev, "type"), *sk = str(ev, "state_key");
    if (!type || !sk)
        return false;
    if ((strcmp(type, "m.room.power_levels") == 0 || strcmp(type, "m.room.join_rules") == 0) &&
        !*sk)
        return true;
    if (strcmp(type, "m.room.member") == 0) {
        const char *m = str(json_object_get(ev, "content"), "membership");
        return m && (strcmp(m, "leave") == 0 || strcmp(m, "ban") == 0) &&
               strcmp(sk, str(ev, "sender") ? str(ev, "sender") : "") != 0;
    }
    return false;
}

/* --- auth state for checks --------------------------------------------------------------- */

/* Looks in the partial state first, then in the event's own auth events (spec "Iterative
 * auth checks"); in v12 the create event comes from the room ID. */
struct check_ctx {
    struct res *r;
    json_t *state;    /* state map being built (borrowed) */
    const json_t *ev; /* the event being checked */
};

static const json_t *check_state(void *p, const char *type, const char *state_key)
{
    struct check_ctx *cc = p;
    const char *id = cc->state ? statemap_get(cc->state, type, state_key) : NULL;
    const json_t *found = id ? fetch(cc->r, id) : NULL;
    if (found)
        return found;
    if (!cc->ev)
        return NULL;
    json_t *auth = json_object_get(cc->ev, "auth_events");
    const struct stateres_ops *ops = cc->r->ops;
    for (size_t i = 0; i < json_array_size(auth); i++) {
        const char *aid = auth_id(json_array_get(auth, i));
        if (aid && ops->rejected && ops->rejected(ops->ctx, aid))
            continue; /* "the appropriate state event from the event's auth_events is used if
                         the auth event is not rejected" */
        const json_t *a = fetch(cc->r, aid);
        if (a && str(a, "type") && strcmp(str(a, "type"), type) == 0 && str(a, "state_key") &&
            strcmp(str(a, "state_key"), state_key) == 0)
            return a;
    }
    if (cc->r->rv->room_id_from_create && strcmp(type, "m.room.create") == 0 && !*state_key) {
        const char *rid = str(cc->ev, "room_id");
        if (rid && rid[0] == '!') {
            char cid[300];
            snprintf(cid, sizeof cid, "$%s", rid + 1);
            return fetch(cc->r, cid);
        }
    }
    return NULL;
}

static bool passes(struct res *r, json_t *state, const json_t *ev)
{
    struct check_ctx cc = {r, state, ev};
    struct auth_ops ops = {check_state, r->ops->signed_by, &cc};
    char why[256];
    return auth_check(r->rv, ev, &ops, why, sizeof why) == 0;
}

/* Iterative auth checks: apply each event of `order` (IDs) that passes against `state`. */
static void iterate(struct res *r, json_t *state, json_t *order)
{
    size_t i;
    json_t *v;
    json_array_foreach(order, i, v)
    {
        const json_t *ev = fetch(r, json_string_value(v));
        if (ev && str(ev, "state_key") && passes(r, state, ev))
            statemap_set(state, str(ev, "type"), str(ev, "state_key"), json_string_value(v));
    }
}

/* The sender's power level at an event, looking at its auth events. */
static int64_t sender_power(struct res *r, const char *id)
{
    json_t *hit = json_object_get(r->power, id);
    if (hit)
        return json_integer_value(hit);
    const json_t *ev = fetch(r, id);
    int64_t p = 0;
    if (ev) {
        struct check_ctx cc = {r, NULL, ev};
        struct auth_ops ops = {check_state, NULL, &cc};
        p = auth_user_power(r->rv, &ops, str(ev, "sender"));
    }
    json_object_set_new(r->power, id, json_integer(p));
    return p;
}

static int64_t ts_of(struct res *r, const char *id)
{
    return json_integer_value(json_object_get(fetch(r, id), "origin_server_ts"));
}

/* "x < y" of the reverse topological power ordering. */
static bool power_less(struct res *r, const char *x, const char *y)
{
    int64_t px = sender_power(r, x), py = sender_power(r, y);
    if (px != py)
        return px > py;
    int64_t tx = ts_of(r, x), ty = ts_of(r, y);
    if (tx != ty)
        return tx < ty;
    return strcmp(x, y) < 0;
}

/* Kahn's algorithm over the auth DAG restricted to `set`, smallest candidate first. */
static json_t *reverse_topological(struct res *r, json_t *set)
{
    json_t *indeg = json_object(), *children = json_object(), *out = json_array();
    const char *id;
    json_t *v;
    json_object_foreach(set, id, v)
    {
        json_object_set_new(indeg, id, json_integer(0));
        json_object_set_new(children, id, json_array());
    }
    json_object_foreach(set, id, v)
    {
        json_t *auth = json_object_get(fetch(r, id), "auth_events");
        for (size_t i = 0; i < json_array_size(auth); i++) {
            const char *a = auth_id(json_array_get(auth, i));
            if (!a || !json_object_get(set, a))
                continue;
            json_array_append_new(json_object_get(children, a), json_string(id));
            json_object_set_new(indeg, id,
                                json_integer(json_integer_value(json_object_get(indeg, id)) + 1));
        }
    }
    json_t *ready = json_array();
    json_object_foreach(indeg, id, v) if (json_integer_value(v) == 0)
        json_array_append_new(ready, json_string(id));
    while (json_array_size(ready)) {
        size_t best = 0;
        for (size_t i = 1; i < json_array_size(ready); i++)
            if (power_less(r, json_string_value(json_array_get(ready, i)),
                           json_string_value(json_array_get(ready, best))))
                best = i;
        json_t *pick = json_incref(json_array_get(ready, best));
        json_array_remove(ready, best);
        json_array_append(out, pick);
        json_t *kids = json_object_get(children, json_string_value(pick));
        for (size_t i = 0; i < json_array_size(kids); i++) {
            const char *k = json_string_value(json_array_get(kids, i));
            json_int_t d = json_integer_value(json_object_get(indeg, k)) - 1;
            json_object_set_new(indeg, k, json_integer(d));
            if (d == 0)
                json_array_append_new(ready, json_string(k));
        }
        json_decref(pick);
    }
    json_decref(ready);
    json_decref(indeg);
    json_decref(children);
    return out;
}

/* The power levels event among an event's auth events, or NULL. */
static const char *pl_parent(struct res *r, const char *id)
{
    json_t *auth = json_object_get(fetch(r, id), "auth_events");
    for (size_t i = 0; i < json_array_size(auth); i++) {
        const char *a = auth_id(json_array_get(auth, i));
        const json_t *ev = fetch(r, a);
        if (ev && str(ev, "type") && strcmp(str(ev, "type"), "m.room.power_levels") == 0 &&
            str(ev, "state_key") && !*str(ev, "state_key"))
            return a;
    }
    return NULL;
}

#define POS_INFINITE INT64_MAX

/* Mainline position of `id` given the mainline (event ID -> index). */
static int64_t mainline_position(struct res *r, json_t *mainline, const char *id)
{
    json_t *hit = json_object_get(r->mainline_pos, id);
    if (hit)
        return json_integer_value(hit);
    int64_t pos = POS_INFINITE;
    size_t guard = 0;
    for (const char *e = pl_parent(r, id); e && guard < 100000; e = pl_parent(r, e), guard++) {
        json_t *m = json_object_get(mainline, e);
        if (m) {
            pos = json_integer_value(m);
            break;
        }
    }
    json_object_set_new(r->mainline_pos, id, json_integer(pos));
    return pos;
}

/* Stable merge sort of event ID strings with a comparator that takes a context. */
typedef int (*id_cmp)(void *ctx, const char *x, const char *y);

static void sort_ids(json_t *ids, id_cmp cmp, void *ctx)
{
    size_t n = json_array_size(ids);
    if (n < 2)
        return;
    const char **a = malloc(n * sizeof *a), **b = malloc(n * sizeof *b);
    json_t *keep = json_copy(ids); /* holds the strings alive while ids is rebuilt */
    for (size_t i = 0; i < n; i++)
        a[i] = json_string_value(json_array_get(keep, i));
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n,
                   hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                b[o++] = cmp(ctx, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid)
                b[o++] = a[i++];
            while (j < hi)
                b[o++] = a[j++];
        }
        const char **t = a;
        a = b;
        b = t;
    }
    json_array_clear(ids);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(a[i]));
    json_decref(keep);
    free(a);
    free(b);
}

struct ml_ctx {
    struct res *r;
    json_t *mainline;
};

static int mainline_cmp(void *p, const char *x, const char *y)
{
    struct ml_ctx *m = p;
    int64_t px = mainline_position(m->r, m->mainline, x);
    int64_t py = mainline_position(m->r, m->mainline, y);
    if (px != py)
        return px > py ? -1 : 1; /* greater position first */
    int64_t tx = ts_of(m->r, x), ty = ts_of(m->r, y);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x, y);
}

/* Order `ids` (array) by mainline ordering based on the power levels event `pl` (may be NULL). */
static void mainline_sort(struct res *r, json_t *ids, const char *pl)
{
    json_t *mainline = json_object();
    int64_t i = 0;
    size_t guard = 0;
    for (const char *p = pl; p && guard < 100000; p = pl_parent(r, p), guard++)
        json_object_set_new(mainline, p, json_integer(i++));
    struct ml_ctx m = {r, mainline};
    sort_ids(ids, mainline_cmp, &m);
    json_decref(mainline);
}

static json_t *resolve_v2(struct res *r, const json_t *sets, char *why, size_t n)
{
    size_t ns = json_array_size(sets), i;
    json_t *unconflicted = json_object(), *conflicted = json_object(), *keys = json_object();
    json_t *v;
    const char *k;

    /* U and C */
    json_array_foreach(sets, i, v)
    {
        json_t *val;
        json_object_foreach(v, k, val) json_object_set_new(keys, k, json_true());
    }
    json_object_foreach(keys, k, v)
    {
        const char *first = json_string_value(json_object_get(json_array_get(sets, 0), k));
        bool same = first != NULL;
        for (i = 1; i < ns && same; i++) {
            const char *x = json_string_value(json_object_get(json_array_get(sets, i), k));
            same = x && strcmp(x, first) == 0;
        }
        if (same) {
            json_object_set_new(unconflicted, k, json_string(first));
        } else {
            for (i = 0; i < ns; i++) {
                const char *x = json_string_value(json_object_get(json_array_get(sets, i), k));
                if (x)
                    json_object_set_new(conflicted, x, json_true());
            }
        }
    }
    json_decref(keys);

    /* D: auth difference */
    json_t *uni = json_object(), *inter = NULL;
    json_array_foreach(sets, i, v)
    {
        json_t *full = json_object(), *val;
        json_object_foreach(v, k, val)
        {
            json_t *chain = auth_chain(r, json_string_value(val));
            if (chain)
                json_object_update(full, chain);
        }
        json_object_update(uni, full);
        if (!inter) {
            inter = full;
        } else {
            const char *x;
            json_t *t;
            void *tmp;
            json_object_foreach_safe(inter, tmp, x, t) if (!json_object_get(full, x))
                json_object_del(inter, x);
            json_decref(full);
        }
    }
    json_t *full_set = json_deep_copy(conflicted);
    json_object_foreach(uni, k, v) if (!inter || !json_object_get(inter, k))
        json_object_set_new(full_set, k, json_true());
    json_decref(uni);
    json_decref(inter);

    /* v2.1: the conflicted state subgraph */
    if (r->rv->state_res == ROOMVER_STATE_RES_V2_1) {
        json_t *c2;
        json_object_foreach(conflicted, k, c2)
        {
            json_t *anc = auth_chain(r, k), *t;
            const char *x;
            json_object_foreach(anc, x, t)
            {
                /* x lies on a path between conflicted events if it leads to one */
                json_t *below = auth_chain(r, x);
                const char *y;
                json_t *u;
                bool reaches = false;
                json_object_foreach(conflicted, y, u) if (json_object_get(below, y))
                {
                    reaches = true;
                    break;
                }
                if (reaches || json_object_get(conflicted, x))
                    json_object_set_new(full_set, x, json_true());
            }
        }
    }

    /* 1: power events and their auth chains within F */
    json_t *power_set = json_object();
    json_object_foreach(full_set, k, v)
    {
        const json_t *ev = fetch(r, k);
        if (!ev || !is_power_event(ev))
            continue;
        json_object_set_new(power_set, k, json_true());
        json_t *chain = auth_chain(r, k), *t;
        const char *x;
        json_object_foreach(chain, x, t) if (json_object_get(full_set, x))
            json_object_set_new(power_set, x, json_true());
    }
    json_t *power_order = reverse_topological(r, power_set);

    /* 2: iterative auth checks from U (v2) or from nothing (v2.1) */
    json_t *state =
        r->rv->state_res == ROOMVER_STATE_RES_V2_1 ? json_object() : json_deep_copy(unconflicted);
    iterate(r, state, power_order);

    /* 3, 4: the rest in mainline order */
    json_t *rest = json_array();
    json_object_foreach(full_set, k, v) if (!json_object_get(power_set, k) && fetch(r, k))
        json_array_append_new(rest, json_string(k));
    mainline_sort(r, rest, statemap_get(state, "m.room.power_levels", ""));
    iterate(r, state, rest);

    /* 5: the unconflicted state map wins */
    json_object_update(state, unconflicted);

    json_decref(rest);
    json_decref(power_order);
    json_decref(power_set);
    json_decref(full_set);
    json_decref(conflicted);
    json_decref(unconflicted);
    (void)why;
    (void)n;
    return state;
}

/* --- version 1 ---------------------------------------------------------------------------- */

static void sha1_hex(const char *s, char out[41])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s, strlen(s), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int v1_asc(void *ctx, const char *x, const char *y) /* depth up, sha1 down */
{
    struct res *r = ctx;
    int64_t dx = json_integer_value(json_object_get(fetch(r, x), "depth"));
    int64_t dy = json_integer_value(json_object_get(fetch(r, y), "depth"));
    if (dx != dy)
        return dx < dy ? -1 : 1;
    char hx[41], hy[41];
    sha1_hex(x, hx);
    sha1_hex(y, hy);
    return -strcmp(hx, hy);
}

static int v1_desc(void *ctx, const char *x, const char *y) /* depth down, sha1 up */
{
    return -v1_asc(ctx, x, y);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Sort the string array `keys` from index `from` on (byte order is code point order). */
static void sort_keys(json_t *keys, size_t from)
{
    size_t n = json_array_size(keys);
    if (n <= from + 1)
        return;
    json_t **v = malloc((n - from) * sizeof *v);
    if (!v)
        return;
    for (size_t i = from; i < n; i++)
        v[i - from] = json_incref(json_array_get(keys, i));
    qsort(v, n - from, sizeof *v, key_cmp);
    for (size_t i = from; i < n; i++)
        json_array_set_new(keys, i, v[i - from]);
    free(v);
}

static json_t *resolve_v1(struct res *r, const json_t *sets)
{
    json_t *state = json_object(), *groups = json_object(), *v;
    const char *k;
    size_t i;
    /* R = the union without the conflicting keys; groups = key -> conflicting event IDs */
    json_t *keys = json_object();
    json_array_foreach(sets, i, v)
    {
        json_t *val;
        json_object_foreach(v, k, val) json_object_set_new(keys, k, json_true());
    }
    json_object_foreach(keys, k, v)
    {
        json_t *ids = json_object();
        json_t *set;
        json_array_foreach(sets, i, set)
        {
            const char *x = json_string_value(json_object_get(set, k));
            if (x)
                json_object_set_new(ids, x, json_true());
        }
        if (json_object_size(ids) == 1) {
            json_object_set_new(state, k, json_string(json_object_iter_key(json_object_iter(ids))));
        } else {
            json_t *arr = json_array();
            const char *x;
            json_t *t;
            json_object_foreach(ids, x, t) json_array_append_new(arr, json_string(x));
            json_object_set_new(groups, k, arr);
        }
        json_decref(ids);
    }
    json_decref(keys);

    /* power levels, join rules, then each member key (in key order), then the rest */
    char *pl = statemap_key("m.room.power_levels", ""), *jr = statemap_key("m.room.join_rules", "");
    json_t *auth_keys = json_array();
    if (json_object_get(groups, pl))
        json_array_append_new(auth_keys, json_string(pl));
    if (json_object_get(groups, jr))
        json_array_append_new(auth_keys, json_string(jr));
    size_t fixed = json_array_size(auth_keys); /* power levels and join rules come first */
    char *member_prefix = statemap_key("m.room.member", "");
    json_t *others = json_array();
    json_object_foreach(groups, k, v)
    {
        if (!strcmp(k, pl) || !strcmp(k, jr))
            continue;
        if (!strncmp(k, member_prefix, strlen(member_prefix)))
            json_array_append_new(auth_keys, json_string(k));
        else
            json_array_append_new(others, json_string(k));
    }
    /* Member keys (and the other keys) in code point order of their keys: the members are
     * resolved one after another against R, each result written to R at once, so the order
     * must not depend on the order of the state sets (jansson iterates in insertion order). */
    sort_keys(auth_keys, fixed);
    sort_keys(others, 0);
    json_array_foreach(auth_keys, i, v)
    {
        json_t *ids = json_object_get(groups, json_string_value(v));
        sort_ids(ids, v1_asc, r);
        json_object_set(state, json_string_value(v), json_array_get(ids, 0));
        for (size_t j = 1; j < json_array_size(ids); j++) {
            const json_t *ev = fetch(r, json_string_value(json_array_get(ids, j)));
            struct check_ctx cc = {r, state, NULL};
            struct auth_ops ops = {check_state, r->ops->signed_by, &cc};
            char why[256];
            if (!ev || auth_check(r->rv, ev, &ops, why, sizeof why) != 0)
                break;
            json_object_set(state, json_string_value(v), json_array_get(ids, j));
        }
    }
    json_array_foreach(others, i, v)
    {
        json_t *ids = json_object_get(groups, json_string_value(v));
        sort_ids(ids, v1_desc, r);
        for (size_t j = 0; j < json_array_size(ids); j++) {
            const json_t *ev = fetch(r, json_string_value(json_array_get(ids, j)));
            struct check_ctx cc = {r, state, NULL};
            struct auth_ops ops = {check_state, r->ops->signed_by, &cc};
            char why[256];
            if (ev && auth_check(r->rv, ev, &ops, why, sizeof why) == 0) {
                json_object_set(state, json_string_value(v), json_array_get(ids, j));
                break;
            }
        }
    }
    free(pl);
    free(jr);
    free(member_prefix);
    json_decref(auth_keys);
    json_decref(others);
    json_decref(groups);
    return state;
}

json_t *stateres_resolve(const struct room_version *rv, const json_t *state_sets,
                         const struct stateres_ops *ops, char *why, size_t n)
{
    if (!json_is_array(state_sets)) {
        snprintf(why, n, "state sets must be an array");
        return NULL;
    }
    if (json_array_size(state_sets) == 0)
        return json_object();
    if (json_array_size(state_sets) == 1)
        return json_deep_copy(json_array_get(state_sets, 0));
    struct res r = {rv, ops, json_object(), json_object(), json_object()};
    json_t *out = rv->state_res == ROOMVER_STATE_RES_V1 ? resolve_v1(&r, state_sets)
                                                        : resolve_v2(&r, state_sets, why, n);
    json_decref(r.chains);
    json_decref(r.power);
    json_decref(r.mainline_pos);
    return out;
}
