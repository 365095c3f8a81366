/* cerebro serve, the routes: the embedded web page, the JSON API and the
 * files of indexed items (by id only: no route opens a path taken from the
 * request). */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#define FILE_CACHE_CONTROL "private, max-age=600"
#define THUMB_QUALITY 85
/* Formats browsers do not show, sent as JPEG: quality, and the largest
 * picture decoded for it (100 MP: medium-format camera RAWs). */
#define IMAGE_QUALITY 90
#define IMAGE_MAX_PIXELS 100000000u

/* ---- JSON ------------------------------------------------------------------ */

/* `path` as shown to clients: relative to the longest root holding it,
 * absolute when none does. Points into `path`. */
static const char *shown_path(const server *srv, const char *path)
{
    const char *best = path;
    size_t best_len = 0;

    for (size_t i = 0; i < srv->n_roots; i++) {
        const char *root = srv->roots[i];
        size_t n = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if ((n == 0 || (strncmp(path, root, n) == 0)) && path[n] == '/' && path[n + 1] &&
            (best == path || n > best_len)) {
            best = path + n + 1;
            best_len = n;
        }
    }
    return best;
}

/* relevance: NAN (null) when the index has none (under 50 items, or an item
 * looked up by id). */
static void write_hit(FILE *f, const server *srv, const cerebro_hit *h, float relevance)
{
    fprintf(f, "{\"id\":%" PRId64 ",\"score\":%.4f,\"path\":", h->id, (double)h->score);
    serve_json_string(f, shown_path(srv, h->path));
    fprintf(f, ",\"width\":%" PRIu32 ",\"height\":%" PRIu32 ",\"timestamp\":", h->width, h->height);
    if (h->kind == CEREBRO_ITEM_VIDEO_FRAME)
        fprintf(f, "%.3f,\"kind\":\"frame\"", h->timestamp);
    else
        fputs("null,\"kind\":\"image\"", f);
    fprintf(f, ",\"thumb\":\"/api/thumb/%" PRId64 "\",\"image\":\"/api/image/%" PRId64 "\"", h->id, h->id);
    if (isnan(relevance))
        fputs(",\"relevance\":null}", f);
    else
        fprintf(f, ",\"relevance\":%.2f}", (double)relevance);
}

/* A JSON body under construction (open_memstream). */
typedef struct body {
    FILE *f;
    char *text;
    size_t len;
} body;

static int body_open(body *b)
{
    b->text = NULL;
    b->len = 0;
    return (b->f = open_memstream(&b->text, &b->len)) ? 0 : -1;
}

/* Finishes the text and sends it. */
static enum MHD_Result body_send(request *r, struct MHD_Connection *c, body *b)
{
    fputc('\n', b->f);
    if (fclose(b->f) != 0) {
        free(b->text);
        b->text = NULL;
    }
    return serve_send_json(r, c, MHD_HTTP_OK, b->text, b->len);
}

/* ---- parameters ------------------------------------------------------------- */

/* Reads an optional integer parameter in [lo, hi]; 0 on success. */
static int int_param(const request *r, const char *name, uint64_t lo, uint64_t hi, uint64_t def,
                     uint64_t *out)
{
    const char *v = serve_param(r, name);
    *out = def;
    return v ? cli_parse_u64(v, lo, hi, out) : 0;
}

static enum MHD_Result status_error(request *r, struct MHD_Connection *c, cerebro_status st)
{
    if (st == CEREBRO_E_NOT_FOUND)
        return serve_send_error(r, c, MHD_HTTP_NOT_FOUND, "%s", cerebro_last_error());
    if (st == CEREBRO_E_NOMEM)
        return serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    return serve_send_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", cerebro_last_error());
}

/* ---- searching under the roots ------------------------------------------------ */

/* What a search request asks besides its query: k hits at least min
 * relevant (cerebro_search_options.min_relevance), under prefix (NULL:
 * everywhere; relative to each root). */
typedef struct search_query {
    uint64_t k;
    float min;
    const char *prefix;
} search_query;

/* A hit and its relevance (NAN: none). */
typedef struct rated_hit {
    cerebro_hit h;
    float relevance;
} rated_hit;

/* Hits gathered from one search per root (or one search without prefix). */
typedef struct gathered {
    cerebro_results *res[64];
    size_t n_res;
    rated_hit *hits;
    size_t n, cap;
} gathered;

