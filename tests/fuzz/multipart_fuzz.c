/* multipart_fuzz.c - libFuzzer target: any body under any boundary (the input's first line)
 * parses or is refused without reading outside it, and the parts found lie inside it; file
 * names from any disposition are NUL-terminated and bounded. Build and run: make fuzz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 80 ? size : 80);
    size_t bl = nl ? (size_t)(nl - data) : 0;
    char ctype[128];
    memcpy(ctype, "multipart/mixed; boundary=", 26);
    memcpy(ctype + 26, data, bl);
    ctype[26 + bl] = '\0';
    size_t off = nl ? bl + 1 : 0;
    char *body = malloc(size - off + 1); /* exact size: ASan sees any overread */
    if (!body)
        return 0;
    memcpy(body, data + off, size - off);
    struct multipart_part p[2];
    if (multipart_parse(body, size - off, ctype, p) == 0) {
        for (int i = 0; i < 2; i++)
            if (p[i].body < body || p[i].body + p[i].len > body + (size - off))
                abort();
        char name[64];
        multipart_filename(p[1].disposition, name, sizeof name);
        if (strlen(name) >= sizeof name)
            abort();
    }
    free(body);
    return 0;
}
