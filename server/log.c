/* log.c - levelled logging to stderr.
 *
 * One line per message, "LEVEL message", written with a single fputs so lines from different
 * threads never interleave. Timestamps are left to journald or the terminal. Callers must keep
 * secrets (tokens, passwords, keys) and message content out of every message. */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static volatile enum log_level threshold = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
    threshold = lvl;
}

int log_level_parse(const char *name, enum log_level *out)
{
    /* name, level */
    static const struct {
        const char *name;
        enum log_level lvl;
    } names[] = {
        {"error", LOG_LVL_ERROR}, {"critical", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN},
        {"warning", LOG_LVL_WARN}, {"info", LOG_LVL_INFO},      {"debug", LOG_LVL_DEBUG},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].lvl;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[2048];
    int n;
    va_list ap;

    if (lvl > threshold)
        return;
    n = snprintf(line, sizeof line, "%s ", tags[lvl]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* A truncated message still ends in a newline. */
    /* one message, one line: embedded line breaks (libpq's messages end in one; a client's
     * string could forge a line) become spaces */
    size_t len = 0;
    while (line[len]) {
        if (line[len] == '\n' || line[len] == '\r')
            line[len] = ' ';
        len++;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}
