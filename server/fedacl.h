/* fedacl.h - m.room.server_acl evaluation (Client-Server API "Server Access Control Lists",
 * Server-Server API "Server ACLs"). Pure functions. */
#ifndef AMTSBOTE_FEDACL_H
#define AMTSBOTE_FEDACL_H
#include <jansson.h>
#include <stdbool.h>

/* Whether `server_name` may take part in a room whose m.room.server_acl content is `acl`
 * (borrowed; NULL when the room has no such event: allowed). The port is not considered;
 * globs match case-insensitively; entries that are not strings are ignored; a missing or
 * non-list allow denies everyone; allow_ip_literals defaults to true. A server_name that is
 * not a server name is denied. */
bool fedacl_allowed(const json_t *acl, const char *server_name);

/* Glob match (appendix "Glob-style matching": '*' any run, '?' one character), ASCII case
 * folded. Linear in pattern and text length times the number of '*'; no recursion. */
bool fedacl_glob(const char *pattern, const char *s);

#endif
