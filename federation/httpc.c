/* httpc.c - outbound JSON over HTTP with libcurl.
 *
 * One easy handle per call: simple and thread-safe (curl_global_init runs once, guarded by
 * pthread_once). Response bodies are bounded (HTTPC_MAX_BODY) so a hostile peer cannot make
 * the server buffer without limit. Redirects are not followed. */
#include "federation/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTPC_MAX_BODY (1024 * 1024)

struct buf {
    char *data;
    size_t len;
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
    if (b->len + add > HTTPC_MAX_BODY) {
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

int httpc_json(const char *method, const char *url, json_t *body, long timeout_ms, json_t **out,
               char *err, size_t errlen)
{
    struct buf b = {0};
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
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", b.overflow ? "response too large" : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (b.data)
            *out = json_loadb(b.data, b.len, 0, NULL);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    free(text);
    free(b.data);
    return (int)status;
}
