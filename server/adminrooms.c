/* adminrooms.c - Synapse's room admin API (docs/admin_api/rooms.md, event_reports.md): the
 * room listing with Synapse's orders, search and offset paging, a room's details, members
 * and state, blocked rooms, and event reports.
 *
 * The listing reads every room's fields in one statement and sorts in memory, as an admin
 * page is read rarely and a server's rooms number in the thousands; the orders and their
 * natural directions are a table. Missing values (a room without a name) sort after every
 * value in either direction, as PostgreSQL's NULLS LAST does for Synapse's ascending orders. */
#include "server/adminrooms.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/clock.h"
#include "server/ids.h"
#include "server/room_internal.h"
#include "storage/events.h"
#include "storage/roomadmin.h"
#include "storage/rooms.h"

#define ROOMS_LIMIT_MAX 1000
#define REPORTS_LIMIT_MAX 1000
#define ADMIN_MESSAGES_MAX 1000
#define ADMIN_MESSAGES_PAGES 20

static void local_suffix(char *out, size_t n)
{
    snprintf(out, n, ":%s", ids_local_server());
}

/* The content field `key` of state `type` in a row's st object (borrowed, NULL when absent). */
static json_t *st_field(json_t *row, const char *type, const char *key)
{
    return json_object_get(json_object_get(json_object_get(row, "st"), type), key);
}

static json_t *st_string(json_t *row, const char *type, const char *key)
{
    json_t *v = st_field(row, type, key);
    return json_is_string(v) ? json_incref(v) : json_null();
}

/* Synapse's room object of a db_admin_rooms row (new); details adds the fields of the room
 * details API. */
static json_t *room_object(json_t *row, bool details)
{
    json_t *o = json_object();
    json_object_set(o, "room_id", json_object_get(row, "room_id"));
    json_object_set_new(o, "name", st_string(row, "m.room.name", "name"));
    json_object_set_new(o, "canonical_alias", st_string(row, "m.room.canonical_alias", "alias"));
    json_object_set(o, "joined_members", json_object_get(row, "joined_members"));
    json_object_set(o, "joined_local_members", json_object_get(row, "joined_local_members"));
    json_object_set(o, "version", json_object_get(row, "version"));
    json_object_set(o, "creator", json_object_get(row, "creator"));
    json_object_set_new(o, "encryption", st_string(row, "m.room.encryption", "algorithm"));
    /* spec "m.room.create": m.federate defaults to true */
    json_object_set_new(o, "federatable",
                        json_boolean(!json_is_false(st_field(row, "m.room.create", "m.federate"))));
    json_object_set(o, "public", json_object_get(row, "public"));
    json_object_set_new(o, "join_rules", st_string(row, "m.room.join_rules", "join_rule"));
    json_object_set_new(o, "guest_access", st_string(row, "m.room.guest_access", "guest_access"));
    json_object_set_new(o, "history_visibility",
                        st_string(row, "m.room.history_visibility", "history_visibility"));
    json_object_set(o, "state_events", json_object_get(row, "state_events"));
    json_object_set_new(o, "room_type", st_string(row, "m.room.create", "type"));
    if (details) {
        json_object_set_new(o, "topic", st_string(row, "m.room.topic", "topic"));
        json_object_set_new(o, "avatar", st_string(row, "m.room.avatar", "url"));
        json_object_set(o, "joined_local_devices", json_object_get(row, "joined_local_devices"));
        json_object_set(o, "forgotten", json_object_get(row, "forgotten"));
        json_t *tomb = json_object_get(json_object_get(row, "st"), "m.room.tombstone");
        json_object_set_new(o, "tombstoned", json_boolean(tomb != NULL));
        json_object_set_new(o, "replacement_room",
                            st_string(row, "m.room.tombstone", "replacement_room"));
    }
    return o;
}

/* Synapse's orders: order_by, the field of the room object sorted, whether the natural
 * direction (dir=f) is largest first. */
static const struct {
    const char *order_by, *field;
    bool desc;
} orders[] = {
    {"name", "name", false},
    {"alphabetical", "name", false}, /* deprecated alias of name */
    {"canonical_alias", "canonical_alias", false},
    {"joined_members", "joined_members", true},
    {"size", "joined_members", true}, /* deprecated alias of joined_members */
    {"joined_local_members", "joined_local_members", true},
    {"version", "version", true},
    {"creator", "creator", false},
    {"encryption", "encryption", false},
    {"federatable", "federatable", false},
    {"public", "public", false},
    {"join_rules", "join_rules", false},
    {"guest_access", "guest_access", false},
    {"history_visibility", "history_visibility", false},
    {"state_events", "state_events", true},
};

