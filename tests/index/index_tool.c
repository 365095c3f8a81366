/* A small command-line front end to the store for tests and benchmarks that
 * drive libcerebro from another process (tests/index/kill_test.py kills it
 * while it indexes; bench/bench_index.py times it).
 *
 *   index_tool add STORE MODEL PATH [BATCH COMMIT WORKERS [K QUERY...]]
 *       index PATH incrementally; prints "added updated skipped removed
 *       failed", then runs the queries as `search` does
 *   index_tool search STORE MODEL K QUERY...
 *       each QUERY is "text:WORDS" or "vector:SEED" (a seeded unit vector);
 *       prints "score<TAB>path" per hit, best first, and "--" after each
 *   index_tool stats STORE MODEL
 *       print "count files failed structure"
 *
 * Every command opens the store read-write, so a store left by a killed
 * process is recovered (its stale ANN rebuilt) before anything else. Exit
 * status 0 on success, 1 on a libcerebro error (printed on stderr). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"

static int fail(const char *what, cerebro_status st)
{
    fprintf(stderr, "index_tool: %s: %s: %s\n", what, cerebro_status_string(st), cerebro_last_error());
    return 1;
}

static uint32_t arg_u32(const char *s, uint32_t fallback)
{
    return s ? (uint32_t)strtoul(s, NULL, 10) : fallback;
}

/* The same pseudo-random unit vector for a seed on every run. */
static void seeded_vector(float *v, uint32_t dim, uint32_t seed)
{
    uint64_t s = 0x2545f4914f6cdd1dull ^ (seed + 1ull);
    double ss = 0;
    for (uint32_t i = 0; i < dim; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = (float)((double)(s % 20001) / 10000.0 - 1.0);
        ss += (double)v[i] * v[i];
    }
    for (uint32_t i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(ss));
}

/* Runs one "text:..." or "vector:SEED" query and prints its hits. */
static cerebro_status search(cerebro_index *idx, const cerebro_model *model, uint32_t k, const char *query)
{
    cerebro_search_options o;
    cerebro_results *r = NULL;
    cerebro_status st;

    cerebro_search_options_init(&o);
    o.k = k;
    o.min_relevance = 0; /* compared run against run: the k nearest, however poor */
    if (strncmp(query, "text:", 5) == 0) {
        st = cerebro_index_search_text(idx, query + 5, &o, &r);
    } else if (strncmp(query, "vector:", 7) == 0) {
        uint32_t dim = cerebro_model_dim(model);
        float *v = malloc(dim * sizeof *v);
        if (!v)
            return CEREBRO_E_NOMEM;
        seeded_vector(v, dim, arg_u32(query + 7, 0));
        st = cerebro_index_search_vector(idx, v, &o, &r);
        free(v);
    } else {
        fprintf(stderr, "index_tool: a query is text:WORDS or vector:SEED, not %s\n", query);
        return CEREBRO_E_INVALID;
    }
    if (st != CEREBRO_OK)
        return st;
    for (size_t i = 0; i < cerebro_results_count(r); i++) {
        cerebro_hit hit;
        cerebro_results_get(r, i, &hit);
        printf("%.7f\t%s\n", hit.score, hit.path);
    }
    printf("--\n");
    cerebro_results_free(r);
    return CEREBRO_OK;
}

static int run(cerebro_index *idx, const cerebro_model *model, int argc, char **argv)
{
    const char *cmd = argv[1];
    cerebro_status st;

    if (strcmp(cmd, "add") == 0 && argc >= 5) {
        cerebro_add_options o;
        cerebro_add_stats s;
        const char *paths[1] = {argv[4]};
        cerebro_add_options_init(&o);
        o.batch_size = arg_u32(argc > 5 ? argv[5] : NULL, 0);
        o.commit_every = arg_u32(argc > 6 ? argv[6] : NULL, 0);
        o.n_workers = arg_u32(argc > 7 ? argv[7] : NULL, 0);
        if ((st = cerebro_index_add(idx, paths, 1, &o, &s)) != CEREBRO_OK)
            return fail(argv[4], st);
        printf("%llu %llu %llu %llu %llu\n", (unsigned long long)s.added, (unsigned long long)s.updated,
               (unsigned long long)s.skipped, (unsigned long long)s.removed, (unsigned long long)s.failed);
        for (int i = 9; i < argc; i++)
            if ((st = search(idx, model, arg_u32(argv[8], 10), argv[i])) != CEREBRO_OK)
                return fail(argv[i], st);
        return 0;
    }
    if (strcmp(cmd, "search") == 0 && argc >= 6) {
        for (int i = 5; i < argc; i++)
            if ((st = search(idx, model, arg_u32(argv[4], 10), argv[i])) != CEREBRO_OK)
                return fail(argv[i], st);
        return 0;
    }
    if (strcmp(cmd, "stats") == 0) {
        cerebro_index_stats s;
        if ((st = cerebro_index_stats_get(idx, &s)) != CEREBRO_OK)
            return fail("stats", st);
        printf("%llu %llu %llu %s\n", (unsigned long long)s.count, (unsigned long long)s.files,
               (unsigned long long)s.failed, s.structure);
        return 0;
    }
    fprintf(stderr, "index_tool: unknown command or missing arguments: %s\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    cerebro_model *model = NULL;
    cerebro_index *idx = NULL;
    cerebro_model_options mo;
    cerebro_status st;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: index_tool add|search|stats STORE MODEL ...\n");
        return 2;
    }
    cerebro_model_options_init(&mo);
    mo.precision = CEREBRO_PRECISION_FP32;
    mo.n_threads = arg_u32(getenv("INDEX_TOOL_THREADS"), 0);
    if ((st = cerebro_model_open(&model, argv[3], &mo)) != CEREBRO_OK)
        return fail(argv[3], st);
    if ((st = cerebro_index_open(&idx, argv[2], model, NULL)) != CEREBRO_OK) {
        cerebro_model_free(model);
        return fail(argv[2], st);
    }
    rc = run(idx, model, argc, argv);
    cerebro_index_free(idx);
    cerebro_model_free(model);
    return rc;
}
