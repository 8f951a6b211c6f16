/* roompurge.c - DELETE /_synapse/admin/v2/rooms/{roomId} (Synapse's docs/admin_api/rooms.md
 * "Delete Room API", version 2): the room is shut down and purged on a pool thread of its
 * own, never on an HTTP worker, and its progress is kept in memory for the status API.
 *
 * A deletion runs these steps, each recorded in its task:
 *   1. block the room when asked (first, so no local user joins again meanwhile);
 *   2. when new_room_user_id is given, that user creates a public room (the room_name, the
 *      users_default power -10 so the moved users cannot speak) and sends `message` there;
 *   3. every local member (joined, invited, knocking) leaves as themselves (as a client's leave,
 *      handed to the room's other servers), forgets the room and, when joined and a new room
 *      exists, joins it (kicked_users / failed_to_kick_users);
 *   4. local aliases move to the new room, or are deleted (local_aliases); the room leaves
 *      the public directory;
 *   5. when purge: unless force_purge, refused while a local user is still joined; then every
 *      row of the room goes in one transaction under its writer lock (storage/roomadmin.c).
 * Status: shutting_down (1-4), purging (5), complete, or failed with an error.
 *
 * Invariants: (1) at most one deletion of a room is queued or running (roompurge_start
 * refuses another); (2) tasks are kept 24 h after they end, at most TASKS_MAX in all; a task
 * is freed only when it has ended, under `mu`, and the worker owns its task's fields but the
 * status until then. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/adminrooms.h"
#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/workpool.h"
#include "storage/roomadmin.h"
#include "storage/rooms.h"

#define TASKS_MAX 1000
#define TASK_KEEP_MS (24 * 3600 * 1000LL)
#define LOCAL_MEMBERS_MAX 100000
#define DEFAULT_ROOM_NAME "Content Violation Notification"
#define DEFAULT_MESSAGE                                                                            \
    "Sharing illegal content on this server is not permitted and rooms in violation will be "      \
    "blocked."

enum task_status { T_QUEUED, T_SHUTTING_DOWN, T_PURGING, T_COMPLETE, T_FAILED };
static const char *const status_names[] = {"shutting_down", "shutting_down", "purging", "complete",
                                           "failed"};

struct task {
    char delete_id[25];
    char *room_id, *new_room_user_id, *room_name, *message, *requester;
    bool block, purge, force_purge;
    enum task_status status;
    char error[256];
    json_t *kicked, *failed, *aliases; /* arrays of strings */
    char *new_room_id;
    int64_t ended_ts; /* 0 while queued or running */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER; /* a task ended, or quiesce */
static bool quiescing;
static struct task *tasks[TASKS_MAX];
static size_t n_tasks;
static struct workpool pool = {.name = "roompurge", .threads = 1, .max_queued = 100};

static void task_free(struct task *t)
{
    if (!t)
        return;
    free(t->room_id);
    free(t->new_room_user_id);
    free(t->room_name);
    free(t->message);
    free(t->requester);
    free(t->new_room_id);
    json_decref(t->kicked);
    json_decref(t->failed);
    json_decref(t->aliases);
    free(t);
}

static void set_status(struct task *t, enum task_status s, const char *error)
{
    pthread_mutex_lock(&mu);
    t->status = s;
    if (error)
        snprintf(t->error, sizeof t->error, "%s", error);
    if (s == T_COMPLETE || s == T_FAILED) {
        t->ended_ts = clock_now_ms();
        pthread_cond_broadcast(&ended);
    }
    pthread_mutex_unlock(&mu);
}

