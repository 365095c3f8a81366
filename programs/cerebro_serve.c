/* cerebro serve: the index over HTTP, a search-as-you-type web page and a
 * JSON API (serve_*.c). This file holds the subcommand: options, the
 * roots paths are shown relative to, start, and a graceful stop on
 * SIGINT/SIGTERM. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#define MAX_ROOTS 64
#define MAX_THREADS 256
#define DEFAULT_PORT 8080
#define DEFAULT_REFRESH 2 /* seconds */
#define DEFAULT_QUERY_CACHE 1024
#define DEFAULT_THUMB_CACHE_MB 64
#define RESULT_CACHE_BYTES (32u << 20)
#define SHUTDOWN_GRACE 10.0 /* seconds for requests in flight */
#define DEFAULT_PER_CLIENT 32   /* connections from one address */
#define DEFAULT_HEAD_TIMEOUT 10 /* seconds for a request head */
#define DEFAULT_IDLE_TIMEOUT 30 /* seconds a kept-alive connection may idle */
#define TOKEN_ENV "CEREBRO_SERVE_TOKEN"
#define PEM_MAX (1u << 20)      /* bytes of a certificate or key file */
/* Descriptors kept for what is not a connection: the store, the model,
 * the log, MHD's and the workers' own; each connection may hold a second
 * one, the file it is sending. */
#define FD_RESERVE 64
#define FD_PER_THREAD 4
#define FD_MAX ((rlim_t)1 << 20)

enum { OPT_HOST = 512, OPT_PORT, OPT_THREADS, OPT_MODEL_THREADS, OPT_CACHE, OPT_RESULT_CACHE,
       OPT_THUMB_CACHE, OPT_QUIET, OPT_REFRESH, OPT_TOKEN_FILE, OPT_NO_AUTH, OPT_TLS_CERT, OPT_TLS_KEY,
       OPT_PER_CLIENT, OPT_HEAD_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_SERVE_MIN_RELEVANCE };

const char cli_help_serve[] =
    "usage: cerebro serve [OPTIONS] [ROOT...]\n"
    "\n"
    "Serves the index over HTTP: a search-as-you-type web page at / and a JSON\n"
    "API under /api/ (search, similar, item, stats, image, thumb). Prints\n"
    "\"listening on http://HOST:PORT/\" when ready; one access log line per\n"
    "request goes to stderr. Ctrl-C (SIGINT) or SIGTERM stops it: requests in\n"
    "flight are finished first, then it exits 0.\n"
    "\n"
    "The number of connections is limited from the files the process may open\n"
    "(the soft limit is raised to the hard one: `ulimit -Hn`).\n"
    "\n"
    "Paths in answers are relative to the ROOT folder holding the file (the\n"
    "deepest one when several do), absolute when none does; without ROOT, to\n"
    "the current folder. The API's prefix parameter is relative to each ROOT.\n"
    "Files are only ever served by the id of an indexed item, never by a path\n"
    "taken from a request. What `cerebro index` adds, changes or removes while\n"
    "the server runs is searched within --refresh seconds after that run ends.\n"
    "Search and similar answers leave out hits less relevant than the min\n"
    "parameter (default: --min-relevance); each hit carries its \"relevance\"\n"
    "(null in an index of fewer than 50 items, which has none).\n"
    "/api/image/ID sends JPEG, PNG, GIF, WebP, AVIF and BMP files as they are\n"
    "and the formats browsers do not show (HEIC/HEIF, TIFF, JPEG XL, camera\n"
    "RAW) as JPEG, decoded upright (at most 100 megapixels).\n"
    "\n"
    "options:\n"
    "  --host H         address to listen on (default 127.0.0.1). On a loopback\n"
    "                   address only requests naming localhost, 127.0.0.1, [::1]\n"
    "                   or H in their Host header are answered (a guard against\n"
    "                   DNS rebinding). Any other address needs --token-file (or\n"
    "                   $" TOKEN_ENV ") or an explicit --no-auth.\n"
    "  --port P         port (default 8080; 0 picks a free one)\n"
    "  --token-file F   require the token in file F (16 to 256 printable ASCII\n"
    "                   characters, e.g. `openssl rand -hex 32 > F`) on every\n"
    "                   request: the header \"Authorization: Bearer TOKEN\", or the\n"
    "                   cookie a browser gets by opening /?token=TOKEN once.\n"
    "                   $" TOKEN_ENV " may hold the token instead.\n"
    "  --no-auth        serve a non-loopback address without a token: anyone who\n"
    "                   can reach it sees every indexed file\n"
    "  --tls-cert F     serve HTTPS with the PEM certificate (chain) in F ...\n"
    "  --tls-key F      ... and its PEM private key in F\n"


    "  --threads N      request threads, and as many for thumbnails and\n"
    "                   transcoding, 1..256\n"
    "                   (default: online CPUs, at least 2)\n"
    "  --model-threads N  threads per text encoding (default 1: many requests at\n"
    "                   once use the cores better than one request on several)\n"
    "  --cache N        query embeddings kept in memory (default 1024)\n"
    "  --result-cache N search results kept in memory, 0 for none (default 1024;\n"
    "                   at most 32 MiB)\n"
    "  --thumb-cache MB memory for thumbnails and images sent as JPEG, 0 to keep\n"
    "                   none (default 64)\n"
    "  --refresh S      seconds between checks for a newer index state, 0 never\n"
    "                   (default 2)\n"
    "  --max-per-client N  connections at once from one address (default 32;\n"
    "                   more are refused)\n"
    "  --head-timeout S seconds a connection has to send a complete request head\n"
    "                   (default 10)\n"
    "  --idle-timeout S seconds a kept-alive connection may wait for its next\n"
    "                   request, or a client stall mid-transfer (default 30)\n"
    "  --min-relevance X  the min of searches that give none, and so of the web\n"
    "                   page: hits less relevant are left out (default " CLI_MIN_RELEVANCE_TOKEN ", as\n"
    "                   in cerebro search; 0 keeps every hit)\n"
    "  --quiet          no access log\n" CLI_COMMON_HELP;

