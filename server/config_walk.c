/* config_walk.c - the walker over libyaml's node tree: checks each mapping against its table
 * of known keys (config_keys.c), applies defaults, insists on required keys, warns about unknown
 * ones, and fills the lists and mappings (listeners, resources, thumbnail sizes, key servers,
 * old signing keys, purge jobs). Scalars go to config_value.c. config.c's header states the
 * invariants this keeps: errors name the key path, each setting is written at most once, the
 * descent is bounded by the tables, and no value appears in a log line or error. */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/config_internal.h"

/* One mapping (and its sections) being walked against one table. */
struct walk {
    const struct key *rows;
    size_t n;
    void *base; /* the struct the rows' offsets point into */
    bool seen[ROWS_MAX];
};

static int check_keys(struct parse *p, yaml_node_t *map, const char *shown);

int config_fail(struct parse *p, const char *path, const char *fmt, ...)
{
    va_list ap;
    if (p->failed)
        return -1;
    p->failed = true;
    if (!p->errlen)
        return -1;
    int n = snprintf(p->err, p->errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= p->errlen)
        return -1; /* truncated: the start of the path is the best we can do */
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Write prefix "." key into buf (key alone when prefix is empty), with bytes a terminal would
 * interpret shown as '?'. Returns 0, or -1 if it was cut short (buf then ends in "..."). */
static int path_join(char *buf, const char *prefix, const char *key, size_t keylen)
{
    int n = snprintf(buf, PATH_LEN, "%s%s", prefix, prefix[0] ? "." : "");
    size_t at = n < 0 ? 0 : (size_t)n;
    for (size_t i = 0; i < keylen && at < PATH_LEN - 1; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[at++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[at < PATH_LEN ? at : PATH_LEN - 1] = '\0';
    if (n >= 0 && (size_t)n + keylen < PATH_LEN)
        return 0;
    memcpy(buf + PATH_LEN - 4, "...", 4);
    return -1;
}

/* "prefix[i]" into buf (PATH_LEN bytes). */
void config_path_index(char *buf, const char *prefix, size_t i)
{
    if ((size_t)snprintf(buf, PATH_LEN, "%s[%zu]", prefix, i) >= PATH_LEN)
        memcpy(buf + PATH_LEN - 4, "...", 4);
}

/* The text of a scalar node and its length, or NULL if n is not a scalar or holds a NUL. */
static const char *scalar(const yaml_node_t *n, size_t *len)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    const char *s = (const char *)n->data.scalar.value;
    if (memchr(s, '\0', n->data.scalar.length))
        return NULL;
    *len = n->data.scalar.length;
    return s;
}

static bool plain(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* An unquoted empty, "~" or "null" scalar: the key is there but says nothing. */
static bool is_null(const yaml_node_t *n)
{
    size_t len;
    const char *s = scalar(n, &len);
    return s && plain(n) && (len == 0 || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}
static int set_scalar(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                      const char *path)
{
    size_t len = 0;
    const char *s = scalar(v, &len);
    return config_set_text(p, row, base, s, len, s && plain(v), path);
}

static size_t seq_len(const yaml_node_t *v)
{
    return (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct parse *p, const yaml_node_t *v, size_t i)
{
    return yaml_document_get_node(&p->doc, v->data.sequence.items.start[i]);
}

static int set_strlist(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                       const char *path)
{
    char ipath[PATH_LEN];
    if (v->type != YAML_SEQUENCE_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_STRLIST]);
    size_t n = seq_len(v);
    if (n == 0 && row->dflt)
        return 0; /* as Synapse: an empty list means the default */
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return config_fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = scalar(seq_item(p, v, i), &len);
        config_path_index(ipath, path, i);
        if (!s || !len)
            config_fail(p, ipath, "expected a string");
        else if (row->check && !row->check(s, len))
            config_fail(p, ipath, "expected %s", row->arg);
        else if (!(list[i] = strdup(s)))
            config_fail(p, ipath, "out of memory");
        if (p->failed) {
            config_free_list(list, i);
            return -1;
        }
    }
    config_put_list(row, base, list, n);
    return 0;
}

/* A list of mappings, each walked with `rows` into a new array of `size`-byte elements stored
 * at row->off (count at row->off2). An empty list is the error `if_empty` (NULL: allowed). */
static int set_maplist(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                       const char *path, const struct key *rows, size_t nrows, size_t size,
                       const char *if_empty)
{
    char ipath[PATH_LEN];
    void **dst = (void **)(void *)((char *)base + row->off);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);

    if (v->type != YAML_SEQUENCE_NODE)
        return config_fail(p, path, "expected %s", config_expected[row->type]);
    size_t n = seq_len(v);
    if (!n)
        return if_empty ? config_fail(p, path, "%s", if_empty) : 0;
    /* Stored before the walk, so config_free releases whatever a failing element held. */
    if (!(*dst = calloc(n, size)))
        return config_fail(p, path, "out of memory");
    *count = n;
    for (size_t i = 0; i < n; i++) {
        config_path_index(ipath, path, i);
        if (config_walk_table(p, seq_item(p, v, i), rows, nrows, (char *)*dst + i * size, ipath) <
            0)
            return -1;
    }
    return 0;
}

static int set_listeners(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                         const char *path)
{
    char ipath[PATH_LEN];
    if (set_maplist(p, row, base, v, path, config_listener_keys, config_listener_keys_n,
                    sizeof(struct config_listener), "at least one listener is required") < 0)
        return -1;
    struct config_listener *l = *(struct config_listener **)(void *)((char *)base + row->off);
    size_t n = *(size_t *)(void *)((char *)base + row->off2);
    for (size_t i = 0; i < n; i++) {
        config_path_index(ipath, path, i);
        if (!l[i].res_client && !l[i].res_federation && !l[i].res_metrics)
            log_warn("config: %s serves neither the client nor the federation API", ipath);
    }
    return 0;
}

static int set_thumbsizes(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                          const char *path)
{
    char ipath[PATH_LEN];
    struct thumbnail_size **dst = (struct thumbnail_size **)(void *)((char *)base + row->off);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);
    if (v->type != YAML_SEQUENCE_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_THUMBSIZES]);
    size_t n = seq_len(v);
    if (n == 0)
        return 0; /* the default sizes */
    if (n > 32)
        return config_fail(p, path, "at most 32 sizes");
    if (!(*dst = calloc(n, sizeof **dst)))
        return config_fail(p, path, "out of memory");
    *count = n;
    for (size_t i = 0; i < n; i++) {
        struct thumbsize_row r = {0};
        config_path_index(ipath, path, i);
        int rc = config_walk_table(p, seq_item(p, v, i), config_thumbsize_keys,
                                   config_thumbsize_keys_n, &r, ipath);
        (*dst)[i] =
            (struct thumbnail_size){r.width, r.height, r.method && !strcmp(r.method, "crop")};
        free(r.method);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A mapping of names to non-empty string values, kept as two lists of equal length. */
static int set_strmap(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                      const char *path)
{
    char ipath[PATH_LEN];
    char ***names = (char ***)(void *)((char *)base + row->off);
    char ***values = (char ***)(void *)((char *)base + row->off3);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);

    if (v->type != YAML_MAPPING_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_STRMAP]);
    if (check_keys(p, v, path) < 0)
        return -1;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    /* Stored before filling, so config_free releases a partial map. */
    if (!(*names = calloc(n + 1, sizeof **names)) || !(*values = calloc(n + 1, sizeof **values)))
        return config_fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *kv = v->data.mapping.pairs.start + i;
        size_t klen = 0, len = 0;
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key), &klen);
        const char *s = scalar(yaml_document_get_node(&p->doc, kv->value), &len);
        path_join(ipath, path, k, klen);
        if (!s || !len)
            return config_fail(p, ipath, "expected a string");
        if (row->check && !row->check(s, len))
            return config_fail(p, ipath, "expected %s", row->arg);
        if (!((*names)[i] = strdup(k)) || !((*values)[i] = strdup(s)))
            return config_fail(p, ipath, "out of memory");
        *count = i + 1;
    }
    return 0;
}

