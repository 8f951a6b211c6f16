/* slidingsync_ext.c - the extensions of native sliding sync (MSC4186 "Extensions"; the
 * to-device, E2EE, account data, receipts and typing extensions as Synapse and the Matrix Rust
 * SDK speak them), each scoped by its `lists` and `rooms` (absent: every selected room; "*":
 * every list / every subscription):
 *  - to_device: its own `since` (the messages up to it are deleted as acknowledged) and
 *    `next_batch`, at most `limit` (100 by default, 1,000 at most) messages;
 *  - e2ee: device-list changes since the previous response, one-time key counts, unused
 *    fallback key types;
 *  - account_data: global and per room; everything on a new connection or for a room sent
 *    `initial`, else what changed;
 *  - receipts and typing: as /sync's ephemeral events, all of them for a room sent
 *    `initial`. */
#include "server/slidingsync_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/notify.h"
#include "storage/keys.h"
#include "storage/userdata.h"

#define MAX_TO_DEVICE 1000
#define DEFAULT_TO_DEVICE 100

static bool is_uint(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool ext_on(const json_t *body, const char *name)
{
    return json_is_true(json_object_get(json_object_get(json_object_get(body, "extensions"), name),
                                        "enabled"));
}

static bool has_str(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* The selected rooms an extension covers (MSC4186 extensions' `lists` and `rooms`; absent:
 * all; "*": every list / every subscription): new array of IDs. */
static json_t *ext_scope(const json_t *ext, const json_t *where)
{
    const json_t *lists = json_object_get(ext, "lists"), *rooms = json_object_get(ext, "rooms");
    json_t *out = json_array();
    const char *room_id;
    json_t *w;
    json_object_foreach((json_t *)where, room_id, w)
    {
        bool in = !json_is_array(lists) && !json_is_array(rooms);
        const json_t *ln = json_object_get(w, "lists");
        if (!in && json_array_size(ln) && has_str(lists, "*"))
            in = true;
        size_t i;
        json_t *v;
        json_array_foreach(ln, i, v) in = in || has_str(lists, json_string_value(v));
        if (!in && has_str(rooms, room_id))
            in = true;
        if (!in && json_is_true(json_object_get(w, "sub")) && has_str(rooms, "*"))
            in = true;
        if (in)
            json_array_append_new(out, json_string(room_id));
    }
    return out;
}

static bool sent_initial(const json_t *rooms, const char *room_id)
{
    return json_is_true(json_object_get(json_object_get(rooms, room_id), "initial"));
}

int ss_ext_keys(struct ss_ctx *x, json_t *exts, bool *news)
{
    const struct ss_req *q = x->q;
    bool td = ext_on(q->body, "to_device"), e2ee = ext_on(q->body, "e2ee");
    if ((!td && !e2ee) || !q->device_id)
        return 0;
    json_t *kc = NULL;
    if (td) {
        const json_t *cfg = json_object_get(json_object_get(q->body, "extensions"), "to_device");
        const char *since = json_string_value(json_object_get(cfg, "since"));
        int64_t acked = since ? strtoll(since, NULL, 10) : 0;
        if (acked < 0 || acked > x->upto)
            acked = 0; /* not a token of ours: acknowledge nothing */
        const json_t *lim = json_object_get(cfg, "limit");
        json_int_t limit = is_uint(lim) ? json_integer_value(lim) : DEFAULT_TO_DEVICE;
        if (limit > MAX_TO_DEVICE)
            limit = MAX_TO_DEVICE;
        json_t *msgs = NULL;
        if (db_keys_sync(x->c, q->user_id, q->device_id, acked, x->upto, (int)limit, &msgs,
                         &kc) < 0)
            return -1;
        int64_t next = acked;
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m)
        {
            next = json_integer_value(json_object_get(m, "stream"));
            json_object_del(m, "stream");
        }
        *news = *news || json_array_size(msgs);
        char nb[24];
        snprintf(nb, sizeof nb, "%lld", (long long)next);
        json_object_set_new(exts, "to_device", json_pack("{s:s,s:o}", "next_batch", nb, "events",
                                                         msgs));
    }
    if (e2ee) {
        if (!kc && !(kc = db_keys_counts(x->c, q->user_id, q->device_id)))
            return -1;
        json_t *lists = q->snap ? db_device_lists(x->c, q->user_id, x->since, x->upto)
                                : json_pack("{s:[],s:[]}", "changed", "left");
        if (!json_is_object(lists)) {
            json_decref(lists);
            json_decref(kc);
            return -1;
        }
        *news = *news || json_array_size(json_object_get(lists, "changed")) ||
                json_array_size(json_object_get(lists, "left"));
        json_t *otk = json_object_get(kc, "counts");
        otk = json_is_object(otk) ? json_copy(otk) : json_object();
        if (!json_object_get(otk, "signed_curve25519"))
            json_object_set_new(otk, "signed_curve25519", json_integer(0));
        json_t *fb = json_object_get(kc, "unused_fallback");
        json_object_set_new(exts, "e2ee",
                            json_pack("{s:o,s:o,s:O}", "device_lists", lists,
                                      "device_one_time_keys_count", otk,
                                      "device_unused_fallback_key_types",
                                      json_is_array(fb) ? fb : json_array()));
    }
    json_decref(kc);
    return 0;
}

int ss_ext_rooms(struct ss_ctx *x, const json_t *where, const json_t *rooms_out,
                     int64_t typing_since, json_t *exts, bool *news)
{
    const struct ss_req *q = x->q;
    const json_t *ecfg = json_object_get(q->body, "extensions");
    int rc = -1;
    json_t *scope = NULL, *ad = NULL, *ad0 = NULL, *old = json_array(), *fresh = json_array();
    json_t *rold = NULL, *rfresh = NULL;
    if (ext_on(q->body, "account_data")) {
        scope = ext_scope(json_object_get(ecfg, "account_data"), where);
        ad = db_account_data_since(x->c, q->user_id, q->snap ? x->since : 0, x->upto);
        if (!ad)
            goto out;
        bool any_initial = false;
        size_t i;
        json_t *v;
        json_array_foreach(scope, i, v) any_initial =
            any_initial || sent_initial(rooms_out, json_string_value(v));
        if (q->snap && any_initial && !(ad0 = db_account_data_since(x->c, q->user_id, 0, x->upto)))
            goto out;
        json_t *per = json_object();
        json_array_foreach(scope, i, v)
        {
            const char *r = json_string_value(v);
            json_t *evs = json_object_get(json_object_get(
                                              ad0 && sent_initial(rooms_out, r) ? ad0 : ad, "rooms"),
                                          r);
            if (json_array_size(evs))
                json_object_set(per, r, evs);
        }
        json_t *global = json_object_get(ad, "global");
        *news = *news || json_array_size(global) || json_object_size(per);
        json_object_set_new(exts, "account_data",
                            json_pack("{s:O,s:o}", "global", global, "rooms", per));
        json_decref(scope);
        scope = NULL;
    }
    if (ext_on(q->body, "receipts")) {
        scope = ext_scope(json_object_get(ecfg, "receipts"), where);
        size_t i;
        json_t *v;
        json_array_foreach(scope, i, v)
        {
            bool f = !q->snap || sent_initial(rooms_out, json_string_value(v));
            json_array_append(f ? fresh : old, v);
        }
        rold = json_array_size(old) ? db_receipts_since(x->c, old, q->user_id, x->since, x->upto)
                                    : json_object();
        rfresh = json_array_size(fresh) ? db_receipts_since(x->c, fresh, q->user_id, 0, x->upto)
                                        : json_object();
        if (!rold || !rfresh)
            goto out;
        json_object_update(rold, rfresh);
        json_t *per = json_object();
        const char *k;
        json_object_foreach(rold, k, v)
        {
            json_object_set_new(per, k, json_pack("{s:s,s:O}", "type", "m.receipt", "content", v));
        }
        *news = *news || json_object_size(per);
        json_object_set_new(exts, "receipts", json_pack("{s:o}", "rooms", per));
        json_decref(scope);
        scope = NULL;
    }
    if (ext_on(q->body, "typing")) {
        scope = ext_scope(json_object_get(ecfg, "typing"), where);
        json_t *per = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(scope, i, v)
        {
            const char *r = json_string_value(v);
            bool f = !q->snap || sent_initial(rooms_out, r);
            json_t *users = notify_typing_get(r, f ? -1 : typing_since);
            if (users && (json_array_size(users) || !f))
                json_object_set_new(per, r, json_pack("{s:s,s:{s:o}}", "type", "m.typing",
                                                      "content", "user_ids", users));
            else
                json_decref(users);
        }
        *news = *news || json_object_size(per);
        json_object_set_new(exts, "typing", json_pack("{s:o}", "rooms", per));
    }
    rc = 0;
out:
    json_decref(scope);
    json_decref(ad);
    json_decref(ad0);
    json_decref(old);
    json_decref(fresh);
    json_decref(rold);
    json_decref(rfresh);
    return rc;
}

