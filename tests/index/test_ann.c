/* The FAISS shim (lib/index/ann.h) against a brute-force reference: exact
 * search, add/remove, filters, persistence and damaged files, errors with
 * FAISS's message, a full disk while writing, concurrent searches, recall of an IVF index on clustered
 * data, the structure chosen per collection size and memory budget, and tuning of the search
 * parameter to a recall target on uniform and clustered data. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/ann.h"
#include "index/clustered.h"

enum { DIM = 64 };

typedef struct vecs {
    float *x;
    int64_t *ids;
    size_t n;
} vecs;

/* n random unit vectors (one cluster per vector: no structure) with sparse,
 * unordered ids, so positions and ids never coincide. */
static vecs random_data(size_t n, uint64_t seed)
{
    vecs d = {malloc(n * DIM * sizeof(float)), malloc(n * sizeof(int64_t)), n};
    ck_assert(d.x && d.ids);
    ck_assert_int_eq(clustered_vectors(d.x, n, DIM, 1, 1000.0f, seed, seed + 1), 0);
    for (size_t i = 0; i < n; i++)
        d.ids[i] = (int64_t)((i * 7919) % n) * 10 + 3;
    return d;
}

static void free_data(vecs *d)
{
    free(d->x);
    free(d->ids);
}

static const char *tmp_path(const char *name)
{
    static char path[1024];
    const char *dir = getenv("CEREBRO_TEST_TMP");
    dir = dir ? dir : "/tmp";
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static int allowed(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* Top-k by brute force over the vectors whose id passes `keep` (all when
 * keep is NULL) and is not in `gone`. */
static void brute_force(const vecs *d, const float *q, uint32_t k, const int64_t *keep, size_t nkeep,
                        const int64_t *gone, size_t ngone, float *scores, int64_t *ids)
{
    for (uint32_t j = 0; j < k; j++) {
        scores[j] = -FLT_MAX;
        ids[j] = -1;
    }
    for (size_t i = 0; i < d->n; i++) {
        if ((keep && !allowed(keep, nkeep, d->ids[i])) || allowed(gone, ngone, d->ids[i]))
            continue;
        double s = 0;
        for (int t = 0; t < DIM; t++)
            s += (double)q[t] * d->x[i * DIM + t];
        uint32_t j = k;
        while (j > 0 && s > scores[j - 1]) {
            if (j < k) {
                scores[j] = scores[j - 1];
                ids[j] = ids[j - 1];
            }
            j--;
        }
        if (j < k) {
            scores[j] = (float)s;
            ids[j] = d->ids[i];
        }
    }
}

/* Searches nq queries and checks them against brute force, ids exactly and
 * scores to float rounding. */
static void check_exact(const cb_ann *ann, const vecs *d, const float *q, size_t nq, uint32_t k,
                        const cb_ann_filter *f, const int64_t *gone, size_t ngone)
{
    float *s = malloc(nq * k * sizeof(float)), want_s[64];
    int64_t *id = malloc(nq * k * sizeof(int64_t)), want_id[64];
    ck_assert_uint_le(k, 64);
    ck_assert_int_eq(cb_ann_search(ann, q, nq, k, f, s, id), CEREBRO_OK);
    for (size_t i = 0; i < nq; i++) {
        brute_force(d, q + i * DIM, k, f ? f->ids : NULL, f ? f->n : 0, gone, ngone, want_s, want_id);
        for (uint32_t j = 0; j < k; j++) {
            ck_assert_msg(id[i * k + j] == want_id[j], "query %zu rank %u: id %lld, want %lld", i, j,
                          (long long)id[i * k + j], (long long)want_id[j]);
            ck_assert_float_eq_tol(s[i * k + j], want_s[j], 1e-5f);
        }
    }
    free(s);
    free(id);
}

START_TEST(test_exact_equals_brute_force)
{
    vecs d = random_data(3000, 11), q = random_data(25, 99);
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, NULL, 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_str_eq(cb_ann_structure(ann), "Flat");
    ck_assert_int_eq(cb_ann_is_exact(ann), 1);
    ck_assert_uint_eq(cb_ann_count(ann), 3000);
    ck_assert_uint_eq(cb_ann_dim(ann), DIM);
    ck_assert_uint_ge(cb_ann_memory(ann), 3000u * DIM * 4);
    ck_assert_uint_le(cb_ann_memory(ann), 3000u * (DIM * 4 + 128));
    check_exact(ann, &d, q.x, 1, 10, NULL, NULL, 0);    /* one query: the shim's own scan */
    check_exact(ann, &d, q.x, 25, 10, NULL, NULL, 0);   /* 25 queries: FAISS's BLAS path */
    double recall = 0;
    ck_assert_int_eq(cb_ann_recall_at_10(ann, d.x, d.ids, d.n, 100, &recall), CEREBRO_OK);
    ck_assert_double_eq(recall, 1.0);
    cb_ann_free(ann);
    free_data(&d);
    free_data(&q);
}
END_TEST

/* Up to 8 queries go through the shim's own scan, more through FAISS's:
 * both equal brute force on 40,000 vectors (1 and 8 queries, then 9),
 * k from 1 to 64; and the scan's tail for a dimension that is not a
 * multiple of its 8 partial sums (13). */
START_TEST(test_exact_scan)
{
    vecs d = random_data(40000, 5), q = random_data(9, 7);
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, NULL, 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_is_exact(ann), 1);
    check_exact(ann, &d, q.x, 1, 1, NULL, NULL, 0);
    check_exact(ann, &d, q.x, 8, 64, NULL, NULL, 0);
    check_exact(ann, &d, q.x, 9, 10, NULL, NULL, 0);
    cb_ann_free(ann);

    enum { N13 = 500, D13 = 13 };
    static float x[N13 * D13];
    static int64_t ids[N13];
    float query[D13], s[3];
    int64_t got[3], best = -1;
    double best_s = -1e30;
    for (size_t i = 0; i < N13 * D13; i++)
        x[i] = d.x[i] - 0.5f * d.x[i + 7];
    for (size_t i = 0; i < D13; i++)
        query[i] = q.x[i];
    for (int64_t i = 0; i < N13; i++) {
        double v = 0;
        for (size_t t = 0; t < D13; t++)
            v += (double)x[i * D13 + t] * query[t];
        ids[i] = 1000 + i;
        if (v > best_s) {
            best_s = v;
            best = ids[i];
        }
    }
    ck_assert_int_eq(cb_ann_build(D13, NULL, 0, x, ids, N13, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_search(ann, query, 1, 3, NULL, s, got), CEREBRO_OK);
    ck_assert_int_eq(got[0], best);
    ck_assert_float_eq_tol(s[0], (float)best_s, 1e-4f);
    ck_assert(s[0] >= s[1] && s[1] >= s[2]);
    cb_ann_free(ann);
    free_data(&d);
    free_data(&q);
}
END_TEST

START_TEST(test_k_clipped_to_count)
{
    vecs d = random_data(5, 3);
    cb_ann *ann = NULL;
    float s[8];
    int64_t id[8];
    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_search(ann, d.x, 1, 8, NULL, s, id), CEREBRO_OK);
    ck_assert_int_eq(id[0], d.ids[0]);
    for (int j = 1; j < 5; j++)
        ck_assert_int_ge(id[j], 0);
    for (int j = 5; j < 8; j++) {
        ck_assert_int_eq(id[j], -1);
        ck_assert_float_eq(s[j], -FLT_MAX);
    }
    cb_ann_free(ann);

    /* Empty index: every result is missing. */
    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, NULL, NULL, 0, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_search(ann, d.x, 1, 4, NULL, s, id), CEREBRO_OK);
    for (int j = 0; j < 4; j++)
        ck_assert_int_eq(id[j], -1);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

/* Builds from the first half, adds the second, removes every third id plus
 * ids that were never there, and compares with brute force. IVF16 probing
 * all 16 lists is exact, so both structures must match exactly. */
static void add_remove(const char *factory)
{
    vecs d = random_data(2000, 21), q = random_data(20, 77);
    cb_ann *ann = NULL;
    size_t half = d.n / 2, removed = 99;
    ck_assert_int_eq(cb_ann_build(DIM, factory, 0, d.x, d.ids, half, &ann), CEREBRO_OK);
    ck_assert_uint_eq(cb_ann_count(ann), half);
    ck_assert_int_eq(cb_ann_add(ann, d.x + half * DIM, d.ids + half, d.n - half), CEREBRO_OK);
    ck_assert_uint_eq(cb_ann_count(ann), d.n);

    int64_t gone[700];
    size_t ngone = 0;
    for (size_t i = 0; i < d.n; i += 3)
        gone[ngone++] = d.ids[i];
    gone[ngone++] = -5;
    gone[ngone++] = 1000000007;
    ck_assert_int_eq(cb_ann_remove(ann, gone, ngone, &removed), CEREBRO_OK);
    ck_assert_uint_eq(removed, ngone - 2);
    ck_assert_uint_eq(cb_ann_count(ann), d.n - (ngone - 2));
    /* The queries include removed vectors themselves: they must not come back. */
    float *qs = malloc(40 * DIM * sizeof(float));
    memcpy(qs, q.x, 20 * DIM * sizeof(float));
    for (int i = 0; i < 20; i++)
        memcpy(qs + (20 + i) * DIM, d.x + (size_t)(3 * i) * DIM, DIM * sizeof(float));
    check_exact(ann, &d, qs, 40, 10, NULL, gone, ngone);
    /* Removing again finds nothing. */
    ck_assert_int_eq(cb_ann_remove(ann, gone, ngone, &removed), CEREBRO_OK);
    ck_assert_uint_eq(removed, 0);
    free(qs);
    cb_ann_free(ann);
    free_data(&d);
    free_data(&q);
}

START_TEST(test_add_remove_flat)
{
    add_remove("Flat");
}
END_TEST

START_TEST(test_add_remove_ivf)
{
    add_remove("IVF16,Flat|nprobe=16");
}
END_TEST

START_TEST(test_hnsw_remove_unsupported)
{
    vecs d = random_data(500, 5);
    cb_ann *ann = NULL;
    size_t removed = 7;
    ck_assert_int_eq(cb_ann_build(DIM, "HNSW16", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_str_eq(cb_ann_structure(ann), "HNSW16|efSearch=128");
    ck_assert_int_eq(cb_ann_is_exact(ann), 0);
    ck_assert_int_eq(cb_ann_remove(ann, d.ids, 3, &removed), CEREBRO_E_UNSUPPORTED);
    ck_assert_uint_eq(removed, 0);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "cannot remove"));
    ck_assert_uint_eq(cb_ann_count(ann), 500);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

/* Filters: sorted id lists, dense (bitmap) and sparse (hash set). */
static int64_t *every_nth_id(const vecs *d, size_t step, size_t *n)
{
    int64_t *ids = malloc(d->n * sizeof(int64_t));
    *n = 0;
    for (size_t i = 0; i < d->n; i += step)
        ids[(*n)++] = d->ids[i];
    for (size_t i = 1; i < *n; i++) /* insertion sort: the contract says sorted */
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return ids;
}

START_TEST(test_filter_exact)
{
    vecs d = random_data(3000, 31), q = random_data(25, 41);
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    size_t n;
    int64_t *keep = every_nth_id(&d, 7, &n);
    cb_ann_filter f = {keep, n};
    check_exact(ann, &d, q.x, 1, 10, &f, NULL, 0);
    check_exact(ann, &d, q.x, 25, 10, &f, NULL, 0);

    /* Sparse ids (hash-set path): a build whose ids are far apart. */
    cb_ann *sparse = NULL;
    vecs ds = d;
    ds.ids = malloc(d.n * sizeof(int64_t));
    for (size_t i = 0; i < d.n; i++)
        ds.ids[i] = d.ids[i] * 1000000007;
    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, ds.x, ds.ids, ds.n, &sparse), CEREBRO_OK);
    int64_t *keep_sparse = every_nth_id(&ds, 5, &n);
    cb_ann_filter fs = {keep_sparse, n};
    check_exact(sparse, &ds, q.x, 25, 10, &fs, NULL, 0);

    /* Fewer allowed ids than k: the rest is missing. Empty filter: nothing. */
    cb_ann_filter three = {keep, 3};
    float s[10];
    int64_t id[10];
    ck_assert_int_eq(cb_ann_search(ann, q.x, 1, 10, &three, s, id), CEREBRO_OK);
    for (int j = 0; j < 3; j++)
        ck_assert(allowed(keep, 3, id[j]));
    for (int j = 3; j < 10; j++)
        ck_assert_int_eq(id[j], -1);
    cb_ann_filter none = {NULL, 0};
    ck_assert_int_eq(cb_ann_search(ann, q.x, 1, 10, &none, s, id), CEREBRO_OK);
    ck_assert_int_eq(id[0], -1);

    free(keep);
    free(keep_sparse);
    free(ds.ids);
    cb_ann_free(ann);
    cb_ann_free(sparse);
    free_data(&d);
    free_data(&q);
}
END_TEST

