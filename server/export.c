/* export.c - `amtsbote -c CONFIG export-data USER_ID --output-directory DIR [--tar]`, the
 * counterpart of Synapse's `synapse/app/admin_cmd.py export-data`: everything the server
 * stores about one user, for an admin to hand over on a GDPR/DSGVO access or portability
 * request (Art. 15, 20). It reads the database directly (the server may be running) and
 * writes, under DIR (created, mode 0700; it must not exist yet):
 *
 *   manifest.json                      user_id, server_name, exported_ts, counts
 *   user_data/profile.json             displayname, avatar_url, admin, deactivated, created_ts
 *   user_data/devices.json             devices with their last-seen connection
 *   user_data/account_data/global.json          [{type, content}]
 *   user_data/account_data/rooms/<room>.json    [{type, content}] per room
 *   rooms/<room>/membership.json       {room_id, membership, event_id, forgotten}
 *   rooms/<room>/events.jsonl          the events the user sent there, one PDU per line
 *   media/index.json                   [{media_id, content_type, upload_name, size, ...}]
 *   media/<media_id>                   the uploaded files
 *
 * With --tar, DIR.tar is written too (by tar(1)). Room IDs become file names with every byte
 * outside [A-Za-z0-9!:._-] written as '_'. Encrypted messages stay ciphertext: the server
 * never had their keys. Nothing is changed in the database. */
#include "server/export.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/config.h"
#include "server/dbpool.h"
#include "server/ids.h"
#include "storage/db.h"
#include "storage/export.h"

#define EVENTS_PAGE 500
#define PATH_MAX_LEN 4096

struct out {
    char dir[PATH_MAX_LEN];
    const char *store; /* media_store_path */
};

/* A file name for a room ID: safe bytes kept, others '_', never "." or "..". */
static void safe_name(const char *id, char *buf, size_t n)
{
    size_t i = 0;
    for (; id[i] && i + 1 < n; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || strchr("!:._-", ch);
        buf[i] = ok ? ch : '_';
    }
    buf[i] = '\0';
    if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0 || !buf[0])
        snprintf(buf, n, "_");
}

