/* filter.c - Matrix event filters (Client-Server API "Filtering"; the schemas Filter,
 * RoomFilter, EventFilter and RoomEventFilter of filter.yaml; "Lazy-loading room members"; the
 * appendix "Dot-separated property paths" for event_fields). A filter stays the client's JSON
 * object; this file validates it, matches events and rooms against it, reads its limits and
 * flags, and projects events onto event_fields. No I/O, no allocation except the projection
 * and the parsed parameter.
 *
 * Invariants a filter that passed filter_validate keeps, which bound evaluation:
 *   1. Every list has at most FILTER_MAX_LIST entries, each a NUL-free string of at most
 *      FILTER_MAX_STRING bytes; senders start with '@', rooms with '!' (the schemas'
 *      patterns).
 *   2. limit, where present, is an integer >= 1 (event_filter.yaml: "must be an integer
 *      greater than 0").
 *   3. Matching one event costs O(sum over the lists of (entry + field length)): filter_glob
 *      is linear (prefix, suffix, then leftmost KMP search for each middle segment).
 * The matchers do not rely on validation: a malformed filter part is read as absent. */
#include "server/filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Write a reason; truncation is acceptable for a human-readable message. Returns -1. */
__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* --- validation ------------------------------------------------------------------------- */

enum kind {
    K_BOOL,       /* true / false */
    K_LIMIT,      /* integer >= 1 */
    K_FORMAT,     /* "client" / "federation" */
    K_STRINGS,    /* array of strings: types, not_types, event_fields */
    K_USERS,      /* array of strings starting with '@' */
    K_ROOMS,      /* array of strings starting with '!' */
    K_EVENT,      /* EventFilter */
    K_ROOM_EVENT, /* RoomEventFilter */
    K_ROOM,       /* RoomFilter */
};

/* name, kind: one table per schema, ending with a NULL name */
struct field {
    const char *name;
    enum kind kind;
};

static const struct field event_filter[] = {
    {"limit", K_LIMIT},   {"types", K_STRINGS},     {"not_types", K_STRINGS},
    {"senders", K_USERS}, {"not_senders", K_USERS}, {NULL, K_BOOL},
};

static const struct field room_event_filter[] = {
    {"limit", K_LIMIT},
    {"types", K_STRINGS},
    {"not_types", K_STRINGS},
    {"senders", K_USERS},
    {"not_senders", K_USERS},
    {"rooms", K_ROOMS},
    {"not_rooms", K_ROOMS},
    {"contains_url", K_BOOL},
    {"lazy_load_members", K_BOOL},
    {"include_redundant_members", K_BOOL},
    {"unread_thread_notifications", K_BOOL},
    {NULL, K_BOOL},
};

static const struct field room_filter[] = {
    {"rooms", K_ROOMS},
    {"not_rooms", K_ROOMS},
    {"include_leave", K_BOOL},
    {"ephemeral", K_ROOM_EVENT},
    {"state", K_ROOM_EVENT},
    {"timeline", K_ROOM_EVENT},
    {"account_data", K_ROOM_EVENT},
    {NULL, K_BOOL},
};

static const struct field sync_filter[] = {
    {"event_fields", K_STRINGS}, {"event_format", K_FORMAT}, {"presence", K_EVENT},
    {"account_data", K_EVENT},   {"room", K_ROOM},           {NULL, K_BOOL},
};

static int check_object(const json_t *obj, const struct field *fields, const char *where, char *why,
                        size_t n);

/* An array of at most FILTER_MAX_LIST NUL-free strings of at most FILTER_MAX_STRING bytes,
 * each starting with `sigil` unless that is 0. */
static int check_strings(const json_t *v, char sigil, const char *where, char *why, size_t n)
{
    if (!json_is_array(v))
        return fail(why, n, "%s must be an array of strings", where);
    if (json_array_size(v) > FILTER_MAX_LIST)
        return fail(why, n, "%s has more than %d entries", where, FILTER_MAX_LIST);
    size_t i;
    const json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return fail(why, n, "%s[%zu] must be a string", where, i);
        const char *p = json_string_value(s);
        size_t len = json_string_length(s);
        if (len > FILTER_MAX_STRING || memchr(p, '\0', len))
            return fail(why, n, "%s[%zu] must be a string of at most %d bytes", where, i,
                        FILTER_MAX_STRING);
        if (sigil && p[0] != sigil)
            return fail(why, n, "%s[%zu] must start with '%c'", where, i, sigil);
    }
    return 0;
}