/* Approximate structures: every hit is allowed; a selective filter still
 * finds min(k, allowed) hits (the search widens instead of coming back
 * short); hits come best first (at least min_top1 of 20 top hits equal
 * brute force's); IVF probing every list equals brute force. */
static void filter_approximate(const char *factory, size_t step, int exact, size_t min_top1)
{
    vecs d = random_data(3000, 51), q = random_data(20, 61);
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, factory, 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    size_t n;
    int64_t *keep = every_nth_id(&d, step, &n);
    cb_ann_filter f = {keep, n};
    float s[20 * 10];
    int64_t id[20 * 10];
    ck_assert_int_eq(cb_ann_search(ann, q.x, 20, 10, &f, s, id), CEREBRO_OK);
    size_t found = 0;
    for (int i = 0; i < 20 * 10; i++) {
        if (id[i] < 0)
            continue;
        ck_assert_msg(allowed(keep, n, id[i]), "%s returned id %lld outside the filter", factory,
                      (long long)id[i]);
        found++;
    }
    ck_assert_uint_ge(found, exact ? 200 : 180);
    /* Best first: the top hit is the brute-force best for most queries. */
    size_t top1 = 0;
    for (int i = 0; i < 20; i++) {
        float ws[1];
        int64_t wi[1];
        brute_force(&d, q.x + i * DIM, 1, keep, n, NULL, 0, ws, wi);
        top1 += id[i * 10] == wi[0];
    }
    ck_assert_uint_ge(top1, min_top1);
    if (exact)
        check_exact(ann, &d, q.x, 20, 10, &f, NULL, 0);
    free(keep);
    cb_ann_free(ann);
    free_data(&d);
    free_data(&q);
}

