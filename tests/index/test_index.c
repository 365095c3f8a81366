/* The store through the public API (libcerebro.so, as a user links it):
 * create/open, add and every kind of search checked against brute force
 * over the stored vectors, k limits, prefix filters, incremental re-runs
 * (unchanged, touched, modified, moved, vanished, hidden, non-images),
 * removal, model mismatch, a deleted or stale ANN file, read-only opens,
 * stats, progress and cancellation, searches racing an indexer, and a
 * folder of hostile entries (with a decompression bomb and a truncated file
 * of every other format). Images are small JPEGs written by the library's
 * own encoder, and for the other formats tests/format_samples.py's (PIL and
 * the formats' Debian tools); the model is the tiny random-weight bundle of
 * tests/model. */
#define _GNU_SOURCE /* nftw, utimensat, strdup, symlink, mkfifo */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

/* ---- files ---------------------------------------------------------------- */

static const char *fixtures(void)
{
    const char *d = getenv("CEREBRO_MODEL_FIXTURES");
    return d ? d : "model-fixtures";
}

/* Strings the tests build (paths) live until the test's teardown. */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char **arena;
static size_t arena_n, arena_cap;

static char *keep(char *s)
{
    ck_assert_ptr_nonnull(s);
    pthread_mutex_lock(&arena_lock);
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 256;
        arena = realloc(arena, arena_cap * sizeof *arena);
    }
    arena[arena_n++] = s;
    pthread_mutex_unlock(&arena_lock);
    return s;
}

static void arena_free(void)
{
    for (size_t i = 0; i < arena_n; i++)
        free(arena[i]);
    free(arena);
    arena = NULL;
    arena_n = arena_cap = 0;
}

/* "a/b", valid until the end of the test. */
static const char *join(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 2);
    ck_assert_ptr_nonnull(s);
    sprintf(s, "%s/%s", a, b);
    return keep(s);
}

/* A fresh, empty, absolute scratch folder for one test. */
static const char *scratch(const char *name)
{
    const char *base = getenv("CEREBRO_TEST_TMP");
    char cwd[2048], dir[4096];
    if (!base || base[0] != '/') {
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(dir, sizeof dir, "%s/%s/index-%s", cwd, base ? base : "tmp", name);
    } else {
        snprintf(dir, sizeof dir, "%s/index-%s", base, name);
    }
    rm_rf(dir);
    mkdirs(dir);
    return keep(strdup(dir));
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A w x h JPEG whose content depends on `seed`: a colour gradient under
 * random blocks, so every seed gives the model a different picture. */
static void *jpeg_bytes(uint32_t seed, uint32_t w, uint32_t h, size_t *size)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull + 1);
    uint8_t base[3], block[3];
    cerebro_image *img = NULL;
    void *data = NULL;

    ck_assert_ptr_nonnull(rgb);
    for (int c = 0; c < 3; c++)
        base[c] = (uint8_t)rng_next(&s);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(base[c] + (c == 0 ? x * 2 : c == 1 ? y * 2 : x + y));
    for (int b = 0; b < 6; b++) {
        uint32_t bx = (uint32_t)(rng_next(&s) % w), by = (uint32_t)(rng_next(&s) % h);
        uint32_t bw = 4 + (uint32_t)(rng_next(&s) % (w / 2)), bh = 4 + (uint32_t)(rng_next(&s) % (h / 2));
        for (int c = 0; c < 3; c++)
            block[c] = (uint8_t)rng_next(&s);
        for (uint32_t y = by; y < by + bh && y < h; y++)
            for (uint32_t x = bx; x < bx + bw && x < w; x++)
                memcpy(rgb + ((size_t)y * w + x) * 3, block, 3);
    }
    OK(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL));
    OK(cerebro_image_encode_jpeg(img, 92, &data, size));
    cerebro_image_free(img);
    free(rgb);
    return data;
}

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_jpeg(const char *path, uint32_t seed, uint32_t w, uint32_t h)
{
    size_t size;
    void *data = jpeg_bytes(seed, w, h, &size);
    write_bytes(path, data, size);
    cerebro_free(data);
}

static void *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Sets a file's mtime to `sec` seconds (and a few ns) after the epoch. */
static void set_mtime(const char *path, time_t sec)
{
    struct timespec t[2] = {{sec, 123}, {sec, 456}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* ---- model and index ------------------------------------------------------- */

static cerebro_model *open_model(const char *file)
{
    return open_test_model(join(fixtures(), file));
}

static cerebro_index *open_index(const char *dir, const cerebro_model *m, uint32_t flags)
{
    cerebro_index_options o;
    cerebro_index *idx = NULL;
    cerebro_index_options_init(&o);
    o.flags = flags;
    OK(cerebro_index_open(&idx, dir, m, &o));
    ck_assert_ptr_nonnull(idx);
    return idx;
}

static cerebro_add_stats add_one(cerebro_index *idx, const char *path, uint32_t flags)
{
    cerebro_add_options o;
    cerebro_add_stats s;
    cerebro_add_options_init(&o);
    o.flags = flags;
    OK(cerebro_index_add(idx, &path, 1, &o, &s));
    return s;
}

static uint64_t item_count(cerebro_index *idx)
{
    cerebro_index_stats s;
    OK(cerebro_index_stats_get(idx, &s));
    return s.count;
}

/* A copy of a results handle. */
typedef struct hits {
    size_t n;
    int64_t *id;
    float *score;
    char **path;
} hits;

static hits copy_hits(cerebro_results *r)
{
    hits h = {cerebro_results_count(r), NULL, NULL, NULL};
    h.id = calloc(h.n + 1, sizeof *h.id);
    h.score = calloc(h.n + 1, sizeof *h.score);
    h.path = calloc(h.n + 1, sizeof *h.path);
    for (size_t i = 0; i < h.n; i++) {
        cerebro_hit hit;
        OK(cerebro_results_get(r, i, &hit));
        h.id[i] = hit.id;
        h.score[i] = hit.score;
        h.path[i] = strdup(hit.path);
        ck_assert_double_eq(hit.timestamp, -1);
        ck_assert_uint_gt(hit.width, 0);
        ck_assert_uint_gt(hit.height, 0);
    }
    cerebro_results_free(r);
    return h;
}

static void free_hits(hits *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->path[i]);
    free(h->id);
    free(h->score);
    free(h->path);
}

static cerebro_search_options search_opts(uint32_t k, const char *prefix)
{
    cerebro_search_options o;
    cerebro_search_options_init(&o);
    o.k = k;
    o.prefix = prefix;
    o.min_relevance = 0; /* every hit: these tests check the k-NN search itself */
    return o;
}

static hits by_text(cerebro_index *idx, const char *text, uint32_t k, const char *prefix)
{
    cerebro_search_options o = search_opts(k, prefix);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_text(idx, text, &o, &r));
    return copy_hits(r);
}

static hits by_vector(cerebro_index *idx, const float *v, uint32_t k, const char *prefix)
{
    cerebro_search_options o = search_opts(k, prefix);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_vector(idx, v, &o, &r));
    return copy_hits(r);
}

/* Every item of the store (the index is exact, so k = MAX_K finds all). */
static hits all_items(cerebro_index *idx, uint32_t dim)
{
    float *v = calloc(dim, sizeof *v);
    v[0] = 1;
    hits h = by_vector(idx, v, CEREBRO_MAX_K, NULL);
    free(v);
    return h;
}

static int64_t id_of(cerebro_index *idx, uint32_t dim, const char *path)
{
    hits h = all_items(idx, dim);
    int64_t id = -1;
    for (size_t i = 0; i < h.n; i++)
        if (strcmp(h.path[i], path) == 0)
            id = h.id[i];
    free_hits(&h);
    return id;
}

static void normalize(float *v, uint32_t dim)
{
    double ss = 0;
    for (uint32_t i = 0; i < dim; i++)
        ss += (double)v[i] * v[i];
    for (uint32_t i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(ss));
}

static double dot(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void seeded_vector(float *v, uint32_t dim, uint32_t seed)
{
    uint64_t s = 0x12345678ull + seed;
    for (uint32_t i = 0; i < dim; i++)
        v[i] = (float)((double)(rng_next(&s) % 20001) / 10000.0 - 1.0);
    normalize(v, dim);
}

/* Top k by brute force over the stored vectors (read back with
 * get_vector) of the items whose path starts with `prefix` (NULL: all),
 * leaving out `exclude`. */
static hits brute_force(cerebro_index *idx, uint32_t dim, const float *query, uint32_t k,
                        const char *prefix, int64_t exclude)
{
    hits all = all_items(idx, dim), top = {0, NULL, NULL, NULL};
    float *q = malloc(dim * sizeof *q), *v = malloc(dim * sizeof *v);
    memcpy(q, query, dim * sizeof *q);
    normalize(q, dim);
    top.id = calloc(all.n + 1, sizeof *top.id);
    top.score = calloc(all.n + 1, sizeof *top.score);
    top.path = calloc(all.n + 1, sizeof *top.path);
    for (size_t i = 0; i < all.n; i++) {
        if (all.id[i] == exclude || (prefix && strncmp(all.path[i], prefix, strlen(prefix)) != 0))
            continue;
        OK(cerebro_index_get_vector(idx, all.id[i], v));
        float s = (float)dot(q, v, dim);
        size_t j = top.n++;
        while (j > 0 && top.score[j - 1] < s) {
            top.score[j] = top.score[j - 1];
            top.id[j] = top.id[j - 1];
            top.path[j] = top.path[j - 1];
            j--;
        }
        top.score[j] = s;
        top.id[j] = all.id[i];
        top.path[j] = strdup(all.path[i]);
    }
    for (size_t i = k; i < top.n; i++)
        free(top.path[i]);
    if (top.n > k)
        top.n = k;
    free_hits(&all);
    free(q);
    free(v);
    return top;
}

static void assert_same_hits(const hits *got, const hits *want)
{
    ck_assert_uint_eq(got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        ck_assert_msg(got->id[i] == want->id[i] || fabsf(got->score[i] - want->score[i]) < 1e-5f,
                      "hit %zu: id %lld (%g) vs %lld (%g)", i, (long long)got->id[i], got->score[i],
                      (long long)want->id[i], want->score[i]);
        ck_assert_float_eq_tol(got->score[i], want->score[i], 1e-5f);
    }
}

static void assert_sorted(const hits *h)
{
    for (size_t i = 1; i < h->n; i++)
        ck_assert_msg(h->score[i - 1] >= h->score[i], "scores not sorted at %zu: %g < %g", i,
                      h->score[i - 1], h->score[i]);
}

/* A folder of n JPEGs img000.jpg... (seeds seed0 + i), sizes 40..87 px. */
static void fill_folder(const char *dir, int n, uint32_t seed0)
{
    char name[64];
    mkdirs(dir);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "img%03d.jpg", i);
        write_jpeg(join(dir, name), seed0 + (uint32_t)i, 40 + (uint32_t)(i * 7) % 48,
                   40 + (uint32_t)(i * 13) % 48);
    }
}

/* ---- progress ------------------------------------------------------------- */