/* Step 2: the room the members move to (malloc'd), NULL when it could not be made. */
static char *make_new_room(struct task *t)
{
    char why[256], *room_id = NULL, *ev = NULL;
    json_t *req = json_pack("{s:s,s:s,s:{s:i}}", "preset", "public_chat", "name",
                            t->room_name ? t->room_name : DEFAULT_ROOM_NAME,
                            "power_level_content_override", "users_default", -10);
    enum room_rc rc = room_create(t->new_room_user_id, req, &room_id, why, sizeof why);
    json_decref(req);
    if (rc != ROOM_OK) {
        log_warn("roompurge %s: the new room could not be made: %s", t->room_id, why);
        return NULL;
    }
    json_t *content = json_pack("{s:s,s:s}", "msgtype", "m.text", "body",
                                t->message ? t->message : DEFAULT_MESSAGE);
    if (room_send(room_id, t->new_room_user_id, "m.room.message", NULL, content, NULL, &ev, why,
                  sizeof why) != ROOM_OK)
        log_warn("roompurge %s: the message in %s failed: %s", t->room_id, room_id, why);
    json_decref(content);
    free(ev);
    return room_id;
}

/* Step 3 for one member. */
static void remove_member(struct task *t, const char *user, const char *membership)
{
    char why[256], *ev = NULL;
    struct room_remote_err err;
    /* as a client's leave: the other servers of the room hear of it (this is a pool thread:
     * it may wait on them) */
    enum room_rc rc = room_leave_remote(t->room_id, user, NULL, &ev, &err, why, sizeof why);
    free(ev);
    ev = NULL;
    pthread_mutex_lock(&mu);
    json_array_append_new(rc == ROOM_OK ? t->kicked : t->failed, json_string(user));
    pthread_mutex_unlock(&mu);
    if (rc != ROOM_OK) {
        log_warn("roompurge %s: %s could not leave: %s", t->room_id, user, why);
        return;
    }
    struct dbc *c = db_get();
    if (c)
        db_rooms_forget(c, t->room_id, user);
    db_put(c);
    if (t->new_room_id && strcmp(membership, "join") == 0 &&
        room_membership(t->new_room_id, user, user, "join", NULL, NULL, &ev, why, sizeof why) !=
            ROOM_OK)
        log_warn("roompurge %s: %s could not join %s: %s", t->room_id, user, t->new_room_id, why);
    free(ev);
}

/* Steps 1-4; 0, or -1 with the task failed. */
static int shut_down(struct task *t)
{
    char suffix[300];
    snprintf(suffix, sizeof suffix, ":%s", ids_local_server());
    struct dbc *c = db_get();
    if (!c)
        goto fail;
    if (t->block && db_blocked_room_set(c, t->room_id, true, t->requester, clock_now_ms()) < 0)
        goto fail;
    struct db_room r;
    int known = db_rooms_get(c, t->room_id, false, &r);
    if (known < 0)
        goto fail;
    if (known == 0) { /* nothing here: the block (if asked) is all there is to do */
        db_put(c);
        return 0;
    }
    db_room_clear(&r);
    json_t *members = db_admin_room_local_members(c, t->room_id, suffix);
    db_put(c);
    c = NULL;
    if (!members)
        goto fail;
    if (t->new_room_user_id) {
        char *nr = make_new_room(t);
        pthread_mutex_lock(&mu);
        t->new_room_id = nr;
        pthread_mutex_unlock(&mu);
    }
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        if (i >= LOCAL_MEMBERS_MAX)
            break;
        remove_member(t, json_string_value(json_array_get(m, 0)),
                      json_string_value(json_array_get(m, 1)));
    }
    json_decref(members);
    c = db_get();
    json_t *aliases = c ? db_aliases_of_room(c, t->room_id) : NULL;
    if (!aliases)
        goto fail;
    json_array_foreach(aliases, i, m)
    {
        const char *a = json_string_value(m);
        if (!ids_is_local(a))
            continue;
        pthread_mutex_lock(&mu);
        json_array_append(t->aliases, m);
        pthread_mutex_unlock(&mu);
        if (!t->new_room_id)
            db_aliases_delete(c, a);
    }
    json_decref(aliases);
    if ((t->new_room_id && db_aliases_move(c, t->room_id, t->new_room_id) < 0) ||
        db_rooms_set_public(c, t->room_id, false) < 0)
        goto fail;
    db_put(c);
    return 0;
