/* fedout.c - the registered EDU sink of server/fedout.h (set once at start-up, read after). */
#include "server/fedout.h"

static struct fedout sink;

void fedout_set(const struct fedout *f)
{
    sink = f ? *f : (struct fedout){0};
}

void fedout_edu_room(const char *room_id, const char *edu_type, const json_t *content)
{
    if (sink.edu_room)
        sink.edu_room(room_id, edu_type, content);
}

void fedout_edu_user_rooms(const char *user_id, const char *edu_type, const json_t *content)
{
    if (sink.edu_user_rooms)
        sink.edu_user_rooms(user_id, edu_type, content);
}

void fedout_edu_server(const char *server, const char *edu_type, const json_t *content)
{
    if (sink.edu_server)
        sink.edu_server(server, edu_type, content);
}
