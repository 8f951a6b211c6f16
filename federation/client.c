/* client.c - outbound federation: start-up of the federation side and the one request
 * function every sender uses (Server-Server API "Request Authentication", "TLS", "Resolving
 * server names").
 *
 * A request is refused before anything is sent when the destination is not on a configured
 * federation_domain_whitelist (or is this server); otherwise it is signed with X-Matrix over
 * the exact path and query sent, the destination is resolved, and the server's outbound HTTP
 * client (server/outbound.c) connects with the configured trust (federation_verify_certificates,
 * federation_custom_ca_list replacing the system's CAs) and the address filter
 * (ip_range_blacklist unless ip_range_whitelist), checked on every address it connects to,
 * at most four requests in flight per destination server. Invariants:
 *   1. Only federation_init writes the state here, before any thread serves; afterwards it is
 *      read-only, so no lock is needed.
 *   2. Errors name the destination and the cause, never a key or a signature. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation/fed_internal.h"
#include "federation/federation.h"
#include "server/ids.h"
#include "server/fedlimit.h"
#include "server/keyring.h"
#include "server/log.h"
#include "server/remote.h"
#include "server/xmatrix.h"

#define CA_FILE_MAX (1 << 20)
/* send_join and /state answers of large rooms run to megabytes; a hostile server is held to
 * this much memory per request */
#define FED_MAX_RESPONSE (32u << 20)

const struct config *fed_cfg;
static char *ca_pem;
static size_t ca_pem_len;
void fed_base_req(struct outbound_req *r)
{
    memset(r, 0, sizeof *r);
    r->ca_pem = ca_pem;
    r->ca_pem_len = ca_pem_len;
    r->tls_no_verify = fed_cfg && !fed_cfg->federation_verify_certificates;
    r->filter = outbound_ip_range_filter();
}

/* Append the file at path to ca_pem. 0, or -1 with err. */
static int load_ca(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "federation_custom_ca_list: %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = realloc(ca_pem, ca_pem_len + CA_FILE_MAX + 2);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ca_pem = buf;
    size_t n = fread(ca_pem + ca_pem_len, 1, CA_FILE_MAX + 1, f);
    fclose(f);
    ca_pem[ca_pem_len + n] = '\0';
    if (n > CA_FILE_MAX || !strstr(ca_pem + ca_pem_len, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "federation_custom_ca_list: %s: %s", path,
                 n > CA_FILE_MAX ? "larger than 1 MiB" : "no PEM certificate in it");
        return -1;
    }
    ca_pem_len += n;
    ca_pem[ca_pem_len++] = '\n';
    return 0;
}

int federation_init(const struct config *cfg, char *err, size_t errlen)
{
    fed_cfg = cfg;
    for (size_t i = 0; i < cfg->n_federation_custom_ca_list; i++)
        if (load_ca(cfg->federation_custom_ca_list[i], err, errlen) < 0)
            return -1;
    if (!cfg->federation_verify_certificates)
        log_warn("federation_verify_certificates is false: other servers' certificates are not "
                 "checked");
    keyring_init(cfg->server_name, federation_fetch_keys);
    remote_init(federation_request);
    remote_init_raw(federation_request_raw);
    http_set_server_authenticator(federation_authenticate);
    /* rc_federation: half the HTTP threads at most wait for an origin's slot */
    fedlimit_configure(cfg, cfg->worker_threads / 2);
    http_set_origin_limiter(fedlimit_enter, fedlimit_leave);
    return 0;
}

void federation_shutdown(void)
{
    free(ca_pem);
    ca_pem = NULL;
    ca_pem_len = 0;
}

bool federation_domain_allowed(const char *server_name)
{
    if (!fed_cfg || !fed_cfg->federation_domain_whitelist)
        return true;
    for (size_t i = 0; i < fed_cfg->n_federation_domain_whitelist; i++)
        if (strcmp(fed_cfg->federation_domain_whitelist[i], server_name) == 0)
            return true;
    return false;
}

