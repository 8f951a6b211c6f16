/* sync.h - computing a /sync response (Client-Server API "Syncing"). The HTTP side (tokens in
 * and out, filters, long-polling) is api/sync.c; this file knows what a user should be told
 * about the stream between two positions. */
#ifndef AMTSBOTE_SYNC_H
#define AMTSBOTE_SYNC_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A sync token "s<pos>_<typing>_<inbox>": the stream position seen, the typing serial seen,
 * and the last to-device message delivered (acknowledged by presenting the token again). */
struct sync_token {
    int64_t pos, typing, inbox;
};
/* 0, or -1 when `s` is not a sync token this server issued (malformed, or a position past
 * the published one). */
int sync_token_parse(const char *s, struct sync_token *t);
/* Into buf (at least 72 bytes). */
void sync_token_format(const struct sync_token *t, char *buf, size_t n);

struct sync_req {
    const char *user_id;
    const char *device_id; /* may be NULL */
    bool has_since;
    struct sync_token since;
    bool full_state;
    const json_t *filter; /* a Filter (validated), borrowed; NULL: none */
    bool presence_enabled;
    /* the memberships a previous computation read at position mems_pos (borrowed, may be
     * NULL): reused when no member event for this user came since */
    json_t *mems;
    int64_t mems_pos;
};

/* The response and what a long-poll needs to wait on. */
struct sync_result {
    json_t *body;          /* the response (owned) */
    bool empty;            /* nothing to tell: a long-poll may wait */
    json_t *rooms;         /* IDs of the rooms whose changes concern the user (owned) */
    json_t *mems;          /* the memberships read (owned), for sync_req.mems next time */
    struct sync_token next;
};

/* Compute the response for q. 0 (fill *r; free with sync_result_clear) or -1 (logged). */
int sync_compute(const struct sync_req *q, struct sync_result *r);
void sync_result_clear(struct sync_result *r);

#endif
