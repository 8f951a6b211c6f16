/* outbound.c - the outbound HTTP client: one libcurl multi handle driven by one thread
 * (curl_multi_poll, woken by curl_multi_wakeup when something is queued), a FIFO of waiting
 * requests, and a count of requests on the wire per destination.
 *
 * Invariants:
 *  1. Every request accepted by outbound_submit ends in exactly one callback: completed,
 *     failed, timed out in the queue, or stopped by outbound_stop.
 *  2. At most `max_in_flight` requests per destination and OUTBOUND_MAX_ACTIVE in all are on
 *     the wire; the others wait in submission order, and a waiting request whose destination
 *     has room is started even when requests before it must wait (no head-of-line blocking
 *     across destinations).
 *  3. A request's deadline counts from submission: time spent queued is taken from the time
 *     it may spend on the wire, so a blocking caller waits at most its timeout (plus up to a
 *     second of the loop's granularity).
 *  4. The address filter is checked in libcurl's open-socket callback, on each address it is
 *     about to connect to, after DNS and after CURLOPT_CONNECT_TO: a refused address gets no
 *     socket and so no connection.
 *  5. The multi handle and the easy handles are touched only by the client's thread; other
 *     threads touch the queue under `mu` and wake the thread with curl_multi_wakeup. */
#include "server/outbound.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/clock.h"
#include "server/ipfilter.h"
#include "server/log.h"
#include "server/version.h"

#define OUTBOUND_MAX_ACTIVE 256
#define DEST_BUCKETS 256
#define CONNECT_TIMEOUT_MS 15000
#define TICK_MS 1000

struct job {
    struct job *next; /* in the queue */
    int slot;         /* index in active[], or -1 */
    CURL *h;
    struct curl_slist *hdrs, *connect;
    char *url, *method, *body, *dest, *ua, *connect_to;
    size_t body_len;
    int limit;
    int64_t deadline; /* clock_mono_ms */
    size_t max_body;
    bool truncate, no_verify, blocked, overflow;
    const struct ipfilter *filter;
    const char *ca_pem;
    size_t ca_pem_len;
    outbound_cb cb;
    void *arg;
    struct outbound_res res;
};

struct dest {
    struct dest *next;
    int active;
    char key[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static enum { IDLE, RUNNING, STOPPED } state;
static bool stopping;
static pthread_t thread;
static CURLM *multi;
static struct job *q_head, *q_tail; /* under mu */
static int n_queued;                /* under mu */
static int n_active;                /* thread only; read under mu by outbound_stats */
static struct job *active[OUTBOUND_MAX_ACTIVE];
static struct dest *dests[DEST_BUCKETS]; /* thread only */

const char *outbound_strerror(enum outbound_err e)
{
    static const char *const names[] = {
        [OUTBOUND_OK] = "ok",
        [OUTBOUND_E_CONNECT] = "cannot connect",
        [OUTBOUND_E_TIMEOUT] = "timed out",
        [OUTBOUND_E_TOO_LARGE] = "response too large",
        [OUTBOUND_E_BLOCKED] = "address not allowed",
        [OUTBOUND_E_TLS] = "TLS failure",
        [OUTBOUND_E_STOPPED] = "server stopping",
        [OUTBOUND_E_BUSY] = "too many requests queued",
        [OUTBOUND_E_BAD_URL] = "bad URL",
        [OUTBOUND_E_OTHER] = "failed",
    };
    return (unsigned)e < sizeof names / sizeof names[0] && names[e] ? names[e] : "failed";
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- destinations ---------------------------------------------------------------------- */

static unsigned hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % DEST_BUCKETS;
}

static struct dest *dest_get(const char *key, bool create)
{
    struct dest **pp = &dests[hash(key)];
    for (struct dest *d = *pp; d; d = d->next)
        if (strcmp(d->key, key) == 0)
            return d;
    if (!create)
        return NULL;
    size_t n = strlen(key) + 1;
    struct dest *d = calloc(1, sizeof *d + n);
    if (!d)
        return NULL;
    memcpy(d->key, key, n);
    d->next = *pp;
    *pp = d;
    return d;
}

static void dest_release(const char *key)
{
    struct dest **pp = &dests[hash(key)];
    for (struct dest *d = *pp; d; pp = &d->next, d = d->next) {
        if (strcmp(d->key, key) == 0) {
            if (--d->active <= 0) {
                *pp = d->next;
                free(d);
            }
            return;
        }
    }
}

/* --- jobs ------------------------------------------------------------------------------ */

static void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->h)
        curl_easy_cleanup(j->h);
    curl_slist_free_all(j->hdrs);
    curl_slist_free_all(j->connect);
    free(j->url);
    free(j->method);
    free(j->body);
    free(j->dest);
    free(j->ua);
    free(j->connect_to);
    free(j->res.body);
    free(j);
}

