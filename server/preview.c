/* preview.c - URL previews, off by default: fetching a link tells its web server who reads
 * what, so an agency turns them on only for hosts it trusts (url_preview_enabled and
 * url_preview_domain_whitelist). A preview is fetched with libcurl from an allow-listed host
 * only (http and https, no redirects, at most 1 MiB, 10 s), parsed for Open Graph data, and
 * cached for an hour. Images are not fetched, so og:image is left out. libcurl is used here
 * as in the push sender: outbound HTTP the engine itself needs. */
#include "server/preview.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/clock.h"
#include "storage/preview.h"

#define MAX_PAGE (1 << 20)
#define MAX_VALUE 1000
#define CACHE_MS 3600000

/* --- parsing ------------------------------------------------------------------------------- */

/* Decode the common entities of s[0..n) into a new JSON string (at most MAX_VALUE bytes). */
static json_t *text_of(const char *s, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},   {"&quot;", '"'},
                {"&#39;", '\''}, {"&apos;", '\''}, {"&#x27;", '\''}};
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n && o < MAX_VALUE;) {
        size_t k = 0;
        for (; k < sizeof ents / sizeof ents[0]; k++) {
            size_t l = strlen(ents[k].name);
            if (i + l <= n && strncasecmp(s + i, ents[k].name, l) == 0) {
                out[o++] = ents[k].c;
                i += l;
                break;
            }
        }
        if (k == sizeof ents / sizeof ents[0])
            out[o++] = s[i++];
    }
    while (o && isspace((unsigned char)out[o - 1]))
        o--;
    size_t start = 0;
    while (start < o && isspace((unsigned char)out[start]))
        start++;
    json_t *j = json_stringn(out + start, o - start); /* NULL when not UTF-8: dropped */
    free(out);
    return j;
}

/* The value of attribute `name` inside the tag text t[0..n): its position and length. */
static bool attr(const char *t, size_t n, const char *name, const char **v, size_t *vl)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl < n; i++) {
        if (strncasecmp(t + i, name, nl) != 0 || (i && !isspace((unsigned char)t[i - 1])))
            continue;
        size_t j = i + nl;
        while (j < n && isspace((unsigned char)t[j]))
            j++;
        if (j >= n || t[j] != '=')
            continue;
        j++;
        while (j < n && isspace((unsigned char)t[j]))
            j++;
        if (j >= n)
            return false;
        char q = t[j] == '"' || t[j] == '\'' ? t[j] : 0;
        size_t s = q ? j + 1 : j, e = s;
        while (e < n && (q ? t[e] != q : !isspace((unsigned char)t[e]) && t[e] != '>'))
            e++;
        *v = t + s;
        *vl = e - s;
        return true;
    }
    return false;
}

static const char *find_ci(const char *h, size_t len, size_t from, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = from; i + nl <= len; i++)
        if (strncasecmp(h + i, needle, nl) == 0)
            return h + i;
    return NULL;
}

json_t *preview_parse_html(const char *html, size_t len)
{
    json_t *og = json_object();
    json_t *description = NULL;
    for (const char *m = find_ci(html, len, 0, "<meta"); m;
         m = find_ci(html, len, (size_t)(m - html) + 5, "<meta")) {
        const char *end = memchr(m, '>', len - (size_t)(m - html));
        if (!end)
            break;
        size_t tl = (size_t)(end - m);
        const char *k = NULL, *v = NULL;
        size_t kl = 0, vl = 0;
        if ((!attr(m, tl, "property", &k, &kl) && !attr(m, tl, "name", &k, &kl)) ||
            !attr(m, tl, "content", &v, &vl) || kl > 64)
            continue;
        char key[65];
        memcpy(key, k, kl);
        key[kl] = '\0';
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (strncmp(key, "og:", 3) == 0 && strncmp(key, "og:image", 8) != 0 &&
            !json_object_get(og, key)) {
            json_t *t = text_of(v, vl);
            if (t)
                json_object_set_new(og, key, t);
        } else if (strcmp(key, "description") == 0 && !description) {
            description = text_of(v, vl);
        }
    }
    if (!json_object_get(og, "og:title")) {
        const char *t = find_ci(html, len, 0, "<title");
        const char *gt = t ? memchr(t, '>', len - (size_t)(t - html)) : NULL;
        const char *close = gt ? find_ci(html, len, (size_t)(gt - html), "</title") : NULL;
        json_t *title = close ? text_of(gt + 1, (size_t)(close - gt - 1)) : NULL;
        if (title && json_string_length(title))
            json_object_set_new(og, "og:title", title);
        else
            json_decref(title);
    }
    if (!json_object_get(og, "og:description") && description)
        json_object_set(og, "og:description", description);
    json_decref(description);
    return og;
}

