/* Vectors that come from elsewhere, through the public API: precomputed
 * embeddings stored with their metadata (cerebro_index_add_embeddings),
 * stores merged (cerebro_index_merge), the walk that tells a distributed
 * run what to encode (cerebro_index_pending), and the sizes and content
 * hashes cerebro_model_encode_image_files gives for them, compared with
 * what cerebro_index_add stores for the same file. The model is the tiny
 * bundle of tests/model; a second bundle (tiny224) is "another model". */
#define _GNU_SOURCE /* nftw, strdup */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

static cerebro_model *model, *other;
static uint32_t dim;
static char paths[64][512];

static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *d = getenv("CEREBRO_MODEL_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "model-fixtures", name);
    return buf;
}

static void setup(void)
{
    model = open_test_model(fixture("tiny.pt"));
    other = open_test_model(fixture("tiny224.pt"));
    dim = cerebro_model_dim(model);
    ck_assert_uint_le(dim, 1024);
}

static void teardown(void)
{
    cerebro_model_free(model);
    cerebro_model_free(other);
}

/* A fresh absolute scratch folder. */
static const char *scratch(const char *name)
{
    static char dirs[8][700];
    static int next;
    char cwd[512];
    char *dir = dirs[next++ % 8];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(dir, 700, "%s/tmp/put-merge-%s", cwd, name);
    rm_rf(dir);
    mkdirs(dir);
    return dir;
}

static cerebro_index *open_index(const char *dir, const char *sub, const cerebro_model *m)
{
    char path[800];
    cerebro_index *idx = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    OK(cerebro_index_open(&idx, path, m, NULL));
    return idx;
}

/* A deterministic vector for `seed` (not normalised: the call does it). */
static void vector_for(uint32_t seed, float *v)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * (seed + 1);
    for (uint32_t i = 0; i < dim; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) * 3.0f;
    }
}

static cerebro_embedding image_item(int i, const float *v, int64_t mtime)
{
    cerebro_embedding e;
    memset(&e, 0, sizeof e);
    e.version = CEREBRO_EMBEDDING_VERSION;
    e.kind = CEREBRO_ITEM_IMAGE;
    snprintf(paths[i], sizeof paths[i], "/data/photos/img%02d.jpg", i);
    e.path = paths[i];
    e.vector = v;
    e.size = 1000 + i;
    e.mtime_ns = mtime;
    e.hash[0] = (uint8_t)(i + 1);
    e.width = 100 + (uint32_t)i;
    e.height = 50 + (uint32_t)i;
    e.timestamp = -1;
    return e;
}

static uint64_t count_of(cerebro_index *idx, uint64_t *files, uint64_t *failed)
{
    cerebro_index_stats s;
    OK(cerebro_index_stats_get(idx, &s));
    if (files)
        *files = s.files;
    if (failed)
        *failed = s.failed;
    return s.count;
}

/* The best hit for a vector. */
static cerebro_hit best(cerebro_index *idx, const float *v, cerebro_results **keep)
{
    cerebro_hit hit;
    OK(cerebro_index_search_vector(idx, v, NULL, keep));
    ck_assert_uint_ge(cerebro_results_count(*keep), 1);
    OK(cerebro_results_get(*keep, 0, &hit));
    return hit;
}

