/* config.c - homeserver.yaml, with Synapse's key names wherever the concept exists: parse,
 * load and free, and the checks between settings once every key is read.
 *
 * libyaml loads the text into its node tree; tables of known keys (config_keys.c: the top
 * level, one listener, one listener resource, ...) give every dotted key path a type, a
 * destination field, a default and whether it is required, and one walker (config_walk.c)
 * checks each mapping against its table; config_value.c turns each scalar's text into its
 * field. Invariants of all four files:
 *   1. Every error names the key path it concerns ("listeners[0].port: expected an integer");
 *      a failed parse leaves *out zeroed with nothing allocated.
 *   2. Unknown keys are warned about and skipped, never errors; Synapse keys Amtsbote knowingly
 *      does not use are logged at info level only. A key spelled with a dot ("presence.enabled"
 *      at the top level) is unknown: nesting is by mappings only.
 *   3. Each setting is written at most once: duplicate keys in one mapping, and both spellings of
 *      an aliased key (database.args.database / dbname), are errors. So a destination holds its
 *      default until its key is read, and a null value ("key:" or "key: ~") keeps the default.
 *   4. The walker descends only where a table has a section or list, so YAML aliases, even
 *      cyclic ones, cannot make it recurse deeper than the tables are.
 *   5. No value is logged or copied into an error, except listener resource names: the file
 *      holds the database password and the registration shared secret. */
#include "server/config.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/config_internal.h"

/* Settings that depend on each other, once every key is read. Returns 0 or -1. */
static int finish(struct parse *p, struct config *c)
{
    if (c->database.cp_max < c->database.cp_min)
        return config_fail(p, "database.args.cp_max", "must not be less than cp_min");
    /* an unset public_baseurl stays NULL: clients are told nothing rather than a guess */
    if (c->public_baseurl && c->public_baseurl[strlen(c->public_baseurl) - 1] != '/') {
        size_t n = strlen(c->public_baseurl) + 2;
        char *s = malloc(n);
        if (!s)
            return config_fail(p, "public_baseurl", "out of memory");
        snprintf(s, n, "%s/", c->public_baseurl);
        free(c->public_baseurl);
        c->public_baseurl = s;
    }
    if (c->request_header_timeout_ms < 100)
        return config_fail(p, "request_header_timeout", "must be at least 100 ms");
    if (c->request_body_timeout_ms < 100)
        return config_fail(p, "request_body_timeout", "must be at least 100 ms");
    if (c->media_scanner.timeout_ms < 100)
        return config_fail(p, "media_scanner.timeout", "must be at least 100 ms");
    if (c->retention.allowed_lifetime_min_ms && c->retention.allowed_lifetime_max_ms &&
        c->retention.allowed_lifetime_min_ms > c->retention.allowed_lifetime_max_ms)
        return config_fail(p, "retention.allowed_lifetime_min",
                           "must not exceed allowed_lifetime_max");
    for (size_t i = 0; i < c->retention.n_purge_jobs; i++) {
        const struct config_purge_job *j = &c->retention.purge_jobs[i];
        char jp[PATH_LEN];
        config_path_index(jp, "retention.purge_jobs", i);
        if (j->interval_ms < 100)
            return config_fail(p, jp, "interval must be at least 100 ms");
        if (j->longest_max_lifetime_ms && j->shortest_max_lifetime_ms >= j->longest_max_lifetime_ms)
            return config_fail(p, jp, "shortest_max_lifetime must be below longest_max_lifetime");
    }
    if (c->media_scanner.clamd_socket && c->media_scanner.clamd_host)
        return config_fail(p, "media_scanner", "give clamd_socket or clamd_host, not both");
    for (size_t i = 0; i < c->n_listeners; i++) {
        struct config_listener *l = &c->listeners[i];
        if (l->max_connections_per_address < 0)
            l->max_connections_per_address = l->x_forwarded ? 0 : 256;
    }
    if (c->registration_shared_secret && strlen(c->registration_shared_secret) < 16)
        log_warn("config: registration_shared_secret is short; anyone who guesses it can "
                 "create admin accounts");
    return 0;
}

static int yaml_failed(struct parse *p, const yaml_parser_t *parser)
{
    char where[64];
    if (parser->error == YAML_MEMORY_ERROR)
        return config_fail(p, "(config)", "out of memory");
    snprintf(where, sizeof where, "line %zu, column %zu", parser->problem_mark.line + 1,
             parser->problem_mark.column + 1);
    return config_fail(p, where, "invalid YAML: %s%s%s",
                       parser->problem ? parser->problem : "syntax error",
                       parser->context ? " " : "", parser->context ? parser->context : "");
}