static void gathered_free(gathered *g)
{
    for (size_t i = 0; i < g->n_res; i++)
        cerebro_results_free(g->res[i]);
    free(g->hits);
}

static int by_score(const void *a, const void *b)
{
    const cerebro_hit *x = &((const rated_hit *)a)->h, *y = &((const rated_hit *)b)->h;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static cerebro_status gather(gathered *g, cerebro_results *res)
{
    size_t n = cerebro_results_count(res);
    g->res[g->n_res++] = res;
    if (g->n + n > g->cap) {
        rated_hit *grown = realloc(g->hits, (g->n + n) * sizeof *grown);
        if (!grown)
            return CEREBRO_E_NOMEM;
        g->hits = grown;
        g->cap = g->n + n;
    }
    for (size_t i = 0; i < n; i++)
        if (cerebro_results_get(res, i, &g->hits[g->n].h) == CEREBRO_OK)
            g->hits[g->n++].relevance = cerebro_results_relevance(res, i);
    return CEREBRO_OK;
}

/* The prefix under root: "root/prefix", with a slash added when that is a
 * folder (so "birds" does not also match "birds-old"). */
static char *rooted_prefix(const char *root, const char *prefix)
{
    struct stat st;
    size_t n = strlen(root) + strlen(prefix) + 3;
    char *p = malloc(n);

    if (!p)
        return NULL;
    snprintf(p, n, "%s/%s", strcmp(root, "/") == 0 ? "" : root, prefix);
    if (p[strlen(p) - 1] != '/' && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        strcat(p, "/");
    return p;
}

/* Searches by vector (id < 0) or by item id, k hits at least min relevant,
 * under `prefix` relative to each root (merged by score), or everywhere. */
static cerebro_status search_rooted(server *srv, const float *vec, int64_t id, const search_query *sq,
                                    gathered *g)
{
    cerebro_search_options so;
    const char *prefix = sq->prefix;
    size_t n_searches = prefix ? srv->n_roots : 1;
    cerebro_status st = CEREBRO_OK;
    uint32_t k = (uint32_t)sq->k;

    memset(g, 0, sizeof *g);
    cerebro_search_options_init(&so);
    so.k = k;
    so.min_relevance = sq->min;
    for (size_t i = 0; i < n_searches && i < sizeof g->res / sizeof g->res[0] && st == CEREBRO_OK; i++) {
        cerebro_results *res = NULL;
        char *p = prefix ? rooted_prefix(srv->roots[i], prefix) : NULL;
        if (prefix && !p)
            return CEREBRO_E_NOMEM;
        so.prefix = p;
        st = id >= 0 ? cerebro_index_search_id(srv->cli->index, id, &so, &res)
                     : cerebro_index_search_vector(srv->cli->index, vec, &so, &res);
        free(p);
        if (st == CEREBRO_OK)
            st = gather(g, res);
    }
    if (g->n > 1) {
        /* Nested roots can both match one file: keep it once (equal ids
         * have equal scores, so they sort next to each other). */
        size_t kept = 1;
        qsort(g->hits, g->n, sizeof *g->hits, by_score);
        for (size_t i = 1; i < g->n; i++)
            if (g->hits[i].h.id != g->hits[kept - 1].h.id)
                g->hits[kept++] = g->hits[i];
        g->n = kept;
    }
    if (g->n > k)
        g->n = k;
    return st;
}

/* The prefix parameter: NULL when absent or empty; *bad when it climbs
 * out of the roots. Leading slashes are dropped: it is relative anyway. */
static const char *prefix_param(const request *r, int *bad)
{
    const char *p = serve_param(r, "prefix");

    *bad = 0;
    if (!p)
        return NULL;
    p += strspn(p, "/");
    if (!*p)
        return NULL;
    for (const char *seg = p; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
        if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || seg[2] == '\0'))
            *bad = 1;
    return p;
}

/* The hits as the end of an answer, `"count":n,"results":[...]`, into a
 * malloc'd *text, after `"best_relevance":x,` when best is a number. 0 on
 * success. */
static int render_hits(const server *srv, const gathered *g, float best, char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);

    if (!f)
        return -1;
    if (!isnan(best))
        fprintf(f, "\"best_relevance\":%.2f,", (double)best);
    fprintf(f, "\"count\":%zu,\"results\":[", g->n);
    for (size_t i = 0; i < g->n; i++) {
        if (i)
            fputc(',', f);
        write_hit(f, srv, &g->hits[i].h, g->hits[i].relevance);
    }
    fputc(']', f);
    if (fclose(f) != 0) {
        free(*text);
        return -1;
    }
    return 0;
}