fail:
    db_put(c);
    set_status(t, T_FAILED, "Internal error while shutting the room down");
    return -1;
}

/* Step 5; 0, or -1 with the task failed. */
static int purge(struct task *t)
{
    char suffix[300];
    snprintf(suffix, sizeof suffix, ":%s", ids_local_server());
    struct dbc *c = db_get();
    json_t *members = c ? db_admin_room_local_members(c, t->room_id, suffix) : NULL;
    int rc = -1;
    if (!members)
        goto out;
    size_t i;
    json_t *m;
    bool joined = false;
    json_array_foreach(members, i, m)
    {
        joined = joined || strcmp(json_string_value(json_array_get(m, 1)), "join") == 0;
    }
    json_decref(members);
    if (joined && !t->force_purge) {
        db_put(c);
        set_status(t, T_FAILED, "Users are still joined to this room");
        return -1;
    }
    set_status(t, T_PURGING, NULL);
    rc = db_room_purge(c, t->room_id) < 0 ? -1 : 0;
out:
    db_put(c);
    if (rc < 0)
        set_status(t, T_FAILED, "Internal error while purging the room");
    return rc;
}

static void work(void *arg, bool cancelled)
{
    struct task *t = arg;
    if (cancelled) {
        set_status(t, T_FAILED, "The server stopped before the deletion ran");
        return;
    }
    set_status(t, T_SHUTTING_DOWN, NULL);
    log_info("roompurge %s: deletion %s by %s started (block %d, purge %d)", t->room_id,
             t->delete_id, t->requester, t->block, t->purge);
    if (shut_down(t) < 0 || (t->purge && purge(t) < 0)) {
        log_warn("roompurge %s: deletion %s failed: %s", t->room_id, t->delete_id, t->error);
        return;
    }
    set_status(t, T_COMPLETE, NULL);
    log_info("roompurge %s: deletion %s complete", t->room_id, t->delete_id);
}

int roompurge_init(const struct config *cfg)
{
    (void)cfg;
    pthread_mutex_lock(&mu);
    quiescing = false;
    pthread_mutex_unlock(&mu);
    return workpool_start(&pool);
}

void roompurge_quiesce(void)
{
    pthread_mutex_lock(&mu);
    quiescing = true;
    pthread_cond_broadcast(&ended);
    pthread_mutex_unlock(&mu);
}

void roompurge_shutdown(void)
{
    workpool_stop(&pool);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_tasks; i++)
        task_free(tasks[i]);
    n_tasks = 0;
    pthread_mutex_unlock(&mu);
}

/* Drop tasks that ended over 24 h ago; with mu held. */
static void expire(int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < n_tasks; i++) {
        if (tasks[i]->ended_ts && now - tasks[i]->ended_ts > TASK_KEEP_MS)
            task_free(tasks[i]);
        else
            tasks[k++] = tasks[i];
    }
    n_tasks = k;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