typedef struct progress_log {
    int calls, file_calls, cancel_after;
    uint64_t last_done, last_total, last_added, last_failed;
    int bad;
    char failures[65536]; /* "path\tstatus\tmessage\n" per failed file */
    size_t used;
} progress_log;

static int on_progress(void *user, const cerebro_progress *p)
{
    progress_log *l = user;
    l->calls++;
    if (p->version != 1 || p->done > p->total || p->done < l->last_done)
        l->bad++;
    l->last_done = p->done;
    l->last_total = p->total;
    l->last_added = p->added;
    l->last_failed = p->failed;
    if (p->path)
        l->file_calls++;
    if (p->path && p->status != CEREBRO_OK && l->used < sizeof l->failures) {
        int w = snprintf(l->failures + l->used, sizeof l->failures - l->used, "%s\t%d\t%s\n", p->path,
                         (int)p->status, p->message ? p->message : "(no message)");
        if (w > 0)
            l->used += (size_t)w;
    }
    /* cancel_after < 0: cancel at the first report. */
    return l->cancel_after < 0 || (l->cancel_after > 0 && l->file_calls >= l->cancel_after);
}

/* The failure report for a path ending in `name`, whose message names it. */
static void assert_reported(const progress_log *l, const char *name)
{
    const char *line = l->failures;
    while (*line) {
        const char *tab = strchr(line, '\t'), *end = strchr(line, '\n');
        size_t n = strlen(name);
        if (tab && (size_t)(tab - line) >= n && memcmp(tab - n, name, n) == 0) {
            const char *msg = strchr(tab + 1, '\t');
            ck_assert_ptr_nonnull(msg);
            char text[2048];
            snprintf(text, sizeof text, "%.*s", (int)(end - msg - 1), msg + 1);
            ck_assert_msg(strstr(text, name) != NULL, "the message for %s does not name it: %s", name, text);
            return;
        }
        line = end + 1;
    }
    ck_abort_msg("%s was not reported as failed; reports:\n%s", name, l->failures);
}

/* Names of the ann-*.faiss files in dir (newline-separated). */
static int ann_files(const char *dir, char *names, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    names[0] = '\0';
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "ann-", 4) == 0 && strstr(e->d_name, ".faiss")) {
            n++;
            strncat(names, e->d_name, cap - strlen(names) - 2);
            strcat(names, "\n");
        }
    }
    closedir(d);
    return n;
}