/* Searches by vector (id < 0) or by id: the rendered hits into *hits
 * (malloc'd), stored in the results cache under rkey (may be NULL). */
static cerebro_status search_rendered(server *srv, const char *rkey, const float *vec, int64_t id,
                                      const search_query *sq, char **hits, size_t *len)
{
    gathered g;
    cerebro_status st = search_rooted(srv, vec, id, sq, &g);
    float best = NAN;

    /* Nothing relevant enough: how relevant the best hit was tells "no
     * close match" from "nothing there" (an empty prefix, an index too small
     * for a relevance: NAN). */
    if (st == CEREBRO_OK && g.n == 0 && sq->min > 0) {
        search_query all = *sq;
        gathered top;
        all.k = 1;
        all.min = 0;
        st = search_rooted(srv, vec, id, &all, &top);
        if (st == CEREBRO_OK && top.n > 0)
            best = top.hits[0].relevance;
        gathered_free(&top);
    }
    if (st == CEREBRO_OK && render_hits(srv, &g, best, hits, len) != 0)
        st = CEREBRO_E_NOMEM;
    gathered_free(&g);
    if (st == CEREBRO_OK && rkey)
        serve_lru_put(srv->results, rkey, *hits, *len);
    return st;
}

/* A results cache key: the index state searched (answers cached before
 * the index changed are never found again), what is searched for, k, the
 * minimum relevance and the prefix. */
static char *results_key(const server *srv, const char *what, const search_query *sq)
{
    size_t n = strlen(what) + (sq->prefix ? strlen(sq->prefix) : 0) + 96;
    char *key = malloc(n);
    uint64_t epoch = __atomic_load_n(&srv->epoch, __ATOMIC_ACQUIRE);

    if (key)
        snprintf(key, n, "%" PRIu64 "|%s|%" PRIu64 "|%a|%s", epoch, what, sq->k, (double)sq->min,
                 sq->prefix ? sq->prefix : "");
    return key;
}

/* k, min and prefix, shared by search and similar; -1 with an error sent. */
static int search_params(request *r, struct MHD_Connection *c, search_query *sq, enum MHD_Result *ret)
{
    const char *min = serve_param(r, "min");
    double v;
    int bad;

    if (int_param(r, "k", 1, SERVE_MAX_K, SERVE_DEFAULT_K, &sq->k) != 0) {
        *ret = serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "k must be a number from 1 to %d", SERVE_MAX_K);
        return -1;
    }
    sq->min = r->srv->min_relevance;
    if (min && cli_parse_double(min, 0, CLI_MAX_MIN_RELEVANCE, &v) != 0) {
        *ret = serve_send_error(r, c, MHD_HTTP_BAD_REQUEST,
                                "min (the minimum relevance) must be a number from 0 to %g; 0 keeps every hit",
                                CLI_MAX_MIN_RELEVANCE);
        return -1;
    }
    if (min)
        sq->min = (float)v;
    sq->prefix = prefix_param(r, &bad);
    if (bad) {
        *ret = serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "prefix must not contain '..'");
        return -1;
    }
    return 0;
}

/* The members every search answer shares after its own: k, min, prefix. */
static void write_search_params(FILE *f, const search_query *sq)
{
    fprintf(f, ",\"k\":%" PRIu64 ",\"min\":%g", sq->k, (double)sq->min);
    if (sq->prefix) {
        fputs(",\"prefix\":", f);
        serve_json_string(f, sq->prefix);
    }
}

/* Sends head (the answer's first members, an open body), took_ms and the
 * rendered hits. */
static enum MHD_Result send_hits(request *r, struct MHD_Connection *c, body *b, const char *hits,
                                 size_t len, double started)
{
    fprintf(b->f, ",\"took_ms\":%.2f,", (cli_now() - started) * 1e3);
    fwrite(hits, 1, len, b->f);
    fputc('}', b->f);
    return body_send(r, c, b);
}

