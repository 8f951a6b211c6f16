/* cjson_fuzz.c - libFuzzer target: arbitrary bytes parsed as a request body would be, then
 * canonical JSON: encoding must not crash, and re-parsing its output must give the same
 * encoding (a fixed point). Build and run: make fuzz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/cjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!v)
        return 0;
    size_t len;
    char *once = cjson_encode(v, &len);
    if (once) {
        json_t *w = json_loadb(once, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!w)
            abort();
        size_t len2;
        char *twice = cjson_encode(w, &len2);
        if (!twice || len2 != len || memcmp(once, twice, len) != 0)
            abort();
        free(twice);
        json_decref(w);
    }
    cjson_depth(v);
    free(once);
    json_decref(v);
    return 0;
}
