/* config.c - homeserver.yaml, with Synapse's key names wherever the concept exists.
 *
 * libyaml loads the document into its node tree; a static table maps dotted key paths to a
 * type and a field of struct config, and one walker checks every key against it. Unknown
 * keys are warned about and skipped; a value of the wrong type, a duplicate key or a
 * missing required key is an error naming the key path ("listeners[0].port: expected an
 * integer"). The listener list has its own small parser. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "server/ids.h"

enum ktype {
    K_SECTION,   /* a mapping whose keys have entries of their own */
    K_STR,       /* char * */
    K_BOOL,      /* bool */
    K_INT,       /* int */
    K_NUM,       /* double */
    K_SIZE,      /* int64_t, Synapse size string */
    K_LOGLEVEL,  /* enum log_level */
    K_STRLIST,   /* char ** at off, size_t at off2 */
    K_LISTENERS, /* the listeners list */
    K_DBNAME,    /* database.name: postgresql | psycopg2 */
    K_IGNORED,   /* Synapse keys Amtsbote knowingly does not use */
};

struct key {
    const char *path;
    enum ktype type;
    size_t off, off2;
};

#define F(field) offsetof(struct config, field)
/* dotted path, type, field offset, second field offset (lists: their length) */
static const struct key keys[] = {
    {"server_name", K_STR, F(server_name), 0},
    {"public_baseurl", K_STR, F(public_baseurl), 0},
    {"serve_server_wellknown", K_BOOL, F(serve_server_wellknown), 0},
    {"listeners", K_LISTENERS, F(listeners), F(n_listeners)},
    {"database", K_SECTION, 0, 0},
    {"database.name", K_DBNAME, 0, 0},
    {"database.args", K_SECTION, 0, 0},
    {"database.args.user", K_STR, F(database.user), 0},
    {"database.args.password", K_STR, F(database.password), 0},
    {"database.args.database", K_STR, F(database.dbname), 0},
    {"database.args.dbname", K_STR, F(database.dbname), 0},
    {"database.args.host", K_STR, F(database.host), 0},
    {"database.args.port", K_INT, F(database.port), 0},
    {"database.args.cp_min", K_INT, F(database.cp_min), 0},
    {"database.args.cp_max", K_INT, F(database.cp_max), 0},
    {"signing_key_path", K_STR, F(signing_key_path), 0},
    {"media_store_path", K_STR, F(media_store_path), 0},
    {"enable_registration", K_BOOL, F(enable_registration), 0},
    {"enable_registration_without_verification", K_BOOL,
     F(enable_registration_without_verification), 0},
    {"registration_requires_token", K_BOOL, F(registration_requires_token), 0},
    {"registration_shared_secret", K_STR, F(registration_shared_secret), 0},
    {"password_config", K_SECTION, 0, 0},
    {"password_config.enabled", K_BOOL, F(password_enabled), 0},
    {"max_upload_size", K_SIZE, F(max_upload_size), 0},
    {"max_request_body_size", K_SIZE, F(max_request_body_size), 0},
    {"presence", K_SECTION, 0, 0},
    {"presence.enabled", K_BOOL, F(presence_enabled), 0},
    {"allow_guest_access", K_BOOL, F(allow_guest_access), 0},
    {"log_level", K_LOGLEVEL, F(log_level), 0},
    {"worker_threads", K_INT, F(worker_threads), 0},
    {"default_room_version", K_STR, F(default_room_version), 0},
    {"federation_domain_whitelist", K_STRLIST, F(federation_domain_whitelist),
     F(n_federation_domain_whitelist)},
    {"rc_registration", K_SECTION, 0, 0},
    {"rc_registration.per_second", K_NUM, F(rc_registration.per_second), 0},
    {"rc_registration.burst_count", K_NUM, F(rc_registration.burst_count), 0},
    {"rc_login", K_SECTION, 0, 0},
    {"rc_login.address", K_SECTION, 0, 0},
    {"rc_login.address.per_second", K_NUM, F(rc_login_address.per_second), 0},
    {"rc_login.address.burst_count", K_NUM, F(rc_login_address.burst_count), 0},
    {"rc_login.account", K_SECTION, 0, 0},
    {"rc_login.account.per_second", K_NUM, F(rc_login_account.per_second), 0},
    {"rc_login.account.burst_count", K_NUM, F(rc_login_account.burst_count), 0},
    {"rc_login.failed_attempts", K_SECTION, 0, 0},
    {"rc_login.failed_attempts.per_second", K_NUM, F(rc_login_failed.per_second), 0},
    {"rc_login.failed_attempts.burst_count", K_NUM, F(rc_login_failed.burst_count), 0},
    {"report_stats", K_IGNORED, 0, 0},
    {"pid_file", K_IGNORED, 0, 0},
    {"log_config", K_IGNORED, 0, 0},
    {"trusted_key_servers", K_IGNORED, 0, 0},
    {"suppress_key_server_warning", K_IGNORED, 0, 0},
    {"macaroon_secret_key", K_IGNORED, 0, 0},
    {"form_secret", K_IGNORED, 0, 0},
};
#undef F

