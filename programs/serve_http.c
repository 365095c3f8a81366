/* cerebro serve, the HTTP side: libmicrohttpd's daemon and callbacks, the
 * limits on clients (connections, per client, request size, deadlines
 * through serve_guard.c), access control (the token), TLS, the response
 * helpers (JSON, bytes, files with ranges and validators) and the access
 * log. What a request says is read by serve_parse.c. */
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
#define LOG_URI_MAX 300
#define MHD_LOG_WINDOW 10 /* seconds */
#define MHD_LOG_LINES 5   /* of libmicrohttpd's messages per window */

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
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"cerebro\"");
    return queue(r, c, status, resp, len);
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
    if (r->deferred || !etag || !serve_etag_listed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"), etag))
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
    ranged = if_range && !(etag && serve_etag_listed(if_range, etag)) ? 0 : serve_range_parse(range, size, &from, &to);
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
    serve_target_clear(&r->target);
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

/* The guard's handle of the connection (serve_guard_opened). */
static void *guarded(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *srv = cls;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? serve_guard_opened(srv->guard, ci->connect_fd) : NULL;
    } else {
        serve_guard_closed(srv->guard, *socket_context);
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *srv = cls;
    request *r = *con_cls;
    char *line = NULL;
    size_t len = 0;
    FILE *f;

    serve_guard_answered(srv->guard, guarded(c));
    if (!r)
        return;
    *con_cls = NULL;
    serve_atomic_add(&srv->requests, 1);
    if (!srv->quiet && (f = open_memstream(&line, &len))) {
        fprintf(f, "%s \"", r->client);
        serve_log_text(f, r->method ? r->method : "-", LOG_URI_MAX, 0);
        fputc(' ', f);
        serve_log_text(f, r->uri, LOG_URI_MAX, srv->token != NULL);
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
    return serve_host_allowed(srv->hosts, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"));
}

/* Requests without the token: a page request with the right ?token= gets
 * the cookie and goes to the page without the token in its address;
 * anything else is refused (401). */
static enum MHD_Result login_or_refuse(request *r, struct MHD_Connection *c)
{
    const server *srv = r->srv;
    const char *tail, *given = serve_param(r, "token");
    int page = serve_route_match(r->target.path, &tail) == SERVE_ROUTE_PAGE;
    struct MHD_Response *resp;
    char cookie[SERVE_TOKEN_MAX + 160];

    if (page && given && serve_token_equal(srv->token, given, strlen(given))) {
        if (!(resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)))
            return MHD_NO;
        /* HttpOnly: no script reads it; SameSite=Strict: no other site's
         * page sends it; a year: a family's browsers stay logged in. */
        snprintf(cookie, sizeof cookie, "%s=%s; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict%s",
                 srv->cookie_name, srv->token, srv->tls_cert ? "; Secure" : "");
        MHD_add_response_header(resp, "Set-Cookie", cookie);
        MHD_add_response_header(resp, "Location", "/");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        return queue(r, c, MHD_HTTP_SEE_OTHER, resp, 0);
    }
    return serve_send_error(r, c, MHD_HTTP_UNAUTHORIZED, "%s",
                            page && given ? "wrong token"
                                          : "this server needs its access token: open /?token=TOKEN once in "
                                            "the browser, or send the header Authorization: Bearer TOKEN");
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
        serve_guard_head_done(srv->guard, guarded(c));
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
    if (!__atomic_load_n(&srv->ready, __ATOMIC_ACQUIRE))
        return serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is starting");
    if (!host_allowed(srv, c))
        return serve_send_error(r, c, MHD_HTTP_FORBIDDEN, "this server does not answer to that Host name");
    if ((why = serve_target_parse(&r->target, r->uri)))
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "bad URL: %s", why);
    if (!serve_authorized(srv->token, srv->cookie_name,
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie")))
        return login_or_refuse(r, c);
    return serve_route(r, c);
}

/* libmicrohttpd's own messages ("Server reached connection limit", "closed
 * by remote side with incomplete request"): one per refused or broken
 * connection, so a flood would fill the log. A few per window go out, then
 * how many more there were. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    server *srv = cls;
    char msg[512];
    double now = cli_now();
    uint64_t dropped = 0;
    int print;
    size_t n;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pthread_mutex_lock(&srv->log_lock);
    if (now - srv->log_window >= MHD_LOG_WINDOW) {
        dropped = srv->log_dropped;
        srv->log_dropped = 0;
        srv->log_lines = 0;
        srv->log_window = now;
    }
    if ((print = srv->log_lines < MHD_LOG_LINES))
        srv->log_lines++;
    else
        srv->log_dropped++;
    pthread_mutex_unlock(&srv->log_lock);
    if (dropped)
        fprintf(stderr, "cerebro serve: libmicrohttpd: %" PRIu64 " more messages not shown\n", dropped);
    if (print)
        fprintf(stderr, "cerebro serve: libmicrohttpd: %s\n", msg);
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
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)srv->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)srv->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    int err;

    if (srv->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fprintf(stderr, "cerebro serve: this libmicrohttpd was built without TLS (GnuTLS)\n");
            return NULL;
        }
        flags |= MHD_USE_TLS;
    } else {
        tls[0].option = MHD_OPTION_END;
    }
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
    if (!(srv->guard = serve_guard_start(srv->head_timeout, srv->idle_timeout))) {
        freeaddrinfo(ai);
        fprintf(stderr, "cerebro serve: cannot start a thread\n");
        return NULL;
    }
    errno = 0;
    /* MHD's own limits: connections in all (sized from the descriptors the
     * process may open), per client address (one client cannot take them
     * all), inactivity (a client that stops reading or sending); the guard
     * adds the deadlines for request heads. */
    d = MHD_start_daemon(flags, *port, NULL, NULL, on_request, srv,
                         MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                         MHD_OPTION_CONNECTION_TIMEOUT, srv->idle_timeout,
                         MHD_OPTION_CONNECTION_LIMIT, srv->max_connections,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->max_per_client,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                         MHD_OPTION_ARRAY, tls,
                         MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "cerebro serve: cannot listen on %s port %u: %s\n", host, (unsigned)*port,
                errno ? strerror(errno)
                : srv->tls_cert ? "libmicrohttpd refused to start (is the TLS key the certificate's?)"
                                : "libmicrohttpd refused to start");
        serve_guard_stop(srv->guard);
        srv->guard = NULL;
        return NULL;
    }
    if ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) && info->port)
        *port = info->port;
    /* The cookie is named after the port: browsers keep cookies per host,
     * not per port, and two servers on one machine must not mix them up.
     * Published to the request threads, which answer 503 until then. */
    snprintf(srv->cookie_name, sizeof srv->cookie_name, "cerebro_token_%u", (unsigned)*port);
    __atomic_store_n(&srv->ready, 1, __ATOMIC_RELEASE);
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
    if (srv->log_dropped) /* MHD's threads are gone: no lock needed */
        fprintf(stderr, "cerebro serve: libmicrohttpd: %" PRIu64 " more messages not shown\n", srv->log_dropped);
    serve_guard_stop(srv->guard);
    srv->guard = NULL;
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
}
