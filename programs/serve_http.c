/* cerebro serve, the HTTP side: libmicrohttpd's daemon and callbacks, the
 * request limits, strict decoding of the request target, the response
 * helpers (JSON, bytes, files with ranges and validators) and the access
 * log.
 *
 * The request target is decoded here from the raw bytes MHD hands to the
 * URI log callback, not from MHD's own decoding: MHD passes malformed
 * escapes through unchanged and does not check UTF-8, and the router must
 * see exactly what the client sent to refuse dot-segments. */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

/* Per connection: the headers a client may send before answering 431 are
 * bounded below; this leaves room for them plus MHD's own buffers. */
#define CONNECTION_MEMORY (64 * 1024)
#define CONNECTION_TIMEOUT 30 /* seconds of inactivity */
#define CONNECTION_LIMIT 512
#define LOG_URI_MAX 300

/* ---- decoding ------------------------------------------------------------ */

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

/* Splits r->uri into the decoded path and parameters. NULL on success,
 * else why the target is refused. */
static const char *parse_target(request *r)
{
    const char *uri = r->uri, *q = strchr(uri, '?'), *why = NULL;
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);

    if (uri[0] != '/')
        return "the request target is not an absolute path";
    if (!(r->path = decode(uri, path_len, 0, &why)))
        return why;
    /* Files are looked up by id or by name in a table, never on disk by a
     * name from the request, but a path with dot-segments is refused
     * outright so no route ever has to think about it. */
    for (const char *seg = r->path; seg; seg = strchr(seg + 1, '/')) {
        size_t len = strcspn(seg + 1, "/");
        if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.'))
            return "dot-segments in the path";
    }
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&"), name_len;
        const char *eq = memchr(p, '=', len);
        if (len > 0) {
            if (r->n_params == SERVE_MAX_PARAMS)
                return "too many query parameters";
            name_len = eq ? (size_t)(eq - p) : len;
            r->params[2 * r->n_params] = decode(p, name_len, 1, &why);
            if (!r->params[2 * r->n_params])
                return why;
            r->params[2 * r->n_params + 1] =
                eq ? decode(eq + 1, len - name_len - 1, 1, &why) : strdup("");
            r->n_params++;
            if (!r->params[2 * r->n_params - 1])
                return why ? why : "out of memory";
        }
        p += len + (p[len] == '&');
    }
    return NULL;
}

const char *serve_param(const request *r, const char *name)
{
    /* The last one wins, as most frameworks do. */
    for (size_t i = r->n_params; i-- > 0;)
        if (strcmp(r->params[2 * i], name) == 0)
            return r->params[2 * i + 1];
    return NULL;
}

/* ---- responses ------------------------------------------------------------ */

static enum MHD_Result queue(request *r, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp, uint64_t bytes)
{
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->status = status;
    r->bytes = bytes;
    if (r->deferred == SERVE_DEFER_RUNNING) { /* in a worker: kept until MHD resumes c */
        r->answer = resp;
        return MHD_YES;
    }
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result serve_send_json(request *r, struct MHD_Connection *c, unsigned status, char *body,
                                size_t len)
{
    struct MHD_Response *resp;

    if (!body)
        return serve_send_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (!(resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE))) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return queue(r, c, status, resp, len);
}

enum MHD_Result serve_send_error(request *r, struct MHD_Connection *c, unsigned status,
                                 const char *fmt, ...)
{
    char msg[512], *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    struct MHD_Response *resp;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!f)
        return MHD_NO;
    fputs("{\"error\":", f);
    serve_json_string(f, msg);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    if (!(resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE))) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return queue(r, c, status, resp, len);
}

/* Whether an If-None-Match (or If-Range) list names etag ("*" matches). */
static int etag_listed(const char *list, const char *etag)
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

static void add_validators(struct MHD_Response *resp, const char *etag, const char *cache_control)
{
    if (etag)
        MHD_add_response_header(resp, "ETag", etag);
    if (cache_control)
        MHD_add_response_header(resp, "Cache-Control", cache_control);
}

int serve_not_modified(request *r, struct MHD_Connection *c, const char *etag,
                        const char *cache_control, enum MHD_Result *ret)
{
    struct MHD_Response *resp;

    /* Workers do not read headers: the route checked before deferring. */
    if (r->deferred || !etag || !etag_listed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"), etag))
        return 0;
    resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp)
        add_validators(resp, etag, cache_control);
    *ret = queue(r, c, MHD_HTTP_NOT_MODIFIED, resp, 0);
    return 1;
}

