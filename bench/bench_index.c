/* Store benchmarks, the libcerebro side (bench/bench_index.py drives it and
 * prints the figures next to a Python reference):
 *
 *   bench_index add STORE MODEL DIR [--threads T] [--batch B]
 *       index DIR into STORE (normally fresh) and time it end to end: files
 *       on disk to searchable (the call returns with everything committed
 *       and the ANN file written)
 *   bench_index encode MODEL [--threads T] [--batch B] [--seconds S]
 *       the model-bound rate: encode pre-decoded, preprocessed batches
 *   bench_index decode MODEL DIR [--threads T]
 *       the pipeline without the model: decode + preprocess every image
 *       under DIR to the model's input (FAST mode, as indexing does) on T
 *       threads
 *   bench_index rerun STORE MODEL DIR [--repeat R]
 *       re-index an unchanged folder R times (after one warm-up call)
 *   bench_index query STORE MODEL [--queries N] [--k K]
 *       open the store (timed: a stale ANN is rebuilt), then text-query
 *       latency (encode + search + path lookup) and vector-search latency
 *   bench_index fill STORE MODEL --vectors N [--uniform 1] [--seed S]
 *                    [--chunk C] [--factory F] [--budget MB]
 *       add N synthetic unit vectors of the model's dimension (clustered
 *       around N/1000 centres as embeddings are, or uniform) with file
 *       metadata through cerebro_index_add_embeddings, C per call (one
 *       transaction each); paths /synthetic/s<seed>/dNNN/imgNNNNNNN.jpg
 *   bench_index merge TARGET MODEL SRC... [--budget MB] [--factory F]
 *       cerebro_index_merge of the SRC stores into TARGET: time, peak RSS
 *
 * Peak RSS (ru_maxrss) is printed with the RSS after the model was opened,
 * so that the store's own share can be told from the model's.
 *
 * Every command takes --precision fp32|bf16|auto for the model (default fp32).
 * add, encode and decode also print the CPU time they used per image (all
 * threads, from getrusage): on a shared machine it moves less than the
 * rates do.
 * Each figure is one line "name value unit". */
#define _GNU_SOURCE /* clock_gettime, nftw */
#include <ftw.h>
#include <sys/resource.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bench_common.h"
#include "cerebro/cerebro.h"
#include "index/clustered.h"

typedef struct args {
    uint32_t threads, batch, repeat, queries, k;
    uint32_t precision; /* cerebro_precision */
    double seconds;
    uint64_t vectors, seed, chunk, budget_mb;
    int uniform;
    const char *factory;
} args;

static int fail(const char *what, cerebro_status st)
{
    fprintf(stderr, "bench_index: %s: %s: %s\n", what, cerebro_status_string(st), cerebro_last_error());
    return 1;
}

static void parse(int argc, char **argv, int first, args *a)
{
    for (int i = first; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            a->threads = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            a->batch = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            a->repeat = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0)
            a->queries = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--k") == 0)
            a->k = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            a->seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--precision") == 0)
            a->precision = strcmp(argv[i + 1], "bf16") == 0   ? CEREBRO_PRECISION_BF16
                           : strcmp(argv[i + 1], "auto") == 0 ? CEREBRO_PRECISION_AUTO
                                                              : CEREBRO_PRECISION_FP32;
        else if (strcmp(argv[i], "--vectors") == 0)
            a->vectors = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            a->seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--chunk") == 0)
            a->chunk = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--budget") == 0)
            a->budget_mb = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--uniform") == 0)
            a->uniform = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--factory") == 0)
            a->factory = argv[i + 1];
    }
}

static cerebro_status open_model(const char *path, const args *a, cerebro_model **m)
{
    cerebro_model_options o;
    cerebro_model_options_init(&o);
    o.n_threads = a->threads;
    o.precision = a->precision;
    return cerebro_model_open(m, path, &o);
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return v[i ? i - 1 : 0];
}

