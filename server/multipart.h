/* multipart.h - the multipart/mixed answers of the federation media endpoints (RFC 2046). */
#ifndef AMTSBOTE_MULTIPART_H
#define AMTSBOTE_MULTIPART_H
#include <stddef.h>

#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */

/* One part: the headers of interest ("" when absent or unusable: control characters, too
 * long) and the content (borrowed from the parsed buffer). */
struct multipart_part {
    char type[128], disposition[600], location[2048];
    const char *body;
    size_t len;
};

/* Split buf (len bytes) whose Content-Type is ctype ("multipart/mixed; boundary=...",
 * quoted or not) into its first two parts. 0, or -1 when it is not such a body (another type,
 * no boundary, fewer than two parts, an unterminated part). */
int multipart_parse(const char *buf, size_t len, const char *ctype, struct multipart_part p[2]);

/* The file name of a Content-Disposition value (filename*=utf-8''<percent-encoded> or
 * filename="..."/filename=...) into out (cap bytes, NUL-terminated): "" when there is none or
 * it holds control characters. */
void multipart_filename(const char *disp, char *out, size_t cap);

#endif
