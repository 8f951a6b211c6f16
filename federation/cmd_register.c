/* cmd_register.c - `amtsbote register-user`: create an account on a running server through
 * the shared-secret admin API (GET then POST /_synapse/admin/v1/register, HMAC-SHA1 over the
 * nonce), the protocol of Synapse's register_new_matrix_user. It lets an admin create the
 * first account while registration is closed.
 *
 * The shared secret and the server address come from the configuration file (-c); the
 * password is read from the terminal without echo when not given with -p (or from the first
 * line of standard input when that is not a terminal). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "federation/federation.h"
#include "federation/httpc.h"
#include "server/config.h"
#include "server/regtoken.h"

#define TIMEOUT_MS 30000

/* Read one line from stdin, without echo on a terminal. Returns malloc'd text or NULL. */
static char *read_line(const char *prompt, int secret)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;

    if (tty) {
        fputs(prompt, stderr);
        if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            secret = 0;
        }
    }
    ssize_t n = getline(&line, &cap, stdin);
    if (tty && secret) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n <= 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* http://ADDR:PORT of the first listener serving the client API. */
static int default_url(const struct config *cfg, char *out, size_t n)
{
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *l = &cfg->listeners[i];
        if (!l->res_client)
            continue;
        const char *addr = l->n_bind_addresses ? l->bind_addresses[0] : "127.0.0.1";
        if (strcmp(addr, "0.0.0.0") == 0)
            addr = "127.0.0.1";
        else if (strcmp(addr, "::") == 0)
            addr = "::1";
        int v6 = strchr(addr, ':') != NULL;
        snprintf(out, n, "http://%s%s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "", l->port);
        return 0;
    }
    return -1;
}

int federation_cmd_register_user(int argc, char **argv)
{
    /* long option, has argument, short code */
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"user", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'p'}, {"admin", no_argument, 0, 'a'},
        {"no-admin", no_argument, 0, 'n'},      {"url", required_argument, 0, 'U'},
        {"shared-secret", required_argument, 0, 'k'}, {0, 0, 0, 0},
    };
    const char *config_path = NULL, *url = NULL, *secret = NULL;
    char *user = NULL, *password = NULL, urlbuf[300], err[512];
    int admin = 0, ch, rc = 1;
    struct config cfg = {0};
    int have_cfg = 0;
    json_t *res = NULL, *body = NULL;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:u:p:ak:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'u': free(user); user = strdup(optarg); break;
        case 'p': free(password); password = strdup(optarg); break;
        case 'a': admin = 1; break;
        case 'n': admin = 0; break;
        case 'U': url = optarg; break;
        case 'k': secret = optarg; break;
        default:
            fprintf(stderr, "usage: amtsbote register-user -c FILE [-u USER] [-p PASSWORD] "
                            "[--admin|--no-admin] [--url URL] [-k SECRET]\n");
            goto out;
        }
    }
    if (config_path) {
        if (config_load(config_path, &cfg, err, sizeof err) < 0) {
            fprintf(stderr, "register-user: %s: %s\n", config_path, err);
            goto out;
        }
        have_cfg = 1;
        if (!secret)
            secret = cfg.registration_shared_secret;
        if (!url && default_url(&cfg, urlbuf, sizeof urlbuf) == 0)
            url = urlbuf;
    }
    if (!secret) {
        fprintf(stderr, "register-user: no registration_shared_secret (give -c FILE or -k)\n");
        goto out;
    }
    if (!url) {
        fprintf(stderr, "register-user: no server address (give -c FILE or --url)\n");
        goto out;
    }
    if (!user && !(user = read_line("New user localpart: ", 0))) {
        fprintf(stderr, "register-user: no user name\n");
        goto out;
    }
    if (!password && !(password = read_line("Password: ", 1))) {
        fprintf(stderr, "register-user: no password\n");
        goto out;
    }
    if (!*password) {
        fprintf(stderr, "register-user: empty password\n");
        goto out;
    }

    char endpoint[400], mac[41];
    snprintf(endpoint, sizeof endpoint, "%s/_synapse/admin/v1/register", url);
    int status = httpc_json("GET", endpoint, NULL, TIMEOUT_MS, &res, err, sizeof err);
    const char *nonce = json_string_value(json_object_get(res, "nonce"));
    if (status != 200 || !nonce) {
        fprintf(stderr, "register-user: cannot get a nonce from %s: %s\n", endpoint,
                status < 0 ? err : json_string_value(json_object_get(res, "error")));
        goto out;
    }
    if (regtoken_mac(secret, nonce, user, password, admin, NULL, mac) < 0) {
        fprintf(stderr, "register-user: HMAC failed\n");
        goto out;
    }
    body = json_pack("{s:s,s:s,s:s,s:b,s:s}", "nonce", nonce, "username", user, "password",
                     password, "admin", admin, "mac", mac);
    json_decref(res);
    res = NULL;
    status = httpc_json("POST", endpoint, body, TIMEOUT_MS, &res, err, sizeof err);
    if (status != 200) {
        const char *why = status < 0 ? err : json_string_value(json_object_get(res, "error"));
        fprintf(stderr, "register-user: %s\n", why ? why : "registration failed");
        goto out;
    }
    printf("Success! %s\n", json_string_value(json_object_get(res, "user_id")));
    rc = 0;
out:
    json_decref(res);
    json_decref(body);
    free(user);
    free(password);
    if (have_cfg)
        config_free(&cfg);
    return rc;
}