struct parse {
    yaml_document_t doc;
    struct config *cfg;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parse *p, const char *path, const char *msg)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "%s: %s", path, msg);
    p->failed = 1;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool plain(yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A plain null / ~ / empty scalar: the key is present but unset. */
static bool is_null(yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && plain(n) && (!*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}

static int parse_bool(yaml_node_t *n, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const char *s = scalar(n);
    if (!s || !plain(n))
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_int(yaml_node_t *n, long long *out)
{
    const char *s = scalar(n);
    char *end;
    if (!s || !plain(n) || !*s)
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return *end || errno ? -1 : 0;
}

static int parse_num(yaml_node_t *n, double *out)
{
    const char *s = scalar(n);
    char *end;
    if (!s || !plain(n) || !*s)
        return -1;
    *out = strtod(s, &end);
    return *end || !isfinite(*out) ? -1 : 0;
}

int config_parse_size(const char *s, int64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    /* suffix, multiplier */
    static const struct {
        char suffix;
        unsigned long long mult;
    } units[] = {{'K', 1ULL << 10}, {'M', 1ULL << 20}, {'G', 1ULL << 30}, {'T', 1ULL << 40}};
    unsigned long long mult = 1;
    if (*end) {
        mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (toupper((unsigned char)*end) == units[i].suffix)
                mult = units[i].mult;
        if (!mult || end[1])
            return -1;
    }
    if (v > (unsigned long long)INT64_MAX / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

/* A list of strings; fills *out (malloc'd, NULL-free) and *n. Returns 0 or -1 (failed). */
static int parse_strlist(struct parse *p, yaml_node_t *n, const char *path, char ***out,
                         size_t *count)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        fail(p, path, "expected a list of strings");
        return -1;
    }
    size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **list = calloc(len ? len : 1, sizeof *list);
    if (!list) {
        fail(p, path, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        const char *s = scalar(yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]));
        if (!s || !(list[i] = strdup(s))) {
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            fail(p, path, "expected a list of strings");
            return -1;
        }
    }
    for (size_t i = 0; i < *count; i++)
        free((*out)[i]);
    free(*out);
    *out = list;
    *count = len;
    return 0;
}

/* Check a mapping for duplicate keys; returns 0 or -1 (failed, naming it). */
static int check_dups(struct parse *p, yaml_node_t *map, const char *path)
{
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
         a++) {
        const char *ka = scalar(yaml_document_get_node(&p->doc, a->key));
        if (!ka) {
            fail(p, path[0] ? path : "(top level)", "mapping keys must be strings");
            return -1;
        }
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(yaml_document_get_node(&p->doc, b->key));
            if (kb && strcmp(ka, kb) == 0) {
                char full[256];
                snprintf(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", ka);
                fail(p, full, "duplicate key");
                return -1;
            }
        }
    }
    return 0;
}

static void parse_listener(struct parse *p, yaml_node_t *n, size_t idx,
                           struct config_listener *l)
{
    char path[64], sub[96];
    snprintf(path, sizeof path, "listeners[%zu]", idx);
    if (n->type != YAML_MAPPING_NODE) {
        fail(p, path, "expected a mapping");
        return;
    }
    if (check_dups(p, n, path) < 0)
        return;
    l->port = -1;
    for (yaml_node_pair_t *kv = n->data.mapping.pairs.start;
         kv < n->data.mapping.pairs.top && !p->failed; kv++) {
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key));
        yaml_node_t *v = yaml_document_get_node(&p->doc, kv->value);
        long long port;
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        if (strcmp(k, "port") == 0) {
            if (parse_int(v, &port) < 0 || port < 1 || port > 65535)
                fail(p, sub, "expected an integer port 1-65535");
            else
                l->port = (int)port;
        } else if (strcmp(k, "bind_addresses") == 0) {
            parse_strlist(p, v, sub, &l->bind_addresses, &l->n_bind_addresses);
        } else if (strcmp(k, "type") == 0) {
            const char *t = scalar(v);
            if (!t || strcmp(t, "http") != 0)
                fail(p, sub, "only type 'http' is supported");
        } else if (strcmp(k, "tls") == 0) {
            if (parse_bool(v, &l->tls) < 0)
                fail(p, sub, "expected a boolean");
            else if (l->tls)
                fail(p, sub, "TLS is terminated by the reverse proxy; set tls: false");
        } else if (strcmp(k, "x_forwarded") == 0) {
            if (parse_bool(v, &l->x_forwarded) < 0)
                fail(p, sub, "expected a boolean");
        } else if (strcmp(k, "resources") == 0) {
            if (v->type != YAML_SEQUENCE_NODE) {
                fail(p, sub, "expected a list of {names: [...]}");
                continue;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top && !p->failed; it++) {
                yaml_node_t *r = yaml_document_get_node(&p->doc, *it);
                if (r->type != YAML_MAPPING_NODE) {
                    fail(p, sub, "expected a list of {names: [...]}");
                    break;
                }
                for (yaml_node_pair_t *rp = r->data.mapping.pairs.start;
                     rp < r->data.mapping.pairs.top && !p->failed; rp++) {
                    const char *rk = scalar(yaml_document_get_node(&p->doc, rp->key));
                    yaml_node_t *rv = yaml_document_get_node(&p->doc, rp->value);
                    char **names = NULL;
                    size_t nn = 0;
                    bool b;
                    if (rk && strcmp(rk, "names") == 0) {
                        if (parse_strlist(p, rv, sub, &names, &nn) < 0)
                            break;
                        for (size_t i = 0; i < nn; i++) {
                            if (strcmp(names[i], "client") == 0)
                                l->res_client = true;
                            else if (strcmp(names[i], "federation") == 0)
                                l->res_federation = true;
                            else
                                log_warn("config: %s: resource '%s' is not served by Amtsbote",
                                         sub, names[i]);
                            free(names[i]);
                        }
                        free(names);
                    } else if (rk && strcmp(rk, "compress") == 0) {
                        if (parse_bool(rv, &b) < 0)
                            fail(p, sub, "compress: expected a boolean");
                    } else {
                        log_warn("config: unknown key '%s.%s' ignored", sub, rk ? rk : "?");
                    }
                }
            }
        } else {
            log_warn("config: unknown key '%s' ignored", sub);
        }
    }
    if (!p->failed && l->port < 0) {
        snprintf(sub, sizeof sub, "%s.port", path);
        fail(p, sub, "required");
    }
}