START_TEST(test_add_embeddings_stores_what_was_given)
{
    const char *dir = scratch("put");
    cerebro_index *idx = open_index(dir, "store", model);
    float v[6][1024];
    cerebro_embedding items[7];
    cerebro_add_stats stats;

    for (int i = 0; i < 6; i++)
        vector_for((uint32_t)i, v[i]);
    for (int i = 0; i < 3; i++)
        items[i] = image_item(i, v[i], 1000000000ll * (i + 1));
    /* A failed file: its error, no vector. */
    items[3] = image_item(3, NULL, 5);
    items[3].status = CEREBRO_E_CORRUPT;
    items[3].error = "img03.jpg: truncated JPEG data";
    /* A video of three frames, given out of order among the others. */
    for (int f = 0; f < 3; f++) {
        items[4 + f] = image_item(10, v[3 + f], 77);
        items[4 + f].kind = CEREBRO_ITEM_VIDEO_FRAME;
        items[4 + f].timestamp = 2.5 * f;
    }
    OK(cerebro_index_add_embeddings(idx, cerebro_model_id(model), dim, items, 7, &stats));
    ck_assert_uint_eq(stats.added, 4);
    ck_assert_uint_eq(stats.failed, 1);
    ck_assert_uint_eq(stats.frames, 3);
    uint64_t files, failed;
    ck_assert_uint_eq(count_of(idx, &files, &failed), 6);
    ck_assert_uint_eq(files, 4);
    ck_assert_uint_eq(failed, 1);

    for (int i = 0; i < 6; i++) {
        cerebro_results *r = NULL;
        cerebro_hit hit = best(idx, v[i], &r);
        ck_assert_float_eq_tol(hit.score, 1.0f, 1e-4f);
        if (i < 3) {
            ck_assert_str_eq(hit.path, paths[i]);
            ck_assert_uint_eq(hit.width, 100 + (uint32_t)i);
            ck_assert_uint_eq(hit.height, 50 + (uint32_t)i);
            ck_assert_uint_eq(hit.kind, CEREBRO_ITEM_IMAGE);
            ck_assert(hit.timestamp < 0);
        } else {
            ck_assert_str_eq(hit.path, paths[10]);
            ck_assert_uint_eq(hit.kind, CEREBRO_ITEM_VIDEO_FRAME);
            ck_assert_double_eq_tol(hit.timestamp, 2.5 * (i - 3), 1e-9);
        }
        /* Stored normalised. */
        float got[1024];
        double norm = 0, dot = 0;
        OK(cerebro_index_get_vector(idx, hit.id, got));
        for (uint32_t k = 0; k < dim; k++) {
            norm += (double)got[k] * got[k];
            dot += (double)got[k] * v[i][k];
        }
        ck_assert_double_eq_tol(norm, 1.0, 1e-5);
        ck_assert(dot > 0);
        cerebro_results_free(r);
    }

    /* The same path again, newer: replaced, not duplicated. */
    float w[1024];
    vector_for(99, w);
    cerebro_embedding again = image_item(1, w, 9000000000ll);
    OK(cerebro_index_add_embeddings(idx, cerebro_model_id(model), dim, &again, 1, &stats));
    ck_assert_uint_eq(stats.updated, 1);
    ck_assert_uint_eq(stats.added, 0);
    ck_assert_uint_eq(count_of(idx, NULL, NULL), 6);
    cerebro_results *r = NULL;
    cerebro_hit hit = best(idx, w, &r);
    ck_assert_str_eq(hit.path, paths[1]);
    ck_assert_float_eq_tol(hit.score, 1.0f, 1e-4f);
    cerebro_results_free(r);
    hit = best(idx, v[1], &r);
    ck_assert_float_lt(hit.score, 0.99f); /* the old vector is gone */
    cerebro_results_free(r);
    cerebro_index_free(idx);

    /* Durable, and the ANN rebuilt from the store agrees. */
    idx = open_index(dir, "store", model);
    ck_assert_uint_eq(count_of(idx, NULL, NULL), 6);
    hit = best(idx, w, &r);
    ck_assert_str_eq(hit.path, paths[1]);
    cerebro_results_free(r);
    cerebro_index_free(idx);
}
END_TEST

