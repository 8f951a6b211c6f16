/* xmatrix.c - the X-Matrix Authorization scheme (Server-Server API "Request Authentication";
 * header syntax per RFC 9110 s.11.4 and s.5.6.2, as the spec requires).
 *
 * A request is signed by wrapping method, uri (path and query as sent), origin, destination
 * and the parsed JSON body ("content", only when there is a body) in an object and signing
 * that with the JSON signing algorithm. Invariants:
 *   1. The parser reads at most XMATRIX_HEADER_MAX bytes and never more than `len`; every
 *      value is bounded by its field and NUL-terminated; nothing is allocated.
 *   2. A header parses only if origin, key and sig are present once each and origin (and
 *      destination, when given) is a server name: the caller may use them as such. */
#include "server/xmatrix.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/ids.h"

/* RFC 9110 tchar. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The parameters the scheme defines: name, destination field, its size. */
struct param {
    const char *name;
    size_t off, size;
};
#define P(n, f)                                                                                    \
    {                                                                                              \
        n, offsetof(struct xmatrix_auth, f), sizeof(((struct xmatrix_auth *)0)->f)                 \
    }
static const struct param params[] = {
    P("origin", origin),
    P("destination", destination),
    P("key", key),
    P("sig", sig),
};
#undef P
#define N_PARAMS (sizeof params / sizeof params[0])

/* Read one value at s[*i] into buf (cap bytes with the NUL). Returns 0, or -1 when malformed,
 * too long or holding control bytes. *i ends after the value. */
static int read_value(const char *s, size_t len, size_t *i, char *buf, size_t cap)
{
    size_t n = 0;
    if (*i < len && s[*i] == '"') {
        for ((*i)++;; (*i)++) {
            if (*i >= len)
                return -1; /* unterminated */
            unsigned char c = (unsigned char)s[*i];
            if (c == '"')
                break;
            if (c == '\\') {
                if (++*i >= len)
                    return -1;
                c = (unsigned char)s[*i];
            }
            if (c < 0x20 || c == 0x7f || n + 1 >= cap)
                return -1;
            buf[n++] = (char)c;
        }
        (*i)++;
    } else {
        /* a token; ':' allowed for older servers, as the spec asks of recipients */
        for (; *i < len && (tchar((unsigned char)s[*i]) || s[*i] == ':'); (*i)++) {
            if (n + 1 >= cap)
                return -1;
            buf[n++] = s[*i];
        }
        if (!n)
            return -1;
    }
    buf[n] = '\0';
    return 0;
}

int xmatrix_parse(const char *hdr, size_t len, struct xmatrix_auth *out)
{
    static const char scheme[] = "X-Matrix";
    bool seen[N_PARAMS] = {false};
    char junk[XMATRIX_HEADER_MAX];
    size_t i = 0;

    memset(out, 0, sizeof *out);
    if (!hdr || len > XMATRIX_HEADER_MAX || len < sizeof scheme ||
        strncasecmp(hdr, scheme, sizeof scheme - 1) != 0 || hdr[sizeof scheme - 1] != ' ')
        return -1;
    for (i = sizeof scheme - 1; i < len && hdr[i] == ' '; i++)
        ;
    while (i < len) {
        if (hdr[i] == ',') { /* an empty list element (RFC 9110 s.5.6.1) */
            for (i++; i < len && ows(hdr[i]); i++)
                ;
            continue;
        }
        size_t name = i;
        while (i < len && tchar((unsigned char)hdr[i]))
            i++;
        size_t name_len = i - name;
        if (!name_len || i >= len || hdr[i] != '=')
            return -1;
        i++;
        const struct param *p = NULL;
        for (size_t k = 0; k < N_PARAMS; k++)
            if (strlen(params[k].name) == name_len &&
                strncasecmp(params[k].name, hdr + name, name_len) == 0)
                p = &params[k];
        if (p) {
            if (seen[p - params])
                return -1;
            seen[p - params] = true;
            if (read_value(hdr, len, &i, (char *)out + p->off, p->size) < 0)
                return -1;
        } else if (read_value(hdr, len, &i, junk, sizeof junk) < 0) {
            return -1;
        }
        while (i < len && ows(hdr[i]))
            i++;
        if (i == len)
            break;
        if (hdr[i] != ',')
            return -1;
        for (i++; i < len && ows(hdr[i]); i++)
            ;
    }
    if (!seen[0] || !seen[2] || !seen[3])
        return -1;
    if (!ids_server_name_valid(out->origin, strlen(out->origin)) ||
        (seen[1] && !ids_server_name_valid(out->destination, strlen(out->destination))) ||
        strncmp(out->key, "ed25519:", 8) != 0 || !out->key[8])
        return -1;
    return 0;
}

json_t *xmatrix_request_json(const char *method, const char *uri, const char *origin,
                             const char *destination, json_t *content)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "method", method, "uri", uri, "origin", origin,
                          "destination", destination);
    if (o && content && json_object_set(o, "content", content) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *xmatrix_sign_header(const struct sign_key *k, const char *origin, const char *destination,
                          const char *method, const char *uri, json_t *content)
{
    char *hdr = NULL;
    json_t *o = xmatrix_request_json(method, uri, origin, destination, content);
    if (!o || sign_json(o, origin, k) < 0)
        goto out;
    const char *sig = json_string_value(
        json_object_get(json_object_get(json_object_get(o, "signatures"), origin), k->key_id));
    if (!sig)
        goto out;
    size_t n = strlen(origin) + strlen(destination) + strlen(k->key_id) + strlen(sig) + 64;
    hdr = malloc(n);
    if (hdr &&
        (size_t)snprintf(hdr, n, "X-Matrix origin=\"%s\",destination=\"%s\",key=\"%s\",sig=\"%s\"",
                         origin, destination, k->key_id, sig) >= n) {
        free(hdr);
        hdr = NULL;
    }
out:
    json_decref(o);
    return hdr;
}

int xmatrix_verify(const struct xmatrix_auth *a, const char *method, const char *uri,
                   const char *destination, json_t *content, const uint8_t pk[32])
{
    int rc = -1;
    json_t *o = xmatrix_request_json(method, uri, a->origin, destination, content);
    if (o && json_object_set_new(o, "signatures",
                                 json_pack("{s:{s:s}}", a->origin, a->key, a->sig)) == 0)
        rc = sign_verify_json(o, a->origin, a->key, pk);
    json_decref(o);
    return rc;
}