static void parse_listeners(struct parse *p, yaml_node_t *n)
{
    struct config *cfg = p->cfg;
    if (n->type != YAML_SEQUENCE_NODE) {
        fail(p, "listeners", "expected a list");
        return;
    }
    size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->listeners = calloc(len ? len : 1, sizeof *cfg->listeners);
    if (!cfg->listeners) {
        fail(p, "listeners", "out of memory");
        return;
    }
    cfg->n_listeners = len;
    for (size_t i = 0; i < len && !p->failed; i++)
        parse_listener(p, yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]), i,
                       &cfg->listeners[i]);
}

static const struct key *find_key(const char *path)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static void set_value(struct parse *p, const struct key *k, yaml_node_t *v)
{
    char *base = (char *)p->cfg;
    long long iv;
    double dv;
    const char *s = scalar(v);

    switch (k->type) {
    case K_STR: {
        char **dst = (char **)(void *)(base + k->off);
        if (is_null(v)) {
            free(*dst);
            *dst = NULL;
        } else if (!s) {
            fail(p, k->path, "expected a string");
        } else {
            free(*dst);
            if (!(*dst = strdup(s)))
                fail(p, k->path, "out of memory");
        }
        break;
    }
    case K_BOOL:
        if (parse_bool(v, (bool *)(void *)(base + k->off)) < 0)
            fail(p, k->path, "expected a boolean");
        break;
    case K_INT:
        if (parse_int(v, &iv) < 0 || iv < INT32_MIN || iv > INT32_MAX)
            fail(p, k->path, "expected an integer");
        else
            *(int *)(void *)(base + k->off) = (int)iv;
        break;
    case K_NUM:
        if (parse_num(v, &dv) < 0)
            fail(p, k->path, "expected a number");
        else
            *(double *)(void *)(base + k->off) = dv;
        break;
    case K_SIZE:
        if (!s || config_parse_size(s, (int64_t *)(void *)(base + k->off)) < 0)
            fail(p, k->path, "expected a size such as 1024, 10K, 50M or 1G");
        break;
    case K_LOGLEVEL:
        if (!s || log_level_parse(s, (enum log_level *)(void *)(base + k->off)) < 0)
            fail(p, k->path, "expected one of error, warning, info, debug");
        break;
    case K_STRLIST:
        parse_strlist(p, v, k->path, (char ***)(void *)(base + k->off),
                      (size_t *)(void *)(base + k->off2));
        break;
    case K_LISTENERS:
        parse_listeners(p, v);
        break;
    case K_DBNAME:
        if (!s || (strcmp(s, "postgresql") != 0 && strcmp(s, "psycopg2") != 0))
            fail(p, k->path, "only 'postgresql' (or its alias 'psycopg2') is supported");
        break;
    case K_IGNORED:
        log_info("config: '%s' is a Synapse setting Amtsbote does not use", k->path);
        break;
    case K_SECTION:
        break;
    }
}

