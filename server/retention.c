/* retention.c - message retention policies: MSC1763's m.room.retention state event under
 * Synapse's `retention` settings (docs/message_retention_policies.md there).
 *
 * A room's effective max_lifetime (retention_effective_max) decides two things: clients stop
 * seeing a non-state event once it is older than that (retention_hidden, called by /sync,
 * /messages, /context, /event and search at read time), and a purge job deletes such events
 * from the database with the local media only they referenced. Invariants:
 *   1. State events never expire (neither hidden nor purged), nor do outliers, forward
 *      extremities and a room's newest event (storage/retention.c).
 *   2. The purge jobs run on one worker thread (server/worker.c), each job at its own
 *      interval; a round does bounded work (ROOMS_PAGE rooms per query, PURGE_BATCH events per
 *      statement, at most PURGE_ROUNDS statements per room) and stops early on shutdown.
 *   3. A media file is deleted only when no remaining event and no profile mentions its mxc
 *      URI, and its file only when no other media row shares it. */
#include "server/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/ids.h"
#include "server/log.h"
#include "server/media_internal.h"
#include "server/worker.h"
#include "storage/retention.h"

#define ROOMS_PAGE 200
#define PURGE_BATCH 500
#define PURGE_ROUNDS 20
#define MAX_JOBS 16
#define DAY_MS INT64_C(86400000)

static struct retention_settings settings;
static struct config_purge_job jobs[MAX_JOBS];
static size_t n_jobs;
static int64_t next_due[MAX_JOBS];
static char *local_server;