static void copy_file(const char *from, const char *to)
{
    size_t size;
    void *data = slurp(from, &size);
    write_bytes(to, data, size);
    free(data);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_search_kinds)
{
    const char *root = scratch("kinds"), *photos = join(root, "photos"), *store = join(root, "store");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *v = malloc(dim * sizeof *v), *enc = malloc(dim * sizeof *enc);
    cerebro_results *r = NULL;
    cerebro_hit hit;

    fill_folder(photos, 12, 100);
    fill_folder(join(photos, "sub"), 5, 200);
    cerebro_index *idx = open_index(store, m, CEREBRO_INDEX_CREATE);
    ck_assert_uint_eq(item_count(idx), 0);
    hits empty = by_text(idx, "a red square", 10, NULL);
    ck_assert_uint_eq(empty.n, 0);
    free_hits(&empty);

    cerebro_add_stats s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.version, 1);
    ck_assert_uint_eq(s.added, 17);
    ck_assert_uint_eq(s.updated + s.skipped + s.removed + s.failed + s.frames, 0);
    ck_assert_uint_eq(item_count(idx), 17);

    /* Text: sorted, equal to brute force over the stored vectors. */
    const char *texts[] = {"a red square", "two dogs playing in the snow", ""};
    for (size_t t = 0; t < 3; t++) {
        hits h = by_text(idx, texts[t], 5, NULL);
        OK(cerebro_model_encode_text(m, &texts[t], 1, v));
        hits want = brute_force(idx, dim, v, 5, NULL, -1);
        assert_sorted(&h);
        assert_same_hits(&h, &want);
        free_hits(&h);
        free_hits(&want);
    }

    /* Image file: the indexed file itself comes first, score ~1, and its
     * stored vector is what the model gives for the file. */
    const char *target = join(photos, "img007.jpg");
    cerebro_search_options o = search_opts(3, NULL);
    OK(cerebro_index_search_image_file(idx, target, &o, &r));
    hits h = copy_hits(r);
    ck_assert_uint_eq(h.n, 3);
    ck_assert_str_eq(h.path[0], target);
    ck_assert_float_eq_tol(h.score[0], 1.0f, 1e-4f);
    int64_t target_id = h.id[0];
    OK(cerebro_index_get_vector(idx, target_id, v));
    OK(cerebro_model_encode_image_files(m, &target, 1, NULL, enc, NULL));
    ck_assert_double_ge(dot(v, enc, dim), 0.9999);
    ck_assert_double_eq_tol(dot(v, v, dim), 1.0, 1e-4);
    free_hits(&h);

    /* Image in memory: the same. */
    size_t size;
    void *bytes = slurp(target, &size);
    OK(cerebro_index_search_image_memory(idx, bytes, size, &o, &r));
    h = copy_hits(r);
    ck_assert_int_eq(h.id[0], target_id);
    ck_assert_float_eq_tol(h.score[0], 1.0f, 1e-4f);
    free_hits(&h);
    ck_assert_int_eq(cerebro_index_search_image_memory(idx, "not an image", 12, &o, &r), CEREBRO_E_FORMAT);
    ck_assert_ptr_null(r);
    free(bytes);

    /* Vector: an unnormalised query gives the scores of its unit vector. */
    seeded_vector(v, dim, 1);
    hits want = brute_force(idx, dim, v, 7, NULL, -1);
    for (uint32_t i = 0; i < dim; i++)
        v[i] *= 3.5f;
    h = by_vector(idx, v, 7, NULL);
    assert_same_hits(&h, &want);
    free_hits(&h);
    free_hits(&want);

    /* By id: neighbours of the item, never the item itself. */
    OK(cerebro_index_get_vector(idx, target_id, v));
    o = search_opts(16, NULL);
    OK(cerebro_index_search_id(idx, target_id, &o, &r));
    h = copy_hits(r);
    want = brute_force(idx, dim, v, 16, NULL, target_id);
    ck_assert_uint_eq(h.n, 16);
    for (size_t i = 0; i < h.n; i++)
        ck_assert_int_ne(h.id[i], target_id);
    assert_same_hits(&h, &want);
    free_hits(&h);
    free_hits(&want);
    o = search_opts(3, NULL);
    OK(cerebro_index_search_id(idx, target_id, &o, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 3);
    cerebro_results_free(r);
    ck_assert_int_eq(cerebro_index_search_id(idx, 987654, &o, &r), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_null(r);

    /* Get: one hit, score 1, the path as indexed. */
    OK(cerebro_index_get(idx, target_id, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 1);
    OK(cerebro_results_get(r, 0, &hit));
    ck_assert_int_eq(hit.id, target_id);
    ck_assert_str_eq(hit.path, target);
    ck_assert_float_eq(hit.score, 1.0f);
    ck_assert_int_eq(cerebro_results_get(r, 1, &hit), CEREBRO_E_INVALID);
    cerebro_results_free(r);
    ck_assert_int_eq(cerebro_index_get(idx, 987654, &r), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(cerebro_index_get_vector(idx, 987654, v), CEREBRO_E_NOT_FOUND);

    /* NULL arguments. */
    ck_assert_int_eq(cerebro_index_search_text(NULL, "x", NULL, &r), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_search_text(idx, NULL, NULL, &r), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_search_vector(idx, v, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_get_vector(idx, target_id, NULL), CEREBRO_E_INVALID);
    ck_assert_uint_eq(cerebro_results_count(NULL), 0);
    cerebro_results_free(NULL);
    cerebro_index_free(NULL);

    /* Reopening finds the same items. */
    cerebro_index_free(idx);
    idx = open_index(store, m, 0);
    ck_assert_uint_eq(item_count(idx), 17);
    OK(cerebro_index_get(idx, target_id, &r));
    cerebro_results_free(r);
    cerebro_index_free(idx);
    free(v);
    free(enc);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_k_limits)
{
    const char *root = scratch("k"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    cerebro_results *r = (cerebro_results *)1;

    fill_folder(photos, 14, 300);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    hits h = by_text(idx, "anything", 0, NULL); /* 0 means 10 */
    ck_assert_uint_eq(h.n, 10);
    free_hits(&h);
    h = by_text(idx, "anything", 1, NULL);
    ck_assert_uint_eq(h.n, 1);
    free_hits(&h);
    h = by_text(idx, "anything", CEREBRO_MAX_K, NULL);
    ck_assert_uint_eq(h.n, 14);
    free_hits(&h);
    cerebro_search_options o = search_opts(CEREBRO_MAX_K + 1, NULL);
    ck_assert_int_eq(cerebro_index_search_text(idx, "anything", &o, &r), CEREBRO_E_LIMIT);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "10001"));
    o.k = UINT32_MAX;
    ck_assert_int_eq(cerebro_index_search_text(idx, "anything", &o, &r), CEREBRO_E_LIMIT);
    o = search_opts(5, NULL);
    o.version = 99;
    ck_assert_int_eq(cerebro_index_search_text(idx, "anything", &o, &r), CEREBRO_E_INVALID);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* A read-only handle keeps searching the state it opened until refreshed;
 * refresh takes up what a writer committed and saved, and is a no-op on a
 * writable handle. */
START_TEST(test_refresh)
{
    const char *root = scratch("refresh"), *photos = join(root, "photos");
    const char *store = join(root, "store");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *q = malloc(dim * sizeof *q);
    int changed = -1;

    fill_folder(photos, 5, 400);
    cerebro_index *w = open_index(store, m, CEREBRO_INDEX_CREATE);
    add_one(w, photos, 0);
    cerebro_index *r = open_index(store, m, CEREBRO_INDEX_READONLY);
    seeded_vector(q, dim, 1);
    hits h = by_vector(r, q, 20, NULL);
    ck_assert_uint_eq(h.n, 5);
    free_hits(&h);
    OK(cerebro_index_refresh(r, &changed));
    ck_assert_int_eq(changed, 0);

    fill_folder(join(photos, "more"), 3, 500);
    add_one(w, photos, 0);
    h = by_vector(r, q, 20, NULL);
    ck_assert_uint_eq(h.n, 5); /* the state it opened */
    free_hits(&h);
    OK(cerebro_index_refresh(r, &changed));
    ck_assert_int_eq(changed, 1);
    h = by_vector(r, q, 20, NULL);
    hits want = brute_force(w, dim, q, 20, NULL, -1);
    ck_assert_uint_eq(h.n, 8);
    ck_assert_uint_eq(want.n, 8);
    for (size_t i = 0; i < h.n; i++)
        ck_assert_int_eq(h.id[i], want.id[i]);
    free_hits(&h);
    free_hits(&want);
    OK(cerebro_index_refresh(r, &changed));
    ck_assert_int_eq(changed, 0);
    OK(cerebro_index_refresh(w, &changed)); /* writable: always current */
    ck_assert_int_eq(changed, 0);
    OK(cerebro_index_refresh(r, NULL));
    ck_assert_int_eq(cerebro_index_refresh(NULL, &changed), CEREBRO_E_INVALID);
    cerebro_index_free(r);
    cerebro_index_free(w);
    cerebro_model_free(m);
    free(q);
}
END_TEST

/* ---- relevance ------------------------------------------------------------ */

/* What relevance hit i of r should be when r holds every item of the store:
 * the standard score of its score among all n scores, minus the store-size
 * term cerebro.h documents, 0.38 * (sqrt(2 ln n) - sqrt(2 ln 2000)). */
static double expected_relevance(const cerebro_results *r, size_t n, size_t i)
{
    double sum = 0, sq = 0;
    cerebro_hit h;
    for (size_t j = 0; j < n; j++) {
        OK(cerebro_results_get(r, j, &h));
        sum += h.score;
    }
    for (size_t j = 0; j < n; j++) {
        OK(cerebro_results_get(r, j, &h));
        sq += (h.score - sum / (double)n) * (h.score - sum / (double)n);
    }
    OK(cerebro_results_get(r, i, &h));
    return (h.score - sum / (double)n) / sqrt(sq / (double)n) -
           0.38 * (sqrt(2 * log((double)n)) - sqrt(2 * log(2000.0)));
}

/* Relevance is the standard score of a hit's score among the same query's
 * scores over every stored vector (a store under 4,096 items: exact) less the
 * store-size term, the cutoff drops exactly the hits below it, a store under
 * 50 items has none. */
START_TEST(test_relevance)
{
    const char *root = scratch("relevance"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *q = malloc(dim * sizeof *q);
    cerebro_results *r = NULL;
    cerebro_search_options o;

    fill_folder(join(photos, "small"), 12, 900);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    add_one(idx, join(photos, "small"), 0);
    /* Too few items for a background: NAN, and a cutoff drops nothing. */
    seeded_vector(q, dim, 1);
    cerebro_search_options_init(&o);
    ck_assert_int_eq(o.version, 2);
    ck_assert_float_eq(o.min_relevance, CEREBRO_MIN_RELEVANCE_DEFAULT);
    o.k = 5;
    o.min_relevance = 100;
    OK(cerebro_index_search_vector(idx, q, &o, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 5);
    ck_assert(isnan(cerebro_results_relevance(r, 0)));
    cerebro_results_free(r);

    fill_folder(join(photos, "more"), 60, 1000);
    add_one(idx, photos, 0);
    ck_assert_uint_eq(item_count(idx), 72);
    for (uint32_t seed = 0; seed < 6; seed++) {
        /* Text and vector queries; all 72 scores give the expected values. */
        cerebro_status st;
        o.k = 72;
        o.min_relevance = 0;
        if (seed % 2) {
            seeded_vector(q, dim, seed);
            normalize(q, dim);
            st = cerebro_index_search_vector(idx, q, &o, &r);
        } else {
            const char *texts[] = {"a red square", "zxqv blorp", "a photo of a dog"};
            st = cerebro_index_search_text(idx, texts[seed / 2], &o, &r);
        }
        OK(st);
        size_t n = cerebro_results_count(r);
        ck_assert_uint_eq(n, 72);
        float rel[72];
        for (size_t i = 0; i < n; i++) {
            rel[i] = cerebro_results_relevance(r, i);
            ck_assert_msg(fabs(rel[i] - expected_relevance(r, n, i)) < 1e-3, "hit %zu: relevance %g, expected %g",
                          i, rel[i], expected_relevance(r, n, i));
        }
        ck_assert(isnan(cerebro_results_relevance(r, n)));
        cerebro_results_free(r);
        /* A cutoff between hits 2 and 3 keeps exactly three, with the same
         * relevance; a version-1 caller gets no cutoff. */
        o.k = 10;
        o.min_relevance = (rel[2] + rel[3]) / 2;
        if (rel[2] - rel[3] > 1e-3f) {
            OK(seed % 2 ? cerebro_index_search_vector(idx, q, &o, &r)
                        : cerebro_index_search_text(idx, seed / 2 == 0 ? "a red square"
                                                        : seed / 2 == 1 ? "zxqv blorp" : "a photo of a dog",
                                                    &o, &r));
            ck_assert_uint_eq(cerebro_results_count(r), 3);
            ck_assert_float_eq_tol(cerebro_results_relevance(r, 2), rel[2], 1e-4);
            cerebro_results_free(r);
        }
        o.version = 1;
        o.min_relevance = 1000;
        OK(cerebro_index_search_vector(idx, q, &o, &r));
        ck_assert_uint_eq(cerebro_results_count(r), 10);
        cerebro_results_free(r);
        o.version = 2;
    }
    /* A search under a prefix ranks only that folder's items: the size term
     * counts them (at least 50), the background stays the whole store's. */
    {
        const char *folders[] = {"more", "small"};
        const double ranked[] = {60, 50}; /* "small" holds 12: clamped to 50 */
        seeded_vector(q, dim, 3);
        normalize(q, dim);
        o.k = 72;
        o.min_relevance = 0;
        o.prefix = NULL;
        OK(cerebro_index_search_vector(idx, q, &o, &r));
        ck_assert_uint_eq(cerebro_results_count(r), 72);
        for (int f = 0; f < 2; f++) {
            cerebro_results *pr = NULL;
            cerebro_hit h, g;
            o.prefix = join(photos, folders[f]);
            OK(cerebro_index_search_vector(idx, q, &o, &pr));
            ck_assert_uint_eq(cerebro_results_count(pr), f == 0 ? 60 : 12);
            OK(cerebro_results_get(pr, 0, &h));
            size_t j = 0;
            for (; j < 72; j++) {
                OK(cerebro_results_get(r, j, &g));
                if (g.id == h.id)
                    break;
            }
            ck_assert_uint_lt(j, 72);
            double want = cerebro_results_relevance(r, j) +
                          0.38 * (sqrt(2 * log(72.0)) - sqrt(2 * log(ranked[f])));
            ck_assert_msg(fabs(cerebro_results_relevance(pr, 0) - want) < 1e-4,
                          "prefix %s: relevance %g, expected %g", folders[f],
                          cerebro_results_relevance(pr, 0), want);
            cerebro_results_free(pr);
        }
        cerebro_results_free(r);
        o.prefix = NULL;
    }
    /* Removing items redraws the background: relevance follows the store. */
    OK(cerebro_index_remove_path(idx, join(photos, "more/img000.jpg")));
    o.k = 71;
    o.min_relevance = 0;
    OK(cerebro_index_search_vector(idx, q, &o, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 71);
    ck_assert_float_eq_tol(cerebro_results_relevance(r, 0), expected_relevance(r, 71, 0), 1e-3);
    cerebro_results_free(r);
    /* A NaN threshold is an error, not a silent "keep all". */
    o.min_relevance = NAN;
    ck_assert_int_eq(cerebro_index_search_vector(idx, q, &o, &r), CEREBRO_E_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "min_relevance"));
    cerebro_index_free(idx);
    cerebro_model_free(m);
    free(q);
}
END_TEST

START_TEST(test_prefix)
{
    const char *root = scratch("prefix"), *photos = join(root, "photos");
    const char *sub = join(photos, "2024"), *sub2 = join(photos, "2024-old");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *q = malloc(dim * sizeof *q);
    char prefix[4200];

    fill_folder(photos, 10, 400);
    fill_folder(sub, 6, 500);
    fill_folder(sub2, 4, 600);
    fill_folder(join(photos, "old/2023"), 3, 650);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    ck_assert_uint_eq(item_count(idx), 23);

    /* Under a subfolder only, equal to brute force restricted to it. */
    snprintf(prefix, sizeof prefix, "%s/", sub);
    for (uint32_t seed = 0; seed < 4; seed++) {
        seeded_vector(q, dim, seed);
        hits h = by_vector(idx, q, 4, prefix);
        hits want = brute_force(idx, dim, q, 4, prefix, -1);
        ck_assert_uint_eq(h.n, 4);
        for (size_t i = 0; i < h.n; i++)
            ck_assert_msg(strncmp(h.path[i], prefix, strlen(prefix)) == 0, "%s is not under %s", h.path[i],
                          prefix);
        assert_same_hits(&h, &want);
        free_hits(&h);
        free_hits(&want);
        /* More than the folder holds: all of it, nothing else. */
        h = by_vector(idx, q, 50, prefix);
        ck_assert_uint_eq(h.n, 6);
        free_hits(&h);
    }
    /* Without the slash the prefix is a string prefix: 2024-old matches too. */
    hits h = by_text(idx, "x", 50, sub);
    ck_assert_uint_eq(h.n, 10);
    free_hits(&h);

    /* A relative prefix is taken from the current folder. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(photos), 0);
    h = by_text(idx, "x", 50, "2024/");
    ck_assert_uint_eq(h.n, 6);
    free_hits(&h);

    /* A prefix matching nothing: no results, not an error -- relative,
     * absolute, or under a folder that no longer exists. */
    h = by_text(idx, "x", 10, "no-such-folder/");
    ck_assert_uint_eq(h.n, 0);
    free_hits(&h);
    h = by_text(idx, "x", 10, "/no/such/folder/");
    ck_assert_uint_eq(h.n, 0);
    free_hits(&h);
    h = by_text(idx, "x", 10, "gone/2023/");
    ck_assert_uint_eq(h.n, 0);
    free_hits(&h);
    /* Files of a folder deleted since (not re-indexed yet) are still found. */
    rm_rf(join(photos, "old"));
    h = by_text(idx, "x", 10, "old/2023/");
    ck_assert_uint_eq(h.n, 3);
    free_hits(&h);
    ck_assert_int_eq(chdir(cwd), 0);

    /* Search by id with a prefix: the neighbours under it. */
    int64_t id = id_of(idx, dim, join(sub, "img002.jpg"));
    ck_assert_int_ge(id, 0);
    cerebro_search_options o = search_opts(3, prefix);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_id(idx, id, &o, &r));
    h = copy_hits(r);
    OK(cerebro_index_get_vector(idx, id, q));
    hits want = brute_force(idx, dim, q, 3, prefix, id);
    assert_same_hits(&h, &want);
    free_hits(&h);
    free_hits(&want);

    cerebro_index_free(idx);
    free(q);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_incremental)
{
    const char *root = scratch("incr"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *before = malloc(dim * sizeof(float)), *after = malloc(dim * sizeof(float));
    cerebro_results *r = NULL;

    fill_folder(photos, 8, 700);
    mkdirs(join(photos, "sub"));
    mkdirs(join(photos, ".hidden-dir"));
    write_jpeg(join(photos, ".hidden.jpg"), 750, 48, 48);
    write_jpeg(join(photos, ".hidden-dir/inside.jpg"), 751, 48, 48);
    write_jpeg(join(photos, "jpeg-named.psd"), 752, 48, 48);
    write_jpeg(join(photos, "jpeg-named.txt"), 753, 48, 48);
    write_jpeg(join(photos, "UPPER.JPG"), 754, 48, 48);
    write_bytes(join(photos, "notes.txt"), "not an image", 12);
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "img%03d.jpg", i);
        set_mtime(join(photos, name), 1600000000 + i);
    }

    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_stats s = add_one(idx, photos, 0);
    /* Hidden files and non-image names are not even looked at. */
    ck_assert_uint_eq(s.added, 9);
    ck_assert_uint_eq(s.failed, 0);
    ck_assert_int_lt(id_of(idx, dim, join(photos, ".hidden.jpg")), 0);
    ck_assert_int_lt(id_of(idx, dim, join(photos, "jpeg-named.psd")), 0);
    ck_assert_int_ge(id_of(idx, dim, join(photos, "UPPER.JPG")), 0);

    /* Unchanged: nothing encoded. */
    progress_log log = {0};
    cerebro_add_options ao;
    cerebro_add_options_init(&ao);
    ao.progress = on_progress;
    ao.user = &log;
    const char *paths[1] = {photos};
    OK(cerebro_index_add(idx, paths, 1, &ao, &s));
    ck_assert_uint_eq(s.skipped, 9);
    ck_assert_uint_eq(s.added + s.updated + s.removed + s.failed, 0);
    ck_assert_int_eq(log.file_calls, 0);
    ck_assert_uint_eq(log.last_done, 9);
    ck_assert_uint_eq(log.last_total, 9);
    ck_assert_int_eq(log.bad, 0);
    /* ...and writes nothing: the ANN file is not rewritten. */
    struct stat ann_before, ann_after;
    char ann[256];
    ck_assert_int_eq(ann_files(join(root, "store"), ann, sizeof ann), 1);
    ann[strcspn(ann, "\n")] = '\0';
    ck_assert_int_eq(stat(join(join(root, "store"), ann), &ann_before), 0);
    OK(cerebro_index_add(idx, paths, 1, &ao, &s));
    ck_assert_uint_eq(s.skipped, 9);
    ck_assert_int_eq(stat(join(join(root, "store"), ann), &ann_after), 0);
    ck_assert_msg(ann_before.st_ino == ann_after.st_ino &&
                      ann_before.st_mtim.tv_nsec == ann_after.st_mtim.tv_nsec &&
                      ann_before.st_mtim.tv_sec == ann_after.st_mtim.tv_sec,
                  "an unchanged re-run rewrote %s", ann);

    /* Touched, same bytes: hashed, found equal, skipped; the vector stays. */
    const char *touched = join(photos, "img001.jpg");
    int64_t touched_id = id_of(idx, dim, touched);
    OK(cerebro_index_get_vector(idx, touched_id, before));
    set_mtime(touched, 1700000000);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.skipped, 9);
    ck_assert_uint_eq(s.added + s.updated + s.removed, 0);
    ck_assert_int_eq(id_of(idx, dim, touched), touched_id);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.skipped, 9);

    /* Modified content: re-encoded, the vector changes. */
    const char *modified = join(photos, "img002.jpg");
    int64_t modified_id = id_of(idx, dim, modified);
    OK(cerebro_index_get_vector(idx, modified_id, before));
    write_jpeg(modified, 9999, 64, 40);
    set_mtime(modified, 1700000001);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.updated, 1);
    ck_assert_uint_eq(s.skipped, 8);
    ck_assert_uint_eq(s.added + s.removed, 0);
    int64_t new_id = id_of(idx, dim, modified);
    ck_assert_int_ge(new_id, 0);
    OK(cerebro_index_get_vector(idx, new_id, after));
    ck_assert_double_lt(dot(before, after, dim), 0.9999);
    OK(cerebro_model_encode_image_files(m, &modified, 1, NULL, before, NULL));
    ck_assert_double_gt(dot(before, after, dim), 0.9999);
    ck_assert_uint_eq(item_count(idx), 9);

    /* Moved within the folder: same id, same vector, nothing encoded. */
    const char *from = join(photos, "img003.jpg"), *to = join(photos, "sub/moved.jpg");
    int64_t moved_id = id_of(idx, dim, from);
    OK(cerebro_index_get_vector(idx, moved_id, before));
    ck_assert_int_eq(rename(from, to), 0);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added, 0);
    ck_assert_uint_eq(s.removed, 0);
    ck_assert_uint_eq(s.updated, 1);
    ck_assert_int_eq(id_of(idx, dim, to), moved_id);
    ck_assert_int_lt(id_of(idx, dim, from), 0);
    OK(cerebro_index_get_vector(idx, moved_id, after));
    ck_assert_double_gt(dot(before, after, dim), 0.99999);
    OK(cerebro_index_get(idx, moved_id, &r));
    hits h = copy_hits(r);
    ck_assert_str_eq(h.path[0], to);
    free_hits(&h);

    /* Vanished: removed with its vector. */
    const char *gone = join(photos, "img004.jpg");
    int64_t gone_id = id_of(idx, dim, gone);
    ck_assert_int_eq(unlink(gone), 0);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.removed, 1);
    ck_assert_uint_eq(s.added + s.updated, 0);
    ck_assert_uint_eq(item_count(idx), 8);
    ck_assert_int_eq(cerebro_index_get(idx, gone_id, &r), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_get_vector(idx, gone_id, before), CEREBRO_E_NOT_FOUND);

    /* Hidden files with the flag; without it again, they stay (they exist). */
    s = add_one(idx, photos, CEREBRO_ADD_HIDDEN);
    ck_assert_uint_eq(s.added, 2);
    ck_assert_int_ge(id_of(idx, dim, join(photos, ".hidden-dir/inside.jpg")), 0);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.removed, 0);
    ck_assert_uint_eq(item_count(idx), 10);

    /* A file given directly is indexed whatever its name. */
    s = add_one(idx, join(photos, "jpeg-named.txt"), 0);
    ck_assert_uint_eq(s.added, 1);
    /* Not recursing leaves the subfolder alone. */
    write_jpeg(join(photos, "sub/new.jpg"), 760, 48, 48);
    s = add_one(idx, photos, CEREBRO_ADD_NO_RECURSE);
    ck_assert_uint_eq(s.added + s.removed, 0);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added, 1);
    ck_assert_uint_eq(item_count(idx), 12);

    cerebro_index_free(idx);
    free(before);
    free(after);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_overlapping_roots)
{
    const char *root = scratch("overlap"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    cerebro_add_options ao;
    cerebro_add_stats s;
    progress_log log = {0};

    fill_folder(photos, 5, 850);
    fill_folder(join(photos, "sub"), 4, 860);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_options_init(&ao);
    ao.progress = on_progress;
    ao.user = &log;
    /* The same files through a folder, its parent, a relative spelling with
     * a trailing slash and one file by name: each indexed once. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(root), 0);
    const char *paths[4] = {join(photos, "sub"), photos, "photos/", join(photos, "img001.jpg")};
    OK(cerebro_index_add(idx, paths, 4, &ao, &s));
    ck_assert_uint_eq(s.added, 9);
    ck_assert_uint_eq(item_count(idx), 9);
    ck_assert_int_eq(log.file_calls, 9);
    ck_assert_uint_eq(log.last_done, 9);
    ck_assert_uint_eq(log.last_total, 9);
    hits all = all_items(idx, dim);
    for (size_t i = 0; i < all.n; i++)
        for (size_t j = i + 1; j < all.n; j++)
            ck_assert_str_ne(all.path[i], all.path[j]);
    free_hits(&all);

    /* Again: everything skipped once, and progress ends at done == total. */
    memset(&log, 0, sizeof log);
    OK(cerebro_index_add(idx, paths, 4, &ao, &s));
    ck_assert_uint_eq(s.skipped, 9);
    ck_assert_uint_eq(s.added + s.updated + s.removed, 0);
    ck_assert_uint_eq(log.last_done, 9);
    ck_assert_uint_eq(log.last_total, 9);
    ck_assert_int_eq(chdir(cwd), 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_remove)
{
    const char *root = scratch("remove"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    float *v = malloc(dim * sizeof *v);
    cerebro_results *r = NULL;

    fill_folder(photos, 6, 800);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);

    const char *p1 = join(photos, "img001.jpg"), *p2 = join(photos, "img002.jpg");
    int64_t id1 = id_of(idx, dim, p1), id2 = id_of(idx, dim, p2);
    OK(cerebro_index_remove_path(idx, p1));
    ck_assert_int_eq(cerebro_index_remove_path(idx, p1), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_get(idx, id1, &r), CEREBRO_E_NOT_FOUND);
    ck_assert_int_lt(id_of(idx, dim, p1), 0);
    ck_assert_uint_eq(item_count(idx), 5);

    OK(cerebro_index_remove_id(idx, id2));
    ck_assert_int_eq(cerebro_index_remove_id(idx, id2), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_get_vector(idx, id2, v), CEREBRO_E_NOT_FOUND);
    ck_assert_int_lt(id_of(idx, dim, p2), 0);
    ck_assert_uint_eq(item_count(idx), 4);
    cerebro_index_stats st;
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.files, 4);

    ck_assert_int_eq(cerebro_index_remove_path(idx, join(photos, "never-indexed.jpg")), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_remove_path(idx, "/no/such/folder/x.jpg"), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_remove_id(idx, -5), CEREBRO_E_NOT_FOUND);
    ck_assert_int_eq(cerebro_index_remove_path(NULL, p1), CEREBRO_E_INVALID);

    /* Removals survive a reopen; a later add brings the files back. */
    cerebro_index_free(idx);
    idx = open_index(join(root, "store"), m, 0);
    ck_assert_uint_eq(item_count(idx), 4);
    cerebro_add_stats s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added, 2);
    ck_assert_uint_eq(item_count(idx), 6);
    cerebro_index_free(idx);
    free(v);
    cerebro_model_free(m);
}
END_TEST