static int check_value(const json_t *v, enum kind k, const char *where, char *why, size_t n)
{
    switch (k) {
    case K_BOOL:
        return json_is_boolean(v) ? 0 : fail(why, n, "%s must be a boolean", where);
    case K_LIMIT:
        return json_is_integer(v) && json_integer_value(v) >= 1
                   ? 0
                   : fail(why, n, "%s must be an integer greater than 0", where);
    case K_FORMAT: {
        const char *s = json_string_value(v);
        if (s && (strcmp(s, "client") == 0 || strcmp(s, "federation") == 0))
            return 0;
        return fail(why, n, "%s must be \"client\" or \"federation\"", where);
    }
    case K_STRINGS:
        return check_strings(v, 0, where, why, n);
    case K_USERS:
        return check_strings(v, '@', where, why, n);
    case K_ROOMS:
        return check_strings(v, '!', where, why, n);
    case K_EVENT:
        return check_object(v, event_filter, where, why, n);
    case K_ROOM_EVENT:
        return check_object(v, room_event_filter, where, why, n);
    case K_ROOM:
        return check_object(v, room_filter, where, why, n);
    }
    return fail(why, n, "%s: unknown field kind", where);
}

/* `where` is the path so far ("" at the top); fields are named "room.state.types". */
static int check_object(const json_t *obj, const struct field *fields, const char *where, char *why,
                        size_t n)
{
    if (!json_is_object(obj))
        return fail(why, n, "%s must be an object", *where ? where : "filter");
    for (const struct field *f = fields; f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        if (!v)
            continue;
        char path[96]; /* the deepest known path is "room.account_data.unread_thread_..." */
        int w = snprintf(path, sizeof path, "%s%s%s", where, *where ? "." : "", f->name);
        if (w < 0 || (size_t)w >= sizeof path)
            return fail(why, n, "filter nested too deeply");
        if (check_value(v, f->kind, path, why, n) < 0)
            return -1;
    }
    return 0; /* unknown keys are ignored: the schemas do not forbid them */
}

int filter_validate(const json_t *filter, char *why, size_t n)
{
    return check_object(filter, sync_filter, "", why, n);
}

int filter_validate_room_event(const json_t *ef, char *why, size_t n)
{
    return check_object(ef, room_event_filter, "", why, n);
}

bool filter_param_is_inline(const char *param)
{
    return param && param[0] == '{';
}

json_t *filter_parse_param(const char *text, enum filter_kind kind, char *why, size_t n)
{
    if (!text) {
        fail(why, n, "no filter given");
        return NULL;
    }
    json_error_t err;
    json_t *f = json_loads(text, JSON_REJECT_DUPLICATES, &err); /* new reference */
    if (!f) {
        fail(why, n, "filter is not valid JSON: %s", err.text);
        return NULL;
    }
    int rc = kind == FILTER_KIND_ROOM_EVENT ? filter_validate_room_event(f, why, n)
                                            : filter_validate(f, why, n);
    if (rc < 0) {
        json_decref(f);
        return NULL;
    }
    return f;
}

/* --- matching --------------------------------------------------------------------------- */

/* Leftmost occurrence of needle[m] (1 <= m <= FILTER_MAX_STRING) in hay[h], by
 * Knuth-Morris-Pratt; returns its offset or -1. */
static long find(const char *hay, size_t h, const char *needle, size_t m)
{
    size_t fail_at[FILTER_MAX_STRING]; /* length of the longest proper border of needle[0..i] */
    fail_at[0] = 0;
    for (size_t i = 1, k = 0; i < m; i++) {
        while (k > 0 && needle[i] != needle[k])
            k = fail_at[k - 1];
        if (needle[i] == needle[k])
            k++;
        fail_at[i] = k;
    }
    for (size_t i = 0, k = 0; i < h; i++) {
        while (k > 0 && hay[i] != needle[k])
            k = fail_at[k - 1];
        if (hay[i] == needle[k])
            k++;
        if (k == m)
            return (long)(i + 1 - m);
    }
    return -1;
}

