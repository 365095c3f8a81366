/* Re-indexing bugs a user would see, each one pinned by a test that fails
 * when the bug is back (scripts/mutants.txt holds the mutants):
 *  - a photo edited in place to the same byte size, with a later mtime, must
 *    be re-encoded (deciding "unchanged" by size alone skips it);
 *  - the same edit within the same second, only the nanoseconds of the mtime
 *    moving, must be re-encoded too (comparing whole seconds misses it);
 *  - search by id under a prefix that excludes the item returns exactly k
 *    hits (the extra hit asked for to make room for the item is dropped).
 * Through the public API, on the tiny random-weight bundle of tests/model. */
#define _GNU_SOURCE /* nftw, utimensat, strdup */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

static char paths[8][4096];

/* A fresh absolute scratch folder; slot i of `paths` holds its name. */
static const char *scratch(int slot, const char *name)
{
    const char *base = getenv("CEREBRO_TEST_TMP");
    char cwd[2048];
    if (!base || base[0] != '/') {
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(paths[slot], sizeof paths[slot], "%s/%s/incremental-%s", cwd, base ? base : "tmp", name);
    } else {
        snprintf(paths[slot], sizeof paths[slot], "%s/incremental-%s", base, name);
    }
    rm_rf(paths[slot]);
    mkdirs(paths[slot]);
    return paths[slot];
}

static const char *join(int slot, const char *a, const char *b)
{
    int n = snprintf(paths[slot], sizeof paths[slot], "%s/%s", a, b);
    ck_assert_int_lt(n, (int)sizeof paths[slot]);
    return paths[slot];
}

static cerebro_model *open_model(void)
{
    const char *dir = getenv("CEREBRO_MODEL_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny.pt", dir ? dir : "model-fixtures");
    return open_test_model(path);
}

static cerebro_index *open_index(const char *dir, const cerebro_model *m)
{
    cerebro_index_options o;
    cerebro_index *idx = NULL;
    cerebro_index_options_init(&o);
    o.flags = CEREBRO_INDEX_CREATE;
    OK(cerebro_index_open(&idx, dir, m, &o));
    return idx;
}

static cerebro_add_stats add(cerebro_index *idx, const char *path)
{
    cerebro_add_stats s;
    OK(cerebro_index_add(idx, &path, 1, NULL, &s));
    return s;
}

/* A w x h JPEG whose picture depends on `seed` (stripes and a block). */
static void *jpeg_bytes(uint32_t seed, uint32_t w, uint32_t h, size_t *size)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    cerebro_image *img = NULL;
    void *data = NULL;
    ck_assert_ptr_nonnull(rgb);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            int in_block = x > seed % (w / 2) && x < seed % (w / 2) + w / 3 && y > h / 4 && y < h / 2;
            p[0] = (uint8_t)(in_block ? 255 - seed * 37 : (x * (seed + 3)) & 0xff);
            p[1] = (uint8_t)(in_block ? seed * 91 : (y * (seed * 5 + 1)) & 0xff);
            p[2] = (uint8_t)((((x / 8) + (y / 8) + seed) & 1) ? 230 : 20);
        }
    OK(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL));
    OK(cerebro_image_encode_jpeg(img, 90, &data, size));
    cerebro_image_free(img);
    free(rgb);
    return data;
}

/* Writes `jpeg` padded to exactly `target` bytes by a comment segment right
 * after SOI, so two different pictures can have the same file size
 * (target == size: as it is). */
