/* keybackup.c - server-side key backups (Client-Server API v1.19, "End-to-End Encryption",
 * "Server-side key backups"): backup versions with their algorithm and auth_data, and the
 * encrypted session keys clients store in them, which the server keeps without reading.
 *
 * Invariants:
 *  1. A user reaches only their own backups: every storage call is keyed by the user ID the
 *     access token belongs to.
 *  2. Version numbers are per user, increasing, and never reused (storage/keybackup.c). The
 *     current version is the highest one not deleted; only it takes keys.
 *  3. A key write locks its version first, so the replacement decision for a session already
 *     stored, the write, and the version's etag and count all happen under one lock; etag
 *     changes exactly when the version's keys change.
 *  4. A request with keys is checked whole before anything is stored: one bad session
 *     refuses the request, and nothing of it is kept.
 *  5. session_data and auth_data are opaque objects, bounded in size; what a client uploads
 *     comes back equivalent (the JSON text is stored). */
#include "server/keybackup.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/keybackup.h"

#define MAX_ID 255         /* bytes of a room ID, session ID or algorithm name */
#define MAX_VERSION_LEN 18 /* decimal digits of a version: stays within int64 */

/* --- errors ------------------------------------------------------------------------------ */

static void fail(struct keybackup_error *e, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct keybackup_error *e, int status, const char *errcode, const char *fmt, ...)
{
    e->status = status;
    e->errcode = errcode;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap); /* a truncated message is still a message */
    va_end(ap);
}

static void fail_internal(struct keybackup_error *e)
{
    fail(e, 500, "M_UNKNOWN", "Internal server error");
}

static void fail_unknown_version(struct keybackup_error *e)
{
    fail(e, 404, "M_NOT_FOUND", "Unknown backup version");
}

/* A key write to a version that is not the current one (`current`, 0 when none). */
static void fail_wrong_version(struct keybackup_error *e, int64_t current)
{
    if (!current) {
        fail_unknown_version(e);
        return;
    }
    fail(e, 403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.");
    snprintf(e->current_version, sizeof e->current_version, "%" PRId64, current);
}

/* --- pure helpers ------------------------------------------------------------------------ */

bool keybackup_replaces(const struct keybackup_meta *stored, const struct keybackup_meta *incoming)
{
    /* 1. different is_verified: keep the verified key */
    if (stored->is_verified != incoming->is_verified)
        return incoming->is_verified;
    /* 2. then the lower first_message_index */
    if (stored->first_message_index != incoming->first_message_index)
        return incoming->first_message_index < stored->first_message_index;
    /* 3. then the lower forwarded_count; on a tie the stored key stays */
    return incoming->forwarded_count < stored->forwarded_count;
}

/* A version as we number them: 1-18 decimal digits without a leading zero; else 0, which
 * no version has. */
static int64_t parse_version(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_VERSION_LEN || s[0] == '0')
        return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= MAX_ID;
}

static bool room_id_ok(const char *s)
{
    return s[0] == '!' && s[1] && strlen(s) <= MAX_ID;
}

/* Bytes of v as compact JSON, or SIZE_MAX when it cannot be encoded. */
static size_t json_size(const json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    return n ? n : SIZE_MAX;
}

