/* search.c - SQL for full-text search (migration 0008): the indexer that copies searchable
 * text of committed events into event_search as tsvectors, and the query. The 'simple' text
 * search configuration is used: no stemming, so German, English and any other language
 * match alike, and every word is matched as a prefix (as Synapse does on PostgreSQL).
 *
 * Invariant: a purge (storage/roomadmin.c, storage/retention.c) never leaves search rows
 * behind. The indexer reads events under READ COMMITTED; a statement that took its snapshot
 * before a purge committed would still see the purged events and insert rows for them after
 * the purge had deleted the room's search rows. So the single row of search_position is a
 * fence: an indexer round holds it FOR UPDATE, a purge FOR SHARE (purges do not wait for each
 * other), each from the first statement of its transaction. An indexer round that waited for a
 * purge reads with a snapshot taken after the purge committed; a purge that waited for an
 * indexer round deletes with a snapshot that sees the rows the round inserted. Lock order:
 * search_position before any row of rooms or events. */
#include "storage/search.h"

#include <stdlib.h>

#include "storage/db_internal.h"

int db_search_fence(struct dbc *c)
{
    return db_run(c, "SELECT 1 FROM search_position FOR SHARE", 0, NULL);
}

int db_search_index(struct dbc *c, int64_t upto, int64_t batch, int64_t *done)
{
    char u[24], b[24];
    const char *p[] = {db_i64(u, upto), db_i64(b, batch)};
    if (db_begin(c) < 0)
        return -1;
    /* The fence first, in a statement of its own: the one below takes its snapshot only
     * once no purge is running, and no purge starts until this round commits. */
    if (db_run(c, "SELECT 1 FROM search_position FOR UPDATE", 0, NULL) < 0)
        goto fail;
    PGresult *res = db_exec(
        c,
        "WITH pos AS (SELECT stream AS from_pos, least($1::bigint, stream + $2::bigint) AS "
        "to_pos FROM search_position), "
        "ins AS (INSERT INTO event_search (event_id, room_id, stream, ts, key, vector) "
        "SELECT e.event_id, e.room_id, e.stream_ordering, e.origin_server_ts, k.key, "
        "to_tsvector('simple', k.val) FROM pos, events e CROSS JOIN LATERAL (SELECT CASE "
        "e.type WHEN 'm.room.message' THEN 'content.body' WHEN 'm.room.name' THEN "
        "'content.name' ELSE 'content.topic' END AS key, e.json::json -> 'content' ->> CASE "
        "e.type WHEN 'm.room.message' THEN 'body' WHEN 'm.room.name' THEN 'name' ELSE 'topic' "
        "END AS val) k WHERE e.stream_ordering > pos.from_pos AND e.stream_ordering <= "
        "pos.to_pos AND e.type IN ('m.room.message', 'm.room.name', 'm.room.topic') AND "
        "e.rejected IS NULL AND NOT e.outlier AND e.redacted_by IS NULL AND k.val <> '' "
        "ON CONFLICT (event_id) DO NOTHING) "
        "UPDATE search_position SET stream = pos.to_pos FROM pos RETURNING stream",
        2, p);
    if (!res)
        goto fail;
    *done = PQntuples(res) ? db_int(res, 0, 0) : upto;
    PQclear(res);
    if (db_commit(c) < 0)
        goto fail;
    return 0;
fail:
    db_rollback(c);
    return -1;
}

json_t *db_search_events(struct dbc *c, const json_t *words, const json_t *rooms,
                         const json_t *keys, bool recent, int64_t offset, int limit)
{
    char *w = json_dumps(words, JSON_COMPACT), *r = json_dumps(rooms, JSON_COMPACT);
    char *k = json_dumps(keys, JSON_COMPACT);
    char o[24], l[24];
    const char *p[] = {w, r, k, recent ? "t" : "f", db_i64(o, offset), db_i64(l, limit)};
    json_t *out =
        w && r && k
            ? db_json(db_exec(
                  c,
                  "WITH q AS (SELECT string_agg(quote_literal(x) || ':*', ' & ')::tsquery AS q "
                  "FROM "
                  "json_array_elements_text($1::json) x), "
                  "hits AS (SELECT s.event_id, s.room_id, s.stream, ts_rank_cd(s.vector, q.q) AS "
                  "rank, "
                  "count(*) OVER () AS total FROM q, event_search s JOIN events e ON e.event_id = "
                  "s.event_id WHERE s.vector @@ q.q AND s.room_id IN (SELECT "
                  "json_array_elements_text($2::json)) AND s.key IN (SELECT "
                  "json_array_elements_text($3::json)) AND e.redacted_by IS NULL "
                  "ORDER BY CASE WHEN $4::boolean THEN 0 ELSE ts_rank_cd(s.vector, q.q) END DESC, "
                  "s.stream DESC OFFSET $5 LIMIT $6) "
                  "SELECT json_build_object('total', coalesce((SELECT max(total) FROM hits), 0), "
                  "'rows', "
                  "coalesce((SELECT json_agg(json_build_object('event_id', event_id, 'room_id', "
                  "room_id, "
                  "'rank', rank) ORDER BY CASE WHEN $4::boolean THEN 0 ELSE rank END DESC, stream "
                  "DESC) "
                  "FROM hits), '[]'::json))",
                  6, p))
            : NULL;
    free(w);
    free(r);
    free(k);
    return out;
}
