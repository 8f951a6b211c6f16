/* config_internal.h - what the configuration reader's files share and nobody else uses:
 * config_keys.c (the tables of known keys), config_value.c (scalar text into typed fields),
 * config_walk.c (the walker over libyaml's tree) and config.c (parse, load, free). */
#ifndef AMTSBOTE_CONFIG_INTERNAL_H
#define AMTSBOTE_CONFIG_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "server/config.h"

#define NO_DEST SIZE_MAX /* row whose value is checked but not stored */
#define ROWS_MAX 160     /* rows per table: the size of a walk's `seen` set */
#define PATH_LEN 256     /* longest key path shown; every known path is far shorter */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum ktype {
    K_SECTION,    /* a mapping whose keys have rows of their own */
    K_STR,        /* char *; any non-empty scalar, numbers kept as written; optional check */
    K_BOOL,       /* bool: true/false/yes/no/on/off, unquoted, any case */
    K_FALSE,      /* a boolean that must be false; `arg` says why */
    K_INT,        /* int, unquoted decimal within [min, max] */
    K_NUM,        /* double, unquoted non-negative decimal */
    K_SIZE,       /* int64_t, Synapse size string within [min, max] */
    K_DURATION,   /* int64_t milliseconds, Synapse duration string ("30s", "1h"; bare = ms) */
    K_LOGLEVEL,   /* enum log_level */
    K_CHOICE,     /* one of the space-separated words in `arg`; not stored */
    K_STRLIST,    /* char ** at off, size_t count at off2; optional check per item */
    K_LISTENERS,  /* struct config_listener * at off, count at off2; items: listener_keys */
    K_RESOURCES,  /* list of mappings, each walked with resource_keys */
    K_RESNAMES,   /* list of resource names: sets the listener's res_* flags */
    K_THUMBSIZES, /* struct thumbnail_size * at off, count at off2; items: thumbsize_keys */
    K_NOTARIES,   /* struct config_key_server * at off, count at off2; items: keyserver_keys */
    K_OLDKEYS,    /* struct config_old_key * at off, count at off2: key ID -> {key, expired_ts} */
    K_STRMAP,     /* mapping of strings to strings: char ** names at off, values at off3, count
                     at off2; optional check per value */
    K_PURGEJOBS,  /* struct config_purge_job * at off, count at off2; items: purgejob_keys */
    K_IGNORED,    /* a Synapse key Amtsbote knowingly does not use */
};

struct key {
    const char *path; /* dotted, relative to the mapping the table describes */
    enum ktype type;
    size_t off;         /* destination in the table's struct, or NO_DEST */
    const char *dflt;   /* default, written as in YAML (lists: space-separated); NULL = zero */
    size_t off2;        /* lists: where the item count goes */
    size_t off3;        /* K_STRMAP: where the values go */
    bool required;      /* absent or null -> "<path>: required" */
    long long min, max; /* K_INT, K_SIZE bounds */
    bool (*check)(const char *s, size_t len); /* K_STR, K_STRLIST items: extra validation */
    const char *arg;   /* with check: what was expected; K_CHOICE: the accepted words;
                          K_FALSE: the error when true */
    const char *alias; /* another row (same table) for the same setting: give only one */
};

/* One element of thumbnail_sizes as its table reads it (config_walk.c makes it a
 * struct thumbnail_size). */
struct thumbsize_row {
    int width, height;
    char *method;
};

/* A resource name Amtsbote serves, and the offset of the listener flag it sets. */
struct served_resource {
    const char *name;
    size_t flag;
};

/* config_keys.c: the tables, each with its row count, and the text of each type. */
extern const char *const config_expected[]; /* "<path>: expected <this>", by enum ktype */
extern const struct key config_keys[];      /* the top level; base: struct config */
extern const size_t config_keys_n;
extern const struct key config_listener_keys[]; /* base: struct config_listener */
extern const size_t config_listener_keys_n;
extern const struct key config_thumbsize_keys[]; /* base: struct thumbsize_row */
extern const size_t config_thumbsize_keys_n;
extern const struct key config_keyserver_keys[]; /* base: struct config_key_server */
extern const size_t config_keyserver_keys_n;
extern const struct key config_purgejob_keys[]; /* base: struct config_purge_job */
extern const size_t config_purgejob_keys_n;
extern const struct key config_resource_keys[]; /* base: still the struct config_listener */
extern const size_t config_resource_keys_n;
extern const struct served_resource config_served_resources[]; /* others only warn */
extern const size_t config_served_resources_n;

/* 32 bytes in base64: 43 characters unpadded (44 padded), of the standard alphabet. */
bool config_key_b64_ok(const char *s, size_t len);

/* One parse in progress: the YAML document and the first error. */
struct parse {
    yaml_document_t doc;
    char *err;
    size_t errlen;
    bool failed;
};

/* config_walk.c */

/* Record the first error as "<path>: <message>". Returns -1, for `return config_fail(...)`. */
__attribute__((format(printf, 3, 4))) int config_fail(struct parse *p, const char *path,
                                                      const char *fmt, ...);
/* "prefix[i]" into buf (PATH_LEN bytes). */
void config_path_index(char *buf, const char *prefix, size_t i);
/* Apply the table's defaults to base, walk map into it, then insist on the required keys.
 * Returns 0 or -1 (the error recorded in p). */
int config_walk_table(struct parse *p, yaml_node_t *map, const struct key *rows, size_t n,
                      void *base, const char *shown);

/* config_value.c */

/* Decimal integer: optional '-', 1 to 18 digits. 0 with *out, or -1. */
int config_parse_int(const char *s, long long *out);
/* Free a string list of n items (and the list); NULL is a no-op. */
void config_free_list(char **list, size_t n);
/* Store a new string list at row's destination, releasing the old one. */
void config_put_list(const struct key *row, void *base, char **list, size_t n);
/* Set a scalar-typed row from text s (NULL: the value was not a usable scalar); `bare` says
 * it was unquoted. Returns 0, or fails naming `path` if the text does not fit the row. */
int config_set_text(struct parse *p, const struct key *row, void *base, const char *s, size_t len,
                    bool bare, const char *path);

#endif
