/* Version queries, allocation helpers, CPU count, a monotonic clock and
 * whole-file reading. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

unsigned cerebro_version_number(void)
{
    return CEREBRO_VERSION_NUMBER;
}

const char *cerebro_version_string(void)
{
    return CEREBRO_VERSION_STRING;
}

void cerebro_free(void *ptr)
{
    free(ptr);
}

uint32_t cb_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (uint32_t)n;
}

double cb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cb_has_extension(const char *name, const char *const *exts, size_t n)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        size_t e = strlen(exts[i]);
        if (len > e && strcasecmp(name + len - e, exts[i]) == 0)
            return 1;
    }
    return 0;
}

int cb_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

cerebro_status cb_read_file(const char *path, uint64_t max_bytes, uint8_t **data, size_t *size)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len, got = 0;
    FILE *f;

    *data = NULL;
    *size = 0;
    f = fopen(path, "rb");
    if (!f)
        return cb_fail(errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO, "%s: cannot open: %s",
                       path, strerror(errno));
    if (fstat(fileno(f), &st) != 0) {
        int err = errno;
        fclose(f);
        return cb_fail(CEREBRO_E_IO, "%s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return cb_fail(CEREBRO_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return cb_fail(CEREBRO_E_LIMIT, "%s: file is %lld bytes, over the limit of %llu bytes", path,
                       (long long)st.st_size, (unsigned long long)max_bytes);
    }
    len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate %zu bytes", path, len);
    }
    errno = 0;
    got = fread(buf, 1, len, f);
    if (ferror(f)) {
        int err = errno ? errno : EIO;
        fclose(f);
        free(buf);
        return cb_fail(CEREBRO_E_IO, "%s: read error: %s", path, strerror(err));
    }
    fclose(f);
    *data = buf;
    *size = got;
    return CEREBRO_OK;
}