static void walk(struct parse *p, yaml_node_t *map, const char *prefix)
{
    if (check_dups(p, map, prefix) < 0)
        return;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
         kv < map->data.mapping.pairs.top && !p->failed; kv++) {
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key));
        yaml_node_t *v = yaml_document_get_node(&p->doc, kv->value);
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        const struct key *key = find_key(path);
        if (!key) {
            log_warn("config: unknown key '%s' ignored", path);
            continue;
        }
        if (key->type == K_SECTION) {
            if (is_null(v))
                continue;
            if (v->type != YAML_MAPPING_NODE) {
                fail(p, path, "expected a mapping");
                return;
            }
            walk(p, v, path);
        } else if (key->type != K_LISTENERS && key->type != K_STRLIST &&
                   key->type != K_IGNORED && v->type != YAML_SCALAR_NODE) {
            fail(p, path, "expected a single value");
        } else {
            set_value(p, key, v);
        }
    }
}

static void set_defaults(struct config *c)
{
    static const struct config_ratelimit rl = {0.17, 3};
    memset(c, 0, sizeof *c);
    c->database.cp_min = 2;
    c->database.cp_max = 10;
    c->password_enabled = true;
    c->max_upload_size = 50LL << 20;
    c->max_request_body_size = 1LL << 20;
    c->log_level = LOG_LVL_INFO;
    c->worker_threads = 4;
    c->rc_registration = c->rc_login_address = c->rc_login_account = c->rc_login_failed = rl;
}

