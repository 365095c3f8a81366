/* cerebro serve: what the server's files share. cerebro_serve.c holds the
 * subcommand (options, start, shutdown), serve_http.c the HTTP side
 * (requests, strict URL decoding, responses, files, the access log),
 * serve_api.c the routes, serve_thumb.c thumbnails, serve_work.c the
 * worker threads for slow requests and serve_cache.c the LRU caches. */
#ifndef CEREBRO_SERVE_H
#define CEREBRO_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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
    uint64_t requests;      /* answered so far (atomic) */
    uint64_t in_flight;     /* requests begun and not completed (atomic) */
    uint64_t epoch;         /* index states taken up since start (atomic) */
    int quiet;              /* no access log */
} server;

/* One request, from its first line to its completion. */
typedef struct request {
    server *srv;
    char *uri;              /* raw request target as received */
    char *path;             /* decoded path (NULL until parsed) */
    char *params[2 * SERVE_MAX_PARAMS]; /* decoded name, value pairs */
    size_t n_params;
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
const char *serve_param(const request *r, const char *name);

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