static const char *sort_field;
static bool sort_desc;

/* Values of one field: null after everything, then by type. */
static int value_cmp(json_t *a, json_t *b)
{
    bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
    if (an || bn)
        return an == bn ? 0 : an ? 2 : -2; /* +-2: not reversed by the direction */
    if (json_is_string(a) && json_is_string(b))
        return strcmp(json_string_value(a), json_string_value(b));
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_boolean(a) && json_is_boolean(b))
        return (int)json_is_true(a) - (int)json_is_true(b);
    return 0;
}

static int room_cmp(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    int c = value_cmp(json_object_get(a, sort_field), json_object_get(b, sort_field));
    if (c == 2 || c == -2)
        return c / 2;
    if (sort_desc)
        c = -c;
    if (c)
        return c;
    return strcmp(json_string_value(json_object_get(a, "room_id")),
                  json_string_value(json_object_get(b, "room_id")));
}

/* Whether s contains needle, ASCII case-insensitively. */
static bool contains_nocase(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; s && *s; s++)
        if (strncasecmp(s, needle, n) == 0)
            return true;
    return false;
}

/* Synapse's search_term: in the name, the canonical alias's local part, or the room ID (case
 * sensitive). */
static bool matches(json_t *room, const char *term)
{
    const char *name = json_string_value(json_object_get(room, "name"));
    const char *alias = json_string_value(json_object_get(room, "canonical_alias"));
    if (contains_nocase(name, term) ||
        strstr(json_string_value(json_object_get(room, "room_id")), term))
        return true;
    if (alias) {
        const char *colon = strchr(alias, ':');
        size_t len = colon ? (size_t)(colon - alias) : strlen(alias);
        char *lp = strndup(alias, len);
        bool hit = lp && contains_nocase(lp, term);
        free(lp);
        return hit;
    }
    return false;
}

/* The sort is under a lock: room_cmp reads the order from statics. */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

enum room_rc adminrooms_list(int64_t from, int64_t limit, const char *order_by, bool backwards,
                             const char *search_term, int public_rooms, int empty_rooms,
                             json_t **out, char *why, size_t n)
{
    size_t k = 0;
    if (order_by) {
        while (k < sizeof orders / sizeof orders[0] && strcmp(orders[k].order_by, order_by))
            k++;
        if (k == sizeof orders / sizeof orders[0]) {
            snprintf(why, n, "Unknown value for order_by: %s", order_by);
            return ROOM_BAD_PARAM;
        }
    }
    if (limit > ROOMS_LIMIT_MAX)
        limit = ROOMS_LIMIT_MAX;
    char suffix[300];
    local_suffix(suffix, sizeof suffix);
    struct dbc *c = db_get();
    json_t *rows = c ? db_admin_rooms(c, NULL, suffix) : NULL;
    db_put(c);
    if (!rows)
        return ROOM_ERR;
    size_t cnt = 0, i;
    json_t *row, **v = calloc(json_array_size(rows) + 1, sizeof *v);
    if (!v) {
        json_decref(rows);
        return ROOM_ERR;
    }
    json_array_foreach(rows, i, row)
    {
        json_t *r = room_object(row, false);
        bool keep = (!search_term || !*search_term || matches(r, search_term)) &&
                    (public_rooms < 0 ||
                     json_is_true(json_object_get(r, "public")) == (public_rooms == 1)) &&
                    (empty_rooms < 0 || (json_integer_value(json_object_get(r, "joined_members")) ==
                                         0) == (empty_rooms == 1));
        if (keep)
            v[cnt++] = r;
        else
            json_decref(r);
    }
    json_decref(rows);
    pthread_mutex_lock(&sort_mu);
    sort_field = orders[k].field;
    sort_desc = orders[k].desc != backwards;
    qsort(v, cnt, sizeof *v, room_cmp);
    pthread_mutex_unlock(&sort_mu);
    json_t *page = json_array();
    for (i = 0; i < cnt; i++) {
        if ((int64_t)i >= from && (int64_t)i < from + limit)
            json_array_append(page, v[i]);
        json_decref(v[i]);
    }
    free(v);
    *out = json_pack("{s:o,s:I,s:I}", "rooms", page, "offset", (json_int_t)from, "total_rooms",
                     (json_int_t)cnt);
    if (from + limit < (int64_t)cnt)
        json_object_set_new(*out, "next_batch", json_integer(from + limit));
    if (from > 0)
        json_object_set_new(*out, "prev_batch", json_integer(from > limit ? from - limit : 0));
    return ROOM_OK;
}

