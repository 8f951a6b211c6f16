/* ids.c - Matrix identifier grammar (spec appendix "Identifier Grammar": server names, user
 * IDs and their localparts) and the random IDs this server mints.
 *
 * The validators are pure functions over (pointer, length) and read exactly `len` bytes, so
 * an embedded NUL is just an invalid character. Server names follow the appendix's ABNF plus
 * its prose: a hostname of digits and dots only is an IPv4 literal and needs numbers 0-255,
 * and a bracketed IPv6 literal must parse as an address. The random IDs draw each character
 * with randombytes_uniform (no modulo bias); libsodium must have been initialised. */
#include "server/ids.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

static const char *local_server = "";

void ids_set_local_server(const char *server_name)
{
    local_server = server_name ? server_name : "";
}

const char *ids_local_server(void)
{
    return local_server;
}

const char *ids_server_of(const char *id)
{
    const char *colon = id ? strchr(id, ':') : NULL;
    return colon && colon[1] ? colon + 1 : NULL;
}

bool ids_is_local_server(const char *server)
{
    return server && *local_server && strcmp(server, local_server) == 0;
}

bool ids_is_local(const char *id)
{
    return ids_is_local_server(ids_server_of(id));
}

/* user_id_char = DIGIT / %x61-7A / "-" / "." / "=" / "_" / "/" / "+" */
bool ids_localpart_valid(const char *lp, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = lp[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '=' || c == '-' || c == '/' || c == '+'))
            return false;
    }
    return true;
}

/* %x21-39 / %x3B-7E: printable ASCII but ':' */
bool ids_localpart_historical_valid(const char *lp, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)lp[i];
        if (c < 0x21 || c > 0x7e || c == ':')
            return false;
    }
    return true;
}

/* A dotted quad of decimal numbers 0-255 (the spec's prose on IPv4 literals). */
static bool valid_ipv4(const char *s, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        unsigned v = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255)
            return false;
        parts++;
        if (i == len)
            break;
        if (s[i] != '.' || parts == 4)
            return false;
        i++;
        if (i == len)
            return false;
    }
    return parts == 4;
}

/* IPv6address = 2*45IPv6char, and (the spec's prose) an address as RFC 3513 section 2.2
 * writes it, which inet_pton checks. */
static bool valid_ipv6(const char *s, size_t len)
{
    char buf[46];
    unsigned char addr[16];
    if (len < 2 || len > 45)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == ':' || c == '.'))
            return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

/* dns-name = 1*255dns-char; dns-char = DIGIT / ALPHA / "-" / ".". A name of digits and dots
 * only would also match IPv4address, so it must be a valid dotted quad. */
static bool valid_host(const char *s, size_t len)
{
    bool ipv4_chars = true;
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')
            ipv4_chars = false;
        else if (!((c >= '0' && c <= '9') || c == '.'))
            return false;
    }
    return !ipv4_chars || valid_ipv4(s, len);
}

/* server_name = hostname [ ":" port ]; port = 1*5DIGIT */
bool ids_server_name_valid(const char *s, size_t len)
{
    size_t host_len;
    if (len == 0)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || !valid_ipv6(s + 1, (size_t)(close - s) - 1))
            return false;
        host_len = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (!valid_host(s, host_len))
            return false;
    }
    if (host_len == len)
        return true;
    if (s[host_len] != ':')
        return false;
    size_t digits = len - host_len - 1;
    if (digits < 1 || digits > 5)
        return false;
    for (size_t i = host_len + 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* user_id = "@" localpart ":" server_name, at most 255 bytes; the first ':' ends the
 * localpart, as no localpart may contain one. */
int ids_user_id_split(const char *uid, const char **lp, size_t *lp_len, const char **server,
                      size_t *server_len)
{
    size_t len = strnlen(uid, IDS_USER_ID_MAX + 1);
    if (len < 4 || len > IDS_USER_ID_MAX || uid[0] != '@')
        return -1;
    const char *colon = strchr(uid + 1, ':');
    if (!colon)
        return -1;
    size_t l = (size_t)(colon - uid) - 1;
    if (!ids_localpart_historical_valid(uid + 1, l))
        return -1;
    size_t sl = len - l - 2;
    if (!ids_server_name_valid(colon + 1, sl))
        return -1;
    *lp = uid + 1;
    *lp_len = l;
    *server = colon + 1;
    *server_len = sl;
    return 0;
}

static void random_from(char *out, size_t n, const char *alpha, uint32_t size)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alpha[randombytes_uniform(size)];
    out[n] = '\0';
}

void ids_random_upper(char *out, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    random_from(out, n, alpha, sizeof alpha - 1);
}

void ids_random_alnum(char *out, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_from(out, n, alpha, sizeof alpha - 1);
}
