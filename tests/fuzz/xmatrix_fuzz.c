/* xmatrix_fuzz.c - libFuzzer target: the X-Matrix Authorization header parser stays within
 * `size` bytes, and whatever it accepts has NUL-terminated fields within their bounds, a valid
 * origin, and verifies against no key (a fixed all-zero public key) without crashing. Also,
 * over the same bytes: the server ACL glob, server-name parsing (what parses is a server name
 * and takes apart consistently). Build and run: make fuzz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/fedacl.h"
#include "server/fedresolve.h"
#include "server/ids.h"
#include "server/xmatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xmatrix_auth a;
    static const uint8_t zero[32];
    /* a copy of exactly `size` bytes, so that reading past it is caught */
    char *h = malloc(size ? size : 1);
    if (!h)
        return 0;
    memcpy(h, data, size);
    if (xmatrix_parse(h, size, &a) == 0) {
        if (!memchr(a.origin, '\0', sizeof a.origin) || !memchr(a.key, '\0', sizeof a.key) ||
            !memchr(a.sig, '\0', sizeof a.sig) ||
            !memchr(a.destination, '\0', sizeof a.destination) ||
            !ids_server_name_valid(a.origin, strlen(a.origin)))
            abort();
        if (xmatrix_verify(&a, "GET", "/", "d.example", NULL, zero) == 0)
            abort();
    }
    free(h);
    /* glob: split at the first NUL into pattern and text */
    char *s = malloc(size + 2);
    if (s) {
        memcpy(s, data, size);
        s[size] = s[size + 1] = '\0';
        (void)fedacl_glob(s, s + strlen(s) + (strlen(s) < size));
        struct fedname n;
        if (fedname_parse(s, &n) == 0 &&
            (!ids_server_name_valid(s, strlen(s)) || n.port < 0 || n.port > 65535 ||
             !memchr(n.host, '\0', sizeof n.host) || (n.ipv6 && !n.ip)))
            abort();
        free(s);
    }
    return 0;
}
