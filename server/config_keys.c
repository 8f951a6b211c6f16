/* config_keys.c - the keys homeserver.yaml may hold: one table per kind of mapping (the top
 * level, a listener, a listener resource, a thumbnail size, a trusted key server, a purge job),
 * each row naming a dotted key path, its type, its destination field, its default and whether it
 * is required, with the checks the string-valued rows call. config_walk.c walks the YAML tree
 * against them; Synapse's key names are used wherever the concept exists. Data only: no row is
 * read here. Invariant: every table fits a walk's `seen` set (ROWS_MAX rows). */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/config_internal.h"
#include "server/ids.h"
#include "server/ipfilter.h"

/* What a value of each type must look like: "<path>: expected <this>". */
const char *const config_expected[] = {
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

/* A URI whose accepted scheme takes its first `scheme` bytes (0: not an accepted one): then at
 * least one more byte, and no spaces or control bytes anywhere. */
static bool uri_ok(const char *s, size_t len, size_t scheme)
{
    if (!scheme || len == scheme)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* turn:host[:port][?transport=udp|tcp] or turns:...; no spaces or controls. */
static bool turn_uri_ok(const char *s, size_t len)
{
    return uri_ok(s, len, strncmp(s, "turns:", 6) == 0 ? 6 : strncmp(s, "turn:", 5) == 0 ? 5 : 0);
}

/* 32 bytes in base64: 43 characters unpadded (44 padded), of the standard alphabet. */
bool config_key_b64_ok(const char *s, size_t len)
{
    if (len != 43 && !(len == 44 && s[43] == '='))
        return false;
    for (size_t i = 0; i < 43; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

/* http:// or https://, either case. */
static bool baseurl_ok(const char *s, size_t len)
{
    return uri_ok(s, len,
                  strncasecmp(s, "https://", 8) == 0  ? 8
                  : strncasecmp(s, "http://", 7) == 0 ? 7
                                                      : 0);
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
const struct key config_keys[] = {
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
    {"allow_device_name_lookup_over_federation", K_BOOL,
     C(allow_device_name_lookup_over_federation), "false"},
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
    {"rc_federation", K_SECTION, NO_DEST, NULL},
    {"rc_federation.window_size", K_DURATION, C(rc_federation.window_size_ms), "1000"},
    {"rc_federation.sleep_limit", K_INT, C(rc_federation.sleep_limit), "10", .min = 1,
     .max = 1000000},
    {"rc_federation.sleep_delay", K_DURATION, C(rc_federation.sleep_delay_ms), "500"},
    {"rc_federation.reject_limit", K_INT, C(rc_federation.reject_limit), "50", .min = 1,
     .max = 1000000},
    {"rc_federation.concurrent", K_INT, C(rc_federation.concurrent), "3", .min = 1,
     .max = 1000000},
    /* Synapse settings with no meaning here: accepted so a Synapse file loads unchanged. */
    {"report_stats", K_IGNORED, NO_DEST, NULL},
    {"federation_rr_transactions_per_room_per_second", K_IGNORED, NO_DEST, NULL}, /* outbound */
    {"pid_file", K_IGNORED, NO_DEST, NULL},
    {"log_config", K_IGNORED, NO_DEST, NULL},
    {"suppress_key_server_warning", K_IGNORED, NO_DEST, NULL},
    {"macaroon_secret_key", K_IGNORED, NO_DEST, NULL},
    {"form_secret", K_IGNORED, NO_DEST, NULL},
};
#undef C

#define L(field) offsetof(struct config_listener, field)
/* One element of listeners. Same columns. */
const struct key config_listener_keys[] = {
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
#define T(field) offsetof(struct thumbsize_row, field)
static bool method_ok(const char *s, size_t len)
{
    return strcmp(s, "crop") == 0 || strcmp(s, "scale") == 0;
}
const struct key config_thumbsize_keys[] = {
    {"width", K_INT, T(width), NULL, .required = true, .min = 1, .max = 10000},
    {"height", K_INT, T(height), NULL, .required = true, .min = 1, .max = 10000},
    {"method", K_STR, T(method), "scale", .check = method_ok, .arg = "crop or scale"},
};
#undef T

#define KS(field) offsetof(struct config_key_server, field)
/* One element of trusted_key_servers. Same columns. */
const struct key config_keyserver_keys[] = {
    {"server_name", K_STR, KS(server_name), NULL, .required = true, .check = config_server_name_ok,
     .arg = SERVER_NAME_WANTED},
    {"verify_keys", K_STRMAP, KS(key_ids), NULL, .off2 = KS(n_keys), .off3 = KS(keys),
     .check = config_key_b64_ok, .arg = "an unpadded base64 ed25519 public key"},
    {"accept_keys_insecurely", K_IGNORED, NO_DEST, NULL},
};
#undef KS

#define PJ(field) offsetof(struct config_purge_job, field)
/* One element of retention.purge_jobs. Same columns. */
const struct key config_purgejob_keys[] = {
    {"shortest_max_lifetime", K_DURATION, PJ(shortest_max_lifetime_ms)},
    {"longest_max_lifetime", K_DURATION, PJ(longest_max_lifetime_ms)},
    {"interval", K_DURATION, PJ(interval_ms), NULL, .required = true},
};
#undef PJ

/* One element of listeners[].resources; its base is still the listener. Same columns. */
const struct key config_resource_keys[] = {
    {"names", K_RESNAMES, NO_DEST, NULL, .required = true},
    {"compress", K_BOOL, NO_DEST, "false"},
};

/* Resource names Amtsbote serves: name, the listener flag it sets. Others only warn. */
const struct served_resource config_served_resources[] = {
    {"client", L(res_client)},
    {"federation", L(res_federation)},
    {"metrics", L(res_metrics)},
};
#undef L
#pragma GCC diagnostic pop

const size_t config_keys_n = COUNT(config_keys);
const size_t config_listener_keys_n = COUNT(config_listener_keys);
const size_t config_thumbsize_keys_n = COUNT(config_thumbsize_keys);
const size_t config_keyserver_keys_n = COUNT(config_keyserver_keys);
const size_t config_purgejob_keys_n = COUNT(config_purgejob_keys);
const size_t config_resource_keys_n = COUNT(config_resource_keys);
const size_t config_served_resources_n = COUNT(config_served_resources);

_Static_assert(COUNT(config_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_listener_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_thumbsize_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_keyserver_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_purgejob_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_resource_keys) <= ROWS_MAX, "raise ROWS_MAX");
_Static_assert(COUNT(config_expected) == K_IGNORED + 1, "a type lacks its expected[] text");