static int64_t positive_int(const json_t *content, const char *key)
{
    const json_t *v = json_object_get(content, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

int64_t retention_stated_max(const json_t *content, const struct retention_settings *s)
{
    int64_t own = positive_int(content, "max_lifetime");
    return own ? own : s->default_max;
}

int64_t retention_effective_max(const json_t *content, const struct retention_settings *s)
{
    int64_t max = retention_stated_max(content, s);
    if (!max)
        return 0;
    int64_t min = positive_int(content, "min_lifetime");
    if (!min)
        min = s->default_min;
    if (min && max < min)
        max = min;
    if (s->allowed_min && max < s->allowed_min)
        max = s->allowed_min;
    if (s->allowed_max && max > s->allowed_max)
        max = s->allowed_max;
    return max;
}

bool retention_content_ok(const json_t *content, char *why, size_t n)
{
    static const char *const keys[] = {"min_lifetime", "max_lifetime"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(content, keys[i]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
                  json_integer_value(v) > INT64_C(9007199254740991))) {
            snprintf(why, n, "'%s' must be a positive integer of milliseconds", keys[i]);
            return false;
        }
    }
    const json_t *lo = json_object_get(content, "min_lifetime");
    const json_t *hi = json_object_get(content, "max_lifetime");
    if (lo && hi && json_integer_value(lo) > json_integer_value(hi)) {
        snprintf(why, n, "'min_lifetime' must not exceed 'max_lifetime'");
        return false;
    }
    return true;
}

void retention_configure(const struct config *cfg)
{
    settings = (struct retention_settings){
        .enabled = cfg->retention.enabled,
        .default_min = cfg->retention.default_min_lifetime_ms,
        .default_max = cfg->retention.default_max_lifetime_ms,
        .allowed_min = cfg->retention.allowed_lifetime_min_ms,
        .allowed_max = cfg->retention.allowed_lifetime_max_ms,
    };
    n_jobs = 0;
    for (size_t i = 0; i < cfg->retention.n_purge_jobs && n_jobs < MAX_JOBS; i++)
        jobs[n_jobs++] = cfg->retention.purge_jobs[i];
    if (cfg->retention.n_purge_jobs > MAX_JOBS)
        log_warn("config: retention.purge_jobs: only the first %d jobs run", MAX_JOBS);
    if (!n_jobs) /* Synapse's default: one job, every room, daily */
        jobs[n_jobs++] = (struct config_purge_job){0, 0, DAY_MS};
    free(local_server);
    local_server = strdup(cfg->server_name);
}

bool retention_hidden(struct dbc *c, const char *room_id, const json_t *pdu, json_t *cache,
                      int64_t now_ms)
{
    if (!settings.enabled || !room_id || json_object_get(pdu, "state_key"))
        return false;
    char key[300];
    int64_t max = 0;
    snprintf(key, sizeof key, "retention:%s", room_id);
    json_t *hit = cache ? json_object_get(cache, key) : NULL;
    if (hit) {
        max = json_integer_value(hit);
    } else {
        json_t *content = NULL;
        if (db_retention_policy(c, room_id, &content) < 0)
            return false;
        max = retention_effective_max(content, &settings);
        json_decref(content);
        if (cache)
            json_object_set_new(cache, key, json_integer(max));
    }
    const json_t *ts = json_object_get(pdu, "origin_server_ts");
    return max > 0 && json_is_integer(ts) && json_integer_value(ts) < now_ms - max;
}

/* --- purging ------------------------------------------------------------------------------- */

/* The media ID of a local mxc URI, or NULL. */
static const char *local_media_id(const char *mxc)
{
    if (!mxc || strncmp(mxc, "mxc://", 6) != 0 || !local_server)
        return NULL;
    size_t n = strlen(local_server);
    if (strncmp(mxc + 6, local_server, n) != 0 || mxc[6 + n] != '/' || !mxc[7 + n] ||
        strchr(mxc + 7 + n, '/'))
        return NULL;
    return mxc + 7 + n;
}

static void unlink_files(const json_t *shas, bool thumb)
{
    size_t i;
    json_t *v;
    json_array_foreach(shas, i, v)
    {
        const char *sha = json_string_value(v);
        char path[4096];
        if (!sha || strspn(sha, "0123456789abcdef") != 64 || sha[64])
            continue;
        media_file_of(sha, thumb, path, sizeof path);
        if (unlink(path) < 0)
            log_warn("retention: cannot remove a media file: %s", path);
    }
}

/* Delete the local media the purged contents mentioned (content.url, info.thumbnail_url)
 * that nothing else mentions any more. */
static void purge_media(struct dbc *c, const json_t *contents)
{
    json_t *seen = json_object();
    size_t i;
    json_t *content;
    json_array_foreach(contents, i, content)
    {
        const char *uris[] = {
            json_string_value(json_object_get(content, "url")),
            json_string_value(json_object_get(json_object_get(content, "info"), "thumbnail_url")),
        };
        for (size_t k = 0; k < sizeof uris / sizeof *uris; k++) {
            const char *id = local_media_id(uris[k]);
            if (!id || json_object_get(seen, uris[k]))
                continue;
            json_object_set_new(seen, uris[k], json_true());
            json_t *files = NULL;
            if (db_retention_mxc_referenced(c, uris[k]) != 0 ||
                db_retention_media_delete(c, id, &files) <= 0) {
                json_decref(files);
                continue;
            }
            unlink_files(json_object_get(files, "media"), false);
            unlink_files(json_object_get(files, "thumbnails"), true);
            log_info("retention: purged media %s", id);
            json_decref(files);
        }
    }
    json_decref(seen);
}

/* Purge the expired events of one room (policy content may be NULL). Events deleted, or -1. */
static long purge_room(struct worker *w, struct dbc *c, const char *room_id, const json_t *content,
                       int64_t now_ms)
{
    int64_t max = retention_effective_max(content, &settings);
    long total = 0;
    if (!max)
        return 0;
    for (int r = 0; r < PURGE_ROUNDS && !worker_stopping(w); r++) {
        json_t *contents = db_retention_purge(c, room_id, now_ms - max, PURGE_BATCH);
        if (!contents)
            return -1;
        size_t n = json_array_size(contents);
        total += (long)n;
        purge_media(c, contents);
        json_decref(contents);
        if (n < PURGE_BATCH)
            break;
    }
    return total;
}

/* One job: every room whose stated max_lifetime lies in (shortest, longest]. */
static void run_job(struct worker *w, const struct config_purge_job *j, int64_t now_ms)
{
    struct dbc *c = db_get();
    char *after = NULL;
    long purged = 0;
    if (!c)
        return;
    for (int page = 0; !worker_stopping(w); page++) {
        json_t *rooms = db_retention_rooms(c, after, ROOMS_PAGE);
        size_t i;
        json_t *row;
        if (!rooms)
            break;
        json_array_foreach(rooms, i, row)
        {
            const char *room_id = json_string_value(json_array_get(row, 0));
            const json_t *content = json_array_get(row, 1);
            if (!json_is_object(content))
                content = NULL;
            int64_t stated = retention_stated_max(content, &settings);
            if (!room_id || !stated || stated <= j->shortest_max_lifetime_ms ||
                (j->longest_max_lifetime_ms && stated > j->longest_max_lifetime_ms))
                continue;
            long n = purge_room(w, c, room_id, content, now_ms);
            if (n > 0)
                purged += n;
        }
        size_t n = json_array_size(rooms);
        free(after);
        after =
            n ? strdup(json_string_value(json_array_get(json_array_get(rooms, n - 1), 0))) : NULL;
        json_decref(rooms);
        if (n < ROOMS_PAGE || !after)
            break;
    }
    free(after);
    db_put(c);
    if (purged)
        log_info("retention: purged %ld expired events in %lld ms", purged,
                 (long long)(clock_now_ms() - now_ms));
}

static void purge_round(struct worker *w)
{
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < n_jobs && !worker_stopping(w); i++) {
        if (next_due[i] > now)
            continue;
        next_due[i] = now + jobs[i].interval_ms;
        run_job(w, &jobs[i], now);
    }
}

static struct worker purger = {.name = "retention", .round = purge_round};

int retention_start(void)
{
    if (!settings.enabled)
        return 0;
    int64_t tick = INT64_MAX;
    for (size_t i = 0; i < n_jobs; i++) {
        tick = jobs[i].interval_ms < tick ? jobs[i].interval_ms : tick;
        next_due[i] = 0;
    }
    purger.tick_ms = (int)(tick < 100 ? 100 : tick > 3600000 ? 3600000 : tick);
    return worker_start(&purger);
}

void retention_stop(void)
{
    worker_stop(&purger);
}
