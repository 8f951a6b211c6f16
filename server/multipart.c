/* multipart.c - reading the multipart/mixed answers of the federation media endpoints
 * (Server-Server API "Content Repository": a JSON part, then the media or a Location), as RFC
 * 2046 frames them: parts between "--boundary" delimiters, the CRLF before a delimiter
 * belonging to it, headers up to an empty line. A pure function over bytes: no I/O, never
 * reads outside [buf, buf+len), answers -1 to anything else. */
#include "server/multipart.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first occurrence of needle (m bytes) in hay (n bytes), or NULL (memmem is a GNU
 * extension). */
static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m && i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* The first occurrence of needle in s ignoring ASCII case, or NULL. */
static const char *find_ci(const char *s, const char *needle)
{
    size_t m = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, m) == 0)
            return s;
    return NULL;
}

/* Copy header value [v, v+n) into out (cap), trimmed; false when it does not fit. */
static bool header_value(const char *v, size_t n, char *out, size_t cap)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* The boundary parameter of a multipart/mixed Content-Type into out. 0 or -1. */
static int boundary_of(const char *ctype, char out[MULTIPART_BOUNDARY_MAX + 1])
{
    if (strncasecmp(ctype, "multipart/mixed", 15) != 0)
        return -1;
    const char *b = find_ci(ctype, "boundary=");
    if (!b)
        return -1;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        n = strcspn(b, "\"");
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n > MULTIPART_BOUNDARY_MAX)
        return -1;
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

/* Split a multipart/mixed answer into its first two parts (RFC 2046: the CRLF before a
 * delimiter belongs to it). 0, or -1 when it is not one. */
int multipart_parse(const char *buf, size_t len, const char *ctype, struct multipart_part p[2])
{
    char b[MULTIPART_BOUNDARY_MAX + 1], delim[MULTIPART_BOUNDARY_MAX + 5];
    if (!buf || boundary_of(ctype, b) < 0)
        return -1;
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", b);
    memset(p, 0, 2 * sizeof *p);
    /* the first delimiter may open the body without the CRLF; else a preamble comes first */
    const char *at;
    if (len >= (size_t)dl - 2 && memcmp(buf, delim + 2, (size_t)dl - 2) == 0) {
        at = buf + dl - 2;
    } else {
        at = find(buf, len, delim, (size_t)dl);
        if (at)
            at += dl;
    }
    const char *end = buf + len;
    for (int i = 0; i < 2; i++) {
        if (!at || end - at < 2 || memcmp(at, "\r\n", 2) != 0)
            return -1;
        at += 2;
        /* headers up to an empty line (which may come at once: no headers) */
        const char *hend = end - at >= 2 && memcmp(at, "\r\n", 2) == 0
                               ? at - 2
                               : find(at, (size_t)(end - at), "\r\n\r\n", 4);
        if (!hend)
            return -1;
        for (const char *line = at; line < hend;) {
            const char *eol = find(line, (size_t)(hend - line), "\r\n", 2);
            if (!eol)
                eol = hend;
            const char *colon = memchr(line, ':', (size_t)(eol - line));
            if (colon) {
                size_t nl = (size_t)(colon - line), vl = (size_t)(eol - colon - 1);
                if (nl == 12 && strncasecmp(line, "Content-Type", 12) == 0)
                    header_value(colon + 1, vl, p[i].type, sizeof p[i].type);
                else if (nl == 19 && strncasecmp(line, "Content-Disposition", 19) == 0)
                    header_value(colon + 1, vl, p[i].disposition, sizeof p[i].disposition);
                else if (nl == 8 && strncasecmp(line, "Location", 8) == 0)
                    header_value(colon + 1, vl, p[i].location, sizeof p[i].location);
            }
            line = eol + 2;
        }
        p[i].body = hend + 4;
        const char *next = find(p[i].body, (size_t)(end - p[i].body), delim, (size_t)dl);
        if (!next)
            return -1;
        p[i].len = (size_t)(next - p[i].body);
        at = next + dl;
    }
    return 0;
}

/* The file name of a Content-Disposition (filename*=utf-8''… or filename="…") into out;
 * "" when none. */
void multipart_filename(const char *disp, char *out, size_t cap)
{
    out[0] = '\0';
    const char *f = find_ci(disp, "filename*=utf-8''");
    size_t o = 0;
    if (f) {
        for (f += 17; *f && *f != ';' && o + 1 < cap; f++) {
            if (*f == '%' && isxdigit((unsigned char)f[1]) && isxdigit((unsigned char)f[2])) {
                char h[3] = {f[1], f[2], 0};
                out[o++] = (char)strtol(h, NULL, 16);
                f += 2;
            } else {
                out[o++] = *f;
            }
        }
    } else if ((f = find_ci(disp, "filename="))) {
        f += 9;
        bool q = *f == '"';
        for (f += q; *f && (q ? *f != '"' : *f != ';') && o + 1 < cap; f++)
            out[o++] = *f;
    }
    out[o] = '\0';
    for (size_t i = 0; i < o; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[0] = '\0'; /* control characters (and a NUL cut short) : no name */
}
