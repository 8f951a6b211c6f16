/* avscan.c - virus scanning of media with clamd's INSTREAM command (config media_scanner).
 *
 * The file is sent to clamd over a Unix socket (clamd_socket) or TCP (clamd_host,
 * clamd_port) as clamd documents INSTREAM: "zINSTREAM\0", then chunks each preceded by its
 * length as 4 bytes in network order, then a zero length; clamd answers "stream: OK\0" or
 * "stream: <signature> FOUND\0" (anything else, e.g. "INSTREAM size limit exceeded. ERROR",
 * is no verdict). This replaces the matrix-content-scanner proxy agencies put in front of
 * Synapse.
 *
 * Invariants:
 *  1. One deadline (media_scanner.timeout) bounds the whole exchange: every socket operation
 *     is non-blocking and waits in poll() for what is left of it. A hung clamd costs a thread
 *     at most that long.
 *  2. No verdict is never "clean": it is AVSCAN_UNSCANNED unless on_error is allow.
 *  3. Log lines name the user (or origin server), the media ID and the signature, never file
 *     content or file names. */
#include "server/avscan.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/workpool.h"

#define CHUNK 65536
#define REPLY_MAX 512
#define AVSCAN_THREADS 4 /* scans at once (clamd has its own MaxThreads) */
#define AVSCAN_QUEUE 64  /* waiting beyond this: no verdict */

static const struct config *cfg;
static struct workpool pool = {
    .name = "avscan", .threads = AVSCAN_THREADS, .max_queued = AVSCAN_QUEUE};

int avscan_init(const struct config *c)
{
    cfg = c;
    if (c->media_scanner.enabled && workpool_start(&pool) < 0) {
        log_error("media scan: cannot start the scan threads");
        return -1;
    }
    return 0;
}

void avscan_quiesce(void)
{
    workpool_stop(&pool);
}

int avscan_enabled(void)
{
    return cfg && cfg->media_scanner.enabled;
}

/* Wait until fd is ready for `events` or the deadline passes. 0 ready, -1 timeout/error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        return 0;
    }
}

static int connect_one(int family, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* A connection to clamd, or -1 with why filled. */
static int clamd_connect(int64_t deadline, char *why, size_t whylen)
{
    const char *sock = cfg ? cfg->media_scanner.clamd_socket : NULL;
    if (sock) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(sock) >= sizeof un.sun_path) {
            snprintf(why, whylen, "clamd_socket path too long");
            return -1;
        }
        memcpy(un.sun_path, sock, strlen(sock) + 1);
        int fd = connect_one(AF_UNIX, (struct sockaddr *)&un, sizeof un, deadline);
        if (fd < 0)
            snprintf(why, whylen, "cannot connect to clamd at %s: %s", sock, strerror(errno));
        return fd;
    }
    const char *host =
        cfg && cfg->media_scanner.clamd_host ? cfg->media_scanner.clamd_host : "127.0.0.1";
    char port[16];
    snprintf(port, sizeof port, "%d", cfg ? cfg->media_scanner.clamd_port : 3310);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve clamd_host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, whylen, "cannot connect to clamd at %s:%s", host, port);
    return fd;
}

static int send_all(int fd, const void *buf, size_t n, int64_t deadline)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Read clamd's answer (up to NUL, newline or EOF) into buf. Returns its length, or -1. */
static ssize_t read_reply(int fd, char *buf, size_t cap, int64_t deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r > 0) {
            n += (size_t)r;
            if (memchr(buf, '\0', n) || memchr(buf, '\n', n))
                break;
        } else if (r == 0) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) < 0)
                return -1;
        } else {
            return n ? (ssize_t)n : -1;
        }
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return (ssize_t)strlen(buf);
}

/* What clamd answered: 0 OK, 1 FOUND (signature into sig), -1 anything else. */
static int parse_reply(const char *reply, char *sig, size_t siglen)
{
    static const char pre[] = "stream: ", found[] = " FOUND";
    if (strncmp(reply, pre, sizeof pre - 1) != 0)
        return -1;
    const char *rest = reply + sizeof pre - 1;
    if (strcmp(rest, "OK") == 0)
        return 0;
    size_t n = strlen(rest);
    if (n > sizeof found - 1 && strcmp(rest + n - (sizeof found - 1), found) == 0) {
        size_t sl = n - (sizeof found - 1);
        if (sig && siglen) {
            if (sl >= siglen)
                sl = siglen - 1;
            /* printable ASCII only: the name goes into the log */
            for (size_t i = 0; i < sl; i++)
                sig[i] = (rest[i] >= 0x20 && rest[i] < 0x7f) ? rest[i] : '?';
            sig[sl] = '\0';
        }
        return 1;
    }
    return -1;
}

