/* cerebro serve, what a request says, read without a socket: strict
 * decoding of the request target, Range and If-None-Match, the Host guard,
 * the access token (Authorization or cookie, compared in constant time)
 * and which route a path names. Nothing here knows libmicrohttpd, so the
 * HTTP fuzzer (tests/fuzz/fuzz_http.c) drives these functions directly.
 *
 * The request target is decoded from the raw bytes MHD hands to the URI
 * log callback, not from MHD's own decoding: MHD passes malformed escapes
 * through unchanged and does not check UTF-8, and the router must see
 * exactly what the client sent to refuse dot-segments. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

static int hex_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Whether the NUL-terminated s is valid UTF-8. */
static int valid_utf8(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t len = cli_utf8_length(p);
        if (len == 0)
            return 0;
        p += len;
    }
    return 1;
}

/* Percent-decodes s[0..n) into a new string ('+' is a space when
 * `form`). NULL with *why set when an escape is malformed, a NUL byte is
 * encoded or the result is not UTF-8. */
static char *decode(const char *s, size_t n, int form, const char **why)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "malformed percent-encoding";
                goto fail;
            }
            if ((out[o++] = (char)(hi * 16 + lo)) == '\0') {
                *why = "an encoded NUL byte";
                goto fail;
            }
            i += 2;
        } else {
            out[o++] = form && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    if (!valid_utf8(out)) {
        *why = "text that is not valid UTF-8";
        goto fail;
    }
    return out;
fail:
    free(out);
    return NULL;
}

const char *serve_target_parse(serve_target *t, const char *uri)
{
    const char *q = strchr(uri, '?'), *why = NULL;
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);

    if (uri[0] != '/')
        return "the request target is not an absolute path";
    if (!(t->path = decode(uri, path_len, 0, &why)))
        return why;
    /* Files are looked up by id or by name in a table, never on disk by a
     * name from the request, but a path with dot-segments is refused
     * outright so no route ever has to think about it. */
    for (const char *seg = t->path; seg; seg = strchr(seg + 1, '/')) {
        size_t len = strcspn(seg + 1, "/");
        if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.'))
            return "dot-segments in the path";
    }
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&"), name_len;
        const char *eq = memchr(p, '=', len);
        if (len > 0) {
            if (t->n_params == SERVE_MAX_PARAMS)
                return "too many query parameters";
            name_len = eq ? (size_t)(eq - p) : len;
            t->params[2 * t->n_params] = decode(p, name_len, 1, &why);
            if (!t->params[2 * t->n_params])
                return why;
            t->params[2 * t->n_params + 1] = eq ? decode(eq + 1, len - name_len - 1, 1, &why) : strdup("");
            t->n_params++;
            if (!t->params[2 * t->n_params - 1])
                return why ? why : "out of memory";
        }
        p += len + (p[len] == '&');
    }
    return NULL;
}

void serve_target_clear(serve_target *t)
{
    for (size_t i = 0; i < 2 * t->n_params; i++)
        free(t->params[i]);
    free(t->path);
    memset(t, 0, sizeof *t);
}

const char *serve_target_param(const serve_target *t, const char *name)
{
    /* The last one wins, as most frameworks do. */
    for (size_t i = t->n_params; i-- > 0;)
        if (t->params[2 * i + 1] && strcmp(t->params[2 * i], name) == 0)
            return t->params[2 * i + 1];
    return NULL;
}