enum MHD_Result serve_send_bytes(request *r, struct MHD_Connection *c, const void *data, size_t size,
                                 const char *type, const char *etag, const char *cache_control)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (serve_not_modified(r, c, etag, cache_control, &ret))
        return ret;
    resp = MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    add_validators(resp, etag, cache_control);
    return queue(r, c, MHD_HTTP_OK, resp, size);
}

/* Parses a single "bytes=first-last" range against size into [*from,
 * *to]. 1: a satisfiable range; 0: no usable Range header (serve it all);
 * -1: unsatisfiable (416). Several ranges are answered with the whole file,
 * which RFC 9110 allows. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
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

enum MHD_Result serve_send_file(request *r, struct MHD_Connection *c, int fd, uint64_t size,
                                const char *type, const char *etag, const char *cache_control)
{
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Range");
    struct MHD_Response *resp;
    enum MHD_Result ret;
    uint64_t from = 0, to = size ? size - 1 : 0;
    char buf[96];
    int ranged;

    if (serve_not_modified(r, c, etag, cache_control, &ret)) {
        close(fd);
        return ret;
    }
    /* A Range with a stale If-Range validator gets the whole new file. */
    ranged = if_range && !(etag && etag_listed(if_range, etag)) ? 0 : parse_range(range, size, &from, &to);
    if (ranged < 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        snprintf(buf, sizeof buf, "bytes */%" PRIu64, size);
        MHD_add_response_header(resp, "Content-Range", buf);
        return queue(r, c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, 0);
    }
    /* MHD closes fd when the response is destroyed. */
    resp = MHD_create_response_from_fd_at_offset64(ranged ? to - from + 1 : size, fd, (int64_t)from);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    add_validators(resp, etag, cache_control);
    if (!ranged)
        return queue(r, c, MHD_HTTP_OK, resp, size);
    snprintf(buf, sizeof buf, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
    MHD_add_response_header(resp, "Content-Range", buf);
    return queue(r, c, MHD_HTTP_PARTIAL_CONTENT, resp, to - from + 1);
}

/* ---- the request's life --------------------------------------------------- */

static void request_free(request *r)
{
    if (r->answer) /* a worker's answer never sent: the client went away */
        MHD_destroy_response(r->answer);
    for (size_t i = 0; i < 2 * r->n_params; i++)
        free(r->params[i]);
    free(r->path);
    free(r->uri);
    free(r);
}

/* MHD calls this with the raw target as soon as the request line is read. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    server *srv = cls;
    request *r = calloc(1, sizeof *r);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    if (!r || !(r->uri = strdup(uri ? uri : ""))) {
        free(r);
        return NULL;
    }
    r->srv = srv;
    r->start = cli_now();
    snprintf(r->client, sizeof r->client, "-");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->client,
                      sizeof r->client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->client,
                      sizeof r->client);
    }
    serve_atomic_add(&srv->in_flight, 1);
    return r;
}

/* The target for the log: at most LOG_URI_MAX bytes, control bytes and
 * quotes escaped so one request is always one line. */
