/* search.c - server-side search (Client-Server API "Server Side Search", POST /search) over
 * the unencrypted text of the rooms a user is in: message bodies, room names and topics.
 * Encrypted rooms have nothing to index; their clients search locally.
 *
 * An indexer thread follows the notifier's position (everything below it is committed) and
 * copies the searchable text of new events into the index, a batch at a time, so the room
 * writer never pays for search. A query matches every word of the search term as a prefix,
 * in the rooms the user has joined (narrowed by the filter), ordered by rank or by recency;
 * each hit is then read through the same history-visibility rules as /event, so search shows
 * nothing the user could not read otherwise. Pagination is by offset ("next_batch"). */
#include "server/search.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"
#include "server/notify.h"
#include "server/room.h"
#include "server/token.h"
#include "server/worker.h"
#include "storage/search.h"

#define INDEX_BATCH                                                                                \
    250                      /* stream positions per round: a burst of sends is indexed over       \
                                the next seconds instead of competing with it for the CPU */
#define INDEX_CATCH_UP 20000 /* further behind than this, rounds go on until caught up */
#define INDEX_EVERY_MS 500   /* how often the indexer looks for news */
#define MAX_TERM 512
#define MAX_WORDS 16
#define DEFAULT_LIMIT 10
#define MAX_LIMIT 50
#define MAX_CONTEXT 20

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t indexed; /* the position the index reached (this process's view) */

int search_catch_up(void)
{
    int64_t upto = notify_position(), done = 0;
    pthread_mutex_lock(&mu);
    int64_t from = indexed;
    pthread_mutex_unlock(&mu);
    if (upto <= from) /* nothing committed since: no statement, no WAL */
        return 0;
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) { /* bounded: 250k positions per call */
        rc = db_search_index(c, upto, INDEX_BATCH, &done);
        if (done >= upto || upto - from < INDEX_CATCH_UP)
            break;
    }
    db_put(c);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        if (done > indexed)
            indexed = done;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static void index_round(struct worker *w)
{
    (void)w;
    if (search_catch_up() < 0)
        log_warn("search: indexing failed; will retry");
}

static struct worker indexer = {
    .name = "search indexer", .tick_ms = INDEX_EVERY_MS, .round = index_round};

int search_start(void)
{
    return worker_start(&indexer);
}

void search_stop(void)
{
    worker_stop(&indexer);
}

/* --- the query ---------------------------------------------------------------------------- */

/* The words of the term: runs of letters and digits (any UTF-8 byte >= 0x80 counts as a
 * letter), lower-cased for ASCII. New array; empty when the term has none. */
static json_t *words_of(const char *term)
{
    json_t *out = json_array();
    char w[MAX_TERM + 1];
    size_t n = 0;
    for (const char *s = term;; s++) {
        unsigned char ch = (unsigned char)*s;
        bool word = ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= 'A' && ch <= 'Z');
        if (word && n < MAX_TERM) {
            w[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
            continue;
        }
        if (n && json_array_size(out) < MAX_WORDS) {
            w[n] = '\0';
            json_array_append_new(out, json_string(w));
        }
        n = 0;
        if (!ch)
            break;
    }
    return out;
}

/* Whether `v` (a filter field) is absent or an array of strings. */
static bool strings_or_absent(const json_t *v)
{
    if (!v)
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x))
            return false;
    }
    return true;
}

static bool in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (strcmp(json_string_value(x), s) == 0)
            return true;
    }
    return false;
}

/* The rooms to search: joined, narrowed by the filter's rooms / not_rooms. New array. */
static json_t *rooms_to_search(const char *user_id, const json_t *filter, int *err)
{
    json_t *joined = NULL;
    if (room_joined_rooms(user_id, &joined) != ROOM_OK) {
        *err = 1;
        return NULL;
    }
    json_t *only = json_object_get(filter, "rooms"), *not = json_object_get(filter, "not_rooms");
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(joined, i, r)
    {
        const char *id = json_string_value(r);
        if ((only && !in_list(only, id)) || (not &&in_list(not, id)))
            continue;
        json_array_append(out, r);
    }
    json_decref(joined);
    return out;
}

/* Does the event pass the filter's types / not_types / senders / not_senders? */
static bool filter_passes(const json_t *filter, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *sender = json_string_value(json_object_get(ev, "sender"));
    json_t *types = json_object_get(filter, "types"), *nt = json_object_get(filter, "not_types");
    json_t *senders = json_object_get(filter, "senders");
    json_t *ns = json_object_get(filter, "not_senders");
    if (!type || !sender)
        return false;
    if ((types && !in_list(types, type)) || (nt && in_list(nt, type)))
        return false;
    if ((senders && !in_list(senders, sender)) || (ns && in_list(ns, sender)))
        return false;
    return true;
}