/* ---- /api/search --------------------------------------------------------------- */

/* The cache key of a text: its token ids, so texts that tokenize alike
 * ("A  Tiger", "a tiger") share one entry. NULL if the text cannot be
 * tokenized (the encoder will say why). */
static char *query_key(const server *srv, const char *text)
{
    const cerebro_model *m = srv->cli->model;
    uint32_t ctx = cerebro_model_context_length(m);
    int32_t tokens[512];
    size_t n = 0, len = 0;
    char *key;

    if (ctx == 0 || ctx > sizeof tokens / sizeof tokens[0] ||
        cerebro_tokenizer_encode(cerebro_model_tokenizer(m), text, strlen(text), ctx, tokens, ctx, &n) !=
            CEREBRO_OK)
        return NULL;
    if (n > ctx)
        n = ctx;
    if (!(key = malloc(n * 12 + 3)))
        return NULL;
    len = (size_t)sprintf(key, "q:");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(key + len, "%s%" PRId32, i ? "," : "", tokens[i]);
    return key;
}

/* The embedding of text into vec (dim floats), from the cache (under key,
 * which may be NULL) or the model. */
static cerebro_status embed_query(server *srv, const char *key, const char *text, float *vec,
                                  int *cached)
{
    void *data;
    size_t size;
    cerebro_status st;

    *cached = 0;
    if (key && serve_lru_get(srv->queries, key, &data, &size)) {
        if (size == srv->dim * sizeof *vec) {
            memcpy(vec, data, size);
            *cached = 1;
        }
        free(data);
    }
    if (*cached)
        return CEREBRO_OK;
    st = cerebro_model_encode_text(srv->cli->model, &text, 1, vec);
    if (st == CEREBRO_OK && key)
        serve_lru_put(srv->queries, key, vec, srv->dim * sizeof *vec);
    return st;
}

/* Runs the search for q (the results cache, else the embedding cache or
 * the model, then the index) into rendered hits. */
static cerebro_status search_text(server *srv, const char *q, const search_query *sq, char **hits,
                                  size_t *len, int *cached)
{
    char *key = query_key(srv, q), *rkey = key ? results_key(srv, key, sq) : NULL;
    float *vec = NULL;
    cerebro_status st;

    *cached = 1;
    if (rkey && serve_lru_get(srv->results, rkey, (void **)hits, len)) {
        st = CEREBRO_OK;
    } else if (!(vec = malloc(srv->dim * sizeof *vec))) {
        st = CEREBRO_E_NOMEM;
    } else if ((st = embed_query(srv, key, q, vec, cached)) == CEREBRO_OK) {
        st = search_rendered(srv, rkey, vec, -1, sq, hits, len);
    }
    free(vec);
    free(rkey);
    free(key);
    return st;
}

static enum MHD_Result api_search(request *r, struct MHD_Connection *c)
{
    double started = cli_now();
    const char *q = serve_param(r, "q");
    search_query sq;
    char *hits = NULL;
    size_t len = 0;
    body b;
    cerebro_status st;
    int cached;
    enum MHD_Result ret;

    if (!q || q[strspn(q, " \t\r\n\f\v")] == '\0')
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "q is required: the text to search for");
    if (strlen(q) > SERVE_MAX_QUERY)
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "q is %zu bytes long; the limit is %d",
                                strlen(q), SERVE_MAX_QUERY);
    if (search_params(r, c, &sq, &ret) != 0)
        return ret;
    st = search_text(r->srv, q, &sq, &hits, &len, &cached);
    if (st == CEREBRO_E_INVALID)
        ret = serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "%s", cerebro_last_error());
    else if (st != CEREBRO_OK || body_open(&b) != 0)
        ret = status_error(r, c, st != CEREBRO_OK ? st : CEREBRO_E_NOMEM);
    else {
        fputs("{\"query\":", b.f);
        serve_json_string(b.f, q);
        fprintf(b.f, ",\"cached\":%s", cached ? "true" : "false");
        write_search_params(b.f, &sq);
        ret = send_hits(r, c, &b, hits, len, started);
    }
    free(hits);
    return ret;
}

/* ---- /api/similar/{id}, /api/item/{id} ---------------------------------------- */

