/* roomfed.c - Client-Server calls whose answer waits on other servers (joins, knocks and
 * leaves through them, invites of their users, alias lookups, createRoom with such invites,
 * /messages that backfills from them).
 *
 * The HTTP workers are an epoll pool: a handler that blocks holds every connection of its
 * thread, including the other server's own requests back to us while it answers (its key
 * fetch, say), which would then wait for our timeout. So these calls run parked
 * (api_run_parked, api/parked.c) on a thread of their own. Everything the thread reads is
 * copied into its job first: the request may end before the job does. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/room.h"

enum kind { K_JOIN, K_LEAVE, K_INVITE, K_CREATE, K_ALIAS, K_MESSAGES };

/* One call: its input (copies), its outcome. Freed by the job (job_free). */
struct job {
    enum kind kind;
    char *target, *user, *m, *reason; /* target: room ID or alias (K_JOIN), room ID else */
    char *invitee;                    /* K_INVITE */
    json_t *servers, *body;           /* via/server_name (K_JOIN; K_ALIAS: the answer),
                                         createRoom body (K_CREATE), the RoomEventFilter
                                         (K_MESSAGES) */
    char *from;                       /* K_MESSAGES: the token, may be NULL */
    int limit;                        /* K_MESSAGES */
    json_t *out;                      /* K_MESSAGES: the page */
    bool reply_room;
    /* outcome */
    enum room_rc rc;
    struct room_remote_err err;
    char why[512];
    char *room_id; /* the room answered */
    bool alias_missing;
};

static void job_free(void *p)
{
    struct job *j = p;
    if (!j)
        return;
    free(j->target);
    free(j->user);
    free(j->m);
    free(j->reason);
    free(j->invitee);
    free(j->room_id);
    free(j->from);
    json_decref(j->out);
    json_decref(j->servers);
    json_decref(j->body);
    free(j);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void run_join(struct job *j)
{
    char *id = NULL;
    const char *room = j->target;
    if (j->target[0] == '#') {
        json_t *servers = NULL;
        j->rc = ids_is_local(j->target)
                    ? room_alias_get(j->target, &j->room_id)
                    : room_alias_remote(j->target, &j->room_id, &servers, j->why, sizeof j->why);
        if (j->rc != ROOM_OK) {
            j->alias_missing = j->rc == ROOM_NOT_FOUND;
            return;
        }
        json_decref(j->servers);
        j->servers = servers;
        room = j->room_id;
    } else {
        j->room_id = strdup(j->target);
    }
    j->rc = room_join_remote(room, j->user, j->m, j->reason, j->servers, &id, &j->err, j->why,
                             sizeof j->why);
    free(id);
}

static void run_leave(struct job *j)
{
    char *id = NULL;
    j->room_id = strdup(j->target);
    j->rc = room_leave_remote(j->target, j->user, j->reason, &id, &j->err, j->why, sizeof j->why);
    free(id);
}

static void run_invite(struct job *j)
{
    char *id = NULL;
    j->room_id = strdup(j->target);
    j->rc = room_invite_remote(j->target, j->user, j->invitee, j->reason, NULL, &id, &j->err,
                               j->why, sizeof j->why);
    free(id);
}

static void run_create(struct job *j)
{
    j->rc = room_create(j->user, j->body, &j->room_id, j->why, sizeof j->why);
}

static void run_messages(struct job *j)
{
    room_backfill(j->target, j->limit < 20 ? 20 : j->limit);
    j->rc = room_messages(j->target, j->user, j->from, NULL, 'b', j->limit, j->body, &j->out,
                          j->why, sizeof j->why);
}

static void run_alias(struct job *j)
{
    j->rc = room_alias_remote(j->target, &j->room_id, &j->servers, j->why, sizeof j->why);
    j->alias_missing = j->rc == ROOM_NOT_FOUND;
}

/* kind -> what runs it (columns: kind, function) */
static const struct {
    enum kind kind;
    void (*run)(struct job *j);
} runners[] = {
    {K_JOIN, run_join},
    {K_LEAVE, run_leave},
    {K_INVITE, run_invite},
    {K_CREATE, run_create},
    {K_ALIAS, run_alias},
    {K_MESSAGES, run_messages},
};

static void job_run(void *arg)
{
    struct job *j = arg;
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++) {
        if (runners[i].kind == j->kind)
            runners[i].run(j);
    }
}

/* Answer from the outcome: the other server's error passes through (Server-Server API:
 * "passed through to clients"). */
static void job_finish(struct http_req *req, void *arg)
{
    struct job *j = arg;
    if (j->kind == K_MESSAGES) {
        api_reply_room(req, j->rc, j->out, j->why);
        j->out = NULL;
    } else if (j->alias_missing) {
        http_reply_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", j->target);
    } else if (j->rc != ROOM_OK && j->err.status) {
        http_reply_error(req, j->err.status, j->err.errcode, "%s", j->why);
    } else if (j->rc != ROOM_OK) {
        api_reply_room_error(req, j->rc, j->why);
    } else if (j->kind == K_ALIAS) {
        http_reply_json(req, 200,
                        json_pack("{s:s,s:O}", "room_id", j->room_id, "servers", j->servers));
    } else if (j->reply_room) {
        http_reply_json(req, 200, json_pack("{s:s}", "room_id", j->room_id));
    } else {
        http_reply_json(req, 200, json_object());
    }
}

/* Park req and run the job. Takes j. */
static void park(struct http_req *req, struct job *j)
{
    if (!j->user || !j->target || (j->kind == K_INVITE && !j->invitee)) {
        job_free(j);
        http_reply_internal(req);
        return;
    }
    api_run_parked(req, job_run, job_finish, job_free, j);
}

static struct job *job_new(struct http_req *req, enum kind kind, const char *target,
                           const char *reason)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->target = dup_or_null(target);
    j->user = dup_or_null(http_user(req)->user_id);
    j->reason = dup_or_null(reason);
    return j;
}

void api_remote_join(struct http_req *req, const char *target, const char *m, const char *reason,
                     json_t *servers)
{
    struct job *j = job_new(req, K_JOIN, target, reason);
    if (!j) {
        json_decref(servers);
        http_reply_internal(req);
        return;
    }
    j->m = strdup(m);
    j->servers = servers;
    j->reply_room = true;
    park(req, j);
}

void api_remote_leave(struct http_req *req, const char *room_id, const char *reason)
{
    struct job *j = job_new(req, K_LEAVE, room_id, reason);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    park(req, j);
}

void api_remote_invite(struct http_req *req, const char *room_id, const char *invitee,
                       const char *reason)
{
    struct job *j = job_new(req, K_INVITE, room_id, reason);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    j->invitee = dup_or_null(invitee);
    park(req, j);
}

void api_remote_create(struct http_req *req, json_t *body)
{
    struct job *j = job_new(req, K_CREATE, "", NULL);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    j->body = json_deep_copy(body);
    j->reply_room = true;
    park(req, j);
}

void api_remote_messages(struct http_req *req, const char *room_id, const char *from, int limit,
                         json_t *filter)
{
    struct job *j = job_new(req, K_MESSAGES, room_id, NULL);
    if (!j) {
        json_decref(filter);
        http_reply_internal(req);
        return;
    }
    j->from = dup_or_null(from);
    j->limit = limit;
    j->body = filter;
    park(req, j);
}

void api_remote_alias(struct http_req *req, const char *alias)
{
    struct job *j = job_new(req, K_ALIAS, alias, NULL);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    park(req, j);
}