/* With '*' only, a greedy match is exact: the text before the first star is a prefix, the text
 * after the last star a suffix (not overlapping the prefix), and each segment between is
 * taken at its leftmost occurrence after the previous one. */
bool filter_glob(const char *pattern, size_t plen, const char *s, size_t slen)
{
    if (plen > FILTER_MAX_STRING)
        return false;
    const char *first = memchr(pattern, '*', plen);
    if (!first)
        return plen == slen && memcmp(pattern, s, plen) == 0;
    size_t last = plen - 1;
    while (pattern[last] != '*')
        last--;
    size_t head = (size_t)(first - pattern), tail = plen - last - 1;
    if (head + tail > slen || memcmp(s, pattern, head) != 0 ||
        memcmp(s + slen - tail, pattern + last + 1, tail) != 0)
        return false;
    size_t pos = head, end = slen - tail;
    for (size_t i = head + 1; i < last;) {
        size_t j = i;
        while (pattern[j] != '*') /* stops at `last` at the latest */
            j++;
        if (j > i) {
            long at = find(s + pos, end - pos, pattern + i, j - i);
            if (at < 0)
                return false;
            pos += (size_t)at + (j - i);
        }
        i = j + 1;
    }
    return true;
}

/* Whether s[slen] (NULL: the field is absent) matches an entry of the array `list`: with
 * filter_glob when `glob`, else exactly. */
static bool list_matches(const json_t *list, const char *s, size_t slen, bool glob)
{
    if (!s)
        return false;
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_string(e))
            continue;
        const char *p = json_string_value(e);
        size_t plen = json_string_length(e);
        if (glob ? filter_glob(p, plen, s, slen) : plen == slen && memcmp(p, s, plen) == 0)
            return true;
    }
    return false;
}

/* One allow list and its not_ list over one field value s[slen] (NULL when absent). Spec: the
 * not_ list wins; an absent list does not restrict; an empty allow list admits nothing. */
static bool pair_ok(const json_t *f, const char *allow, const char *deny, const char *s,
                    size_t slen, bool glob)
{
    const json_t *a = json_object_get(f, allow), *d = json_object_get(f, deny);
    if (json_is_array(d) && list_matches(d, s, slen, glob))
        return false;
    return !json_is_array(a) || list_matches(a, s, slen, glob);
}

/* pair_ok over the string member `key` of event (absent unless a string). */
static bool field_ok(const json_t *f, const char *allow, const char *deny, const json_t *event,
                     const char *key, bool glob)
{
    const json_t *v = json_object_get(event, key);
    return pair_ok(f, allow, deny, json_string_value(v), json_string_length(v), glob);
}

bool filter_event_ok(const json_t *ef, const json_t *event)
{
    if (!json_is_object(ef))
        return true;
    if (!field_ok(ef, "types", "not_types", event, "type", true) ||
        !field_ok(ef, "senders", "not_senders", event, "sender", false))
        return false;
    if (json_is_string(json_object_get(event, "room_id")) &&
        !field_ok(ef, "rooms", "not_rooms", event, "room_id", false))
        return false;
    const json_t *cu = json_object_get(ef, "contains_url");
    if (json_is_boolean(cu)) {
        bool has = json_is_string(json_object_get(json_object_get(event, "content"), "url"));
        if (has != json_is_true(cu))
            return false;
    }
    return true;
}

bool filter_event_narrows(const json_t *ef)
{
    static const char *const keys[] = {"types", "not_types", "senders", "not_senders",
                                       "contains_url"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_get(ef, keys[i]))
            return json_is_object(ef);
    return false;
}

bool filter_room_ok(const json_t *rf, const char *room_id)
{
    if (!json_is_object(rf))
        return true;
    return pair_ok(rf, "rooms", "not_rooms", room_id, room_id ? strlen(room_id) : 0, false);
}