START_TEST(test_add_embeddings_refuses_before_writing)
{
    const char *dir = scratch("put-refused");
    cerebro_index *idx = open_index(dir, "store", model);
    float v[2][1024], bad[1024];
    cerebro_embedding items[2];
    const char *id = cerebro_model_id(model);

    vector_for(1, v[0]);
    vector_for(2, v[1]);
    items[0] = image_item(0, v[0], 1);
    items[1] = image_item(1, v[1], 1);
    OK(cerebro_index_add_embeddings(idx, id, dim, items, 1, NULL));

    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim + 1, items + 1, 1, NULL), CEREBRO_E_MISMATCH,
                    "dimensional");
    ck_assert_fails(cerebro_index_add_embeddings(idx, cerebro_model_id(other), dim, items + 1, 1, NULL),
                    CEREBRO_E_MISMATCH, "model");
    ck_assert_fails(cerebro_index_add_embeddings(idx, NULL, dim, items, 1, NULL), CEREBRO_E_INVALID, "NULL");

    /* One bad item among good ones: nothing of the call is written. */
    cerebro_embedding mixed[2] = {items[1], items[1]};
    mixed[1].vector = NULL;
    snprintf(paths[5], sizeof paths[5], "/data/photos/other.jpg");
    mixed[1].path = paths[5];
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID,
                    "items[1]): no vector");
    for (uint32_t k = 0; k < dim; k++)
        bad[k] = k == 3 ? NAN : 0.5f;
    mixed[1] = items[1];
    mixed[1].path = paths[5];
    mixed[1].vector = bad;
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID,
                    "not finite");
    memset(bad, 0, sizeof bad);
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID, "zero");
    /* Two items for one still image. */
    mixed[1] = items[1];
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID,
                    "only the frames of a video share a path");
    /* A failed file with a vector; a frame without a timestamp; a version. */
    mixed[1] = items[1];
    mixed[1].path = paths[5];
    mixed[1].status = CEREBRO_E_FORMAT;
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID,
                    "takes no vector");
    mixed[1] = items[1];
    mixed[1].path = paths[5];
    mixed[1].kind = CEREBRO_ITEM_VIDEO_FRAME;
    mixed[1].timestamp = -1;
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID, "timestamp");
    mixed[1] = items[1];
    mixed[1].version = 7;
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID, "version");
    mixed[1] = items[1];
    mixed[1].path = "";
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, mixed, 2, NULL), CEREBRO_E_INVALID, "no path");
    ck_assert_uint_eq(count_of(idx, NULL, NULL), 1);
    cerebro_index_free(idx);

    cerebro_index_options o;
    cerebro_index_options_init(&o);
    o.flags = CEREBRO_INDEX_READONLY;
    char path[800];
    snprintf(path, sizeof path, "%s/store", dir);
    OK(cerebro_index_open(&idx, path, model, &o));
    ck_assert_fails(cerebro_index_add_embeddings(idx, id, dim, items + 1, 1, NULL), CEREBRO_E_INVALID,
                    "read-only");
    cerebro_index_free(idx);
}
END_TEST