/* The value of `name` in mapping m, or NULL. */
static yaml_node_t *map_get(struct parse *p, yaml_node_t *m, const char *name)
{
    for (yaml_node_pair_t *kv = m->data.mapping.pairs.start; kv < m->data.mapping.pairs.top; kv++) {
        size_t len = 0;
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key), &len);
        if (k && strcmp(k, name) == 0)
            return yaml_document_get_node(&p->doc, kv->value);
    }
    return NULL;
}

/* Synapse's old_signing_keys: {"ed25519:id": {key: <base64>, expired_ts: <ms>}}. */
static int set_oldkeys(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                       const char *path)
{
    char ipath[PATH_LEN];
    struct config_old_key **dst = (struct config_old_key **)(void *)((char *)base + row->off);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);

    if (v->type != YAML_MAPPING_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_OLDKEYS]);
    if (check_keys(p, v, path) < 0)
        return -1;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (!n)
        return 0;
    if (!(*dst = calloc(n, sizeof **dst)))
        return config_fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *kv = v->data.mapping.pairs.start + i;
        size_t klen = 0, len = 0, tlen = 0;
        const char *id = scalar(yaml_document_get_node(&p->doc, kv->key), &klen);
        yaml_node_t *m = yaml_document_get_node(&p->doc, kv->value);
        long long ts;
        path_join(ipath, path, id, klen);
        if (strncmp(id, "ed25519:", 8) != 0 || klen < 9 || klen > 63)
            return config_fail(p, ipath, "expected a key ID such as ed25519:a_AbCd");
        if (m->type != YAML_MAPPING_NODE)
            return config_fail(p, ipath, "expected a mapping such as {key: ..., expired_ts: ...}");
        const char *key = scalar(map_get(p, m, "key"), &len);
        yaml_node_t *tn = map_get(p, m, "expired_ts");
        const char *t = scalar(tn, &tlen);
        if (!key || !config_key_b64_ok(key, len))
            return config_fail(p, ipath, "key: expected an unpadded base64 ed25519 public key");
        if (!t || !plain(tn) || config_parse_int(t, &ts) < 0 || ts < 0)
            return config_fail(p, ipath, "expired_ts: expected a timestamp in milliseconds");
        *count = i + 1; /* before the copies, so config_free releases a partial entry */
        if (!((*dst)[i].key_id = strdup(id)) || !((*dst)[i].key = strdup(key)))
            return config_fail(p, ipath, "out of memory");
        (*dst)[i].expired_ts = ts;
    }
    return 0;
}

