/* iprange.c - CIDR ranges and the outbound address policy (Synapse's ip_range_blacklist and
 * ip_range_whitelist: the whitelist wins; 0.0.0.0 and :: are always refused).
 *
 * Every address is compared in its 128-bit IPv6 form, IPv4 as ::ffff:0:0/96, so that an
 * IPv4-mapped IPv6 address cannot slip past an IPv4 rule. */
#include "server/iprange.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void v4_mapped(uint8_t out[16], const uint8_t v4[4])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

int iprange_parse(const char *s, size_t len, struct iprange *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    uint8_t a[16];
    if (!s || len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len))
        return -1;
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -1;
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            prefix = prefix * 10 + (*p - '0');
        }
    }
    if (inet_pton(AF_INET, buf, a) == 1) {
        if (prefix > 32)
            return -1;
        v4_mapped(out->addr, a);
        out->prefix = (prefix < 0 ? 32 : prefix) + 96;
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        if (prefix > 128)
            return -1;
        memcpy(out->addr, a, 16);
        out->prefix = prefix < 0 ? 128 : prefix;
    } else {
        return -1;
    }
    return 0;
}

bool iprange_ok(const char *s, size_t len)
{
    struct iprange r;
    return iprange_parse(s, len, &r) == 0;
}

int iprange_from_sockaddr(const struct sockaddr *sa, uint8_t addr16[16])
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        v4_mapped(addr16, (const uint8_t *)&in->sin_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(addr16, &in6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

static bool in_range(const struct iprange *r, const uint8_t a[16])
{
    int full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, a, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

bool iprange_match(const struct iprange *r, size_t n, const uint8_t addr16[16])
{
    for (size_t i = 0; i < n; i++)
        if (in_range(&r[i], addr16))
            return true;
    return false;
}

bool iprange_allowed(const struct iprange *black, size_t n_black, const struct iprange *white,
                     size_t n_white, const uint8_t addr16[16])
{
    static const uint8_t zero[16];
    uint8_t v4zero[16];
    v4_mapped(v4zero, zero);
    if (memcmp(addr16, zero, 16) == 0 || memcmp(addr16, v4zero, 16) == 0)
        return false;
    if (iprange_match(white, n_white, addr16))
        return true;
    return !iprange_match(black, n_black, addr16);
}
