/* SHA-256 (FIPS 180-4) for content hashes: model ids and file identity. */
#ifndef CEREBRO_SHA256_H
#define CEREBRO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cb_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used;     /* bytes waiting in block */
} cb_sha256;

void cb_sha256_init(cb_sha256 *h);
void cb_sha256_update(cb_sha256 *h, const void *data, size_t size);
void cb_sha256_final(cb_sha256 *h, uint8_t digest[32]);

/* Lower-case hex of a digest: hex must hold 65 bytes. */
void cb_sha256_hex(const uint8_t digest[32], char hex[65]);

/* Hashes a whole file, streaming. Errors name the path. */
cerebro_status cb_sha256_file(const char *path, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif

#endif
