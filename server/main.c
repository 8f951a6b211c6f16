/* main.c - the amtsbote process: the one composition root.
 *
 *   amtsbote -c FILE | --config FILE        serve
 *   amtsbote generate-config --server-name NAME [--out FILE] [options]
 *   amtsbote register-user -c FILE [-u USER] [-p PASSWORD] [--admin|--no-admin] [--url URL]
 *   amtsbote -c FILE export-data USER_ID --output-directory DIR   (server/export.c)
 *   amtsbote --version
 *
 * Serving: load and check the configuration, load the signing key, open the database pool,
 * migrate the schema, register the route tables (Client-Server and federation) and the token
 * authenticator, start the listeners, then wait for SIGTERM/SIGINT in the main thread and
 * shut down cleanly: stop accepting, let requests in flight finish (bounded), close the pool.
 * Only this file may exit the process, and only during start-up or shutdown. */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "federation/federation.h"
#include "server/adminrooms.h"
#include "server/audit.h"
#include "server/account.h"
#include "server/config.h"
#include "server/dbpool.h"
#include "server/http.h"
#include "server/ids.h"
#include "server/ipfilter.h"
#include "server/keyring.h"
#include "server/log.h"
#include "server/e2e.h"
#include "server/media.h"
#include "server/metrics.h"
#include "server/notify.h"
#include "server/ssconn.h"
#include "server/outbound.h"
#include "server/preview.h"
#include "server/privacy.h"
#include "server/retention.h"
#include "server/export.h"
#include "server/pusher.h"
#include "server/search.h"
#include "server/thumbnail.h"
#include "storage/pducache.h"
#include "server/room.h"
#include "server/roomver.h"
#include "server/sign.h"
#include "server/version.h"
#include "storage/db.h"
#include "storage/migrate.h"
#include "storage/userdata.h"

#define SHUTDOWN_GRACE_MS 10000
#define FD_RESERVE 512 /* descriptors besides client connections: database, files, threads */

/* The gauges of the metrics that live in the notifier, the pool and the outbound client. */
static void ops_gauges(struct metrics_gauges *g)
{
    int open = 0, in_use = 0, max = 0, fl = 0, q = 0;
    g->sync_waiters = notify_waiters();
    db_pool_stats(&open, &in_use, &max);
    g->db_open = open;
    g->db_in_use = in_use;
    g->db_max = max;
    outbound_stats(&fl, &q);
    g->outbound_in_flight = fl;
    g->outbound_queued = q;
    federation_sender_stats(&g->fed_inbox, &g->fed_dests_waiting, &g->fed_txn_in_flight);
}

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  amtsbote -c FILE                    serve with the configuration in FILE\n"
          "  amtsbote generate-config --server-name NAME [--out FILE] [--port N]\n"
          "           [--public-baseurl URL] [--signing-key FILE] [--media-store DIR] [--db-host HOST]\n"
          "           [--db-user USER] [--db-name NAME] [--open-registration]\n"
          "                                      write a configuration and a signing key\n"
          "  amtsbote register-user -c FILE [-u USER] [-p PASSWORD] [--admin|--no-admin]\n"
          "           [--url URL]                create an account on a running server\n"
          "  amtsbote -c FILE export-data USER_ID --output-directory DIR [--tar]\n"
          "                                      export one user's data (GDPR Art. 15/20)\n"
          "  amtsbote --version\n",
          f);
}

/* Directory part of path ("." when none), into buf. */
static const char *dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    snprintf(buf, n, "%.*s", (int)(slash - path), path);
    return buf[0] ? buf : "/";
}