static cerebro_status add(cerebro_index *idx, const char *dir, const args *a, cerebro_add_stats *s)
{
    cerebro_add_options o;
    const char *paths[1] = {dir};
    cerebro_add_options_init(&o);
    o.n_workers = a->threads;
    o.batch_size = a->batch;
    return cerebro_index_add(idx, paths, 1, &o, s);
}

static int cmd_add(cerebro_model *m, const char *store, const char *dir, const args *a)
{
    cerebro_index *idx = NULL;
    cerebro_add_stats s;
    cerebro_status st;
    double t0 = now(), c0 = cpu_seconds();

    if ((st = cerebro_index_open(&idx, store, m, NULL)) != CEREBRO_OK)
        return fail(store, st);
    st = add(idx, dir, a, &s);
    double t = now() - t0, c = cpu_seconds() - c0;
    cerebro_index_free(idx);
    if (st != CEREBRO_OK)
        return fail(dir, st);
    printf("added %llu files\n", (unsigned long long)s.added);
    printf("failed %llu files\n", (unsigned long long)s.failed);
    printf("add_seconds %.3f s\n", t);
    printf("add_rate %.2f img/s\n", (double)s.added / t);
    printf("add_cpu_ms %.4f ms/img\n", 1e3 * c / (double)(s.added ? s.added : 1));
    return 0;
}

static int cmd_encode(cerebro_model *m, const args *a)
{
    cerebro_image_options io;
    uint32_t dim = cerebro_model_dim(m);
    cerebro_model_image_options(m, &io);
    size_t per = cerebro_image_tensor_size(&io);
    float *pixels = malloc(a->batch * per * sizeof(float)), *out = malloc(a->batch * dim * sizeof(float));
    uint64_t images = 0;
    cerebro_status st;

    if (!pixels || !out)
        return fail("encode", CEREBRO_E_NOMEM);
    srand(1);
    for (size_t i = 0; i < a->batch * per; i++)
        pixels[i] = (float)rand() / (float)RAND_MAX * 4.0f - 2.0f;
    if ((st = cerebro_model_encode_preprocessed(m, pixels, a->batch, out)) != CEREBRO_OK) /* warm-up */
        return fail("encode", st);
    double t0 = now(), c0 = cpu_seconds();
    while (now() - t0 < a->seconds) {
        if ((st = cerebro_model_encode_preprocessed(m, pixels, a->batch, out)) != CEREBRO_OK)
            return fail("encode", st);
        images += a->batch;
    }
    printf("encode_rate %.2f img/s\n", (double)images / (now() - t0));
    printf("encode_cpu_ms %.4f ms/img\n", 1e3 * (cpu_seconds() - c0) / (double)(images ? images : 1));
    free(pixels);
    free(out);
    return 0;
}