/* Every file row and each of its vectors, in path order, as text. */
static char *dump(const char *dir, const char *sub)
{
    char path[900];
    sqlite3 *db;
    sqlite3_stmt *q;
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/%s/cerebro.db", dir, sub);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT f.path, f.size, f.mtime_ns, hex(f.hash), f.kind, f.width, "
                                        "f.height, f.status, f.error, i.timestamp, hex(i.vector) FROM files f "
                                        "LEFT JOIN items i ON i.file_id = f.id ORDER BY f.path, i.timestamp",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < 11; c++) {
            const char *t = (const char *)sqlite3_column_text(q, c);
            size_t n = strlen(t ? t : "NULL") + 2;
            if (len + n + 1 > cap) {
                out = realloc(out, cap *= 2);
                ck_assert_ptr_nonnull(out);
            }
            len += (size_t)sprintf(out + len, "%s%c", t ? t : "NULL", c == 10 ? '\n' : '|');
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

/* A store of more than 4,096 items draws its relevance background from a
 * sample of its vectors, and the sample stays uniform when removals leave a
 * wide gap of ids: here a long video in the middle (8,000 frames) is removed
 * between 2,100 photos before it and 2,100 after (paths of another machine,
 * removed by the path as stored). Mapping each random id to
 * the first item at or after it gave the first photo after the gap two draws
 * in three: a query for that photo found it with relevance ~1 instead of
 * its standard score among the 4,200 items (~8 for this model's dim). */
START_TEST(test_relevance_sample_uniform_after_removals)
{
    enum { BEFORE = 2100, FRAMES = 8000, AFTER = 2100, N = BEFORE + FRAMES + AFTER, KEPT = BEFORE + AFTER };
    const char *dir = scratch("sample");
    cerebro_index *idx = open_index(dir, "store", model);
    float *v = malloc((size_t)N * dim * sizeof *v);
    cerebro_embedding *items = calloc(N, sizeof *items);
    char(*names)[64] = calloc(N, sizeof *names);
    cerebro_add_stats stats;
    ck_assert(v && items && names);

    for (int i = 0; i < N; i++) {
        float *x = v + (size_t)i * dim, norm = 0;
        vector_for((uint32_t)(1000 + i), x);
        for (uint32_t d = 0; d < dim; d++)
            norm += x[d] * x[d];
        for (uint32_t d = 0; d < dim; d++)
            x[d] /= sqrtf(norm);
        cerebro_embedding *e = &items[i];
        int frame = i >= BEFORE && i < BEFORE + FRAMES;
        /* ids follow the paths' order within one call: a, then the video, then c */
        snprintf(names[i], sizeof names[i], frame ? "/data/b/long.mp4" : "/data/%c/p%05d.jpg",
                 i < BEFORE ? 'a' : 'c', i);
        e->version = CEREBRO_EMBEDDING_VERSION;
        e->kind = frame ? CEREBRO_ITEM_VIDEO_FRAME : CEREBRO_ITEM_IMAGE;
        e->path = names[i];
        e->vector = x;
        e->size = 1000;
        e->mtime_ns = 1000000000ll;
        e->width = e->height = 64;
        e->timestamp = frame ? 0.5 * (i - BEFORE) : -1;
    }
    OK(cerebro_index_add_embeddings(idx, cerebro_model_id(model), dim, items, N, &stats));
    ck_assert_uint_eq(count_of(idx, NULL, NULL), N);
    /* Indexed on another machine: /data/b is not a folder here, and the path
     * as stored is what removes it. */
    OK(cerebro_index_remove_path(idx, "/data/b/long.mp4"));
    ck_assert_uint_eq(count_of(idx, NULL, NULL), KEPT);

    for (int t = 0; t < 3; t++) {
        /* the first photo after the gap, the last before it, one in between */
        const int who[] = {BEFORE + FRAMES, BEFORE - 1, BEFORE + FRAMES + 1000};
        const float *q = v + (size_t)who[t] * dim;
        double mean = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            if (i >= BEFORE && i < BEFORE + FRAMES)
                continue;
            double s = 0;
            for (uint32_t d = 0; d < dim; d++)
                s += (double)q[d] * v[(size_t)i * dim + d];
            mean += s;
            sq += s * s;
        }
        mean /= KEPT;
        double sd = sqrt(sq / KEPT - mean * mean);
        double want = (1.0 - mean) / sd - 0.38 * (sqrt(2 * log((double)KEPT)) - sqrt(2 * log(2000.0)));
        cerebro_search_options o;
        cerebro_results *r = NULL;
        cerebro_hit hit;
        cerebro_search_options_init(&o);
        o.k = 1;
        o.min_relevance = 0;
        OK(cerebro_index_search_vector(idx, q, &o, &r));
        ck_assert_uint_eq(cerebro_results_count(r), 1);
        OK(cerebro_results_get(r, 0, &hit));
        ck_assert_str_eq(hit.path, names[who[t]]);
        /* a sample of 4,096: mean within ~sd/64, sd within ~1 % */
        ck_assert_msg(fabs(cerebro_results_relevance(r, 0) - want) < 0.15,
                      "query %d: relevance %g, over the whole store %g", t, cerebro_results_relevance(r, 0), want);
        cerebro_results_free(r);
    }
    cerebro_index_free(idx);
    free(names);
    free(items);
    free(v);
}
END_TEST

