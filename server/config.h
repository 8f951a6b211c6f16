/* config.h - homeserver.yaml, with Synapse's key names wherever the concept exists. */
#ifndef AMTSBOTE_CONFIG_H
#define AMTSBOTE_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "server/log.h"
#include "server/thumbnail.h"

struct config_listener {
    int port;                /* listeners[].port, required, 1..65535 */
    char **bind_addresses;   /* listeners[].bind_addresses, default ["::1", "127.0.0.1"] */
    size_t n_bind_addresses;
    bool tls;                /* listeners[].tls: unsupported here (use a reverse proxy) ->
                                config error if true */
    bool x_forwarded;        /* listeners[].x_forwarded: trust X-Forwarded-For */
    int max_connections_per_address; /* listeners[].max_connections_per_address (Amtsbote key):
                                        connections open at once from one socket peer (IPv6: one
                                        /64); 0 = no limit. Default 0 with x_forwarded (the peer
                                        is the proxy), else 256 */
    bool res_client;         /* "client" in any resources[].names */
    bool res_federation;     /* "federation" in any resources[].names */
    bool res_metrics;        /* "metrics" in any resources[].names: /_synapse/metrics */
};

/* trusted_key_servers[]: a notary whose /_matrix/key/v2/query answers are believed. */
struct config_key_server {
    char *server_name;     /* required */
    char **key_ids;        /* verify_keys: key ID -> unpadded base64 public key; the notary's */
    char **keys;           /* answers must carry a valid signature by one of them */
    size_t n_keys;
};

/* old_signing_keys: a key this server signed with before, published in old_verify_keys. */
struct config_old_key {
    char *key_id;       /* "ed25519:..." */
    char *key;          /* unpadded base64 public key */
    int64_t expired_ts; /* when it stopped being used, ms */
};

/* retention.purge_jobs[]: a background job purging expired events in the rooms whose
 * max_lifetime lies in (shortest_max_lifetime, longest_max_lifetime]. */
struct config_purge_job {
    int64_t shortest_max_lifetime_ms; /* 0: no lower bound */
    int64_t longest_max_lifetime_ms;  /* 0: no upper bound */
    int64_t interval_ms;              /* required */
};

struct config_ratelimit {
    double per_second; /* tokens added per second */
    double burst_count;
};

struct config {
    char *server_name;       /* required */
    char *public_baseurl;    /* ends in '/'; NULL when not configured (nothing advertised) */
    bool serve_server_wellknown; /* default false */

    struct config_listener *listeners; /* at least one */
    size_t n_listeners;

    struct {
        char *user, *password, *dbname, *host; /* NULL = libpq default */
        int port;                              /* 0 = libpq default */
        int cp_min, cp_max;                    /* pool size, default 2 and 10 */
    } database;                /* database.name must be "postgresql" or "psycopg2" */