static int count_pending(void *user, const char *path, int64_t size, int64_t mtime_ns, uint32_t kind,
                         cerebro_status status, const char *message)
{
    (void)path, (void)size, (void)mtime_ns, (void)kind, (void)message;
    if (status == CEREBRO_OK)
        ++*(int *)user;
    return 0;
}

static cerebro_add_stats add_excluding(cerebro_index *idx, const char *path, const char *const *exclude,
                                       size_t n_exclude)
{
    cerebro_add_options o;
    cerebro_add_stats s;
    cerebro_add_options_init(&o);
    o.exclude = exclude;
    o.n_exclude = n_exclude;
    OK(cerebro_index_add(idx, &path, 1, &o, &s));
    return s;
}

START_TEST(test_exclude)
{
    const char *root = scratch("exclude"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    cerebro_add_options o;
    cerebro_add_stats s;

    fill_folder(photos, 3, 100);
    fill_folder(join(photos, "Screenshots"), 2, 200);
    fill_folder(join(photos, "trip/Screenshots"), 1, 300);
    fill_folder(join(photos, "2019/raw"), 2, 400);
    fill_folder(join(photos, "2019/keep"), 2, 500);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);

    /* A name pattern at any depth (a folder is not entered, a file left
     * out), a path pattern below the folder given. */
    const char *ex[] = {"Screenshots", "2019/raw", "img002.jpg"};
    s = add_excluding(idx, photos, ex, 3);
    ck_assert_uint_eq(s.added, 4);
    ck_assert_uint_eq(s.failed, 0);
    ck_assert_int_ge(id_of(idx, dim, join(photos, "2019/keep/img001.jpg")), 0);
    ck_assert_int_lt(id_of(idx, dim, join(photos, "img002.jpg")), 0);
    ck_assert_int_lt(id_of(idx, dim, join(photos, "trip/Screenshots/img000.jpg")), 0);
    ck_assert_int_lt(id_of(idx, dim, join(photos, "2019/raw/img000.jpg")), 0);

    /* '*' in a path pattern stays within one folder; a name pattern is
     * the whole name. */
    const char *star[] = {"*/raw", "2019/*.jpg", "Screen*/", "img00"};
    s = add_excluding(idx, photos, star, 4);
    ck_assert_uint_eq(s.added, 1); /* img002.jpg */
    ck_assert_uint_eq(s.removed, 0);

    /* Without patterns everything comes in; excluding a folder again drops
     * what an earlier run indexed there, as vanished. */
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added, 5);
    ck_assert_uint_eq(item_count(idx), 10);
    const char *year[] = {"2019"};
    s = add_excluding(idx, photos, year, 1);
    ck_assert_uint_eq(s.removed, 4);
    ck_assert_uint_eq(s.skipped, 6);
    ck_assert_uint_eq(item_count(idx), 6);

    /* A file named directly is never excluded. */
    s = add_excluding(idx, join(photos, "2019/raw/img001.jpg"), year, 1);
    ck_assert_uint_eq(s.added, 1);

    /* pending_opts walks with the same patterns (what a Dask run sends out). */
    const char *path = photos;
    int n_pending = 0;
    cerebro_add_options_init(&o);
    o.exclude = year;
    o.n_exclude = 1;
    OK(cerebro_index_pending_opts(idx, &path, 1, &o, count_pending, &n_pending, NULL));
    ck_assert_int_eq(n_pending, 0); /* everything outside 2019 is indexed */
    OK(cerebro_index_pending_opts(idx, &path, 1, NULL, count_pending, &n_pending, NULL));
    ck_assert_int_eq(n_pending, 3); /* 2019 less the file named directly */

    /* Refused before anything is read: NULL or empty patterns, too many,
     * too long. */
    const char *bad_null[] = {"ok", NULL}, *bad_empty[] = {""};
    cerebro_add_options_init(&o);
    o.exclude = bad_null;
    o.n_exclude = 2;
    ck_assert_int_eq(cerebro_index_add(idx, &path, 1, &o, &s), CEREBRO_E_INVALID);
    o.exclude = bad_empty;
    o.n_exclude = 1;
    ck_assert_int_eq(cerebro_index_add(idx, &path, 1, &o, &s), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_pending_opts(idx, &path, 1, &o, count_pending, &n_pending, NULL),
                     CEREBRO_E_INVALID);
    o.exclude = NULL;
    ck_assert_int_eq(cerebro_index_add(idx, &path, 1, &o, &s), CEREBRO_E_INVALID);
    o.exclude = ex;
    o.n_exclude = 257;
    ck_assert_int_eq(cerebro_index_add(idx, &path, 1, &o, &s), CEREBRO_E_LIMIT);
    char *long_pattern = malloc(1025);
    memset(long_pattern, 'x', 1024);
    long_pattern[1024] = '\0';
    const char *too_long[] = {long_pattern};
    o.exclude = too_long;
    o.n_exclude = 1;
    ck_assert_int_eq(cerebro_index_add(idx, &path, 1, &o, &s), CEREBRO_E_LIMIT);
    free(long_pattern);
    ck_assert_uint_eq(item_count(idx), 7);

    /* A version 1 caller's struct ends before exclude: whatever lies there
     * is not read. */
    cerebro_add_options_init(&o);
    o.version = 1;
    o.exclude = (const char *const *)(uintptr_t)1;
    o.n_exclude = 3;
    OK(cerebro_index_add(idx, &path, 1, &o, &s));
    ck_assert_uint_eq(s.added, 3); /* the rest of the 2019 folder */
    ck_assert_uint_eq(item_count(idx), 10);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* The ann-N.faiss file's generation N (the store has exactly one). */
