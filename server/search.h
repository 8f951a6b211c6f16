/* search.h - server-side search (Client-Server API "Server Side Search"). */
#ifndef AMTSBOTE_SEARCH_H
#define AMTSBOTE_SEARCH_H
#include <jansson.h>

/* Start the indexer thread that copies newly committed searchable events into the search
 * index (it follows notify_position()). 0 or -1. */
int search_start(void);
/* Stop it (waits for the thread). Safe if never started. */
void search_stop(void);
/* One round of indexing: the next batch of what was committed, or everything when far
 * behind. 0 or -1. */
int search_catch_up(void);

/* POST /search as `user_id` with `body` (borrowed) and the next_batch query parameter (may be
 * NULL). Returns the response (new), or NULL with an HTTP status, errcode and message in
 * *status, *errcode and why (status 500: internal). */
json_t *search_run(const char *user_id, const json_t *body, const char *next_batch,
                   int *status, const char **errcode, char *why, size_t n);

#endif