START_TEST(test_filter_ivf)
{
    /* 10 of 3000 allowed: widened to all 32 lists, so exact. */
    filter_approximate("IVF32,Flat|nprobe=1", 300, 1, 20);
    filter_approximate("IVF32,SQ8|nprobe=2", 300, 0, 18);
    /* Half allowed: nprobe 4 of 32 lists, on unclustered data. */
    filter_approximate("IVF32,Flat|nprobe=2", 2, 0, 0);
}
END_TEST

START_TEST(test_filter_graph_and_codes)
{
    filter_approximate("HNSW16", 300, 1, 20); /* selective: the allowed vectors are scanned */
    filter_approximate("HNSW16", 2, 0, 16);   /* half: FAISS's graph walk with a selector */
    filter_approximate("SQ8", 7, 0, 18);
    filter_approximate("PQ16x8", 300, 0, 10); /* 4 dimensions per byte: coarse */
}
END_TEST

/* Results must be bit-identical after a write/read roundtrip. */
static void roundtrip(const char *factory, const char *file)
{
    vecs d = random_data(3000, 71), q = random_data(20, 81);
    cb_ann *ann = NULL, *back = NULL;
    const char *path = tmp_path(file);
    ck_assert_int_eq(cb_ann_build(DIM, factory, 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_write(ann, path), CEREBRO_OK);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_eq(cb_ann_read(path, &back), CEREBRO_OK);
    ck_assert_str_eq(cb_ann_structure(back), cb_ann_structure(ann));
    ck_assert_uint_eq(cb_ann_count(back), cb_ann_count(ann));
    ck_assert_uint_eq(cb_ann_dim(back), DIM);
    ck_assert_int_eq(cb_ann_is_exact(back), cb_ann_is_exact(ann));
    float s1[200], s2[200];
    int64_t i1[200], i2[200];
    ck_assert_int_eq(cb_ann_search(ann, q.x, 20, 10, NULL, s1, i1), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_search(back, q.x, 20, 10, NULL, s2, i2), CEREBRO_OK);
    ck_assert_mem_eq(i1, i2, sizeof i1);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    /* The read index still takes writes. */
    size_t removed = 0;
    if (strncmp(factory, "HNSW", 4) != 0) {
        ck_assert_int_eq(cb_ann_remove(back, d.ids, 10, &removed), CEREBRO_OK);
        ck_assert_uint_eq(removed, 10);
    }
    ck_assert_int_eq(cb_ann_add(back, d.x, d.ids, 10), CEREBRO_OK);
    cb_ann_free(ann);
    cb_ann_free(back);
    free_data(&d);
    free_data(&q);
}

START_TEST(test_roundtrip)
{
    roundtrip("Flat", "ann-flat.faiss");
    roundtrip("IVF32,Flat|nprobe=4", "ann-ivf.faiss");
    roundtrip("HNSW16|efSearch=40", "ann-hnsw.faiss");
    roundtrip("IVF16,PQ8x8", "ann-ivfpq.faiss");
    roundtrip("IDMap,Flat", "ann-idmap.faiss"); /* re-wrapped in an IDMap2 */
}
END_TEST

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    void *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void expect_corrupt(const char *path)
{
    cb_ann *ann = (cb_ann *)1;
    ck_assert_int_eq(cb_ann_read(path, &ann), CEREBRO_E_CORRUPT);
    ck_assert_ptr_null(ann);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), path));
}