int config_parse(const char *text, size_t len, struct config *out, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t next;
    struct parse p = {.err = err, .errlen = errlen};

    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    if (!yaml_parser_initialize(&parser))
        return config_fail(&p, "(config)", "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &p.doc)) {
        yaml_failed(&p, &parser);
        goto out_parser;
    }
    yaml_node_t *root = yaml_document_get_root_node(&p.doc);
    if (!root) {
        config_fail(&p, "(top level)", "the configuration is empty");
    } else if (root->type != YAML_MAPPING_NODE) {
        config_fail(&p, "(top level)", "expected a mapping of keys to values");
    } else if (!yaml_parser_load(&parser, &next)) { /* as Synapse: one document only */
        yaml_failed(&p, &parser);
    } else {
        bool more = yaml_document_get_root_node(&next) != NULL;
        yaml_document_delete(&next);
        if (more)
            config_fail(&p, "(top level)", "expected a single YAML document, found a second one");
        else if (config_walk_table(&p, root, config_keys, config_keys_n, out, "") == 0)
            finish(&p, out);
    }
    yaml_document_delete(&p.doc);
out_parser:
    yaml_parser_delete(&parser);
    if (p.failed) {
        config_free(out);
        return -1;
    }
    return 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
    enum { LIMIT = 16 << 20 }; /* a configuration is never this big */
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap == LIMIT) {
                snprintf(err, errlen, "larger than 16 MiB; not a configuration file");
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        goto out;
    }
    rc = config_parse(buf ? buf : "", len, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->server_name);
    free(c->public_baseurl);
    for (size_t i = 0; i < c->n_listeners; i++)
        config_free_list(c->listeners[i].bind_addresses, c->listeners[i].n_bind_addresses);
    free(c->listeners);
    free(c->database.user);
    free(c->database.password);
    free(c->database.dbname);
    free(c->database.host);
    free(c->signing_key_path);
    free(c->media_store_path);
    free(c->audit_log_path);
    free(c->media_scanner.clamd_socket);
    free(c->media_scanner.clamd_host);
    free(c->media_scanner.on_error);
    free(c->server_notices.localpart);
    free(c->server_notices.display_name);
    free(c->server_notices.avatar_url);
    free(c->server_notices.room_name);
    free(c->server_notices.room_topic);
    if (c->registration_shared_secret)
        sodium_memzero(c->registration_shared_secret, strlen(c->registration_shared_secret));
    free(c->registration_shared_secret);
    free(c->default_room_version);
    config_free_list(c->federation_domain_whitelist, c->n_federation_domain_whitelist);
    config_free_list(c->turn_uris, c->n_turn_uris);
    for (size_t i = 0; i < c->n_trusted_key_servers; i++) {
        struct config_key_server *ks = &c->trusted_key_servers[i];
        free(ks->server_name);
        config_free_list(ks->key_ids, ks->n_keys + (ks->key_ids && ks->key_ids[ks->n_keys]));
        config_free_list(ks->keys, ks->n_keys + (ks->keys && ks->keys[ks->n_keys]));
    }
    free(c->trusted_key_servers);
    for (size_t i = 0; i < c->n_old_signing_keys; i++) {
        free(c->old_signing_keys[i].key_id);
        free(c->old_signing_keys[i].key);
    }
    free(c->old_signing_keys);
    free(c->retention.purge_jobs);
    config_free_list(c->federation_custom_ca_list, c->n_federation_custom_ca_list);
    config_free_list(c->url_preview_domains, c->n_url_preview_domains);
    config_free_list(c->url_preview_ip_range_blacklist, c->n_url_preview_ip_range_blacklist);
    config_free_list(c->url_preview_ip_range_whitelist, c->n_url_preview_ip_range_whitelist);
    config_free_list(c->ip_range_blacklist, c->n_ip_range_blacklist);
    config_free_list(c->ip_range_whitelist, c->n_ip_range_whitelist);
    free(c->thumbnail_sizes);
    if (c->turn_shared_secret)
        sodium_memzero(c->turn_shared_secret, strlen(c->turn_shared_secret));
    free(c->turn_shared_secret);
    memset(c, 0, sizeof *c);
}