int serve_etag_listed(const char *list, const char *etag)
{
    size_t n = strlen(etag);

    if (!list)
        return 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        if (strncmp(p, "W/", 2) == 0)
            p += 2; /* weak comparison, as If-None-Match asks */
        if (*p == '*' || (strncmp(p, etag, n) == 0 && strchr(" \t,", p[n])))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

int serve_range_parse(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    char *end;
    unsigned long long a, b;

    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    h += 6;
    if (*h == '-') { /* the last N bytes */
        if (h[1] < '0' || h[1] > '9')
            return 0;
        errno = 0;
        b = strtoull(h + 1, &end, 10);
        if (errno || *end || b == 0 || size == 0)
            return errno || *end ? 0 : -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (*h < '0' || *h > '9')
        return 0;
    errno = 0;
    a = strtoull(h, &end, 10);
    if (errno || *end != '-')
        return 0;
    h = end + 1;
    if (*h == '\0') {
        b = size ? size - 1 : 0;
    } else {
        if (*h < '0' || *h > '9')
            return 0;
        b = strtoull(h, &end, 10);
        if (errno || *end || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = b >= size ? size - 1 : b;
    return 1;
}

int serve_host_allowed(const char *const *hosts, const char *host)
{
    size_t n;

    if (!hosts || !host)
        return 1;
    n = host[0] == '[' ? strcspn(host, "]") + (strchr(host, ']') != NULL) : strcspn(host, ":");
    for (const char *const *h = hosts; *h; h++)
        if (strlen(*h) == n && strncasecmp(*h, host, n) == 0)
            return 1;
    return 0;
}

/* One byte for the log: control bytes and quotes escaped. */
static void log_byte(FILE *f, unsigned char ch)
{
    if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
        fprintf(f, "\\x%02x", ch);
    else
        fputc(ch, f);
}

void serve_log_text(FILE *f, const char *s, size_t max, int redact)
{
    const char *query = redact ? strchr(s, '?') : NULL;
    size_t i = 0;

    while (s[i] && i < max) {
        log_byte(f, (unsigned char)s[i]);
        if (query && s + i >= query && (s[i] == '?' || s[i] == '&')) {
            /* A parameter: its name as sent, its value left out when the
             * name decodes to "token" (or does not decode at all). */
            const char *p = s + i + 1, *why = NULL;
            size_t len = strcspn(p, "&"), name_len = strcspn(p, "&=");
            char *name = p[name_len] == '=' ? decode(p, name_len, 1, &why) : NULL;
            int secret = p[name_len] == '=' && (!name || strcmp(name, "token") == 0);
            free(name);
            if (secret) {
                for (size_t k = 0; k <= name_len && i + 1 + k < max; k++)
                    log_byte(f, (unsigned char)p[k]);
                fputs("(redacted)", f);
                i += 1 + len;
                continue;
            }
        }
        i++;
    }
    if (s[i] && i >= max)
        fputs("...", f);
}

/* ---- the access token ----------------------------------------------------- */

const char *serve_token_check(const char *token, size_t len)
{
    if (len < SERVE_TOKEN_MIN)
        return "is shorter than " SERVE_TOKEN_MIN_TEXT " characters (make one with `openssl rand -hex 32`)";
    if (len > SERVE_TOKEN_MAX)
        return "is longer than " SERVE_TOKEN_MAX_TEXT " characters";
    /* What a cookie value and a Bearer credential can both carry as is. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)token[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == ',' || ch == ';' || ch == '\\')
            return "holds a character other than printable ASCII (no spaces, quotes, commas, "
                   "semicolons or backslashes)";
    }
    return NULL;
}

int serve_token_equal(const char *token, const char *given, size_t given_len)
{
    size_t n = strlen(token);
    unsigned char diff = given_len != n;

    /* The time depends on the length of the candidate only, never on how
     * much of it matches the token. */
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)(given[i] ^ token[n ? i % n : 0]);
    return n > 0 && diff == 0;
}

/* The value of cookie `name` in a Cookie header, with *len; NULL if absent. */
static const char *cookie_value(const char *cookies, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (const char *p = cookies; p && *p;) {
        p += strspn(p, " \t;");
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            p += n + 1;
            *len = strcspn(p, ";");
            while (*len > 0 && (p[*len - 1] == ' ' || p[*len - 1] == '\t'))
                (*len)--;
            return p;
        }
        p += strcspn(p, ";");
    }
    return NULL;
}

int serve_authorized(const char *token, const char *cookie_name, const char *authorization,
                     const char *cookies)
{
    const char *v;
    size_t len;

    if (!token)
        return 1;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        v = authorization + 7;
        v += strspn(v, " ");
        len = strlen(v);
        while (len > 0 && v[len - 1] == ' ')
            len--;
        if (serve_token_equal(token, v, len))
            return 1;
    }
    return (v = cookie_value(cookies, cookie_name, &len)) && serve_token_equal(token, v, len);
}

/* ---- routes ---------------------------------------------------------------- */

/* The rest of path after `prefix`, or NULL. */
static const char *after(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

serve_route_kind serve_route_match(const char *path, const char **tail)
{
    static const struct {
        const char *prefix;
        serve_route_kind kind;
    } prefixed[] = {{"/static/", SERVE_ROUTE_STATIC}, {"/api/similar/", SERVE_ROUTE_SIMILAR},
                    {"/api/item/", SERVE_ROUTE_ITEM},  {"/api/image/", SERVE_ROUTE_IMAGE},
                    {"/api/thumb/", SERVE_ROUTE_THUMB}};

    *tail = NULL;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        return SERVE_ROUTE_PAGE;
    if (strcmp(path, "/api/search") == 0)
        return SERVE_ROUTE_SEARCH;
    if (strcmp(path, "/api/stats") == 0)
        return SERVE_ROUTE_STATS;
    for (size_t i = 0; i < sizeof prefixed / sizeof prefixed[0]; i++)
        if ((*tail = after(path, prefixed[i].prefix)))
            return prefixed[i].kind;
    return SERVE_ROUTE_NONE;
}

int serve_parse_id(const char *s, int64_t *id)
{
    uint64_t v;
    if (cli_parse_u64(s, 0, INT64_MAX, &v) != 0)
        return -1;
    *id = (int64_t)v;
    return 0;
}
