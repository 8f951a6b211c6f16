/* userslots.c - per-user counts of work in flight: a list under a mutex, an entry per user
 * with something in flight (so its length is bounded by the work in flight). */
#include "server/userslots.h"

#include <stdlib.h>
#include <string.h>

struct userslots_entry {
    struct userslots_entry *next;
    int n;
    char user_id[];
};

bool userslots_take(struct userslots *s, const char *user_id, int max)
{
    bool ok = false;
    pthread_mutex_lock(&s->mu);
    struct userslots_entry *e = s->head;
    while (e && strcmp(e->user_id, user_id) != 0)
        e = e->next;
    if (!e) {
        size_t n = strlen(user_id) + 1;
        e = calloc(1, sizeof *e + n);
        if (e) {
            memcpy(e->user_id, user_id, n);
            e->next = s->head;
            s->head = e;
        }
    }
    if (e && e->n < max) {
        e->n++;
        ok = true;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void userslots_give(struct userslots *s, const char *user_id)
{
    pthread_mutex_lock(&s->mu);
    for (struct userslots_entry **pp = &s->head; *pp; pp = &(*pp)->next) {
        struct userslots_entry *e = *pp;
        if (strcmp(e->user_id, user_id) == 0) {
            if (--e->n <= 0) {
                *pp = e->next;
                free(e);
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

json_t *userslots_full(struct userslots *s, int max)
{
    json_t *out = json_array();
    pthread_mutex_lock(&s->mu);
    for (struct userslots_entry *e = s->head; out && e; e = e->next)
        if (e->n >= max)
            json_array_append_new(out, json_string(e->user_id));
    pthread_mutex_unlock(&s->mu);
    return out;
}