/* Deliver j's result and free it. */
static void job_end(struct job *j, enum outbound_err err, const char *why)
{
    j->res.err = err;
    if (err != OUTBOUND_OK)
        j->res.status = 0;
    if (why && !j->res.why[0])
        snprintf(j->res.why, sizeof j->res.why, "%s", why);
    else if (!j->res.why[0] && err != OUTBOUND_OK)
        snprintf(j->res.why, sizeof j->res.why, "%s", outbound_strerror(err));
    j->cb(j->arg, &j->res);
    job_free(j);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t add = size * n;
    if (j->res.len + add > j->max_body) {
        add = j->max_body - j->res.len; /* keep what fits (truncate), then stop */
        j->overflow = true;
    }
    if (add) {
        char *nb = realloc(j->res.body, j->res.len + add + 1);
        if (!nb)
            return 0;
        memcpy(nb + j->res.len, p, add);
        j->res.body = nb;
        j->res.len += add;
        j->res.body[j->res.len] = '\0';
    }
    return j->overflow ? 0 : size * n;
}

/* libcurl's open-socket callback: the address filter (invariant 4). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct job *j = arg;
    if (j->filter && !ipfilter_allows(j->filter, &a->addr)) {
        j->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* Create j's easy handle for `left_ms` on the wire. 0 or -1. */
static int job_prepare(struct job *j, int64_t left_ms)
{
    CURL *h = j->h = curl_easy_init();
    if (!h)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left_ms < CONNECT_TIMEOUT_MS ? left_ms : CONNECT_TIMEOUT_MS));
    curl_easy_setopt(h, CURLOPT_USERAGENT, j->ua);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, j);
    curl_easy_setopt(h, CURLOPT_PRIVATE, j);
    if (j->hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs);
    if (j->method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
    if (j->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
    }
    if (j->connect)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, j->connect);
    if (j->no_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (j->ca_pem) {
        struct curl_blob blob = {(void *)j->ca_pem, j->ca_pem_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob); /* replaces the CA bundle file */
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);        /* and the CA directory */
    }
    return 0;
}

/* --- the thread ------------------------------------------------------------------------ */

/* Move what may start from the queue onto the wire; collect what expired or cannot start
 * into *fail (invariants 2, 3). Under mu. */
static void start_queued(int64_t now, struct job **fail)
{
    struct job **pp = &q_head, *prev = NULL;
    while (*pp) {
        struct job *j = *pp;
        struct dest *d = NULL;
        bool expired = now >= j->deadline;
        if (!expired) {
            if (n_active >= OUTBOUND_MAX_ACTIVE)
                break;
            d = dest_get(j->dest, false);
            if (d && d->active >= j->limit) {
                prev = j;
                pp = &j->next;
                continue;
            }
        }
        *pp = j->next; /* unlink */
        if (q_tail == j)
            q_tail = prev;
        n_queued--;
        j->next = NULL;
        if (expired || (d = dest_get(j->dest, true)) == NULL || job_prepare(j, j->deadline - now) < 0 ||
            curl_multi_add_handle(multi, j->h) != CURLM_OK) {
            j->res.err = expired ? OUTBOUND_E_TIMEOUT : OUTBOUND_E_OTHER;
            j->next = *fail;
            *fail = j;
            if (d && d->active == 0)
                dest_release(j->dest); /* created for nothing */
            continue;
        }
        d->active++;
        j->slot = n_active;
        active[n_active++] = j;
    }
}