    char *signing_key_path;    /* required */
    char *media_store_path;    /* default "media_store" */
    char *audit_log_path;      /* admin audit log file, one line per state-changing admin
                                  request (server/audit.c); NULL = table only (Amtsbote key) */
    bool enable_registration;  /* default false */
    bool enable_registration_without_verification; /* default false */
    bool registration_requires_token;               /* default false */
    char *registration_shared_secret;               /* NULL = shared-secret API disabled */
    bool password_enabled;     /* password_config.enabled, default true */
    int64_t max_upload_size;   /* bytes; "50M" style suffixes K/M/G accepted; default 50M */
    int64_t max_request_body_size; /* JSON bodies; default 1M (Amtsbote key) */
    bool allow_public_rooms_over_federation; /* default false: other servers get 403 */
    bool enable_authenticated_media; /* default true: the unauthenticated /_matrix/media/v3
                                        download and thumbnail endpoints are frozen */
    bool url_preview_enabled;  /* url_preview_enabled, default false (privacy) */
    char **url_preview_domains; /* url_preview_domain_whitelist (Amtsbote key): the only hosts
                                   previews are fetched from; none: nothing is fetched */
    size_t n_url_preview_domains;
    char **url_preview_ip_range_blacklist; /* url_preview_ip_range_blacklist: addresses previews
                                              never connect to; unset or empty: Synapse's
                                              default list (ipfilter_default_deny) */
    size_t n_url_preview_ip_range_blacklist;
    char **url_preview_ip_range_whitelist; /* exceptions to the blacklist */
    size_t n_url_preview_ip_range_whitelist;
    char **ip_range_blacklist; /* ip_range_blacklist: addresses push gateways (and federation)
                                  are never reached at; unset or empty: the default list */
    size_t n_ip_range_blacklist;
    char **ip_range_whitelist; /* ip_range_whitelist: exceptions to it */
    size_t n_ip_range_whitelist;
    struct thumbnail_size *thumbnail_sizes; /* thumbnail_sizes ({width, height, method}); none:
                                               Synapse's default five (thumbnail.h) */
    size_t n_thumbnail_sizes;
    bool presence_enabled;     /* presence.enabled, default false (privacy) */
    bool push_include_content; /* push.include_content, default false: pushes carry event and
                                  room IDs and counts, never message content */
    bool allow_guest_access;   /* must stay false: guests are refused */
    enum log_level log_level;  /* log_level, default info */
    int worker_threads;        /* HTTP worker threads (Amtsbote key), default 4 */
    int max_connections;       /* HTTP connections open at once, all listeners (Amtsbote key),
                                  default 10000; RLIMIT_NOFILE is raised to fit at start-up */
    int64_t request_header_timeout_ms; /* request_header_timeout (Amtsbote key), default 30s:
                                          a request head must arrive within it (also the
                                          keep-alive idle time) */
    int64_t request_body_timeout_ms;   /* request_body_timeout (Amtsbote key), default 60s, plus
                                          1 s per 4 KiB received */
    char *default_room_version; /* default "12" */
    char **federation_domain_whitelist; /* NULL = no allow-list configured */
    size_t n_federation_domain_whitelist;
    struct config_old_key *old_signing_keys; /* default none */
    size_t n_old_signing_keys;
    struct config_key_server *trusted_key_servers; /* default none: keys fetched directly */
    size_t n_trusted_key_servers;
    bool federation_verify_certificates; /* default true */
    char **federation_custom_ca_list; /* PEM files replacing the system's CAs for federation */
    size_t n_federation_custom_ca_list;
    char **turn_uris;          /* turn_uris: TURN servers for /voip/turnServer; NULL = none */
    size_t n_turn_uris;
    char *turn_shared_secret;  /* turn_shared_secret (coturn's static-auth-secret) */
    int64_t turn_user_lifetime_ms; /* turn_user_lifetime, default 1h */
    bool user_directory_enabled;   /* user_directory.enabled, default true */
    bool user_directory_search_all_users; /* user_directory.search_all_users, default false */
    struct {
        bool enabled;          /* media_scanner.enabled, default false */
        char *clamd_socket;    /* clamd's LocalSocket; NULL: TCP to clamd_host:clamd_port */
        char *clamd_host;      /* default NULL (127.0.0.1 when no socket is given) */
        int clamd_port;        /* default 3310 */
        int64_t timeout_ms;    /* media_scanner.timeout, default 30s: the whole scan */
        char *on_error;        /* "refuse" (default) or "allow": when no verdict is had */
        int64_t max_scan_size; /* default 50M: larger files have no verdict */
    } media_scanner;           /* (Amtsbote keys) virus scanning of media with clamd */
    struct {
        char *localpart;       /* system_mxid_localpart; NULL: server notices disabled */
        char *display_name;    /* system_mxid_display_name; NULL: none */
        char *avatar_url;      /* system_mxid_avatar_url; NULL: none */
        char *room_name;       /* room_name, default "Server Notices" */
        char *room_topic;      /* room_topic; NULL: none */
        bool auto_join;        /* auto_join, default false: the user is invited */
    } server_notices;          /* as Synapse's server_notices (admin API send_server_notice) */
    /* Data protection (Synapse's keys; the README's "Data protection" section). Durations in
     * ms; 0 is "not set" wherever the key has no default. */
    struct {
        bool enabled;                     /* retention.enabled, default false */
        int64_t default_min_lifetime_ms;  /* retention.default_policy.min_lifetime */
        int64_t default_max_lifetime_ms;  /* retention.default_policy.max_lifetime */
        int64_t allowed_lifetime_min_ms;  /* retention.allowed_lifetime_min */
        int64_t allowed_lifetime_max_ms;  /* retention.allowed_lifetime_max */
        struct config_purge_job *purge_jobs; /* none given: one job, every room, daily */
        size_t n_purge_jobs;
    } retention;
    int64_t delete_stale_devices_after_ms; /* 0: devices are never pruned (default) */
    int64_t user_ips_max_age_ms;           /* default 28d: last-seen IP/user agent forgotten */
    int64_t redaction_retention_period_ms; /* default 7d: redacted content's last copies go */
    bool forget_rooms_on_leave;            /* default false */
    struct config_ratelimit rc_registration;       /* default 0.17/s, burst 3 */
    struct config_ratelimit rc_login_address;      /* rc_login.address, default 0.17/s, 3 */
    struct config_ratelimit rc_login_account;      /* rc_login.account, default 0.17/s, 3 */
    struct config_ratelimit rc_login_failed;       /* rc_login.failed_attempts, 0.17/s, 3 */
    struct config_ratelimit rc_message;            /* per user: sending messages, state,
                                                      redactions; default 0.2/s, burst 10 */
};

/* Parse YAML text. On success returns 0 with *out filled (free with config_free). On failure
 * returns -1, writes a message naming the offending key (e.g. "listeners[0].port: expected an
 * integer") to err, and leaves *out freed. Unknown keys are logged as warnings, not errors.
 * Relative paths are kept as given (resolved against the working directory). */
int config_parse(const char *yaml, size_t len, struct config *out, char *err, size_t errlen);
/* Read and parse a file; same contract as config_parse. */
int config_load(const char *path, struct config *out, char *err, size_t errlen);
/* Release everything owned by cfg; zeroes it. NULL-safe. */
void config_free(struct config *cfg);

/* Parse a Synapse duration ("30s", "10m", "1h", "7d", "1w", "1y"; a bare number is
 * milliseconds) into *out milliseconds. 0, or -1 when malformed or out of range. */
int config_parse_duration(const char *s, int64_t *out);

/* Write a complete, commented starter configuration for `server_name` to f (the same text the
 * README documents): listener on `port` bound to 127.0.0.1, public_baseurl (NULL: left
 * commented out, so nothing is advertised), the given database args (any of them NULL to
 * omit), the given signing key and media paths, a random registration_shared_secret,
 * enable_registration as given. Returns 0, or -1 on I/O error, or -1 with nothing written if
 * server_name is invalid, port is outside 1..65535 or a path is NULL. Paths must be UTF-8
 * (YAML carries nothing else). */
int config_write_default(FILE *f, const char *server_name, int port, const char *public_baseurl,
                         const char *db_host, const char *db_user, const char *db_name,
                         const char *signing_key_path, const char *media_store_path,
                         bool open_registration);

/* A server name the configuration accepts: the identifier grammar, no empty DNS labels, a
 * port within 1-65535. */
bool config_server_name_ok(const char *s, size_t len);

/* Parse a Synapse size string ("50M", "1024", "10K", "1G"). Returns 0, or -1 if invalid. */
int config_parse_size(const char *s, int64_t *out);

#endif
