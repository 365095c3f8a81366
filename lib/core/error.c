/* Status names and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

enum { CB_ERROR_CAP = 1024 };

static _Thread_local char last_error[CB_ERROR_CAP];

/* Messages are one line: the libraries whose text we pass on (libheif,
 * libtiff, LibRaw, ...) end some with a newline or break them in two. */
static void one_line(char *s)
{
    size_t n = 0;

    for (char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
        if (*p != ' ')
            n = (size_t)(p - s) + 1;
    }
    s[n] = '\0';
}

cerebro_status cb_fail(cerebro_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    one_line(last_error);
    return status;
}

void cb_error_prefix(const char *name)
{
    size_t n, keep;

    if (!name || !*name)
        return;
    n = strlen(name);
    if (n + 3 >= CB_ERROR_CAP)
        n = CB_ERROR_CAP - 4;
    keep = strnlen(last_error, CB_ERROR_CAP - 1);
    if (keep > CB_ERROR_CAP - 1 - (n + 2))
        keep = CB_ERROR_CAP - 1 - (n + 2);
    memmove(last_error + n + 2, last_error, keep);
    memcpy(last_error, name, n);
    last_error[n] = ':';
    last_error[n + 1] = ' ';
    last_error[n + 2 + keep] = '\0';
}

const char *cerebro_last_error(void)
{
    return last_error;
}

const char *cerebro_status_string(cerebro_status status)
{
    switch (status) {
    case CEREBRO_OK: return "CEREBRO_OK: success";
    case CEREBRO_E_INVALID: return "CEREBRO_E_INVALID: invalid argument";
    case CEREBRO_E_NOMEM: return "CEREBRO_E_NOMEM: out of memory";
    case CEREBRO_E_IO: return "CEREBRO_E_IO: input/output error";
    case CEREBRO_E_FORMAT: return "CEREBRO_E_FORMAT: unrecognised or unsupported format";
    case CEREBRO_E_CORRUPT: return "CEREBRO_E_CORRUPT: damaged or truncated data";
    case CEREBRO_E_LIMIT: return "CEREBRO_E_LIMIT: limit exceeded";
    case CEREBRO_E_UNSUPPORTED: return "CEREBRO_E_UNSUPPORTED: not supported";
    case CEREBRO_E_MISMATCH: return "CEREBRO_E_MISMATCH: mismatch";
    case CEREBRO_E_NOT_FOUND: return "CEREBRO_E_NOT_FOUND: not found";
    case CEREBRO_E_CANCELLED: return "CEREBRO_E_CANCELLED: cancelled";
    case CEREBRO_E_MODEL: return "CEREBRO_E_MODEL: model runtime error";
    case CEREBRO_E_STORE: return "CEREBRO_E_STORE: store error";
    case CEREBRO_E_INTERNAL: return "CEREBRO_E_INTERNAL: internal error";
    }
    return "unknown status";
}