static enum outbound_err map_curl(struct job *j, CURLcode cc)
{
    switch (cc) { /* libcurl's codes, grouped */
    case CURLE_OK:
        return OUTBOUND_OK;
    case CURLE_WRITE_ERROR:
        return j->overflow ? (j->truncate ? OUTBOUND_OK : OUTBOUND_E_TOO_LARGE) : OUTBOUND_E_OTHER;
    case CURLE_OPERATION_TIMEDOUT:
        return OUTBOUND_E_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return j->blocked ? OUTBOUND_E_BLOCKED : OUTBOUND_E_CONNECT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return OUTBOUND_E_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return OUTBOUND_E_TLS;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return OUTBOUND_E_BAD_URL;
    default:
        return j->blocked ? OUTBOUND_E_BLOCKED : OUTBOUND_E_OTHER;
    }
}

/* Take j off the wire (thread only). */
static void unplug(struct job *j)
{
    curl_multi_remove_handle(multi, j->h);
    active[j->slot] = active[--n_active];
    active[j->slot]->slot = j->slot;
    j->slot = -1;
    dest_release(j->dest);
}

static void finished(struct job *j, CURLcode cc)
{
    pthread_mutex_lock(&mu);
    unplug(j);
    pthread_mutex_unlock(&mu);
    enum outbound_err e = map_curl(j, cc);
    if (e == OUTBOUND_OK) {
        curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &j->res.status);
        char *ct = NULL;
        curl_easy_getinfo(j->h, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            snprintf(j->res.content_type, sizeof j->res.content_type, "%s", ct);
        struct curl_header *cc_hdr = NULL;
        if (curl_easy_header(j->h, "Cache-Control", 0, CURLH_HEADER, -1, &cc_hdr) == CURLHE_OK &&
            strlen(cc_hdr->value) < sizeof j->res.cache_control)
            snprintf(j->res.cache_control, sizeof j->res.cache_control, "%s", cc_hdr->value);
        char *loc = NULL;
        curl_easy_getinfo(j->h, CURLINFO_REDIRECT_URL, &loc);
        if (loc && strlen(loc) < sizeof j->res.location)
            snprintf(j->res.location, sizeof j->res.location, "%s", loc);
        j->res.truncated = j->overflow;
    }
    job_end(j, e, e == OUTBOUND_OK ? NULL : curl_easy_strerror(cc));
}

static void *run(void *unused)
{
    for (;;) {
        struct job *fail = NULL;
        int64_t now = clock_mono_ms(), next = now + TICK_MS;
        pthread_mutex_lock(&mu);
        bool stop = stopping;
        if (!stop)
            start_queued(now, &fail);
        for (struct job *j = q_head; j; j = j->next)
            if (j->deadline < next)
                next = j->deadline;
        pthread_mutex_unlock(&mu);
        while (fail) {
            struct job *j = fail;
            fail = j->next;
            job_end(j, j->res.err, NULL);
        }
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        bool ended = false;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode cc = m->data.result;
            finished(j, cc);
            ended = true;
        }
        if (ended)
            continue; /* room for queued requests now */
        long wait = (long)(next - clock_mono_ms());
        curl_multi_poll(multi, NULL, 0, wait < 1 ? 1 : (int)wait, NULL);
    }
    /* stopping: everything ends now (invariant 1) */
    while (n_active > 0) {
        struct job *j = active[n_active - 1];
        pthread_mutex_lock(&mu);
        unplug(j);
        pthread_mutex_unlock(&mu);
        job_end(j, OUTBOUND_E_STOPPED, NULL);
    }
    pthread_mutex_lock(&mu);
    struct job *q = q_head;
    q_head = q_tail = NULL;
    n_queued = 0;
    pthread_mutex_unlock(&mu);
    while (q) {
        struct job *j = q;
        q = j->next;
        job_end(j, OUTBOUND_E_STOPPED, NULL);
    }
    return NULL;
}