static int set_resources(struct parse *p, void *listener, yaml_node_t *v, const char *path)
{
    char ipath[PATH_LEN];
    if (v->type != YAML_SEQUENCE_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_RESOURCES]);
    for (size_t i = 0; i < seq_len(v); i++) {
        config_path_index(ipath, path, i);
        if (config_walk_table(p, seq_item(p, v, i), config_resource_keys, config_resource_keys_n,
                              listener, ipath) < 0)
            return -1;
    }
    return 0;
}

static int set_resnames(struct parse *p, void *listener, yaml_node_t *v, const char *path)
{
    char ipath[PATH_LEN], shown[PATH_LEN];
    if (v->type != YAML_SEQUENCE_NODE)
        return config_fail(p, path, "expected %s", config_expected[K_RESNAMES]);
    for (size_t i = 0; i < seq_len(v); i++) {
        size_t len = 0, r;
        const char *s = scalar(seq_item(p, v, i), &len);
        config_path_index(ipath, path, i);
        if (!s)
            return config_fail(p, ipath, "expected a resource name");
        for (r = 0; r < config_served_resources_n; r++) {
            if (strcmp(s, config_served_resources[r].name) == 0) {
                *(bool *)(void *)((char *)listener + config_served_resources[r].flag) = true;
                break;
            }
        }
        if (r == config_served_resources_n) {
            path_join(shown, "", s, len); /* a name is no secret; shown without control bytes */
            log_warn("config: %s: resource '%s' is not served by Amtsbote; ignored", ipath, shown);
        }
    }
    return 0;
}

static const struct key *find_row(const struct walk *w, const char *rel)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->rows[i].path, rel) == 0)
            return &w->rows[i];
    return NULL;
}

/* Fail on a key that is not a string or that appears twice in map. O(n^2): configuration
 * mappings have tens of keys. */
static int check_keys(struct parse *p, yaml_node_t *map, const char *shown)
{
    char path[PATH_LEN];
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
         a++) {
        size_t la = 0, lb = 0;
        const char *ka = scalar(yaml_document_get_node(&p->doc, a->key), &la);
        if (!ka) {
            config_fail(p, shown[0] ? shown : "(top level)", "mapping keys must be strings");
            return -1;
        }
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(yaml_document_get_node(&p->doc, b->key), &lb);
            if (kb && la == lb && memcmp(ka, kb, la) == 0) {
                path_join(path, shown, ka, la);
                config_fail(p, path, "duplicate key");
                return -1;
            }
        }
    }
    return 0;
}

