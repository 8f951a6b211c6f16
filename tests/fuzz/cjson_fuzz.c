// clang -g -I. -fsanitize=fuzzer,address,undefined tests/fuzz/cjson_fuzz.c server/cjson.c -ljansson
/* cjson_fuzz.c - libFuzzer target for canonical JSON (server/cjson.c): arbitrary bytes are
 * parsed as a request body would be (JSON_REJECT_DUPLICATES; NUL allowed in strings so the
 * encoder's length handling is reached), then encoded. Checked: no crash or leak; cjson_valid
 * agrees with whether the encoder accepts the tree; the output re-parses; and re-encoding the
 * re-parsed output gives the same bytes (canonical JSON is a fixed point). Also run by make fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/cjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *v = json_loadb((const char *)data, size, flags, NULL);
    if (!v)
        return 0;
    size_t len = 0;
    char *once = cjson_encode(v, &len);
    if (!once != !cjson_valid(v))
        abort(); /* (an allocation failure would also land here; libFuzzer has none) */
    if (once) {
        if (once[len] != '\0' || memchr(once, '\0', len))
            abort(); /* NUL-terminated at len; a NUL in a string is written \u0000 */
        json_t *w = json_loadb(once, len, flags, NULL);
        if (!w)
            abort();
        size_t len2 = 0;
        char *twice = cjson_encode(w, &len2);
        if (!twice || len2 != len || memcmp(once, twice, len) != 0)
            abort();
        free(twice);
        json_decref(w);
    }
    (void)cjson_depth(v);
    free(once);
    json_decref(v);
    return 0;
}
