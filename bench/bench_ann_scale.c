/* bench_ann_scale: the ANN structure libcerebro chooses for N vectors under
 * a memory budget, built the way a collection larger than memory must be:
 * trained on a sample, then filled chunk by chunk, never holding all the
 * vectors (docs/scaling.md uses it for 1M and 10M 512-d vectors).
 *
 *   bench_ann_scale --n N [--dim D] [--budget MB] [--chunk C] [--queries Q]
 *                   [--factory F] [--stop-after M]
 *
 * --stop-after M: the structure chosen and trained for N, but only the first
 * M vectors added (and searched): the add rate and memory per vector then
 * extrapolate to N where building all of it takes longer than the machine
 * can give (docs/scaling.md says which figures are extrapolated).
 *
 * Vectors: tests/index/clustered.h, N/1000 clusters (spread 1), generated
 * per chunk (generation time is not counted). The structure is
 * cb_ann_choose(N, D, budget) unless --factory names one; it is built
 * (trained) on the first max(100000, 64 * nlist) vectors, the sample
 * cb_ann_build trains on, and the rest added in chunks of C. Printed: build
 * (train + first add) and add times, the index's memory, peak RSS, and the
 * recall@10 of Q held-out queries from the same clusters against exact
 * search over all N (computed chunk by chunk with a Flat index), with the
 * single-query latency at the chosen nprobe. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "index/ann.h"
#include "index/clustered.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench_ann_scale: %s: %s\n", what, cerebro_last_error());
    return 1;
}

typedef struct data {
    size_t n, clusters;
    uint32_t dim;
} data;

/* Vectors [first, first + count) of the collection (chunked by `chunk`:
 * each chunk has its own point seed, so a chunk is regenerated identically). */
static int generate(const data *d, size_t chunk_index, size_t count, float *x)
{
    return clustered_vectors(x, count, d->dim, d->clusters, 1.0f, 1, 1000 + chunk_index);
}

