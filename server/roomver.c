/* roomver.c - the room version table (spec: "Room Versions", one page per version).
 *
 * Each row is one version's rules; a version differs from its predecessor only in the
 * columns its spec page names. All versions 1-12 are stable. */
#include <stddef.h>
#include <string.h>

#include "server/roomver.h"

#define EV1 ROOMVER_EVID_V1
#define EV3 ROOMVER_EVID_V3
#define EV4 ROOMVER_EVID_V4
#define R1 ROOMVER_REDACT_V1
#define R6 ROOMVER_REDACT_V6
#define R8 ROOMVER_REDACT_V8
#define R9 ROOMVER_REDACT_V9
#define R11 ROOMVER_REDACT_V11
#define S1 ROOMVER_STATE_RES_V1
#define S2 ROOMVER_STATE_RES_V2
#define S21 ROOMVER_STATE_RES_V2_1

/* id, stable, event_ids, redaction, state_res, key_validity, aliases_auth, strict_cjson,
 * notif_pl, knock, restricted, knock_restricted, int_pl, implicit_creator, redacts_in_content,
 * room_id_from_create, creators_infinite, create_in_auth_events */
static const struct room_version versions[] = {
    {"1", 1, EV1, R1, S1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"2", 1, EV1, R1, S2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"3", 1, EV3, R1, S2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"4", 1, EV4, R1, S2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"5", 1, EV4, R1, S2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"6", 1, EV4, R6, S2, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {"7", 1, EV4, R6, S2, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1},
    {"8", 1, EV4, R8, S2, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1},
    {"9", 1, EV4, R9, S2, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1},
    {"10", 1, EV4, R9, S2, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"11", 1, EV4, R11, S2, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1},
    {"12", 1, EV4, R11, S21, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
};

const struct room_version *roomver_get(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(versions[i].id, id) == 0)
            return &versions[i];
    return NULL;
}

const struct room_version *roomver_all(size_t *n)
{
    *n = sizeof versions / sizeof versions[0];
    return versions;
}