static long ann_generation(const char *store)
{
    char names[256];
    ck_assert_int_eq(ann_files(store, names, sizeof names), 1);
    return strtol(names + 4, NULL, 10);
}

START_TEST(test_remove_many)
{
    const char *root = scratch("remove_many"), *photos = join(root, "photos"), *store = join(root, "store");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    cerebro_status statuses[7];
    size_t removed = 99;

    fill_folder(photos, 6, 800);
    cerebro_index *idx = open_index(store, m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    const char *p1 = join(photos, "img001.jpg"), *p3 = join(photos, "img003.jpg");
    int64_t id2 = id_of(idx, dim, join(photos, "img002.jpg")), id4 = id_of(idx, dim, join(photos, "img004.jpg"));
    long gen = ann_generation(store);

    /* Paths and ids in one step: found ones removed, absent ones (never
     * indexed, named twice, an id gone with its path) reported, one new
     * generation of the search structure for all of them. */
    const char *paths[] = {p1, join(photos, "never-indexed.jpg"), p1, p3};
    int64_t ids[] = {id2, -5, id4};
    OK(cerebro_index_remove_many(idx, paths, 4, ids, 3, statuses, &removed));
    ck_assert_uint_eq(removed, 4);
    cerebro_status want[] = {CEREBRO_OK, CEREBRO_E_NOT_FOUND, CEREBRO_E_NOT_FOUND, CEREBRO_OK,
                             CEREBRO_OK, CEREBRO_E_NOT_FOUND, CEREBRO_OK};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(statuses[i] == want[i], "statuses[%d] = %d, want %d", i, statuses[i], want[i]);
    ck_assert_int_eq(ann_generation(store), gen + 1);
    ck_assert_uint_eq(item_count(idx), 2);
    ck_assert_int_lt(id_of(idx, dim, p1), 0);
    ck_assert_int_lt(id_of(idx, dim, p3), 0);
    cerebro_index_stats st;
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.files, 2);

    /* Nothing found: E_NOT_FOUND, nothing written; nothing named: OK. */
    removed = 99;
    ck_assert_int_eq(cerebro_index_remove_many(idx, paths, 3, ids, 1, statuses, &removed), CEREBRO_E_NOT_FOUND);
    ck_assert_uint_eq(removed, 0);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "none of the 4"));
    ck_assert_int_eq(ann_generation(store), gen + 1);
    OK(cerebro_index_remove_many(idx, NULL, 0, NULL, 0, NULL, &removed));
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(ann_generation(store), gen + 1);

    /* A NULL entry is refused before anything is removed. */
    const char *with_null[] = {join(photos, "img000.jpg"), NULL};
    ck_assert_int_eq(cerebro_index_remove_many(idx, with_null, 2, NULL, 0, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_remove_many(idx, NULL, 1, NULL, 0, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_remove_many(NULL, paths, 1, NULL, 0, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_uint_eq(item_count(idx), 2);

    /* The removals survive a reopen; the survivors are searchable. */
    cerebro_index_free(idx);
    idx = open_index(store, m, 0);
    ck_assert_uint_eq(item_count(idx), 2);
    ck_assert_int_ge(id_of(idx, dim, join(photos, "img000.jpg")), 0);
    ck_assert_int_ge(id_of(idx, dim, join(photos, "img005.jpg")), 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_model_mismatch)
{
    const char *root = scratch("mismatch"), *photos = join(root, "photos"), *store = join(root, "store");
    cerebro_model *m = open_model("tiny.pt"), *other = open_model("tiny224.pt");
    cerebro_index *idx = (cerebro_index *)1;
    cerebro_index_options o;
    char id1[13], id2[13];

    fill_folder(photos, 3, 900);
    idx = open_index(store, m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    cerebro_index_free(idx);

    ck_assert_str_ne(cerebro_model_id(m), cerebro_model_id(other));
    snprintf(id1, sizeof id1, "%.12s", cerebro_model_id(m));
    snprintf(id2, sizeof id2, "%.12s", cerebro_model_id(other));
    for (int ro = 0; ro < 2; ro++) {
        cerebro_index_options_init(&o);
        o.flags = ro ? CEREBRO_INDEX_READONLY : CEREBRO_INDEX_CREATE;
        idx = (cerebro_index *)1;
        ck_assert_int_eq(cerebro_index_open(&idx, store, other, &o), CEREBRO_E_MISMATCH);
        ck_assert_ptr_null(idx);
        const char *e = cerebro_last_error();
        ck_assert_msg(strstr(e, cerebro_model_name(m)) && strstr(e, cerebro_model_name(other)) &&
                          strstr(e, id1) && strstr(e, id2),
                      "message must name both models: %s", e);
    }
    /* The store is untouched: the right model still opens it. */
    idx = open_index(store, m, 0);
    ck_assert_uint_eq(item_count(idx), 3);
    cerebro_index_free(idx);
    cerebro_model_free(other);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_ann_file_is_derived)
{
    const char *root = scratch("ann"), *photos = join(root, "photos"), *store = join(root, "store");
    const char *saved = join(root, "saved.faiss");
    cerebro_model *m = open_model("tiny.pt");
    char names[1024], first[256];

    fill_folder(photos, 15, 1000);
    cerebro_index *idx = open_index(store, m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    hits want = by_text(idx, "a mountain lake", 8, NULL);
    cerebro_index_free(idx);
    ck_assert_int_eq(ann_files(store, names, sizeof names), 1);

    /* Deleted: rebuilt from the store, same results, file written again. */
    snprintf(first, sizeof first, "%.*s", (int)strcspn(names, "\n"), names);
    copy_file(join(store, first), saved);
    ck_assert_int_eq(unlink(join(store, first)), 0);
    idx = open_index(store, m, 0);
    hits h = by_text(idx, "a mountain lake", 8, NULL);
    assert_same_hits(&h, &want);
    free_hits(&h);
    ck_assert_uint_eq(item_count(idx), 15);
    cerebro_index_free(idx);
    ck_assert_int_eq(ann_files(store, names, sizeof names), 1);

    /* Garbage under the right name: rebuilt. */
    ck_assert_int_eq(ann_files(store, names, sizeof names), 1);
    snprintf(first, sizeof first, "%.*s", (int)strcspn(names, "\n"), names);
    write_bytes(join(store, first), "garbage", 7);
    idx = open_index(store, m, 0);
    h = by_text(idx, "a mountain lake", 8, NULL);
    assert_same_hits(&h, &want);
    free_hits(&h);
    cerebro_index_free(idx);

    /* Stale: the file of an older state (15 vectors) under the name of the
     * current one (18): the store wins. */
    write_jpeg(join(photos, "late1.jpg"), 1100, 50, 50);
    write_jpeg(join(photos, "late2.jpg"), 1101, 50, 50);
    write_jpeg(join(photos, "late3.jpg"), 1102, 50, 50);
    idx = open_index(store, m, 0);
    add_one(idx, photos, 0);
    hits want18 = by_text(idx, "a mountain lake", 18, NULL);
    ck_assert_uint_eq(want18.n, 18);
    cerebro_index_free(idx);
    ck_assert_int_eq(ann_files(store, names, sizeof names), 1);
    snprintf(first, sizeof first, "%.*s", (int)strcspn(names, "\n"), names);
    copy_file(saved, join(store, first));
    idx = open_index(store, m, CEREBRO_INDEX_READONLY);
    h = by_text(idx, "a mountain lake", 18, NULL);
    assert_same_hits(&h, &want18);
    free_hits(&h);
    cerebro_index_free(idx);
    idx = open_index(store, m, 0);
    ck_assert_uint_eq(item_count(idx), 18);
    h = by_text(idx, "a mountain lake", 18, NULL);
    assert_same_hits(&h, &want18);
    free_hits(&h);
    cerebro_index_free(idx);

    free_hits(&want);
    free_hits(&want18);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_readonly)
{
    const char *root = scratch("ro"), *photos = join(root, "photos"), *store = join(root, "store");
    cerebro_model *m = open_model("tiny.pt");
    cerebro_index *idx = (cerebro_index *)1;
    cerebro_index_options o;
    cerebro_add_stats s;
    const char *paths[1] = {photos};

    fill_folder(photos, 5, 1200);
    cerebro_index_options_init(&o);
    o.flags = CEREBRO_INDEX_READONLY;
    /* Nothing there yet: read-only never creates. */
    ck_assert_int_eq(cerebro_index_open(&idx, store, m, &o), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_null(idx);
    ck_assert_int_ne(access(store, F_OK), 0);
    mkdirs(store);
    ck_assert_int_ne(cerebro_index_open(&idx, store, m, &o), CEREBRO_OK);
    ck_assert_ptr_null(idx);
    o.flags = 0; /* neither CREATE nor READONLY: the folder must exist */
    ck_assert_int_eq(cerebro_index_open(&idx, join(root, "absent"), m, &o), CEREBRO_E_NOT_FOUND);
    o.flags = 0x80;
    ck_assert_int_eq(cerebro_index_open(&idx, store, m, &o), CEREBRO_E_INVALID);

    idx = open_index(store, m, CEREBRO_INDEX_CREATE);
    add_one(idx, photos, 0);
    hits want = by_text(idx, "a boat", 5, NULL);
    cerebro_index_free(idx);

    idx = open_index(store, m, CEREBRO_INDEX_READONLY);
    hits h = by_text(idx, "a boat", 5, NULL);
    assert_same_hits(&h, &want);
    free_hits(&h);
    ck_assert_int_eq(cerebro_index_add(idx, paths, 1, NULL, &s), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_remove_path(idx, join(photos, "img001.jpg")), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_remove_id(idx, want.id[0]), CEREBRO_E_INVALID);
    ck_assert_uint_eq(item_count(idx), 5);
    /* A writer and a reader on the same store at once. */
    cerebro_index *writer = open_index(store, m, 0);
    OK(cerebro_index_remove_id(writer, want.id[0]));
    ck_assert_uint_eq(item_count(writer), 4);
    cerebro_index_free(writer);
    cerebro_index_free(idx);
    free_hits(&want);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_stats)
{
    const char *root = scratch("stats"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    cerebro_index_stats st;

    fill_folder(photos, 7, 1300);
    write_bytes(join(photos, "bad.jpg"), "\xff\xd8\xff garbage", 12);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.count, 0);
    cerebro_add_stats s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added, 7);
    ck_assert_uint_eq(s.failed, 1);
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.version, 1);
    ck_assert_uint_eq(st.dim, cerebro_model_dim(m));
    ck_assert_uint_eq(st.count, 7);
    ck_assert_uint_eq(st.files, 7);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_ge(st.memory_bytes, 7 * st.dim * sizeof(float));
    ck_assert_double_eq(st.recall_at_10, 1.0);
    ck_assert_str_eq(st.structure, "Flat");
    ck_assert_str_eq(st.model_id, cerebro_model_id(m));
    ck_assert_int_eq(cerebro_index_stats_get(idx, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_stats_get(NULL, &st), CEREBRO_E_INVALID);
    /* A good file overwritten with garbage loses its vector. */
    const char *spoiled = join(photos, "img003.jpg");
    int64_t spoiled_id = id_of(idx, st.dim, spoiled);
    write_bytes(spoiled, "\x89PNG\r\n\x1a\n broken", 16);
    set_mtime(spoiled, 1650000000);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.failed, 1);
    ck_assert_uint_eq(s.added + s.updated, 0);
    cerebro_results *r = NULL;
    ck_assert_int_eq(cerebro_index_get(idx, spoiled_id, &r), CEREBRO_E_NOT_FOUND);
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.count, 6);
    ck_assert_uint_eq(st.files, 6);
    ck_assert_uint_eq(st.failed, 2);
    write_jpeg(spoiled, 1398, 50, 50);
    set_mtime(spoiled, 1650000001);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.updated, 1);
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.count, 7);
    ck_assert_uint_eq(st.failed, 1);
    /* A failed file stays failed (and is not retried) until it changes. */
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.skipped, 8);
    ck_assert_uint_eq(s.failed, 0);
    write_jpeg(join(photos, "bad.jpg"), 1399, 50, 50);
    set_mtime(join(photos, "bad.jpg"), 1650000000);
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.updated + s.added, 1);
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_eq(st.count, 8);
    ck_assert_uint_eq(st.failed, 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_progress_and_cancel)
{
    const char *root = scratch("cancel"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    cerebro_add_options ao;
    cerebro_add_stats s;
    const char *paths[1] = {photos};
    progress_log log = {0};

    fill_folder(photos, 20, 1400);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_options_init(&ao);
    ao.batch_size = 4;
    ao.commit_every = 4;
    ao.n_workers = 2;
    ao.progress = on_progress;
    ao.user = &log;
    log.cancel_after = 6;
    ck_assert_int_eq(cerebro_index_add(idx, paths, 1, &ao, &s), CEREBRO_E_CANCELLED);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "cancel"));
    ck_assert_int_eq(log.bad, 0);
    uint64_t kept = item_count(idx);
    ck_assert_uint_ge(kept, 6);
    ck_assert_uint_lt(kept, 20);
    ck_assert_uint_eq(s.added, kept);
    ck_assert_uint_eq(log.last_total, 20);

    /* Committed work survives a close; a re-run finishes the job. */
    cerebro_index_free(idx);
    idx = open_index(join(root, "store"), m, 0);
    ck_assert_uint_eq(item_count(idx), kept);
    memset(&log, 0, sizeof log);
    OK(cerebro_index_add(idx, paths, 1, &ao, &s));
    ck_assert_uint_eq(s.skipped, kept);
    ck_assert_uint_eq(s.added, 20 - kept);
    ck_assert_uint_eq(item_count(idx), 20);
    ck_assert_int_eq(log.bad, 0);
    ck_assert_int_eq(log.file_calls, (int)(20 - kept));
    ck_assert_uint_eq(log.last_done, 20);
    ck_assert_uint_eq(log.last_total, 20);
    ck_assert_uint_eq(log.last_added, 20 - kept);

    /* Cancelling at the first report (before any encoding) keeps nothing new. */
    write_jpeg(join(photos, "late.jpg"), 1450, 50, 50);
    memset(&log, 0, sizeof log);
    log.cancel_after = -1;
    ck_assert_int_eq(cerebro_index_add(idx, paths, 1, &ao, &s), CEREBRO_E_CANCELLED);
    ck_assert_int_eq(log.calls, 1);
    ck_assert_uint_eq(s.added, 0);
    ck_assert_uint_eq(item_count(idx), 20);
    ao.progress = NULL;
    OK(cerebro_index_add(idx, paths, 1, &ao, &s));
    ck_assert_uint_eq(s.added, 1);
    ck_assert_uint_eq(item_count(idx), 21);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* ---- searches racing an indexer ------------------------------------------------ */

typedef struct racer {
    cerebro_index *idx;
    uint32_t dim;
    atomic_int *stop;
    int searches, nonempty;
    char error[512];
} racer;

static void *race_search(void *arg)
{
    racer *rc = arg;
    float *q = malloc(rc->dim * sizeof *q);
    const char *texts[] = {"a cat", "a sunset over the sea", "red"};
    for (uint32_t round = 0; !atomic_load(rc->stop) && !rc->error[0]; round++) {
        cerebro_index_stats before;
        cerebro_results *r = NULL;
        cerebro_search_options o;
        cerebro_search_options_init(&o);
        o.k = 1 + round % 12;
        o.min_relevance = 0; /* every hit: the count is what this checks */
        if (cerebro_index_stats_get(rc->idx, &before) != CEREBRO_OK) {
            snprintf(rc->error, sizeof rc->error, "stats: %s", cerebro_last_error());
            break;
        }
        cerebro_status st;
        if (round % 2) {
            st = cerebro_index_search_text(rc->idx, texts[round % 3], &o, &r);
        } else {
            seeded_vector(q, rc->dim, round);
            st = cerebro_index_search_vector(rc->idx, q, &o, &r);
        }
        if (st != CEREBRO_OK) {
            snprintf(rc->error, sizeof rc->error, "search: %s", cerebro_last_error());
            break;
        }
        size_t n = cerebro_results_count(r);
        /* Items are only added meanwhile: at least what was there before. */
        uint64_t expect = before.count < o.k ? before.count : o.k;
        if (n < expect || n > o.k)
            snprintf(rc->error, sizeof rc->error, "%zu hits for k=%u with %llu items before", n, o.k,
                     (unsigned long long)before.count);
        float last = 2;
        for (size_t i = 0; i < n && !rc->error[0]; i++) {
            cerebro_hit hit, again;
            cerebro_results *g = NULL;
            cerebro_results_get(r, i, &hit);
            if (hit.score > last + 1e-6f)
                snprintf(rc->error, sizeof rc->error, "scores not sorted: %g after %g", hit.score, last);
            last = hit.score;
            /* Relevance is drawn from the state the search began on (the
             * background is redrawn as the store grows): present once the
             * store has 50 items, in the order of the scores. */
            float rel = cerebro_results_relevance(r, i);
            if (before.count >= 50 && isnan(rel))
                snprintf(rc->error, sizeof rc->error, "no relevance with %llu items",
                         (unsigned long long)before.count);
            else if (i > 0 && rel > cerebro_results_relevance(r, i - 1) + 1e-4f)
                snprintf(rc->error, sizeof rc->error, "relevance not sorted");
            if (access(hit.path, F_OK) != 0)
                snprintf(rc->error, sizeof rc->error, "hit %s does not exist", hit.path);
            else if (cerebro_index_get(rc->idx, hit.id, &g) != CEREBRO_OK ||
                     cerebro_results_get(g, 0, &again) != CEREBRO_OK || strcmp(again.path, hit.path) != 0)
                snprintf(rc->error, sizeof rc->error, "hit %lld (%s) is not in the store", (long long)hit.id,
                         hit.path);
            cerebro_results_free(g);
        }
        rc->searches++;
        rc->nonempty += n > 0;
        cerebro_results_free(r);
    }
    free(q);
    return NULL;
}

START_TEST(test_concurrent_searches)
{
    const char *root = scratch("race"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    atomic_int stop = 0;
    racer rc[4];
    pthread_t tid[4];
    cerebro_add_options ao;
    cerebro_add_stats s;

    fill_folder(join(photos, "a"), 60, 2000);
    fill_folder(join(photos, "b"), 60, 2100);
    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    for (int i = 0; i < 4; i++) {
        memset(&rc[i], 0, sizeof rc[i]);
        rc[i].idx = idx;
        rc[i].dim = cerebro_model_dim(m);
        rc[i].stop = &stop;
        ck_assert_int_eq(pthread_create(&tid[i], NULL, race_search, &rc[i]), 0);
    }
    cerebro_add_options_init(&ao);
    ao.batch_size = 4;
    ao.commit_every = 4;
    ao.n_workers = 1;
    const char *pa[1] = {join(photos, "a")}, *pb[1] = {join(photos, "b")}, *all[1] = {photos};
    OK(cerebro_index_add(idx, pa, 1, &ao, &s));
    OK(cerebro_index_add(idx, pb, 1, &ao, &s));
    OK(cerebro_index_remove_path(idx, join(photos, "a/img000.jpg")));
    OK(cerebro_index_add(idx, all, 1, &ao, &s));
    ck_assert_uint_eq(s.added, 1);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_msg(!rc[i].error[0], "searcher %d: %s", i, rc[i].error);
        ck_assert_int_gt(rc[i].searches, 0);
    }
    ck_assert_uint_eq(item_count(idx), 120);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* ---- file names ------------------------------------------------------------------ */

/* Inside a folder, every image extension libcerebro reads, in any case, is
 * opened (here: junk, so each is reported as not an image); other names are
 * skipped without being opened. */
START_TEST(test_image_extensions)
{
    static const char *const exts[] = {
        "jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "tif", "tiff", "bmp", "dib", "heic", "heif",
        "hif", "avif", "jxl", "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "orf",
        "rw2", "pef", "srw", "x3f", "mrw", "3fr", "iiq", "erf", "kdc", "dcr", "mos", "rwl"};
    static const char *const skipped[] = {"notes.txt", "photo.xmp", "photo.heic.txt", "webp", ".webp",
                                          "photo.jxl~", "photo.nefx", "photo.pdf"};
    const char *root = scratch("extensions"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    size_t n = sizeof exts / sizeof exts[0], n_skipped = sizeof skipped / sizeof skipped[0];
    cerebro_add_options ao;
    cerebro_add_stats s;
    progress_log log = {0};
    char name[64];

    mkdirs(photos);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "lower-%s.%s", exts[i], exts[i]);
        write_bytes(join(photos, name), "plain text, no picture", 22);
        snprintf(name, sizeof name, "upper-%s.", exts[i]);
        for (const char *e = exts[i]; *e; e++)
            snprintf(name + strlen(name), sizeof name - strlen(name), "%c", *e >= 'a' && *e <= 'z' ? *e - 32 : *e);
        write_bytes(join(photos, name), "plain text, no picture", 22);
    }
    for (size_t i = 0; i < n_skipped; i++)
        write_bytes(join(photos, skipped[i]), "plain text, no picture", 22);
    write_jpeg(join(photos, "good.JPG"), 4000, 40, 40);

    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_options_init(&ao);
    ao.progress = on_progress;
    ao.user = &log;
    OK(cerebro_index_add(idx, &photos, 1, &ao, &s));
    ck_assert_uint_eq(s.added, 1);
    ck_assert_uint_eq(s.failed, 2 * n);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "lower-%s.%s", exts[i], exts[i]);
        assert_reported(&log, name);
    }
    for (size_t i = 0; i < n_skipped; i++) {
        snprintf(name, sizeof name, "/%s\t", skipped[i]);
        ck_assert_msg(strstr(log.failures, name) == NULL, "%s was opened", skipped[i]);
    }
    /* The reason is the content, not the name. */
    ck_assert_ptr_nonnull(strstr(log.failures, "not an image format libcerebro reads"));
    ck_assert_int_eq(log.bad, 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* ---- a hostile folder ------------------------------------------------------------ */

/* The other formats' files: tests/format_samples.py (PIL, heif-enc, avifenc,
 * cjxl) writes one picture in each into `dir`; their bombs are these files
 * with a header patched to declare a huge picture over the same few bytes. */
static void write_format_samples(const char *dir, const char *source)
{
    /* CTest names <source>/tests/data; by hand, the source file's folder. */
    const char *data = getenv("CEREBRO_TEST_DATA");
    char tests[4096], cmd[16384];
    snprintf(tests, sizeof tests, "%s", data ? data : __FILE__);
    char *slash = strrchr(tests, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(slash, sizeof tests - (size_t)(slash - tests), "%s", data ? "" : "/..");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/format_samples.py' '%s' '%s' sample > /dev/null", tests,
             source, dir);
    ck_assert_msg(system(cmd) == 0, "cannot write the format samples: %s", cmd);
}

static void put_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, v);
    put_le16(p + 2, v >> 16);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A little-endian TIFF's ImageWidth and ImageLength set to w x h (LONG). */
