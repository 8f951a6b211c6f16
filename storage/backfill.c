/* backfill.c - SQL for backfilled events (migration 0070: backfill_ordering_seq) and the
 * small reads the federation event endpoints and the backfill trigger make.
 *
 * Invariants: 1. a backfilled event's stream ordering is negative and below every earlier
 * backfilled one; 2. storing one never touches room_extremities or current_state. */
#include "storage/backfill.h"

#include <stdlib.h>
#include <string.h>

#include "storage/db_internal.h"

/* A stored accepted outlier without state gets the position; otherwise a new row and its
 * edges. The second statement runs only when the first changed nothing. */
static const char promote_sql[] =
    "UPDATE events SET state_group = $2, outlier = false, stream_ordering = "
    "nextval('backfill_ordering_seq') WHERE event_id = $1 AND outlier AND NOT soft_failed AND "
    "rejected IS NULL AND state_group IS NULL RETURNING stream_ordering";

static const char insert_sql[] =
    "WITH ins AS (INSERT INTO events (event_id, room_id, type, state_key, sender, "
    "origin_server_ts, depth, state_group, outlier, json, stream_ordering) VALUES ($1, $2, $3, "
    "$4, $5, $6, $7, $8, false, $9, nextval('backfill_ordering_seq')) ON CONFLICT (event_id) "
    "DO NOTHING RETURNING event_nid, stream_ordering), "
    "edges AS (INSERT INTO event_edges (event_nid, prev_event_id) SELECT DISTINCT "
    "ins.event_nid, p FROM ins, jsonb_array_elements_text($10::jsonb) AS p) "
    "SELECT stream_ordering FROM ins";

int db_backfill_store(struct dbc *c, const struct db_event_meta *m, const char *json,
                      const json_t *prev_events, int64_t *stream)
{
    char g[24], ts[24], d[24];
    const char *pp[] = {m->event_id, m->state_group > 0 ? db_i64(g, m->state_group) : NULL};
    PGresult *res = db_exec(c, promote_sql, 2, pp);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *stream = db_int(res, 0, 0);
        PQclear(res);
        return 0;
    }
    PQclear(res);
    char *prev = prev_events ? json_dumps(prev_events, JSON_COMPACT) : strdup("[]");
    if (!prev)
        return -1;
    const char *p[] = {m->event_id,
                       m->room_id,
                       m->type,
                       m->state_key,
                       m->sender,
                       db_i64(ts, m->origin_server_ts),
                       db_i64(d, m->depth),
                       m->state_group > 0 ? g : NULL,
                       json,
                       prev};
    res = db_exec(c, insert_sql, 10, p);
    free(prev);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 0 : 1;
    if (rc == 0)
        *stream = db_int(res, 0, 0);
    PQclear(res);
    return rc;
}

int db_backfill_earliest(struct dbc *c, const char *room_id, char **event_id, int64_t *stream,
                         int64_t *group)
{
    const char *p[] = {room_id};
    PGresult *res = db_exec(c,
                            "SELECT event_id, stream_ordering, coalesce(state_group, 0) FROM "
                            "events WHERE room_id = $1 AND NOT outlier AND rejected IS NULL "
                            "ORDER BY depth, stream_ordering LIMIT 1",
                            1, p);
    if (!res)
        return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        *event_id = strdup(db_val(res, 0, 0));
        *stream = db_int(res, 0, 1);
        *group = db_int(res, 0, 2);
        if (!*event_id)
            found = -1;
    }
    PQclear(res);
    return found;
}

json_t *db_backfill_placed(struct dbc *c, const char *room_id, const json_t *ids)
{
    char *text = json_dumps(ids, JSON_COMPACT);
    if (!text)
        return NULL;
    const char *p[] = {room_id, text};
    json_t *list = db_strings(db_exec(c,
                                      "SELECT event_id FROM events WHERE room_id = $1 AND "
                                      "state_group IS NOT NULL AND event_id IN (SELECT "
                                      "jsonb_array_elements_text($2::jsonb))",
                                      2, p));
    free(text);
    if (!list)
        return NULL;
    json_t *out = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) json_object_set_new(out, json_string_value(v), json_true());
    json_decref(list);
    return out;
}

json_t *db_backfill_keys(struct dbc *c, const char *room_id, const json_t *ids)
{
    char *text = json_dumps(ids, JSON_COMPACT);
    if (!text)
        return NULL;
    const char *p[] = {room_id, text};
    json_t *out = db_json(db_exec(
        c,
        "SELECT coalesce(json_object_agg(event_id, json_build_array(type, state_key)), '{}') "
        "FROM events WHERE room_id = $1 AND event_id IN (SELECT "
        "jsonb_array_elements_text($2::jsonb))",
        2, p));
    free(text);
    return out;
}