static int cmd_generate_config(int argc, char **argv)
{
    /* long option, has argument, short code */
    static const struct option opts[] = {
        {"server-name", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},
        {"port", required_argument, 0, 'p'},
        {"public-baseurl", required_argument, 0, 'b'},
        {"signing-key", required_argument, 0, 'k'},
        {"media-store", required_argument, 0, 'm'},
        {"db-host", required_argument, 0, 'H'},
        {"db-user", required_argument, 0, 'U'},
        {"db-name", required_argument, 0, 'D'},
        {"open-registration", no_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *server_name = NULL, *out = "homeserver.yaml", *key_path = NULL, *media = NULL;
    const char *db_host = NULL, *db_user = NULL, *db_name = "amtsbote", *baseurl = NULL;
    int port = 8008, open_reg = 0, ch;
    char dir[PATH_MAX], keybuf[PATH_MAX + 64], mediabuf[PATH_MAX + 16], err[256] = "";

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            server_name = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'b':
            baseurl = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'm':
            media = optarg;
            break;
        case 'H':
            db_host = optarg;
            break;
        case 'U':
            db_user = optarg;
            break;
        case 'D':
            db_name = optarg;
            break;
        case 'r':
            open_reg = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!server_name) {
        fprintf(stderr, "generate-config: --server-name is required\n");
        return 2;
    }
    if (port < 1 || port > 65535) {
        fprintf(stderr, "generate-config: --port must be 1..65535\n");
        return 2;
    }
    if (baseurl && strncmp(baseurl, "http://", 7) != 0 && strncmp(baseurl, "https://", 8) != 0) {
        fprintf(stderr, "generate-config: --public-baseurl must be an http:// or https:// URL\n");
        return 2;
    }
    if (!config_server_name_ok(server_name, strlen(server_name))) {
        fprintf(stderr, "generate-config: '%s' is not a valid server name (host[:port])\n",
                server_name);
        return 2;
    }
    const char *d = dir_of(out, dir, sizeof dir);
    if (!key_path) {
        if ((size_t)snprintf(keybuf, sizeof keybuf, "%s/%s.signing.key", d, server_name) >=
            sizeof keybuf) {
            fprintf(stderr, "generate-config: path too long\n");
            return 2;
        }
        key_path = keybuf;
    }
    if (!media) {
        if ((size_t)snprintf(mediabuf, sizeof mediabuf, "%s/media_store", d) >= sizeof mediabuf) {
            fprintf(stderr, "generate-config: path too long\n");
            return 2;
        }
        media = mediabuf;
    }
    if (access(out, F_OK) == 0) {
        fprintf(stderr, "generate-config: %s exists; not overwriting it\n", out);
        return 1;
    }
    if (access(key_path, F_OK) != 0) {
        struct sign_key k;
        if (sign_key_generate(&k) < 0 || sign_key_save(key_path, &k, err, sizeof err) < 0) {
            fprintf(stderr, "generate-config: cannot write signing key %s: %s\n", key_path, err);
            return 1;
        }
        sodium_memzero(&k, sizeof k);
        fprintf(stderr, "wrote signing key %s\n", key_path);
    }
    FILE *f = fopen(out, "wx");
    if (!f) {
        perror(out);
        return 1;
    }
    fchmod(fileno(f), 0600); /* it holds the registration shared secret */
    int rc = config_write_default(f, server_name, port, baseurl, db_host, db_user, db_name,
                                  key_path, media, open_reg);
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, "generate-config: cannot write %s\n", out);
        return 1;
    }
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

/* Refuse configurations that Synapse would refuse for the same reason. */
static int check_config(const struct config *cfg, char *err, size_t n)
{
    if (cfg->enable_registration && !cfg->registration_requires_token &&
        !cfg->enable_registration_without_verification) {
        snprintf(err, n,
                 "enable_registration is true without registration_requires_token: anyone could "
                 "create accounts. Set enable_registration_without_verification: true if that "
                 "is intended");
        return -1;
    }
    return 0;
}

/* Raise the soft RLIMIT_NOFILE so that max_connections client sockets fit beside the
 * database connections and files; when the hard limit is too low, lower max_connections to
 * what fits (warned), so the server refuses connections itself rather than failing accept()
 * and dropping them silently. */
