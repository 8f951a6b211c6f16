/* userslots.h - a per-user limit on work in flight (previews, thumbnails being made). */
#ifndef AMTSBOTE_USERSLOTS_H
#define AMTSBOTE_USERSLOTS_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

struct userslots_entry;
struct userslots {
    pthread_mutex_t mu;
    struct userslots_entry *head;
};
#define USERSLOTS_INIT {PTHREAD_MUTEX_INITIALIZER, NULL}

/* Take one of user_id's `max` slots: true, or false when all are taken (or out of memory). */
bool userslots_take(struct userslots *s, const char *user_id, int max);
/* Give back a slot taken with userslots_take. */
void userslots_give(struct userslots *s, const char *user_id);

/* The keys holding at least `max` slots: a new array of strings (NULL when out of memory). */
json_t *userslots_full(struct userslots *s, int max);

#endif