START_TEST(test_merge_equals_union)
{
    const char *dir = scratch("merge");
    const char *id = cerebro_model_id(model);
    static float v[40][1024];
    cerebro_embedding all[40];
    cerebro_add_stats stats;

    for (int i = 0; i < 40; i++) {
        vector_for((uint32_t)i, v[i]);
        all[i] = image_item(i, v[i], 1000 + i);
    }
    /* Shards 0..14, 15..29 and 30..39; path 5 also in shard b (newer) and
     * path 20 in shard c (older); a video in shard c; a failed file in a. */
    cerebro_index *a = open_index(dir, "a", model), *b = open_index(dir, "b", model),
                  *c = open_index(dir, "c", model), *u = open_index(dir, "union", model);
    float newer[1024];
    vector_for(500, newer);
    cerebro_embedding b5 = image_item(5, newer, 999999);
    cerebro_embedding c20 = image_item(20, v[0], 1);
    cerebro_embedding frames[2] = {image_item(50, v[1], 3), image_item(50, v[2], 3)};
    cerebro_embedding broken = image_item(51, NULL, 4);
    broken.status = CEREBRO_E_CORRUPT;
    broken.error = "broken";
    for (int f = 0; f < 2; f++) {
        frames[f].kind = CEREBRO_ITEM_VIDEO_FRAME;
        frames[f].timestamp = f;
    }
    OK(cerebro_index_add_embeddings(a, id, dim, all, 15, NULL));
    OK(cerebro_index_add_embeddings(a, id, dim, &broken, 1, NULL));
    OK(cerebro_index_add_embeddings(b, id, dim, all + 15, 15, NULL));
    OK(cerebro_index_add_embeddings(b, id, dim, &b5, 1, NULL));
    OK(cerebro_index_add_embeddings(c, id, dim, all + 30, 10, NULL));
    OK(cerebro_index_add_embeddings(c, id, dim, &c20, 1, NULL));
    OK(cerebro_index_add_embeddings(c, id, dim, frames, 2, NULL));
    /* The union, written directly: newest of each path. */
    all[5] = b5;
    OK(cerebro_index_add_embeddings(u, id, dim, all, 40, NULL));
    OK(cerebro_index_add_embeddings(u, id, dim, frames, 2, NULL));
    OK(cerebro_index_add_embeddings(u, id, dim, &broken, 1, NULL));
    cerebro_index_free(a);
    cerebro_index_free(b);
    cerebro_index_free(c);

    cerebro_index *m = open_index(dir, "merged", model);
    char sa[800], sb[800], sc[800];
    snprintf(sa, sizeof sa, "%s/a", dir);
    snprintf(sb, sizeof sb, "%s/b", dir);
    snprintf(sc, sizeof sc, "%s/c", dir);
    const char *srcs[3] = {sa, sb, sc};
    OK(cerebro_index_merge(m, srcs, 3, &stats));
    ck_assert_uint_eq(stats.added, 41);   /* 40 images + the video */
    ck_assert_uint_eq(stats.updated, 1);  /* path 5, newer in b */
    ck_assert_uint_eq(stats.skipped, 1);  /* path 20, older in c */
    ck_assert_uint_eq(stats.failed, 1);
    ck_assert_uint_eq(stats.frames, 2);
    ck_assert_uint_eq(count_of(m, NULL, NULL), count_of(u, NULL, NULL));

    /* Same searches. */
    for (int q = 0; q < 20; q++) {
        float query[1024];
        cerebro_results *rm = NULL, *ru = NULL;
        cerebro_search_options so;
        cerebro_search_options_init(&so);
        vector_for(1000u + (uint32_t)q, query);
        OK(cerebro_index_search_vector(m, query, &so, &rm));
        OK(cerebro_index_search_vector(u, query, &so, &ru));
        ck_assert_uint_eq(cerebro_results_count(rm), cerebro_results_count(ru));
        for (size_t i = 0; i < cerebro_results_count(rm); i++) {
            cerebro_hit hm, hu;
            OK(cerebro_results_get(rm, i, &hm));
            OK(cerebro_results_get(ru, i, &hu));
            ck_assert_str_eq(hm.path, hu.path);
            ck_assert_float_eq_tol(hm.score, hu.score, 1e-6f);
            ck_assert_double_eq(hm.timestamp, hu.timestamp);
        }
        cerebro_results_free(rm);
        cerebro_results_free(ru);
    }
    cerebro_index_free(u);
    /* Run again: nothing changes (crash-safe resumption copies only the rest). */
    OK(cerebro_index_merge(m, srcs, 3, &stats));
    ck_assert_uint_eq(stats.added + stats.updated + stats.failed, 0);
    ck_assert_uint_eq(stats.skipped, 44);
    cerebro_index_free(m);

    /* Same rows and vectors as the union (ids and indexed_at aside). */
    char *dm = dump(dir, "merged"), *du = dump(dir, "union");
    ck_assert_str_eq(dm, du);
    free(dm);
    free(du);
}
END_TEST

