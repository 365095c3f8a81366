/* SHA-256 (FIPS 180-4) for content hashes: model ids and file identity.
 * Computed by OpenSSL's libcrypto (EVP interface), which uses the CPU's
 * SHA extensions where it has them; the digests are SHA-256's, so stores
 * and model ids written before stay valid. */
#ifndef CEREBRO_SHA256_H
#define CEREBRO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hashes size bytes at data. Errors: E_NOMEM, E_INTERNAL (libcrypto
 * failed; its reason in the message). */
cerebro_status cb_sha256(const void *data, size_t size, uint8_t digest[32]);

/* Hashes a whole file, streaming (files may be far larger than memory
 * allows). Errors name the path: E_NOT_FOUND, E_IO, E_NOMEM, E_INTERNAL. */
cerebro_status cb_sha256_file(const char *path, uint8_t digest[32]);

/* Lower-case hex of a digest: hex must hold 65 bytes. */
void cb_sha256_hex(const uint8_t digest[32], char hex[65]);

#ifdef __cplusplus
}
#endif

#endif
