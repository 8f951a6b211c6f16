/* b64_fuzz.c - libFuzzer target: decoding arbitrary text as base64 stays in bounds, and what
 * decodes re-encodes to a string that decodes to the same bytes. Build and run: make fuzz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = b64_decoded_max(size), n = 0, m = 0;
    uint8_t *out = malloc(cap + 1), *again = malloc(cap + 1);
    if (out && again && b64_decode((const char *)data, size, out, cap, &n) == 0) {
        char *enc = b64_encode_urlsafe(out, n);
        if (!enc || b64_decode(enc, strlen(enc), again, cap + 1, &m) != 0 || m != n ||
            memcmp(out, again, n) != 0)
            abort();
        free(enc);
    }
    free(out);
    free(again);
    return 0;
}