static void fit_descriptors(struct config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_connections + FD_RESERVE + (rlim_t)cfg->database.cp_max;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur < want) {
        rlim_t room = rl.rlim_cur > FD_RESERVE + 16 + (rlim_t)cfg->database.cp_max
                          ? rl.rlim_cur - FD_RESERVE - (rlim_t)cfg->database.cp_max
                          : 16;
        log_warn("max_connections %d needs %llu file descriptors, the limit is %llu (raise "
                 "LimitNOFILE / ulimit -n): serving at most %llu connections",
                 cfg->max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur,
                 (unsigned long long)room);
        cfg->max_connections = (int)room;
    }
}

/* An address filter from a configured blacklist (unset or empty: Synapse's default) and
 * whitelist. NULL (logged) when a range is malformed. */
static struct ipfilter *filter_of(const char *what, char **deny, size_t n_deny, char **allow,
                                  size_t n_allow)
{
    char err[200];
    struct ipfilter *f = ipfilter_new(n_deny ? (const char *const *)deny : NULL, n_deny,
                                      (const char *const *)allow, n_allow, err, sizeof err);
    if (!f)
        log_error("config: %s: %s", what, err);
    return f;
}

static int serve(const char *config_path)
{
    struct ipfilter *push_filter = NULL, *preview_filter = NULL;
    struct config cfg;
    struct sign_key key;
    char err[512];
    sigset_t sigs;
    int sig = 0, rc = 1;

    if (config_load(config_path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "amtsbote: %s: %s\n", config_path, err);
        return 1;
    }
    log_set_level(cfg.log_level);
    if (check_config(&cfg, err, sizeof err) < 0) {
        log_error("config: %s", err);
        goto out_cfg;
    }
    if (sign_key_load(cfg.signing_key_path, &key, err, sizeof err) < 0) {
        log_error("signing key %s: %s (amtsbote generate-config writes one)", cfg.signing_key_path,
                  err);
        goto out_cfg;
    }
    keyring_set_own(&key);
    sodium_memzero(&key, sizeof key);
    struct keyring_old_key old[KEYRING_MAX_OLD];
    if (cfg.n_old_signing_keys > KEYRING_MAX_OLD) {
        log_error("config: old_signing_keys: at most %d keys", KEYRING_MAX_OLD);
        goto out_cfg;
    }
    for (size_t i = 0; i < cfg.n_old_signing_keys; i++) {
        snprintf(old[i].key_id, sizeof old[i].key_id, "%s", cfg.old_signing_keys[i].key_id);
        snprintf(old[i].key, sizeof old[i].key, "%s", cfg.old_signing_keys[i].key);
        old[i].expired_ts = cfg.old_signing_keys[i].expired_ts;
    }
    if (keyring_set_own_old(old, cfg.n_old_signing_keys) < 0) {
        log_error("config: old_signing_keys: not ed25519 public keys");
        goto out_cfg;
    }
    if (!roomver_get(cfg.default_room_version)) {
        log_error("config: default_room_version '%s' is not a known room version",
                  cfg.default_room_version);
        goto out_cfg;
    }
    ids_set_local_server(cfg.server_name); /* the one answer to "is this local?" */
    room_init(cfg.server_name, keyring_own(), cfg.default_room_version,
              federation_sender_listener);
    e2e_init(cfg.server_name, cfg.allow_device_name_lookup_over_federation);

    if (dbpool_open(&cfg, 0, 0, err, sizeof err) < 0) {
        log_error("database: %s", err);
        goto out_cfg;
    }
    if (db_migrate(err, sizeof err) < 0) {
        log_error("database: %s", err);
        goto out_db;
    }
    struct dbc *c = db_get();
    int64_t stream_max = c ? db_stream_max(c) : -1;
    db_put(c);
    if (stream_max < 0 || notify_start(stream_max) < 0)
        goto out_db;

    /* Signals go to the main thread only: block them before any thread starts. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    http_add_routes(api_routes, HTTP_RES_CLIENT);
    http_add_routes(federation_routes, HTTP_RES_FEDERATION);
    http_add_routes(api_health_routes, HTTP_RES_CLIENT | HTTP_RES_FEDERATION | HTTP_RES_METRICS);
    http_add_routes(api_metrics_routes, HTTP_RES_METRICS);
    metrics_add_gauges(ops_gauges);
    http_set_authenticator(account_authenticate);
    http_set_gate(api_moderation_gate);           /* suspended, shadow-banned accounts */
    http_set_end_observer(audit_request_ended);   /* the admin audit log */
    http_set_unavailable_probe(db_unavailable);
    push_filter = filter_of("ip_range_blacklist", cfg.ip_range_blacklist, cfg.n_ip_range_blacklist,
                            cfg.ip_range_whitelist, cfg.n_ip_range_whitelist);
    preview_filter = filter_of("url_preview_ip_range_blacklist",
                               cfg.url_preview_ip_range_blacklist,
                               cfg.n_url_preview_ip_range_blacklist,
                               cfg.url_preview_ip_range_whitelist,
                               cfg.n_url_preview_ip_range_whitelist);
    if (!push_filter || !preview_filter)
        goto out_notify;
    preview_set_filter(preview_filter);
    outbound_set_ip_range_filter(push_filter); /* push gateways and federation */
    if (federation_init(&cfg, err, sizeof err) < 0) {
        log_error("config: %s", err);
        goto out_notify;
    }
    if (media_init(&cfg, "amtsbote") < 0 || audit_init(&cfg) < 0)
        goto out_notify;
    if (roompurge_init(&cfg) < 0) {
        log_error("cannot start the room deletion pool");
        goto out_notify;
    }
    if (pusher_start(cfg.push_include_content, push_filter) < 0) {
        log_error("cannot start the push sender");
        goto out_notify;
    }
    if (search_start() < 0) {
        log_error("cannot start the search indexer");
        goto out_notify;
    }
    retention_configure(&cfg);
    privacy_configure(&cfg);
    if (retention_start() < 0 || privacy_start() < 0) {
        log_error("cannot start the retention and housekeeping jobs");
        goto out_notify;
    }
    federation_fetcher_register();
    if (federation_sender_start() < 0) {
        log_error("cannot start the federation sender");
        goto out_notify;
    }
    fit_descriptors(&cfg);
    if (http_start(&cfg) < 0)
        goto out_notify;
    log_info("amtsbote %s serving %s (schema version %d)", AMTSBOTE_VERSION, cfg.server_name,
             db_schema_latest());

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("SIGHUP: nothing to reload (restart to apply configuration changes)");
            continue;
        }
        break;
    }
    log_info("signal %d: shutting down", sig);
    notify_stop();   /* parked syncs answer now */
    federation_sender_quiesce(); /* no new transactions; those in flight end just below */
    outbound_stop(); /* requests in flight end: parked previews answer, pushes stay queued */
    media_quiesce(); /* thumbnails waiting or being made end: their requests answer */
    roompurge_quiesce(); /* synchronous room deletions answer now (the work goes on) */
    http_stop(SHUTDOWN_GRACE_MS);
    api_parked_drain(SHUTDOWN_GRACE_MS); /* calls waiting on other servers end */
    rc = 0;
out_notify:
    federation_sender_quiesce();
    outbound_stop();
    federation_sender_stop(); /* the queue stays in the database */
    pusher_stop();
    search_stop();
    retention_stop();
    privacy_stop();
    roompurge_shutdown(); /* a deletion running ends first; those queued are marked failed */
    media_shutdown();
    audit_shutdown();
    notify_stop();
    notify_cleanup();
    ssconn_cleanup();
out_db:
    federation_shutdown();
    outbound_set_ip_range_filter(NULL);
    ipfilter_free(push_filter);
    ipfilter_free(preview_filter);
    db_pool_close();
    pducache_free();
    account_cache_free();
out_cfg:
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "amtsbote: libsodium failed to initialise\n");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "generate-config") == 0)
        return cmd_generate_config(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "thumbnail") == 0) /* the media child (thumbnail.c) */
        return thumbnail_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "register-user") == 0)
        return federation_cmd_register_user(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("amtsbote %s\n", AMTSBOTE_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0))
        return serve(argv[2]);
    if (argc >= 4 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0) &&
        strcmp(argv[3], "export-data") == 0)
        return export_main(argv[2], argc - 3, argv + 3);
    usage(stderr);
    return 2;
}
