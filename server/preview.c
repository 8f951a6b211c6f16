/* preview.c - URL previews, off by default: fetching a link tells its web server who reads
 * what, so an agency turns them on only for hosts it trusts (url_preview_enabled and
 * url_preview_domain_whitelist). A preview is fetched through the outbound HTTP client from an
 * allow-listed host only (http and https, no redirects, the first 1 MiB, 10 s), at an address
 * url_preview_ip_range_blacklist / _whitelist allow (checked when connecting, after DNS: an
 * allow-listed name resolving to an internal address fetches nothing), parsed for Open Graph
 * data, and cached for an hour. Images are not fetched, so og:image is left out.
 *
 * The fetch runs off the HTTP worker threads: the request parks (server/httpjob.h) while the
 * outbound client waits for the site, and each user has at most PREVIEW_PER_USER previews in
 * flight (429 M_LIMIT_EXCEEDED beyond), so a slow site holds no worker. */
#include "server/preview.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/outbound.h"
#include "server/userslots.h"
#include "storage/preview.h"

#define MAX_PAGE (1 << 20)
#define MAX_VALUE 1000
#define CACHE_MS 3600000
#define FETCH_TIMEOUT_MS 10000
#define PREVIEW_PER_USER 3 /* previews in flight per user; more: 429 */

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
    struct outbound_url u;
    if (!url || outbound_url_parse(url, &u) < 0 || u.has_userinfo)
        return -1; /* user information in a URL only serves to mislead */
    bool v6 = strchr(u.host, ':') != NULL;
    int w = snprintf(host, n, "%s%s%s", v6 ? "[" : "", u.host, v6 ? "]" : "");
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* --- fetching ------------------------------------------------------------------------------ */

static const struct ipfilter *filter;
static struct userslots in_flight = USERSLOTS_INIT;

void preview_set_filter(const struct ipfilter *f)
{
    filter = f;
}

enum preview_rc preview_check(const struct config *cfg, const char *url, const char *user_id,
                              json_t **out, int *status, const char **errcode, char *why,
                              size_t n)
{
    char host[256];
    *out = NULL;
    *status = 403;
    *errcode = "M_FORBIDDEN";
    if (!cfg->url_preview_enabled) {
        snprintf(why, n, "URL previews are disabled on this server");
        return PREVIEW_ANSWER;
    }
    if (!url || strlen(url) > 2048 || preview_url_host(url, host, sizeof host) < 0) {
        *status = 400;
        *errcode = "M_INVALID_PARAM";
        snprintf(why, n, "url must be an http(s) URL");
        return PREVIEW_ANSWER;
    }
    bool allowed = false;
    for (size_t i = 0; i < cfg->n_url_preview_domains; i++)
        allowed |= strcasecmp(cfg->url_preview_domains[i], host) == 0;
    if (!allowed) {
        snprintf(why, n, "Previews of %s are not allowed on this server", host);
        return PREVIEW_ANSWER;
    }
    int64_t now = clock_now_ms();
    struct dbc *c = db_get();
    json_t *cached = c ? db_preview_get(c, url, now - CACHE_MS) : NULL;
    db_put(c);
    if (json_is_object(cached)) {
        *out = cached;
        return PREVIEW_ANSWER;
    }
    json_decref(cached);
    if (!userslots_take(&in_flight, user_id, PREVIEW_PER_USER)) {
        *status = 429;
        *errcode = "M_LIMIT_EXCEEDED";
        snprintf(why, n, "Too many previews in progress; try again shortly");
        return PREVIEW_ANSWER;
    }
    return PREVIEW_FETCH;
}

struct fetch {
    char *user_id;
    preview_done_fn done;
    void *arg;
};

/* The outbound client's callback: the page's Open Graph data, or NULL. */
static void fetched(void *arg, struct outbound_res *res)
{
    struct fetch *f = arg;
    json_t *og = NULL;
    if (res->err == OUTBOUND_OK && res->status == 200)
        og = strncasecmp(res->content_type, "text/html", 9) == 0
                 ? preview_parse_html(res->body ? res->body : "", res->len)
                 : json_object(); /* not a page: nothing to show */
    else if (res->err == OUTBOUND_E_BLOCKED)
        log_warn("preview: refused to connect to an address url_preview_ip_range_blacklist "
                 "lists");
    userslots_give(&in_flight, f->user_id);
    f->done(f->arg, og);
    free(f->user_id);
    free(f);
}

void preview_fetch(const char *url, const char *user_id, preview_done_fn done, void *arg)
{
    struct fetch *f = calloc(1, sizeof *f);
    struct outbound_req r = {.url = url,
                             .timeout_ms = FETCH_TIMEOUT_MS,
                             .max_body = MAX_PAGE,
                             .truncate = true, /* the head of a long page is enough */
                             .filter = filter,
                             .user_agent = "Amtsbote URL preview"};
    if (f && (f->user_id = strdup(user_id)) != NULL) {
        f->done = done;
        f->arg = arg;
        if (outbound_submit(&r, fetched, f) == 0)
            return;
    }
    if (f)
        free(f->user_id);
    free(f);
    userslots_give(&in_flight, user_id);
    done(arg, NULL);
}

void preview_store(const char *url, const json_t *og)
{
    char *text = json_dumps(og, JSON_COMPACT);
    struct dbc *c;
    if (text && (c = db_get()) != NULL) {
        db_preview_put(c, url, clock_now_ms(), text);
        db_put(c);
    }
    free(text);
}
