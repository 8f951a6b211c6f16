/* fedacl.c - server ACLs: the spec's five steps over an m.room.server_acl content.
 *
 * Called by the federation endpoints that concern a room (the Server-Server API's list of
 * protected prefixes, and per PDU and per room-scoped EDU in /send). No I/O: the caller hands
 * in the content of the current ACL event. */
#include "server/fedacl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "server/fedresolve.h"

bool fedacl_glob(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool any_match(const json_t *list, const char *host)
{
    size_t i;
    json_t *v;
    if (!json_is_array(list))
        return false;
    json_array_foreach(list, i, v)
    {
        /* strlen == length: a pattern with a NUL in it is not a pattern */
        if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
            fedacl_glob(json_string_value(v), host))
            return true;
    }
    return false;
}

bool fedacl_allowed(const json_t *acl, const char *server_name)
{
    struct fedname n;
    char host[260];
    /* 1. no m.room.server_acl event: allow */
    if (!acl)
        return true;
    if (fedname_parse(server_name, &n) < 0)
        return false;
    /* the port is never considered; an IPv6 literal keeps its brackets, as written */
    snprintf(host, sizeof host, n.ipv6 ? "[%s]" : "%s", n.host);
    /* 2. IP literal and allow_ip_literals is present and false: deny */
    json_t *ipl = json_object_get(acl, "allow_ip_literals");
    if (n.ip && json_is_boolean(ipl) && !json_boolean_value(ipl))
        return false;
    /* 3. matches deny: deny; 4. matches allow: allow; 5. otherwise deny */
    if (any_match(json_object_get(acl, "deny"), host))
        return false;
    return any_match(json_object_get(acl, "allow"), host);
}
