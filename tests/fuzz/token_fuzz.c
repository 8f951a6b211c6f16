/* token_fuzz.c - libFuzzer target: token_parse on arbitrary text never reads past the string
 * and what it accepts is exactly the shape: re-formatting the numbers gives the input back
 * (no sign, space or leading junk slips through; leading zeros aside). token.c's stream
 * check needs the notifier and the database: stubbed here. Build and run: make fuzz */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/token.c"

int64_t notify_position(void)
{
    return 0;
}
struct dbc *db_get(void)
{
    return NULL;
}
void db_put(struct dbc *c)
{
}
int64_t db_stream_max(struct dbc *c)
{
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), back[128];
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t v[3];
    if (token_parse(s, "s#_#_#", v, 3) == 0) {
        if (v[0] < 0 || v[1] < 0 || v[2] < 0)
            abort();
        snprintf(back, sizeof back, "s%" PRId64 "_%" PRId64 "_%" PRId64, v[0], v[1], v[2]);
        if (strlen(s) < strlen(back) || (s[1] != '0' && strchr(s, '_')[1] != '0' &&
                                         strrchr(s, '_')[1] != '0' && strcmp(s, back) != 0))
            abort();
    }
    free(s);
    return 0;
}
