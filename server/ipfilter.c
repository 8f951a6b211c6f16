/* ipfilter.c - IP range filters for outbound connections, checked on the address actually
 * connected to (server/outbound.c calls ipfilter_allows from libcurl's open-socket callback,
 * after DNS), so a name that resolves, or later re-resolves, to an internal address gains
 * nothing.
 *
 * Invariants:
 *  1. Every range is kept as a 16-byte IPv6 prefix; IPv4 ranges as IPv4-mapped prefixes
 *     (::ffff:0:0/96 + the IPv4 prefix), so an IPv4-mapped IPv6 address is judged as the IPv4
 *     address it is.
 *  2. An address is refused when it lies in a deny range and in no allow range (Synapse's
 *     rule: the whitelist carves exceptions out of the blacklist). */
#include "server/ipfilter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct range {
    uint8_t addr[16];
    int prefix; /* 0..128 */
};

struct ipfilter {
    struct range *deny, *allow;
    size_t n_deny, n_allow;
};

const char *const ipfilter_default_deny[] = {
    "127.0.0.0/8",     "10.0.0.0/8",      "172.16.0.0/12",  "192.168.0.0/16", "100.64.0.0/10",
    "192.0.0.0/24",    "169.254.0.0/16",  "192.88.99.0/24", "198.18.0.0/15",  "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24",  "224.0.0.0/4",    "0.0.0.0/8",      "::1/128",
    "fe80::/10",       "fc00::/7",        "2001:db8::/32",  "ff00::/8",       "fec0::/10",
    "::/128",          NULL};

static void map4(const uint8_t v4[4], uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

/* Parse "addr[/prefix]" of s[0..len) into r. 0 or -1. */
static int parse_range(const char *s, size_t len, struct range *r)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        if (!slash[1] || slash[1] == '-' || slash[1] == '+')
            return -1;
        prefix = strtol(slash + 1, &end, 10);
        if (*end)
            return -1;
    }
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) {
        if (prefix > 32)
            return -1;
        map4(v4, r->addr);
        r->prefix = (int)(prefix < 0 ? 128 : 96 + prefix);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, r->addr) == 1) {
        if (prefix > 128)
            return -1;
        r->prefix = (int)(prefix < 0 ? 128 : prefix);
        return 0;
    }
    return -1;
}

bool ipfilter_range_ok(const char *s, size_t len)
{
    struct range r;
    return parse_range(s, len, &r) == 0;
}

static struct range *parse_list(const char *const *l, size_t n, char *err, size_t errlen)
{
    struct range *out = calloc(n ? n : 1, sizeof *out);
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_range(l[i], strlen(l[i]), &out[i]) < 0) {
            snprintf(err, errlen, "'%s' is not an IP range such as 10.0.0.0/8 or fc00::/7", l[i]);
            free(out);
            return NULL;
        }
    }
    return out;
}

struct ipfilter *ipfilter_new(const char *const *deny, size_t n_deny, const char *const *allow,
                              size_t n_allow, char *err, size_t errlen)
{
    if (!deny) {
        deny = ipfilter_default_deny;
        for (n_deny = 0; deny[n_deny]; n_deny++)
            ;
    }
    struct ipfilter *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->deny = parse_list(deny, n_deny, err, errlen);
    f->allow = f->deny ? parse_list(allow, allow ? n_allow : 0, err, errlen) : NULL;
    if (!f->deny || !f->allow) {
        ipfilter_free(f);
        return NULL;
    }
    f->n_deny = n_deny;
    f->n_allow = allow ? n_allow : 0;
    return f;
}

void ipfilter_free(struct ipfilter *f)
{
    if (!f)
        return;
    free(f->deny);
    free(f->allow);
    free(f);
}

static bool in_range(const struct range *r, const uint8_t a[16])
{
    int full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, a, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

static bool in_any(const struct range *l, size_t n, const uint8_t a[16])
{
    for (size_t i = 0; i < n; i++)
        if (in_range(&l[i], a))
            return true;
    return false;
}

static bool allows16(const struct ipfilter *f, const uint8_t a[16])
{
    return !in_any(f->deny, f->n_deny, a) || in_any(f->allow, f->n_allow, a);
}

bool ipfilter_allows(const struct ipfilter *f, const struct sockaddr *sa)
{
    uint8_t a[16];
    if (sa->sa_family == AF_INET)
        map4((const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr, a);
    else if (sa->sa_family == AF_INET6)
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    else
        return false;
    return !f || allows16(f, a);
}

bool ipfilter_allows_text(const struct ipfilter *f, const char *ip)
{
    uint8_t a[16], v4[4];
    if (inet_pton(AF_INET, ip, v4) == 1)
        map4(v4, a);
    else if (inet_pton(AF_INET6, ip, a) != 1)
        return false;
    return !f || allows16(f, a);
}