/* Merges a chunk's top 10 (scores/ids, best first) into the running top 10. */
static void merge_top(float *best_s, int64_t *best_i, const float *s, const int64_t *ids)
{
    float ms[10];
    int64_t mi[10];
    int a = 0, b = 0;
    for (int k = 0; k < 10; k++) {
        if (b >= 10 || ids[b] < 0 || (a < 10 && best_i[a] >= 0 && best_s[a] >= s[b])) {
            ms[k] = best_s[a];
            mi[k] = best_i[a++];
        } else {
            ms[k] = s[b];
            mi[k] = ids[b++];
        }
    }
    memcpy(best_s, ms, sizeof ms);
    memcpy(best_i, mi, sizeof mi);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"n", required_argument, NULL, 'n'},       {"dim", required_argument, NULL, 'd'},
        {"budget", required_argument, NULL, 'b'},  {"chunk", required_argument, NULL, 'c'},
        {"queries", required_argument, NULL, 'q'}, {"factory", required_argument, NULL, 'F'},
        {"stop-after", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    data d = {1000000, 0, 512};
    size_t chunk = 200000, nq = 200, stop = 0;
    uint64_t budget_mb = 0;
    const char *factory = NULL;
    char chosen[128];
    int c;

    while ((c = getopt_long(argc, argv, "n:d:b:c:q:F:s:", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': d.n = strtoull(optarg, NULL, 10); break;
        case 'd': d.dim = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'b': budget_mb = strtoull(optarg, NULL, 10); break;
        case 'c': chunk = strtoull(optarg, NULL, 10); break;
        case 'q': nq = strtoull(optarg, NULL, 10); break;
        case 'F': factory = optarg; break;
        case 's': stop = strtoull(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (d.n < 1000 || d.dim == 0 || chunk == 0 || nq == 0)
        return 2;
    d.clusters = d.n / 1000;
    cb_ann_choose(d.n, d.dim, budget_mb << 20, chosen, sizeof chosen);
    if (!factory)
        factory = chosen;
    /* The training sample cb_ann_build takes: max(100000, 64 * nlist). */
    unsigned nlist = 0;
    sscanf(factory, "IVF%u", &nlist);
    size_t first = 64 * (size_t)nlist > 100000 ? 64 * (size_t)nlist : 100000;
    if (first > d.n)
        first = d.n;
    if (chunk < first)
        chunk = first; /* chunk 0 holds the training sample */
    size_t total = stop && stop < d.n ? stop : d.n; /* vectors actually added */
    if (total < first)
        total = first;
    size_t chunks = (total + chunk - 1) / chunk;
    float *x = malloc(chunk * d.dim * sizeof *x), *q = malloc(nq * d.dim * sizeof *q);
    int64_t *ids = malloc(chunk * sizeof *ids);
    if (!x || !q || !ids || clustered_vectors(q, nq, d.dim, d.clusters, 1.0f, 1, 7) != 0)
        return fail("out of memory");
    printf("data: %zu x %u clustered vectors (%zu clusters), budget %llu MB, structure %s; adding %zu\n", d.n,
           d.dim, d.clusters, (unsigned long long)budget_mb, factory, total);
    fflush(stdout);

    cb_ann *ann = NULL;
    double gen = 0, build = 0, add = 0, cpu_build = 0, cpu_add = 0;
    for (size_t ci = 0; ci < chunks; ci++) {
        size_t lo = ci * chunk, count = total - lo < chunk ? total - lo : chunk;
        double t0 = now();
        if (generate(&d, ci, count, x) != 0)
            return fail("out of memory");
        for (size_t i = 0; i < count; i++)
            ids[i] = (int64_t)(lo + i);
        double t1 = now(), c1 = cpu_seconds();
        gen += t1 - t0;
        if (ci == 0) {
            if (cb_ann_build(d.dim, factory, budget_mb << 20, x, ids, count, &ann) != CEREBRO_OK)
                return fail(factory);
            build = now() - t1;
            cpu_build = cpu_seconds() - c1;
            printf("build_seconds %.1f s, cpu %.1f s (train on %zu + add %zu)\n", build, cpu_build, first, count);
        } else {
            if (cb_ann_add(ann, x, ids, count) != CEREBRO_OK)
                return fail("add");
            add += now() - t1;
            cpu_add += cpu_seconds() - c1;
        }
        printf("  %zu / %zu vectors, %.0f s\n", lo + count, total, build + add);
        fflush(stdout);
    }
    printf("add_seconds %.1f s, cpu %.1f s (%.0f vectors/s after the first chunk)\n", add, cpu_add,
           total > chunk ? (double)(total - chunk) / add : 0.0);
    printf("generate_seconds %.1f s (not counted)\n", gen);
    printf("ann_memory %.0f MB (%.1f bytes per vector)\n", (double)cb_ann_memory(ann) / 1048576.0,
           (double)cb_ann_memory(ann) / (double)total);
    printf("structure_used %s\n", cb_ann_structure(ann));
    fflush(stdout);

    /* Exact top 10 of the held-out queries, chunk by chunk. */
    float *best_s = malloc(nq * 10 * sizeof *best_s), *s = malloc(nq * 10 * sizeof *s);
    int64_t *best_i = malloc(nq * 10 * sizeof *best_i), *got = malloc(nq * 10 * sizeof *got);
    if (!best_s || !s || !best_i || !got)
        return fail("out of memory");
    for (size_t i = 0; i < nq * 10; i++) {
        best_s[i] = -2;
        best_i[i] = -1;
    }
    double t0 = now();
    for (size_t ci = 0; ci < chunks; ci++) {
        size_t lo = ci * chunk, count = total - lo < chunk ? total - lo : chunk;
        cb_ann *flat = NULL;
        generate(&d, ci, count, x);
        for (size_t i = 0; i < count; i++)
            ids[i] = (int64_t)(lo + i);
        if (cb_ann_build(d.dim, "Flat", 0, x, ids, count, &flat) != CEREBRO_OK ||
            cb_ann_search(flat, q, nq, 10, NULL, s, got) != CEREBRO_OK)
            return fail("exact search");
        for (size_t j = 0; j < nq; j++)
            merge_top(best_s + j * 10, best_i + j * 10, s + j * 10, got + j * 10);
        cb_ann_free(flat);
    }
    printf("exact_seconds %.1f s (truth for %zu queries, not counted)\n", now() - t0, nq);

    double *lat = malloc(nq * sizeof *lat);
    size_t hits = 0;
    for (size_t j = 0; j < nq; j++) {
        double q0 = now();
        if (cb_ann_search(ann, q + j * d.dim, 1, 10, NULL, s, got) != CEREBRO_OK)
            return fail("search");
        lat[j] = (now() - q0) * 1e3;
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++)
                hits += got[a] >= 0 && got[a] == best_i[j * 10 + b];
    }
    qsort(lat, nq, sizeof *lat, cmp_double);
    printf("recall_at_10 %.4f (%zu held-out queries)\n", (double)hits / (double)(nq * 10), nq);
    printf("latency_p50 %.3f ms\n", lat[nq / 2]);
    printf("latency_p99 %.3f ms\n", lat[(nq * 99) / 100 < nq ? (nq * 99) / 100 : nq - 1]);
    printf("peak_rss %.0f MB\n", peak_rss_mb());
    cb_ann_free(ann);
    free(x);
    free(q);
    free(ids);
    free(best_s);
    free(best_i);
    free(s);
    free(got);
    free(lat);
    return 0;
}