/* The db_admin_rooms row of one room (new), NULL when unknown or on error (*rc says). */
static json_t *one_row(const char *room_id, enum room_rc *rc)
{
    char suffix[300];
    local_suffix(suffix, sizeof suffix);
    struct dbc *c = db_get();
    json_t *rows = c ? db_admin_rooms(c, room_id, suffix) : NULL;
    db_put(c);
    json_t *row = json_incref(json_array_get(rows, 0));
    *rc = !rows ? ROOM_ERR : row ? ROOM_OK : ROOM_NOT_FOUND;
    json_decref(rows);
    return row;
}

enum room_rc adminrooms_details(const char *room_id, json_t **out)
{
    enum room_rc rc;
    json_t *row = one_row(room_id, &rc);
    if (row)
        *out = room_object(row, true);
    json_decref(row);
    return rc;
}

enum room_rc adminrooms_members(const char *room_id, json_t **out)
{
    enum room_rc rc;
    json_decref(one_row(room_id, &rc));
    if (rc != ROOM_OK)
        return rc;
    struct dbc *c = db_get();
    json_t *m = c ? db_admin_room_members(c, room_id) : NULL;
    db_put(c);
    if (!m)
        return ROOM_ERR;
    *out = json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(m), "members", m);
    return ROOM_OK;
}

enum room_rc adminrooms_state(const char *room_id, const char *type, json_t **out)
{
    enum room_rc rc;
    json_decref(one_row(room_id, &rc));
    if (rc != ROOM_OK)
        return rc;
    struct dbc *c = db_get();
    json_t *rows = c ? db_admin_room_state(c, room_id, type) : NULL;
    db_put(c);
    if (!rows)
        return ROOM_ERR;
    json_t *state = json_array(), *r;
    size_t i;
    int64_t now = clock_now_ms();
    json_array_foreach(rows, i, r)
    {
        json_array_append_new(
            state, room_client_event(json_object_get(r, "pdu"),
                                     json_string_value(json_object_get(r, "event_id")), room_id,
                                     json_string_value(json_object_get(r, "redacted_by")), now));
    }
    json_decref(rows);
    *out = json_pack("{s:o}", "state", state);
    return ROOM_OK;
}

/* Whether position (d, s) is at or past the `to` bound (td, ts) in the paging direction. */
static bool past(bool forward, int64_t d, int64_t s, int64_t td, int64_t ts)
{
    return forward ? (d > td || (d == td && s >= ts)) : (d < td || (d == td && s <= ts));
}

enum room_rc adminrooms_messages(const char *room_id, const char *from, const char *to,
                                 bool forward, int limit, json_t *filter, json_t **out, char *why,
                                 size_t n)
{
    int64_t fd = 0, fs = 0, td = 0, ts = 0;
    enum room_rc rc;
    json_decref(one_row(room_id, &rc));
    if (rc != ROOM_OK)
        return rc;
    if (limit <= 0)
        limit = 10;
    if (limit > ADMIN_MESSAGES_MAX)
        limit = ADMIN_MESSAGES_MAX;
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    rc = ROOM_BAD_PARAM;
    if ((from && room_parse_token(c, from, &fd, &fs) < 0) ||
        (to && room_parse_token(c, to, &td, &ts) < 0)) {
        snprintf(why, n, "Invalid pagination token");
        goto out;
    }
    rc = ROOM_ERR;
    if (!from && !forward) {
        int got = db_events_latest(c, room_id, &fd, &fs);
        if (got < 0)
            goto out;
        fs += 1; /* strictly before: start just after the newest event */
    }
    json_t *chunk = json_array();
    int64_t pd = fd, ps = fs;
    /* `end` is given unless the timeline (or `to`) was reached; at most ADMIN_MESSAGES_PAGES
     * reads when a filter leaves events out, so the call stays bounded */
    bool more = true;
    for (int page = 0; page < ADMIN_MESSAGES_PAGES; page++) {
        json_t *rows = db_events_page(c, room_id, pd, ps, forward, limit);
        if (!rows) {
            json_decref(chunk);
            goto out;
        }
        size_t i, nrows = json_array_size(rows);
        json_t *v;
        bool exhausted = nrows < (size_t)limit, full = false;
        json_array_foreach(rows, i, v)
        {
            int64_t d = json_integer_value(json_object_get(v, "depth"));
            int64_t st = json_integer_value(json_object_get(v, "stream"));
            if (to && past(forward, d, st, td, ts)) {
                exhausted = true;
                break;
            }
            pd = d;
            ps = st;
            json_t *pdu = json_object_get(v, "pdu");
            if (!room_filter_ok(filter, pdu))
                continue;
            json_array_append_new(
                chunk, room_client_event(
                           pdu, json_string_value(json_object_get(v, "event_id")), room_id,
                           json_string_value(json_object_get(v, "redacted_by")), clock_now_ms()));
            if ((int)json_array_size(chunk) == limit) {
                full = true;
                exhausted = exhausted && i + 1 == nrows;
                break;
            }
        }
        json_decref(rows);
        if (exhausted)
            more = false;
        if (full || exhausted)
            break;
    }
    char start[64], end[64];
    snprintf(start, sizeof start, "t%lld_%lld", (long long)fd, (long long)fs);
    *out = json_pack("{s:s,s:o,s:[]}", "start", from ? from : start, "chunk", chunk, "state");
    if (more) {
        snprintf(end, sizeof end, "t%lld_%lld", (long long)pd, (long long)ps);
        json_object_set_new(*out, "end", json_string(end));
    }
    rc = ROOM_OK;
out:
    db_put(c);
    return rc;
}

