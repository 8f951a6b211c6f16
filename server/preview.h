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

/* GET preview_url: the preview of `url` (new), or NULL with *status, *errcode and why: 403 when
 * previews are off or the host is not allow-listed, 404 when the page cannot be fetched. */
json_t *preview_url(const struct config *cfg, const char *url, int *status, const char **errcode,
                    char *why, size_t n);

#endif
