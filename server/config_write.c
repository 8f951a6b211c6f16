/* config_write.c - `amtsbote generate-config`: a complete, commented homeserver.yaml with
 * Synapse's key names, which config_parse reads back to the values given (tested). Split
 * from config.c, the reading side. */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/ids.h"

/* `<indent><key>: "value"` with YAML double-quoted escapes; bytes from 0x80 pass through, so
 * value must be UTF-8 (YAML cannot carry anything else). */
static void put_kv(FILE *f, const char *indent, const char *key, const char *value)
{
    fprintf(f, "%s%s: \"", indent, key);
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f)
            fprintf(f, "\\x%02x", *s);
        else
            fputc(*s, f);
    }
    fputs("\"\n", f);
}

/* put_kv, or the key commented out with `example` when value is NULL. */
static void put_opt(FILE *f, const char *indent, const char *key, const char *value,
                    const char *example)
{
    if (value)
        put_kv(f, indent, key, value);
    else
        fprintf(f, "#%s%s: %s\n", indent, key, example);
}

int config_write_default(FILE *f, const char *server_name, int port, const char *public_baseurl,
                         const char *db_host, const char *db_user, const char *db_name,
                         const char *signing_key_path, const char *media_store_path,
                         bool open_registration)
{
    char secret[41];
    const char *reg = open_registration ? "true" : "false";

    if (!server_name || !config_server_name_ok(server_name, strlen(server_name)) || port < 1 ||
        port > 65535 || !signing_key_path || !media_store_path || sodium_init() < 0)
        return -1;
    ids_random_alnum(secret, sizeof secret - 1);

    fputs("# homeserver.yaml - Amtsbote configuration. Key names follow Synapse's wherever the\n"
          "# concept exists; a commented-out key shows its default. Keep this file private\n"
          "# (mode 0600): it holds the registration shared secret.\n\n"
          "# The domain in user IDs (@alice:SERVER_NAME). It cannot change once users exist.\n",
          f);
    put_kv(f, "", "server_name", server_name);
    fputs("\n# The URL clients reach this server at (through the reverse proxy), served in\n"
          "# /.well-known/matrix/client and in /login answers; clients switch to it. Unset,\n"
          "# neither is sent and clients keep the address the user typed.\n",
          f);
    char example[300];
    if ((size_t)snprintf(example, sizeof example, "https://%s/", server_name) >= sizeof example)
        return -1;
    put_opt(f, "", "public_baseurl", public_baseurl, example);
    fprintf(f,
            "\n# Answer /.well-known/matrix/server, delegating federation to public_baseurl's\n"
            "# host (port 443; server_name's without public_baseurl), so federation needs no\n"
            "# port 8448.\n"
            "serve_server_wellknown: false\n\n"
            "# Plain HTTP on loopback: TLS belongs to the reverse proxy in front, so tls must\n"
            "# stay false. x_forwarded trusts the proxy's X-Forwarded-For for client addresses\n"
            "# (rate limits). resources: the APIs served here: client and/or federation.\n"
            "listeners:\n"
            "  - port: %d\n"
            "    bind_addresses: ['127.0.0.1']\n"
            "    type: http\n"
            "    tls: false\n"
            "    x_forwarded: true\n"
            "    resources:\n"
            "      - names: [client, federation]\n"
            "        compress: false\n"
            "# Prometheus metrics (/_synapse/metrics) on a port only the monitoring reaches:\n"
            "#  - port: 9000\n"
            "#    bind_addresses: ['127.0.0.1']\n"
            "#    type: http\n"
            "#    resources:\n"
            "#      - names: [metrics]\n\n"
            "# PostgreSQL is the only store (psycopg2 is accepted as Synapse's name for it).\n"
            "# host may be a Unix socket directory; keys left out use libpq's defaults\n"
            "# (PGHOST, PGUSER, ...). cp_min/cp_max: connection pool size.\n"
            "database:\n"
            "  name: psycopg2\n"
            "  args:\n",
            port);
    put_opt(f, "    ", "user", db_user, "amtsbote");
    fputs("#    password: change-me\n", f);
    put_opt(f, "    ", "database", db_name, "amtsbote");
    put_opt(f, "    ", "host", db_host, "/var/run/postgresql");
    fputs("#    port: 5432\n"
          "    cp_min: 2\n"
          "    cp_max: 10\n\n"
          "# The ed25519 key that signs this server's events (Synapse's key file format).\n",
          f);
    put_kv(f, "", "signing_key_path", signing_key_path);
    fputs("\n# Where uploaded files are kept.\n", f);
    put_kv(f, "", "media_store_path", media_store_path);
    fprintf(f,
            "\n# Registration. Open registration needs either registration_requires_token: true\n"
            "# or enable_registration_without_verification: true (anyone may sign up).\n"
            "enable_registration: %s\n"
            "enable_registration_without_verification: %s\n"
            "registration_requires_token: false\n\n"
            "# Lets `amtsbote register-user` and /_synapse/admin/v1/register create accounts,\n"
            "# also admins, even while registration is closed. Keep it secret.\n"
            "registration_shared_secret: \"%s\"\n\n"
            "# Password login; false leaves only other login types.\n"
            "password_config:\n"
            "  enabled: true\n\n"
            "# Largest media upload, and largest JSON request body (K, M, G: powers of 1024).\n"
            "max_upload_size: 50M\n"
            "max_request_body_size: 1M\n\n"
            "# Virus scanning of uploads by clamd (Debian: clamav-daemon), off by default; see\n"
            "# deploy/homeserver.yaml.example. on_error: refuse or allow when clamd gives no\n"
            "# verdict.\n"
            "#media_scanner:\n"
            "#  enabled: true\n"
            "#  clamd_socket: /run/clamav/clamd.ctl\n"
            "#  timeout: 30s\n"
            "#  on_error: refuse\n\n"
            "# Presence is off: online status makes performance monitoring possible.\n"
            "presence:\n"
            "  enabled: false\n\n"
            "# Data protection (see the README): message retention (MSC1763) is off; when\n"
            "# enabled, messages older than the room's max_lifetime are hidden and purged.\n"
            "#retention:\n"
            "#  enabled: true\n"
            "#  default_policy: {max_lifetime: 1y}\n"
            "# Devices unused this long are deleted (default: never).\n"
            "#delete_stale_devices_after: 90d\n"
            "# Last-seen IP addresses are erased after this; redacted text's last copy too.\n"
            "user_ips_max_age: 28d\n"
            "redaction_retention_period: 7d\n"
            "forget_rooms_on_leave: false\n\n"
            "# Guest accounts are not supported; this must stay false.\n"
            "allow_guest_access: false\n\n"
            "# Rate limits: tokens per second and bucket size, per client address (registration,\n"
            "# rc_login.address), per account, per account after failed logins, and per user\n"
            "# for sending messages, state events and redactions (rc_message).\n"
            "rc_registration:\n"
            "  per_second: 0.17\n"
            "  burst_count: 3\n"
            "rc_login:\n"
            "  address:\n"
            "    per_second: 0.17\n"
            "    burst_count: 3\n"
            "  account:\n"
            "    per_second: 0.17\n"
            "    burst_count: 3\n"
            "  failed_attempts:\n"
            "    per_second: 0.17\n"
            "    burst_count: 3\n"
            "rc_message:\n"
            "  per_second: 0.2\n"
            "  burst_count: 10\n\n"
            "# Federate only with these servers; leave out to federate with any.\n"
            "#federation_domain_whitelist:\n"
            "#  - example.org\n\n"
            "# Let other servers read this server's public room directory.\n"
            "#allow_public_rooms_over_federation: false\n\n"
            "# Notaries for other servers' keys (default: none, keys come from each server).\n"
            "#trusted_key_servers:\n"
            "#  - server_name: keys.example.org\n"
            "#    verify_keys: {\"ed25519:a_AbCd\": \"<base64 public key>\"}\n\n"
            "# A closed federation with its own CA (replaces the system's CAs for federation).\n"
            "#federation_custom_ca_list: [/etc/amtsbote/federation-ca.pem]\n\n"
            "# Room version for new rooms. \"10\" while staff use clients older than room\n"
            "# version 11 (nheko 0.11, Debian 12's, misreads 11 and 12); see the README.\n"
            "default_room_version: \"12\"\n\n"
            "# error, warning, info (includes the access log: one line per request) or debug.\n"
            "log_level: info\n\n"
            "# HTTP worker threads per bind address.\n"
            "worker_threads: 4\n\n"
            "# Connections open at once, all listeners together (a parked /sync holds one), and\n"
            "# how long a client may take to send a request head (also the keep-alive idle\n"
            "# time) and body (plus 1 s per 4 KiB). A listener's max_connections_per_address\n"
            "# is 0 (no limit: the peer is the proxy) with x_forwarded, else 256.\n"
            "#max_connections: 10000\n"
            "#request_header_timeout: 30s\n"
            "#request_body_timeout: 60s\n",
            reg, reg, secret);
    sodium_memzero(secret, sizeof secret);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
