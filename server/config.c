/* config.c - homeserver.yaml, with Synapse's key names wherever the concept exists.
 *
 * libyaml loads the text into its node tree; three static tables of known keys (the top
 * level, one listener, one listener resource) give every dotted key path a type, a destination
 * field, a default and whether it is required, and one walker checks each mapping against its
 * table. Invariants:
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

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <yaml.h>

#include "server/ids.h"
#include "server/ipfilter.h"

#define NO_DEST SIZE_MAX /* row whose value is checked but not stored */
#define ROWS_MAX 160     /* rows per table: the size of a walk's `seen` set */
#define PATH_LEN 256     /* longest key path shown; every known path is far shorter */

enum ktype {
    K_SECTION,   /* a mapping whose keys have rows of their own */
    K_STR,       /* char *; any non-empty scalar, numbers kept as written; optional check */
    K_BOOL,      /* bool: true/false/yes/no/on/off, unquoted, any case */
    K_FALSE,     /* a boolean that must be false; `arg` says why */
    K_INT,       /* int, unquoted decimal within [min, max] */
    K_NUM,       /* double, unquoted non-negative decimal */
    K_SIZE,      /* int64_t, Synapse size string within [min, max] */
    K_DURATION,  /* int64_t milliseconds, Synapse duration string ("30s", "1h"; bare = ms) */
    K_LOGLEVEL,  /* enum log_level */
    K_CHOICE,    /* one of the space-separated words in `arg`; not stored */
    K_STRLIST,   /* char ** at off, size_t count at off2; optional check per item */
    K_LISTENERS, /* struct config_listener * at off, count at off2; items: listener_keys */
    K_RESOURCES, /* list of mappings, each walked with resource_keys */
    K_RESNAMES,  /* list of resource names: sets the listener's res_* flags */
    K_THUMBSIZES, /* struct thumbnail_size * at off, count at off2; items: thumbsize_keys */
    K_NOTARIES,   /* struct config_key_server * at off, count at off2; items: keyserver_keys */
    K_OLDKEYS,    /* struct config_old_key * at off, count at off2: key ID -> {key, expired_ts} */
    K_STRMAP,     /* mapping of strings to strings: char ** names at off, values at off3, count
                     at off2; optional check per value */
    K_PURGEJOBS,  /* struct config_purge_job * at off, count at off2; items: purgejob_keys */
    K_IGNORED,   /* a Synapse key Amtsbote knowingly does not use */
};

/* What a value of each type must look like: "<path>: expected <this>". */
static const char *const expected[] = {
    [K_SECTION] = "a mapping",
    [K_STR] = "a string",
    [K_BOOL] = "a boolean",
    [K_FALSE] = "a boolean",
    [K_INT] = "an integer",
    [K_NUM] = "a non-negative number",
    [K_SIZE] = "a size such as 1024, 10K, 50M or 1G",
    [K_DURATION] = "a duration such as 30s, 10m, 1h or 7d",
    [K_LOGLEVEL] = "one of error, warning, info, debug",
    [K_CHOICE] = "a string",
    [K_STRLIST] = "a list of strings",
    [K_LISTENERS] = "a list of listeners",
    [K_RESOURCES] = "a list of resources such as {names: [client, federation]}",
    [K_THUMBSIZES] = "a list of sizes such as {width: 32, height: 32, method: crop}",
    [K_RESNAMES] = "a list of resource names",
    [K_NOTARIES] = "a list of key servers such as {server_name: example.org}",
    [K_OLDKEYS] = "a mapping of key IDs to {key, expired_ts}",
    [K_STRMAP] = "a mapping of names to strings",
    [K_PURGEJOBS] = "a list of jobs such as {longest_max_lifetime: 3d, interval: 12h}",
    [K_IGNORED] = "anything",
};

struct key {
    const char *path; /* dotted, relative to the mapping the table describes */
    enum ktype type;
    size_t off;         /* destination in the table's struct, or NO_DEST */
    const char *dflt;   /* default, written as in YAML (lists: space-separated); NULL = zero */
    size_t off2;        /* lists: where the item count goes */
    size_t off3;        /* K_STRMAP: where the values go */
    bool required;      /* absent or null -> "<path>: required" */
    long long min, max; /* K_INT, K_SIZE bounds */
    bool (*check)(const char *s, size_t len); /* K_STR, K_STRLIST items: extra validation */
    const char *arg;   /* with check: what was expected; K_CHOICE: the accepted words;
                          K_FALSE: the error when true */
    const char *alias; /* another row (same table) for the same setting: give only one */
};

static bool baseurl_ok(const char *s, size_t len);
static bool roomver_ok(const char *s, size_t len);
static bool ip_ok(const char *s, size_t len);
static bool turn_uri_ok(const char *s, size_t len);
static bool key_b64_ok(const char *s, size_t len);
static bool notices_localpart_ok(const char *s, size_t len)
{
    return ids_localpart_valid(s, len);
}
static bool on_error_ok(const char *s, size_t len)
{
    return strcmp(s, "refuse") == 0 || strcmp(s, "allow") == 0;
}

#define SERVER_NAME_WANTED "a server name such as example.org or example.org:8448"