typedef struct serve_options {
    const char *host;
    uint64_t port, threads, model_threads, cache, result_cache, thumb_mb, refresh;
    int quiet;
    const char *token_file, *tls_cert, *tls_key;
    int no_auth;
    uint64_t per_client, head_timeout, idle_timeout;
    double min_relevance;
} serve_options;

static int serve_option(cli *c, serve_options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_HOST: o->host = arg; return CLI_CONTINUE;
    case OPT_PORT:
        return cli_parse_u64(arg, 0, 65535, &o->port) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--port must be a number from 0 to 65535, not '%s'", arg);
    case OPT_THREADS:
        return cli_parse_u64(arg, 1, MAX_THREADS, &o->threads) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--threads must be a number from 1 to %d, not '%s'", MAX_THREADS, arg);
    case OPT_MODEL_THREADS:
        return cli_parse_u64(arg, 1, 1024, &o->model_threads) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--model-threads must be a number from 1 to 1024, not '%s'", arg);
    case OPT_CACHE:
        return cli_parse_u64(arg, 1, 1000000, &o->cache) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--cache must be a number from 1 to 1000000, not '%s'", arg);
    case OPT_RESULT_CACHE:
        return cli_parse_u64(arg, 0, 1000000, &o->result_cache) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--result-cache must be a number from 0 to 1000000, not '%s'", arg);
    case OPT_THUMB_CACHE:
        return cli_parse_u64(arg, 0, 1 << 20, &o->thumb_mb) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--thumb-cache must be a number of MiB from 0 to 1048576, not '%s'", arg);
    case OPT_REFRESH:
        return cli_parse_u64(arg, 0, 86400, &o->refresh) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--refresh must be a number of seconds from 0 to 86400, not '%s'", arg);
    case OPT_SERVE_MIN_RELEVANCE:
        return cli_parse_double(arg, 0, CLI_MAX_MIN_RELEVANCE, &o->min_relevance) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--min-relevance must be a number from 0 to %g, not '%s'",
                               CLI_MAX_MIN_RELEVANCE, arg);
    case OPT_QUIET: o->quiet = 1; return CLI_CONTINUE;
    case OPT_TOKEN_FILE: o->token_file = arg; return CLI_CONTINUE;
    case OPT_NO_AUTH: o->no_auth = 1; return CLI_CONTINUE;
    case OPT_TLS_CERT: o->tls_cert = arg; return CLI_CONTINUE;
    case OPT_TLS_KEY: o->tls_key = arg; return CLI_CONTINUE;
    case OPT_PER_CLIENT:
        return cli_parse_u64(arg, 1, 65535, &o->per_client) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--max-per-client must be a number from 1 to 65535, not '%s'", arg);
    case OPT_HEAD_TIMEOUT:
        return cli_parse_u64(arg, 1, 3600, &o->head_timeout) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--head-timeout must be a number of seconds from 1 to 3600, not '%s'", arg);
    case OPT_IDLE_TIMEOUT:
        return cli_parse_u64(arg, 1, 86400, &o->idle_timeout) == 0
                   ? CLI_CONTINUE
                   : cli_usage(c, "--idle-timeout must be a number of seconds from 1 to 86400, not '%s'", arg);
    default: return cli_common_option(c, opt, arg);
    }
}