/* The image files under a folder, for `decode`. */
static char **found;
static size_t n_found, cap_found;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    const char *dot = strrchr(path + ftw->base, '.');
    (void)sb;
    if (type != FTW_F || path[ftw->base] == '.' || !dot ||
        (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") && strcasecmp(dot, ".png")))
        return 0;
    if (n_found == cap_found) {
        char **g = realloc(found, (cap_found = cap_found ? cap_found * 2 : 256) * sizeof *g);
        if (!g)
            return 1;
        found = g;
    }
    return (found[n_found++] = strdup(path)) == NULL;
}

typedef struct decode_job {
    cerebro_image_options io;
    atomic_size_t next;
    atomic_int failed;
} decode_job;

static void *decode_worker(void *arg)
{
    decode_job *d = arg;
    float *tensor = malloc(cerebro_image_tensor_size(&d->io) * sizeof(float));
    size_t i;
    while (tensor && (i = atomic_fetch_add(&d->next, 1)) < n_found)
        if (cerebro_image_preprocess_file(found[i], &d->io, tensor) != CEREBRO_OK)
            atomic_fetch_add(&d->failed, 1);
    free(tensor);
    return NULL;
}

static int cmd_decode(cerebro_model *m, const char *dir, const args *a)
{
    decode_job d;
    pthread_t tid[64];
    uint32_t threads = a->threads ? a->threads : 1, started = 0;

    if (nftw(dir, collect, 16, FTW_PHYS) != 0 || n_found == 0)
        return fail(dir, CEREBRO_E_NOT_FOUND);
    cerebro_model_image_options(m, &d.io);
    d.io.mode = CEREBRO_PREPROCESS_FAST;
    atomic_init(&d.next, 0);
    atomic_init(&d.failed, 0);
    double t0 = now(), c0 = cpu_seconds();
    for (uint32_t t = 0; t < threads && t < 64; t++)
        if (pthread_create(&tid[started], NULL, decode_worker, &d) == 0)
            started++;
    for (uint32_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    double t = now() - t0, c = cpu_seconds() - c0;
    if (atomic_load(&d.failed))
        return fail(dir, CEREBRO_E_CORRUPT);
    printf("decode_rate %.2f img/s\n", (double)n_found / t);
    printf("decode_cpu_ms %.4f ms/img\n", 1e3 * c / (double)n_found);
    for (size_t i = 0; i < n_found; i++)
        free(found[i]);
    free(found);
    return 0;
}

static int cmd_rerun(cerebro_model *m, const char *store, const char *dir, const args *a)
{
    cerebro_index *idx = NULL;
    cerebro_add_stats s;
    cerebro_status st;
    double *t = calloc(a->repeat, sizeof *t);

    if (!t)
        return fail("rerun", CEREBRO_E_NOMEM);
    if ((st = cerebro_index_open(&idx, store, m, NULL)) != CEREBRO_OK)
        return fail(store, st);
    if ((st = add(idx, dir, a, &s)) != CEREBRO_OK) /* brings the store up to date */
        return fail(dir, st);
    for (uint32_t r = 0; r < a->repeat; r++) {
        double t0 = now();
        if ((st = add(idx, dir, a, &s)) != CEREBRO_OK)
            return fail(dir, st);
        t[r] = now() - t0;
        if (s.added + s.updated + s.removed) {
            fprintf(stderr, "bench_index: the folder changed during the benchmark\n");
            return 1;
        }
    }
    printf("files %llu files\n", (unsigned long long)s.skipped);
    printf("rerun_median %.3f s\n", percentile(t, a->repeat, 50));
    printf("rerun_best %.3f s\n", percentile(t, a->repeat, 0));
    cerebro_index_free(idx);
    free(t);
    return 0;
}

static int cmd_query(cerebro_model *m, const char *store, const args *a)
{
    static const char *const words[] = {"a", "red", "dog", "on", "the", "beach", "sunset", "over", "city",
                                        "snow", "mountain", "two", "people", "walking", "bicycle", "old"};
    cerebro_index *idx = NULL;
    cerebro_index_stats s;
    cerebro_search_options o;
    cerebro_status st;
    uint32_t dim = cerebro_model_dim(m);
    double *text_ms = calloc(a->queries, sizeof(double)), *vec_ms = calloc(a->queries, sizeof(double));
    float *v = malloc(dim * sizeof *v);
    char query[256];

    if (!text_ms || !vec_ms || !v)
        return fail("query", CEREBRO_E_NOMEM);
    double t0 = now();
    if ((st = cerebro_index_open(&idx, store, m, NULL)) != CEREBRO_OK)
        return fail(store, st);
    printf("open_seconds %.3f s\n", now() - t0);
    if ((st = cerebro_index_stats_get(idx, &s)) != CEREBRO_OK)
        return fail("stats", st);
    printf("vectors %llu items\n", (unsigned long long)s.count);
    printf("structure %s -\n", s.structure);
    printf("recall_at_10 %.4f -\n", s.recall_at_10);
    cerebro_search_options_init(&o);
    o.k = a->k;
    srand(7);
    for (uint32_t q = 0; q < a->queries; q++) {
        cerebro_results *r = NULL;
        int n = 2 + rand() % 6, used = 0;
        for (int w = 0; w < n; w++)
            used += snprintf(query + used, sizeof query - (size_t)used, "%s%s", w ? " " : "",
                             words[rand() % (int)(sizeof words / sizeof words[0])]);
        double q0 = now();
        if ((st = cerebro_index_search_text(idx, query, &o, &r)) != CEREBRO_OK)
            return fail(query, st);
        text_ms[q] = (now() - q0) * 1e3;
        cerebro_results_free(r);
        for (uint32_t i = 0; i < dim; i++)
            v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        q0 = now();
        if ((st = cerebro_index_search_vector(idx, v, &o, &r)) != CEREBRO_OK)
            return fail("vector", st);
        vec_ms[q] = (now() - q0) * 1e3;
        cerebro_results_free(r);
    }
    printf("text_p50 %.3f ms\n", percentile(text_ms, a->queries, 50));
    printf("text_p99 %.3f ms\n", percentile(text_ms, a->queries, 99));
    printf("vector_p50 %.3f ms\n", percentile(vec_ms, a->queries, 50));
    printf("vector_p99 %.3f ms\n", percentile(vec_ms, a->queries, 99));
    cerebro_index_free(idx);
    free(text_ms);
    free(vec_ms);
    free(v);
    return 0;
}

/* Current and peak resident memory, in MB. */
static double rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * 4096.0 / 1048576.0;
}

static cerebro_status open_store(cerebro_model *m, const char *dir, const args *a, cerebro_index **idx)
{
    cerebro_index_options o;
    cerebro_index_options_init(&o);
    o.factory = a->factory;
    o.memory_budget = a->budget_mb << 20;
    return cerebro_index_open(idx, dir, m, &o);
}

static int cmd_fill(cerebro_model *m, const char *store, const args *a)
{
    uint32_t dim = cerebro_model_dim(m);
    size_t chunk = a->chunk ? a->chunk : 100000, clusters = a->vectors / 1000 ? a->vectors / 1000 : 1;
    float *x = malloc(chunk * dim * sizeof *x);
    cerebro_embedding *items = calloc(chunk, sizeof *items);
    char (*paths)[64] = malloc(chunk * sizeof *paths);
    cerebro_index *idx = NULL;
    cerebro_add_stats s;
    cerebro_status st;
    double base = rss_mb();

    if (!x || !items || !paths)
        return fail("fill", CEREBRO_E_NOMEM);
    if ((st = open_store(m, store, a, &idx)) != CEREBRO_OK)
        return fail(store, st);
    double t0 = now(), gen = 0;
    for (uint64_t done = 0; done < a->vectors; done += chunk) {
        size_t n = a->vectors - done < chunk ? (size_t)(a->vectors - done) : chunk;
        double g0 = now();
        /* Held-out points of the same clusters: another point seed per chunk. */
        if (clustered_vectors(x, n, dim, a->uniform ? 1 : clusters, a->uniform ? 1000.0f : 1.0f, 1,
                              1000 + a->seed * 100000 + done / chunk) != 0)
            return fail("fill", CEREBRO_E_NOMEM);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = done + i;
            snprintf(paths[i], sizeof paths[i], "/synthetic/s%llu/d%03llu/img%07llu.jpg",
                     (unsigned long long)a->seed, (unsigned long long)(k / 1000), (unsigned long long)k);
            cerebro_embedding e = {CEREBRO_EMBEDDING_VERSION, CEREBRO_ITEM_IMAGE, paths[i], x + i * dim, 1000,
                                   (int64_t)k, {0}, 64, 48, -1.0, CEREBRO_OK, 0, NULL};
            items[i] = e;
        }
        gen += now() - g0;
        if ((st = cerebro_index_add_embeddings(idx, cerebro_model_id(m), dim, items, n, &s)) != CEREBRO_OK)
            return fail("add_embeddings", st);
    }
    double t = now() - t0;
    cerebro_index_stats is;
    if ((st = cerebro_index_stats_get(idx, &is)) != CEREBRO_OK)
        return fail("stats", st);
    cerebro_index_free(idx);
    printf("vectors %llu items\n", (unsigned long long)is.count);
    printf("structure %s -\n", is.structure);
    printf("fill_seconds %.3f s\n", t - gen);
    printf("generate_seconds %.3f s\n", gen);
    printf("fill_rate %.0f vectors/s\n", (double)a->vectors / (t - gen));
    printf("rss_after_model %.0f MB\n", base);
    printf("peak_rss %.0f MB\n", peak_rss_mb());
    free(x);
    free(items);
    free(paths);
    return 0;
}