enum room_rc adminrooms_extremities(const char *room_id, json_t **out)
{
    enum room_rc rc;
    json_decref(one_row(room_id, &rc));
    if (rc != ROOM_OK)
        return rc;
    struct dbc *c = db_get();
    json_t *x = c ? db_admin_room_extremities(c, room_id) : NULL;
    db_put(c);
    if (!x)
        return ROOM_ERR;
    *out = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(x), "results", x);
    return ROOM_OK;
}

bool adminrooms_blocked(const char *room_id)
{
    struct dbc *c = db_get();
    int b = c ? db_blocked_room_get(c, room_id, NULL) : -1;
    db_put(c);
    return b != 0;
}

enum room_rc adminrooms_block_get(const char *room_id, json_t **out)
{
    char *by = NULL;
    struct dbc *c = db_get();
    int b = c ? db_blocked_room_get(c, room_id, &by) : -1;
    db_put(c);
    if (b < 0)
        return ROOM_ERR;
    *out = json_pack("{s:b}", "block", b);
    if (by)
        json_object_set_new(*out, "user_id", json_string(by));
    free(by);
    return ROOM_OK;
}

enum room_rc adminrooms_block_set(const char *room_id, bool block, const char *admin)
{
    struct dbc *c = db_get();
    int rc = c ? db_blocked_room_set(c, room_id, block, admin, clock_now_ms()) : -1;
    db_put(c);
    return rc < 0 ? ROOM_ERR : ROOM_OK;
}

enum room_rc adminrooms_reports(int64_t from, int64_t limit, bool forwards, const char *room_id,
                                const char *user_id, const char *sender, json_t **out)
{
    int64_t total = 0;
    if (limit > REPORTS_LIMIT_MAX)
        limit = REPORTS_LIMIT_MAX;
    struct dbc *c = db_get();
    json_t *list =
        c ? db_event_reports(c, from, limit, forwards, room_id, user_id, sender, &total) : NULL;
    db_put(c);
    if (!list)
        return ROOM_ERR;
    size_t got = json_array_size(list);
    *out = json_pack("{s:o,s:I}", "event_reports", list, "total", (json_int_t)total);
    if (from + (int64_t)got < total)
        json_object_set_new(*out, "next_token", json_integer(from + (int64_t)got));
    return ROOM_OK;
}

enum room_rc adminrooms_report_get(int64_t id, json_t **out)
{
    struct dbc *c = db_get();
    int rc = c ? db_event_report_get(c, id, out) : -1;
    db_put(c);
    return rc < 0 ? ROOM_ERR : rc ? ROOM_OK : ROOM_NOT_FOUND;
}

enum room_rc adminrooms_report_delete(int64_t id)
{
    struct dbc *c = db_get();
    int rc = c ? db_event_report_delete(c, id) : -1;
    db_put(c);
    return rc < 0 ? ROOM_ERR : rc ? ROOM_OK : ROOM_NOT_FOUND;
}
