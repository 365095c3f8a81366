/* cerebro serve: what the server's files share. cerebro_serve.c holds the
 * subcommand (options, start, shutdown), serve_http.c the HTTP side
 * (requests, access control, responses, files, the access log),
 * serve_parse.c what a request says (strict URL decoding, ranges, the
 * token, routes; no sockets), serve_guard.c the deadlines on connections,
 * serve_api.c the routes, serve_thumb.c thumbnails, serve_work.c the
 * worker threads for slow requests and serve_cache.c the LRU caches. */
#ifndef CEREBRO_SERVE_H
#define CEREBRO_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <microhttpd.h>

#include "cerebro_cli.h"

/* Limits on what a client may send. */
#define SERVE_MAX_URI 8192     /* bytes of the request target: 414 beyond */
#define SERVE_MAX_HEADERS 16384 /* bytes of all header names and values: 431 beyond */
#define SERVE_MAX_PARAMS 16    /* query parameters: 400 beyond */
#define SERVE_MAX_QUERY 512    /* bytes of q after decoding */
#define SERVE_MAX_K 200
#define SERVE_DEFAULT_K 24
#define SERVE_THUMB_MIN 32
#define SERVE_THUMB_MAX 1024
#define SERVE_THUMB_DEFAULT 256
/* The access token's length, in characters. */
#define SERVE_TOKEN_MIN 16
#define SERVE_TOKEN_MIN_TEXT "16"
#define SERVE_TOKEN_MAX 256
#define SERVE_TOKEN_MAX_TEXT "256"

/* ---- serve_parse.c: what a request says, read without a socket ---------- */

/* A request target, decoded. */
typedef struct serve_target {
    char *path;                         /* decoded path (NULL until parsed) */
    char *params[2 * SERVE_MAX_PARAMS]; /* decoded name, value pairs */
    size_t n_params;
} serve_target;

/* Splits a raw request target (t zeroed before) into the decoded path and
 * parameters. NULL on success, else why the target is refused (a
 * malformed escape, an encoded NUL, text that is not UTF-8, dot-segments,
 * too many parameters). serve_target_clear() in every case. */
const char *serve_target_parse(serve_target *t, const char *uri);
void serve_target_clear(serve_target *t);
/* A decoded parameter (the last of that name), or NULL. */
const char *serve_target_param(const serve_target *t, const char *name);

/* Parses a single "bytes=first-last" range against size into [*from,
 * *to]. 1: a satisfiable range; 0: no usable Range header (serve it all);
 * -1: unsatisfiable (416). Several ranges are answered with the whole file,
 * which RFC 9110 allows. */
int serve_range_parse(const char *range, uint64_t size, uint64_t *from, uint64_t *to);
/* Whether an If-None-Match (or If-Range) list names etag ("*" matches). */
int serve_etag_listed(const char *list, const char *etag);
/* Writes s for the access log: at most max bytes (then "..."), control
 * bytes and quotes escaped so one request is always one line; with
 * `redact`, the values of query parameters named token (a login link) are
 * left out. */
void serve_log_text(FILE *f, const char *s, size_t max, int redact);
/* Whether a Host header names one of hosts (NULL-terminated; the port is
 * ignored). NULL hosts or a missing header: allowed. */
int serve_host_allowed(const char *const *hosts, const char *host);

/* NULL if token[0..len) can serve as the access token, else what is wrong
 * with it (too short or long, characters a cookie cannot carry). */
const char *serve_token_check(const char *token, size_t len);
/* Whether given[0..given_len) is the token, in a time that does not
 * depend on how much of it matches. */
int serve_token_equal(const char *token, const char *given, size_t given_len);
/* Whether a request with these Authorization and Cookie headers (either
 * may be NULL) carries the token: "Bearer TOKEN", or the cookie named
 * cookie_name. A NULL token lets everything through. */
int serve_authorized(const char *token, const char *cookie_name, const char *authorization,
                     const char *cookies);

typedef enum serve_route_kind {
    SERVE_ROUTE_NONE = 0, SERVE_ROUTE_PAGE, SERVE_ROUTE_STATIC, SERVE_ROUTE_SEARCH, SERVE_ROUTE_STATS,
    SERVE_ROUTE_SIMILAR, SERVE_ROUTE_ITEM, SERVE_ROUTE_IMAGE, SERVE_ROUTE_THUMB
} serve_route_kind;

/* Which route a decoded path names; *tail gets the rest of the path after
 * a route's prefix (the id of /api/item/ID), else NULL. */
serve_route_kind serve_route_match(const char *path, const char **tail);
/* An item id (decimal, 0..INT64_MAX) from a path tail; 0 on success. */
int serve_parse_id(const char *s, int64_t *id);