/* The context of one hit: events before and after, tokens, and profiles if asked. */
static json_t *context_of(const char *room_id, const char *user_id, const char *event_id,
                          int before, int after, bool profiles)
{
    char why[256];
    int half = before > after ? before : after;
    json_t *ctx = NULL;
    if (room_context(room_id, user_id, event_id, 2 * half, NULL, &ctx, why, sizeof why) != ROOM_OK)
        return json_object();
    json_t *eb = json_object_get(ctx, "events_before"), *ea = json_object_get(ctx, "events_after");
    while (json_array_size(eb) > (size_t)before)
        json_array_remove(eb, json_array_size(eb) - 1);
    while (json_array_size(ea) > (size_t)after)
        json_array_remove(ea, json_array_size(ea) - 1);
    json_t *out = json_pack("{s:O,s:O}", "events_before", eb ? eb : json_array(), "events_after",
                            ea ? ea : json_array());
    if (json_is_string(json_object_get(ctx, "start")))
        json_object_set(out, "start", json_object_get(ctx, "start"));
    if (json_is_string(json_object_get(ctx, "end")))
        json_object_set(out, "end", json_object_get(ctx, "end"));
    if (profiles) {
        json_t *info = json_object();
        json_t *all = json_array();
        json_array_extend(all, eb);
        json_array_append(all, json_object_get(ctx, "event"));
        json_array_extend(all, ea);
        size_t i;
        json_t *ev;
        json_array_foreach(all, i, ev)
        {
            const char *sender = json_string_value(json_object_get(ev, "sender"));
            json_t *member = NULL;
            if (!sender || json_object_get(info, sender))
                continue;
            if (room_state_event(room_id, user_id, "m.room.member", sender, &member, why,
                                 sizeof why) != ROOM_OK)
                continue;
            json_t *p = json_object();
            json_t *dn = json_object_get(member, "displayname");
            json_t *av = json_object_get(member, "avatar_url");
            if (json_is_string(dn))
                json_object_set(p, "displayname", dn);
            if (json_is_string(av))
                json_object_set(p, "avatar_url", av);
            json_object_set_new(info, sender, p);
            json_decref(member);
        }
        json_decref(all);
        json_object_set_new(out, "profile_info", info);
    }
    json_decref(ctx);
    return out;
}

#define FAIL(st, code, ...)                                                                        \
    do {                                                                                           \
        *status = (st);                                                                            \
        *errcode = (code);                                                                         \
        snprintf(why, n, __VA_ARGS__);                                                             \
        goto out;                                                                                  \
    } while (0)

