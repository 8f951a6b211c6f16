/* media.c - GET /_matrix/federation/v1/media/download/{mediaId} and /thumbnail/{mediaId}
 * (Server-Server API "Content Repository", v1.11): this server's media for other servers as
 * multipart/mixed (a JSON part, then the media), X-Matrix authenticated by the route rows.
 * Only media uploaded here is served; a thumbnail that must be made parks the request, as the
 * client API does. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "federation/federation.h"
#include "server/httpjob.h"
#include "server/ids.h"
#include "server/media.h"

static void reply_err(struct http_req *req, const struct media_error *e)
{
    http_reply_failure(req, e->status, e->errcode, e->why);
}

/* Wrap and send; the reply takes buf or fd. */
static void reply_multipart(struct http_req *req, struct media_out *o)
{
    if (media_multipart_wrap(o) < 0) {
        if (o->fd >= 0)
            close(o->fd);
        free(o->buf);
        http_reply_internal(req);
        return;
    }
    http_reply_bytes(req, 200, o->buf, -1, o->len, o->content_type, NULL);
}

void federation_media_download(struct http_req *req)
{
    struct media_out out;
    struct media_error err = {0};
    if (media_fed_download(http_param(req, 0), &out, &err) < 0)
        reply_err(req, &err);
    else
        http_reply_bytes(req, 200, out.buf, -1, out.len, out.content_type, NULL);
}

static void thumb_finish(struct http_req *req, void *arg, void *result)
{
    struct media_thumb_result *r = result;
    if (!r) {
        http_reply_internal(req);
    } else if (r->rc < 0) {
        reply_err(req, &r->err);
    } else {
        reply_multipart(req, &r->out); /* takes buf or fd */
        r->out.buf = NULL;
        r->out.fd = -1;
    }
}

void federation_media_thumbnail(struct http_req *req)
{
    int w, h;
    const char *method;
    struct media_out out;
    struct media_error err = {0};
    if (media_thumb_query(http_query(req, "width"), http_query(req, "height"),
                          http_query(req, "method"), &w, &h, &method, &err) < 0) {
        reply_err(req, &err);
        return;
    }
    struct media_thumb *t = http_alloc(req, sizeof *t);
    const char *who = http_printf(req, "server:%s", http_origin(req));
    if (!t || !who) {
        http_reply_internal(req);
        return;
    }
    int rc = media_thumbnail_find(ids_local_server(), http_param(req, 0), w, h, method, who, &out,
                                  t, &err);
    if (rc < 0)
        reply_err(req, &err);
    else if (rc == 0)
        reply_multipart(req, &out);
    else
        http_job_park(req, media_thumbnail_job, thumb_finish, t);
}