/* Resolves each ROOT (or the current folder) into srv->roots. */
static int set_roots(cli *c, server *srv, char **args, int n)
{
    char resolved[PATH_MAX];
    struct stat st;
    const char *cwd = c->cwd ? c->cwd : ".";

    if (n > MAX_ROOTS)
        return cli_usage(c, "at most %d ROOT folders", MAX_ROOTS);
    if (!(srv->roots = calloc(n ? (size_t)n : 1, sizeof *srv->roots)))
        return cli_error(c, "out of memory");
    for (int i = 0; i < (n ? n : 1); i++) {
        const char *arg = n ? args[i] : cwd;
        if (!realpath(arg, resolved) || stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_error(c, "%s is not a folder", arg);
        if (!(srv->roots[srv->n_roots++] = strdup(resolved)))
            return cli_error(c, "out of memory");
    }
    return CLI_OK;
}

static int is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

/* A whole small file into a NUL-terminated malloc'd text; NULL with a
 * message printed. `what` names it in messages. */
static char *read_small_file(cli *c, const char *path, const char *what, size_t max)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t n = 0;

    if (!f) {
        cli_error(c, "cannot read the %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (!(text = malloc(max + 1))) {
        cli_error(c, "out of memory");
        goto done;
    }
    n = fread(text, 1, max + 1, f);
    if (ferror(f) || n > max || memchr(text, '\0', n)) {
        cli_error(c, "cannot use the %s %s: %s", what, path,
                  ferror(f) ? strerror(errno) : n > max ? "the file is too large" : "it holds a NUL byte");
        free(text);
        text = NULL;
        goto done;
    }
    text[n] = '\0';
done:
    fclose(f);
    return text;
}

/* The access token from --token-file or the environment into *token
 * (malloc'd; NULL when none is given). CLI_CONTINUE, or an exit status. */
static int load_token(cli *c, const serve_options *o, char **token)
{
    const char *env = getenv(TOKEN_ENV), *why;
    size_t len;

    *token = NULL;
    if (o->token_file) {
        if (!(*token = read_small_file(c, o->token_file, "token file", SERVE_TOKEN_MAX + 2)))
            return CLI_ERROR;
        /* One line: the newline an editor or `echo` adds is not part of it. */
        len = strlen(*token);
        while (len > 0 && strchr(" \t\r\n", (*token)[len - 1]))
            (*token)[--len] = '\0';
        if ((why = serve_token_check(*token, len)))
            return cli_error(c, "the token in %s %s", o->token_file, why);
    } else if (env && *env) {
        if ((why = serve_token_check(env, strlen(env))))
            return cli_error(c, "the token in $%s %s", TOKEN_ENV, why);
        if (!(*token = strdup(env)))
            return cli_error(c, "out of memory");
    }
    return CLI_CONTINUE;
}

/* Raises the soft limit on open descriptors to the hard one and sizes the
 * connection limit from it. CLI_CONTINUE, or an exit status. */
static int size_connections(cli *c, server *srv, unsigned threads)
{
    struct rlimit rl;
    rlim_t reserve = FD_RESERVE + (rlim_t)FD_PER_THREAD * threads * 2;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return cli_error(c, "cannot read the limit on open files: %s", strerror(errno));
    if (rl.rlim_cur != RLIM_INFINITY && (rl.rlim_max == RLIM_INFINITY || rl.rlim_cur < rl.rlim_max)) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_MAX ? FD_MAX : rl.rlim_max;
        if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_MAX)
        rl.rlim_cur = FD_MAX;
    if (rl.rlim_cur < reserve + 2 * 16)
        return cli_error(c, "the process may open only %llu files (ulimit -n): too few to serve; at least %llu",
                         (unsigned long long)rl.rlim_cur, (unsigned long long)(reserve + 2 * 16));
    srv->max_connections = (unsigned)((rl.rlim_cur - reserve) / 2);
    return CLI_CONTINUE;
}

