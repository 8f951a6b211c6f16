/* statemap.c - unambiguous keys for (type, state_key) pairs in state maps. */
#include "server/statemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *statemap_key(const char *type, const char *state_key)
{
    size_t tl = strlen(type), sl = strlen(state_key);
    size_t n = tl + sl + 24;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%zu:%s%s", tl, type, state_key);
    return k;
}

int statemap_split(const char *key, char **type, char **state_key)
{
    char *end;
    unsigned long long tl = strtoull(key, &end, 10);
    *type = *state_key = NULL;
    if (end == key || *end != ':' || strlen(end + 1) < tl)
        return -1;
    const char *t = end + 1;
    *type = strndup(t, (size_t)tl);
    *state_key = strdup(t + tl);
    if (!*type || !*state_key) {
        free(*type);
        free(*state_key);
        *type = *state_key = NULL;
        return -1;
    }
    return 0;
}

const char *statemap_get(const json_t *map, const char *type, const char *state_key)
{
    char *k = statemap_key(type, state_key);
    if (!k)
        return NULL;
    const char *v = json_string_value(json_object_get(map, k));
    free(k);
    return v;
}

int statemap_set(json_t *map, const char *type, const char *state_key, const char *event_id)
{
    char *k = statemap_key(type, state_key);
    if (!k)
        return -1;
    int rc = json_object_set_new(map, k, json_string(event_id));
    free(k);
    return rc;
}