START_TEST(test_damaged_files)
{
    vecs d = random_data(1000, 91);
    cb_ann *ann = NULL;
    const char *p = tmp_path("ann-good.faiss");
    char good[1024], bad[1100];
    snprintf(good, sizeof good, "%s", p);
    snprintf(bad, sizeof bad, "%s.bad", good);
    ck_assert_int_eq(cb_ann_build(DIM, "IVF8,Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_write(ann, good), CEREBRO_OK);
    size_t n;
    unsigned char *bytes = read_bytes(good, &n);

    size_t cuts[] = {0, 1, 16, n / 2, n - 40, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(bad, bytes, cuts[i]);
        expect_corrupt(bad);
    }
    /* One flipped byte inside FAISS's payload, then inside the trailer. */
    bytes[n / 3] ^= 0x5a;
    write_bytes(bad, bytes, n);
    expect_corrupt(bad);
    bytes[n / 3] ^= 0x5a;
    bytes[n - 20] ^= 0x01;
    write_bytes(bad, bytes, n);
    expect_corrupt(bad);
    /* Garbage of a plausible size. */
    for (size_t i = 0; i < n; i++)
        bytes[i] = (unsigned char)(i * 2654435761u >> 13);
    write_bytes(bad, bytes, n);
    expect_corrupt(bad);

    cb_ann *out = (cb_ann *)1;
    ck_assert_int_eq(cb_ann_read(tmp_path("no-such-index.faiss"), &out), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_null(out);
    /* Writing into a missing directory is an I/O error, not a crash. */
    ck_assert_int_eq(cb_ann_write(ann, tmp_path("no-such-dir/x.faiss")), CEREBRO_E_IO);
    free(bytes);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

START_TEST(test_errors_carry_faiss_message)
{
    vecs d = random_data(100, 3);
    cb_ann *ann = (cb_ann *)1;
    ck_assert_int_eq(cb_ann_build(DIM, "NoSuchIndex42", 0, d.x, d.ids, d.n, &ann), CEREBRO_E_INVALID);
    ck_assert_ptr_null(ann);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "NoSuchIndex42"));
    ck_assert_ptr_null(strstr(cerebro_last_error(), "Error in "));
    /* Unknown search parameter. */
    ck_assert_int_eq(cb_ann_build(DIM, "Flat|bogus=3", 0, d.x, d.ids, d.n, &ann), CEREBRO_E_INVALID);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "bogus"));
    /* More lists than training vectors: FAISS refuses, we report it. */
    ck_assert_int_eq(cb_ann_build(DIM, "IVF1024,Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_E_INVALID);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "IVF1024,Flat"));
    ck_assert_int_eq(cb_ann_build(DIM, "IVF4,Flat", 0, NULL, NULL, 0, &ann), CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_ann_build(0, "Flat", 0, NULL, NULL, 0, &ann), CEREBRO_E_INVALID);
    free_data(&d);
}
END_TEST

/* A full disk while the file is written: /dev/full behind the temporary
 * file's name. E_IO with the system's reason and the file, not FAISS's
 * internals; the temporary name is removed and the final one never made. */
START_TEST(test_write_to_full_disk)
{
    vecs d = random_data(2000, 5); /* 500 KiB: FAISS's own writes fail, not only the flush */
    cb_ann *ann = NULL;
    char path[1024], tmp[1100];
    struct stat sb;

    snprintf(path, sizeof path, "%s", tmp_path("full.faiss"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(path);
    unlink(tmp);
    ck_assert_int_eq(symlink("/dev/full", tmp), 0);
    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_write(ann, path), CEREBRO_E_IO);
    char want[1200];
    snprintf(want, sizeof want, "%s: write failed: No space left on device", tmp);
    ck_assert_str_eq(cerebro_last_error(), want);
    ck_assert_int_ne(lstat(tmp, &sb), 0);
    ck_assert_int_ne(lstat(path, &sb), 0);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

typedef struct search_job {
    const cb_ann *ann;
    const float *q;
    size_t nq;
    float *scores;
    int64_t *ids;
    cerebro_status status;
} search_job;

/* Half the queries one by one, the other half as one batch. */
static void *search_thread(void *arg)
{
    search_job *j = arg;
    size_t half = j->nq / 2;
    j->status = CEREBRO_OK;
    for (int round = 0; round < 3 && j->status == CEREBRO_OK; round++) {
        for (size_t i = 0; i < half && j->status == CEREBRO_OK; i++)
            j->status = cb_ann_search(j->ann, j->q + i * DIM, 1, 10, NULL, j->scores + i * 10, j->ids + i * 10);
        if (j->status == CEREBRO_OK)
            j->status = cb_ann_search(j->ann, j->q + half * DIM, j->nq - half, 10, NULL, j->scores + half * 10,
                                      j->ids + half * 10);
    }
    return NULL;
}

START_TEST(test_concurrent_searches)
{
    enum { NQ = 60, THREADS = 4 };
    vecs d = random_data(4000, 101), q = random_data(NQ, 111);
    const char *factories[] = {"Flat", "IVF32,Flat|nprobe=4", "HNSW16"};
    for (size_t f = 0; f < 3; f++) {
        cb_ann *ann = NULL;
        ck_assert_int_eq(cb_ann_build(DIM, factories[f], 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
        float want_s[NQ * 10];
        int64_t want_i[NQ * 10];
        for (size_t i = 0; i < NQ; i++)
            ck_assert_int_eq(cb_ann_search(ann, q.x + i * DIM, 1, 10, NULL, want_s + i * 10, want_i + i * 10),
                             CEREBRO_OK);
        pthread_t th[THREADS];
        search_job jobs[THREADS];
        for (int t = 0; t < THREADS; t++) {
            jobs[t] = (search_job){ann, q.x, NQ, malloc(NQ * 10 * sizeof(float)), malloc(NQ * 10 * sizeof(int64_t)),
                                   CEREBRO_E_INTERNAL};
            ck_assert_int_eq(pthread_create(&th[t], NULL, search_thread, &jobs[t]), 0);
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            ck_assert_int_eq(jobs[t].status, CEREBRO_OK);
            ck_assert_mem_eq(jobs[t].ids, want_i, sizeof want_i);
            for (size_t i = 0; i < NQ * 10; i++)
                ck_assert_float_eq_tol(jobs[t].scores[i], want_s[i], 1e-5f);
            free(jobs[t].scores);
            free(jobs[t].ids);
        }
        cb_ann_free(ann);
    }
    free_data(&d);
    free_data(&q);
}
END_TEST

START_TEST(test_ivf_recall_on_clustered_data)
{
    enum { N = 40000, CLUSTERS = 100 };
    float *x = malloc((size_t)N * DIM * sizeof(float));
    int64_t *ids = malloc(N * sizeof(int64_t));
    ck_assert_int_eq(clustered_vectors(x, N, DIM, CLUSTERS, 1.0f, 7, 8), 0);
    for (int64_t i = 0; i < N; i++)
        ids[i] = i + 1;
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, "IVF256,Flat|nprobe=8", 0, x, ids, N, &ann), CEREBRO_OK);
    /* Memory: float codes and an id per vector, plus the centroids. */
    ck_assert_uint_eq(cb_ann_memory(ann), (uint64_t)N * (DIM * 4 + 8) + 256 * DIM * 4);
    double recall = 0;
    ck_assert_int_eq(cb_ann_recall_at_10(ann, x, ids, N, 200, &recall), CEREBRO_OK);
    printf("recall@10 of %s on %d x %d clustered vectors: %.3f\n", cb_ann_structure(ann), N, DIM, recall);
    ck_assert_double_ge(recall, 0.9);
    ck_assert_double_le(recall, 1.0);
    /* The default nprobe for 256 lists is no worse. */
    cb_ann *dflt = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, "IVF256,Flat", 0, x, ids, N, &dflt), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_recall_at_10(dflt, x, ids, N, 200, &recall), CEREBRO_OK);
    ck_assert_str_eq(cb_ann_structure(dflt), "IVF256,Flat|nprobe=13");
    printf("recall@10 of %s: %.3f\n", cb_ann_structure(dflt), recall);
    ck_assert_double_ge(recall, 0.9);
    cb_ann_free(dflt);
    cb_ann_free(ann);
    free(x);
    free(ids);
}
END_TEST

/* recall@10 of nq held-out queries (not in the index) against brute force. */
static double held_out_recall(const cb_ann *ann, const vecs *d, const vecs *q, size_t nq)
{
    float s[10], want_s[10];
    int64_t id[10], want_id[10];
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++) {
        ck_assert_int_eq(cb_ann_search(ann, q->x + i * DIM, 1, 10, NULL, s, id), CEREBRO_OK);
        brute_force(d, q->x + i * DIM, 10, NULL, 0, NULL, 0, want_s, want_id);
        for (int j = 0; j < 10; j++)
            hits += id[j] >= 0 && allowed(want_id, 10, id[j]);
    }
    return (double)hits / (double)(nq * 10);
}

/* Tunes an index built from `factory` to 0.95 and checks what it chose:
 * recall reached in sample and on held-out queries, the value written into
 * the structure string (and kept by a file round trip), the same value
 * again on a second run, and that one less misses the target. Returns the
 * recall of held-out queries before tuning. */
static double check_tuning(const vecs *d, const vecs *q, const char *factory, const char *param)
{
    enum { NQ = 300 };
    cb_ann *ann = NULL, *again = NULL, *less = NULL, *back = NULL;
    cb_ann_tuning t, t2;
    char want[128], smaller[128];
    ck_assert_int_eq(cb_ann_build(DIM, factory, 0, d->x, d->ids, d->n, &ann), CEREBRO_OK);
    double before = held_out_recall(ann, d, q, NQ);
    ck_assert_int_eq(cb_ann_tune(ann, d->x, d->ids, d->n, 0.95, CB_ANN_TUNE_QUERIES, &t), CEREBRO_OK);
    double after = held_out_recall(ann, d, q, NQ);
    printf("%s: %s %u -> %u, in-sample recall@10 %.3f -> %.3f, held-out %.3f -> %.3f, %u searches\n", factory,
           t.parameter, t.before, t.value, t.recall_before, t.recall, before, after, t.evaluations);
    ck_assert_str_eq(t.parameter, param);
    ck_assert_int_eq(t.reached, 1);
    ck_assert_double_ge(t.recall, 0.95);
    /* Held-out queries: the sample's estimate carries a standard error
     * of about 0.005 at 0.95. HNSW finds stored vectors (the sample) more
     * easily than new ones: its graph links them to their neighbours. */
    ck_assert_double_ge(after, strcmp(param, "nprobe") == 0 ? 0.93 : 0.9);
    double recall = 0;
    ck_assert_int_eq(cb_ann_recall_at_10(ann, d->x, d->ids, d->n, CB_ANN_TUNE_QUERIES, &recall), CEREBRO_OK);
    ck_assert_double_eq(recall, t.recall);
    snprintf(want, sizeof want, "%s|%s=%u", factory, param, t.value);
    ck_assert_str_eq(cb_ann_structure(ann), want);
    ck_assert_int_eq(cb_ann_write(ann, tmp_path("tuned.faiss")), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_read(tmp_path("tuned.faiss"), &back), CEREBRO_OK);
    ck_assert_str_eq(cb_ann_structure(back), want);
    ck_assert_double_eq(held_out_recall(back, d, q, NQ), after);
    /* Deterministic: the same index (FAISS's HNSW construction is not
     * itself deterministic: its threads race to link) tunes the same. */
    ck_assert_int_eq(cb_ann_tune(back, d->x, d->ids, d->n, 0.95, CB_ANN_TUNE_QUERIES, &t2), CEREBRO_OK);
    ck_assert_uint_eq(t2.before, t.value);
    ck_assert_uint_eq(t2.value, t.value);
    ck_assert_double_eq(t2.recall, t.recall);
    ck_assert_double_eq(t2.recall_before, t.recall);
    /* The smallest value that reaches the target (k-means training is
     * deterministic: the same data builds the same IVF index). */
    if (strcmp(param, "nprobe") == 0 && t.value > 1) {
        ck_assert_int_eq(cb_ann_build(DIM, factory, 0, d->x, d->ids, d->n, &again), CEREBRO_OK);
        ck_assert_int_eq(cb_ann_tune(again, d->x, d->ids, d->n, 0.95, CB_ANN_TUNE_QUERIES, &t2), CEREBRO_OK);
        ck_assert_uint_eq(t2.value, t.value);
        ck_assert_double_eq(t2.recall, t.recall);
        snprintf(smaller, sizeof smaller, "%s|%s=%u", factory, param, t.value - 1);
        ck_assert_int_eq(cb_ann_build(DIM, smaller, 0, d->x, d->ids, d->n, &less), CEREBRO_OK);
        ck_assert_int_eq(cb_ann_recall_at_10(less, d->x, d->ids, d->n, CB_ANN_TUNE_QUERIES, &recall), CEREBRO_OK);
        ck_assert_double_lt(recall, 0.95);
    }
    cb_ann_free(less);
    cb_ann_free(again);
    cb_ann_free(back);
    cb_ann_free(ann);
    return before;
}

/* Uniform random vectors have no clusters for IVF to exploit: the fixed
 * nprobe (13 of 128 lists) finds well under half of the true neighbours, and
 * tuning raises it until recall@10 reaches the target. */
START_TEST(test_tune_uniform)
{
    vecs d = random_data(20000, 41), q = random_data(300, 43);
    double before = check_tuning(&d, &q, "IVF128,Flat", "nprobe");
    ck_assert_double_lt(before, 0.9);
    free_data(&d);
    free_data(&q);
}
END_TEST

START_TEST(test_tune_clustered)
{
    enum { N = 20000, CLUSTERS = 100 };
    vecs d = {malloc((size_t)N * DIM * sizeof(float)), malloc(N * sizeof(int64_t)), N};
    vecs q = {malloc((size_t)300 * DIM * sizeof(float)), NULL, 300};
    ck_assert_int_eq(clustered_vectors(d.x, N, DIM, CLUSTERS, 1.0f, 7, 8), 0);
    ck_assert_int_eq(clustered_vectors(q.x, 300, DIM, CLUSTERS, 1.0f, 7, 9), 0);
    for (int64_t i = 0; i < N; i++)
        d.ids[i] = i * 3 + 1;
    check_tuning(&d, &q, "IVF128,Flat", "nprobe");
    check_tuning(&d, &q, "HNSW16", "efSearch");
    free_data(&d);
    free_data(&q);
}
END_TEST

/* Codes too coarse for the target: the smallest nprobe with the best recall
 * there is, reported as not reached; exact structures have nothing to tune. */
START_TEST(test_tune_unreachable_and_exact)
{
    vecs d = random_data(5000, 51);
    cb_ann *ann = NULL;
    cb_ann_tuning t;
    double at_all = 0;
    ck_assert_int_eq(cb_ann_build(DIM, "IVF32,PQ4x8", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, 0.95, CB_ANN_TUNE_QUERIES, &t), CEREBRO_OK);
    printf("IVF32,PQ4x8: nprobe %u -> %u, recall@10 %.3f -> %.3f\n", t.before, t.value, t.recall_before, t.recall);
    ck_assert_int_eq(t.reached, 0);
    ck_assert_double_lt(t.recall, 0.95);
    cb_ann_free(ann);
    ck_assert_int_eq(cb_ann_build(DIM, "IVF32,PQ4x8|nprobe=32", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_recall_at_10(ann, d.x, d.ids, d.n, CB_ANN_TUNE_QUERIES, &at_all), CEREBRO_OK);
    ck_assert_double_eq(t.recall, at_all);
    ck_assert_uint_le(t.value, 32);
    cb_ann_free(ann);

    ck_assert_int_eq(cb_ann_build(DIM, "Flat", 0, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, 0.95, CB_ANN_TUNE_QUERIES, &t), CEREBRO_OK);
    ck_assert_str_eq(t.parameter, "");
    ck_assert_double_eq(t.recall, 1.0);
    ck_assert_str_eq(cb_ann_structure(ann), "Flat");
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, 0.0, 10, &t), CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, 1.5, 10, &t), CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, NAN, 10, &t), CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_ann_tune(ann, d.x, d.ids, d.n, 0.95, 10, NULL), CEREBRO_E_INVALID);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

