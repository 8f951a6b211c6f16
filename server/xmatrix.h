/* xmatrix.h - the X-Matrix request signature (Server-Server API "Request Authentication"):
 * parsing the Authorization header, signing an outbound request, verifying an inbound one.
 * Pure functions: no I/O, no key lookup (the caller brings the public key). */
#ifndef AMTSBOTE_XMATRIX_H
#define AMTSBOTE_XMATRIX_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/sign.h"

#define XMATRIX_HEADER_MAX 2048 /* longer Authorization headers are refused unparsed */

/* The parameters of one X-Matrix Authorization header, unescaped and NUL-terminated. */
struct xmatrix_auth {
    char origin[256];      /* a valid server name */
    char destination[256]; /* "" when the header has none (servers before v1.3) */
    char key[128];         /* key ID such as "ed25519:a_AbCd" */
    char sig[128];         /* unpadded base64 as sent; checked by xmatrix_verify */
};

/* Parse `hdr` (len bytes, need not be NUL-terminated): scheme "X-Matrix" (any case), one or
 * more spaces, then comma-separated name=value pairs (names any case, spaces and tabs around
 * commas, empty elements skipped, values quoted with backslash escapes or bare tokens, bare
 * values may hold ':').
 * Unknown names are ignored. Returns 0 with *out filled, or -1 when the scheme is not
 * X-Matrix, the syntax is broken, a known name repeats, origin/key/sig is missing, a value does
 * not fit, holds control bytes, origin or destination is not a server name, or the key ID does
 * not start with "ed25519:". */
int xmatrix_parse(const char *hdr, size_t len, struct xmatrix_auth *out);

/* The JSON object the signature covers: {method, uri, origin, destination, content}, content
 * (borrowed; copied by reference) only when not NULL. New reference, NULL on OOM. */
json_t *xmatrix_request_json(const char *method, const char *uri, const char *origin,
                             const char *destination, json_t *content);

/* The Authorization header value for a request from `origin` signed with `k`: "X-Matrix
 * origin=\"...\",destination=\"...\",key=\"...\",sig=\"...\"". uri is the path with the query
 * as sent ("/_matrix/federation/v1/query/profile?user_id=..."); content (borrowed) the JSON
 * body or NULL. Returns a malloc'd string (caller frees), NULL if the content is not canonical
 * JSON or on OOM. */
char *xmatrix_sign_header(const struct sign_key *k, const char *origin, const char *destination,
                          const char *method, const char *uri, json_t *content);

/* Check a's signature over the request (method, uri as received, the receiving server's
 * name `destination`, content as parsed or NULL for no body) with the ed25519 key `pk`.
 * Returns 0 when valid, -1 otherwise. Whether a.destination names this server, and whether
 * the key may sign requests, is the caller's business. */
int xmatrix_verify(const struct xmatrix_auth *a, const char *method, const char *uri,
                   const char *destination, json_t *content, const uint8_t pk[32]);

#endif