/* The non-negative integer field `key` of a KeyBackupData into *out. */
static int count_field(const json_t *key, const char *name, int64_t *out,
                       struct keybackup_error *err)
{
    json_t *v = json_object_get(key, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        fail(err, 400, "M_BAD_JSON", "'%s' must be a non-negative integer", name);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* --- versions ---------------------------------------------------------------------------- */

/* Check {algorithm, auth_data} of a create or update body. */
static int check_version_body(const json_t *body, struct keybackup_error *err)
{
    const char *algorithm = json_string_value(json_object_get(body, "algorithm"));
    const json_t *auth_data = json_object_get(body, "auth_data");
    if (!algorithm || !id_ok(algorithm)) {
        fail(err, 400, "M_BAD_JSON", "'algorithm' must be a string of 1 to %d bytes", MAX_ID);
        return -1;
    }
    if (!json_is_object(auth_data)) {
        fail(err, 400, "M_BAD_JSON", "'auth_data' must be an object");
        return -1;
    }
    if (json_size(auth_data) > KEYBACKUP_MAX_AUTH_DATA) {
        fail(err, 413, "M_TOO_LARGE", "'auth_data' is limited to %d bytes",
             KEYBACKUP_MAX_AUTH_DATA);
        return -1;
    }
    /* the spec's AuthData of this algorithm requires public_key; other algorithms' auth_data
     * is theirs to define */
    if (strcmp(algorithm, KEYBACKUP_ALGORITHM_V1) == 0 &&
        !json_is_string(json_object_get(auth_data, "public_key"))) {
        fail(err, 400, "M_BAD_JSON", "'auth_data.public_key' must be a string for %s",
             KEYBACKUP_ALGORITHM_V1);
        return -1;
    }
    return 0;
}

json_t *keybackup_version_create(const char *user_id, const json_t *body,
                                 struct keybackup_error *err)
{
    if (check_version_body(body, err) < 0)
        return NULL;
    char *auth_data = json_dumps(json_object_get(body, "auth_data"), JSON_COMPACT);
    struct dbc *c = auth_data ? db_get() : NULL;
    int64_t version = 0;
    int rc = c ? db_keybackup_version_create(c, user_id,
                                             json_string_value(json_object_get(body, "algorithm")),
                                             auth_data, &version)
               : -1;
    db_put(c);
    free(auth_data);
    if (rc < 0) {
        fail_internal(err);
        return NULL;
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, version);
    return json_pack("{s:s}", "version", buf);
}

json_t *keybackup_version_get(const char *user_id, const char *version, struct keybackup_error *err)
{
    int64_t v = version ? parse_version(version) : 0;
    if (version && !v) {
        fail_unknown_version(err);
        return NULL;
    }
    struct dbc *c = db_get();
    json_t *out = c ? db_keybackup_version_get(c, user_id, v) : NULL;
    db_put(c);
    if (!out) {
        fail_internal(err);
        return NULL;
    }
    if (!json_is_object(out)) {
        json_decref(out);
        if (version)
            fail_unknown_version(err);
        else
            fail(err, 404, "M_NOT_FOUND", "No current backup version");
        return NULL;
    }
    return out;
}

json_t *keybackup_version_update(const char *user_id, const char *version, const json_t *body,
                                 struct keybackup_error *err)
{
    if (check_version_body(body, err) < 0)
        return NULL;
    const json_t *body_version = json_object_get(body, "version");
    if (body_version && !json_is_string(body_version)) {
        fail(err, 400, "M_BAD_JSON", "'version' must be a string");
        return NULL;
    }
    if (body_version && strcmp(json_string_value(body_version), version) != 0) {
        fail(err, 400, "M_INVALID_PARAM", "Version in body does not match the path");
        return NULL;
    }
    int64_t v = parse_version(version);
    if (!v) {
        fail_unknown_version(err);
        return NULL;
    }
    char *auth_data = NULL;
    struct dbc *c = db_get();
    json_t *old = c ? db_keybackup_version_get(c, user_id, v) : NULL, *out = NULL;
    if (!old) {
        fail_internal(err);
        goto out;
    }
    if (!json_is_object(old)) {
        fail_unknown_version(err);
        goto out;
    }
    /* the algorithm of a version never changes, so comparing before the update is enough */
    if (strcmp(json_string_value(json_object_get(old, "algorithm")),
               json_string_value(json_object_get(body, "algorithm"))) != 0) {
        fail(err, 400, "M_INVALID_PARAM", "Algorithm does not match");
        goto out;
    }
    auth_data = json_dumps(json_object_get(body, "auth_data"), JSON_COMPACT);
    int rc = auth_data ? db_keybackup_version_update(c, user_id, v, auth_data) : -1;
    if (rc < 0)
        fail_internal(err);
    else if (rc == 0) /* deleted meanwhile */
        fail_unknown_version(err);
    else
        out = json_object();
out:
    db_put(c);
    json_decref(old);
    free(auth_data);
    return out;
}

json_t *keybackup_version_delete(const char *user_id, const char *version,
                                 struct keybackup_error *err)
{
    int64_t v = parse_version(version);
    if (!v) {
        fail_unknown_version(err);
        return NULL;
    }
    struct dbc *c = db_get();
    int rc = c ? db_keybackup_version_delete(c, user_id, v) : -1;
    db_put(c);
    if (rc < 0)
        fail_internal(err);
    else if (rc == 0)
        fail_unknown_version(err);
    return rc == 1 ? json_object() : NULL;
}

/* --- keys -------------------------------------------------------------------------------- */

/* Check one KeyBackupData and append it to `rows` as a storage row. */
static int add_session(json_t *rows, const char *room_id, const char *session_id, const json_t *key,
                       struct keybackup_error *err)
{
    struct keybackup_meta m;
    if (!id_ok(session_id)) {
        fail(err, 400, "M_INVALID_PARAM", "Session IDs are 1 to %d bytes", MAX_ID);
        return -1;
    }
    if (!json_is_object(key)) {
        fail(err, 400, "M_BAD_JSON", "The key data of a session must be an object");
        return -1;
    }
    if (count_field(key, "first_message_index", &m.first_message_index, err) < 0 ||
        count_field(key, "forwarded_count", &m.forwarded_count, err) < 0)
        return -1;
    const json_t *verified = json_object_get(key, "is_verified");
    const json_t *data = json_object_get(key, "session_data");
    if (!json_is_boolean(verified)) {
        fail(err, 400, "M_BAD_JSON", "'is_verified' must be a boolean");
        return -1;
    }
    if (!json_is_object(data)) {
        fail(err, 400, "M_BAD_JSON", "'session_data' must be an object");
        return -1;
    }
    if (json_size(data) > KEYBACKUP_MAX_SESSION_DATA) {
        fail(err, 413, "M_TOO_LARGE", "'session_data' is limited to %d bytes",
             KEYBACKUP_MAX_SESSION_DATA);
        return -1;
    }
    /* "O": session_data gains a reference, owned by the row */
    json_t *row = json_pack("{s:s, s:s, s:I, s:I, s:b, s:O}", "room_id", room_id, "session_id",
                            session_id, "first_message_index", (json_int_t)m.first_message_index,
                            "forwarded_count", (json_int_t)m.forwarded_count, "is_verified",
                            json_is_true(verified), "session_data", data);
    if (!row || json_array_append_new(rows, row) < 0) {
        fail_internal(err);
        return -1;
    }
    return 0;
}

/* Check a RoomKeyBackup ({sessions}) and append its sessions to `rows`. */
static int add_room(json_t *rows, const char *room_id, const json_t *room,
                    struct keybackup_error *err)
{
    if (!room_id_ok(room_id)) {
        fail(err, 400, "M_INVALID_PARAM", "Room IDs start with '!' and are at most %d bytes",
             MAX_ID);
        return -1;
    }
    const json_t *sessions = json_object_get(room, "sessions");
    if (!json_is_object(room) || !json_is_object(sessions)) {
        fail(err, 400, "M_BAD_JSON", "The keys of a room must be an object with 'sessions'");
        return -1;
    }
    const char *session_id;
    json_t *key;
    json_object_foreach((json_t *)sessions, session_id, key)
    {
        if (add_session(rows, room_id, session_id, key, err) < 0)
            return -1;
    }
    return 0;
}

/* The sessions of a PUT body (see keybackup_keys_put) as a new array of storage rows, or NULL
 * with *err. */
static json_t *collect(const char *room_id, const char *session_id, const json_t *body,
                       struct keybackup_error *err)
{
    json_t *rows = json_array();
    int rc = -1;
    if (!rows) {
        fail_internal(err);
        return NULL;
    }
    if (session_id) {
        if (room_id_ok(room_id))
            rc = add_session(rows, room_id, session_id, body, err);
        else
            fail(err, 400, "M_INVALID_PARAM", "Invalid room ID");
    } else if (room_id) {
        rc = add_room(rows, room_id, body, err);
    } else {
        const json_t *rooms = json_object_get(body, "rooms");
        const char *id;
        json_t *room;
        if (json_is_object(rooms)) {
            rc = 0;
            json_object_foreach((json_t *)rooms, id, room)
            {
                if ((rc = add_room(rows, id, room, err)) < 0)
                    break;
            }
        } else {
            fail(err, 400, "M_BAD_JSON", "'rooms' must be an object");
        }
    }
    if (rc < 0) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

static struct keybackup_meta row_meta(const json_t *row)
{
    struct keybackup_meta m = {
        .is_verified = json_is_true(json_object_get(row, "is_verified")),
        .first_message_index = json_integer_value(json_object_get(row, "first_message_index")),
        .forwarded_count = json_integer_value(json_object_get(row, "forwarded_count")),
    };
    return m;
}

/* Of the rows for version v (locked), those to write into `keep` (borrowed references
 * added), counting in *added those that are new sessions. 0, or -1 on error. */
static int choose(struct dbc *c, const char *user_id, int64_t v, json_t *rows, json_t *keep,
                  int64_t *added)
{
    json_t *pairs = json_array(), *stored = NULL, *row;
    char *text = NULL;
    size_t i;
    int rc = -1;
    if (!pairs)
        return -1;
    json_array_foreach(rows, i, row)
    {
        json_t *pair = json_pack("{s:O, s:O}", "room_id", json_object_get(row, "room_id"),
                                 "session_id", json_object_get(row, "session_id"));
        if (json_array_append_new(pairs, pair) < 0) /* steals pair; fails on NULL */
            goto out;
    }
    if (!(text = json_dumps(pairs, JSON_COMPACT)) ||
        !(stored = db_keybackup_sessions_meta(c, user_id, v, text)) || !json_is_object(stored))
        goto out;
    json_array_foreach(rows, i, row)
    {
        const json_t *old = json_object_get(
            json_object_get(stored, json_string_value(json_object_get(row, "room_id"))),
            json_string_value(json_object_get(row, "session_id")));
        if (old) {
            struct keybackup_meta was = row_meta(old), now = row_meta(row);
            if (!keybackup_replaces(&was, &now))
                continue;
        } else {
            (*added)++;
        }
        if (json_array_append(keep, row) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(pairs);
    json_decref(stored);
    free(text);
    return rc;
}

/* {etag, count} of a version's state. */
static json_t *state_reply(const struct db_keybackup_state *st, struct keybackup_error *err)
{
    char etag[24];
    snprintf(etag, sizeof etag, "%" PRId64, st->etag);
    json_t *out = json_pack("{s:s, s:I}", "etag", etag, "count", (json_int_t)st->count);
    if (!out)
        fail_internal(err);
    return out;
}

json_t *keybackup_keys_put(const char *user_id, const char *version, const char *room_id,
                           const char *session_id, const json_t *body, struct keybackup_error *err)
{
    json_t *rows = collect(room_id, session_id, body, err), *keep = NULL, *out = NULL;
    if (!rows)
        return NULL;
    int64_t v = parse_version(version), added = 0;
    char *text = NULL;
    struct db_keybackup_state st = {0};
    struct dbc *c = db_get();
    if (!c || db_begin(c) < 0) {
        fail_internal(err);
        goto out;
    }
    int rc = db_keybackup_lock(c, user_id, v, &st); /* v 0: no such version */
    if (rc < 0) {
        fail_internal(err);
        goto out;
    }
    if (rc == 0 || st.current != v) {
        fail_wrong_version(err, st.current);
        goto out;
    }
    if (!(keep = json_array()) ||
        (json_array_size(rows) && choose(c, user_id, v, rows, keep, &added) < 0)) {
        fail_internal(err);
        goto out;
    }
    if (json_array_size(keep) && (!(text = json_dumps(keep, JSON_COMPACT)) ||
                                  db_keybackup_sessions_put(c, user_id, v, text, added, &st) < 0)) {
        fail_internal(err);
        goto out;
    }
    if (db_commit(c) < 0) {
        fail_internal(err);
        goto out;
    }
    out = state_reply(&st, err);
out:
    db_put(c); /* rolls back what was not committed */
    json_decref(rows);
    json_decref(keep);
    free(text);
    return out;
}

json_t *keybackup_keys_get(const char *user_id, const char *version, const char *room_id,
                           const char *session_id, struct keybackup_error *err)
{
    int64_t v = parse_version(version);
    if (!v) {
        fail_unknown_version(err);
        return NULL;
    }
    struct dbc *c = db_get();
    json_t *all = c ? db_keybackup_sessions_get(c, user_id, v, room_id, session_id) : NULL;
    db_put(c);
    if (!all) {
        fail_internal(err);
        return NULL;
    }
    if (!json_is_object(all)) {
        json_decref(all);
        fail_unknown_version(err);
        return NULL;
    }
    if (!room_id)
        return all;
    json_t *room = json_object_get(json_object_get(all, "rooms"), room_id), *out = NULL;
    if (!session_id)
        out = room ? json_incref(room) : json_pack("{s:{}}", "sessions");
    else if ((out = json_object_get(json_object_get(room, "sessions"), session_id)))
        json_incref(out);
    else
        fail(err, 404, "M_NOT_FOUND", "Key not found.");
    json_decref(all);
    if (!out && !err->errcode)
        fail_internal(err);
    return out;
}

json_t *keybackup_keys_delete(const char *user_id, const char *version, const char *room_id,
                              const char *session_id, struct keybackup_error *err)
{
    int64_t v = parse_version(version);
    if (!v) {
        fail_unknown_version(err);
        return NULL;
    }
    json_t *out = NULL;
    struct db_keybackup_state st = {0};
    struct dbc *c = db_get();
    int rc = c && db_begin(c) == 0 ? db_keybackup_lock(c, user_id, v, &st) : -1;
    if (rc == 0)
        fail_unknown_version(err);
    else if (rc < 0 || db_keybackup_sessions_delete(c, user_id, v, room_id, session_id, &st) < 0 ||
             db_commit(c) < 0)
        fail_internal(err);
    else
        out = state_reply(&st, err);
    db_put(c);
    return out;
}
