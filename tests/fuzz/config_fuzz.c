/* config_fuzz.c - libFuzzer target: arbitrary bytes as homeserver.yaml. Parsing must either
 * succeed or fail with a message; never crash or leak. Build and run: make fuzz */
#include <stdint.h>
#include <string.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct config c;
    char err[256];
    if (!quiet) {
        log_set_level(LOG_LVL_ERROR);
        quiet = 1;
    }
    if (config_parse((const char *)data, size, &c, err, sizeof err) == 0)
        config_free(&c);
    else if (!memchr(err, '\0', sizeof err))
        __builtin_trap();
    return 0;
}
