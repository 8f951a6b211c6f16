/* userdata.c - filters, account data, room tags, receipts, read markers, typing and presence
 * (Client-Server API "Filtering", "Client Config", "Room Tagging", "Receipts", "Fully read
 * markers", "Typing Notifications", "Presence").
 *
 * Every write that /sync reports takes a stream position under a notifier ticket and touches
 * the user (account data, presence) or the room (receipts), so waiting syncs wake. Room tags
 * and the fully-read marker are room account data (m.tag, m.fully_read) as the spec defines
 * them; they are written only through their own endpoints. */
#include "server/userdata.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/fedout.h"
#include "server/ids.h"
#include "server/notify.h"
#include "storage/state.h"
#include "storage/userdata.h"

#define MAX_TYPING_MS 120000
#define MAX_TAGS 100

enum room_rc userdata_filter_put(const char *user_id, const json_t *filter, char **id)
{
    char *text = json_dumps(filter, JSON_COMPACT);
    struct dbc *c = text ? db_get() : NULL;
    int64_t v = 0;
    enum room_rc rc = c && db_filter_put(c, user_id, text, &v) == 0 ? ROOM_OK : ROOM_ERR;
    db_put(c);
    free(text);
    if (rc == ROOM_OK) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, v);
        *id = strdup(buf);
        if (!*id)
            rc = ROOM_ERR;
    }
    return rc;
}

enum room_rc userdata_filter_get(const char *user_id, const char *id, json_t **out)
{
    char *end;
    long long v = strtoll(id, &end, 10);
    if (!*id || *end || v <= 0 || strlen(id) > 18)
        return ROOM_NOT_FOUND;
    struct dbc *c = db_get();
    json_t *f = c ? db_filter_get(c, user_id, v) : NULL;
    db_put(c);
    if (!f)
        return ROOM_ERR;
    if (!json_is_object(f)) {
        json_decref(f);
        return ROOM_NOT_FOUND;
    }
    *out = f;
    return ROOM_OK;
}

/* Write one account data object and tell the notifier. */
static enum room_rc put_data(struct dbc *c, const char *user_id, const char *room_id,
                             const char *type, const json_t *content)
{
    char *text = json_dumps(content, JSON_COMPACT); /* floats allowed: not canonical JSON */
    if (!text)
        return ROOM_ERR;
    struct notify_ticket *t = notify_begin();
    int64_t pos = 0;
    int rc = db_account_data_put(c, user_id, room_id ? room_id : "", type, text, &pos);
    free(text);
    if (rc == 0)
        notify_touch(t, pos, NULL, user_id, NOTIFY_ACCOUNT);
    notify_end(t, rc == 0);
    return rc == 0 ? ROOM_OK : ROOM_ERR;
}

static bool is_joined(struct dbc *c, const char *room_id, const char *user_id, int *err)
{
    char *m = NULL;
    *err = db_current_membership(c, room_id, user_id, &m, NULL) < 0;
    bool joined = m && strcmp(m, "join") == 0;
    free(m);
    return joined;
}

