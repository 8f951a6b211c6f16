// clang-format off
// Build and run from the repository root: clang -std=c17 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -I. -fsanitize=fuzzer,address,undefined tests/fuzz/config_fuzz.c server/config.c server/ids.c server/log.c -lyaml -lsodium -o /tmp/config_fuzz && /tmp/config_fuzz -max_total_time=30
// clang-format on
/* config_fuzz.c - libFuzzer target: arbitrary bytes as homeserver.yaml. config_parse must
 * either succeed with every required setting present, or fail with a terminated message and
 * *out zeroed; never crash, read out of bounds or leak. */
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
        log_set_level(LOG_LVL_ERROR); /* unknown-key warnings would flood the output */
        quiet = 1;
    }
    if (config_parse((const char *)data, size, &c, err, sizeof err) == 0) {
        if (!c.server_name || !c.signing_key_path || !c.n_listeners ||
            !c.media_store_path || !c.default_room_version)
            __builtin_trap();
        for (size_t i = 0; i < c.n_listeners; i++)
            if (c.listeners[i].port < 1 || c.listeners[i].port > 65535 ||
                !c.listeners[i].n_bind_addresses || c.listeners[i].tls)
                __builtin_trap();
        config_free(&c);
    } else if (!memchr(err, '\0', sizeof err) || !err[0] || c.server_name || c.listeners) {
        __builtin_trap();
    }
    return 0;
}