static void write_padded(const char *path, const uint8_t *jpeg, size_t size, size_t target)
{
    size_t pad = target - size, seg = pad - 2; /* the length field counts itself */
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    if (target == size) {
        ck_assert_uint_eq(fwrite(jpeg, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
        return;
    }
    ck_assert_uint_ge(pad, 4);
    ck_assert_uint_le(seg, 0xffff);
    uint8_t head[4] = {0xff, 0xfe, (uint8_t)(seg >> 8), (uint8_t)seg};
    ck_assert_uint_eq(fwrite(jpeg, 1, 2, f), 2);
    ck_assert_uint_eq(fwrite(head, 1, 4, f), 4);
    for (size_t i = 0; i < pad - 4; i++)
        ck_assert_int_ne(fputc('p', f), EOF);
    ck_assert_uint_eq(fwrite(jpeg + 2, 1, size - 2, f), size - 2);
    ck_assert_int_eq(fclose(f), 0);
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec t[2] = {{sec, nsec}, {sec, nsec}};
    struct stat st;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    /* The test means nothing on a file system that drops the nanoseconds. */
    ck_assert_int_eq(st.st_mtim.tv_sec, sec);
    ck_assert_int_eq(st.st_mtim.tv_nsec, nsec);
}

static double dot(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The id of the only item of the index. */
static int64_t only_id(cerebro_index *idx, uint32_t dim)
{
    float *v = calloc(dim, sizeof *v);
    cerebro_results *r = NULL;
    cerebro_hit hit;
    cerebro_search_options o;
    cerebro_search_options_init(&o);
    o.k = 10;
    v[0] = 1;
    OK(cerebro_index_search_vector(idx, v, &o, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 1);
    OK(cerebro_results_get(r, 0, &hit));
    int64_t id = hit.id;
    cerebro_results_free(r);
    free(v);
    return id;
}

/* Indexes a photo, rewrites it in place with another picture of the same
 * byte size at mtime (sec2, nsec2), and checks that the re-run re-encodes it:
 * updated 1, and the stored vector is the new picture's. */
static void check_same_size_rewrite(const char *name, time_t sec1, long nsec1, time_t sec2, long nsec2)
{
    const char *root = scratch(0, name);
    char photos[4096], photo[4096], store[4096];
    cerebro_model *m = open_model();
    uint32_t dim = cerebro_model_dim(m);
    float *before = malloc(dim * sizeof(float)), *after = malloc(dim * sizeof(float));
    float *want = malloc(dim * sizeof(float));
    size_t size_a, size_b;
    uint8_t *a = jpeg_bytes(1, 64, 48, &size_a), *b = jpeg_bytes(6, 64, 48, &size_b);
    size_t target = (size_a > size_b ? size_a : size_b) + 16;
    struct stat st;

    snprintf(photos, sizeof photos, "%s", join(1, root, "photos"));
    snprintf(photo, sizeof photo, "%s", join(1, photos, "edited.jpg"));
    snprintf(store, sizeof store, "%s", join(1, root, "store"));
    mkdirs(photos);
    write_padded(photo, a, size_a, target);
    set_mtime(photo, sec1, nsec1);

    cerebro_index *idx = open_index(store, m);
    cerebro_add_stats s = add(idx, photos);
    ck_assert_uint_eq(s.added, 1);
    ck_assert_uint_eq(s.failed, 0);
    int64_t id = only_id(idx, dim);
    OK(cerebro_index_get_vector(idx, id, before));
    /* Untouched, it is skipped: the rewrite below is what makes the update. */
    s = add(idx, photos);
    ck_assert_uint_eq(s.skipped, 1);
    ck_assert_uint_eq(s.added + s.updated + s.removed + s.failed, 0);

    write_padded(photo, b, size_b, target);
    set_mtime(photo, sec2, nsec2);
    ck_assert_int_eq(stat(photo, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)target);

    s = add(idx, photos);
    ck_assert_uint_eq(s.updated, 1);
    ck_assert_uint_eq(s.skipped, 0);
    ck_assert_uint_eq(s.added + s.removed + s.failed, 0);
    id = only_id(idx, dim);
    OK(cerebro_index_get_vector(idx, id, after));
    const char *file = photo;
    OK(cerebro_model_encode_image_files(m, &file, 1, NULL, want, NULL));
    ck_assert_double_gt(dot(after, want, dim), 0.9999);
    ck_assert_double_lt(dot(before, want, dim), 0.9999);
    /* And now it is unchanged again. */
    s = add(idx, photos);
    ck_assert_uint_eq(s.skipped, 1);
    ck_assert_uint_eq(s.updated, 0);

    cerebro_index_free(idx);
    cerebro_model_free(m);
    cerebro_free(a);
    cerebro_free(b);
    free(before);
    free(after);
    free(want);
}

START_TEST(test_same_size_later_second)
{
    check_same_size_rewrite("later-second", 1600000000, 0, 1600000007, 0);
}
END_TEST

START_TEST(test_same_size_same_second)
{
    check_same_size_rewrite("same-second", 1600000000, 100000000, 1600000000, 700000000);
}
END_TEST

/* Search by id under a prefix that holds the item's neighbours but not the
 * item: exactly min(k, items under the prefix) hits, the nearest ones by
 * brute force over the stored vectors. */
START_TEST(test_similar_prefix_excluding_item)
{
    const char *root = scratch(0, "similar-prefix");
    char a_dir[4096], b_dir[4096], prefix[4200], path[4300], store[4096];
    cerebro_model *m = open_model();
    uint32_t dim = cerebro_model_dim(m);
    enum { N_B = 4 };
    int64_t b_ids[N_B];
    float *item = malloc(dim * sizeof(float)), *v = malloc(dim * sizeof(float));
    double b_dot[N_B];

    snprintf(a_dir, sizeof a_dir, "%s", join(1, root, "a"));
    snprintf(b_dir, sizeof b_dir, "%s", join(1, root, "b"));
    snprintf(store, sizeof store, "%s", join(1, root, "store"));
    mkdirs(a_dir);
    mkdirs(b_dir);
    for (uint32_t i = 0; i <= N_B; i++) {
        size_t size;
        void *data = jpeg_bytes(10 + i, 48 + 4 * i, 40, &size);
        snprintf(path, sizeof path, i == 0 ? "%s/item.jpg" : "%s/img%u.jpg", i == 0 ? a_dir : b_dir, i);
        write_padded(path, data, size, size);
        cerebro_free(data);
    }
    cerebro_index *idx = open_index(store, m);
    cerebro_add_stats s = add(idx, root);
    ck_assert_uint_eq(s.added, 1 + N_B);

    /* The ids and vectors, by path. */
    int64_t item_id = -1;
    cerebro_results *r = NULL;
    cerebro_search_options o;
    cerebro_search_options_init(&o);
    o.k = 100;
    OK(cerebro_index_search_text(idx, "x", &o, &r));
    ck_assert_uint_eq(cerebro_results_count(r), 1 + N_B);
    for (size_t i = 0; i < cerebro_results_count(r); i++) {
        cerebro_hit hit;
        unsigned n;
        OK(cerebro_results_get(r, i, &hit));
        if (strstr(hit.path, "/a/item.jpg"))
            item_id = hit.id;
        else if (sscanf(strrchr(hit.path, '/'), "/img%u.jpg", &n) == 1 && n >= 1 && n <= N_B)
            b_ids[n - 1] = hit.id;
        else
            ck_abort_msg("unexpected item %s", hit.path);
    }
    cerebro_results_free(r);
    ck_assert_int_ge(item_id, 0);
    OK(cerebro_index_get_vector(idx, item_id, item));
    for (int i = 0; i < N_B; i++) {
        OK(cerebro_index_get_vector(idx, b_ids[i], v));
        b_dot[i] = dot(item, v, dim);
    }

    snprintf(prefix, sizeof prefix, "%s/", b_dir);
    for (uint32_t k = 1; k <= N_B + 2; k++) {
        cerebro_search_options_init(&o);
        o.k = k;
        o.prefix = prefix;
        OK(cerebro_index_search_id(idx, item_id, &o, &r));
        size_t n = cerebro_results_count(r), expect = k < N_B ? k : N_B;
        ck_assert_msg(n == expect, "similar(k=%u, prefix=b/) gave %zu hits, want %zu", k, n, expect);
        for (size_t i = 0; i < n; i++) {
            cerebro_hit hit;
            OK(cerebro_results_get(r, i, &hit));
            ck_assert_int_ne(hit.id, item_id);
            ck_assert_msg(strncmp(hit.path, prefix, strlen(prefix)) == 0, "%s is not under b/", hit.path);
            /* The i-th hit has exactly i items of b/ nearer than itself. */
            double d = -2;
            for (int j = 0; j < N_B; j++)
                if (b_ids[j] == hit.id)
                    d = b_dot[j];
            ck_assert_double_gt(d, -2);
            ck_assert_double_eq_tol(hit.score, d, 1e-4);
            size_t nearer = 0;
            for (int j = 0; j < N_B; j++)
                nearer += b_dot[j] > d + 1e-6;
            ck_assert_uint_eq(nearer, i);
        }
        cerebro_results_free(r);
    }

    cerebro_index_free(idx);
    cerebro_model_free(m);
    free(item);
    free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("incremental");
    TCase *tc = tcase_create("incremental");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_same_size_later_second);
    tcase_add_test(tc, test_same_size_same_second);
    tcase_add_test(tc, test_similar_prefix_excluding_item);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