static enum MHD_Result api_similar(request *r, struct MHD_Connection *c, const char *tail)
{
    double started = cli_now();
    int64_t id;
    search_query sq;
    char what[32], *rkey, *hits = NULL;
    size_t len = 0;
    body b;
    cerebro_status st = CEREBRO_OK;
    enum MHD_Result ret;

    if (serve_parse_id(tail, &id) != 0)
        return serve_send_error(r, c, MHD_HTTP_NOT_FOUND, "no item '%.40s': ids are numbers", tail);
    if (search_params(r, c, &sq, &ret) != 0)
        return ret;
    snprintf(what, sizeof what, "s:%" PRId64, id);
    rkey = results_key(r->srv, what, &sq);
    if (!rkey || !serve_lru_get(r->srv->results, rkey, (void **)&hits, &len))
        st = search_rendered(r->srv, rkey, NULL, id, &sq, &hits, &len);
    free(rkey);
    if (st != CEREBRO_OK || body_open(&b) != 0) {
        ret = status_error(r, c, st != CEREBRO_OK ? st : CEREBRO_E_NOMEM);
    } else {
        fprintf(b.f, "{\"id\":%" PRId64, id);
        write_search_params(b.f, &sq);
        ret = send_hits(r, c, &b, hits, len, started);
    }
    free(hits);
    return ret;
}

/* The indexed item `tail` names, or an error already sent (*ret). */
static cerebro_results *lookup_item(request *r, struct MHD_Connection *c, const char *tail,
                                    cerebro_hit *hit, enum MHD_Result *ret)
{
    cerebro_results *res = NULL;
    cerebro_status st;
    int64_t id;

    if (serve_parse_id(tail, &id) != 0) {
        *ret = serve_send_error(r, c, MHD_HTTP_NOT_FOUND, "no item '%.40s': ids are numbers", tail);
        return NULL;
    }
    if ((st = cerebro_index_get(r->srv->cli->index, id, &res)) != CEREBRO_OK ||
        (st = cerebro_results_get(res, 0, hit)) != CEREBRO_OK) {
        cerebro_results_free(res);
        *ret = status_error(r, c, st);
        return NULL;
    }
    return res;
}

static enum MHD_Result api_item(request *r, struct MHD_Connection *c, const char *tail)
{
    cerebro_hit hit;
    enum MHD_Result ret;
    cerebro_results *res = lookup_item(r, c, tail, &hit, &ret);
    body b;

    if (!res)
        return ret;
    if (body_open(&b) != 0) {
        cerebro_results_free(res);
        return serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    write_hit(b.f, r->srv, &hit, NAN);
    cerebro_results_free(res);
    return body_send(r, c, &b);
}

/* ---- /api/stats ------------------------------------------------------------------- */

static void write_cache_stats(FILE *f, const char *name, serve_lru *lru)
{
    serve_lru_stats s;

    serve_lru_stats_get(lru, &s);
    fprintf(f, ",\"%s\":{\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"hits\":%" PRIu64
               ",\"misses\":%" PRIu64 "}",
            name, s.entries, s.bytes, s.hits, s.misses);
}

static enum MHD_Result api_stats(request *r, struct MHD_Connection *c)
{
    server *srv = r->srv;
    cerebro_index_stats st;
    cerebro_status s;
    body b;

