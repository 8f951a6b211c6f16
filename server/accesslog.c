/* accesslog.c - the access log line (Synapse writes one per request at INFO):
 *
 *   <client> <user or -> "<METHOD> <path>?<query>" <status> <ms>ms [<why it ended early>]
 *
 * Invariants:
 *  1. Secrets never reach the line: the values of the query parameters in `secret_params`
 *     and the path segment after a segment in `secret_after` are replaced by <redacted>
 *     before anything is written (keys are compared percent-decoded, so access%5Ftoken is
 *     caught too). Tokens in the Authorization header are never looked at.
 *  2. Everything copied from the request is escaped: bytes outside printable ASCII, '"' and
 *     '\' become \xNN, so a crafted path or X-Forwarded-For cannot forge or split lines.
 *  3. The line is bounded (ACCESSLOG_MAX); a longer one ends in "...". */
#include "server/accesslog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* query parameters whose values are secrets */
static const char *const secret_params[] = {
    "access_token", /* the deprecated query form of the access token */
    "token",        /* registration token validity check */
    "client_secret", "sid", "loginToken", "login_token", "password",
};
/* path segments after which the next segment is a secret, unless it is a fixed word */
static const struct {
    const char *segment, *except;
} secret_after[] = {
    {"registration_tokens", "new"}, /* /_synapse/admin/v1/registration_tokens/{token} */
};

static void put_raw(struct accesslog *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 1 - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

/* Copy n bytes escaped (invariant 2). */
static void put_esc(struct accesslog *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            char hex[5];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            put_raw(l, hex, 4);
        } else {
            put_raw(l, (const char *)&s[i], 1);
        }
    }
}

static void put_str(struct accesslog *l, const char *s)
{
    put_esc(l, s, strlen(s));
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Whether the percent-encoded `key` decodes to one of secret_params. */
static bool secret_key(const char *key)
{
    char dec[32];
    size_t n = 0;
    for (const char *p = key; *p; p++) {
        if (n + 1 >= sizeof dec)
            return false; /* longer than any secret name */
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            dec[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            dec[n++] = *p;
        }
    }
    dec[n] = '\0';
    for (size_t i = 0; i < sizeof secret_params / sizeof secret_params[0]; i++)
        if (strcmp(dec, secret_params[i]) == 0)
            return true;
    return false;
}

/* The path, its secret segments masked (secret_after), escaped. */
static void put_path(struct accesslog *l, const char *path)
{
    bool mask_next = false;
    const char *except = NULL;
    for (const char *seg = path;;) {
        size_t n = strcspn(seg, "/");
        if (mask_next && n && !(strlen(except) == n && memcmp(seg, except, n) == 0))
            put_raw(l, "<redacted>", 10);
        else
            put_esc(l, seg, n);
        mask_next = false;
        for (size_t i = 0; i < sizeof secret_after / sizeof secret_after[0]; i++) {
            if (strlen(secret_after[i].segment) == n &&
                memcmp(seg, secret_after[i].segment, n) == 0) {
                mask_next = true;
                except = secret_after[i].except;
            }
        }
        if (!seg[n])
            break;
        put_raw(l, "/", 1);
        seg += n + 1;
    }
}

void accesslog_begin(struct accesslog *l, const char *client, const char *user,
                     const char *method, const char *path)
{
    l->len = 0;
    l->n_query = 0;
    l->buf[0] = '\0';
    put_str(l, client && *client ? client : "-");
    put_raw(l, " ", 1);
    put_str(l, user ? user : "-");
    put_raw(l, " \"", 2);
    put_str(l, method);
    put_raw(l, " ", 1);
    put_path(l, path);
}

void accesslog_path(struct accesslog *l, const char *path)
{
    l->len = 0;
    l->n_query = 0;
    l->buf[0] = '\0';
    put_path(l, path);
}

void accesslog_query(struct accesslog *l, const char *key, const char *value)
{
    put_raw(l, l->n_query++ ? "&" : "?", 1);
    put_str(l, key);
    if (!value)
        return;
    put_raw(l, "=", 1);
    if (secret_key(key))
        put_raw(l, "<redacted>", 10);
    else
        put_str(l, value);
}

void accesslog_end(struct accesslog *l, int status, double ms, const char *aborted)
{
    char tail[96];
    snprintf(tail, sizeof tail, "\" %d %.1fms%s%s", status, ms, aborted ? " " : "",
             aborted ? aborted : "");
    size_t need = strlen(tail);
    if (l->len + need + 3 >= sizeof l->buf) { /* invariant 3: keep the tail, mark the cut */
        l->len = sizeof l->buf - 1 - need - 3;
        put_raw(l, "...", 3);
    }
    put_raw(l, tail, need);
}