static void tiff_set_size(uint8_t *t, size_t size, uint32_t w, uint32_t h)
{
    ck_assert(size > 8 && memcmp(t, "II*\0", 4) == 0);
    uint32_t ifd = t[4] | t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    ck_assert_uint_lt(ifd + 2, size);
    unsigned n = t[ifd] | t[ifd + 1] << 8, found = 0;
    for (unsigned i = 0; i < n && ifd + 2 + 12 * (i + 1) <= size; i++) {
        uint8_t *e = t + ifd + 2 + 12 * i;
        unsigned tag = e[0] | e[1] << 8;
        if (tag != 256 && tag != 257)
            continue;
        put_le16(e + 2, 4); /* LONG */
        put_le32(e + 4, 1);
        put_le32(e + 8, tag == 256 ? w : h);
        found++;
    }
    ck_assert_uint_eq(found, 2);
}

/* Every 'ispe' (image spatial extents) property of a HEIF set to w x h. */
static void heif_set_size(uint8_t *d, size_t size, uint32_t w, uint32_t h)
{
    int found = 0;
    for (size_t i = 4; i + 16 <= size; i++)
        if (memcmp(d + i, "ispe", 4) == 0) {
            put_be32(d + i + 8, w); /* after version and flags */
            put_be32(d + i + 12, h);
            found++;
        }
    ck_assert_int_gt(found, 0);
}