int filter_limit(const json_t *ef, int dflt, int max)
{
    if (max < 1)
        max = 1;
    json_int_t v = dflt;
    const json_t *l = json_object_get(ef, "limit");
    if (json_is_integer(l) && json_integer_value(l) >= 1)
        v = json_integer_value(l);
    return v < 1 ? 1 : v > max ? max : (int)v;
}

/* --- event_fields ----------------------------------------------------------------------- */

/* Copy the value at dotted `path` (len bytes) from src into dst at the same nesting, creating
 * the objects on the way only once the whole path resolved in src. Returns 0 (also when the
 * path names nothing), -1 when out of memory. */
static int project_path(json_t *dst, const json_t *src, const char *path, size_t len)
{
    /* the decoded keys, each NUL-terminated: at most len bytes of keys plus one NUL per
     * segment, and every segment but the first consumed a dot */
    char keys[FILTER_MAX_STRING + 1];
    if (len > FILTER_MAX_STRING || memchr(path, '\0', len))
        return 0; /* no valid filter holds it; jansson keys cannot hold NUL */
    size_t k = 0, segments = 1;
    for (size_t i = 0; i < len; i++) {
        char c = path[i];
        if (c == '.') {
            c = '\0';
            segments++;
        } else if (c == '\\' && i + 1 < len && (path[i + 1] == '.' || path[i + 1] == '\\')) {
            c = path[++i];
        }
        keys[k++] = c;
    }
    keys[k] = '\0';

    const json_t *v = src;
    const char *key = keys;
    for (size_t s = 0; s < segments; s++, key += strlen(key) + 1) {
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        if (!v)
            return 0;
    }
    key = keys;
    for (size_t s = 0; s + 1 < segments; s++, key += strlen(key) + 1) {
        json_t *d = json_object_get(dst, key); /* borrowed */
        if (!d) {
            d = json_object();
            if (!d || json_object_set_new(dst, key, d) < 0) /* d stolen */
                return -1;
        }
        /* d is an object: dst mirrors src, where the path passed through an object here */
        dst = d;
    }
    json_t *copy = json_deep_copy(v); /* new reference, stolen by set_new */
    return copy && json_object_set_new(dst, key, copy) == 0 ? 0 : -1;
}

json_t *filter_project(const json_t *event, const json_t *event_fields)
{
    if (!json_is_array(event_fields) || !json_is_object(event))
        return json_incref((json_t *)event);
    json_t *out = json_object();
    if (!out)
        return NULL;
    size_t i;
    const json_t *f;
    json_array_foreach(event_fields, i, f)
    {
        if (!json_is_string(f))
            continue;
        if (project_path(out, event, json_string_value(f), json_string_length(f)) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* --- accessors -------------------------------------------------------------------------- */

static const json_t *object_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

const json_t *filter_event_fields(const json_t *filter)
{
    const json_t *v = json_object_get(filter, "event_fields");
    return json_is_array(v) ? v : NULL;
}

const json_t *filter_part(const json_t *filter, const char *part)
{
    return object_at(filter, part);
}

const json_t *filter_room(const json_t *filter)
{
    return object_at(filter, "room");
}

const json_t *filter_room_part(const json_t *filter, const char *part)
{
    return object_at(object_at(filter, "room"), part);
}

bool filter_event_lazy_members(const json_t *ef, bool *include_redundant)
{
    bool lazy = json_is_true(json_object_get(ef, "lazy_load_members"));
    if (include_redundant)
        *include_redundant = lazy && json_is_true(json_object_get(ef, "include_redundant_members"));
    return lazy;
}

bool filter_lazy_members(const json_t *filter, bool *include_redundant)
{
    return filter_event_lazy_members(filter_room_part(filter, "state"), include_redundant);
}

bool filter_include_leave(const json_t *filter)
{
    return json_is_true(json_object_get(filter_room(filter), "include_leave"));
}

bool filter_unread_threads(const json_t *filter)
{
    return json_is_true(
        json_object_get(filter_room_part(filter, "timeline"), "unread_thread_notifications"));
}

bool filter_federation_format(const json_t *filter)
{
    const char *f = json_string_value(json_object_get(filter, "event_format"));
    return f && strcmp(f, "federation") == 0;
}