enum room_rc userdata_account_data_put(const char *user_id, const char *room_id, const char *type,
                                       const json_t *content, char *why, size_t n)
{
    if (strcmp(type, "m.fully_read") == 0 || strcmp(type, "m.push_rules") == 0) {
        snprintf(why, n, "Cannot set %s through this API", type);
        return ROOM_BAD_JSON;
    }
    char *text = json_dumps(content, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    free(text);
    if (!text || len > USERDATA_MAX_CONTENT) {
        snprintf(why, n, "Account data is limited to %d bytes", USERDATA_MAX_CONTENT);
        return text ? ROOM_TOO_LARGE : ROOM_ERR;
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    enum room_rc rc = put_data(c, user_id, room_id, type, content);
    db_put(c);
    return rc;
}

enum room_rc userdata_account_data_get(const char *user_id, const char *room_id, const char *type,
                                       json_t **out)
{
    struct dbc *c = db_get();
    json_t *v = c ? db_account_data_get(c, user_id, room_id ? room_id : "", type) : NULL;
    db_put(c);
    if (!v)
        return ROOM_ERR;
    if (!json_is_object(v) || !json_object_size(v)) {
        json_decref(v);
        return ROOM_NOT_FOUND;
    }
    *out = v;
    return ROOM_OK;
}

/* --- tags ------------------------------------------------------------------------------- */

enum room_rc userdata_tags_get(const char *user_id, const char *room_id, json_t **out)
{
    json_t *content = NULL;
    enum room_rc rc = userdata_account_data_get(user_id, room_id, "m.tag", &content);
    if (rc == ROOM_NOT_FOUND) {
        *out = json_pack("{s:{}}", "tags");
        return ROOM_OK;
    }
    if (rc != ROOM_OK)
        return rc;
    json_t *tags = json_object_get(content, "tags");
    *out = json_pack("{s:O}", "tags", json_is_object(tags) ? tags : json_object());
    json_decref(content);
    return ROOM_OK;
}

/* Change the m.tag object: body NULL deletes `tag`. */
static enum room_rc tags_change(const char *user_id, const char *room_id, const char *tag,
                                const json_t *body, char *why, size_t n)
{
    json_t *cur = NULL;
    enum room_rc rc = userdata_tags_get(user_id, room_id, &cur);
    if (rc != ROOM_OK)
        return rc;
    json_t *tags = json_object_get(cur, "tags");
    if (body) {
        if (!json_object_get(tags, tag) && json_object_size(tags) >= MAX_TAGS) {
            json_decref(cur);
            snprintf(why, n, "At most %d tags per room", MAX_TAGS);
            return ROOM_BAD_JSON;
        }
        json_t *entry = json_object();
        json_t *order = json_object_get(body, "order");
        if (json_is_number(order))
            json_object_set(entry, "order", order);
        json_object_set_new(tags, tag, entry);
    } else {
        json_object_del(tags, tag);
    }
    struct dbc *c = db_get();
    rc = c ? put_data(c, user_id, room_id, "m.tag", cur) : ROOM_ERR;
    db_put(c);
    json_decref(cur);
    return rc;
}

enum room_rc userdata_tag_put(const char *user_id, const char *room_id, const char *tag,
                              const json_t *body, char *why, size_t n)
{
    json_t *order = json_object_get(body, "order");
    if (order && !json_is_number(order)) {
        snprintf(why, n, "order must be a number");
        return ROOM_BAD_JSON;
    }
    if (strlen(tag) > 255) {
        snprintf(why, n, "Tag names are limited to 255 bytes");
        return ROOM_BAD_JSON;
    }
    return tags_change(user_id, room_id, tag, body, why, n);
}

enum room_rc userdata_tag_delete(const char *user_id, const char *room_id, const char *tag)
{
    char why[64];
    return tags_change(user_id, room_id, tag, NULL, why, sizeof why);
}

/* --- receipts and markers --------------------------------------------------------------- */

enum room_rc userdata_receipt(const char *user_id, const char *room_id, const char *type,
                              const char *event_id, const char *thread_id, char *why, size_t n)
{
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    enum room_rc rc = ROOM_ERR;
    int err = 0;
    if (!is_joined(c, room_id, user_id, &err)) {
        if (!err) {
            snprintf(why, n, "You are not joined to %s", room_id);
            rc = ROOM_FORBIDDEN;
        }
        goto out;
    }
    if (strcmp(type, "m.fully_read") == 0) {
        json_t *content = json_pack("{s:s}", "event_id", event_id);
        rc = put_data(c, user_id, room_id, "m.fully_read", content);
        json_decref(content);
        goto out;
    }
    struct notify_ticket *t = notify_begin();
    int64_t pos = 0;
    int found = db_receipt_put(c, room_id, type, user_id, thread_id ? thread_id : "", event_id,
                               clock_now_ms(), &pos);
    if (found > 0 && pos > 0)
        notify_touch(t, pos, room_id, NULL, NOTIFY_RECEIPT);
    notify_end(t, found > 0);
    if (found > 0 && strcmp(type, "m.read") == 0 && ids_is_local(user_id)) {
        /* public receipts go to the room's other servers (m.receipt EDU) */
        json_t *data = json_pack("{s:I}", "ts", (json_int_t)clock_now_ms());
        if (thread_id)
            json_object_set_new(data, "thread_id", json_string(thread_id));
        json_t *edu = json_pack("{s:{s:{s:{s:[s],s:o}}}}", room_id, "m.read", user_id,
                                "event_ids", event_id, "data", data);
        fedout_edu_room(room_id, "m.receipt", edu);
        json_decref(edu);
    }
    if (found == 0) {
        snprintf(why, n, "Unknown event %s in %s", event_id, room_id);
        rc = ROOM_NOT_FOUND;
    } else if (found > 0) {
        rc = ROOM_OK;
    }
out:
    db_put(c);
    return rc;
}

enum room_rc userdata_typing(const char *user_id, const char *room_id, bool typing,
                             int64_t timeout_ms, char *why, size_t n)
{
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    int err = 0;
    bool joined = is_joined(c, room_id, user_id, &err);
    db_put(c);
    if (err)
        return ROOM_ERR;
    if (!joined) {
        snprintf(why, n, "You are not joined to %s", room_id);
        return ROOM_FORBIDDEN;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (timeout_ms > MAX_TYPING_MS)
        timeout_ms = MAX_TYPING_MS;
    notify_typing_set(room_id, user_id, typing, timeout_ms);
    if (ids_is_local(user_id)) { /* the room's other servers hear of it (m.typing EDU) */
        json_t *edu = json_pack("{s:s,s:s,s:b}", "room_id", room_id, "user_id", user_id,
                                "typing", typing);
        fedout_edu_room(room_id, "m.typing", edu);
        json_decref(edu);
    }
    return ROOM_OK;
}

/* --- presence --------------------------------------------------------------------------- */

enum room_rc userdata_presence_put(const char *user_id, const char *presence,
                                   const char *status_msg, char *why, size_t n)
{
    static const char *const states[] = {"online", "offline", "unavailable"};
    bool ok = false;
    for (size_t i = 0; i < 3; i++)
        ok |= strcmp(presence, states[i]) == 0;
    if (!ok) {
        snprintf(why, n, "presence must be online, offline or unavailable");
        return ROOM_BAD_JSON;
    }
    if (status_msg && strlen(status_msg) > 1024) {
        snprintf(why, n, "status_msg is limited to 1024 bytes");
        return ROOM_BAD_JSON;
    }
    struct dbc *c = db_get();
    if (!c)
        return ROOM_ERR;
    /* the same state again within a minute is not news: no write, nobody woken */
    json_t *cur = db_presence_get(c, user_id);
    const char *cp = json_string_value(json_object_get(cur, "presence"));
    const char *cm = json_string_value(json_object_get(cur, "status_msg"));
    bool same = cp && strcmp(cp, presence) == 0 &&
                ((!cm && !status_msg) || (cm && status_msg && strcmp(cm, status_msg) == 0)) &&
                clock_now_ms() - json_integer_value(json_object_get(cur, "last_active_ts")) < 60000;
    json_decref(cur);
    if (same) {
        db_put(c);
        return ROOM_OK;
    }
    struct notify_ticket *t = notify_begin();
    int64_t pos = 0;
    int rc = db_presence_put(c, user_id, presence, status_msg, clock_now_ms(), &pos);
    json_t *rooms = rc == 0 ? db_rooms_with_membership(c, user_id, "join") : NULL;
    if (rc == 0) { /* the user, and everyone sharing a room with them */
        notify_touch(t, pos, NULL, user_id, NOTIFY_PRESENCE);
        size_t i;
        json_t *r;
        json_array_foreach(rooms, i, r)
        {
            notify_touch(t, pos, json_string_value(r), NULL, NOTIFY_PRESENCE);
        }
    }
    json_decref(rooms);
    notify_end(t, rc == 0);
    db_put(c);
    if (rc == 0 && ids_is_local(user_id)) { /* servers sharing a room hear of it (m.presence) */
        json_t *edu = json_pack("{s:[{s:s,s:s,s:i,s:b}]}", "push", "user_id", user_id,
                                "presence", presence, "last_active_ago", 0,
                                "currently_active", strcmp(presence, "online") == 0);
        if (edu && status_msg)
            json_object_set_new(json_array_get(json_object_get(edu, "push"), 0), "status_msg",
                                json_string(status_msg));
        fedout_edu_user_rooms(user_id, "m.presence", edu);
        json_decref(edu);
    }
    return rc == 0 ? ROOM_OK : ROOM_ERR;
}

enum room_rc userdata_presence_get(const char *user_id, const char *viewer, json_t **out)
{
    struct dbc *c = db_get();
    int share = !c ? -1 : strcmp(user_id, viewer) == 0 ? 1 : db_users_share_room(c, user_id, viewer);
    json_t *p = share > 0 ? db_presence_get(c, user_id) : NULL;
    db_put(c);
    if (share == 0)
        return ROOM_FORBIDDEN;
    if (!p)
        return ROOM_ERR;
    if (!json_is_object(p)) {
        json_decref(p);
        return ROOM_NOT_FOUND;
    }
    int64_t now = clock_now_ms();
    json_int_t la = json_integer_value(json_object_get(p, "last_active_ts"));
    json_object_del(p, "last_active_ts");
    json_object_set_new(p, "last_active_ago", json_integer(now > la ? now - la : 0));
    const char *state = json_string_value(json_object_get(p, "presence"));
    json_object_set_new(p, "currently_active",
                        json_boolean(state && strcmp(state, "online") == 0 && now - la < 300000));
    *out = p;
    return ROOM_OK;
}
