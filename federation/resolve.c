/* resolve.c - server discovery I/O (Server-Server API "Resolving server names"): runs the
 * pure steps of server/fedresolve.c, answering their questions with an HTTPS GET of
 * /.well-known/matrix/server and SRV queries through glibc's resolver (res_nquery and
 * ns_parserr), and caches the outcome per server name.
 *
 * The connection itself is made by the outbound client: the URL names the Host header (so
 * Host, SNI and the certificate check all use it) and connect_to points the socket at the SRV
 * target or port 8448; the target's A/AAAA records are resolved by libcurl and each address
 * passes the ip_range filter before connect(2). Cache: a fixed table of CACHE_SLOTS names under one
 * mutex, replaced round-robin; lookups run without the lock held, so two threads may resolve
 * the same name at once (harmless: the later result wins). */
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "federation/fed_internal.h"
#include "server/clock.h"
#include "server/fedresolve.h"
#include "server/log.h"
#include "server/outbound.h"

#define CACHE_SLOTS 256
#define WELLKNOWN_TIMEOUT_MS 10000
#define WELLKNOWN_REDIRECTS 5
#define WELLKNOWN_MAX_BODY (64 * 1024)
#define WELLKNOWN_DEFAULT_S (24 * 3600)
#define WELLKNOWN_MAX_S (48 * 3600)
#define WELLKNOWN_MIN_S 300 /* as Synapse: max-age=0 must not mean a fetch per request */
#define FAILURE_CACHE_S 300 /* doubled for each failure in a row, up to an hour */
#define FAILURE_CACHE_MAX_S 3600
#define SRV_MIN_TTL_S 60

static struct {
    char name[256];
    struct fed_target t;
    int64_t expires; /* monotonic ms */
    int wk_failures; /* well-known failures in a row, kept when the entry expires */
} cache[CACHE_SLOTS];
static size_t cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The cached target of name if still valid; *wk_failures the well-known failures in a row
 * recorded for it (also from an expired entry). */
static bool cache_get(const char *name, struct fed_target *t, int *wk_failures)
{
    bool hit = false;
    int64_t now = clock_mono_ms();
    *wk_failures = 0;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (strcmp(cache[i].name, name) == 0) {
            *wk_failures = cache[i].wk_failures;
            if (cache[i].expires > now) {
                *t = cache[i].t;
                hit = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const char *name, const struct fed_target *t, int64_t ttl_s, int wk_failures)
{
    pthread_mutex_lock(&cache_lock);
    size_t slot = cache_next;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (strcmp(cache[i].name, name) == 0)
            slot = i;
    if (slot == cache_next)
        cache_next = (cache_next + 1) % CACHE_SLOTS;
    snprintf(cache[slot].name, sizeof cache[slot].name, "%s", name);
    cache[slot].t = *t;
    cache[slot].expires = clock_mono_ms() + ttl_s * 1000;
    cache[slot].wk_failures = wk_failures;
    pthread_mutex_unlock(&cache_lock);
}

/* max-age=N of a Cache-Control value, -1 when none. */
static int64_t max_age(const char *cc)
{
    char low[128];
    size_t n = strlen(cc) < sizeof low - 1 ? strlen(cc) : sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)cc[i]);
    low[n] = '\0';
    if (strstr(low, "no-store") || strstr(low, "no-cache"))
        return 0;
    const char *at = strstr(low, "max-age=");
    if (!at)
        return -1;
    int64_t v = 0;
    for (at += 8; *at >= '0' && *at <= '9' && v < INT64_C(1) << 40; at++)
        v = v * 10 + (*at - '0');
    return v;
}

/* GET https://<host>/.well-known/matrix/server, following up to WELLKNOWN_REDIRECTS https
 * redirects ("30x redirects should be followed, however redirection loops should be
 * avoided"). FR_FOUND with m.server in wk, or FR_ABSENT; *ttl_s how long the answer may be
 * kept: its max-age (24 h without one, 5 minutes to 48 h), or after `failures` earlier
 * failures in a row 5 minutes doubled that often, at most an hour. */
static enum fedresolve_state wellknown(const char *host, char wk[256], int failures, int64_t *ttl_s)
{
    char url[sizeof ((struct outbound_res *)0)->location];
    struct outbound_req r;
    struct outbound_res res = {0};
    int64_t age = -1;
    enum fedresolve_state st = FR_ABSENT;
    const char *headers[] = {"Accept: application/json", NULL};