/* A little-endian TIFF of `n` entries (tag, type, count, value; values
 * fit in 4 bytes) followed by `data`. */
static void *tiff_build(const uint16_t (*tags)[2], const uint32_t *values, const uint32_t *counts, size_t n,
                        size_t data_size, size_t *size)
{
    size_t ifd_size = 2 + 12 * n + 4;
    uint8_t *t = calloc(1, 8 + ifd_size + data_size);
    ck_assert_ptr_nonnull(t);
    memcpy(t, "II*\0", 4);
    put_le32(t + 4, 8);
    put_le16(t + 8, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = t + 10 + 12 * i;
        put_le16(e, tags[i][0]);
        put_le16(e + 2, tags[i][1]);
        put_le32(e + 4, counts[i]);
        if (tags[i][1] == 3 && counts[i] <= 2) /* SHORTs, left-justified */
            put_le16(e + 8, values[i]);
        else
            put_le32(e + 8, values[i]);
    }
    for (size_t i = 0; i < data_size; i++)
        t[8 + ifd_size + i] = (uint8_t)(i * 7);
    *size = 8 + ifd_size + data_size;
    return t;
}

/* A DNG (a TIFF with a CFA raw image and DNGVersion) of w x h 16-bit
 * pixels over data_size bytes of data. */
static void *dng_bytes(uint32_t w, uint32_t h, size_t data_size, size_t *size)
{
    static const uint16_t tags[][2] = {{254, 4},   {256, 4},   {257, 4},   {258, 3},   {259, 3},
                                       {262, 3},   {271, 2},   {273, 4},   {277, 3},   {278, 4},
                                       {279, 4},   {33421, 3}, {33422, 1}, {50706, 1}};
    enum { N = sizeof tags / sizeof tags[0] };
    const size_t data_at = 8 + 2 + 12 * N + 4;
    const uint32_t values[N] = {0, w, h, 16, 1, 32803, 0x414d4f4e /* "NOMA": Make, 4 bytes */,
                                (uint32_t)data_at, 1, h, w * h * 2, 2 | 2u << 16, 0x02010100, 0x00000401};
    const uint32_t counts[N] = {1, 1, 1, 1, 1, 1, 4, 1, 1, 1, 1, 2, 4, 4};
    uint8_t *t = tiff_build(tags, values, counts, N, data_size, size);
    /* Make: "NOM\0" in place; CFARepeatPatternDim: two SHORTs (2, 2). */
    memcpy(t + 10 + 12 * 6 + 8, "NOM", 4);
    put_le16(t + 10 + 12 * 11 + 8, 2);
    put_le16(t + 10 + 12 * 11 + 10, 2);
    return t;
}

/* For every other format: a bomb (a header declaring a huge picture over a
 * few bytes) and a truncated file, named bomb.EXT and trunc.EXT, and the
 * good samples (sample.EXT, and their reference PNGs sample.EXT.png). */