/* Checks on the whole configuration once every key is read. */
static void validate(struct parse *p)
{
    struct config *c = p->cfg;
    static const char *const dflt_bind[] = {"::1", "127.0.0.1"};

    if (!c->server_name)
        return fail(p, "server_name", "required");
    if (!ids_server_name_valid(c->server_name, strlen(c->server_name)))
        return fail(p, "server_name", "not a valid server name (host[:port])");
    if (!c->signing_key_path)
        return fail(p, "signing_key_path", "required");
    if (!c->n_listeners)
        return fail(p, "listeners", "at least one listener is required");
    if (!c->database.dbname && !c->database.host && !c->database.user)
        log_info("config: database.args empty: using libpq defaults (PGHOST, PGDATABASE ...)");
    if (c->database.cp_min < 1 || c->database.cp_max < c->database.cp_min)
        return fail(p, "database.args.cp_max", "need 1 <= cp_min <= cp_max");
    if (c->worker_threads < 1 || c->worker_threads > 256)
        return fail(p, "worker_threads", "must be 1 to 256");
    if (c->allow_guest_access)
        return fail(p, "allow_guest_access", "guest access is not supported; set it to false");
    if (c->max_request_body_size < 1024)
        return fail(p, "max_request_body_size", "must be at least 1K");
    for (size_t i = 0; i < c->n_listeners; i++) {
        struct config_listener *l = &c->listeners[i];
        if (!l->n_bind_addresses) {
            free(l->bind_addresses);
            l->bind_addresses = calloc(2, sizeof *l->bind_addresses);
            if (!l->bind_addresses)
                return fail(p, "listeners", "out of memory");
            for (size_t j = 0; j < 2; j++)
                l->bind_addresses[j] = strdup(dflt_bind[j]);
            l->n_bind_addresses = 2;
        }
    }
    for (size_t i = 0; i < c->n_federation_domain_whitelist; i++) {
        const char *s = c->federation_domain_whitelist[i];
        if (!ids_server_name_valid(s, strlen(s)))
            return fail(p, "federation_domain_whitelist", "contains an invalid server name");
    }
    if (!c->public_baseurl || !*c->public_baseurl) {
        size_t n = strlen(c->server_name) + 10;
        free(c->public_baseurl);
        c->public_baseurl = malloc(n);
        if (c->public_baseurl)
            snprintf(c->public_baseurl, n, "https://%s/", c->server_name);
    } else if (c->public_baseurl[strlen(c->public_baseurl) - 1] != '/') {
        size_t n = strlen(c->public_baseurl) + 2;
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "%s/", c->public_baseurl);
        free(c->public_baseurl);
        c->public_baseurl = s;
    }
    if (!c->media_store_path)
        c->media_store_path = strdup("media_store");
    if (!c->default_room_version)
        c->default_room_version = strdup("12");
    if (!c->public_baseurl || !c->media_store_path || !c->default_room_version)
        fail(p, "config", "out of memory");
}