START_TEST(test_merge_refuses_other_models)
{
    const char *dir = scratch("merge-refused");
    const char *id = cerebro_model_id(model);
    float v[1024];
    char foreign[800], own[800], missing[800], self[800];
    cerebro_index *f = open_index(dir, "foreign", other), *m = open_index(dir, "own", model);
    uint32_t odim = cerebro_model_dim(other);

    vector_for(1, v);
    cerebro_embedding e = image_item(0, v, 1);
    ck_assert_uint_le(odim, 1024);
    OK(cerebro_index_add_embeddings(f, cerebro_model_id(other), odim, &e, 1, NULL));
    cerebro_index_free(f);
    OK(cerebro_index_add_embeddings(m, id, dim, &e, 1, NULL));
    snprintf(foreign, sizeof foreign, "%s/foreign", dir);
    snprintf(own, sizeof own, "%s/own2", dir);
    snprintf(missing, sizeof missing, "%s/nothing-here", dir);
    snprintf(self, sizeof self, "%s/own", dir);
    cerebro_index *o = open_index(dir, "own2", model);
    cerebro_index_free(o);
    /* The good source first: refused as a whole, nothing written. */
    const char *srcs[2] = {own, foreign};
    ck_assert_fails(cerebro_index_merge(m, srcs, 2, NULL), CEREBRO_E_MISMATCH, "only stores of the same model");
    const char *gone[1] = {missing};
    ck_assert_int_ne(cerebro_index_merge(m, gone, 1, NULL), CEREBRO_OK);
    const char *itself[1] = {self};
    ck_assert_fails(cerebro_index_merge(m, itself, 1, NULL), CEREBRO_E_INVALID, "into itself");
    ck_assert_uint_eq(count_of(m, NULL, NULL), 1);
    cerebro_index_free(m);
}
END_TEST

/* A merge killed (SIGKILL) at a random moment keeps whole batches only, the
 * store opens consistent, and the merge run again ends equal to the source. */
START_TEST(test_merge_killed_resumes)
{
    const char *dir = scratch("merge-killed");
    const char *id = cerebro_model_id(model);
    enum { N = 20000 };
    float *v = malloc((size_t)N * dim * sizeof *v);
    cerebro_embedding *items = calloc(N, sizeof *items);
    char(*names)[48] = malloc((size_t)N * sizeof *names);
    char src[800], dst[800];

    ck_assert(v && items && names);
    for (int i = 0; i < N; i++) {
        vector_for((uint32_t)i, v + (size_t)i * dim);
        snprintf(names[i], sizeof names[i], "/data/big/img%05d.jpg", i);
        items[i] = image_item(0, v + (size_t)i * dim, i + 1);
        items[i].path = names[i];
    }
    cerebro_index *s = open_index(dir, "src", model);
    OK(cerebro_index_add_embeddings(s, id, dim, items, N, NULL));
    cerebro_index_free(s);
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(dst, sizeof dst, "%s/dst", dir);
    const char *srcs[1] = {src};
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        cerebro_index *t = NULL;
        if (cerebro_index_open(&t, dst, model, NULL) != CEREBRO_OK)
            _exit(2);
        _exit(cerebro_index_merge(t, srcs, 1, NULL) == CEREBRO_OK ? 0 : 1);
    }
    /* Killed as soon as the first batch is committed (or after 60 s). */
    char db_path[900];
    snprintf(db_path, sizeof db_path, "%s/cerebro.db", dst);
    for (int tries = 0; tries < 60000; tries++) {
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        int64_t committed = 0;
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM files", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            committed = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        if (committed > 0)
            break;
        usleep(1000);
    }
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    ck_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));

    cerebro_index *t = NULL;
    if (cerebro_index_open(&t, dst, model, NULL) == CEREBRO_OK) {
        uint64_t files, failed, n = count_of(t, &files, &failed);
        ck_assert_uint_eq(files, n); /* every file with its vector */
        ck_assert_msg(n % 4096 == 0 || n == N, "%llu items: not whole batches", (unsigned long long)n);
        printf("merge killed after %llu of %d files\n", (unsigned long long)n, N);
        cerebro_add_stats st;
        OK(cerebro_index_merge(t, srcs, 1, &st));
        ck_assert_uint_eq(st.added, N - n);
        ck_assert_uint_eq(st.skipped, n);
        ck_assert_uint_eq(count_of(t, NULL, NULL), N);
        cerebro_index_free(t);
    } else {
        ck_abort_msg("a killed merge left a store that does not open: %s", cerebro_last_error());
    }
    char *a = dump(dir, "src"), *b = dump(dir, "dst");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(v);
    free(items);
    free(names);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