static size_t write_hostile_formats(const char *dir, const char **bad, size_t cap)
{
    static const char *const exts[] = {"webp", "gif", "tif", "bmp", "heic", "avif", "jxl"};
    size_t n = 0, size;
    char name[64];

    write_jpeg(join(dir, "source.jpeg"), 3100, 96, 64);
    write_format_samples(dir, join(dir, "source.jpeg"));
    ck_assert_int_eq(unlink(join(dir, "source.jpeg")), 0);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        const char *ext = exts[i];
        snprintf(name, sizeof name, "sample.%s", ext);
        uint8_t *d = slurp(join(dir, name), &size);
        /* Truncated: the first 40 % (headers whole, picture data cut). */
        snprintf(name, sizeof name, "trunc.%s", ext);
        write_bytes(join(dir, name), d, size * 2 / 5);
        ck_assert_uint_lt(n + 2, cap);
        bad[n++] = keep(strdup(name));
        snprintf(name, sizeof name, "bomb.%s", ext);
        if (strcmp(ext, "gif") == 0) {
            put_le16(d + 6, 65535); /* logical screen 65535 x 65535 */
            put_le16(d + 8, 65535);
            write_bytes(join(dir, name), d, size);
        } else if (strcmp(ext, "bmp") == 0) {
            put_le32(d + 18, 100000); /* BITMAPINFOHEADER 100000 x 100000 */
            put_le32(d + 22, 100000);
            write_bytes(join(dir, name), d, size);
        } else if (strcmp(ext, "tif") == 0) {
            tiff_set_size(d, size, 1000000, 1000000);
            write_bytes(join(dir, name), d, size);
        } else if (strcmp(ext, "heic") == 0 || strcmp(ext, "avif") == 0) {
            heif_set_size(d, size, 100000, 100000);
            write_bytes(join(dir, name), d, size);
        } else if (strcmp(ext, "webp") == 0) {
            /* An extended WebP: a VP8X canvas of 16384 x 16384 over the
             * sample's own VP8L frame, its header saying 16384 x 16384 too
             * (14 bits each of width - 1 and height - 1 after 0x2f). */
            ck_assert(size > 25 && memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2f);
            d[21] = d[22] = d[23] = 0xff;
            d[24] = (uint8_t)((d[24] & 0xf0) | 0x0f);
            uint8_t *x = malloc(size + 18);
            ck_assert_ptr_nonnull(x);
            memcpy(x, "RIFF", 4);
            put_le32(x + 4, (uint32_t)(size + 18 - 8));
            memcpy(x + 8, "WEBPVP8X", 8);
            put_le32(x + 16, 10);
            memset(x + 20, 0, 4);
            x[24] = x[27] = 0xff; /* width - 1 and height - 1: 16383, 24 bits each */
            x[25] = x[28] = 0x3f;
            x[26] = x[29] = 0;
            memcpy(x + 30, d + 12, size - 12);
            write_bytes(join(dir, name), x, size + 18);
            free(x);
        } else {
            /* JPEG XL codestream: SizeHeader 262144 x 262144 (not small,
             * height 1 + u(18) = 2^18, ratio 1:1), default metadata. */
            static const uint8_t jxl[] = {0xff, 0x0a, 0xfc, 0xff, 0x3f, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
            write_bytes(join(dir, name), jxl, sizeof jxl);
        }
        bad[n++] = keep(strdup(name));
        free(d);
    }
    /* Camera RAW (no Debian tool writes one): a DNG of 60000 x 60000
     * pixels over 64 bytes (under LibRaw's own 64000 limit, so it is the
     * RAW decoder's to refuse), and a 64 x 48 one cut after half its data. */
    void *dng = dng_bytes(60000, 60000, 64, &size);
    write_bytes(join(dir, "bomb.dng"), dng, size);
    free(dng);
    dng = dng_bytes(64, 48, 64 * 48 * 2, &size);
    write_bytes(join(dir, "trunc.dng"), dng, size - 64 * 48);
    free(dng);
    ck_assert_uint_lt(n + 2, cap);
    bad[n++] = "bomb.dng";
    bad[n++] = "trunc.dng";
    return n;
}

START_TEST(test_hostile_folder)
{
    const char *root = scratch("hostile"), *photos = join(root, "photos");
    cerebro_model *m = open_model("tiny.pt");
    uint32_t dim = cerebro_model_dim(m);
    const char *odd_name = "odd-\xff\xfe-name.jpg";
    size_t size;
    cerebro_add_stats s;
    cerebro_add_options ao;
    progress_log log = {0};

    alarm(300); /* a hang fails the test instead of stalling the suite */
    mkdirs(photos);
    write_jpeg(join(photos, "good1.jpg"), 3000, 60, 45);
    write_jpeg(join(photos, "good2.jpeg"), 3001, 45, 60);
    write_jpeg(join(photos, odd_name), 3002, 50, 50);
    mkdirs(join(photos, "x.jpg")); /* a folder with an image name... */
    write_jpeg(join(photos, "x.jpg/inner.jpg"), 3003, 50, 50); /* ...holding an image */
    write_bytes(join(photos, "zero.jpg"), "", 0);
    void *jpeg = jpeg_bytes(3004, 80, 80, &size);
    write_bytes(join(photos, "trunc.jpg"), jpeg, size / 3);
    cerebro_free(jpeg);
    write_bytes(join(photos, "text.jpg"), "hello, I am not a picture", 25);
    ck_assert_int_eq(symlink("/no/such/target.jpg", join(photos, "broken.jpg")), 0);
    ck_assert_int_eq(symlink(".", join(photos, "loop")), 0);
    /* An unreadable entry: root reads through chmod 000, so a FIFO (opening
     * it would block forever) stands for a file that cannot be read; a
     * chmod 000 file is unreadable only when the tests do not run as root. */
    ck_assert_int_eq(mkfifo(join(photos, "y.jpg"), 0644), 0);
    int root_reads_all = geteuid() == 0;
    write_jpeg(join(photos, "locked.jpg"), 3005, 50, 50);
    ck_assert_int_eq(chmod(join(photos, "locked.jpg"), 0), 0);
    write_bytes(join(photos, "readme.txt"), "hi", 2);
    /* The other formats: 7 good samples and their 7 PNGs, a bomb and a
     * truncated file of each, and text named .heic. */
    const char *formats = join(photos, "formats"), *format_bad[32];
    mkdirs(formats);
    size_t n_format_bad = write_hostile_formats(formats, format_bad, 30);
    write_bytes(join(formats, "text.heic"), "I am text, not a HEIC picture", 29);
    format_bad[n_format_bad++] = "text.heic";

    cerebro_index *idx = open_index(join(root, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_options_init(&ao);
    ao.flags = CEREBRO_ADD_FOLLOW_SYMLINKS;
    ao.progress = on_progress;
    ao.user = &log;
    ao.batch_size = 2;
    const char *paths[2] = {photos, join(root, "missing.jpg")};
    OK(cerebro_index_add(idx, paths, 2, &ao, &s));
    uint64_t good = 4 + (uint64_t)root_reads_all + 14;
    ck_assert_msg(s.added == good, "%llu added, %llu expected; failures:\n%s", (unsigned long long)s.added,
                  (unsigned long long)good, log.failures);
    ck_assert_uint_eq(item_count(idx), good);
    const char *bad[] = {"zero.jpg", "trunc.jpg", "text.jpg", "broken.jpg", "loop", "y.jpg", "missing.jpg",
                         "locked.jpg"};
    size_t n_bad = sizeof bad / sizeof bad[0] - (size_t)root_reads_all;
    for (size_t i = 0; i < n_bad; i++)
        assert_reported(&log, bad[i]);
    /* Each bad file of the other formats: reported with a message naming
     * it and a status saying what is wrong with the data, never indexed. */
    for (size_t i = 0; i < n_format_bad; i++) {
        assert_reported(&log, format_bad[i]);
        ck_assert_int_lt(id_of(idx, dim, join(formats, format_bad[i])), 0);
    }
    if (getenv("CEREBRO_TEST_VERBOSE"))
        fputs(log.failures, stderr);
    for (const char *line = log.failures, *end; *line; line = end + 1) {
        char one[2048];
        const char *tab;
        ck_assert_ptr_nonnull(end = strchr(line, '\n'));
        snprintf(one, sizeof one, "%.*s", (int)(end - line), line);
        ck_assert_msg((tab = strchr(one, '\t')) != NULL, "a message holds a line break: %s", one);
        int st = atoi(tab + 1);
        /* A bomb is over the limits, a cut file damaged (E_UNSUPPORTED: a
         * build without that decoder). */
        if (strstr(one, "/formats/bomb."))
            ck_assert_msg(st == CEREBRO_E_LIMIT || st == CEREBRO_E_UNSUPPORTED, "not E_LIMIT: %s", one);
        else if (strstr(one, "/formats/"))
            ck_assert_msg(st == CEREBRO_E_CORRUPT || st == CEREBRO_E_FORMAT || st == CEREBRO_E_UNSUPPORTED,
                          "not E_CORRUPT or E_FORMAT: %s", one);
    }
    ck_assert_uint_eq(s.failed, n_bad + n_format_bad);
    ck_assert_int_eq(log.bad, 0);
    ck_assert_int_ge(id_of(idx, dim, join(photos, "x.jpg/inner.jpg")), 0);
    ck_assert_int_ge(id_of(idx, dim, join(formats, "sample.heic")), 0);
    ck_assert_int_ge(id_of(idx, dim, join(formats, "sample.jxl.png")), 0);

    /* The non-UTF-8 name comes back byte for byte. */
    const char *odd = join(photos, odd_name);
    cerebro_search_options o = search_opts(1, NULL);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_image_file(idx, odd, &o, &r));
    hits h = copy_hits(r);
    ck_assert_str_eq(h.path[0], odd);
    free_hits(&h);

    /* Again, without following links: the same four, nothing re-encoded. */
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.added + s.updated + s.removed, 0);
    ck_assert_uint_eq(item_count(idx), good);
    cerebro_index_stats st;
    OK(cerebro_index_stats_get(idx, &st));
    /* zero, trunc, text (and locked): the files that were opened; and the
     * other formats' bad files */
    ck_assert_uint_eq(st.failed, 3 + (uint64_t)!root_reads_all + n_format_bad);
    cerebro_index_free(idx);
    cerebro_model_free(m);
    alarm(0);
}
END_TEST

/* A root that cannot be reached (an unmounted drive, a renamed folder)
 * keeps its indexed files; a file replaced by a folder of the same name
 * counts as vanished. */
START_TEST(test_unreachable_root_keeps_files)
{
    const char *dir = scratch("unreachable");
    const char *photos = join(dir, "photos"), *moved = join(dir, "photos-elsewhere");
    cerebro_model *m = open_model("tiny.pt");
    cerebro_index *idx = open_index(join(dir, "store"), m, CEREBRO_INDEX_CREATE);
    cerebro_add_options o;
    cerebro_add_stats s;

    fill_folder(photos, 5, 700);
    add_one(idx, photos, 0);
    ck_assert_uint_eq(item_count(idx), 5);
    ck_assert_int_eq(rename(photos, moved), 0);
    cerebro_add_options_init(&o);
    ck_assert_int_eq(cerebro_index_add(idx, &photos, 1, &o, &s), CEREBRO_E_NOT_FOUND);
    ck_assert_uint_eq(s.removed, 0);
    ck_assert_uint_eq(item_count(idx), 5);

    ck_assert_int_eq(rename(moved, photos), 0);
    ck_assert_int_eq(unlink(join(photos, "img001.jpg")), 0);
    mkdirs(join(photos, "img001.jpg"));
    s = add_one(idx, photos, 0);
    ck_assert_uint_eq(s.removed, 1);
    ck_assert_uint_eq(item_count(idx), 4);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, arena_free);
    tcase_add_test(tc, test_search_kinds);
    tcase_add_test(tc, test_k_limits);
    tcase_add_test(tc, test_prefix);
    tcase_add_test(tc, test_relevance);
    tcase_add_test(tc, test_refresh);
    tcase_add_test(tc, test_incremental);
    tcase_add_test(tc, test_overlapping_roots);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_remove_many);
    tcase_add_test(tc, test_exclude);
    tcase_add_test(tc, test_model_mismatch);
    tcase_add_test(tc, test_ann_file_is_derived);
    tcase_add_test(tc, test_readonly);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_progress_and_cancel);
    tcase_add_test(tc, test_concurrent_searches);
    tcase_add_test(tc, test_image_extensions);
    tcase_add_test(tc, test_hostile_folder);
    tcase_add_test(tc, test_unreachable_root_keeps_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(index_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