    int64_t deadline = clock_mono_ms() + WELLKNOWN_TIMEOUT_MS; /* for all hops together */
    snprintf(url, sizeof url, "https://%s/.well-known/matrix/server", host);
    for (int hop = 0; hop <= WELLKNOWN_REDIRECTS; hop++) {
        long left = (long)(deadline - clock_mono_ms());
        if (left <= 0) /* 0 would mean the client's default */
            break;
        fed_base_req(&r);
        r.url = url;
        r.headers = headers;
        r.timeout_ms = left;
        r.max_body = WELLKNOWN_MAX_BODY;
        if (outbound_fetch(&r, &res) < 0) {
            log_debug("well-known of %s: %s", host, res.why);
            break;
        }
        if (res.status >= 300 && res.status < 400 && res.location[0] &&
            strncmp(res.location, "https://", 8) == 0 && hop < WELLKNOWN_REDIRECTS) {
            snprintf(url, sizeof url, "%s", res.location);
            outbound_res_clear(&res);
            continue;
        }
        json_t *body = res.status == 200 && res.body ? json_loadb(res.body, res.len, 0, NULL) : NULL;
        if (fedresolve_wellknown(body, wk) == 0) {
            st = FR_FOUND;
            age = max_age(res.cache_control);
        }
        json_decref(body);
        break;
    }
    outbound_res_clear(&res);
    if (st == FR_ABSENT) {
        *ttl_s = FAILURE_CACHE_S << (failures < 4 ? failures : 4);
        if (*ttl_s > FAILURE_CACHE_MAX_S)
            *ttl_s = FAILURE_CACHE_MAX_S;
    } else {
        *ttl_s = age < 0                 ? WELLKNOWN_DEFAULT_S
                 : age > WELLKNOWN_MAX_S ? WELLKNOWN_MAX_S
                 : age < WELLKNOWN_MIN_S ? WELLKNOWN_MIN_S
                                         : age;
    }
    return st;
}

/* SRV query for `name`; the chosen record into *out, *ttl_s lowered to its TTL. */
static void srv(const char *name, struct fedresolve_srv *out, int64_t *ttl_s)
{
    unsigned char ans[4096];
    char targets[16][256];
    struct fedresolve_srv_rr rr[16];
    size_t n = 0;
    struct __res_state rs;
    ns_msg msg;

    out->state = FR_ABSENT;
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) != 0)
        return;
    rs.retrans = 2; /* seconds per try, two tries: a dead resolver costs at most ~8 s */
    rs.retry = 2;
    int len = res_nquery(&rs, name, ns_c_in, ns_t_srv, ans, sizeof ans);
    bool transient = len < 0 && rs.res_h_errno == TRY_AGAIN;
    res_nclose(&rs);
    if (len < 0 || ns_initparse(ans, len, &msg) < 0) {
        /* no such record: as long as the rest of the answer is kept; a resolver that did
         * not answer: asked again soon */
        if (transient && *ttl_s > FAILURE_CACHE_S)
            *ttl_s = FAILURE_CACHE_S;
        return;
    }
    int64_t ttl = FAILURE_CACHE_S;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < 16; i++) {
        ns_rr r;
        if (ns_parserr(&msg, ns_s_an, i, &r) < 0 || ns_rr_type(r) != ns_t_srv || ns_rr_rdlen(r) < 7)
            continue;
        const unsigned char *d = ns_rr_rdata(r);
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), d + 6, targets[n], sizeof targets[n]) < 0)
            continue;
        rr[n] =
            (struct fedresolve_srv_rr){ns_get16(d), ns_get16(d + 2), ns_get16(d + 4), targets[n]};
        if (n == 0 || (int64_t)ns_rr_ttl(r) < ttl)
            ttl = ns_rr_ttl(r);
        n++;
    }
    int pick = fedresolve_srv_pick(rr, n);
    if (pick >= 0) {
        out->state = FR_FOUND;
        snprintf(out->target, sizeof out->target, "%s", rr[pick].target);
        out->port = rr[pick].port;
    }
    if (ttl < SRV_MIN_TTL_S)
        ttl = SRV_MIN_TTL_S;
    if (ttl < *ttl_s)
        *ttl_s = ttl;
}

/* The URL base and connect-to entry for a finished resolution. */
static int target_of(const struct fedresolve_out *r, struct fed_target *t)
{
    bool v6 = strchr(r->connect_host, ':') != NULL;
    if ((size_t)snprintf(t->url_base, sizeof t->url_base, "https://%s", r->host_header) >=
            sizeof t->url_base ||
        (size_t)snprintf(t->connect_to, sizeof t->connect_to, "%s%s%s:%d", v6 ? "[" : "",
                         r->connect_host, v6 ? "]" : "", r->connect_port) >= sizeof t->connect_to)
        return -1;
    return 0;
}

int fed_resolve(const char *server_name, struct fed_target *t, char *err, size_t errlen)
{
    struct fedresolve_in in = {.server_name = server_name};
    struct fedresolve_out out;
    int64_t ttl_s = WELLKNOWN_MAX_S;
    bool looked_up = false;
    int wk_failures;

    if (cache_get(server_name, t, &wk_failures))
        return 0;
    for (int step = 0; step < 6; step++) {
        struct fedname n;
        switch (fedresolve_step(&in, &out)) {
        case FR_INVALID:
            snprintf(err, errlen, "not a server name");
            return -1;
        case FR_NEED_WELLKNOWN:
            fedname_parse(server_name, &n);
            in.wellknown = wellknown(n.host, in.wk_server, wk_failures, &ttl_s);
            wk_failures = in.wellknown == FR_FOUND ? 0 : wk_failures + 1;
            looked_up = true;
            break;
        case FR_NEED_SRV_FED:
            srv(out.srv_name, &in.srv_fed, &ttl_s);
            looked_up = true;
            break;
        case FR_NEED_SRV_LEGACY:
            srv(out.srv_name, &in.srv_legacy, &ttl_s);
            looked_up = true;
            break;
        case FR_DONE:
            if (target_of(&out, t) < 0) {
                snprintf(err, errlen, "resolved name too long");
                return -1;
            }
            if (looked_up)
                cache_put(server_name, t, ttl_s, wk_failures);
            return 0;
        }
    }
    snprintf(err, errlen, "server discovery did not finish");
    return -1;
}