int preview_url_host(const char *url, char *host, size_t n)
{
    const char *p = strncasecmp(url, "https://", 8) == 0  ? url + 8
                    : strncasecmp(url, "http://", 7) == 0 ? url + 7
                                                          : NULL;
    if (!p)
        return -1;
    size_t hl = strcspn(p, "/?#");
    if (memchr(p, '@', hl) || hl == 0)
        return -1; /* user information in a URL only serves to mislead */
    size_t host_len = p[0] == '[' ? hl : strcspn(p, ":/?#");
    if (host_len == 0 || host_len >= n)
        return -1;
    for (size_t i = 0; i < host_len; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[host_len] = '\0';
    return 0;
}

/* --- fetching ------------------------------------------------------------------------------ */

struct page {
    char *p;
    size_t n;
};

static size_t take(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct page *b = arg;
    size_t add = size * nmemb;
    if (b->n + add > MAX_PAGE)
        return 0; /* enough of it */
    char *q = realloc(b->p, b->n + add + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, ptr, add);
    b->p = q;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* Fetch url; the preview (new) or NULL. */
static json_t *fetch(const char *url)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    struct page pg = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Amtsbote URL preview");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    json_t *out = NULL;
    bool got = (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && pg.n >= MAX_PAGE)) && status == 200;
    if (got)
        out = ctype && strncasecmp(ctype, "text/html", 9) == 0
                  ? preview_parse_html(pg.p ? pg.p : "", pg.n)
                  : json_object(); /* not a page: nothing to show */
    curl_easy_cleanup(c);
    free(pg.p);
    return out;
}

json_t *preview_url(const struct config *cfg, const char *url, int *status, const char **errcode,
                    char *why, size_t n)
{
    char host[256];
    *status = 403;
    *errcode = "M_FORBIDDEN";
    if (!cfg->url_preview_enabled) {
        snprintf(why, n, "URL previews are disabled on this server");
        return NULL;
    }
    if (!url || strlen(url) > 2048 || preview_url_host(url, host, sizeof host) < 0) {
        *status = 400;
        *errcode = "M_INVALID_PARAM";
        snprintf(why, n, "url must be an http(s) URL");
        return NULL;
    }
    bool allowed = false;
    for (size_t i = 0; i < cfg->n_url_preview_domains; i++)
        allowed |= strcasecmp(cfg->url_preview_domains[i], host) == 0;
    if (!allowed) {
        snprintf(why, n, "Previews of %s are not allowed on this server", host);
        return NULL;
    }
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    json_t *cached = c ? db_preview_get(c, url, now - CACHE_MS) : NULL;
    db_put(c);
    if (json_is_object(cached))
        return cached;
    json_decref(cached);
    json_t *og = fetch(url);
    if (!og) {
        *status = 404;
        *errcode = "M_NOT_FOUND";
        snprintf(why, n, "Could not fetch a preview of that URL");
        return NULL;
    }
    char *text = json_dumps(og, JSON_COMPACT);
    if (text && (c = db_get()) != NULL) {
        db_preview_put(c, url, now, text);
        db_put(c);
    }
    free(text);
    return og;
}
