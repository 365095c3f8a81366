/* Fuzzes the bundle config parser (cerebro/config.json is read from
 * untrusted model archives). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cb_model_config c;
    if (cb_model_config_parse((const char *)data, size, &c) == CEREBRO_OK) {
        /* Whatever parses must satisfy the invariants the runtime relies on. */
        if (c.embed_dim == 0 || c.image_size == 0 || c.context_length < 2 ||
            (uint32_t)c.eot_id >= c.vocab_size || (uint32_t)c.sot_id >= c.vocab_size ||
            c.sot_id == c.eot_id || memchr(c.name, '\0', sizeof c.name) == NULL)
            __builtin_trap();
        /* Preprocessing computes (x - mean) / std for x in 0..1. */
        for (int i = 0; i < 3; i++) {
            if (!(c.std[i] >= CB_CONFIG_STD_MIN && c.std[i] <= CB_CONFIG_STD_MAX) ||
                !(c.mean[i] >= CB_CONFIG_MEAN_MIN && c.mean[i] <= CB_CONFIG_MEAN_MAX) ||
                !isfinite(1.0f / c.std[i]) || !isfinite((1.0f - c.mean[i]) / c.std[i]))
                __builtin_trap();
        }
    }
    return 0;
}