    if ((s = cerebro_index_stats_get(srv->cli->index, &st)) != CEREBRO_OK)
        return status_error(r, c, s);
    if (body_open(&b) != 0)
        return serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    fprintf(b.f, "{\"items\":%" PRIu64 ",\"files\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"dim\":%" PRIu32
                 ",\"structure\":",
            st.count, st.files, st.failed, st.dim);
    serve_json_string(b.f, st.structure);
    fputs(",\"model\":", b.f);
    serve_json_string(b.f, st.model_id);
    fputs(",\"model_name\":", b.f);
    serve_json_string(b.f, cerebro_model_name(srv->cli->model));
    fputs(",\"version\":", b.f);
    serve_json_string(b.f, cerebro_version_string());
    fputs(",\"root\":", b.f);
    serve_json_string(b.f, srv->roots[0]);
    fputs(",\"roots\":[", b.f);
    for (size_t i = 0; i < srv->n_roots; i++) {
        if (i)
            fputc(',', b.f);
        serve_json_string(b.f, srv->roots[i]);
    }
    fprintf(b.f,
            "],\"uptime_s\":%.1f,\"requests\":%" PRIu64,
            cli_now() - srv->started, serve_atomic_load(&srv->requests));
    if (srv->guard) {
        uint64_t open, cut;
        serve_guard_counts(srv->guard, &open, &cut);
        fprintf(b.f,
                ",\"connections\":{\"open\":%" PRIu64 ",\"limit\":%u,\"per_client\":%u,\"head_timeout_s\":%u"
                ",\"idle_timeout_s\":%u,\"cut\":%" PRIu64 "}",
                open, srv->max_connections, srv->max_per_client, srv->head_timeout, srv->idle_timeout, cut);
    }
    write_cache_stats(b.f, "cache", srv->queries);
    write_cache_stats(b.f, "results", srv->results);
    write_cache_stats(b.f, "thumbs", srv->thumbs);
    fputc('}', b.f);
    return body_send(r, c, &b);
}

/* ---- /api/image/{id}, /api/thumb/{id} --------------------------------------------- */

/* The brands of an ISO base media file's 'ftyp' box within the n bytes
 * read: major brand at 8, compatible brands from 16 to the box's end. */
static int has_brand(const unsigned char *p, size_t n, const char *const *brands, size_t count)
{
    size_t box;

    if (n < 16 || memcmp(p + 4, "ftyp", 4) != 0)
        return 0;
    box = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    box = box < n ? box : n;
    for (size_t at = 8; at + 4 <= box; at += at == 8 ? 8 : 4)
        for (size_t i = 0; i < count; i++)
            if (memcmp(p + at, brands[i], 4) == 0)
                return 1;
    return 0;
}

/* The media type from the first bytes of a file (never from its name).
 * *transcode is set for the image formats browsers do not show (HEIC/HEIF,
 * TIFF and the TIFF-based camera RAWs, JPEG XL, the other camera RAWs):
 * /api/image sends those as JPEG. */
static const char *sniff_type(const unsigned char *p, size_t n, int *transcode)
{
    static const char *const hevc[] = {"heic", "heix", "heim", "heis", "hevc", "hevx"};
    static const char *const avif[] = {"avif", "avis"};
    static const char *const heif[] = {"mif1", "msf1", "crx "}; /* crx: Canon CR3 */
    /* Camera RAWs without a TIFF signature: Fujifilm RAF, Olympus ORF,
     * Panasonic RW2, Minolta MRW, Sigma X3F (Canon CRW: at offset 6). */
    static const struct {
        const char *magic;
        size_t len;
    } raw[] = {{"FUJIFILMCCD-RAW", 15}, {"IIRO", 4}, {"IIRS", 4}, {"MMOR", 4},
               {"IIU\0", 4},           {"\0MRM", 4}, {"FOVb", 4}};

    *transcode = 0;
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "image/gif";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 2 && memcmp(p, "BM", 2) == 0)
        return "image/bmp";
    /* HEVC-coded HEIF before AVIF: a file naming both needs HEVC. */
    if (has_brand(p, n, hevc, sizeof hevc / sizeof hevc[0]))
        goto convert;
    if (has_brand(p, n, avif, sizeof avif / sizeof avif[0]))
        return "image/avif";
    if (has_brand(p, n, heif, sizeof heif / sizeof heif[0]))
        goto convert;
    if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
        return memcmp(p + 8, "qt  ", 4) == 0 ? "video/quicktime" : "video/mp4";
    if (n >= 4 && memcmp(p, "\x1a\x45\xdf\xa3", 4) == 0) {
        /* Matroska's EBML header names the doctype near the start. */
        for (size_t i = 4; i + 4 <= n && i < 64; i++)
            if (memcmp(p + i, "webm", 4) == 0)
                return "video/webm";
        return "video/x-matroska";
    }
    if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0 ||
                   memcmp(p, "II+\0", 4) == 0 || memcmp(p, "MM\0+", 4) == 0))
        goto convert; /* TIFF, and DNG, CR2, NEF, ARW and the other TIFF-based RAWs */
    if ((n >= 2 && p[0] == 0xff && p[1] == 0x0a) ||
        (n >= 12 && memcmp(p, "\0\0\0\x0cJXL \r\n\x87\n", 12) == 0))
        goto convert; /* JPEG XL, bare or in its container */
    if (n >= 14 && memcmp(p + 6, "HEAPCCDR", 8) == 0)
        goto convert; /* Canon CRW */
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        if (n >= raw[i].len && memcmp(p, raw[i].magic, raw[i].len) == 0)
            goto convert;
    return "application/octet-stream";