/* --- the API ----------------------------------------------------------------------------- */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The concurrency key of a URL: "host:port" (lower-case host, the scheme's default port).
 * 0 or -1 when the URL is not http(s). */
static int default_dest(const char *url, char **out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        size_t n = strlen(host) + strlen(port) + 2;
        if ((*out = malloc(n)) != NULL) {
            snprintf(*out, n, "%s:%s", host, port);
            for (char *p = *out; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            rc = 0;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static struct job *job_new(const struct outbound_req *r, outbound_cb cb, void *arg)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->slot = -1;
    j->cb = cb;
    j->arg = arg;
    j->limit = r->max_in_flight > 0 ? r->max_in_flight : OUTBOUND_PER_DESTINATION;
    j->deadline = clock_mono_ms() + (r->timeout_ms > 0 ? r->timeout_ms : OUTBOUND_TIMEOUT_MS);
    j->max_body = r->max_body ? r->max_body : OUTBOUND_MAX_BODY;
    j->truncate = r->truncate;
    j->no_verify = r->tls_no_verify;
    j->filter = r->filter;
    j->ca_pem = r->ca_pem;
    j->ca_pem_len = r->ca_pem_len;
    j->url = strdup(r->url);
    j->ua = strdup(r->user_agent ? r->user_agent : "Amtsbote/" AMTSBOTE_VERSION);
    bool ok = j->url && j->ua;
    if (r->destination)
        ok = ok && (j->dest = strdup(r->destination)) != NULL;
    else
        ok = ok && default_dest(r->url, &j->dest) == 0;
    const char *method = r->method ? r->method : r->body ? "POST" : NULL;
    if (method)
        ok = ok && (j->method = strdup(method)) != NULL;
    if (r->body)
        ok = ok && (j->body = dupn(r->body, r->body_len)) != NULL;
    j->body_len = r->body_len;
    for (size_t i = 0; ok && r->headers && r->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(j->hdrs, r->headers[i]);
        ok = l != NULL;
        if (l)
            j->hdrs = l;
    }
    if (ok && r->connect_to) {
        size_t n = strlen(r->connect_to) + 3;
        char *entry = malloc(n);
        ok = entry != NULL;
        if (entry) {
            snprintf(entry, n, "::%s", r->connect_to); /* any host, any port -> connect_to */
            j->connect = curl_slist_append(NULL, entry);
            ok = j->connect != NULL;
            free(entry);
        }
    }
    if (!ok) {
        job_free(j);
        return NULL;
    }
    return j;
}

int outbound_submit(const struct outbound_req *req, outbound_cb cb, void *arg)
{
    if (!req || !req->url || !cb)
        return -1;
    pthread_once(&global_once, global_init);
    struct job *j = job_new(req, cb, arg);
    if (!j)
        return -1;
    pthread_mutex_lock(&mu);
    if (state == IDLE) {
        multi = curl_multi_init();
        if (multi && pthread_create(&thread, NULL, run, NULL) == 0) {
            state = RUNNING;
        } else {
            if (multi)
                curl_multi_cleanup(multi);
            multi = NULL;
            log_error("outbound: cannot start the HTTP client thread");
        }
    }
    if (state != RUNNING || stopping || n_queued >= OUTBOUND_MAX_QUEUED) {
        pthread_mutex_unlock(&mu);
        job_free(j);
        return -1;
    }
    if (q_tail)
        q_tail->next = j;
    else
        q_head = j;
    q_tail = j;
    n_queued++;
    curl_multi_wakeup(multi); /* under mu: outbound_stop frees multi under mu */
    pthread_mutex_unlock(&mu);
    return 0;
}

int outbound_url_parse(const char *url, struct outbound_url *out)
{
    memset(out, 0, sizeof *out);
    CURLU *u = curl_url();
    char *parts[7] = {0}; /* scheme host port path query fragment user */
    static const CURLUPart which[7] = {CURLUPART_SCHEME, CURLUPART_HOST,  CURLUPART_PORT,
                                       CURLUPART_PATH,   CURLUPART_QUERY, CURLUPART_FRAGMENT,
                                       CURLUPART_USER};
    int rc = -1;
    const char *auth = url ? strstr(url, "://") : NULL;
    if (!auth || auth[3] == '/' || auth[3] == '\\') /* libcurl would read "http:///x" as x */
        goto out;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        goto out;
    for (int i = 0; i < 7; i++)
        curl_url_get(u, which[i], &parts[i], i == 2 ? CURLU_DEFAULT_PORT : 0);
    if (!parts[0] || !parts[1] || !*parts[1] || !parts[2] ||
        (strcmp(parts[0], "http") != 0 && strcmp(parts[0], "https") != 0))
        goto out;
    out->https = strcmp(parts[0], "https") == 0;
    const char *host = parts[1];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') { /* IPv6 literal */
        host++;
        hl -= 2;
    }
    char *end;
    long port = strtol(parts[2], &end, 10);
    const char *path = parts[3] && *parts[3] ? parts[3] : "/";
    if (hl >= sizeof out->host || strlen(path) >= sizeof out->path || *end || port < 1 ||
        port > 65535)
        goto out;
    for (size_t i = 0; i < hl; i++)
        out->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] - 'A' + 'a' : host[i]);
    unsigned char tmp[16];
    out->host_is_ip = inet_pton(AF_INET, out->host, tmp) == 1 ||
                      inet_pton(AF_INET6, out->host, tmp) == 1;
    out->port = (int)port;
    snprintf(out->path, sizeof out->path, "%s", path);
    out->has_query = parts[4] != NULL;
    out->has_fragment = parts[5] != NULL;
    out->has_userinfo = parts[6] != NULL;
    rc = 0;
out:
    for (int i = 0; i < 7; i++)
        curl_free(parts[i]);
    curl_url_cleanup(u);
    return rc;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct outbound_res res;
};

