/* audit.c - the admin audit log. Every state-changing admin request is recorded when it ends:
 * who (the admin's user ID, or none for the unauthenticated shared-secret registration), what
 * (method, path with its secret segments masked as the access log masks them, the user, room
 * or event the path names, the status answered), when and from where (the client address, as
 * the listener's x_forwarded allows). It goes to the admin_audit_log table and, when
 * `audit_log_path` is set, as one JSON object per line to that file.
 *
 * Invariants:
 *  1. The hook sits at the HTTP front (http_set_end_observer), so admin endpoints added by
 *     anyone are covered without their handlers doing anything.
 *  2. No secret reaches the log: no body, no query string (access_token may be there), and
 *     path segments after registration_tokens are masked (server/accesslog.c).
 *  3. Lines are written with one write(2) on an O_APPEND descriptor: concurrent requests never
 *     interleave within a line. */
#include "server/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/accesslog.h"
#include "server/clock.h"
#include "server/log.h"
#include "storage/useradmin.h"

static int audit_fd = -1;

/* path prefixes of the admin APIs */
static const char *const admin_prefixes[] = {
    "/_synapse/admin/",
    "/_matrix/client/v1/admin/",
};

int audit_init(const struct config *cfg)
{
    if (!cfg->audit_log_path)
        return 0;
    audit_fd = open(cfg->audit_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (audit_fd < 0) {
        log_error("audit_log_path %s: %s", cfg->audit_log_path, strerror(errno));
        return -1;
    }
    return 0;
}

void audit_shutdown(void)
{
    if (audit_fd >= 0)
        close(audit_fd);
    audit_fd = -1;
}

bool audit_applies(const char *method, const char *path)
{
    if (!method || !path || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
        strcmp(method, "OPTIONS") == 0)
        return false;
    for (size_t i = 0; i < sizeof admin_prefixes / sizeof admin_prefixes[0]; i++)
        if (strncmp(path, admin_prefixes[i], strlen(admin_prefixes[i])) == 0)
            return true;
    return false;
}

/* The first path segment naming a user, room, alias or event (decoded; request memory), or
 * NULL. Segments after registration_tokens are secrets and never targets. */
static const char *target_of(struct http_req *req, const char *path)
{
    bool secret = false;
    for (const char *seg = path; *seg;) {
        size_t n = strcspn(seg, "/");
        if (n && !secret) {
            char *dec = http_pct_decode(seg, n);
            if (dec && strchr("@!#$", dec[0]) && dec[0]) {
                const char *t = http_strdup(req, dec);
                free(dec);
                return t;
            }
            free(dec);
        }
        secret = n == 19 && memcmp(seg, "registration_tokens", 19) == 0;
        seg += n;
        if (*seg == '/')
            seg++;
    }
    return NULL;
}

void audit_request_ended(struct http_req *req, int status)
{
    const char *method = http_method(req), *raw = http_path(req);
    if (!audit_applies(method, raw))
        return;
    const struct http_user *u = http_user(req);
    const char *who = u ? u->user_id : NULL;
    const char *ip = http_client_ip(req);
    struct accesslog *masked = http_alloc(req, sizeof *masked);
    if (!masked)
        return;
    accesslog_path(masked, raw);
    const char *target = target_of(req, raw);
    int64_t now = clock_now_ms();

    struct dbc *c = db_get();
    if (!c || db_audit_insert(c, now, who, method, masked->buf, target, status, ip ? ip : "-") < 0)
        log_error("admin audit log: could not record %s %s by %s", method, masked->buf,
                  who ? who : "-");
    db_put(c);

    if (audit_fd < 0)
        return;
    json_t *line = json_pack("{s:I,s:s?,s:s,s:s,s:s?,s:i,s:s}", "ts", (json_int_t)now, "admin", who,
                             "method", method, "path", masked->buf, "target", target, "status",
                             status, "client_ip", ip ? ip : "-");
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(line);
    if (!text)
        return;
    size_t len = strlen(text);
    char *buf = http_alloc(req, len + 2);
    if (buf) {
        memcpy(buf, text, len);
        buf[len] = '\n';
        if (write(audit_fd, buf, len + 1) != (ssize_t)(len + 1))
            log_error("admin audit log file: %s", strerror(errno));
    }
    free(text);
}