/* Omitted columns are zero (no default, not required, no check): that is the point of the
 * short rows, so the warning about them is off for the tables only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define C(field) offsetof(struct config, field)
#define IP_RANGE "an IP range such as 10.0.0.0/8, fc00::/7 or 127.0.0.1"
/* The top level. Columns: path, type, destination, default, then named extras. */
static const struct key config_keys[] = {
    {"server_name", K_STR, C(server_name), NULL, .required = true, .check = config_server_name_ok,
     .arg = SERVER_NAME_WANTED},
    {"public_baseurl", K_STR, C(public_baseurl), NULL, .check = baseurl_ok,
     .arg = "an http:// or https:// URL"}, /* unset: NULL (nothing advertised) */
    {"serve_server_wellknown", K_BOOL, C(serve_server_wellknown), "false"},
    {"listeners", K_LISTENERS, C(listeners), NULL, .off2 = C(n_listeners), .required = true},
    {"database", K_SECTION, NO_DEST, NULL, .required = true},
    {"database.name", K_CHOICE, NO_DEST, NULL, .required = true, .arg = "psycopg2 postgresql"},
    {"database.args", K_SECTION, NO_DEST, NULL},
    {"database.args.user", K_STR, C(database.user), NULL},
    {"database.args.password", K_STR, C(database.password), NULL},
    {"database.args.database", K_STR, C(database.dbname), NULL, .alias = "database.args.dbname"},
    {"database.args.dbname", K_STR, C(database.dbname), NULL, .alias = "database.args.database"},
    {"database.args.host", K_STR, C(database.host), NULL},
    {"database.args.port", K_INT, C(database.port), NULL, .min = 1, .max = 65535},
    {"database.args.cp_min", K_INT, C(database.cp_min), "2", .min = 1, .max = 1000},
    {"database.args.cp_max", K_INT, C(database.cp_max), "10", .min = 1, .max = 1000},
    {"signing_key_path", K_STR, C(signing_key_path), NULL, .required = true},
    {"media_store_path", K_STR, C(media_store_path), "media_store"},
    {"audit_log_path", K_STR, C(audit_log_path), NULL},
    {"enable_registration", K_BOOL, C(enable_registration), "false"},
    {"enable_registration_without_verification", K_BOOL,
     C(enable_registration_without_verification), "false"},
    {"registration_requires_token", K_BOOL, C(registration_requires_token), "false"},
    {"registration_shared_secret", K_STR, C(registration_shared_secret), NULL},
    {"password_config", K_SECTION, NO_DEST, NULL},
    {"password_config.enabled", K_BOOL, C(password_enabled), "true"},
    {"max_upload_size", K_SIZE, C(max_upload_size), "50M", .min = 1, .max = INT64_MAX},
    {"allow_public_rooms_over_federation", K_BOOL, C(allow_public_rooms_over_federation),
     "false"},
    {"media_scanner", K_SECTION, NO_DEST, NULL},
    {"media_scanner.enabled", K_BOOL, C(media_scanner.enabled), "false"},
    {"media_scanner.clamd_socket", K_STR, C(media_scanner.clamd_socket), NULL},
    {"media_scanner.clamd_host", K_STR, C(media_scanner.clamd_host), NULL},
    {"media_scanner.clamd_port", K_INT, C(media_scanner.clamd_port), "3310", .min = 1,
     .max = 65535},
    {"media_scanner.timeout", K_DURATION, C(media_scanner.timeout_ms), "30s"},
    {"media_scanner.on_error", K_STR, C(media_scanner.on_error), "refuse", .check = on_error_ok,
     .arg = "refuse or allow"},
    {"media_scanner.max_scan_size", K_SIZE, C(media_scanner.max_scan_size), "50M", .min = 1,
     .max = INT64_MAX},
    {"server_notices", K_SECTION, NO_DEST, NULL},
    {"server_notices.system_mxid_localpart", K_STR, C(server_notices.localpart), NULL,
     .check = notices_localpart_ok, .arg = "a user ID's local part such as server"},
    {"server_notices.system_mxid_display_name", K_STR, C(server_notices.display_name), NULL},
    {"server_notices.system_mxid_avatar_url", K_STR, C(server_notices.avatar_url), NULL},
    {"server_notices.room_name", K_STR, C(server_notices.room_name), "Server Notices"},
    {"server_notices.room_topic", K_STR, C(server_notices.room_topic), NULL},
    {"server_notices.auto_join", K_BOOL, C(server_notices.auto_join), "false"},
    {"server_notices.room_avatar_url", K_IGNORED, NO_DEST, NULL},
    {"enable_authenticated_media", K_BOOL, C(enable_authenticated_media), "true"},
    {"url_preview_enabled", K_BOOL, C(url_preview_enabled), "false"},
    {"url_preview_domain_whitelist", K_STRLIST, C(url_preview_domains), NULL,
     .off2 = C(n_url_preview_domains), .check = config_server_name_ok,
     .arg = "a host name such as intranet.example.org"},
    {"url_preview_ip_range_blacklist", K_STRLIST, C(url_preview_ip_range_blacklist), NULL,
     .off2 = C(n_url_preview_ip_range_blacklist), .check = ipfilter_range_ok, .arg = IP_RANGE},
    {"url_preview_ip_range_whitelist", K_STRLIST, C(url_preview_ip_range_whitelist), NULL,
     .off2 = C(n_url_preview_ip_range_whitelist), .check = ipfilter_range_ok, .arg = IP_RANGE},
    {"ip_range_blacklist", K_STRLIST, C(ip_range_blacklist), NULL,
     .off2 = C(n_ip_range_blacklist), .check = ipfilter_range_ok, .arg = IP_RANGE,
     .alias = "federation_ip_range_blacklist"},
    /* Synapse's older name for the same setting */
    {"federation_ip_range_blacklist", K_STRLIST, C(ip_range_blacklist), NULL,
     .off2 = C(n_ip_range_blacklist), .check = ipfilter_range_ok, .arg = IP_RANGE,
     .alias = "ip_range_blacklist"},
    {"ip_range_whitelist", K_STRLIST, C(ip_range_whitelist), NULL,
     .off2 = C(n_ip_range_whitelist), .check = ipfilter_range_ok, .arg = IP_RANGE},
    {"thumbnail_sizes", K_THUMBSIZES, C(thumbnail_sizes), NULL, .off2 = C(n_thumbnail_sizes)},
    {"max_request_body_size", K_SIZE, C(max_request_body_size), "1M", .min = 1024,
     .max = INT64_MAX},
    {"push", K_SECTION, NO_DEST, NULL},
    {"push.include_content", K_BOOL, C(push_include_content), "false"},
    {"presence", K_SECTION, NO_DEST, NULL},
    {"presence.enabled", K_BOOL, C(presence_enabled), "false"},
    {"allow_guest_access", K_FALSE, C(allow_guest_access), "false",
     .arg = "guest access is not supported; set allow_guest_access: false"},
    {"log_level", K_LOGLEVEL, C(log_level), "info"},
    {"worker_threads", K_INT, C(worker_threads), "4", .min = 1, .max = 256},
    {"max_connections", K_INT, C(max_connections), "10000", .min = 16, .max = 1000000},
    {"request_header_timeout", K_DURATION, C(request_header_timeout_ms), "30s"},
    {"request_body_timeout", K_DURATION, C(request_body_timeout_ms), "60s"},
    {"default_room_version", K_STR, C(default_room_version), "12", .check = roomver_ok,
     .arg = "a room version such as 10 or 12"},
    {"federation_domain_whitelist", K_STRLIST, C(federation_domain_whitelist), NULL,
     .off2 = C(n_federation_domain_whitelist), .check = config_server_name_ok,
     .arg = SERVER_NAME_WANTED},
    {"old_signing_keys", K_OLDKEYS, C(old_signing_keys), NULL, .off2 = C(n_old_signing_keys)},
    {"trusted_key_servers", K_NOTARIES, C(trusted_key_servers), NULL,
     .off2 = C(n_trusted_key_servers)},
    {"federation_verify_certificates", K_BOOL, C(federation_verify_certificates), "true"},
    {"federation_custom_ca_list", K_STRLIST, C(federation_custom_ca_list), NULL,
     .off2 = C(n_federation_custom_ca_list)},
    {"turn_uris", K_STRLIST, C(turn_uris), NULL, .off2 = C(n_turn_uris), .check = turn_uri_ok,
     .arg = "a turn: or turns: URI"},
    {"turn_shared_secret", K_STR, C(turn_shared_secret), NULL},
    {"turn_user_lifetime", K_DURATION, C(turn_user_lifetime_ms), "1h"},
    {"user_directory", K_SECTION, NO_DEST, NULL},
    {"user_directory.enabled", K_BOOL, C(user_directory_enabled), "true"},
    {"user_directory.search_all_users", K_BOOL, C(user_directory_search_all_users), "false"},
    /* Data protection: message retention (MSC1763) and housekeeping; server/retention.c and
     * server/privacy.c apply them. */
    {"retention", K_SECTION, NO_DEST, NULL},
    {"retention.enabled", K_BOOL, C(retention.enabled), "false"},
    {"retention.default_policy", K_SECTION, NO_DEST, NULL},
    {"retention.default_policy.min_lifetime", K_DURATION, C(retention.default_min_lifetime_ms)},
    {"retention.default_policy.max_lifetime", K_DURATION, C(retention.default_max_lifetime_ms)},
    {"retention.allowed_lifetime_min", K_DURATION, C(retention.allowed_lifetime_min_ms)},
    {"retention.allowed_lifetime_max", K_DURATION, C(retention.allowed_lifetime_max_ms)},
    {"retention.purge_jobs", K_PURGEJOBS, C(retention.purge_jobs), NULL,
     .off2 = C(retention.n_purge_jobs)},
    {"delete_stale_devices_after", K_DURATION, C(delete_stale_devices_after_ms)},
    {"user_ips_max_age", K_DURATION, C(user_ips_max_age_ms), "28d"},
    {"redaction_retention_period", K_DURATION, C(redaction_retention_period_ms), "7d"},
    {"forget_rooms_on_leave", K_BOOL, C(forget_rooms_on_leave), "false"},
    {"rc_registration", K_SECTION, NO_DEST, NULL},
    {"rc_registration.per_second", K_NUM, C(rc_registration.per_second), "0.17"},
    {"rc_registration.burst_count", K_NUM, C(rc_registration.burst_count), "3"},
    {"rc_login", K_SECTION, NO_DEST, NULL},
    {"rc_login.address", K_SECTION, NO_DEST, NULL},
    {"rc_login.address.per_second", K_NUM, C(rc_login_address.per_second), "0.17"},
    {"rc_login.address.burst_count", K_NUM, C(rc_login_address.burst_count), "3"},
    {"rc_login.account", K_SECTION, NO_DEST, NULL},
    {"rc_login.account.per_second", K_NUM, C(rc_login_account.per_second), "0.17"},
    {"rc_login.account.burst_count", K_NUM, C(rc_login_account.burst_count), "3"},
    {"rc_login.failed_attempts", K_SECTION, NO_DEST, NULL},
    {"rc_login.failed_attempts.per_second", K_NUM, C(rc_login_failed.per_second), "0.17"},
    {"rc_login.failed_attempts.burst_count", K_NUM, C(rc_login_failed.burst_count), "3"},
    {"rc_message", K_SECTION, NO_DEST, NULL},
    {"rc_message.per_second", K_NUM, C(rc_message.per_second), "0.2"},
    {"rc_message.burst_count", K_NUM, C(rc_message.burst_count), "10"},
    /* Synapse settings with no meaning here: accepted so a Synapse file loads unchanged. */
    {"report_stats", K_IGNORED, NO_DEST, NULL},
    {"pid_file", K_IGNORED, NO_DEST, NULL},
    {"log_config", K_IGNORED, NO_DEST, NULL},
    {"suppress_key_server_warning", K_IGNORED, NO_DEST, NULL},
    {"macaroon_secret_key", K_IGNORED, NO_DEST, NULL},
    {"form_secret", K_IGNORED, NO_DEST, NULL},
};
#undef C