static void log_uri(FILE *f, const char *uri)
{
    size_t i;
    for (i = 0; uri[i] && i < LOG_URI_MAX; i++) {
        unsigned char ch = (unsigned char)uri[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    if (uri[i])
        fputs("...", f);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *srv = cls;
    request *r = *con_cls;
    char *line = NULL;
    size_t len = 0;
    FILE *f;

    (void)c;
    if (!r)
        return;
    *con_cls = NULL;
    serve_atomic_add(&srv->requests, 1);
    if (!srv->quiet && (f = open_memstream(&line, &len))) {
        fprintf(f, "%s \"", r->client);
        log_uri(f, r->method ? r->method : "-");
        fputc(' ', f);
        log_uri(f, r->uri);
        /* No status: MHD answered by itself (a request line or headers
         * over the connection's memory) or the client went away. */
        if (r->status)
            fprintf(f, "\" %u %" PRIu64, r->status, r->bytes);
        else
            fputs("\" - -", f);
        fprintf(f, " %.2fms%s\n", (cli_now() - r->start) * 1e3,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
        /* One write per line: lines from many threads never interleave. */
        if (fclose(f) == 0)
            fwrite(line, 1, len, stderr);
        free(line);
    }
    serve_atomic_add(&srv->in_flight, (uint64_t)-1);
    request_free(r);
}

typedef struct header_total {
    size_t bytes, hosts;
} header_total;

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    header_total *t = cls;
    (void)kind;
    t->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    t->hosts += strcasecmp(key, "Host") == 0;
    return MHD_YES;
}

/* Whether the Host header names this server (DNS rebinding: a page from
 * another site must not reach a loopback server under its own name). */
static int host_allowed(const server *srv, struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    size_t n;

    if (!srv->hosts || !host)
        return 1;
    n = host[0] == '[' ? strcspn(host, "]") + (strchr(host, ']') != NULL) : strcspn(host, ":");
    for (const char **h = srv->hosts; *h; h++)
        if (strlen(*h) == n && strncasecmp(*h, host, n) == 0)
            return 1;
    return 0;
}

static int zero_or_absent(const char *content_length)
{
    return !content_length || strspn(content_length, "0") == strlen(content_length);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    server *srv = cls;
    request *r = *con_cls;
    header_total headers = {0};
    const char *why;
    int deferred;

    (void)url;
    (void)version;
    (void)upload_data;
    if (!r)
        return MHD_NO; /* out of memory in on_uri */
    if ((deferred = __atomic_load_n(&r->deferred, __ATOMIC_ACQUIRE))) {
        enum MHD_Result ret = MHD_NO;
        if (deferred != SERVE_DEFER_DONE)
            return MHD_YES; /* not resumed by a worker yet */
        r->deferred = SERVE_DEFER_NONE;
        if (r->answer) {
            ret = MHD_queue_response(c, r->status, r->answer);
            MHD_destroy_response(r->answer);
            r->answer = NULL;
        }
        return ret;
    }
    if (r->status) {
        *upload_data_size = 0; /* answered already: discard what follows */
        return MHD_YES;
    }
    if (!r->method) {
        /* The first call comes with the headers. Errors are answered now
         * (the connection then closes); a GET waits for the second call,
         * after the (empty) body: MHD 0.9 closes any connection whose
         * response is queued in the first call, and keep-alive matters to
         * a page that asks for a search at every key press. */
        snprintf(r->method_buf, sizeof r->method_buf, "%s", method);
        r->method = r->method_buf;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return serve_send_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method %.16s is not allowed; use GET", method);
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") ||
            !zero_or_absent(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length")))
            return serve_send_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "a %s request takes no body",
                                    r->method);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return serve_send_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "a %s request takes no body", r->method);
    }
    if (strlen(r->uri) > SERVE_MAX_URI)
        return serve_send_error(r, c, MHD_HTTP_URI_TOO_LONG, "the URL is over %d bytes", SERVE_MAX_URI);
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &headers);
    if (headers.bytes > SERVE_MAX_HEADERS)
        return serve_send_error(r, c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                "the request headers are over %d bytes", SERVE_MAX_HEADERS);
    if (headers.hosts > 1)
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "more than one Host header");
    if (!host_allowed(srv, c))
        return serve_send_error(r, c, MHD_HTTP_FORBIDDEN, "this server does not answer to that Host name");
    if ((why = parse_target(r)))
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "bad URL: %s", why);
    return serve_route(r, c);
}

/* ---- start and stop ---------------------------------------------------------- */

struct MHD_Daemon *serve_http_start(server *srv, const char *host, uint16_t *port, unsigned threads)
{
    struct addrinfo hints, *ai = NULL;
    char service[8];
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    int err;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%u", (unsigned)*port);
    if ((err = getaddrinfo(host, service, &hints, &ai)) != 0) {
        fprintf(stderr, "cerebro serve: cannot resolve --host %s: %s\n", host, gai_strerror(err));
        return NULL;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, *port, NULL, NULL, on_request, srv,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                         MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "cerebro serve: cannot listen on %s port %u: %s\n", host, (unsigned)*port,
                errno ? strerror(errno) : "libmicrohttpd refused to start");
        return NULL;
    }
    if ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) && info->port)
        *port = info->port;
    return d;
}

void serve_http_stop(server *srv, struct MHD_Daemon *d, double grace)
{
    MHD_socket listener = MHD_quiesce_daemon(d);
    double until = cli_now() + grace;
    struct timespec tick = {0, 10 * 1000 * 1000};

    while (serve_atomic_load(&srv->in_flight) > 0 && cli_now() < until)
        nanosleep(&tick, NULL);
    /* MHD must not stop with suspended connections: the workers answer
     * what they hold first, and MHD gets a moment to send it. */
    serve_workers_stop(srv->workers);
    srv->workers = NULL;
    until = cli_now() + 1;
    while (serve_atomic_load(&srv->in_flight) > 0 && cli_now() < until)
        nanosleep(&tick, NULL);
    MHD_stop_daemon(d);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
}
