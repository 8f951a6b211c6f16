/* httpc.c - outbound JSON over HTTP: encodes the request body, adds the JSON headers, waits
 * for the server's HTTP client (server/outbound.c: per-destination concurrency, deadlines,
 * bounded responses, address filter) and parses the answer. Redirects are not followed.
 * httpc_json_opts (federation_request, discovery) still runs its own libcurl easy handle. */
#include "federation/httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTPC_MAX_HEADERS 16

int httpc_json_req(const struct outbound_req *base, json_t *body, json_t **out,
                   enum outbound_err *why_err, char *err, size_t errlen)
{
    const char *hdrs[HTTPC_MAX_HEADERS + 3];
    size_t n = 0;
    *out = NULL;
    hdrs[n++] = "Accept: application/json";
    if (body)
        hdrs[n++] = "Content-Type: application/json";
    for (size_t i = 0; base->headers && base->headers[i]; i++) {
        if (i == HTTPC_MAX_HEADERS) {
            snprintf(err, errlen, "too many headers");
            return -1;
        }
        hdrs[n++] = base->headers[i];
    }
    hdrs[n] = NULL;
    struct outbound_req r = *base;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    r.headers = hdrs;
    r.body = body ? (text ? text : "{}") : NULL;
    r.body_len = r.body ? strlen(r.body) : 0;
    r.truncate = false;
    struct outbound_res res;
    int rc = outbound_fetch(&r, &res);
    free(text);
    if (why_err)
        *why_err = res.err;
    if (rc < 0) {
        snprintf(err, errlen, "%s", res.why);
        outbound_res_clear(&res);
        return -1;
    }
    if (res.body)
        *out = json_loadb(res.body, res.len, 0, NULL);
    outbound_res_clear(&res);
    return (int)res.status;
}

int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen)
{
    struct outbound_req r = {.method = method, .url = url, .timeout_ms = timeout_ms};
    return httpc_json_req(&r, body, out, NULL, err, errlen);
}

/* httpc_json_opts: one libcurl easy handle per call (see httpc.h). */
#define HTTPC_MAX_BODY (1024 * 1024)

struct buf {
    char *data;
    size_t len, max;
    int overflow;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    if (b->len + add > b->max) {
        b->overflow = 1;
        return 0;
    }
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, p, add);
    b->data = nd;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

struct sock_ctx {
    const struct httpc_opts *o;
    int refused;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct sock_ctx *sc = arg;
    if (purpose == CURLSOCKTYPE_IPCXN && !sc->o->addr_ok(&a->addr)) {
        sc->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static int close_socket(void *arg, curl_socket_t s)
{
    return close(s);
}

/* Cache-Control: ... max-age=N ... into *o->max_age_s. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    int64_t *age = arg;
    size_t len = size * n;
    static const char name[] = "cache-control:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        char line[256];
        size_t m = len < sizeof line - 1 ? len : sizeof line - 1;
        memcpy(line, p, m);
        line[m] = '\0';
        for (char *c = line; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *at = strstr(line, "max-age=");
        if (at) {
            int64_t v = 0;
            for (at += 8; *at >= '0' && *at <= '9' && v < INT64_C(1) << 40; at++)
                v = v * 10 + (*at - '0');
            *age = v;
        }
    }
    return len;
}

int httpc_json_opts(const char *method, const char *url, json_t *body, const struct httpc_opts *o,
                    long timeout_ms, json_t **out, char *err, size_t errlen)
{
    static const struct httpc_opts none = {0};
    struct sock_ctx sc = {.o = o ? o : &none};
    struct curl_slist *connect_to = NULL;
    struct buf b = {.max = o && o->max_body ? o->max_body : HTTPC_MAX_BODY};
    struct curl_slist *hdrs = NULL;
    char *text = NULL;
    long status = -1;

    *out = NULL;
    pthread_once(&once, global_init);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "{}");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    o = sc.o;
    for (const char *const *hl = o->headers; hl && *hl; hl++)
        hdrs = curl_slist_append(hdrs, *hl);
    if (o->connect_to) {
        connect_to = curl_slist_append(NULL, o->connect_to);
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
    }
    if (o->ca_pem) {
        struct curl_blob blob = {(void *)o->ca_pem, o->ca_pem_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->addr_ok) {
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &sc);
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, &sc);
    }
    if (o->max_redirects > 0) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)o->max_redirects);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    }
    if (o->max_age_s) {
        *o->max_age_s = -1;
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, o->max_age_s);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s",
                 b.overflow   ? "response too large"
                 : sc.refused ? "address not allowed (ip_range_blacklist)"
                              : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (b.data)
            *out = json_loadb(b.data, b.len, 0, NULL);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    free(text);
    free(b.data);
    return (int)status;
}
