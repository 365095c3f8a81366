/* bench_ann: the ANN structure libcerebro chooses, on clustered synthetic
 * embeddings (tests/index/clustered.h), before and after the store tunes
 * its search parameter to a recall target (cb_ann_tune).
 *
 *   bench_ann [--n N] [--dim D] [--clusters C] [--spread S] [--queries Q]
 *             [--flat-n M] [--factory F] [--uniform] [--target T]
 *
 * --uniform: uniform random unit vectors (one cluster with a huge spread),
 * the case IVF cannot exploit. --target: recall@10 to tune for (0.95).
 *
 * Defaults: 1M x 512 vectors in n/1000 clusters, 1000 held-out queries from
 * the same clusters, and a 100k Flat index as the exact reference point.
 * For the chosen structure (cb_ann_choose, or --factory) it prints build
 * time, memory, recall@10 of the held-out queries against exact search,
 * the in-sample recall cb_ann_recall_at_10 reports, and the p50/p99 latency
 * of single queries (k = 10, one at a time, one thread); then the same for
 * the structure after tuning, with the time tuning took. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "index/ann.h"
#include "index/clustered.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench_ann: %s: %s\n", what, cerebro_last_error());
    return 1;
}

typedef struct row {
    char structure[128];
    size_t n;
    double build_s, memory_mb, recall, recall_in_sample, p50_ms, p99_ms;
} row;

/* Single-query latencies and recall@10 of held-out queries against truth
 * (nq x 10 ids; NULL to skip recall). */
static int measure(const cb_ann *ann, const float *q, size_t nq, uint32_t dim, const int64_t *truth, row *r)
{
    double *lat = malloc(nq * sizeof(double));
    float s[10];
    int64_t id[10];
    size_t hits = 0;
    if (!lat)
        return -1;
    for (size_t i = 0; i < nq; i++) {
        double t0 = now();
        if (cb_ann_search(ann, q + i * dim, 1, 10, NULL, s, id) != CEREBRO_OK) {
            free(lat);
            return -1;
        }
        lat[i] = now() - t0;
        for (int j = 0; truth && j < 10; j++)
            for (int t = 0; t < 10; t++)
                hits += id[j] >= 0 && id[j] == truth[i * 10 + t];
    }
    qsort(lat, nq, sizeof *lat, cmp_double);
    r->p50_ms = lat[nq / 2] * 1e3;
    r->p99_ms = lat[(nq * 99) / 100 < nq ? (nq * 99) / 100 : nq - 1] * 1e3;
    r->recall = truth ? (double)hits / (double)(nq * 10) : 1.0;
    free(lat);
    return 0;
}

