/* roomver.h - room versions 1 to 12 as one static table of per-version rules (spec: "Room
 * Versions"). Code asks the table, never compares version strings. */
#ifndef AMTSBOTE_ROOMVER_H
#define AMTSBOTE_ROOMVER_H
#include <stdbool.h>
#include <stddef.h>

enum roomver_event_ids {
    ROOMVER_EVID_V1, /* "$opaque:server", chosen by the sending server (v1, v2) */
    ROOMVER_EVID_V3, /* "$" + unpadded standard base64 of the reference hash (v3) */
    ROOMVER_EVID_V4, /* "$" + unpadded URL-safe base64 of the reference hash (v4+) */
};

enum roomver_redaction {
    ROOMVER_REDACT_V1,  /* v1-v5: original algorithm (keeps m.room.aliases "aliases") */
    ROOMVER_REDACT_V6,  /* v6-v7: m.room.aliases no longer special */
    ROOMVER_REDACT_V8,  /* v8: join_rules keeps "allow" */
    ROOMVER_REDACT_V9,  /* v9-v10: member keeps "join_authorised_via_users_server" */
    ROOMVER_REDACT_V11, /* v11-v12: v11 redaction rules */
};

enum roomver_state_res {
    ROOMVER_STATE_RES_V1,   /* v1 */
    ROOMVER_STATE_RES_V2,   /* v2-v11 */
    ROOMVER_STATE_RES_V2_1, /* v12: v2 with the empty-set start and conflicted subgraph */
};

struct room_version {
    const char *id;                    /* "1" ... "12" */
    bool stable;
    enum roomver_event_ids event_ids;
    enum roomver_redaction redaction;
    enum roomver_state_res state_res;
    bool enforce_key_validity;         /* v5+: signing key valid_until_ts honoured */
    bool special_case_aliases_auth;    /* v1-v5: m.room.aliases auth rule */
    bool strict_canonical_json;        /* v6+: integers in range, no floats */
    bool limit_notifications_power_levels; /* v6+: notifications key in power level checks */
    bool knock;                        /* v7+: "knock" membership and join rule */
    bool restricted;                   /* v8+: "restricted" join rule */
    bool knock_restricted;             /* v10+: "knock_restricted" join rule */
    bool integer_power_levels;         /* v10+: power levels must be integers */
    bool implicit_room_creator;        /* v11+: creator is the create event's sender */
    bool redacts_in_content;           /* v11+: m.room.redaction carries redacts in content */
    bool room_id_from_create;          /* v12+: room ID is "!" + the create event's hash */
    bool creators_infinite_power;      /* v12+: creators (sender + additional_creators) */
    bool create_in_auth_events;        /* v1-v11: m.room.create is selected as an auth event */
};

/* The version with this identifier, or NULL when unknown. */
const struct room_version *roomver_get(const char *id);
/* Every known version, in order; *n receives the count. */
const struct room_version *roomver_all(size_t *n);

#endif
