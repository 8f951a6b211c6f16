/* slidingsync.h - native sliding sync (MSC4186, unstable prefix org.matrix.simplified_msc3575):
 * what one request of a connection answers. The HTTP side (pos, timeout, long-polling) is
 * api/slidingsync.c; the connection store is server/ssconn.h. */
#ifndef AMTSBOTE_SLIDINGSYNC_H
#define AMTSBOTE_SLIDINGSYNC_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Check a request body (lists, room_subscriptions, extensions) against the MSC's types and
 * this server's limits. 0, or -1 with the reason in why. */
int ss_validate(const json_t *body, char *why, size_t n);

struct ss_req {
    const char *user_id;
    const char *device_id; /* may be NULL (appservice-style tokens): no to-device, no keys */
    const json_t *body;    /* validated, borrowed */
    const json_t *snap;    /* the connection's state at the presented pos (borrowed); NULL:
                            * a new connection */
    /* what a previous computation of this request read (ss_result.list, .direct; borrowed,
     * may be NULL): reused, updated for the rooms that moved since list_pos, while nothing
     * named the user (their memberships, account data) */
    const json_t *list, *direct;
    int64_t list_pos;
};

struct ss_result {
    json_t *body;          /* the response without `pos` (owned) */
    json_t *snap;          /* the connection's state after it (owned) */
    json_t *rooms;         /* the joined rooms a long-poll waits on (owned) */
    json_t *list, *direct; /* the room list and m.direct rooms as of pos (owned), for
                            * ss_req.list and .direct next time */
    bool empty;            /* nothing to say: a long-poll may wait */
    int64_t pos, typing;
};

/* Compute the response. 0 (fill *r; free with ss_result_clear), or -1 (logged). */
int ss_compute(const struct ss_req *q, struct ss_result *r);
void ss_result_clear(struct ss_result *r);

#endif
