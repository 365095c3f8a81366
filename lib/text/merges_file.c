/* Reading a CLIP merges file from disk, plain or gzip-compressed. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"
#include "text.h"

/* CLIP's file is 1.3 MB compressed, 3.2 MB of text. */
#define MERGES_MAX_FILE ((uint64_t)64 << 20)
#define MERGES_MAX_TEXT ((size_t)256 << 20)

static cerebro_status gunzip(const char *path, const uint8_t *gz, size_t gz_len, char **data,
                             size_t *len)
{
    z_stream z;
    size_t cap = 1 << 20, n = 0;
    char *buf = NULL;
    cerebro_status st = CEREBRO_OK;
    int rc;

    memset(&z, 0, sizeof z);
    if (gz_len > UINT32_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot start zlib", path);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    for (;;) {
        if (n == cap || !buf) {
            char *grown;
            cap = buf ? cap * 2 : cap;
            if (cap > MERGES_MAX_TEXT) {
                st = cb_fail(CEREBRO_E_LIMIT, "%s: decompresses to more than %zu bytes", path,
                             MERGES_MAX_TEXT);
                break;
            }
            if (!(grown = realloc(buf, cap))) {
                st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = grown;
        }
        z.next_out = (Bytef *)buf + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
            st = cb_fail(CEREBRO_E_CORRUPT, "%s: damaged gzip data (%s)", path,
                         z.msg ? z.msg : "truncated");
            break;
        }
    }
    inflateEnd(&z);
    if (st != CEREBRO_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = n;
    return CEREBRO_OK;
}

cerebro_status cb_merges_read_file(const char *path, char **data, size_t *len)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cerebro_status st;

    *data = NULL;
    *len = 0;
    st = cb_read_file(path, MERGES_MAX_FILE, &raw, &raw_len);
    if (st != CEREBRO_OK)
        return st;
    if (raw_len >= 2 && raw[0] == 0x1F && raw[1] == 0x8B) {
        st = gunzip(path, raw, raw_len, data, len);
        free(raw);
        return st;
    }
    *data = (char *)raw;
    *len = raw_len;
    return CEREBRO_OK;
}
