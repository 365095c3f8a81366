/* libFuzzer target: what `cerebro serve` reads from a request, without a
 * socket (programs/serve_parse.c): the request target (percent-escapes,
 * UTF-8, dot-segments, query parameters), the route a path names and its
 * item id, Range against several file sizes, If-None-Match, the Host guard,
 * the access token in Authorization and Cookie headers, and the access
 * log's escaping and redaction.
 *
 * The input is fields separated by newlines: target, Host, Range,
 * If-None-Match, Authorization, Cookie (missing fields are absent
 * headers). Besides crashes, the invariants the server relies on are
 * checked: a decoded path has no dot-segments, a satisfiable
 * range lies inside the file, only the token opens the door, a log line is
 * one line and never shows a token= value. */
#define _XOPEN_SOURCE 700

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define MAX_INPUT 65536
#define FIELDS 6
#define TOKEN "0123456789abcdef-fuzz"
#define COOKIE "cerebro_token_8080"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_http: broken invariant: %s\n", what);
        abort();
    }
}

static void fuzz_target(const char *uri)
{
    serve_target t;
    const char *why, *tail;
    serve_route_kind kind;
    int64_t id;

    memset(&t, 0, sizeof t);
    why = serve_target_parse(&t, uri);
    if (!why) {
        check(t.path && t.path[0] == '/', "a decoded path starts with /");
        check(!strstr(t.path, "/../") && !strstr(t.path, "/./"), "no dot-segment in a decoded path");
        size_t n = strlen(t.path);
        check(!(n >= 2 && strcmp(t.path + n - 2, "/.") == 0) && !(n >= 3 && strcmp(t.path + n - 3, "/..") == 0),
              "no dot-segment at the end of a decoded path");
        check(t.n_params <= SERVE_MAX_PARAMS, "at most SERVE_MAX_PARAMS parameters");
        for (size_t i = 0; i < 2 * t.n_params; i++)
            check(t.params[i] != NULL, "every parameter has a name and a value");
        kind = serve_route_match(t.path, &tail);
        check((tail != NULL) == (kind == SERVE_ROUTE_STATIC || kind == SERVE_ROUTE_SIMILAR ||
                                 kind == SERVE_ROUTE_ITEM || kind == SERVE_ROUTE_IMAGE || kind == SERVE_ROUTE_THUMB),
              "a tail exactly for the routes with one");
        check(!tail || (tail > t.path && tail <= t.path + n), "the tail lies in the path");
        if (tail && serve_parse_id(tail, &id) == 0)
            check(id >= 0, "ids are not negative");
        (void)serve_target_param(&t, "q");
        (void)serve_target_param(&t, "token");
    }
    serve_target_clear(&t);
}

static void fuzz_range(const char *range)
{
    static const uint64_t sizes[] = {0, 1, 2, 1000, UINT64_MAX};

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t from = 7, to = 7;
        int rc = serve_range_parse(range, sizes[i], &from, &to);
        check(rc >= -1 && rc <= 1, "range result in -1..1");
        if (rc == 1)
            check(from <= to && to < sizes[i], "a satisfiable range lies inside the file");
    }
}

static void fuzz_token(const char *authorization, const char *cookie)
{
    int ok = serve_authorized(TOKEN, COOKIE, authorization, cookie);

    /* Only the token opens: whoever is let in sent it. */
    if (ok)
        check((authorization && strstr(authorization, TOKEN)) || (cookie && strstr(cookie, COOKIE "=" TOKEN)),
              "access only with the token");
    check(serve_authorized(NULL, COOKIE, authorization, cookie) == 1, "no token: everything through");
    if (authorization) {
        size_t n = strlen(authorization);
        check(serve_token_equal(TOKEN, authorization, n) == (strcmp(authorization, TOKEN) == 0),
              "token comparison");
        (void)serve_token_check(authorization, n);
    }
}

static void fuzz_log(const char *s, int redact)
{
    char *out = NULL, *q;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    if (!f)
        return;
    serve_log_text(f, s, 300, redact);
    if (fclose(f) != 0) {
        free(out);
        return;
    }
    for (size_t i = 0; i < len; i++)
        check((unsigned char)out[i] >= 0x20 && out[i] != 0x7f && out[i] != '"', "a log line is one line, unquoted");
    /* Parameters start after the first '?' (before it, "&token=" is path). */
    if (redact && (q = strchr(out, '?')))
        for (const char *p = strstr(q, "token="); p; p = strstr(p + 1, "token="))
            if (p[-1] == '?' || p[-1] == '&')
                check(strncmp(p + 6, "(redacted)", 10) == 0 || p[6] == '\0', "a token= value is left out");
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    char *copy, *field[FIELDS] = {NULL};
    size_t n = 0;

    if (size > MAX_INPUT || !(copy = malloc(size + 1)))
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* An embedded NUL ends the input, as it ends a C string header. */
    for (char *p = copy; p && n < FIELDS; n++) {
        field[n] = p;
        if ((p = strchr(p, '\n')))
            *p++ = '\0';
    }
    fuzz_target(field[0]);
    fuzz_log(field[0], 0);
    fuzz_log(field[0], 1);
    (void)serve_host_allowed(loopback, field[1]);
    (void)serve_host_allowed(NULL, field[1]);
    fuzz_range(field[2]);
    (void)serve_etag_listed(field[3], "\"t-12-abcdef\"");
    fuzz_token(field[4], field[5]);
    free(copy);
    return 0;
}
