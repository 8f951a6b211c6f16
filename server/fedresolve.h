/* fedresolve.h - server names and the decisions of server discovery (Server-Server API
 * "Resolving server names"), as pure functions: the caller performs the lookups the steps
 * ask for (federation/resolve.c) and feeds the answers back. */
#ifndef AMTSBOTE_FEDRESOLVE_H
#define AMTSBOTE_FEDRESOLVE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define FEDRESOLVE_DEFAULT_PORT 8448

/* A server name taken apart. */
struct fedname {
    char host[256]; /* DNS name, or the IP literal without brackets */
    int port;       /* 1-65535, 0 when the name has none */
    bool ip;        /* host is an IPv4 or IPv6 literal */
    bool ipv6;
};

/* Parse `name` (NUL-terminated) by the grammar of server names with a port within 1-65535.
 * Returns 0 with *out filled, -1 when it is not a server name. */
int fedname_parse(const char *name, struct fedname *out);

/* What is known so far about one lookup. */
enum fedresolve_state { FR_UNKNOWN = 0, FR_ABSENT, FR_FOUND };

/* An SRV answer, already reduced to the record to use (see fedresolve_srv_pick). */
struct fedresolve_srv {
    enum fedresolve_state state;
    char target[256]; /* host name, without the trailing dot */
    int port;
};

struct fedresolve_in {
    const char *server_name;
    enum fedresolve_state wellknown;  /* FR_ABSENT: error, non-200, bad JSON or bad m.server */
    char wk_server[256];              /* m.server when FR_FOUND, checked by fedresolve_wellknown */
    struct fedresolve_srv srv_fed;    /* _matrix-fed._tcp.<name to look up> */
    struct fedresolve_srv srv_legacy; /* _matrix._tcp.<name to look up> (deprecated) */
};

enum fedresolve_next {
    FR_NEED_WELLKNOWN,  /* fetch https://<host>/.well-known/matrix/server */
    FR_NEED_SRV_FED,    /* resolve SRV out->srv_name (_matrix-fed._tcp.) */
    FR_NEED_SRV_LEGACY, /* resolve SRV out->srv_name (_matrix._tcp.) */
    FR_DONE,            /* out holds where to connect */
    FR_INVALID,         /* the server name is not one */
};

struct fedresolve_out {
    char srv_name[300];     /* FR_NEED_SRV_*: the name to query */
    char connect_host[256]; /* FR_DONE: host name or IP literal (no brackets) to connect to */
    int connect_port;
    char host_header[300]; /* FR_DONE: the Host header (and URL authority), brackets on IPv6 */
    char tls_name[256];    /* FR_DONE: the name the certificate must be valid for */
    bool tls_name_is_ip;   /* then no SNI is sent */
};

/* One step of the spec's procedure over what `in` knows. Returns what is needed next, or
 * FR_DONE with out filled. The caller loops at most four times: FR_UNKNOWN fields become
 * FR_FOUND or FR_ABSENT as it answers. */
enum fedresolve_next fedresolve_step(const struct fedresolve_in *in, struct fedresolve_out *out);

/* Read a /.well-known/matrix/server answer (borrowed; NULL when the body was not JSON) and
 * copy m.server into out[256]. Returns 0 when it is an object whose m.server is a server
 * name, else -1. */
int fedresolve_wellknown(const json_t *body, char out[256]);

/* One SRV record as the resolver returned it. */
struct fedresolve_srv_rr {
    int priority, weight, port;
    const char *target; /* without the trailing dot; "" or "." means "no service here" */
};

/* Choose the record to use from n answers (RFC 2782): the lowest priority, within it the
 * largest weight (deterministic; Amtsbote does not spread load). Returns the index, or -1 when
 * there is none or the answer says the service is not offered (a lone "." target). */
int fedresolve_srv_pick(const struct fedresolve_srv_rr *rr, size_t n);

#endif