static int build(uint32_t dim, const char *factory, const float *x, const int64_t *ids, size_t n, cb_ann **ann,
                 row *r)
{
    double t0 = now();
    if (cb_ann_build(dim, factory, 0, x, ids, n, ann) != CEREBRO_OK)
        return -1;
    r->build_s = now() - t0;
    r->n = n;
    r->memory_mb = cb_ann_memory(*ann) / 1e6;
    snprintf(r->structure, sizeof r->structure, "%s", cb_ann_structure(*ann));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"n", required_argument, NULL, 'n'},       {"dim", required_argument, NULL, 'd'},
        {"clusters", required_argument, NULL, 'c'}, {"spread", required_argument, NULL, 's'},
        {"queries", required_argument, NULL, 'q'}, {"flat-n", required_argument, NULL, 'f'},
        {"factory", required_argument, NULL, 'F'}, {"uniform", no_argument, NULL, 'u'},
        {"target", required_argument, NULL, 't'},  {NULL, 0, NULL, 0}};
    size_t n = 1000000, clusters = 0, nq = 1000, flat_n = 100000;
    uint32_t dim = 512;
    float spread = 1.0f;
    double target = 0.95;
    const char *factory = NULL;
    int c, uniform = 0;
    while ((c = getopt_long(argc, argv, "n:d:c:s:q:f:F:ut:", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'd': dim = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'c': clusters = strtoull(optarg, NULL, 10); break;
        case 's': spread = strtof(optarg, NULL); break;
        case 'q': nq = strtoull(optarg, NULL, 10); break;
        case 'f': flat_n = strtoull(optarg, NULL, 10); break;
        case 'F': factory = optarg; break;
        case 'u': uniform = 1; break;
        case 't': target = strtod(optarg, NULL); break;
        default: return 2;
        }
    }
    if (n < 10 || dim == 0 || nq == 0 || optind != argc) {
        fprintf(stderr, "usage: bench_ann [--n N] [--dim D] [--clusters C] [--spread S] [--queries Q] "
                        "[--flat-n M] [--factory F] [--uniform] [--target T]\n");
        return 2;
    }
    if (uniform) {
        clusters = 1;
        spread = 1e4f;
    }
    if (clusters == 0)
        clusters = n / 1000 > 16 ? n / 1000 : 16;
    if (flat_n > n)
        flat_n = n;

    float *x = malloc(n * dim * sizeof(float)), *q = malloc(nq * dim * sizeof(float));
    int64_t *ids = malloc(n * sizeof(int64_t)), *truth = malloc(nq * 10 * sizeof(int64_t));
    float *scores = malloc(nq * 10 * sizeof(float));
    if (!x || !q || !ids || !truth || !scores ||
        clustered_vectors(x, n, dim, clusters, spread, 1, 2) != 0 ||
        clustered_vectors(q, nq, dim, clusters, spread, 1, 3) != 0) {
        fprintf(stderr, "bench_ann: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)i + 1;
    if (uniform)
        printf("data: %zu x %u uniform random unit vectors, %zu held-out queries\n", n, dim, nq);
    else
        printf("data: %zu x %u clustered vectors (%zu clusters, spread %.2f), %zu held-out queries\n", n, dim,
               clusters, spread, nq);
    fflush(stdout);

    /* Ground truth from an exact index over everything, freed before the
     * measured build so that the two never share memory. */
    cb_ann *ann = NULL;
    row rows[3];
    memset(rows, 0, sizeof rows);
    double t0 = now();
    if (cb_ann_build(dim, "Flat", 0, x, ids, n, &ann) != CEREBRO_OK ||
        cb_ann_search(ann, q, nq, 10, NULL, scores, truth) != CEREBRO_OK)
        return fail("exact ground truth");
    cb_ann_free(ann);
    printf("ground truth (exact, batched): %.1f s\n", now() - t0);
    fflush(stdout);

    if (build(dim, factory, x, ids, n, &ann, &rows[0]) != 0)
        return fail("build");
    if (measure(ann, q, nq, dim, truth, &rows[0]) != 0)
        return fail("search");
    if (cb_ann_recall_at_10(ann, x, ids, n, CB_ANN_TUNE_QUERIES, &rows[0].recall_in_sample) != CEREBRO_OK)
        return fail("recall");

    /* What the store does after every build: tune to the target. */
    cb_ann_tuning tuning;
    t0 = now();
    if (cb_ann_tune(ann, x, ids, n, target, CB_ANN_TUNE_QUERIES, &tuning) != CEREBRO_OK)
        return fail("tune");
    double tune_s = now() - t0;
    rows[1] = rows[0];
    snprintf(rows[1].structure, sizeof rows[1].structure, "%s", cb_ann_structure(ann));
    rows[1].recall_in_sample = tuning.recall;
    if (measure(ann, q, nq, dim, truth, &rows[1]) != 0)
        return fail("search");
    printf("tuning to recall@10 >= %.3f: %s %u -> %u (%s), in-sample recall@10 %.4f -> %.4f, %u searches "
           "of %d queries, %.2f s\n",
           target, tuning.parameter[0] ? tuning.parameter : "(nothing to tune)", tuning.before, tuning.value,
           tuning.reached ? "reached" : "NOT reached", tuning.recall_before, tuning.recall, tuning.evaluations,
           CB_ANN_TUNE_QUERIES, tune_s);
    fflush(stdout);
    cb_ann_free(ann);

    /* The exact structure at the size where libcerebro stops using it. */
    if (build(dim, "Flat", x, ids, flat_n, &ann, &rows[2]) != 0 || measure(ann, q, nq, dim, NULL, &rows[2]) != 0)
        return fail("flat");
    rows[2].recall_in_sample = 1.0;
    cb_ann_free(ann);

    printf("\n%-28s %9s %9s %10s %10s %10s %8s %8s\n", "structure", "n", "build_s", "memory_MB", "recall@10",
           "in-sample", "p50_ms", "p99_ms");
    for (int i = 0; i < 3; i++)
        printf("%-28s %9zu %9.1f %10.1f %10.4f %10.4f %8.3f %8.3f\n", rows[i].structure, rows[i].n,
               rows[i].build_s, rows[i].memory_mb, rows[i].recall, rows[i].recall_in_sample, rows[i].p50_ms,
               rows[i].p99_ms);
    free(x);
    free(q);
    free(ids);
    free(truth);
    free(scores);
    return 0;
}