typedef struct seen {
    int n, errors;
    char path[8][800];
    int64_t size[8], mtime[8];
    uint32_t kind[8];
} seen;

static int on_pending(void *user, const char *path, int64_t size, int64_t mtime_ns, uint32_t kind,
                      cerebro_status status, const char *message)
{
    seen *s = user;
    (void)message;
    if (status != CEREBRO_OK) {
        s->errors++;
        return 0;
    }
    ck_assert_int_lt(s->n, 8);
    snprintf(s->path[s->n], sizeof s->path[0], "%s", path);
    s->size[s->n] = size;
    s->mtime[s->n] = mtime_ns;
    s->kind[s->n++] = kind;
    return 0;
}

static int stop_at_first(void *user, const char *path, int64_t size, int64_t mtime_ns, uint32_t kind,
                         cerebro_status status, const char *message)
{
    (void)user, (void)path, (void)size, (void)mtime_ns, (void)kind, (void)status, (void)message;
    return 1;
}

START_TEST(test_pending_lists_what_add_would_encode)
{
    const char *dir = scratch("pending");
    char photos[800], a[900], b[900], clip[900], note[900], hidden[900], missing[900];
    struct stat st;
    seen s;
    uint64_t unchanged = 9;
    float v[1024];

    snprintf(photos, sizeof photos, "%s/photos", dir);
    mkdirs(photos);
    snprintf(a, sizeof a, "%s/a.jpg", photos);
    snprintf(b, sizeof b, "%s/B.PNG", photos);
    snprintf(clip, sizeof clip, "%s/clip.mp4", photos);
    snprintf(note, sizeof note, "%s/notes.txt", photos);
    snprintf(hidden, sizeof hidden, "%s/.hidden.jpg", photos);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    write_file(a, "aaaa");
    write_file(b, "bbbbbbbb");
    write_file(clip, "not really a video");
    write_file(note, "skip me");
    write_file(hidden, "hidden");
    cerebro_index *idx = open_index(dir, "store", model);
    const char *roots[3] = {photos, a, missing}; /* a reached twice */

    memset(&s, 0, sizeof s);
    OK(cerebro_index_pending(idx, roots, 3, 0, on_pending, &s, &unchanged));
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.errors, 1); /* the missing path */
    ck_assert_uint_eq(unchanged, 0);
    ck_assert_str_eq(s.path[0], b); /* path order: 'B' < 'a' < 'c' */
    ck_assert_str_eq(s.path[1], a);
    ck_assert_str_eq(s.path[2], clip);
    ck_assert_int_eq(s.size[1], 4);
    ck_assert_uint_eq(s.kind[1], CEREBRO_ITEM_IMAGE);
    ck_assert_uint_eq(s.kind[2], CEREBRO_ITEM_VIDEO_FRAME);
    ck_assert_int_eq(stat(a, &st), 0);
    ck_assert_int_eq(s.mtime[1], (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);

    /* a stored as it is now: unchanged; b stored with another mtime: pending. */
    vector_for(3, v);
    cerebro_embedding e[2] = {image_item(0, v, s.mtime[1]), image_item(1, v, s.mtime[0] + 1)};
    e[0].path = a;
    e[0].size = 4;
    e[1].path = b;
    e[1].size = 8;
    OK(cerebro_index_add_embeddings(idx, cerebro_model_id(model), dim, e, 2, NULL));
    memset(&s, 0, sizeof s);
    OK(cerebro_index_pending(idx, roots, 2, CEREBRO_ADD_NO_VIDEO | CEREBRO_ADD_HIDDEN, on_pending, &s,
                             &unchanged));
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.path[0], hidden);
    ck_assert_str_eq(s.path[1], b);
    ck_assert_uint_eq(unchanged, 1);

    ck_assert_fails(cerebro_index_pending(idx, roots, 2, 0, stop_at_first, NULL, NULL), CEREBRO_E_CANCELLED,
                    "stopped");
    ck_assert_fails(cerebro_index_pending(idx, roots, 1, 0x100, on_pending, &s, NULL), CEREBRO_E_INVALID,
                    "flags");
    const char *none[1] = {missing};
    memset(&s, 0, sizeof s);
    ck_assert_fails(cerebro_index_pending(idx, none, 1, 0, on_pending, &s, NULL), CEREBRO_E_NOT_FOUND,
                    "none of the 1 paths");
    ck_assert_int_eq(s.errors, 1);
    cerebro_index_free(idx);
}
END_TEST

