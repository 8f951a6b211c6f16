/* fedresolve.c - server names and the steps of server discovery (Server-Server API "Resolving
 * server names"), kept free of I/O so that every branch is a unit test.
 *
 * fedresolve_step is re-entered with more answers each time; it walks the spec's steps in
 * order and stops at the first one whose input is still unknown. Invariants:
 *   1. The Host header is always the name before SRV indirection: the server name itself in
 *      steps 1 and 2, m.server (with its port, if any) in 3.1 and 3.2, the delegated host name
 *      in 3.3 to 3.5, and the host name in 4 to 6.
 *   2. The certificate name is the IP literal or host name that Host names, never an SRV
 *      target: DNS is not trusted to delegate, TLS must prove it (the spec's note). */
#include "server/fedresolve.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "server/ids.h"

int fedname_parse(const char *name, struct fedname *out)
{
    size_t len = name ? strlen(name) : 0;
    const char *host = name, *port = NULL;
    size_t host_len;
    unsigned char addr[16];

    memset(out, 0, sizeof *out);
    if (!ids_server_name_valid(name, len))
        return -1;
    if (name[0] == '[') {
        const char *close = strchr(name, ']');
        host = name + 1;
        host_len = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(name, ':');
        host_len = colon ? (size_t)(colon - name) : len;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len >= sizeof out->host)
        return -1;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (port) {
        long v = 0;
        for (; *port; port++)
            v = v * 10 + (*port - '0'); /* at most 5 digits: checked by the grammar */
        if (v < 1 || v > 65535)
            return -1;
        out->port = (int)v;
    }
    out->ipv6 = name[0] == '[';
    out->ip = out->ipv6 || inet_pton(AF_INET, out->host, addr) == 1;
    return 0;
}

/* Fill out for a connection to host:port with the given Host header and certificate name. */
static enum fedresolve_next done(struct fedresolve_out *out, const char *host, int port,
                                 const char *host_header, const struct fedname *cert)
{
    snprintf(out->connect_host, sizeof out->connect_host, "%s", host);
    out->connect_port = port;
    snprintf(out->host_header, sizeof out->host_header, "%s", host_header);
    snprintf(out->tls_name, sizeof out->tls_name, "%s", cert->host);
    out->tls_name_is_ip = cert->ip;
    return FR_DONE;
}

/* Steps 3.3-3.5 and 4-6: SRV for `n` (no port, not an IP), then the host on 8448. The Host
 * header is n's host name (brackets cannot occur: n is not an IP literal). */
static enum fedresolve_next by_srv(const struct fedresolve_in *in, const struct fedname *n,
                                   struct fedresolve_out *out)
{
    if (in->srv_fed.state == FR_UNKNOWN) {
        snprintf(out->srv_name, sizeof out->srv_name, "_matrix-fed._tcp.%s", n->host);
        return FR_NEED_SRV_FED;
    }
    if (in->srv_fed.state == FR_FOUND)
        return done(out, in->srv_fed.target, in->srv_fed.port, n->host, n);
    if (in->srv_legacy.state == FR_UNKNOWN) {
        snprintf(out->srv_name, sizeof out->srv_name, "_matrix._tcp.%s", n->host);
        return FR_NEED_SRV_LEGACY;
    }
    if (in->srv_legacy.state == FR_FOUND)
        return done(out, in->srv_legacy.target, in->srv_legacy.port, n->host, n);
    return done(out, n->host, FEDRESOLVE_DEFAULT_PORT, n->host, n);
}

enum fedresolve_next fedresolve_step(const struct fedresolve_in *in, struct fedresolve_out *out)
{
    struct fedname n, d;

    memset(out, 0, sizeof *out);
    if (fedname_parse(in->server_name, &n) < 0)
        return FR_INVALID;
    /* 1. an IP literal: that address, the given port or 8448; Host is the server name */
    if (n.ip)
        return done(out, n.host, n.port ? n.port : FEDRESOLVE_DEFAULT_PORT, in->server_name, &n);
    /* 2. a host name with a port: its A/AAAA records (the connection resolves them) */
    if (n.port)
        return done(out, n.host, n.port, in->server_name, &n);
    /* 3. /.well-known/matrix/server */
    if (in->wellknown == FR_UNKNOWN)
        return FR_NEED_WELLKNOWN;
    if (in->wellknown == FR_FOUND && fedname_parse(in->wk_server, &d) == 0) {
        /* 3.1 delegated to an IP literal; 3.2 delegated to host:port */
        if (d.ip)
            return done(out, d.host, d.port ? d.port : FEDRESOLVE_DEFAULT_PORT, in->wk_server, &d);
        if (d.port)
            return done(out, d.host, d.port, in->wk_server, &d);
        /* 3.3 _matrix-fed._tcp SRV, 3.4 _matrix._tcp SRV, 3.5 the delegated host on 8448 */
        return by_srv(in, &d, out);
    }
    /* 4. _matrix-fed._tcp SRV, 5. _matrix._tcp SRV, 6. the host on 8448 */
    return by_srv(in, &n, out);
}

int fedresolve_wellknown(const json_t *body, char out[256])
{
    int rc = -1;
    json_t *s = json_object_get(body, "m.server");
    if (json_is_string(s) && json_string_length(s) < 256 &&
        strlen(json_string_value(s)) == json_string_length(s)) {
        struct fedname d;
        if (fedname_parse(json_string_value(s), &d) == 0) {
            memcpy(out, json_string_value(s), json_string_length(s) + 1);
            rc = 0;
        }
    }
    return rc;
}

int fedresolve_srv_pick(const struct fedresolve_srv_rr *rr, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!rr[i].target || rr[i].port < 1 || rr[i].port > 65535)
            continue;
        if (best < 0 || rr[i].priority < rr[best].priority ||
            (rr[i].priority == rr[best].priority && rr[i].weight > rr[best].weight))
            best = (int)i;
    }
    if (best >= 0 && (!rr[best].target[0] || strcmp(rr[best].target, ".") == 0))
        return -1; /* RFC 2782: "the service is decidedly not available at this domain" */
    return best;
}