int avscan_file(const char *path, char *sig, size_t siglen, char *why, size_t whylen)
{
    int64_t timeout = cfg ? cfg->media_scanner.timeout_ms : 30000;
    int64_t deadline = clock_mono_ms() + timeout;
    int64_t max = cfg ? cfg->media_scanner.max_scan_size : INT64_MAX;
    int ffd = -1, cfd = -1, rc = -1;
    char *buf = NULL;
    if (sig && siglen)
        sig[0] = '\0';
    ffd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (ffd < 0 || fstat(ffd, &st) < 0) {
        snprintf(why, whylen, "cannot open the file: %s", strerror(errno));
        goto out;
    }
    if (st.st_size > max) {
        snprintf(why, whylen, "%lld bytes, over max_scan_size (%lld)", (long long)st.st_size,
                 (long long)max);
        goto out;
    }
    buf = malloc(4 + CHUNK);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    cfd = clamd_connect(deadline, why, whylen);
    if (cfd < 0)
        goto out;
    static const char cmd[] = "zINSTREAM"; /* sent with its NUL */
    if (send_all(cfd, cmd, sizeof cmd, deadline) < 0)
        goto sendfail;
    for (;;) {
        ssize_t r = read(ffd, buf + 4, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "cannot read the file: %s", strerror(errno));
            goto out;
        }
        uint32_t n = (uint32_t)r;
        buf[0] = (char)(n >> 24);
        buf[1] = (char)(n >> 16);
        buf[2] = (char)(n >> 8);
        buf[3] = (char)n;
        /* clamd may stop reading early (its StreamMaxLength) and still answer: read that */
        if (send_all(cfd, buf, 4 + (size_t)n, deadline) < 0)
            break;
        if (r == 0)
            break; /* the zero-length terminator has been sent */
    }
    char reply[REPLY_MAX];
    if (read_reply(cfd, reply, sizeof reply, deadline) <= 0)
        goto sendfail;
    rc = parse_reply(reply, sig, siglen);
    if (rc < 0) {
        for (char *p = reply; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        snprintf(why, whylen, "clamd answered \"%.200s\"", reply);
    }
    goto out;
sendfail:
    snprintf(why, whylen,
             clock_mono_ms() >= deadline ? "clamd gave no verdict in time"
                                         : "clamd closed the connection");
out:
    free(buf);
    if (cfd >= 0)
        close(cfd);
    if (ffd >= 0)
        close(ffd);
    return rc;
}

enum avscan_verdict avscan_check(const char *path, const char *who, const char *media_id, char *sig,
                                 size_t siglen)
{
    if (!avscan_enabled())
        return AVSCAN_ACCEPT;
    char name[256], why[300] = "";
    int64_t t0 = clock_mono_ms();
    int rc = avscan_file(path, name, sizeof name, why, sizeof why);
    metrics_add(METRICS_MEDIA_SCANNED, 1);
    if (rc != 0)
        metrics_add(rc == 1 ? METRICS_MEDIA_INFECTED : METRICS_MEDIA_UNSCANNED, 1);
    if (sig && siglen)
        snprintf(sig, siglen, "%s", rc == 1 ? name : "");
    if (rc == 0)
        return AVSCAN_ACCEPT;
    if (rc == 1) {
        log_warn("media scan: refused media %s from %s: infected (%s)", media_id ? media_id : "-",
                 who ? who : "-", name);
        return AVSCAN_INFECTED;
    }
    bool allow = cfg->media_scanner.on_error && strcmp(cfg->media_scanner.on_error, "allow") == 0;
    log_error("media scan: media %s from %s not scanned after %lld ms: %s; %s",
              media_id ? media_id : "-", who ? who : "-", (long long)(clock_mono_ms() - t0), why,
              allow ? "accepted (on_error: allow)" : "refused (on_error: refuse)");
    return allow ? AVSCAN_ACCEPT : AVSCAN_UNSCANNED;
}

struct async_scan {
    char *path, *who, *media_id;
    avscan_done_fn done;
    void *arg;
};

static void async_free(struct async_scan *a)
{
    free(a->path);
    free(a->who);
    free(a->media_id);
    free(a);
}

/* No verdict without asking clamd (queue full, stopping): as avscan_check decides then. */
static enum avscan_verdict no_verdict(const char *who, const char *media_id, const char *why)
{
    bool allow = cfg->media_scanner.on_error && strcmp(cfg->media_scanner.on_error, "allow") == 0;
    metrics_add(METRICS_MEDIA_UNSCANNED, 1);
    log_error("media scan: media %s from %s not scanned: %s; %s", media_id ? media_id : "-",
              who ? who : "-", why, allow ? "accepted (on_error: allow)" : "refused");
    return allow ? AVSCAN_ACCEPT : AVSCAN_UNSCANNED;
}

static void async_work(void *arg, bool cancelled)
{
    struct async_scan *a = arg;
    enum avscan_verdict v = cancelled ? no_verdict(a->who, a->media_id, "the server is stopping")
                                      : avscan_check(a->path, a->who, a->media_id, NULL, 0);
    a->done(a->arg, v);
    async_free(a);
}

void avscan_check_async(const char *path, const char *who, const char *media_id,
                        avscan_done_fn done, void *arg)
{
    if (!avscan_enabled()) {
        done(arg, AVSCAN_ACCEPT);
        return;
    }
    struct async_scan *a = calloc(1, sizeof *a);
    if (a) {
        a->path = strdup(path);
        a->who = who ? strdup(who) : NULL;
        a->media_id = media_id ? strdup(media_id) : NULL;
        a->done = done;
        a->arg = arg;
    }
    if (!a || !a->path || (who && !a->who) || (media_id && !a->media_id)) {
        if (a)
            async_free(a);
        done(arg, no_verdict(who, media_id, "out of memory"));
        return;
    }
    if (workpool_submit(&pool, async_work, a) < 0) {
        async_free(a);
        done(arg, no_verdict(who, media_id, "too many scans waiting"));
    }
}
