/* SHA-256 through libcrypto's EVP interface (OpenSSL 3: no deprecated
 * SHA256_* calls). libcrypto reports failures on its thread-local error
 * queue; each failure here takes its reason off that queue into
 * cerebro_last_error(), so that nothing is left behind for an application
 * that uses OpenSSL itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core.h"
#include "sha256.h"

/* Streaming buffer of cb_sha256_file: large enough that the read calls
 * cost nothing next to the hashing. */
#define FILE_CHUNK (1 << 20)

/* The status and message of libcrypto's last failure in `what`. */
static cerebro_status crypto_fail(const char *what)
{
    char reason[256] = "unknown reason";
    unsigned long e = ERR_peek_last_error();
    cerebro_status st = CEREBRO_E_INTERNAL;

    if (e) {
        ERR_error_string_n(e, reason, sizeof reason);
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            st = CEREBRO_E_NOMEM;
    }
    ERR_clear_error();
    if (st == CEREBRO_E_NOMEM)
        return cb_fail(st, "%s: out of memory", what);
    return cb_fail(st, "%s: SHA-256 failed in libcrypto: %s", what, reason);
}

cerebro_status cb_sha256(const void *data, size_t size, uint8_t digest[32])
{
    unsigned int len = 0;
    if (EVP_Digest(data, size, digest, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return crypto_fail("content hash");
    return CEREBRO_OK;
}

cerebro_status cb_sha256_file(const char *path, uint8_t digest[32])
{
    unsigned int len = 0;
    size_t got;
    cerebro_status st = CEREBRO_OK;
    EVP_MD_CTX *ctx = NULL;
    uint8_t *buf = malloc(FILE_CHUNK);
    FILE *f = buf ? fopen(path, "rb") : NULL;

    if (!buf)
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory for hashing", path);
    if (!f) {
        st = cb_fail(errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO, "%s: cannot open: %s", path,
                     strerror(errno));
        goto out;
    }
    if (!(ctx = EVP_MD_CTX_new())) {
        st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory for hashing", path);
        ERR_clear_error();
        goto out;
    }
    if (EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) != 1) {
        st = crypto_fail(path);
        goto out;
    }
    errno = 0;
    while ((got = fread(buf, 1, FILE_CHUNK, f)) > 0) {
        if (EVP_DigestUpdate(ctx, buf, got) != 1) {
            st = crypto_fail(path);
            goto out;
        }
    }
    if (ferror(f)) {
        st = cb_fail(CEREBRO_E_IO, "%s: read error while hashing: %s", path, strerror(errno ? errno : EIO));
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, digest, &len) != 1 || len != 32)
        st = crypto_fail(path);
out:
    EVP_MD_CTX_free(ctx);
    if (f)
        fclose(f);
    free(buf);
    return st;
}

void cb_sha256_hex(const uint8_t digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}