json_t *search_run(const char *user_id, const json_t *body, const char *next_batch, int *status,
                   const char **errcode, char *why, size_t n)
{
    json_t *words = NULL, *rooms = NULL, *keys = NULL, *found = NULL, *out = NULL;
    json_t *results = NULL, *groups = NULL, *state = NULL;
    *status = 500;
    *errcode = "M_UNKNOWN";
    snprintf(why, n, "Internal server error");
    json_t *cat = json_object_get(json_object_get(body, "search_categories"), "room_events");
    if (!json_is_object(json_object_get(body, "search_categories")))
        FAIL(400, "M_BAD_JSON", "'search_categories' must be an object");
    if (!cat) { /* no category asked: nothing to search */
        out = json_pack("{s:{}}", "search_categories");
        goto out;
    }
    const char *term = json_string_value(json_object_get(cat, "search_term"));
    json_t *filter = json_object_get(cat, "filter");
    json_t *order = json_object_get(cat, "order_by");
    json_t *ctx = json_object_get(cat, "event_context");
    json_t *k = json_object_get(cat, "keys");
    json_t *grouping = json_object_get(json_object_get(cat, "groupings"), "group_by");
    if (!json_is_object(cat) || !term)
        FAIL(400, "M_BAD_JSON", "room_events.search_term must be a string");
    if (strlen(term) > MAX_TERM)
        FAIL(400, "M_INVALID_PARAM", "search_term is too long");
    if (filter && !json_is_object(filter))
        FAIL(400, "M_BAD_JSON", "filter must be an object");
    if (!strings_or_absent(json_object_get(filter, "rooms")) ||
        !strings_or_absent(json_object_get(filter, "not_rooms")) ||
        !strings_or_absent(json_object_get(filter, "types")) ||
        !strings_or_absent(json_object_get(filter, "not_types")) ||
        !strings_or_absent(json_object_get(filter, "senders")) ||
        !strings_or_absent(json_object_get(filter, "not_senders")) || !strings_or_absent(k))
        FAIL(400, "M_BAD_JSON", "filter fields and keys must be lists of strings");
    if (order && (!json_is_string(order) || (strcmp(json_string_value(order), "rank") != 0 &&
                                             strcmp(json_string_value(order), "recent") != 0)))
        FAIL(400, "M_INVALID_PARAM", "order_by must be 'rank' or 'recent'");
    if (ctx && !json_is_object(ctx))
        FAIL(400, "M_BAD_JSON", "event_context must be an object");
    json_t *lim = json_object_get(filter, "limit");
    if (lim && !json_is_integer(lim))
        FAIL(400, "M_BAD_JSON", "filter.limit must be an integer");
    int limit = lim ? (int)json_integer_value(lim) : DEFAULT_LIMIT;
    limit = limit < 1 ? 1 : limit > MAX_LIMIT ? MAX_LIMIT : limit;
    int64_t offset = 0;
    if (next_batch && (token_parse(next_batch, "#", &offset, 1) < 0 || offset > 1000000))
        FAIL(400, "M_INVALID_PARAM", "Invalid next_batch");
    bool recent = order && strcmp(json_string_value(order), "recent") == 0;
    keys = k ? json_incref(k) : json_pack("[sss]", "content.body", "content.name", "content.topic");
    words = words_of(term);
    int err = 0;
    rooms = rooms_to_search(user_id, filter, &err);
    if (err)
        goto out;
    results = json_array();
    int64_t total = 0;
    size_t got = 0;
    if (json_array_size(words) && json_array_size(rooms) && json_array_size(keys)) {
        struct dbc *c = db_get();
        found = c ? db_search_events(c, words, rooms, keys, recent, offset, limit) : NULL;
        db_put(c);
        if (!found)
            goto out;
        total = json_integer_value(json_object_get(found, "total"));
        got = json_array_size(json_object_get(found, "rows"));
    }
    int before = 0, after = 0;
    bool profiles = false;
    if (ctx) {
        json_t *b = json_object_get(ctx, "before_limit"), *a = json_object_get(ctx, "after_limit");
        before = json_is_integer(b) ? (int)json_integer_value(b) : 5;
        after = json_is_integer(a) ? (int)json_integer_value(a) : 5;
        before = before < 0 ? 0 : before > MAX_CONTEXT ? MAX_CONTEXT : before;
        after = after < 0 ? 0 : after > MAX_CONTEXT ? MAX_CONTEXT : after;
        profiles = json_is_true(json_object_get(ctx, "include_profile"));
    }
    bool by_room = false, by_sender = false;
    size_t gi;
    json_t *g;
    json_array_foreach(grouping, gi, g)
    {
        const char *key = json_string_value(json_object_get(g, "key"));
        by_room |= key && strcmp(key, "room_id") == 0;
        by_sender |= key && strcmp(key, "sender") == 0;
    }
    if (by_room || by_sender)
        groups = json_object();
    if (json_is_true(json_object_get(cat, "include_state")))
        state = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(found, "rows"), i, row)
    {
        const char *room_id = json_string_value(json_object_get(row, "room_id"));
        const char *event_id = json_string_value(json_object_get(row, "event_id"));
        json_t *ev = NULL;
        char w[256];
        if (!room_id || !event_id ||
            room_event(room_id, user_id, event_id, &ev, w, sizeof w) != ROOM_OK)
            continue; /* not visible to this user (history visibility) */
        if (!json_object_size(json_object_get(ev, "content"))) {
            json_decref(ev); /* served pruned (an erased sender, roomread.c rule 3): what the
                                search matched is not the user's to see */
            continue;
        }
        if (!filter_passes(filter, ev)) {
            json_decref(ev);
            continue;
        }
        json_t *res = json_pack("{s:O,s:o}", "rank", json_object_get(row, "rank"), "result", ev);
        if (ctx)
            json_object_set_new(res, "context",
                                context_of(room_id, user_id, event_id, before, after, profiles));
        json_array_append_new(results, res);
        const char *sender = json_string_value(json_object_get(ev, "sender"));
        for (int gk = 0; gk < 2; gk++) {
            const char *key = gk == 0 ? "room_id" : "sender";
            const char *val = gk == 0 ? room_id : sender;
            if (!(gk == 0 ? by_room : by_sender) || !val)
                continue;
            json_t *by = json_object_get(groups, key);
            if (!by) {
                by = json_object();
                json_object_set_new(groups, key, by);
            }
            json_t *grp = json_object_get(by, val);
            if (!grp) {
                grp = json_pack("{s:[],s:i}", "results", "order", (int)json_object_size(by));
                json_object_set_new(by, val, grp);
            }
            json_array_append_new(json_object_get(grp, "results"), json_string(event_id));
        }
        if (state && !json_object_get(state, room_id)) {
            json_t *st = NULL;
            if (room_state(room_id, user_id, &st, w, sizeof w) == ROOM_OK)
                json_object_set_new(state, room_id, st);
        }
    }
    json_t *re = json_pack("{s:I,s:O,s:O}", "count", (json_int_t)total, "highlights", words,
                           "results", results);
    if (got == (size_t)limit && offset + limit < total) {
        char nb[24];
        snprintf(nb, sizeof nb, "%lld", (long long)(offset + limit));
        json_object_set_new(re, "next_batch", json_string(nb));
    }
    if (groups)
        json_object_set(re, "groups", groups);
    if (state)
        json_object_set(re, "state", state);
    out = json_pack("{s:{s:o}}", "search_categories", "room_events", re);
out:
    json_decref(words);
    json_decref(rooms);
    json_decref(keys);
    json_decref(found);
    json_decref(results);
    json_decref(groups);
    json_decref(state);
    return out;
}
