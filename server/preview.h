/* preview.h - URL previews (Client-Server API "Content repository": preview_url). */
#ifndef AMTSBOTE_PREVIEW_H
#define AMTSBOTE_PREVIEW_H
#include <jansson.h>
#include <stddef.h>

#include "server/config.h"

/* The Open Graph data of an HTML page (pure: no I/O): og:* meta properties, with og:title
 * from <title> and og:description from <meta name="description"> when the page has none;
 * entities decoded, values at most 1000 bytes; image properties left out (images are not
 * fetched). New object. */
json_t *preview_parse_html(const char *html, size_t len);

/* The host of an http or https URL, lower-cased, into host (at least 256 bytes). 0, or -1 when the
 * URL is not http(s), has user information, or no host. */
int preview_url_host(const char *url, char *host, size_t n);

struct ipfilter;
/* Start-up: the addresses previews may connect to (borrowed for the server's life). */
void preview_set_filter(const struct ipfilter *f);

enum preview_rc { PREVIEW_ANSWER, PREVIEW_FETCH };
/* GET preview_url, the quick part (no fetching). PREVIEW_ANSWER: answer now, with *out (new:
 * the cached preview) or, when *out is NULL, *status, *errcode and why (403 when previews are
 * off or the host is not allow-listed, 400 for a bad URL, 429 when user_id already has
 * enough previews in flight). PREVIEW_FETCH: a slot of user_id's is taken; the caller must
 * call preview_fetch exactly once, which gives it back. */
enum preview_rc preview_check(const struct config *cfg, const char *url, const char *user_id,
                              json_t **out, int *status, const char **errcode, char *why,
                              size_t n);

/* The page's Open Graph data (new, taken by the callee), or NULL when it could not be
 * fetched. Runs on the outbound client's thread, or on the caller's: must not block. */
typedef void (*preview_done_fn)(void *arg, json_t *og);
/* Fetch `url` for user_id (after preview_check said PREVIEW_FETCH) without blocking:
 * done(arg, og) runs exactly once, possibly before this returns. */
void preview_fetch(const char *url, const char *user_id, preview_done_fn done, void *arg);
/* Cache a fetched preview for an hour. */
void preview_store(const char *url, const json_t *og);

#endif