static int cmd_merge(cerebro_model *m, const char *target, const char *const *srcs, size_t n, const args *a)
{
    cerebro_index *idx = NULL;
    cerebro_add_stats s;
    cerebro_index_stats is;
    cerebro_status st;
    double base = rss_mb();

    if ((st = open_store(m, target, a, &idx)) != CEREBRO_OK)
        return fail(target, st);
    double t0 = now();
    if ((st = cerebro_index_merge(idx, srcs, n, &s)) != CEREBRO_OK)
        return fail("merge", st);
    double t = now() - t0;
    if ((st = cerebro_index_stats_get(idx, &is)) != CEREBRO_OK)
        return fail("stats", st);
    double t_close = now();
    cerebro_index_free(idx);
    printf("merged %llu files\n", (unsigned long long)s.added);
    printf("structure %s -\n", is.structure);
    printf("ann_memory %.0f MB\n", (double)is.memory_bytes / 1048576.0);
    printf("recall_at_10 %.4f -\n", is.recall_at_10);
    printf("merge_seconds %.3f s\n", t);
    printf("merge_rate %.0f vectors/s\n", (double)s.added / t);
    printf("close_seconds %.3f s\n", now() - t_close);
    printf("rss_after_model %.0f MB\n", base);
    printf("peak_rss %.0f MB\n", peak_rss_mb());
    return 0;
}