#define L(field) offsetof(struct config_listener, field)
/* One element of listeners. Same columns. */
static const struct key listener_keys[] = {
    {"port", K_INT, L(port), NULL, .required = true, .min = 1, .max = 65535},
    {"bind_addresses", K_STRLIST, L(bind_addresses), "::1 127.0.0.1", .off2 = L(n_bind_addresses),
     .check = ip_ok, .arg = "an IP address such as 127.0.0.1 or ::1"},
    {"type", K_CHOICE, NO_DEST, NULL, .arg = "http"},
    {"tls", K_FALSE, L(tls), "false",
     .arg = "TLS is terminated by the reverse proxy; set tls: false"},
    {"x_forwarded", K_BOOL, L(x_forwarded), "false"},
    /* -1: not given; finish() picks the default from x_forwarded */
    {"max_connections_per_address", K_INT, L(max_connections_per_address), "-1", .min = -1,
     .max = 1000000},
    {"resources", K_RESOURCES, NO_DEST, NULL},
};

/* One element of thumbnail_sizes, read into a struct thumbsize_row. Same columns. */
struct thumbsize_row {
    int width, height;
    char *method;
};
#define T(field) offsetof(struct thumbsize_row, field)
static bool method_ok(const char *s, size_t len)
{
    return strcmp(s, "crop") == 0 || strcmp(s, "scale") == 0;
}
static const struct key thumbsize_keys[] = {
    {"width", K_INT, T(width), NULL, .required = true, .min = 1, .max = 10000},
    {"height", K_INT, T(height), NULL, .required = true, .min = 1, .max = 10000},
    {"method", K_STR, T(method), "scale", .check = method_ok, .arg = "crop or scale"},
};
#undef T