/* ---- serve_guard.c: deadlines on connections ------------------------------ */

typedef struct serve_guard serve_guard;

/* Starts the thread that cuts connections past their deadline: a complete
 * request head head_timeout seconds after a connection is accepted, and
 * idle_timeout seconds after an answer on a kept-alive one. */
serve_guard *serve_guard_start(double head_timeout, double idle_timeout);
/* Stops the thread; call after the daemon has stopped. NULL: a no-op. */
void serve_guard_stop(serve_guard *g);
/* MHD's connection notifications: a new connection (its handle for the
 * calls below, NULL when out of memory) and a closed one. */
void *serve_guard_opened(serve_guard *g, MHD_socket fd);
void serve_guard_closed(serve_guard *g, void *conn);
/* The request head is complete: no deadline while it is answered. */
void serve_guard_head_done(serve_guard *g, void *conn);
/* The answer is out: the next head is due within idle_timeout. */
void serve_guard_answered(serve_guard *g, void *conn);
/* Connections open now, and cut at their deadline so far. */
void serve_guard_counts(serve_guard *g, uint64_t *open, uint64_t *cut);

/* ---- serve_cache.c: a thread-safe LRU map from strings to byte blobs,
 * bounded by entries and by bytes (keys and values counted). ---------- */

typedef struct serve_lru serve_lru;

typedef struct serve_lru_stats {
    uint64_t entries, bytes, hits, misses;
} serve_lru_stats;

serve_lru *serve_lru_new(size_t max_entries, size_t max_bytes);
void serve_lru_free(serve_lru *lru);
/* A malloc'd copy of the value into *data (free it); 1 on a hit, 0 on a
 * miss (or no memory). Counts the hit or miss. */
int serve_lru_get(serve_lru *lru, const char *key, void **data, size_t *size);
/* Stores a copy, replacing an entry with the same key and dropping the
 * least recently used ones over the bounds. A value larger than the byte
 * bound is not stored. */
void serve_lru_put(serve_lru *lru, const char *key, const void *data, size_t size);
void serve_lru_stats_get(serve_lru *lru, serve_lru_stats *out);

/* ---- the server ---------------------------------------------------------- */

/* A file of programs/web, embedded at build time (serve_assets.c, generated). */
typedef struct serve_asset {
    const char *name; /* relative to programs/web, e.g. "index.html" */
    const unsigned char *data;
    size_t size;
} serve_asset;

extern const serve_asset serve_assets[];
extern const size_t serve_asset_count;

typedef struct serve_workers serve_workers;

typedef struct server {
    cli *cli;               /* model and index */
    char **roots;           /* absolute, without a trailing slash ("/" stays "/") */
    size_t n_roots;
    serve_lru *queries;     /* query tokens -> embedding */
    serve_lru *results;     /* query tokens or item id, k, prefix -> rendered hits */
    serve_lru *thumbs;      /* entity tag -> JPEG bytes (thumbnails, transcoded images) */
    serve_workers *workers; /* slow work (thumbnails); NULL: done on MHD's threads */
    uint32_t dim;
    double started;         /* cli_now() at start */
    const char **hosts;     /* Host header names accepted; NULL: any */
    const char *token;      /* required on every request; NULL: none */
    char cookie_name[32];   /* the cookie holding the token: cerebro_token_PORT */
    int ready;              /* cookie_name is set (atomic) */
    const char *tls_cert, *tls_key; /* PEM texts; NULL: plain HTTP */
    serve_guard *guard;     /* deadlines on connections */
    unsigned max_connections, max_per_client; /* MHD's limits */
    unsigned head_timeout, idle_timeout;      /* seconds */
    /* libmicrohttpd's messages, at most a few per window: a flood makes
     * one per refused connection. */
    pthread_mutex_t log_lock;
    double log_window;      /* cli_now() at the start of the window */
    unsigned log_lines;     /* printed in the window */
    uint64_t log_dropped;   /* not printed in the window */
    uint64_t requests;      /* answered so far (atomic) */
    uint64_t in_flight;     /* requests begun and not completed (atomic) */
    uint64_t epoch;         /* index states taken up since start (atomic) */
    int quiet;              /* no access log */
    float min_relevance;    /* the search APIs' min when a request gives none */
} server;