convert:
    *transcode = 1;
    return "image/jpeg";
}

/* An entity tag for an item's file as it is now. */
static void file_etag(char *buf, size_t cap, char kind, int64_t id, uint32_t size,
                      const struct stat *st)
{
    snprintf(buf, cap, "\"%c%" PRId64 "-%" PRIu32 "-%llx-%llx.%lx\"", kind, id, size,
             (unsigned long long)st->st_size, (unsigned long long)st->st_mtim.tv_sec,
             (unsigned long)st->st_mtim.tv_nsec);
}

static enum MHD_Result gone(request *r, struct MHD_Connection *c, const cerebro_hit *hit, int err)
{
    if (err == ENOENT || err == ENOTDIR || err == 0)
        return serve_send_error(r, c, MHD_HTTP_GONE, "the file of item %" PRId64 " is no longer there",
                                hit->id);
    return serve_send_error(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open the file of item %" PRId64
                            ": %s", hit->id, strerror(err));
}

/* A picture to make in a worker: a thumbnail (size > 0) or a whole image
 * transcoded to JPEG (size 0). */
typedef struct picture_job {
    cerebro_hit hit;
    uint32_t size;
    char etag[96];
    char path[]; /* hit.path points here */
} picture_job;

static void make_picture(request *r, struct MHD_Connection *c, void *arg)
{
    picture_job *j = arg;
    void *jpeg = NULL;
    size_t len = 0;
    char msg[256];
    unsigned status = j->size ? serve_thumb_make(&j->hit, j->size, THUMB_QUALITY, &jpeg, &len, msg, sizeof msg)
                              : serve_image_transcode(&j->hit, IMAGE_QUALITY, IMAGE_MAX_PIXELS, &jpeg, &len,
                                                      msg, sizeof msg);

    if (status != MHD_HTTP_OK) {
        serve_send_error(r, c, status, "%s", msg);
        return;
    }
    serve_lru_put(r->srv->thumbs, j->etag, jpeg, len);
    serve_send_bytes(r, c, jpeg, len, "image/jpeg", j->etag, FILE_CACHE_CONTROL);
    cerebro_free(jpeg);
}

/* Answers from the validators or the cache when it can, else queues the
 * picture for a worker. Takes `res` (hit points into it). */
