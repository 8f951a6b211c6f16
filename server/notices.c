/* notices.c - server notices (Synapse's docs/server_notices.md and admin_api/server_notices.md):
 * the server's notices user (server_notices.system_mxid_localpart, an account without a
 * password, made on first use) writes to each user in a room of its own, created on the first
 * notice with the configured name and topic, the user invited (or joined, auto_join) and the
 * room tagged m.server_notice for them; the users' power level there is -10, so only the
 * notices user speaks. While the user is still invited or joined, later notices go to the same
 * room; once they left, the next notice makes a new one.
 *
 * Invariant: finding or making a user's room happens under `mu`, so two notices at once never
 * make two rooms. */
#include "server/notices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/account.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/userdata.h"
#include "storage/roomadmin.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether user_id is invited to or joined room_id (only invited: invited_only). */
static bool member_of(const char *room_id, const char *user_id, bool invited_only)
{
    char suffix[300];
    snprintf(suffix, sizeof suffix, ":%s", ids_local_server());
    struct dbc *c = db_get();
    json_t *m = c ? db_admin_room_local_members(c, room_id, suffix) : NULL;
    db_put(c);
    bool there = false;
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
    {
        const char *ms = json_string_value(json_array_get(v, 1));
        if (strcmp(json_string_value(json_array_get(v, 0)), user_id) == 0 &&
            ((!invited_only && strcmp(ms, "join") == 0) || strcmp(ms, "invite") == 0))
            there = true;
    }
    json_decref(m);
    return there;
}

/* Make the notices account if it is not there (its profile from the configuration). */
static enum room_rc ensure_sender(const struct config *cfg, const char *sender)
{
    int avail = account_available(sender);
    if (avail < 0)
        return ROOM_ERR;
    if (!avail)
        return ROOM_OK;
    struct account_login l;
    enum account_rc rc = account_register(sender, NULL, false, cfg->server_notices.display_name,
                                          NULL, false, NULL, NULL, &l);
    if (rc == ACCOUNT_OK)
        account_login_clear(&l);
    if (rc != ACCOUNT_OK && rc != ACCOUNT_EXISTS)
        return ROOM_ERR;
    if (cfg->server_notices.avatar_url)
        account_profile_set(sender, "avatar_url", cfg->server_notices.avatar_url);
    return ROOM_OK;
}

/* The user's notices room (malloc'd), made when needed; NULL with why. */
static char *room_for(const struct config *cfg, const char *sender, const char *user_id,
                      enum room_rc *rc, char *why, size_t n)
{
    char *room_id = NULL;
    struct dbc *c = db_get();
    int got = c ? db_notice_room_get(c, user_id, &room_id) : -1;
    db_put(c);
    if (got < 0) {
        *rc = ROOM_ERR;
        return NULL;
    }
    if (got && member_of(room_id, user_id, false))
        return room_id;
    free(room_id);
    room_id = NULL;
    json_t *req =
        json_pack("{s:s,s:s,s:[s],s:{s:i}}", "preset", "private_chat", "name",
                  cfg->server_notices.room_name ? cfg->server_notices.room_name : "Server Notices",
                  "invite", user_id, "power_level_content_override", "users_default", -10);
    if (cfg->server_notices.room_topic)
        json_object_set_new(req, "topic", json_string(cfg->server_notices.room_topic));
    *rc = room_create(sender, req, &room_id, why, n);
    json_decref(req);
    if (*rc != ROOM_OK)
        return NULL;
    json_t *order = json_object();
    if (userdata_tag_put(user_id, room_id, "m.server_notice", order, why, n) != ROOM_OK)
        log_warn("notices: could not tag %s for %s: %s", room_id, user_id, why);
    json_decref(order);
    if (cfg->server_notices.auto_join) {
        char *ev = NULL;
        if (room_membership(room_id, user_id, user_id, "join", NULL, NULL, &ev, why, n) != ROOM_OK)
            log_warn("notices: %s could not join %s: %s", user_id, room_id, why);
        free(ev);
    }
    c = db_get();
    if (!c || db_notice_room_set(c, user_id, room_id) < 0) {
        db_put(c);
        free(room_id);
        *rc = ROOM_ERR;
        return NULL;
    }
    db_put(c);
    return room_id;
}

bool notices_invite_pending(const char *room_id, const char *user_id)
{
    char *mine = NULL;
    struct dbc *c = db_get();
    int got = c ? db_notice_room_get(c, user_id, &mine) : -1;
    db_put(c);
    bool pending = got > 0 && strcmp(mine, room_id) == 0 && member_of(room_id, user_id, true);
    free(mine);
    return pending;
}

enum room_rc notices_send(const struct config *cfg, const char *user_id, const char *type,
                          const char *state_key, json_t *content, const struct room_txn *txn,
                          char **event_id, char *why, size_t n)
{
    *event_id = NULL;
    if (!cfg->server_notices.localpart) {
        snprintf(why, n, "Server notices are not enabled on this server");
        return ROOM_BAD_PARAM;
    }
    if (!ids_is_local(user_id)) {
        snprintf(why, n, "Server notices can only be sent to local users");
        return ROOM_BAD_PARAM;
    }
    int avail = account_available(user_id);
    if (avail < 0)
        return ROOM_ERR;
    if (avail) {
        snprintf(why, n, "User %s not found", user_id);
        return ROOM_NOT_FOUND;
    }
    char sender[300];
    if (snprintf(sender, sizeof sender, "@%s:%s", cfg->server_notices.localpart,
                 ids_local_server()) >= (int)sizeof sender)
        return ROOM_ERR;
    enum room_rc rc = ROOM_OK;
    pthread_mutex_lock(&mu);
    char *room_id = NULL;
    if ((rc = ensure_sender(cfg, sender)) == ROOM_OK)
        room_id = room_for(cfg, sender, user_id, &rc, why, n);
    pthread_mutex_unlock(&mu);
    if (!room_id)
        return rc == ROOM_OK ? ROOM_ERR : rc;
    rc = room_send(room_id, sender, type ? type : "m.room.message", state_key, content, txn,
                   event_id, why, n);
    free(room_id);
    return rc;
}