START_TEST(test_choose)
{
    char s[128];
    cb_ann_choose(0, 512, 0, s, sizeof s);
    ck_assert_str_eq(s, "Flat");
    cb_ann_choose(99999, 512, 0, s, sizeof s);
    ck_assert_str_eq(s, "Flat");
    cb_ann_choose(100000, 512, 0, s, sizeof s);
    ck_assert_str_eq(s, "IVF512,Flat|nprobe=10");
    cb_ann_choose(1000000, 512, 0, s, sizeof s);
    ck_assert_str_eq(s, "IVF2048,Flat|nprobe=4");
    /* Budgets: floats fit; then 1 byte per dimension; then PQ codes. */
    cb_ann_choose(1000000, 512, 4000000000ull, s, sizeof s);
    ck_assert_str_eq(s, "IVF2048,Flat|nprobe=4");
    cb_ann_choose(1000000, 512, 1000000000ull, s, sizeof s);
    ck_assert_str_eq(s, "IVF2048,SQ8|nprobe=4");
    cb_ann_choose(1000000, 512, 200000000ull, s, sizeof s);
    ck_assert_str_eq(s, "IVF2048,PQ128x8|nprobe=4");
    cb_ann_choose(50000, 512, 50000ull * 600, s, sizeof s);
    ck_assert_str_eq(s, "SQ8");
    cb_ann_choose(50000, 512, 50000ull * 100, s, sizeof s);
    ck_assert_str_eq(s, "PQ32x8");
    /* A dimension with no PQ split gets 4-bit scalar codes. */
    cb_ann_choose(50000, 7, 50000ull * 50, s, sizeof s);
    ck_assert_str_eq(s, "SQ4");
    /* Truncates safely. */
    cb_ann_choose(1000000, 512, 0, s, 4);
    ck_assert_str_eq(s, "IVF");

    /* Every chosen string builds, and a NULL factory means the chosen one. */
    vecs d = random_data(2000, 13);
    cb_ann *ann = NULL;
    ck_assert_int_eq(cb_ann_build(DIM, NULL, 2000ull * 120, d.x, d.ids, d.n, &ann), CEREBRO_OK);
    cb_ann_choose(2000, DIM, 2000ull * 120, s, sizeof s);
    ck_assert_str_eq(s, "SQ8");
    ck_assert_str_eq(cb_ann_structure(ann), s);
    ck_assert_int_eq(cb_ann_is_exact(ann), 0);
    cb_ann_free(ann);
    free_data(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ann");
    TCase *tc = tcase_create("ann");
    tcase_add_test(tc, test_exact_equals_brute_force);
    tcase_add_test(tc, test_exact_scan);
    tcase_add_test(tc, test_k_clipped_to_count);
    tcase_add_test(tc, test_add_remove_flat);
    tcase_add_test(tc, test_add_remove_ivf);
    tcase_add_test(tc, test_hnsw_remove_unsupported);
    tcase_add_test(tc, test_filter_exact);
    tcase_add_test(tc, test_filter_ivf);
    tcase_add_test(tc, test_filter_graph_and_codes);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_damaged_files);
    tcase_add_test(tc, test_errors_carry_faiss_message);
    tcase_add_test(tc, test_write_to_full_disk);
    tcase_add_test(tc, test_concurrent_searches);
    tcase_add_test(tc, test_ivf_recall_on_clustered_data);
    tcase_add_test(tc, test_choose);
    tcase_add_test(tc, test_tune_uniform);
    tcase_add_test(tc, test_tune_clustered);
    tcase_add_test(tc, test_tune_unreachable_and_exact);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