int federation_prepare(const char *destination, const char *method, const char *path_query,
                       json_t *body, long timeout_ms, struct federation_prepared *p, char *err,
                       size_t errlen)
{
    struct fed_target t;
    char *sig = NULL;
    size_t n = 0;

    memset(p, 0, sizeof *p);
    if (!fed_cfg || strcmp(destination, fed_cfg->server_name) == 0) {
        snprintf(err, errlen, "%.255s is this server", destination);
        return FED_ERR_REFUSED;
    }
    if (!ids_server_name_valid(destination, strlen(destination)) ||
        strlen(destination) >= sizeof p->destination) {
        snprintf(err, errlen, "not a server name");
        return FED_ERR_REFUSED;
    }
    if (!federation_domain_allowed(destination)) {
        snprintf(err, errlen, "%.255s is not in federation_domain_whitelist", destination);
        return FED_ERR_REFUSED;
    }
    if (fed_resolve(destination, &t, err, errlen) < 0)
        return FED_ERR_TRANSPORT;
    if ((size_t)snprintf(p->url, sizeof p->url, "%s%s", t.url_base, path_query) >= sizeof p->url) {
        snprintf(err, errlen, "request target too long");
        return FED_ERR_REFUSED;
    }
    snprintf(p->destination, sizeof p->destination, "%s", destination);
    snprintf(p->connect_to, sizeof p->connect_to, "%s", t.connect_to);
    sig = xmatrix_sign_header(keyring_own(), fed_cfg->server_name, destination, method, path_query,
                              body);
    size_t hl = sig ? strlen(sig) + sizeof "Authorization: " : 0;
    if (sig && (p->auth = malloc(hl)))
        snprintf(p->auth, hl, "Authorization: %s", sig);
    free(sig);
    if (body)
        p->body = json_dumps(body, JSON_COMPACT);
    if (!p->auth || (body && !p->body)) {
        federation_prepared_clear(p);
        snprintf(err, errlen, "cannot sign the request");
        return FED_ERR_REFUSED;
    }
    p->headers[n++] = p->auth;
    p->headers[n++] = "Accept: application/json";
    if (body)
        p->headers[n++] = "Content-Type: application/json";
    p->headers[n] = NULL;
    fed_base_req(&p->req);
    p->req.method = method;
    p->req.url = p->url;
    p->req.headers = p->headers;
    p->req.body = p->body;
    p->req.body_len = p->body ? strlen(p->body) : 0;
    p->req.destination = p->destination;
    p->req.connect_to = p->connect_to[0] ? p->connect_to : NULL;
    p->req.timeout_ms = timeout_ms;
    p->req.max_body = FED_MAX_RESPONSE;
    return 0;
}

void federation_prepared_clear(struct federation_prepared *p)
{
    if (!p)
        return;
    free(p->auth);
    free(p->body);
    p->auth = p->body = NULL;
}

int federation_request(const char *destination, const char *method, const char *path_query,
                       json_t *body, long timeout_ms, json_t **out, char *err, size_t errlen)
{
    struct federation_prepared p;
    struct outbound_res res;

    *out = NULL;
    int rc = federation_prepare(destination, method, path_query, body, timeout_ms, &p, err, errlen);
    if (rc < 0)
        return rc;
    if (outbound_fetch(&p.req, &res) < 0) {
        if (res.err == OUTBOUND_E_BLOCKED) /* say which setting refused it */
            snprintf(err, errlen, "%s (ip_range_blacklist)", outbound_strerror(res.err));
        else
            snprintf(err, errlen, "%s", res.why);
        rc = FED_ERR_TRANSPORT;
    } else {
        rc = (int)res.status;
        if (res.body)
            *out = json_loadb(res.body, res.len, 0, NULL);
    }
    outbound_res_clear(&res);
    federation_prepared_clear(&p);
    return rc;
}

int federation_request_raw(const char *destination, const char *path_query, size_t max_body,
                           long timeout_ms, struct outbound_res *res, char *err, size_t errlen)
{
    struct federation_prepared p;
    memset(res, 0, sizeof *res);
    int rc = federation_prepare(destination, "GET", path_query, NULL, timeout_ms, &p, err, errlen);
    if (rc < 0)
        return rc;
    p.headers[1] = NULL; /* any type: multipart/mixed */
    p.req.max_body = max_body;
    if (outbound_fetch(&p.req, res) < 0) {
        snprintf(err, errlen, "%s", res->why);
        outbound_res_clear(res);
        rc = FED_ERR_TRANSPORT;
    } else {
        rc = (int)res->status;
    }
    federation_prepared_clear(&p);
    return rc;
}