int main(int argc, char **argv)
{
    args a = {0, 32, 5, 200, 10, CEREBRO_PRECISION_FP32, 5.0, 0, 0, 0, 0, 0, NULL};
    cerebro_model *m = NULL;
    cerebro_status st;
    int rc = 2;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_index add|encode|decode|rerun|query|fill|merge ... (see bench/bench_index.c)\n");
        return 2;
    }
    const char *cmd = argv[1];
    int model_first = strcmp(cmd, "encode") == 0 || strcmp(cmd, "decode") == 0;
    const char *model = model_first ? argv[2] : argc > 3 ? argv[3] : NULL;
    if (!model)
        return 2;
    int first = strcmp(cmd, "encode") == 0 ? 3
              : strcmp(cmd, "query") == 0 || strcmp(cmd, "fill") == 0 || model_first ? 4 : 5;
    int n_srcs = 0;
    if (strcmp(cmd, "merge") == 0) { /* TARGET MODEL SRC... [options] */
        while (4 + n_srcs < argc && strncmp(argv[4 + n_srcs], "--", 2) != 0)
            n_srcs++;
        first = 4 + n_srcs;
    }
    parse(argc, argv, first, &a);
    if ((st = open_model(model, &a, &m)) != CEREBRO_OK)
        return fail(model, st);
    if (strcmp(cmd, "encode") == 0)
        rc = cmd_encode(m, &a);
    else if (strcmp(cmd, "add") == 0 && argc >= 5)
        rc = cmd_add(m, argv[2], argv[4], &a);
    else if (strcmp(cmd, "decode") == 0 && argc >= 4)
        rc = cmd_decode(m, argv[3], &a);
    else if (strcmp(cmd, "rerun") == 0 && argc >= 5)
        rc = cmd_rerun(m, argv[2], argv[4], &a);
    else if (strcmp(cmd, "query") == 0)
        rc = cmd_query(m, argv[2], &a);
    else if (strcmp(cmd, "fill") == 0 && a.vectors > 0)
        rc = cmd_fill(m, argv[2], &a);
    else if (strcmp(cmd, "merge") == 0 && n_srcs > 0)
        rc = cmd_merge(m, argv[2], (const char *const *)argv + 4, (size_t)n_srcs, &a);
    else
        fprintf(stderr, "bench_index: unknown command %s\n", cmd);
    cerebro_model_free(m);
    return rc;
}