/* One request, from its first line to its completion. */
typedef struct request {
    server *srv;
    char *uri;              /* raw request target as received */
    serve_target target;    /* decoded (path NULL until parsed) */
    const char *method;     /* NULL until the access handler's first call */
    char method_buf[16];
    double start;
    unsigned status;        /* what was answered */
    uint64_t bytes;         /* body bytes of the answer */
    char client[64];
    int deferred;           /* SERVE_DEFER_*: the request's work is in a worker */
    struct MHD_Response *answer; /* what a worker answered, queued on resumption */
} request;

enum { SERVE_DEFER_NONE = 0, SERVE_DEFER_RUNNING, SERVE_DEFER_DONE };

/* serve_http.c ---------------------------------------------------------- */

/* Starts the daemon on host:port with `threads` threads; NULL on failure
 * (message printed). *port gets the port bound. */
struct MHD_Daemon *serve_http_start(server *srv, const char *host, uint16_t *port,
                                    unsigned threads);
/* Stops accepting, waits up to `grace` seconds for requests in flight,
 * then closes every connection. */
void serve_http_stop(server *srv, struct MHD_Daemon *d, double grace);

/* A decoded query parameter, or NULL. */
#define serve_param(r, name) serve_target_param(&(r)->target, (name))

/* Queue a response; each returns MHD_YES or MHD_NO as the access handler
 * must. Headers common to every answer (nosniff) are added here. */
enum MHD_Result serve_send(request *r, struct MHD_Connection *c, unsigned status,
                           struct MHD_Response *resp);
/* Sends a malloc'd JSON text (ownership taken; NULL means out of memory). */
enum MHD_Result serve_send_json(request *r, struct MHD_Connection *c, unsigned status,
                                char *body, size_t len);
/* {"error": "..."} with the status. */
enum MHD_Result serve_send_error(request *r, struct MHD_Connection *c, unsigned status,
                                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Answers 304 into *ret and returns 1 when If-None-Match names etag;
 * returns 0 otherwise. */
int serve_not_modified(request *r, struct MHD_Connection *c, const char *etag,
                       const char *cache_control, enum MHD_Result *ret);
/* Sends bytes from memory (copied) with the type and validators given:
 * 304 when If-None-Match names etag. */
enum MHD_Result serve_send_bytes(request *r, struct MHD_Connection *c, const void *data,
                                 size_t size, const char *type, const char *etag,
                                 const char *cache_control);
/* Sends an open file (fd taken: closed in every case) with Range support
 * (one range: 206; unsatisfiable: 416) and 304 on If-None-Match. */
enum MHD_Result serve_send_file(request *r, struct MHD_Connection *c, int fd, uint64_t size,
                                const char *type, const char *etag, const char *cache_control);

/* serve_work.c ----------------------------------------------------------- */

/* Work for a worker: answers through the serve_send_* functions as a route
 * does (they keep the answer until MHD resumes the connection); it must
 * not read the request's headers. */
typedef void (*serve_job_fn)(request *r, struct MHD_Connection *c, void *arg);

/* n worker threads; NULL if none could start. */
serve_workers *serve_workers_start(unsigned n);
/* Suspends the connection and queues fn(r, c, arg) for a worker; arg is
 * freed with free() afterwards. Without workers fn runs now. */
enum MHD_Result serve_defer(request *r, struct MHD_Connection *c, serve_job_fn fn, void *arg);
/* Answers queued work 503, lets running work finish, joins the threads.
 * NULL is a no-op. */
void serve_workers_stop(serve_workers *w);

/* serve_api.c ----------------------------------------------------------- */

/* Answers a GET or HEAD whose path and parameters are decoded. */
enum MHD_Result serve_route(request *r, struct MHD_Connection *c);

/* serve_thumb.c --------------------------------------------------------- */

/* A JPEG thumbnail of an item, longest side `size`, into *jpeg (free with
 * cerebro_free()). Returns an HTTP status: 200, or 410 (file gone), 500
 * (cannot decode) or 501 (a format this build does not decode: video
 * frames without video support), with a message in msg. */
unsigned serve_thumb_make(const cerebro_hit *hit, uint32_t size, int quality, void **jpeg,
                          size_t *len, char *msg, size_t msg_cap);
/* The whole picture of an item as JPEG, upright (EXIF orientation applied),
 * for the formats browsers do not show; pictures over max_pixels are
 * refused (500). Statuses and messages as serve_thumb_make(). */
unsigned serve_image_transcode(const cerebro_hit *hit, int quality, uint64_t max_pixels, void **jpeg,
                               size_t *len, char *msg, size_t msg_cap);

/* ---- small helpers (serve_http.c) ---------------------------------------- */

/* Writes `s` as a JSON string into a memory stream (cli_json_string). */
#define serve_json_string cli_json_string

/* Counters updated from many threads. */
#define serve_atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define serve_atomic_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)

#endif
