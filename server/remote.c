/* remote.c - queries to other servers on behalf of local users (Server-Server API "Querying
 * for information"), over the request function federation registered. Answers are treated
 * as untrusted input: only the expected fields, only strings, bounded in size. */
#include "server/remote.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/outbound.h"

#define REMOTE_TIMEOUT_MS 10000
#define PROFILE_FIELD_MAX 1024

static remote_request_fn request;
static remote_raw_fn request_raw;

void remote_init(remote_request_fn fn)
{
    request = fn;
}

/* Percent-encode s for a query value into out (cap bytes). 0, or -1 when it does not fit. */
static int pct_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

enum remote_rc remote_profile(const char *user_id, const char *server, json_t **out)
{
    char enc[800], path[900], err[256];
    json_t *body = NULL;
    *out = NULL;
    if (!request || pct_encode(user_id, enc, sizeof enc) < 0)
        return REMOTE_UNREACHABLE;
    snprintf(path, sizeof path, "/_matrix/federation/v1/query/profile?user_id=%s", enc);
    int st = request(server, "GET", path, NULL, REMOTE_TIMEOUT_MS, &body, err, sizeof err);
    if (st == -2) {
        log_info("profile of %s: %s", user_id, err);
        return REMOTE_REFUSED;
    }
    if (st == 404) {
        json_decref(body);
        return REMOTE_NOT_FOUND;
    }
    if (st != 200 || !json_is_object(body)) {
        log_info("profile of %s: %s", user_id, st < 0 ? err : "unexpected answer");
        json_decref(body);
        return REMOTE_UNREACHABLE;
    }
    json_t *p = json_object();
    static const char *const fields[] = {"displayname", "avatar_url"};
    for (size_t i = 0; p && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (json_is_string(v) && json_string_length(v) <= PROFILE_FIELD_MAX)
            json_object_set(p, fields[i], v);
    }
    json_decref(body);
    *out = p;
    return p ? REMOTE_OK : REMOTE_UNREACHABLE;
}

enum remote_rc remote_public_rooms(const char *server, const char *since, int limit,
                                   const json_t *filter, json_t **out, int *status)
{
    char path[1200], enc[800] = "", err[256];
    json_t *ans = NULL, *body = NULL;
    *out = NULL;
    *status = 0;
    if (!request || (since && remote_encode(since, enc, sizeof enc) < 0))
        return REMOTE_UNREACHABLE;
    int st;
    if (filter) {
        body = json_pack("{s:O}", "filter", filter);
        if (body && since)
            json_object_set_new(body, "since", json_string(since));
        if (body && limit > 0)
            json_object_set_new(body, "limit", json_integer(limit));
        st = body ? request(server, "POST", "/_matrix/federation/v1/publicRooms", body,
                            REMOTE_TIMEOUT_MS, &ans, err, sizeof err)
                  : -1;
        json_decref(body);
    } else {
        snprintf(path, sizeof path, "/_matrix/federation/v1/publicRooms?limit=%d%s%s",
                 limit > 0 ? limit : 0, since ? "&since=" : "", since ? enc : "");
        st = request(server, "GET", path, NULL, REMOTE_TIMEOUT_MS, &ans, err, sizeof err);
    }
    if (st == -2) {
        json_decref(ans);
        return REMOTE_REFUSED;
    }
    json_t *chunk = json_object_get(ans, "chunk");
    if (st != 200 || !json_is_array(chunk)) {
        if (st < 0)
            log_info("publicRooms of %s: %s", server, err);
        *status = st > 0 && st != 200 ? st : 0;
        json_decref(ans);
        return st == 404 ? REMOTE_NOT_FOUND : REMOTE_UNREACHABLE;
    }
    json_t *o = json_pack("{s:O}", "chunk", chunk);
    static const char *const fields[] = {"next_batch", "prev_batch"};
    for (size_t i = 0; o && i < 2; i++) {
        json_t *v = json_object_get(ans, fields[i]);
        if (json_is_string(v) && json_string_length(v) <= PROFILE_FIELD_MAX)
            json_object_set(o, fields[i], v);
    }
    json_t *est = json_object_get(ans, "total_room_count_estimate");
    if (o && json_is_integer(est))
        json_object_set(o, "total_room_count_estimate", est);
    json_decref(ans);
    *out = o;
    return o ? REMOTE_OK : REMOTE_UNREACHABLE;
}

int remote_send(const char *destination, const char *method, const char *path_query,
                json_t *body, long timeout_ms, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!request) {
        snprintf(err, errlen, "federation is not configured");
        return -1;
    }
    return request(destination, method, path_query, body, timeout_ms, out, err, errlen);
}

int remote_encode(const char *s, char *out, size_t cap)
{
    return pct_encode(s, out, cap);
}

void remote_init_raw(remote_raw_fn fn)
{
    request_raw = fn;
}

int remote_get_raw(const char *destination, const char *path_query, size_t max_body,
                   long timeout_ms, struct outbound_res *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!request_raw) {
        snprintf(err, errlen, "federation is not configured");
        return -1;
    }
    return request_raw(destination, path_query, max_body, timeout_ms, res, err, errlen);
}

struct batch_arg {
    struct remote_call *call;
    long timeout_ms;
};

static void *batch_one(void *p)
{
    struct batch_arg *a = p;
    struct remote_call *c = a->call;
    c->status = remote_send(c->destination, c->method, c->path_query, c->body, a->timeout_ms,
                            &c->answer, c->err, sizeof c->err);
    return NULL;
}

void remote_send_all(struct remote_call *calls, size_t n, long timeout_ms)
{
    pthread_t th[REMOTE_BATCH_MAX];
    struct batch_arg args[REMOTE_BATCH_MAX];
    bool started[REMOTE_BATCH_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        calls[i].answer = NULL;
        calls[i].status = -1;
        calls[i].err[0] = '\0';
        if (i >= REMOTE_BATCH_MAX) {
            snprintf(calls[i].err, sizeof calls[i].err, "too many servers in one request");
            continue;
        }
        args[i] = (struct batch_arg){&calls[i], timeout_ms};
        if (n == 1 || pthread_create(&th[i], NULL, batch_one, &args[i]) != 0)
            batch_one(&args[i]); /* one call, or no thread to spare: on this thread */
        else
            started[i] = true;
    }
    for (size_t i = 0; i < n && i < REMOTE_BATCH_MAX; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}