#define KS(field) offsetof(struct config_key_server, field)
/* One element of trusted_key_servers. Same columns. */
static const struct key keyserver_keys[] = {
    {"server_name", K_STR, KS(server_name), NULL, .required = true, .check = config_server_name_ok,
     .arg = SERVER_NAME_WANTED},
    {"verify_keys", K_STRMAP, KS(key_ids), NULL, .off2 = KS(n_keys), .off3 = KS(keys),
     .check = key_b64_ok, .arg = "an unpadded base64 ed25519 public key"},
    {"accept_keys_insecurely", K_IGNORED, NO_DEST, NULL},
};
#undef KS

#define PJ(field) offsetof(struct config_purge_job, field)
/* One element of retention.purge_jobs. Same columns. */
static const struct key purgejob_keys[] = {
    {"shortest_max_lifetime", K_DURATION, PJ(shortest_max_lifetime_ms)},
    {"longest_max_lifetime", K_DURATION, PJ(longest_max_lifetime_ms)},
    {"interval", K_DURATION, PJ(interval_ms), NULL, .required = true},
};
#undef PJ

/* One element of listeners[].resources; its base is still the listener. Same columns. */
static const struct key resource_keys[] = {
    {"names", K_RESNAMES, NO_DEST, NULL, .required = true},
    {"compress", K_BOOL, NO_DEST, "false"},
};

/* Resource names Amtsbote serves: name, the listener flag it sets. Others only warn. */
static const struct {
    const char *name;
    size_t flag;
} served_resources[] = {
    {"client", L(res_client)},
    {"federation", L(res_federation)},
    {"metrics", L(res_metrics)},
};
#undef L
#pragma GCC diagnostic pop

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT(config_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(listener_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(expected) == K_IGNORED + 1, "a type lacks its expected[] text");

struct parse {
    yaml_document_t doc;
    char *err;
    size_t errlen;
    bool failed;
};

/* One mapping (and its sections) being walked against one table. */
struct walk {
    const struct key *rows;
    size_t n;
    void *base; /* the struct the rows' offsets point into */
    bool seen[ROWS_MAX];
};

static int walk_table(struct parse *p, yaml_node_t *map, const struct key *rows, size_t n,
                      void *base, const char *shown);
static int check_keys(struct parse *p, yaml_node_t *map, const char *shown);

/* Record the first error as "<path>: <message>". Returns -1, for `return fail(...)`. */
__attribute__((format(printf, 3, 4))) static int fail(struct parse *p, const char *path,
                                                      const char *fmt, ...)
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
static void path_index(char *buf, const char *prefix, size_t i)
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

static int parse_bool(const char *s, bool *out)
{
    /* spelling, value */
    static const struct {
        const char *word;
        bool value;
    } words[] = {{"true", true},   {"yes", true}, {"on", true},
                 {"false", false}, {"no", false}, {"off", false}};
    for (size_t i = 0; i < COUNT(words); i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            *out = words[i].value;
            return 0;
        }
    }
    return -1;
}