static void wake_waiter(void *arg, struct outbound_res *res)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->res = *res;
    res->body = NULL; /* taken */
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int outbound_fetch(const struct outbound_req *req, struct outbound_res *res)
{
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    memset(res, 0, sizeof *res);
    if (outbound_submit(req, wake_waiter, &w) < 0) {
        res->err = OUTBOUND_E_BUSY;
        snprintf(res->why, sizeof res->why, "cannot queue the request");
        return -1;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done) /* bounded: every request ends by its deadline (invariants 1, 3) */
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    *res = w.res;
    return res->err == OUTBOUND_OK ? 0 : -1;
}

void outbound_res_clear(struct outbound_res *res)
{
    if (!res)
        return;
    free(res->body);
    res->body = NULL;
    res->len = 0;
}

void outbound_stop(void)
{
    pthread_mutex_lock(&mu);
    if (state != RUNNING) {
        state = STOPPED;
        pthread_mutex_unlock(&mu);
        return;
    }
    stopping = true;
    curl_multi_wakeup(multi);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&mu);
    curl_multi_cleanup(multi);
    multi = NULL;
    state = STOPPED;
    pthread_mutex_unlock(&mu);
}

static const struct ipfilter *_Atomic ip_range_filter;

void outbound_set_ip_range_filter(const struct ipfilter *f)
{
    ip_range_filter = f;
}

const struct ipfilter *outbound_ip_range_filter(void)
{
    return ip_range_filter;
}

void outbound_stats(int *in_flight, int *queued)
{
    pthread_mutex_lock(&mu);
    *in_flight = n_active;
    *queued = n_queued;
    pthread_mutex_unlock(&mu);
}
