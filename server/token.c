/* token.c - the tokens clients hand back (/sync `since`, the `from`/`to`/`at` of /messages,
 * /members, /relations, /threads and /notifications, `next_batch` of /search, `since` of
 * /publicRooms, `from` of /hierarchy): strict parsing against a shape, and whether a stream
 * position in one can have been issued.
 *
 * A token the server did not issue is refused (400 M_INVALID_PARAM) rather than read as
 * some position: a client whose store is corrupted, or that talks to a database restored
 * from an older backup, learns it at once and starts over, instead of being served as if
 * from a position that never existed. Invariants:
 *  1. A number is 1-18 ASCII digits: no sign, no space, no overflow (sscanf and strtoll
 *     accept all three). The shape character '~' alone takes a '-' first (the stream
 *     positions of backfilled events are negative, storage/backfill.h).
 *  2. Stream positions only grow (one PostgreSQL sequence), so a position above the highest
 *     one handed out was never issued; after a restart the notifier starts from the
 *     sequence's value, so tokens from before the restart stay valid. */
#include "server/token.h"

#include "server/notify.h"
#include "storage/db.h"
#include "storage/userdata.h"

#define MAX_DIGITS 18 /* 10^18 - 1 < INT64_MAX */

int token_parse(const char *s, const char *shape, int64_t *v, size_t n)
{
    size_t got = 0;
    if (!s)
        return -1;
    for (const char *p = shape; *p; p++) {
        if (*p != '#' && *p != '~') {
            if (*s++ != *p)
                return -1;
            continue;
        }
        bool neg = *p == '~' && *s == '-';
        s += neg;
        int64_t x = 0;
        size_t digits = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++digits > MAX_DIGITS)
                return -1;
            x = x * 10 + (*s - '0');
        }
        if (!digits || got == n)
            return -1;
        v[got++] = neg ? -x : x;
    }
    return *s == '\0' && got == n ? 0 : -1;
}

bool token_stream_issued(struct dbc *c, int64_t pos)
{
    if (pos <= notify_position() + 1)
        return true;
    struct dbc *own = c ? NULL : db_get();
    int64_t max = (c || own) ? db_stream_max(c ? c : own) : -1;
    db_put(own);
    return max < 0 || pos <= max + 1;
}
