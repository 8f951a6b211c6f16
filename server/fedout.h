/* fedout.h - how the engine hands EDUs to the federation sender without including federation/
 * (STYLE.md s.1): federation/sender.c registers its queueing functions at start-up; before that
 * (and in tests without federation) the calls do nothing. Each call only queues in memory and
 * wakes the sender: cheap, no database, no network; safe from any thread. */
#ifndef AMTSBOTE_FEDOUT_H
#define AMTSBOTE_FEDOUT_H
#include <jansson.h>

struct fedout {
    /* An EDU for every other server joined to room_id. content borrowed. */
    void (*edu_room)(const char *room_id, const char *edu_type, const json_t *content);
    /* An EDU for every other server sharing a room with user_id. */
    void (*edu_user_rooms)(const char *user_id, const char *edu_type, const json_t *content);
    /* An EDU for one server. */
    void (*edu_server)(const char *server, const char *edu_type, const json_t *content);
};

/* Start-up: register (copied; NULL: none). */
void fedout_set(const struct fedout *f);

void fedout_edu_room(const char *room_id, const char *edu_type, const json_t *content);
void fedout_edu_user_rooms(const char *user_id, const char *edu_type, const json_t *content);
void fedout_edu_server(const char *server, const char *edu_type, const json_t *content);

#endif
