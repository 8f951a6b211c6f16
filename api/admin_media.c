/* admin_media.c - Synapse's media admin API (docs/admin_api/media_admin_api.md, "User media"
 * in user_admin_api.md), for server admins only: a user's media listed and deleted, a room's
 * media, quarantine by ID, room and user, protection, deletion by ID and by age, media info.
 * Deletions touch many files: they run parked, off the HTTP threads. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/ids.h"
#include "server/media_admin.h"

static void reply(struct http_req *req, int rc, json_t *out, const struct media_error *err)
{
    if (rc < 0)
        http_reply_failure(req, err->status, err->errcode, err->why);
    else
        http_reply_json(req, 200, out);
}

/* A deletion run parked (request memory is not used: the job copies what it needs). */
struct del_job {
    enum { DEL_USER, DEL_OLDER } kind;
    char *user_id, *order_by, *dir;
    int64_t limit, before_ts, size_gt;
    bool keep_profiles;
    int rc;
    json_t *out;
    struct media_error err;
};

static void del_run(void *arg)
{
    struct del_job *j = arg;
    if (j->kind == DEL_USER)
        j->rc =
            media_admin_user_delete(j->user_id, j->limit, j->order_by, j->dir, &j->out, &j->err);
    else
        j->rc =
            media_admin_delete_older(j->before_ts, j->size_gt, j->keep_profiles, &j->out, &j->err);
}

static void del_finish(struct http_req *req, void *arg)
{
    struct del_job *j = arg;
    reply(req, j->rc, j->out, &j->err);
    j->out = NULL;
}

static void del_free(void *arg)
{
    struct del_job *j = arg;
    free(j->user_id);
    free(j->order_by);
    free(j->dir);
    json_decref(j->out);
    free(j);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void api_admin_user_media(struct http_req *req)
{
    int64_t from, limit;
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req) || api_admin_paging(req, &from, &limit) < 0)
        return;
    int rc = media_admin_user_list(http_param(req, 0), from, limit, http_query(req, "order_by"),
                                   http_query(req, "dir"), &out, &err);
    reply(req, rc, out, &err);
}

void api_admin_user_media_delete(struct http_req *req)
{
    int64_t from, limit;
    if (!api_admin_only(req) || api_admin_paging(req, &from, &limit) < 0)
        return;
    struct del_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    j->kind = DEL_USER;
    j->user_id = strdup(http_param(req, 0));
    j->order_by = dup_or_null(http_query(req, "order_by"));
    j->dir = dup_or_null(http_query(req, "dir"));
    j->limit = limit;
    api_run_parked(req, del_run, del_finish, del_free, j);
}

/* A query parameter holding a non-negative integer, required or with a default. 0 or -1
 * (answered). */
static int query_int(struct http_req *req, const char *name, bool required, int64_t dflt,
                     int64_t *out)
{
    const char *s = http_query(req, name);
    *out = dflt;
    if (!s) {
        if (required)
            http_reply_error(req, 400, "M_MISSING_PARAM", "Missing integer query parameter %s",
                             name);
        return required ? -1 : 0;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "Query parameter %s must be a positive integer.", name);
        return -1;
    }
    *out = v;
    return 0;
}

void api_admin_media_delete_older(struct http_req *req)
{
    int64_t before, size_gt;
    if (!api_admin_only(req) || query_int(req, "before_ts", true, 0, &before) < 0 ||
        query_int(req, "size_gt", false, 0, &size_gt) < 0)
        return;
    const char *kp = http_query(req, "keep_profiles");
    if (kp && strcmp(kp, "true") && strcmp(kp, "false")) {
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "Boolean query parameter keep_profiles must be one of ['true', "
                         "'false']");
        return;
    }
    if (before < 30000) { /* Synapse's guard against seconds given for milliseconds */
        http_reply_error(req, 400, "M_INVALID_PARAM",
                         "Query parameter before_ts you provided is from the year 1970. Double "
                         "check that you are providing a timestamp in milliseconds.");
        return;
    }
    struct del_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_reply_internal(req);
        return;
    }
    j->kind = DEL_OLDER;
    j->before_ts = before;
    j->size_gt = size_gt;
    j->keep_profiles = !kp || strcmp(kp, "true") == 0;
    api_run_parked(req, del_run, del_finish, del_free, j);
}

/* POST /_synapse/admin/v1/media/{serverName}/delete: the same, for this server only. */
void api_admin_media_delete_older_at(struct http_req *req)
{
    if (!api_admin_only(req))
        return;
    if (!ids_is_local_server(http_param(req, 0))) {
        http_reply_error(req, 400, "M_INVALID_PARAM", "Can only delete local media");
        return;
    }
    api_admin_media_delete_older(req);
}

void api_admin_room_media(struct http_req *req)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_room_list(http_param(req, 0), &out, &err); /* before `out` is read */
    reply(req, rc, out, &err);
}

static void quarantine(struct http_req *req, bool on)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_quarantine(http_param(req, 0), http_param(req, 1), on,
                                    http_user(req)->user_id, &out, &err);
    reply(req, rc, out, &err);
}

void api_admin_media_quarantine(struct http_req *req)
{
    quarantine(req, true);
}

void api_admin_media_unquarantine(struct http_req *req)
{
    quarantine(req, false);
}

void api_admin_room_media_quarantine(struct http_req *req)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_quarantine_room(http_param(req, 0), http_user(req)->user_id, &out, &err);
    reply(req, rc, out, &err);
}

void api_admin_user_media_quarantine(struct http_req *req)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_quarantine_user(http_param(req, 0), http_user(req)->user_id, &out, &err);
    reply(req, rc, out, &err);
}

static void protect(struct http_req *req, bool on)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_protect(http_param(req, 0), on, &out, &err);
    reply(req, rc, out, &err);
}

void api_admin_media_protect(struct http_req *req)
{
    protect(req, true);
}

void api_admin_media_unprotect(struct http_req *req)
{
    protect(req, false);
}

void api_admin_media_delete(struct http_req *req)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_delete(http_param(req, 0), http_param(req, 1), &out, &err);
    reply(req, rc, out, &err);
}

void api_admin_media_info(struct http_req *req)
{
    json_t *out = NULL;
    struct media_error err = {0};
    if (!api_admin_only(req))
        return;
    int rc = media_admin_info(http_param(req, 0), http_param(req, 1), &out, &err);
    reply(req, rc, out, &err);
}