/* A small JPEG of w x h written by the library's own encoder. */
static void write_jpeg(const char *path, uint32_t w, uint32_t h, uint8_t shade)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    cerebro_image *img = NULL;
    void *data = NULL;
    size_t size = 0;
    ck_assert_ptr_nonnull(rgb);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        rgb[i] = (uint8_t)(shade + i * 7 % 251);
    OK(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL));
    OK(cerebro_image_encode_jpeg(img, 90, &data, &size));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
    cerebro_free(data);
    cerebro_image_free(img);
    free(rgb);
}

START_TEST(test_encode_metadata_matches_add)
{
    const char *dir = scratch("metadata");
    char photos[800], p[3][900], db[900];
    const char *files[3];
    float out[3 * 1024];
    uint32_t sizes[6];
    uint8_t hashes[96];
    cerebro_status statuses[3];
    cerebro_encode_options eo;

    snprintf(photos, sizeof photos, "%s/photos", dir);
    mkdirs(photos);
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof p[i], "%s/p%d.jpg", photos, i);
        files[i] = p[i];
    }
    write_jpeg(p[0], 64, 40, 10);
    write_jpeg(p[1], 33, 71, 90);
    write_file(p[2], "not an image");
    cerebro_encode_options_init(&eo);
    ck_assert_uint_eq(eo.version, 2);
    eo.sizes = sizes;
    eo.hashes = hashes;
    OK(cerebro_model_encode_image_files(model, files, 3, &eo, out, statuses));
    ck_assert_int_eq(statuses[0], CEREBRO_OK);
    ck_assert_int_ne(statuses[2], CEREBRO_OK);
    ck_assert_uint_eq(sizes[0], 64);
    ck_assert_uint_eq(sizes[1], 40);
    ck_assert_uint_eq(sizes[2], 33);
    ck_assert_uint_eq(sizes[3], 71);
    ck_assert_uint_eq(sizes[4] + sizes[5], 0);

    /* The same sizes and hashes cerebro_index_add() stores. */
    cerebro_index *idx = open_index(dir, "store", model);
    const char *roots[1] = {photos};
    OK(cerebro_index_add(idx, roots, 1, NULL, NULL));
    cerebro_index_free(idx);
    snprintf(db, sizeof db, "%s/store/cerebro.db", dir);
    sqlite3 *s;
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(s, "SELECT width, height, hash FROM files WHERE path = ?", -1, &q, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        sqlite3_bind_text(q, 1, p[i], -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        ck_assert_uint_eq((uint32_t)sqlite3_column_int(q, 0), sizes[2 * i]);
        ck_assert_uint_eq((uint32_t)sqlite3_column_int(q, 1), sizes[2 * i + 1]);
        ck_assert_int_eq(sqlite3_column_bytes(q, 2), 32);
        ck_assert_mem_eq(sqlite3_column_blob(q, 2), hashes + 32 * i, 32);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_close(s);

    /* Version 1 callers: the fields do not exist for them. */
    eo.version = 1;
    memset(sizes, 0xab, sizeof sizes);
    OK(cerebro_model_encode_image_files(model, files, 2, &eo, out, statuses));
    ck_assert_uint_eq(sizes[0], 0xababababu);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("put_merge");
    TCase *tc = tcase_create("put_merge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_add_embeddings_stores_what_was_given);
    tcase_add_test(tc, test_add_embeddings_refuses_before_writing);
    tcase_add_test(tc, test_relevance_sample_uniform_after_removals);
    tcase_add_test(tc, test_merge_equals_union);
    tcase_add_test(tc, test_merge_refuses_other_models);
    tcase_add_test(tc, test_merge_killed_resumes);
    tcase_add_test(tc, test_pending_lists_what_add_would_encode);
    tcase_add_test(tc, test_encode_metadata_matches_add);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
