/* stateres.h - state resolution (spec: room version 1 "State resolution", room version 2
 * fragment "State resolution" (v2), and room version 12's changes (v2.1)). Pure functions:
 * events come from a fetch callback; nothing is stored.
 *
 * A state map is a JSON object keyed by statemap_key(type, state_key) with event ID values
 * (see server/statemap.h). */
#ifndef AMTSBOTE_STATERES_H
#define AMTSBOTE_STATERES_H
#include <jansson.h>

#include "server/roomver.h"

struct stateres_ops {
    /* The PDU with this event ID (borrowed; must stay valid until stateres_resolve returns),
     * or NULL if unknown (its subtree is then treated as absent). The PDU must carry its
     * "event_id" key (the engine adds it for v3+ rooms). */
    const json_t *(*fetch)(void *ctx, const char *event_id);
    /* As auth_ops.signed_by; may be NULL. */
    int (*signed_by)(void *ctx, const json_t *ev, const char *server_name);
    void *ctx;
    /* 1 if the event was rejected (v2 "Rejected events": such auth events are not used when
     * the partial state lacks a key the rules need). May be NULL: nothing was rejected. */
    int (*rejected)(void *ctx, const char *event_id);
};

/* Resolve `state_sets` (a JSON array of state maps, borrowed) with rv's algorithm (v1, v2 or
 * v2.1). Returns the resolved state map (new reference), or NULL with a reason in why (an
 * event that cannot be fetched where the algorithm requires it, or OOM). */
json_t *stateres_resolve(const struct room_version *rv, const json_t *state_sets,
                         const struct stateres_ops *ops, char *why, size_t n);

#endif
