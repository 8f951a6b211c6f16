/* accesslog.h - one line per HTTP request for the operator (Synapse's access log), with
 * secrets masked. Pure string work: server/http.c feeds it what libmicrohttpd knows. */
#ifndef AMTSBOTE_ACCESSLOG_H
#define AMTSBOTE_ACCESSLOG_H
#include <stdbool.h>
#include <stddef.h>

#define ACCESSLOG_MAX 1536 /* a longer line is cut, marked with "..." */

struct accesslog {
    char buf[ACCESSLOG_MAX];
    size_t len;
    size_t n_query; /* query parameters appended so far */
};

/* Start the line: client address, user (NULL: "-"), method and path as received (still
 * percent-encoded). Path segments that are secrets (a registration token in
 * /registration_tokens/<token>) are masked. */
void accesslog_begin(struct accesslog *l, const char *client, const char *user,
                     const char *method, const char *path);
/* Only the path, masked and escaped as accesslog_begin writes it (the admin audit log). */
void accesslog_path(struct accesslog *l, const char *path);
/* Append one query parameter as received (value NULL for a bare key); the values of secret
 * parameters (access_token, token, client_secret, loginToken, ...) are masked. */
void accesslog_query(struct accesslog *l, const char *key, const char *value);
/* Finish with the status (0: none was sent), the duration and, when the connection ended
 * otherwise than by a complete answer, why (`aborted` may be NULL). The line stays in l->buf,
 * NUL-terminated, with every byte outside printable ASCII written as \xNN (no log injection). */
void accesslog_end(struct accesslog *l, int status, double ms, const char *aborted);

#endif