int config_parse(const char *text, size_t len, struct config *out, char *err, size_t errlen)
{
    yaml_parser_t parser;
    struct parse p = {.cfg = out, .err = err, .errlen = errlen};

    set_defaults(out);
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &p.doc)) {
        snprintf(err, errlen, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        config_free(out);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&p.doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        fail(&p, "(top level)", "the configuration must be a mapping of keys to values");
    else
        walk(&p, root, "");
    if (!p.failed)
        validate(&p);
    yaml_document_delete(&p.doc);
    yaml_parser_delete(&parser);
    if (p.failed) {
        config_free(out);
        return -1;
    }
    return 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (!f) {
        set_defaults(out);
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (16u << 20)) { /* a configuration is never this big */
                free(buf);
                fclose(f);
                set_defaults(out);
                snprintf(err, errlen, "file larger than 16 MiB");
                return -1;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                set_defaults(out);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    rc = config_parse(buf ? buf : "", len, out, err, errlen);
    free(buf);
    return rc;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->server_name);
    free(c->public_baseurl);
    for (size_t i = 0; i < c->n_listeners; i++)
        free_list(c->listeners[i].bind_addresses, c->listeners[i].n_bind_addresses);
    free(c->listeners);
    free(c->database.user);
    free(c->database.password);
    free(c->database.dbname);
    free(c->database.host);
    free(c->signing_key_path);
    free(c->media_store_path);
    free(c->registration_shared_secret);
    free(c->default_room_version);
    free_list(c->federation_domain_whitelist, c->n_federation_domain_whitelist);
    memset(c, 0, sizeof *c);
}

/* Write s as a double-quoted YAML scalar (escaping quotes and backslashes). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int config_write_default(FILE *f, const char *server_name, int port, const char *db_host,
                         const char *db_user, const char *db_name, const char *signing_key_path,
                         const char *media_store_path, bool open_registration)
{
    char secret[41];
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (sodium_init() < 0)
        return -1;
    for (size_t i = 0; i < sizeof secret - 1; i++)
        secret[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    secret[sizeof secret - 1] = '\0';

    fputs("# Amtsbote configuration (Synapse's key names; see README.md for every key).\n\n"
          "# The domain in user IDs (@alice:SERVER_NAME). Cannot change once users exist.\n"
          "server_name: ",
          f);
    put_quoted(f, server_name);
    fprintf(f,
            "\n\n# Plain HTTP on loopback; TLS belongs to the reverse proxy in front.\n"
            "listeners:\n"
            "  - port: %d\n"
            "    bind_addresses: ['127.0.0.1']\n"
            "    type: http\n"
            "    tls: false\n"
            "    x_forwarded: false\n"
            "    resources:\n"
            "      - names: [client, federation]\n\n"
            "# PostgreSQL is the only store. host may be a Unix socket directory.\n"
            "database:\n"
            "  name: psycopg2\n"
            "  args:\n",
            port);
    if (db_user) {
        fputs("    user: ", f);
        put_quoted(f, db_user);
        fputc('\n', f);
    }
    if (db_name) {
        fputs("    database: ", f);
        put_quoted(f, db_name);
        fputc('\n', f);
    }
    if (db_host) {
        fputs("    host: ", f);
        put_quoted(f, db_host);
        fputc('\n', f);
    }
    fputs("    cp_min: 2\n    cp_max: 10\n\n"
          "# ed25519 key that signs this server's events (Synapse's key file format).\n"
          "signing_key_path: ",
          f);
    put_quoted(f, signing_key_path);
    fputs("\n\n# Uploaded files.\nmedia_store_path: ", f);
    put_quoted(f, media_store_path);
    fprintf(f,
            "\n\n# Registration. Open registration without a token also needs\n"
            "# enable_registration_without_verification: true.\n"
            "enable_registration: %s\n"
            "enable_registration_without_verification: %s\n"
            "registration_requires_token: false\n\n"
            "# Lets `amtsbote register-user` create accounts (also while registration is\n"
            "# closed). Keep it secret.\n"
            "registration_shared_secret: \"%s\"\n\n"
            "max_upload_size: 50M\n\n"
            "# Presence is off: online status makes performance monitoring possible.\n"
            "presence:\n"
            "  enabled: false\n\n"
            "log_level: info\n",
            open_registration ? "true" : "false", open_registration ? "true" : "false", secret);
    sodium_memzero(secret, sizeof secret);
    return ferror(f) ? -1 : 0;
}