/* Walk the mapping found at table path `rel` (shown to the user as `shown`). Returns 0 or -1. */
static int walk_map(struct parse *p, struct walk *w, yaml_node_t *map, const char *shown,
                    const char *rel)
{
    if (check_keys(p, map, shown) < 0)
        return -1;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start; kv < map->data.mapping.pairs.top;
         kv++) {
        char spath[PATH_LEN], rpath[PATH_LEN];
        size_t klen = 0;
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key), &klen);
        yaml_node_t *v = yaml_document_get_node(&p->doc, kv->value);
        const struct key *row = NULL;
        int rc = 0;

        assert(k && v); /* check_keys saw every key; libyaml links only nodes it made */
        if (path_join(spath, shown, k, klen) == 0 && path_join(rpath, rel, k, klen) == 0 &&
            !memchr(k, '.', klen))
            row = find_row(w, rpath);
        if (!row) {
            log_warn("config: unknown config key '%s' ignored", spath);
            continue;
        }
        if (row->type == K_IGNORED) {
            log_info("config: '%s' is a Synapse setting Amtsbote does not use", spath);
            continue;
        }
        if (is_null(v))
            continue; /* keeps the default; a required key stays missing */
        if (row->alias) {
            const struct key *other = find_row(w, row->alias);
            assert(other);
            if (w->seen[other - w->rows])
                return config_fail(p, spath, "same setting as %s; give only one", row->alias);
        }
        w->seen[row - w->rows] = true;
        switch (row->type) {
        case K_SECTION:
            if (v->type != YAML_MAPPING_NODE)
                return config_fail(p, spath, "expected %s", config_expected[K_SECTION]);
            rc = walk_map(p, w, v, spath, rpath);
            break;
        case K_STRLIST:
            rc = set_strlist(p, row, w->base, v, spath);
            break;
        case K_LISTENERS:
            rc = set_listeners(p, row, w->base, v, spath);
            break;
        case K_RESOURCES:
            rc = set_resources(p, w->base, v, spath);
            break;
        case K_RESNAMES:
            rc = set_resnames(p, w->base, v, spath);
            break;
        case K_THUMBSIZES:
            rc = set_thumbsizes(p, row, w->base, v, spath);
            break;
        case K_NOTARIES:
            rc = set_maplist(p, row, w->base, v, spath, config_keyserver_keys,
                             config_keyserver_keys_n, sizeof(struct config_key_server), NULL);
            break;
        case K_STRMAP:
            rc = set_strmap(p, row, w->base, v, spath);
            break;
        case K_OLDKEYS:
            rc = set_oldkeys(p, row, w->base, v, spath);
            break;
        case K_PURGEJOBS:
            rc = set_maplist(p, row, w->base, v, spath, config_purgejob_keys,
                             config_purgejob_keys_n, sizeof(struct config_purge_job), NULL);
            break;
        default:
            rc = set_scalar(p, row, w->base, v, spath);
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Apply the table's defaults to base, walk map into it, then insist on the required keys.
 * Returns 0 or -1. */
int config_walk_table(struct parse *p, yaml_node_t *map, const struct key *rows, size_t n,
                      void *base, const char *shown)
{
    struct walk w = {.rows = rows, .n = n, .base = base};
    char path[PATH_LEN];

    for (size_t i = 0; i < n; i++) {
        if (!rows[i].dflt)
            continue;
        path_join(path, shown, rows[i].path, strlen(rows[i].path));
        if (config_set_text(p, &rows[i], base, rows[i].dflt, strlen(rows[i].dflt), true, path) < 0)
            return -1;
    }
    if (map->type != YAML_MAPPING_NODE)
        return config_fail(p, shown, "expected %s", config_expected[K_SECTION]);
    if (walk_map(p, &w, map, shown, "") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].required && !w.seen[i]) {
            path_join(path, shown, rows[i].path, strlen(rows[i].path));
            return config_fail(p, path, "required");
        }
    }
    return 0;
}