/* dir/rel into buf; -1 when too long. */
static int path_of(const struct out *o, const char *rel, char *buf, size_t n)
{
    int w = snprintf(buf, n, "%s/%s", o->dir, rel);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int mkdirs(const struct out *o, const char *rel)
{
    char p[PATH_MAX_LEN];
    if (path_of(o, rel, p, sizeof p) < 0)
        return -1;
    for (char *s = p + strlen(o->dir) + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Write v (borrowed) as indented JSON to dir/rel. 0 or -1 (reported). */
static int put_json(const struct out *o, const char *rel, const json_t *v)
{
    char p[PATH_MAX_LEN];
    if (path_of(o, rel, p, sizeof p) < 0 ||
        json_dump_file(v, p, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII) < 0) {
        fprintf(stderr, "export-data: cannot write %s\n", rel);
        return -1;
    }
    return 0;
}

/* Account data, split into global and per-room files. */
static int write_account_data(const struct out *o, const json_t *rows)
{
    json_t *by_room = json_object();
    size_t i;
    json_t *r;
    int rc = 0;
    json_array_foreach(rows, i, r)
    {
        const char *room = json_string_value(json_object_get(r, "room_id"));
        const char *key = room && room[0] ? room : "";
        json_t *list = json_object_get(by_room, key);
        if (!list) {
            list = json_array();
            json_object_set_new(by_room, key, list);
        }
        json_array_append_new(list, json_pack("{s:O,s:O}", "type", json_object_get(r, "type"),
                                              "content", json_object_get(r, "content")));
    }
    const char *room;
    json_t *list;
    if (mkdirs(o, "user_data/account_data/rooms") < 0)
        rc = -1;
    if (!rc && !json_object_get(by_room, ""))
        json_object_set_new(by_room, "", json_array());
    json_object_foreach(by_room, room, list)
    {
        char name[600], rel[800];
        if (rc < 0)
            break;
        if (!room[0]) {
            rc = put_json(o, "user_data/account_data/global.json", list);
            continue;
        }
        safe_name(room, name, sizeof name);
        snprintf(rel, sizeof rel, "user_data/account_data/rooms/%s.json", name);
        rc = put_json(o, rel, list);
    }
    json_decref(by_room);
    return rc;
}

static int write_rooms(const struct out *o, const json_t *rooms)
{
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r)
    {
        char name[600], rel[800];
        safe_name(json_string_value(json_object_get(r, "room_id")), name, sizeof name);
        snprintf(rel, sizeof rel, "rooms/%s", name);
        if (mkdirs(o, rel) < 0)
            return -1;
        snprintf(rel, sizeof rel, "rooms/%s/membership.json", name);
        if (put_json(o, rel, r) < 0)
            return -1;
    }
    return 0;
}

/* The user's events, page by page, appended to rooms/<room>/events.jsonl. Count or -1. */
static long write_events(const struct out *o, struct dbc *c, const char *user_id)
{
    char room[1024] = "", open_room[1024] = "";
    int64_t nid = 0;
    long total = 0;
    FILE *f = NULL;
    for (;;) {
        json_t *page = db_export_events(c, user_id, room, nid, EVENTS_PAGE);
        size_t i;
        json_t *e;
        if (!page)
            goto fail;
        json_array_foreach(page, i, e)
        {
            const char *rid = json_string_value(json_object_get(e, "room_id"));
            if (!rid)
                continue;
            if (!f || strcmp(rid, open_room) != 0) {
                char name[600], rel[800], p[PATH_MAX_LEN];
                if (f) {
                    int closed = fclose(f);
                    f = NULL;
                    if (closed != 0) {
                        json_decref(page);
                        goto fail;
                    }
                }
                safe_name(rid, name, sizeof name);
                snprintf(rel, sizeof rel, "rooms/%s", name);
                if (mkdirs(o, rel) < 0) {
                    json_decref(page);
                    goto fail;
                }
                snprintf(rel, sizeof rel, "rooms/%s/events.jsonl", name);
                if (path_of(o, rel, p, sizeof p) < 0 || !(f = fopen(p, "a"))) {
                    json_decref(page);
                    goto fail;
                }
                snprintf(open_room, sizeof open_room, "%s", rid);
            }
            char *line = json_dumps(json_object_get(e, "pdu"), JSON_COMPACT | JSON_SORT_KEYS);
            if (!line || fprintf(f, "%s\n", line) < 0) {
                free(line);
                json_decref(page);
                goto fail;
            }
            free(line);
            total++;
            snprintf(room, sizeof room, "%s", rid);
            nid = json_integer_value(json_object_get(e, "nid"));
        }
        size_t n = json_array_size(page);
        json_decref(page);
        if (n < EVENTS_PAGE)
            break;
    }
    if (f && fclose(f) != 0)
        return -1;
    return total;
fail:
    if (f)
        fclose(f);
    fprintf(stderr, "export-data: writing the events failed\n");
    return -1;
}

/* Copy the stored file of a media item (media.c's layout: STORE/ab/cd/<sha256>). */
static int copy_media(const struct out *o, const char *sha, const char *media_id)
{
    char src[PATH_MAX_LEN], rel[600], dst[PATH_MAX_LEN], buf[65536];
    int in = -1, outfd = -1, rc = -1;
    ssize_t got;
    if (!sha || strspn(sha, "0123456789abcdef") != 64 || sha[64] || !media_id ||
        strspn(media_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            strlen(media_id))
        return 0; /* no content (a pending upload) or a name not safe for a file */
    snprintf(src, sizeof src, "%s/%.2s/%.2s/%s", o->store, sha, sha + 2, sha);
    snprintf(rel, sizeof rel, "media/%s", media_id);
    if (path_of(o, rel, dst, sizeof dst) < 0)
        return -1;
    if ((in = open(src, O_RDONLY)) < 0) {
        fprintf(stderr, "export-data: media %s: its file is missing\n", media_id);
        return 0;
    }
    if ((outfd = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        goto out;
    while ((got = read(in, buf, sizeof buf)) > 0)
        if (write(outfd, buf, (size_t)got) != got)
            goto out;
    rc = got < 0 ? -1 : 0;
out:
    if (in >= 0)
        close(in);
    if (outfd >= 0 && close(outfd) < 0)
        rc = -1;
    return rc;
}

static int make_tar(const char *dir)
{
    char tar[PATH_MAX_LEN + 8], parent[PATH_MAX_LEN];
    const char *slash = strrchr(dir, '/');
    snprintf(tar, sizeof tar, "%s.tar", dir);
    if (slash)
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - dir ? slash - dir : 1), dir);
    else
        snprintf(parent, sizeof parent, ".");
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("tar", "tar", "-cf", tar, "-C", parent, slash ? slash + 1 : dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    printf("export-data: wrote %s\n", tar);
    return 0;
}

static int run(const struct config *cfg, const char *user_id, struct out *o, bool tar)
{
    struct dbc *c = db_get();
    json_t *profile = NULL, *devices = NULL, *adata = NULL, *rooms = NULL, *media = NULL;
    int rc = 1;
    if (!c)
        goto out;
    profile = db_export_profile(c, user_id);
    if (!profile)
        goto out;
    if (json_is_null(profile)) {
        fprintf(stderr, "export-data: no user %s on this server\n", user_id);
        goto out;
    }
    devices = db_export_devices(c, user_id);
    adata = db_export_account_data(c, user_id);
    rooms = db_export_rooms(c, user_id);
    media = db_export_media(c, user_id);
    if (!devices || !adata || !rooms || !media)
        goto out;
    if (mkdir(o->dir, 0700) < 0) {
        fprintf(stderr, "export-data: cannot create %s: %s (it must not exist yet)\n", o->dir,
                strerror(errno));
        goto out;
    }
    if (mkdirs(o, "user_data") < 0 || mkdirs(o, "rooms") < 0 || mkdirs(o, "media") < 0 ||
        put_json(o, "user_data/profile.json", profile) < 0 ||
        put_json(o, "user_data/devices.json", devices) < 0 || write_account_data(o, adata) < 0 ||
        write_rooms(o, rooms) < 0 || put_json(o, "media/index.json", media) < 0)
        goto out;
    size_t i;
    json_t *m;
    json_array_foreach(media, i, m)
    {
        if (copy_media(o, json_string_value(json_object_get(m, "sha256")),
                       json_string_value(json_object_get(m, "media_id"))) < 0) {
            fprintf(stderr, "export-data: copying media failed\n");
            goto out;
        }
    }
    long events = write_events(o, c, user_id);
    if (events < 0)
        goto out;
    json_t *manifest =
        json_pack("{s:s,s:s,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "user_id", user_id, "server_name",
                  cfg->server_name, "exported_ts", (json_int_t)clock_now_ms(), "counts", "devices",
                  (json_int_t)json_array_size(devices), "account_data",
                  (json_int_t)json_array_size(adata), "rooms", (json_int_t)json_array_size(rooms),
                  "events", (json_int_t)events, "media", (json_int_t)json_array_size(media));
    int w = put_json(o, "manifest.json", manifest);
    json_decref(manifest);
    if (w < 0)
        goto out;
    printf("export-data: wrote %s (%ld events, %zu rooms, %zu media)\n", o->dir, events,
           json_array_size(rooms), json_array_size(media));
    if (tar && make_tar(o->dir) < 0) {
        fprintf(stderr, "export-data: tar failed\n");
        goto out;
    }
    rc = 0;
out:
    json_decref(profile);
    json_decref(devices);
    json_decref(adata);
    json_decref(rooms);
    json_decref(media);
    db_put(c);
    return rc;
}

int export_main(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {{"output-directory", required_argument, NULL, 'o'},
                                         {"tar", no_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    bool tar = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (ch == 'o')
            dir = optarg;
        else if (ch == 't')
            tar = true;
        else
            return 2;
    }
    if (optind != argc - 1 || !dir) {
        fprintf(stderr, "usage: amtsbote -c FILE export-data USER_ID --output-directory DIR "
                        "[--tar]\n");
        return 2;
    }
    const char *user_id = argv[optind];
    if (user_id[0] != '@' || !strchr(user_id, ':') || strlen(user_id) > 255) {
        fprintf(stderr, "export-data: '%s' is not a user ID such as @alice:example.org\n", user_id);
        return 2;
    }
    struct config cfg;
    char err[512];
    if (config_load(config_path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "amtsbote: %s: %s\n", config_path, err);
        return 1;
    }
    struct out o = {.store = cfg.media_store_path};
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (dl >= sizeof o.dir - 64) {
        fprintf(stderr, "export-data: output directory path too long\n");
        config_free(&cfg);
        return 2;
    }
    memcpy(o.dir, dir, dl);
    int rc = 1;
    if (dbpool_open(&cfg, 1, 2, err, sizeof err) < 0) {
        fprintf(stderr, "export-data: database: %s\n", err);
    } else {
        rc = run(&cfg, user_id, &o, tar);
        db_pool_close();
    }
    config_free(&cfg);
    return rc;
}
