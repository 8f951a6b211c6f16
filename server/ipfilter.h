/* ipfilter.h - which IP addresses outbound HTTP may connect to (Synapse's ip_range_blacklist
 * and ip_range_whitelist, url_preview_ip_range_blacklist/whitelist). */
#ifndef AMTSBOTE_IPFILTER_H
#define AMTSBOTE_IPFILTER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct ipfilter;

/* Synapse's default blacklist (loopback, private, link-local, CGNAT, documentation, multicast,
 * unique-local, site-local) plus 0.0.0.0/8 and ::/128, NULL-terminated. */
extern const char *const ipfilter_default_deny[];

/* A filter refusing every address that lies in a `deny` range and in no `allow` range.
 * deny == NULL means ipfilter_default_deny (n_deny ignored); allow may be NULL. Ranges are
 * "10.0.0.0/8", "::1/128" or a bare address; IPv4 ranges also match IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d). Returns a new filter (ipfilter_free), or NULL with the
 * offending range named in err. */
struct ipfilter *ipfilter_new(const char *const *deny, size_t n_deny, const char *const *allow,
                              size_t n_allow, char *err, size_t errlen);
/* NULL is a no-op. */
void ipfilter_free(struct ipfilter *f);
/* Whether f lets a connection to sa (AF_INET or AF_INET6) through; other families: no. A NULL
 * filter allows everything. */
bool ipfilter_allows(const struct ipfilter *f, const struct sockaddr *sa);
/* The same for an address in text form; false when it is not an IP address. */
bool ipfilter_allows_text(const struct ipfilter *f, const char *ip);
/* A well-formed range (for the configuration's checks). */
bool ipfilter_range_ok(const char *s, size_t len);

#endif
