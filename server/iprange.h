/* iprange.h - IP address ranges (CIDR) for the outbound address policy: Synapse's
 * ip_range_blacklist / ip_range_whitelist semantics. Pure functions. */
#ifndef AMTSBOTE_IPRANGE_H
#define AMTSBOTE_IPRANGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A range over the 128-bit IPv6 form; IPv4 is held as ::ffff:a.b.c.d with 96 added to the
 * prefix, so IPv4-mapped IPv6 addresses match IPv4 ranges. */
struct iprange {
    uint8_t addr[16];
    int prefix; /* 0-128 */
};

/* Synapse's default ip_range_blacklist, space-separated: loopback, private, link-local,
 * shared, documentation, multicast and reserved ranges of IPv4 and IPv6. */
#define IPRANGE_DEFAULT_BLACKLIST                                                                  \
    "127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 192.0.0.0/24 "              \
    "169.254.0.0/16 192.88.99.0/24 198.18.0.0/15 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 "     \
    "224.0.0.0/4 ::1/128 fe80::/10 fc00::/7 2001:db8::/32 ff00::/8 fec0::/10"

/* Parse "a.b.c.d[/p]" or "v6[/p]" (len bytes); no prefix means one address. Returns 0, or -1
 * when malformed or the prefix is out of range. */
int iprange_parse(const char *s, size_t len, struct iprange *out);
/* The same check for the configuration walker. */
bool iprange_ok(const char *s, size_t len);

/* addr16 (IPv6 form) into from a sockaddr (AF_INET or AF_INET6). 0, or -1 for other
 * families. */
int iprange_from_sockaddr(const struct sockaddr *sa, uint8_t addr16[16]);

/* Whether addr16 falls in any of the n ranges. */
bool iprange_match(const struct iprange *r, size_t n, const uint8_t addr16[16]);

/* The outbound policy: the unspecified addresses (0.0.0.0, ::) never; else allowed when
 * whitelisted, refused when blacklisted, allowed otherwise. */
bool iprange_allowed(const struct iprange *black, size_t n_black, const struct iprange *white,
                     size_t n_white, const uint8_t addr16[16]);

#endif