static void server_free(server *srv)
{
    for (size_t i = 0; i < srv->n_roots; i++)
        free(srv->roots[i]);
    free(srv->roots);
    serve_workers_stop(srv->workers);
    serve_lru_free(srv->queries);
    serve_lru_free(srv->results);
    serve_lru_free(srv->thumbs);
    free((char *)srv->token);
    free((char *)srv->tls_cert);
    free((char *)srv->tls_key);
    pthread_mutex_destroy(&srv->log_lock);
}

/* The write end of a pipe the signal handler writes the signal number
 * to. A handler, not sigwait(): threads that libraries start before main()
 * (OpenBLAS's pool) do not block the signals, and a signal delivered to one
 * of them would kill the process instead of stopping it. */
static int stop_pipe = -1;

static void on_stop_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t ignored = write(stop_pipe, &b, 1); /* async-signal-safe */
    (void)ignored;
}

/* Installs the handlers; returns the read end of the pipe, or -1. */
static int catch_stop_signals(void)
{
    struct sigaction sa;
    int fds[2];

    if (pipe(fds) != 0)
        return -1;
    stop_pipe = fds[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return fds[0];
}

/* Waits for the signal byte; meanwhile, every `refresh` seconds, takes up
 * a newer index state (another process indexed) and retires the results
 * cached for the old one. */
static void wait_for_stop(cli *c, server *srv, int stop_fd, uint64_t refresh, unsigned char *sig)
{
    struct pollfd p = {stop_fd, POLLIN, 0};
    int timeout = refresh ? (int)(refresh * 1000) : -1, reported = 0;

    for (;;) {
        int n = poll(&p, 1, timeout);
        if (n > 0) {
            if (read(stop_fd, sig, 1) == 1 || (errno != EINTR && errno != EAGAIN))
                return;
            continue;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        int changed = 0;
        if (cerebro_index_refresh(c->index, &changed) != CEREBRO_OK) {
            if (!reported) /* once: a store that cannot be read stays so */
                fprintf(stderr, "cerebro serve: cannot refresh the index: %s\n", cerebro_last_error());
            reported = 1;
        } else if (changed) {
            cerebro_index_stats st;
            __atomic_add_fetch(&srv->epoch, 1, __ATOMIC_ACQ_REL);
            if (cerebro_index_stats_get(c->index, &st) == CEREBRO_OK)
                fprintf(stderr, "cerebro serve: the index changed: %llu items in %llu files\n",
                        (unsigned long long)st.count, (unsigned long long)st.files);
            reported = 0;
        }
    }
}

/* Runs until SIGINT or SIGTERM, then stops gracefully. */
static int run(cli *c, server *srv, const serve_options *o, int stop_fd)
{
    const char *hosts[] = {"localhost", "127.0.0.1", "[::1]", o->host, NULL};
    struct MHD_Daemon *d;
    uint16_t port = (uint16_t)o->port;
    unsigned char sig = 0;

    if (is_loopback(o->host))
        srv->hosts = hosts;
    if (!(d = serve_http_start(srv, o->host, &port, (unsigned)o->threads)))
        return cli_error(c, "the server could not start");
    printf("listening on http%s://%s%s%s:%u/\n", srv->tls_cert ? "s" : "", strchr(o->host, ':') ? "[" : "", o->host,
           strchr(o->host, ':') ? "]" : "", (unsigned)port);
    fflush(stdout);
    wait_for_stop(c, srv, stop_fd, o->refresh, &sig);
    fprintf(stderr, "cerebro serve: %s: stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    serve_http_stop(srv, d, SHUTDOWN_GRACE);
    return CLI_OK;
}

int cli_serve(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_OPTIONS,
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"model-threads", required_argument, NULL, OPT_MODEL_THREADS},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"result-cache", required_argument, NULL, OPT_RESULT_CACHE},
        {"thumb-cache", required_argument, NULL, OPT_THUMB_CACHE},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"refresh", required_argument, NULL, OPT_REFRESH},
        {"min-relevance", required_argument, NULL, OPT_SERVE_MIN_RELEVANCE},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"no-auth", no_argument, NULL, OPT_NO_AUTH},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"max-per-client", required_argument, NULL, OPT_PER_CLIENT},
        {"head-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {NULL, 0, NULL, 0}};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    serve_options o = {"127.0.0.1", DEFAULT_PORT, cpus > 2 ? (uint64_t)cpus : 2, 1, DEFAULT_QUERY_CACHE,
                       DEFAULT_QUERY_CACHE, DEFAULT_THUMB_CACHE_MB, DEFAULT_REFRESH, 0, NULL, NULL, NULL, 0,
                       DEFAULT_PER_CLIENT, DEFAULT_HEAD_TIMEOUT, DEFAULT_IDLE_TIMEOUT, 0};
    char *token = NULL;
    server srv;
    int opt, stop_fd = -1, rc = CLI_CONTINUE;
    cerebro_search_options so;

    cerebro_search_options_init(&so);
    o.min_relevance = so.min_relevance; /* the library's, not a number of ours */
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.log_lock, NULL);
    while (rc == CLI_CONTINUE && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        rc = serve_option(c, &o, opt, optarg);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!o.tls_cert != !o.tls_key)
        return cli_usage(c, "--tls-cert and --tls-key go together");
    if ((rc = load_token(c, &o, &token)) != CLI_CONTINUE) {
        free(token);
        return rc;
    }
    srv.token = token;
    if (!token && !o.no_auth && !is_loopback(o.host)) {
        rc = cli_usage(c, "--host %s is not a loopback address: anyone who can reach it would see every "
                          "indexed file. Give --token-file FILE (or $%s) to require a token, or --no-auth to "
                          "serve without one",
                       o.host, TOKEN_ENV);
        goto done;
    }
    if (o.tls_cert && (!(srv.tls_cert = read_small_file(c, o.tls_cert, "TLS certificate", PEM_MAX)) ||
                       !(srv.tls_key = read_small_file(c, o.tls_key, "TLS key", PEM_MAX)))) {
        rc = CLI_ERROR;
        goto done;
    }
    srv.max_per_client = (unsigned)o.per_client;
    srv.head_timeout = (unsigned)o.head_timeout;
    srv.idle_timeout = (unsigned)o.idle_timeout;
    if ((rc = size_connections(c, &srv, (unsigned)o.threads)) != CLI_CONTINUE)
        goto done;
    if ((rc = set_roots(c, &srv, argv + optind, argc - optind)) != CLI_OK)
        goto done;
    c->model_threads = (uint32_t)o.model_threads;
    if ((rc = cli_open(c, CEREBRO_INDEX_READONLY, NULL)) != CLI_OK)
        goto done;
    srv.cli = c;
    srv.dim = cerebro_model_dim(c->model);
    srv.started = cli_now();
    srv.quiet = o.quiet;
    srv.min_relevance = (float)o.min_relevance;
    srv.queries = serve_lru_new((size_t)o.cache, SIZE_MAX);
    /* A zero budget still needs a map: one that keeps nothing. */
    srv.results = serve_lru_new(o.result_cache ? (size_t)o.result_cache : 1,
                                o.result_cache ? RESULT_CACHE_BYTES : 0);
    srv.thumbs = serve_lru_new(4096, (size_t)o.thumb_mb << 20);
    srv.workers = serve_workers_start((unsigned)o.threads);
    if (!srv.queries || !srv.results || !srv.thumbs || !srv.workers) {
        rc = cli_error(c, "out of memory");
        goto done;
    }
    if ((stop_fd = catch_stop_signals()) < 0) {
        rc = cli_error(c, "cannot create a pipe: %s", strerror(errno));
        goto done;
    }
    rc = run(c, &srv, &o, stop_fd);
done:
    /* The handlers stay: a second signal while freeing is one more byte. */
    if (stop_fd >= 0)
        close(stop_fd);
    server_free(&srv);
    return rc;
}