static enum MHD_Result send_picture(request *r, struct MHD_Connection *c, cerebro_results *res,
                                    const cerebro_hit *hit, uint32_t size, const char *etag)
{
    enum MHD_Result ret;
    void *jpeg = NULL;
    size_t len = 0;
    picture_job *j;

    if (serve_not_modified(r, c, etag, FILE_CACHE_CONTROL, &ret) ||
        serve_lru_get(r->srv->thumbs, etag, &jpeg, &len)) {
        cerebro_results_free(res);
        if (jpeg) {
            ret = serve_send_bytes(r, c, jpeg, len, "image/jpeg", etag, FILE_CACHE_CONTROL);
            free(jpeg);
        }
        return ret;
    }
    /* Decoding takes long enough to hold up other connections: a worker. */
    j = malloc(sizeof *j + strlen(hit->path) + 1);
    if (!j) {
        cerebro_results_free(res);
        return serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    j->hit = *hit;
    strcpy(j->path, hit->path);
    j->hit.path = j->path;
    j->size = size;
    snprintf(j->etag, sizeof j->etag, "%s", etag);
    cerebro_results_free(res);
    return serve_defer(r, c, make_picture, j);
}

/* The file as it is when browsers show its format (Range requests work),
 * else the picture transcoded to JPEG, cached like thumbnails. */
static enum MHD_Result api_image(request *r, struct MHD_Connection *c, const char *tail)
{
    cerebro_hit hit;
    enum MHD_Result ret;
    cerebro_results *res = lookup_item(r, c, tail, &hit, &ret);
    unsigned char head[64];
    const char *type;
    char etag[96];
    struct stat st;
    int transcode;
    ssize_t n;
    int fd;

    if (!res)
        return ret;
    fd = open(hit.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        ret = gone(r, c, &hit, err);
        cerebro_results_free(res);
        return ret;
    }
    n = pread(fd, head, sizeof head, 0);
    type = sniff_type(head, n > 0 ? (size_t)n : 0, &transcode);
    if (transcode && hit.kind != CEREBRO_ITEM_VIDEO_FRAME) {
        close(fd);
        file_etag(etag, sizeof etag, 'j', hit.id, 0, &st);
        return send_picture(r, c, res, &hit, 0, etag);
    }
    cerebro_results_free(res);
    file_etag(etag, sizeof etag, 'i', hit.id, 0, &st);
    return serve_send_file(r, c, fd, (uint64_t)st.st_size, type, etag, FILE_CACHE_CONTROL);
}

static enum MHD_Result api_thumb(request *r, struct MHD_Connection *c, const char *tail)
{
    cerebro_hit hit;
    enum MHD_Result ret;
    cerebro_results *res;
    uint64_t size;
    char etag[96];
    struct stat st;

    if (int_param(r, "size", SERVE_THUMB_MIN, SERVE_THUMB_MAX, SERVE_THUMB_DEFAULT, &size) != 0)
        return serve_send_error(r, c, MHD_HTTP_BAD_REQUEST, "size must be a number from %d to %d",
                                SERVE_THUMB_MIN, SERVE_THUMB_MAX);
    if (!(res = lookup_item(r, c, tail, &hit, &ret)))
        return ret;
    if (stat(hit.path, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = gone(r, c, &hit, stat(hit.path, &st) != 0 ? errno : 0);
        cerebro_results_free(res);
        return ret;
    }
    file_etag(etag, sizeof etag, 't', hit.id, (uint32_t)size, &st);
    return send_picture(r, c, res, &hit, (uint32_t)size, etag);
}

/* ---- the web page ------------------------------------------------------------------ */

static const char *asset_type(const char *name)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},      {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},        {".svg", "image/svg+xml"},
        {".png", "image/png"},                      {".ico", "image/x-icon"},
        {".json", "application/json"},              {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

static enum MHD_Result send_asset(request *r, struct MHD_Connection *c, const char *name)
{
    char etag[32];

    for (size_t i = 0; i < serve_asset_count; i++) {
        const serve_asset *a = &serve_assets[i];
        uint64_t h = 0xcbf29ce484222325u;
        if (strcmp(a->name, name) != 0)
            continue;
        for (size_t j = 0; j < a->size; j++)
            h = (h ^ a->data[j]) * 0x100000001b3u;
        snprintf(etag, sizeof etag, "\"%016" PRIx64 "\"", h);
        /* Embedded in the program: revalidate, the answer is a cheap 304. */
        return serve_send_bytes(r, c, a->data, a->size, asset_type(name), etag, "no-cache");
    }
    if (strcmp(name, "index.html") == 0)
        return serve_send_error(r, c, MHD_HTTP_NOT_FOUND,
                                "this build has no web page (programs/web was missing); the API is "
                                "under /api/");
    return serve_send_error(r, c, MHD_HTTP_NOT_FOUND, "no such file: /static/%.100s", name);
}

/* ---- routing ---------------------------------------------------------------------------- */

enum MHD_Result serve_route(request *r, struct MHD_Connection *c)
{
    const char *tail;

    switch (serve_route_match(r->target.path, &tail)) {
    case SERVE_ROUTE_PAGE: return send_asset(r, c, "index.html");
    case SERVE_ROUTE_STATIC: return send_asset(r, c, tail);
    case SERVE_ROUTE_SEARCH: return api_search(r, c);
    case SERVE_ROUTE_STATS: return api_stats(r, c);
    case SERVE_ROUTE_SIMILAR: return api_similar(r, c, tail);
    case SERVE_ROUTE_ITEM: return api_item(r, c, tail);
    case SERVE_ROUTE_IMAGE: return api_image(r, c, tail);
    case SERVE_ROUTE_THUMB: return api_thumb(r, c, tail);
    case SERVE_ROUTE_NONE: break;
    }
    return serve_send_error(r, c, MHD_HTTP_NOT_FOUND, "no such page: %.200s", r->target.path);
}
