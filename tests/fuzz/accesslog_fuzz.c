/* accesslog_fuzz.c - libFuzzer target: any client address, path and query (split from the
 * input at NUL bytes) give a bounded, NUL-terminated line of printable ASCII, and the
 * access_token value appended last is masked unless the line was cut. Build and run:
 * make fuzz */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/accesslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 4);
    if (!s)
        return 0;
    memcpy(s, data, size);
    memset(s + size, 0, 4);
    /* fields: client, path, then key/value pairs, each NUL-terminated */
    const char *f[8] = {0};
    size_t nf = 0;
    for (size_t i = 0; i <= size && nf < 8; i += strlen(s + i) + 1)
        f[nf++] = s + i;
    struct accesslog l;
    accesslog_begin(&l, f[0], "@u:x", "GET", f[1] ? f[1] : "/");
    for (size_t i = 2; i + 1 < nf; i += 2)
        accesslog_query(&l, f[i], f[i + 1]);
    accesslog_query(&l, "access_token", "SECRETSECRET");
    accesslog_end(&l, 200, 1.5, NULL);
    size_t len = strlen(l.buf);
    static const char tail[] = "access_token=<redacted>\" 200 1.5ms";
    bool cut = strstr(l.buf, "...\" 200 1.5ms") != NULL;
    if (len >= ACCESSLOG_MAX ||
        (!cut && (len < sizeof tail - 1 || strcmp(l.buf + len - (sizeof tail - 1), tail) != 0)))
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)l.buf[i] < 0x20 || (unsigned char)l.buf[i] > 0x7e)
            abort();
    free(s);
    return 0;
}