enum room_rc roompurge_start(const char *room_id, const struct roompurge_params *p,
                             char **delete_id, char *why, size_t n)
{
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return ROOM_ERR;
    ids_random_alnum(t->delete_id, 16);
    t->room_id = strdup(room_id);
    t->new_room_user_id = dup_or_null(p->new_room_user_id);
    t->room_name = dup_or_null(p->room_name);
    t->message = dup_or_null(p->message);
    t->requester = dup_or_null(p->requester);
    t->block = p->block;
    t->purge = p->purge;
    t->force_purge = p->force_purge;
    t->kicked = json_array();
    t->failed = json_array();
    t->aliases = json_array();
    enum room_rc rc = ROOM_ERR;
    pthread_mutex_lock(&mu);
    expire(clock_now_ms());
    for (size_t i = 0; i < n_tasks; i++)
        if (!tasks[i]->ended_ts && strcmp(tasks[i]->room_id, room_id) == 0) {
            snprintf(why, n, "History purge already in progress for %s", room_id);
            rc = ROOM_IN_USE;
            goto out;
        }
    if (n_tasks == TASKS_MAX) {
        /* make room by dropping the oldest ended task */
        size_t k = 0;
        while (k < n_tasks && !tasks[k]->ended_ts)
            k++;
        if (k == n_tasks) {
            snprintf(why, n, "Too many room deletions at once");
            goto out;
        }
        task_free(tasks[k]);
        memmove(&tasks[k], &tasks[k + 1], (n_tasks - k - 1) * sizeof tasks[0]);
        n_tasks--;
    }
    if (!t->room_id || !t->kicked || !t->failed || !t->aliases)
        goto out;
    tasks[n_tasks++] = t;
    if (workpool_submit(&pool, work, t) < 0) {
        n_tasks--;
        snprintf(why, n, "Too many room deletions queued");
        goto out;
    }
    *delete_id = strdup(t->delete_id);
    pthread_mutex_unlock(&mu);
    return ROOM_OK;
out:
    pthread_mutex_unlock(&mu);
    task_free(t);
    return rc;
}

/* The status object of t (new), with mu held. */
static json_t *task_json(const struct task *t)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:{s:O,s:O,s:O,s:s?}}", "delete_id", t->delete_id,
                          "room_id", t->room_id, "status", status_names[t->status], "shutdown_room",
                          "kicked_users", t->kicked, "failed_to_kick_users", t->failed,
                          "local_aliases", t->aliases, "new_room_id", t->new_room_id);
    json_t *sr = json_object_get(o, "shutdown_room");
    if (!t->new_room_id)
        json_object_set_new(sr, "new_room_id", json_null());
    if (t->status == T_FAILED)
        json_object_set_new(o, "error", json_string(t->error));
    /* copies, so that the worker may go on appending */
    json_object_set_new(sr, "kicked_users", json_deep_copy(t->kicked));
    json_object_set_new(sr, "failed_to_kick_users", json_deep_copy(t->failed));
    json_object_set_new(sr, "local_aliases", json_deep_copy(t->aliases));
    return o;
}

enum room_rc roompurge_status_room(const char *room_id, json_t **out)
{
    json_t *results = json_array();
    pthread_mutex_lock(&mu);
    expire(clock_now_ms());
    for (size_t i = 0; i < n_tasks; i++)
        if (strcmp(tasks[i]->room_id, room_id) == 0)
            json_array_append_new(results, task_json(tasks[i]));
    pthread_mutex_unlock(&mu);
    if (!json_array_size(results)) {
        json_decref(results);
        return ROOM_NOT_FOUND;
    }
    *out = json_pack("{s:o}", "results", results);
    return ROOM_OK;
}

enum room_rc roompurge_wait(const char *delete_id, int64_t timeout_ms, json_t **out)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    enum room_rc rc = ROOM_ERR;
    pthread_mutex_lock(&mu);
    for (;;) {
        struct task *t = NULL;
        for (size_t i = 0; i < n_tasks && !t; i++)
            if (strcmp(tasks[i]->delete_id, delete_id) == 0)
                t = tasks[i];
        if (!t) {
            rc = ROOM_NOT_FOUND;
            break;
        }
        if (t->ended_ts) {
            *out = task_json(t);
            rc = ROOM_OK;
            break;
        }
        if (quiescing || pthread_cond_timedwait(&ended, &mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

enum room_rc roompurge_status_id(const char *delete_id, json_t **out)
{
    enum room_rc rc = ROOM_NOT_FOUND;
    pthread_mutex_lock(&mu);
    expire(clock_now_ms());
    for (size_t i = 0; i < n_tasks; i++)
        if (strcmp(tasks[i]->delete_id, delete_id) == 0) {
            *out = task_json(tasks[i]);
            rc = ROOM_OK;
            break;
        }
    pthread_mutex_unlock(&mu);
    return rc;
}
