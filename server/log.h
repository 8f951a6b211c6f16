/* log.h - levelled logging to stderr (journald picks it up under systemd).
 * Never log secrets: tokens, passwords, keys, or message content. */
#ifndef AMTSBOTE_LOG_H
#define AMTSBOTE_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level lvl);
/* Parse "error"/"warn"/"warning"/"info"/"debug" (case-insensitive, Synapse's upper-case
 * names accepted). Returns 0 and sets *out, or -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