/* Decimal integer: optional '-', 1 to 18 digits. */
static int parse_int(const char *s, long long *out)
{
    bool neg = *s == '-';
    long long v = 0;
    size_t digits = 0;
    for (s += neg; *s; s++, digits++) {
        if (*s < '0' || *s > '9' || digits == 18)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (!digits)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

/* Non-negative decimal: digits with at most one '.', at most 15 digits in all, then optionally
 * an exponent (1e-05, as JSON writers put it). The digits form an exact integer and the net
 * power of ten is kept within 10^±22, which doubles hold exactly, so one multiplication or
 * division gives the correctly rounded value. Locale-independent, unlike strtod. */
static int parse_decimal(const char *s, double *out)
{
    uint64_t mant = 0;
    int digits = 0, frac = -1, exp10 = 0; /* frac: digits after the '.', -1 while none seen */
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 15)
                return -1;
            mant = mant * 10 + (uint64_t)(*s - '0');
            if (frac >= 0)
                frac++;
        } else if (*s == '.' && frac < 0) {
            frac = 0;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    if (*s) {
        bool neg = *++s == '-';
        int e = 0, edigits = 0;
        s += *s == '-' || *s == '+';
        for (; *s; s++, edigits++) {
            if (*s < '0' || *s > '9' || edigits == 3)
                return -1;
            e = e * 10 + (*s - '0');
        }
        if (!edigits)
            return -1;
        exp10 = neg ? -e : e;
    }
    exp10 -= frac > 0 ? frac : 0;
    if (exp10 < -22 || exp10 > 22)
        return -1;
    double scale = 1;
    for (int i = 0; i < (exp10 < 0 ? -exp10 : exp10); i++)
        scale *= 10;
    *out = exp10 < 0 ? (double)mant / scale : (double)mant * scale;
    return 0;
}

/* A unit letter and what it multiplies by. */
struct unit {
    char suffix;
    int64_t mult;
};

/* Decimal digits, then at most one unit letter from `units` (upper and lower case alike when
 * `any_case`); no unit: 1. 0 with *out, or -1 when malformed or out of range. */
static int parse_scaled(const char *s, const struct unit *units, size_t n, bool any_case,
                        int64_t *out)
{
    int64_t v = 0, mult = 1;
    size_t digits = 0;
    if (!s)
        return -1;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (!digits)
        return -1;
    if (*s) {
        mult = 0;
        for (size_t i = 0; i < n; i++)
            if (*s == units[i].suffix ||
                (any_case && tolower((unsigned char)*s) == tolower((unsigned char)units[i].suffix)))
                mult = units[i].mult;
        if (!mult || s[1])
            return -1;
    }
    if (v > INT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int config_parse_size(const char *s, int64_t *out)
{
    /* Synapse's: powers of 1024, either case */
    static const struct unit units[] = {
        {'K', INT64_C(1) << 10}, {'M', INT64_C(1) << 20}, {'G', INT64_C(1) << 30}};
    return parse_scaled(s, units, COUNT(units), true, out);
}

/* ids_server_name_valid, plus what a name we are configured with must also have: DNS labels
 * that are not empty, and a port that exists. */
bool config_server_name_ok(const char *s, size_t len)
{
    if (!ids_server_name_valid(s, len))
        return false;
    const char *end = s + len, *port = NULL;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        port = close + 1 < end ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        const char *host_end = colon ? colon : end;
        port = colon ? colon + 1 : NULL;
        if (s[0] == '.' || host_end[-1] == '.')
            return false;
        for (const char *c = s; c + 1 < host_end; c++)
            if (c[0] == '.' && c[1] == '.')
                return false;
    }
    if (port) {
        long v = 0;
        for (; port < end; port++)
            v = v * 10 + (*port - '0');
        if (v < 1 || v > 65535)
            return false;
    }
    return true;
}

int config_parse_duration(const char *s, int64_t *out)
{
    /* Synapse's units, to milliseconds; a bare number is milliseconds */
    static const struct unit units[] = {{'s', 1000},      {'m', 60000},
                                        {'h', 3600000},   {'d', 86400000},
                                        {'w', 604800000}, {'y', INT64_C(31536000000)}};
    return parse_scaled(s, units, COUNT(units), false, out);
}

/* turn:host[:port][?transport=udp|tcp] or turns:...; no spaces or controls. */
static bool turn_uri_ok(const char *s, size_t len)
{
    size_t scheme = strncmp(s, "turns:", 6) == 0 ? 6 : strncmp(s, "turn:", 5) == 0 ? 5 : 0;
    if (!scheme || len == scheme)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* 32 bytes in base64: 43 characters unpadded (44 padded), of the standard alphabet. */
static bool key_b64_ok(const char *s, size_t len)
{
    if (len != 43 && !(len == 44 && s[43] == '='))
        return false;
    for (size_t i = 0; i < 43; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

static bool baseurl_ok(const char *s, size_t len)
{
    size_t scheme = strncasecmp(s, "https://", 8) == 0  ? 8
                    : strncasecmp(s, "http://", 7) == 0 ? 7
                                                        : 0;
    if (!scheme || len == scheme)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The spec's room version grammar: 1-32 of [a-z0-9.-]. */
static bool roomver_ok(const char *s, size_t len)
{
    if (len < 1 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '-'))
            return false;
    return true;
}

/* An IPv4 or IPv6 address literal, as the listener binds it (server/http.c). */
static bool ip_ok(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

static bool choice_ok(const char *words, const char *s, size_t len)
{
    while (*words) {
        size_t n = strcspn(words, " ");
        if (n == len && memcmp(words, s, n) == 0)
            return true;
        words += n + (words[n] == ' ');
    }
    return false;
}

static void free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Store a new string list at row's destination, releasing the old one. */
static void put_list(const struct key *row, void *base, char **list, size_t n)
{
    char ***dst = (char ***)(void *)((char *)base + row->off);
    size_t *count = (size_t *)(void *)((char *)base + row->off2);
    free_list(*dst, *count);
    *dst = list;
    *count = n;
}

/* Set a scalar-typed row from text s (NULL: the value was not a usable scalar); `bare` says
 * it was unquoted. Returns 0, or fails naming `path` if the text does not fit the row. */
static int set_text(struct parse *p, const struct key *row, void *base, const char *s, size_t len,
                    bool bare, const char *path)
{
    void *dst = row->off == NO_DEST ? NULL : (char *)base + row->off;
    long long iv;
    int64_t zv;
    double dv;
    bool bv;
    enum log_level lv;

    switch (row->type) {
    case K_STR: {
        if (!s)
            return fail(p, path, "expected %s", row->check ? row->arg : expected[K_STR]);
        if (!len)
            return fail(p, path, "must not be empty (leave the key out instead)");
        if (row->check && !row->check(s, len))
            return fail(p, path, "expected %s", row->arg);
        char *copy = strdup(s);
        if (!copy)
            return fail(p, path, "out of memory");
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case K_BOOL:
    case K_FALSE:
        if (!s || !bare || parse_bool(s, &bv) < 0)
            return fail(p, path, "expected %s", expected[row->type]);
        if (row->type == K_FALSE && bv)
            return fail(p, path, "%s", row->arg);
        if (dst)
            *(bool *)dst = bv;
        return 0;
    case K_INT:
        if (!s || !bare || parse_int(s, &iv) < 0)
            return fail(p, path, "expected %s", expected[K_INT]);
        if (iv < row->min || iv > row->max)
            return fail(p, path, "must be between %lld and %lld", row->min, row->max);
        *(int *)dst = (int)iv;
        return 0;
    case K_NUM:
        if (!s || !bare || parse_decimal(s, &dv) < 0)
            return fail(p, path, "expected %s", expected[K_NUM]);
        *(double *)dst = dv;
        return 0;
    case K_SIZE:
        if (!s || config_parse_size(s, &zv) < 0)
            return fail(p, path, "expected %s", expected[K_SIZE]);
        if (zv < row->min || zv > row->max)
            return fail(p, path, "must be at least %lld bytes", row->min);
        *(int64_t *)dst = zv;
        return 0;
    case K_DURATION:
        if (!s || config_parse_duration(s, &zv) < 0)
            return fail(p, path, "expected %s", expected[K_DURATION]);
        *(int64_t *)dst = zv;
        return 0;
    case K_LOGLEVEL:
        if (!s || log_level_parse(s, &lv) < 0)
            return fail(p, path, "expected %s", expected[K_LOGLEVEL]);
        *(enum log_level *)dst = lv;
        return 0;
    case K_CHOICE:
        if (!s || !choice_ok(row->arg, s, len))
            return fail(p, path, "expected one of: %s", row->arg);
        return 0;
    case K_STRLIST: { /* only for a default: space-separated words */
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += s[i] != ' ' && (i == 0 || s[i - 1] == ' ');
        char **list = calloc(n + 1, sizeof *list);
        if (!list)
            return fail(p, path, "out of memory");
        for (size_t i = 0, at = 0; at < len; i++) {
            size_t w = strcspn(s + at, " ");
            if (!(list[i] = strndup(s + at, w))) {
                free_list(list, i);
                return fail(p, path, "out of memory");
            }
            at += w + 1;
        }
        put_list(row, base, list, n);
        return 0;
    }
    case K_SECTION:
    case K_LISTENERS:
    case K_RESOURCES:
    case K_RESNAMES:
    case K_THUMBSIZES:
    case K_NOTARIES:
    case K_OLDKEYS:
    case K_STRMAP:
    case K_PURGEJOBS:
    case K_IGNORED:
        break;
    }
    assert(!"set_text on a row that is not a scalar");
    return -1;
}

static int set_scalar(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                      const char *path)
{
    size_t len = 0;
    const char *s = scalar(v, &len);
    return set_text(p, row, base, s, len, s && plain(v), path);
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
        return fail(p, path, "expected %s", expected[K_STRLIST]);
    size_t n = seq_len(v);
    if (n == 0 && row->dflt)
        return 0; /* as Synapse: an empty list means the default */
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = scalar(seq_item(p, v, i), &len);
        path_index(ipath, path, i);
        if (!s || !len)
            fail(p, ipath, "expected a string");
        else if (row->check && !row->check(s, len))
            fail(p, ipath, "expected %s", row->arg);
        else if (!(list[i] = strdup(s)))
            fail(p, ipath, "out of memory");
        if (p->failed) {
            free_list(list, i);
            return -1;
        }
    }
    put_list(row, base, list, n);
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
        return fail(p, path, "expected %s", expected[row->type]);
    size_t n = seq_len(v);
    if (!n)
        return if_empty ? fail(p, path, "%s", if_empty) : 0;
    /* Stored before the walk, so config_free releases whatever a failing element held. */
    if (!(*dst = calloc(n, size)))
        return fail(p, path, "out of memory");
    *count = n;
    for (size_t i = 0; i < n; i++) {
        path_index(ipath, path, i);
        if (walk_table(p, seq_item(p, v, i), rows, nrows, (char *)*dst + i * size, ipath) < 0)
            return -1;
    }
    return 0;
}

static int set_listeners(struct parse *p, const struct key *row, void *base, yaml_node_t *v,
                         const char *path)
{
    char ipath[PATH_LEN];
    if (set_maplist(p, row, base, v, path, listener_keys, COUNT(listener_keys),
                    sizeof(struct config_listener), "at least one listener is required") < 0)
        return -1;
    struct config_listener *l = *(struct config_listener **)(void *)((char *)base + row->off);
    size_t n = *(size_t *)(void *)((char *)base + row->off2);
    for (size_t i = 0; i < n; i++) {
        path_index(ipath, path, i);
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
        return fail(p, path, "expected %s", expected[K_THUMBSIZES]);
    size_t n = seq_len(v);
    if (n == 0)
        return 0; /* the default sizes */
    if (n > 32)
        return fail(p, path, "at most 32 sizes");
    if (!(*dst = calloc(n, sizeof **dst)))
        return fail(p, path, "out of memory");
    *count = n;
    for (size_t i = 0; i < n; i++) {
        struct thumbsize_row r = {0};
        path_index(ipath, path, i);
        int rc = walk_table(p, seq_item(p, v, i), thumbsize_keys, COUNT(thumbsize_keys), &r, ipath);
        (*dst)[i] = (struct thumbnail_size){r.width, r.height, r.method && !strcmp(r.method, "crop")};
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
        return fail(p, path, "expected %s", expected[K_STRMAP]);
    if (check_keys(p, v, path) < 0)
        return -1;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    /* Stored before filling, so config_free releases a partial map. */
    if (!(*names = calloc(n + 1, sizeof **names)) || !(*values = calloc(n + 1, sizeof **values)))
        return fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *kv = v->data.mapping.pairs.start + i;
        size_t klen = 0, len = 0;
        const char *k = scalar(yaml_document_get_node(&p->doc, kv->key), &klen);
        const char *s = scalar(yaml_document_get_node(&p->doc, kv->value), &len);
        path_join(ipath, path, k, klen);
        if (!s || !len)
            return fail(p, ipath, "expected a string");
        if (row->check && !row->check(s, len))
            return fail(p, ipath, "expected %s", row->arg);
        if (!((*names)[i] = strdup(k)) || !((*values)[i] = strdup(s)))
            return fail(p, ipath, "out of memory");
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
        return fail(p, path, "expected %s", expected[K_OLDKEYS]);
    if (check_keys(p, v, path) < 0)
        return -1;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (!n)
        return 0;
    if (!(*dst = calloc(n, sizeof **dst)))
        return fail(p, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *kv = v->data.mapping.pairs.start + i;
        size_t klen = 0, len = 0, tlen = 0;
        const char *id = scalar(yaml_document_get_node(&p->doc, kv->key), &klen);
        yaml_node_t *m = yaml_document_get_node(&p->doc, kv->value);
        long long ts;
        path_join(ipath, path, id, klen);
        if (strncmp(id, "ed25519:", 8) != 0 || klen < 9 || klen > 63)
            return fail(p, ipath, "expected a key ID such as ed25519:a_AbCd");
        if (m->type != YAML_MAPPING_NODE)
            return fail(p, ipath, "expected a mapping such as {key: ..., expired_ts: ...}");
        const char *key = scalar(map_get(p, m, "key"), &len);
        yaml_node_t *tn = map_get(p, m, "expired_ts");
        const char *t = scalar(tn, &tlen);
        if (!key || !key_b64_ok(key, len))
            return fail(p, ipath, "key: expected an unpadded base64 ed25519 public key");
        if (!t || !plain(tn) || parse_int(t, &ts) < 0 || ts < 0)
            return fail(p, ipath, "expired_ts: expected a timestamp in milliseconds");
        *count = i + 1; /* before the copies, so config_free releases a partial entry */
        if (!((*dst)[i].key_id = strdup(id)) || !((*dst)[i].key = strdup(key)))
            return fail(p, ipath, "out of memory");
        (*dst)[i].expired_ts = ts;
    }
    return 0;
}

static int set_resources(struct parse *p, void *listener, yaml_node_t *v, const char *path)
{
    char ipath[PATH_LEN];
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(p, path, "expected %s", expected[K_RESOURCES]);
    for (size_t i = 0; i < seq_len(v); i++) {
        path_index(ipath, path, i);
        if (walk_table(p, seq_item(p, v, i), resource_keys, COUNT(resource_keys), listener, ipath) <
            0)
            return -1;
    }
    return 0;
}

static int set_resnames(struct parse *p, void *listener, yaml_node_t *v, const char *path)
{
    char ipath[PATH_LEN], shown[PATH_LEN];
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(p, path, "expected %s", expected[K_RESNAMES]);
    for (size_t i = 0; i < seq_len(v); i++) {
        size_t len = 0, r;
        const char *s = scalar(seq_item(p, v, i), &len);
        path_index(ipath, path, i);
        if (!s)
            return fail(p, ipath, "expected a resource name");
        for (r = 0; r < COUNT(served_resources); r++) {
            if (strcmp(s, served_resources[r].name) == 0) {
                *(bool *)(void *)((char *)listener + served_resources[r].flag) = true;
                break;
            }
        }
        if (r == COUNT(served_resources)) {
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
            fail(p, shown[0] ? shown : "(top level)", "mapping keys must be strings");
            return -1;
        }
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(yaml_document_get_node(&p->doc, b->key), &lb);
            if (kb && la == lb && memcmp(ka, kb, la) == 0) {
                path_join(path, shown, ka, la);
                fail(p, path, "duplicate key");
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
                return fail(p, spath, "same setting as %s; give only one", row->alias);
        }
        w->seen[row - w->rows] = true;
        switch (row->type) {
        case K_SECTION:
            if (v->type != YAML_MAPPING_NODE)
                return fail(p, spath, "expected %s", expected[K_SECTION]);
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
            rc = set_maplist(p, row, w->base, v, spath, keyserver_keys, COUNT(keyserver_keys),
                             sizeof(struct config_key_server), NULL);
            break;
        case K_STRMAP:
            rc = set_strmap(p, row, w->base, v, spath);
            break;
        case K_OLDKEYS:
            rc = set_oldkeys(p, row, w->base, v, spath);
            break;
        case K_PURGEJOBS:
            rc = set_maplist(p, row, w->base, v, spath, purgejob_keys, COUNT(purgejob_keys),
                             sizeof(struct config_purge_job), NULL);
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
static int walk_table(struct parse *p, yaml_node_t *map, const struct key *rows, size_t n,
                      void *base, const char *shown)
{
    struct walk w = {.rows = rows, .n = n, .base = base};
    char path[PATH_LEN];

    for (size_t i = 0; i < n; i++) {
        if (!rows[i].dflt)
            continue;
        path_join(path, shown, rows[i].path, strlen(rows[i].path));
        if (set_text(p, &rows[i], base, rows[i].dflt, strlen(rows[i].dflt), true, path) < 0)
            return -1;
    }
    if (map->type != YAML_MAPPING_NODE)
        return fail(p, shown, "expected %s", expected[K_SECTION]);
    if (walk_map(p, &w, map, shown, "") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].required && !w.seen[i]) {
            path_join(path, shown, rows[i].path, strlen(rows[i].path));
            return fail(p, path, "required");
        }
    }
    return 0;
}

/* Settings that depend on each other, once every key is read. Returns 0 or -1. */
static int finish(struct parse *p, struct config *c)
{
    if (c->database.cp_max < c->database.cp_min)
        return fail(p, "database.args.cp_max", "must not be less than cp_min");
    /* an unset public_baseurl stays NULL: clients are told nothing rather than a guess */
    if (c->public_baseurl && c->public_baseurl[strlen(c->public_baseurl) - 1] != '/') {
        size_t n = strlen(c->public_baseurl) + 2;
        char *s = malloc(n);
        if (!s)
            return fail(p, "public_baseurl", "out of memory");
        snprintf(s, n, "%s/", c->public_baseurl);
        free(c->public_baseurl);
        c->public_baseurl = s;
    }
    if (c->request_header_timeout_ms < 100)
        return fail(p, "request_header_timeout", "must be at least 100 ms");
    if (c->request_body_timeout_ms < 100)
        return fail(p, "request_body_timeout", "must be at least 100 ms");
    if (c->media_scanner.timeout_ms < 100)
        return fail(p, "media_scanner.timeout", "must be at least 100 ms");
    if (c->retention.allowed_lifetime_min_ms && c->retention.allowed_lifetime_max_ms &&
        c->retention.allowed_lifetime_min_ms > c->retention.allowed_lifetime_max_ms)
        return fail(p, "retention.allowed_lifetime_min", "must not exceed allowed_lifetime_max");
    for (size_t i = 0; i < c->retention.n_purge_jobs; i++) {
        const struct config_purge_job *j = &c->retention.purge_jobs[i];
        char jp[PATH_LEN];
        path_index(jp, "retention.purge_jobs", i);
        if (j->interval_ms < 100)
            return fail(p, jp, "interval must be at least 100 ms");
        if (j->longest_max_lifetime_ms && j->shortest_max_lifetime_ms >= j->longest_max_lifetime_ms)
            return fail(p, jp, "shortest_max_lifetime must be below longest_max_lifetime");
    }
    if (c->media_scanner.clamd_socket && c->media_scanner.clamd_host)
        return fail(p, "media_scanner", "give clamd_socket or clamd_host, not both");
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
        return fail(p, "(config)", "out of memory");
    snprintf(where, sizeof where, "line %zu, column %zu", parser->problem_mark.line + 1,
             parser->problem_mark.column + 1);
    return fail(p, where, "invalid YAML: %s%s%s",
                parser->problem ? parser->problem : "syntax error", parser->context ? " " : "",
                parser->context ? parser->context : "");
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
        return fail(&p, "(config)", "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &p.doc)) {
        yaml_failed(&p, &parser);
        goto out_parser;
    }
    yaml_node_t *root = yaml_document_get_root_node(&p.doc);
    if (!root) {
        fail(&p, "(top level)", "the configuration is empty");
    } else if (root->type != YAML_MAPPING_NODE) {
        fail(&p, "(top level)", "expected a mapping of keys to values");
    } else if (!yaml_parser_load(&parser, &next)) { /* as Synapse: one document only */
        yaml_failed(&p, &parser);
    } else {
        bool more = yaml_document_get_root_node(&next) != NULL;
        yaml_document_delete(&next);
        if (more)
            fail(&p, "(top level)", "expected a single YAML document, found a second one");
        else if (walk_table(&p, root, config_keys, COUNT(config_keys), out, "") == 0)
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
        free_list(c->listeners[i].bind_addresses, c->listeners[i].n_bind_addresses);
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
    free_list(c->federation_domain_whitelist, c->n_federation_domain_whitelist);
    free_list(c->turn_uris, c->n_turn_uris);
    for (size_t i = 0; i < c->n_trusted_key_servers; i++) {
        struct config_key_server *ks = &c->trusted_key_servers[i];
        free(ks->server_name);
        free_list(ks->key_ids, ks->n_keys + (ks->key_ids && ks->key_ids[ks->n_keys]));
        free_list(ks->keys, ks->n_keys + (ks->keys && ks->keys[ks->n_keys]));
    }
    free(c->trusted_key_servers);
    for (size_t i = 0; i < c->n_old_signing_keys; i++) {
        free(c->old_signing_keys[i].key_id);
        free(c->old_signing_keys[i].key);
    }
    free(c->old_signing_keys);
    free(c->retention.purge_jobs);
    free_list(c->federation_custom_ca_list, c->n_federation_custom_ca_list);
    free_list(c->url_preview_domains, c->n_url_preview_domains);
    free_list(c->url_preview_ip_range_blacklist, c->n_url_preview_ip_range_blacklist);
    free_list(c->url_preview_ip_range_whitelist, c->n_url_preview_ip_range_whitelist);
    free_list(c->ip_range_blacklist, c->n_ip_range_blacklist);
    free_list(c->ip_range_whitelist, c->n_ip_range_whitelist);
    free(c->thumbnail_sizes);
    if (c->turn_shared_secret)
        sodium_memzero(c->turn_shared_secret, strlen(c->turn_shared_secret));
    free(c->turn_shared_secret);
    memset(c, 0, sizeof *c);
}
