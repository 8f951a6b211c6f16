/* ids.c - Matrix identifier grammar (spec appendix "Identifier Grammar": user IDs, server
 * names) and the random opaque IDs this server mints. Pure functions plus libsodium's RNG. */
#include "server/ids.h"

#include <sodium.h>
#include <string.h>

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

static bool all_ipv4_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    return true;
}

bool ids_server_name_valid(const char *s, size_t len)
{
    size_t host_len = len;
    if (len == 0 || len > 255)
        return false;
    if (s[0] == '[') { /* IPv6 literal: 2-45 chars of [0-9A-Fa-f:.] inside brackets */
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        size_t in = (size_t)(close - s) - 1;
        if (in < 2 || in > 45)
            return false;
        for (size_t i = 1; i <= in; i++) {
            char c = s[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return false;
        }
        host_len = in + 2;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (host_len == 0)
            return false;
        if (all_ipv4_chars(s, host_len) && !valid_ipv4(s, host_len)) {
            /* digits and dots only: must then be a real IPv4 address, unless it is a DNS
             * name like "1.example"; a name of only digits and dots is not a DNS name */
            return false;
        }
        for (size_t i = 0; i < host_len; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.'))
                return false;
        }
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

int ids_user_id_split(const char *uid, const char **lp, size_t *lp_len, const char **server,
                      size_t *server_len)
{
    size_t len = strlen(uid);
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
