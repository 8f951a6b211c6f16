/* outbound_test.c - the outbound HTTP client against a small local server: results, the
 * per-destination limit (a slow destination does not hold up another), deadlines on the wire
 * and in the queue, response limits, the address filter, connect_to, URL parsing, stop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/ipfilter.h"
#include "server/outbound.h"
#include "tests/unit.h"

/* --- a local server: GET /ok, /slow (after 1.5 s), /big (100 kB) ----------------------------- */

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[2048];
    size_t n = 0;
    req[0] = '\0';
    while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t r = read(fd, req + n, sizeof req - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
    }
    static char big[100000];
    memset(big, 'x', sizeof big);
    const char *body = "hello";
    size_t len = 5;
    if (strstr(req, "GET /slow")) {
        struct timespec ts = {1, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } else if (strstr(req, "GET /big")) {
        body = big;
        len = sizeof big;
    }
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      len);
    if (write(fd, head, (size_t)hl) == hl && write(fd, body, len) == (ssize_t)len)
        shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static int listen_local(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0)
        return -1;
    pthread_t t;
    pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)ls);
    pthread_detach(t);
    return ntohs(a.sin_port);
}

static int port_a, port_b;
static struct ipfilter *loopback_ok;

static struct outbound_req req_to(char *url, size_t n, int port, const char *path)
{
    snprintf(url, n, "http://127.0.0.1:%d%s", port, path);
    return (struct outbound_req){.url = url, .filter = loopback_ok};
}

/* --- completion records for asynchronous requests ------------------------------------------ */

struct done {
    pthread_mutex_t mu;
    int n;
    int64_t at[8];
    enum outbound_err err[8];
    int tag[8];
};
static struct done done = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void record(void *arg, struct outbound_res *res)
{
    pthread_mutex_lock(&done.mu);
    if (done.n < 8) {
        done.at[done.n] = clock_mono_ms();
        done.err[done.n] = res->err;
        done.tag[done.n] = (int)(intptr_t)arg;
        done.n++;
    }
    pthread_mutex_unlock(&done.mu);
}

static int done_count(void)
{
    pthread_mutex_lock(&done.mu);
    int n = done.n;
    pthread_mutex_unlock(&done.mu);
    return n;
}

static void wait_done(int n, int max_ms)
{
    for (int i = 0; i < max_ms / 10 && done_count() < n; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* --- tests ------------------------------------------------------------------------------------ */

TEST(fetch_ok)
{
    char url[128];
    struct outbound_req r = req_to(url, sizeof url, port_a, "/ok");
    struct outbound_res res;
    CHECK_INT(outbound_fetch(&r, &res), 0);
    CHECK_INT(res.status, 200);
    CHECK_STR(res.body, "hello");
    CHECK_STR(res.content_type, "text/plain");
    outbound_res_clear(&res);
    r.url = "ftp://127.0.0.1/x";
    CHECK(outbound_submit(&r, record, NULL) == -1); /* not http(s): refused at once */
}

TEST(slow_destination_holds_up_only_itself)
{
    char slow[128], fast[128];
    struct outbound_req s = req_to(slow, sizeof slow, port_a, "/slow");
    s.max_in_flight = 1;
    struct outbound_req f = req_to(fast, sizeof fast, port_b, "/ok");
    done.n = 0;
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < 3; i++)
        CHECK_INT(outbound_submit(&s, record, (void *)(intptr_t)1), 0);
    CHECK_INT(outbound_submit(&f, record, (void *)(intptr_t)2), 0);
    wait_done(1, 5000);
    CHECK_INT(done.tag[0], 2); /* the other destination first */
    CHECK(done.at[0] - t0 < 1000);
    wait_done(4, 10000);
    CHECK_INT(done.n, 4);
    CHECK(done.at[3] - t0 >= 4000); /* one at a time: three times 1.5 s */
    for (int i = 0; i < 4; i++)
        CHECK_INT(done.err[i], OUTBOUND_OK);
}

TEST(deadlines)
{
    char url[128], url2[128];
    struct outbound_req r = req_to(url, sizeof url, port_a, "/slow");
    r.timeout_ms = 300;
    struct outbound_res res;
    int64_t t0 = clock_mono_ms();
    CHECK_INT(outbound_fetch(&r, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_TIMEOUT);
    CHECK(clock_mono_ms() - t0 < 1300);
    outbound_res_clear(&res);
    /* queued behind a slow request to the same destination: the deadline counts there too */
    struct outbound_req s = req_to(url2, sizeof url2, port_a, "/slow");
    s.max_in_flight = 1;
    s.destination = "queue-test";
    r = req_to(url, sizeof url, port_a, "/ok");
    r.max_in_flight = 1;
    r.destination = "queue-test";
    r.timeout_ms = 400;
    done.n = 0;
    CHECK_INT(outbound_submit(&s, record, NULL), 0);
    t0 = clock_mono_ms();
    CHECK_INT(outbound_fetch(&r, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_TIMEOUT);
    CHECK(clock_mono_ms() - t0 < 1400);
    outbound_res_clear(&res);
    wait_done(1, 5000);
}

TEST(response_limits)
{
    char url[128];
    struct outbound_req r = req_to(url, sizeof url, port_a, "/big");
    r.max_body = 1000;
    struct outbound_res res;
    CHECK_INT(outbound_fetch(&r, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_TOO_LARGE);
    outbound_res_clear(&res);
    r.truncate = true;
    CHECK_INT(outbound_fetch(&r, &res), 0);
    CHECK_INT(res.len, 1000);
    CHECK(res.truncated);
    outbound_res_clear(&res);
}

TEST(address_filter_and_connect_to)
{
    char err[100], url[128];
    struct ipfilter *deny = ipfilter_new(NULL, 0, NULL, 0, err, sizeof err);
    struct outbound_req r = req_to(url, sizeof url, port_a, "/ok");
    r.filter = deny;
    struct outbound_res res;
    CHECK_INT(outbound_fetch(&r, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_BLOCKED);
    outbound_res_clear(&res);
    /* a name resolving to loopback is refused too (checked after DNS) */
    snprintf(url, sizeof url, "http://localhost:%d/ok", port_a);
    CHECK_INT(outbound_fetch(&r, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_BLOCKED);
    outbound_res_clear(&res);
    /* connect_to: the URL's host is not resolved; the filter sees the address used */
    char to[64];
    snprintf(to, sizeof to, "127.0.0.1:%d", port_a);
    struct outbound_req c = {.url = "http://matrix.example.invalid:8448/ok", .connect_to = to};
    CHECK_INT(outbound_fetch(&c, &res), 0);
    CHECK_STR(res.body, "hello");
    outbound_res_clear(&res);
    c.filter = deny;
    CHECK_INT(outbound_fetch(&c, &res), -1);
    CHECK_INT(res.err, OUTBOUND_E_BLOCKED);
    outbound_res_clear(&res);
    ipfilter_free(deny);
}

TEST(url_parsing)
{
    struct outbound_url u;
    CHECK_INT(outbound_url_parse("https://GW.example:8443/_matrix/push/v1/notify", &u), 0);
    CHECK(u.https && u.port == 8443 && !u.host_is_ip && !u.has_query);
    CHECK_STR(u.host, "gw.example");
    CHECK_STR(u.path, "/_matrix/push/v1/notify");
    CHECK_INT(outbound_url_parse("http://[::1]/a/../b?x#y", &u), 0);
    CHECK(u.host_is_ip && u.port == 80 && u.has_query && u.has_fragment);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.path, "/b");
    CHECK_INT(outbound_url_parse("http://u:p@h/", &u), 0);
    CHECK(u.has_userinfo);
    const char *bad[] = {"ftp://h/", "http:///x", "http://", "/relative", "http://h:0/",
                         "http://h:70000/", "javascript:alert(1)", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (outbound_url_parse(bad[i], &u) == 0)
            UNIT_FAIL("accepted %s", bad[i]);
}

extern char **environ;

/* A free loopback port (bound, read, released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int port = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                       getsockname(fd, (struct sockaddr *)&a, &al) == 0
                   ? ntohs(a.sin_port)
                   : -1;
    close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* TLS as federation uses it: the URL names the server, connect_to the address found by
 * discovery; the certificate is checked against the URL's host, with the system's CAs or
 * only the given ones (federation_custom_ca_list), or not at all. With `openssl s_server`. */
TEST(tls_options)
{
    char dir[] = "/tmp/outbound-tls-XXXXXX", cmd[1024], cert[64], key[64], to[64], url[128];
    if (!mkdtemp(dir)) {
        UNIT_FAIL("mkdtemp");
        return;
    }
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=matrix.example -addext subjectAltName=DNS:matrix.example -keyout %s "
             "-out %s >/dev/null 2>&1",
             key, cert);
    int port = free_port();
    if (system(cmd) != 0 || port < 0) {
        printf("    (skipped: openssl cannot make a certificate)\n");
        return;
    }
    char accept_at[32];
    snprintf(accept_at, sizeof accept_at, "127.0.0.1:%d", port);
    char *argv[] = {"openssl", "s_server", "-accept", accept_at, "-cert", cert, "-key", key,
                    "-www", "-quiet", NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "openssl", NULL, NULL, argv, environ) != 0) {
        UNIT_FAIL("cannot start openssl s_server");
        return;
    }
    for (int i = 0; i < 500 && !port_open(port); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char *pem = NULL;
    size_t pem_len = 0;
    FILE *f = fopen(cert, "rb");
    if (f) {
        pem = calloc(1, 8192);
        pem_len = pem ? fread(pem, 1, 8191, f) : 0;
        fclose(f);
    }
    snprintf(to, sizeof to, "127.0.0.1:%d", port);
    snprintf(url, sizeof url, "https://matrix.example:%d/", port);
    struct outbound_req r = {.url = url, .connect_to = to, .filter = loopback_ok};
    struct outbound_res res;
    CHECK_INT(outbound_fetch(&r, &res), -1); /* self-signed: not in the system's store */
    CHECK_INT(res.err, OUTBOUND_E_TLS);
    outbound_res_clear(&res);
    r.ca_pem = pem;
    r.ca_pem_len = pem_len;
    CHECK_INT(outbound_fetch(&r, &res), 0); /* trusted through the given CA list */
    CHECK_INT(res.status, 200);
    outbound_res_clear(&res);
    char other[128];
    snprintf(other, sizeof other, "https://other.example:%d/", port);
    r.url = other;
    CHECK_INT(outbound_fetch(&r, &res), -1); /* the certificate names another server */
    CHECK_INT(res.err, OUTBOUND_E_TLS);
    outbound_res_clear(&res);
    r.ca_pem = NULL;
    r.tls_no_verify = true; /* federation_verify_certificates: false */
    CHECK_INT(outbound_fetch(&r, &res), 0);
    outbound_res_clear(&res);
    free(pem);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

TEST(stop_ends_everything)
{
    char url[128];
    struct outbound_req r = req_to(url, sizeof url, port_a, "/slow");
    done.n = 0;
    CHECK_INT(outbound_submit(&r, record, NULL), 0);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t t0 = clock_mono_ms();
    outbound_stop();
    CHECK(clock_mono_ms() - t0 < 1000);
    CHECK_INT(done.n, 1);
    CHECK_INT(done.err[0], OUTBOUND_E_STOPPED);
    CHECK_INT(outbound_submit(&r, record, NULL), -1);
}

int main(void)
{
    char err[100];
    const char *allow[] = {"127.0.0.1"};
    signal(SIGPIPE, SIG_IGN); /* the local server writes to clients that gave up */
    loopback_ok = ipfilter_new(NULL, 0, allow, 1, err, sizeof err);
    port_a = listen_local();
    port_b = listen_local();
    if (port_a < 0 || port_b < 0 || !loopback_ok) {
        printf("cannot listen on loopback\n");
        return 1;
    }
    RUN(fetch_ok);
    RUN(slow_destination_holds_up_only_itself);
    RUN(deadlines);
    RUN(response_limits);
    RUN(address_filter_and_connect_to);
    RUN(url_parsing);
    RUN(tls_options);
    RUN(stop_ends_everything);
    ipfilter_free(loopback_ok);
    return unit_done();
}
