/* One format's decoder against its reference, on the corpus that
 * tests/image/formats/gen_<format>.py writes into $CEREBRO_FORMAT_CORPUS.
 * The same program checks every format other than JPEG and PNG (those
 * have test_decode.c); formats.cmake runs it once per format.
 *
 * manifest.txt, one case a line, fields separated by single spaces:
 *
 *   ok    FILE REF W H MIN_SHORT APPLY_EXIF R,G,B TOL
 *         decode FILE through cb_image_decode_file() and through the public
 *         cerebro_image_load_memory(); both give W x H pixels within TOL
 *         uint8 levels of REF (raw RGB), every channel of every pixel
 *   err   FILE STATUS
 *         decoding fails with this status, the message names the file
 *   flip  FILE
 *         damaged file: must not crash; a failure names the file; a
 *         success is a sane image
 *   trunc FILE
 *         FILE cut at every offset (at most 600 cuts, spread evenly):
 *         never a crash, a failure names the file, never a success with
 *         a bad size
 *   limit FILE W H
 *         max_pixels W*H-1 is refused with E_LIMIT naming "WxH"; W*H decodes
 *   fast  FILE MIN_SHORT
 *         fast mode (min_short_side) keeps the full size in full_width/
 *         full_height, decodes at least MIN_SHORT on the short side, and
 *         the centre-cropped tensor has cosine >= 0.995 with exact mode's
 *   notraw FILE
 *         a TIFF that is not a camera RAW: cb_raw_sniff() says no, so
 *         decode.c hands it to the TIFF decoder
 *   min   KIND COUNT
 *         at least COUNT cases of KIND (so a broken generator cannot pass)
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "image/decode.h"
#include "image/image.h"

#define CORPUS_ENV "CEREBRO_FORMAT_CORPUS"
#include "corpus.h"

static void count_only(char **f, int nf, void *ctx)
{
    (void)f;
    (void)nf;
    (void)ctx;
}

static void assert_close(const cerebro_image *img, const uint8_t *ref, size_t ref_size,
                         uint32_t w, uint32_t h, int tol, const char *what)
{
    size_t n = (size_t)w * h * 3;
    int worst = 0;
    size_t at = 0;

    ck_assert_msg(img->width == w && img->height == h, "%s: got %ux%u, reference %ux%u", what,
                  img->width, img->height, w, h);
    ck_assert_msg(ref_size == n, "%s: reference holds %zu bytes, expected %zu", what, ref_size, n);
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)img->pixels[i] - (int)ref[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    ck_assert_msg(worst <= tol,
                  "%s: pixel (%zu, %zu) channel %zu is %u, reference %u (%d levels apart, "
                  "tolerance %d)",
                  what, (at / 3) % w, (at / 3) / w, at % 3, img->pixels[at], ref[at], worst, tol);
}

/* ------------------------------------------------------------ cases */

/* ok FILE REF W H MIN_SHORT APPLY_EXIF R,G,B TOL */
static void check_ok(char **f, int nf, void *ctx)
{
    unsigned r, g, b;
    uint8_t bg[3];
    uint32_t w, h;
    int tol;
    size_t ref_size, size;
    uint8_t *ref, *data;
    char *path = corpus_path(f[1]);
    cerebro_image *img = NULL;
    cb_decode_params p;
    cerebro_image_options opts;

    (void)ctx;
    ck_assert_msg(nf == 9, "bad ok line for %s", f[1]);
    ck_assert_int_eq(sscanf(f[7], "%u,%u,%u", &r, &g, &b), 3);
    bg[0] = (uint8_t)r;
    bg[1] = (uint8_t)g;
    bg[2] = (uint8_t)b;
    w = (uint32_t)strtoul(f[3], NULL, 10);
    h = (uint32_t)strtoul(f[4], NULL, 10);
    tol = atoi(f[8]);
    p = params_for((uint32_t)strtoul(f[5], NULL, 10), atoi(f[6]), bg);
    ref = read_all(f[2], &ref_size);

    ck_assert_msg(cb_image_decode_file(path, &p, &img) == CEREBRO_OK, "%s: %s", f[1],
                  cerebro_last_error());
    assert_close(img, ref, ref_size, w, h, tol, f[1]);
    cerebro_image_free(img);

    /* The public call, from memory, gives the same (exact mode only: the
     * public fast mode is the DRAFT flag, covered by "fast" lines). */
    if (p.min_short_side == 0) {
        data = read_all(f[1], &size);
        cerebro_image_options_init(&opts);
        memcpy(opts.background, bg, 3);
        if (!p.apply_exif)
            opts.flags |= CEREBRO_IMAGE_IGNORE_EXIF;
        ck_assert_msg(cerebro_image_load_memory(&img, data, size, f[1], &opts) == CEREBRO_OK,
                      "%s: %s", f[1], cerebro_last_error());
        assert_close(img, ref, ref_size, w, h, tol, f[1]);
        cerebro_image_free(img);
        free(data);
    }
    free(ref);
    free(path);
}

START_TEST(test_valid_match_reference)
{
    ck_assert_int_gt(for_each_case("ok", check_ok, NULL), 0);
}
END_TEST

/* err FILE STATUS */
static void check_err(char **f, int nf, void *ctx)
{
    char *path = corpus_path(f[1]);
    cb_decode_params p = params_for(0, 1, NULL);
    cerebro_image *img = NULL;
    cerebro_status want = status_from_name(f[2]), st;

    (void)ctx;
    ck_assert_int_eq(nf, 3);
    st = cb_image_decode_file(path, &p, &img);
    ck_assert_msg(st == want, "%s: got %s (%s), expected %s", f[1], cerebro_status_string(st),
                  cerebro_last_error(), f[2]);
    ck_assert_ptr_null(img);
    assert_names(path);
    /* Fast mode refuses it just the same. */
    p.min_short_side = 16;
    st = cb_image_decode_file(path, &p, &img);
    ck_assert_msg(st == want, "%s (fast mode): got %s (%s), expected %s", f[1],
                  cerebro_status_string(st), cerebro_last_error(), f[2]);
    ck_assert_ptr_null(img);
    free(path);
}

START_TEST(test_bad_inputs_refused)
{
    for_each_case("err", check_err, NULL);
}
END_TEST

static void decode_safely(const uint8_t *data, size_t size, const char *label, uint32_t min_short)
{
    cb_decode_params p = params_for(min_short, 1, NULL);
    cerebro_image *img = NULL;
    cerebro_status st;

    p.max_pixels = 16u << 20;
    st = cb_image_decode(data, size, label, &p, &img);
    if (st == CEREBRO_OK) {
        volatile unsigned sink = 0;
        ck_assert_ptr_nonnull(img);
        ck_assert(img->width > 0 && img->height > 0);
        ck_assert((uint64_t)img->width * img->height <= p.max_pixels);
        for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
            sink += img->pixels[i];
        cerebro_image_free(img);
    } else {
        ck_assert_msg(st == CEREBRO_E_CORRUPT || st == CEREBRO_E_FORMAT ||
                          st == CEREBRO_E_LIMIT || st == CEREBRO_E_UNSUPPORTED,
                      "%s: unexpected %s (%s)", label, cerebro_status_string(st),
                      cerebro_last_error());
        ck_assert_ptr_null(img);
        assert_names(label);
    }
}

/* flip FILE */
static void check_flip(char **f, int nf, void *ctx)
{
    size_t size;
    uint8_t *data = read_all(f[1], &size);

    (void)ctx;
    ck_assert_int_eq(nf, 2);
    decode_safely(data, size, f[1], 0);
    decode_safely(data, size, f[1], 16);
    free(data);
}

START_TEST(test_damaged_files_are_safe)
{
    for_each_case("flip", check_flip, NULL);
}
END_TEST

/* trunc FILE */
static void check_trunc(char **f, int nf, void *ctx)
{
    size_t size, step;
    uint8_t *data = read_all(f[1], &size);

    (void)ctx;
    ck_assert_int_eq(nf, 2);
    step = size / 600 + 1;
    for (size_t cut = 0; cut < size; cut += step) {
        /* A copy of exactly `cut` bytes, so ASan sees any read past it. */
        uint8_t *part = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(part);
        memcpy(part, data, cut);
        if (cut == 0) {
            cerebro_image *img = NULL;
            cb_decode_params p = params_for(0, 1, NULL);
            ck_assert_int_eq(cb_image_decode(part, 0, "cut", &p, &img), CEREBRO_E_FORMAT);
        } else {
            decode_safely(part, cut, "cut", 0);
        }
        free(part);
    }
    free(data);
}

START_TEST(test_truncations_are_safe)
{
    for_each_case("trunc", check_trunc, NULL);
}
END_TEST

/* limit FILE W H */
static void check_limit(char **f, int nf, void *ctx)
{
    char *path = corpus_path(f[1]);
    cb_decode_params p = params_for(0, 1, NULL);
    uint32_t w = (uint32_t)strtoul(f[2], NULL, 10), h = (uint32_t)strtoul(f[3], NULL, 10);
    cerebro_image *img = NULL;
    char dims[64];

    (void)ctx;
    ck_assert_int_eq(nf, 4);
    snprintf(dims, sizeof dims, "%ux%u", w, h);
    p.max_pixels = (uint64_t)w * h - 1;
    ck_assert_msg(cb_image_decode_file(path, &p, &img) == CEREBRO_E_LIMIT, "%s: %s", f[1],
                  cerebro_last_error());
    ck_assert_msg(strstr(cerebro_last_error(), dims) != NULL, "%s: \"%s\" does not say %s", f[1],
                  cerebro_last_error(), dims);
    assert_names(path);
    p.min_short_side = 8; /* fast mode judges the file's size too */
    ck_assert_int_eq(cb_image_decode_file(path, &p, &img), CEREBRO_E_LIMIT);
    p.min_short_side = 0;
    p.max_pixels = (uint64_t)w * h;
    ck_assert_msg(cb_image_decode_file(path, &p, &img) == CEREBRO_OK, "%s: %s", f[1],
                  cerebro_last_error());
    cerebro_image_free(img);
    free(path);
}

START_TEST(test_limits_before_allocation)
{
    for_each_case("limit", check_limit, NULL);
}
END_TEST

static float *tensor_of(const cerebro_image *img, const cerebro_image_options *opts)
{
    float *t = malloc(cerebro_image_tensor_size(opts) * sizeof *t);

    ck_assert_ptr_nonnull(t);
    ck_assert_msg(cerebro_image_preprocess(img, opts, t) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    return t;
}

/* fast FILE MIN_SHORT */
static void check_fast(char **f, int nf, void *ctx)
{
    char *path = corpus_path(f[1]);
    uint32_t min_short = (uint32_t)strtoul(f[2], NULL, 10);
    cb_decode_params exact = params_for(0, 1, NULL), fast = params_for(min_short, 1, NULL);
    cerebro_image *a = NULL, *b = NULL;
    cerebro_image_options opts;
    float *ta, *tb;
    double dot = 0, na = 0, nb = 0, cosine;
    size_t n;

    (void)ctx;
    ck_assert_int_eq(nf, 3);
    ck_assert_msg(cb_image_decode_file(path, &exact, &a) == CEREBRO_OK, "%s: %s", f[1],
                  cerebro_last_error());
    ck_assert_msg(cb_image_decode_file(path, &fast, &b) == CEREBRO_OK, "%s: %s", f[1],
                  cerebro_last_error());
    ck_assert_msg(b->full_width == a->width && b->full_height == a->height,
                  "%s: fast mode says the file is %ux%u, exact mode decodes %ux%u", f[1],
                  b->full_width, b->full_height, a->width, a->height);
    ck_assert_msg((b->width < b->height ? b->width : b->height) >= min_short ||
                      (b->width == a->width && b->height == a->height),
                  "%s: fast decode %ux%u is below %u", f[1], b->width, b->height, min_short);
    cerebro_image_options_init(&opts);
    opts.size = min_short;
    ta = tensor_of(a, &opts);
    tb = tensor_of(b, &opts);
    n = cerebro_image_tensor_size(&opts);
    for (size_t i = 0; i < n; i++) {
        dot += (double)ta[i] * tb[i];
        na += (double)ta[i] * ta[i];
        nb += (double)tb[i] * tb[i];
    }
    cosine = dot / (sqrt(na) * sqrt(nb) + 1e-30);
    ck_assert_msg(cosine >= 0.995, "%s: fast vs exact tensor cosine %.5f < 0.995", f[1], cosine);
    free(ta);
    free(tb);
    cerebro_image_free(a);
    cerebro_image_free(b);
    free(path);
}

START_TEST(test_fast_mode_close_to_exact)
{
    for_each_case("fast", check_fast, NULL);
}
END_TEST

/* notraw FILE */
static void check_notraw(char **f, int nf, void *ctx)
{
    size_t size;
    uint8_t *data = read_all(f[1], &size);

    (void)ctx;
    ck_assert_int_eq(nf, 2);
    ck_assert_msg(!cb_raw_sniff(data, size), "%s: taken for a camera RAW", f[1]);
    free(data);
}

START_TEST(test_not_raw)
{
    for_each_case("notraw", check_notraw, NULL);
}
END_TEST

/* min KIND COUNT */
static void check_count(char **f, int nf, void *ctx)
{
    int have;

    (void)ctx;
    ck_assert_int_eq(nf, 3);
    have = for_each_case(f[1], count_only, NULL);
    ck_assert_msg(have >= atoi(f[2]), "%d \"%s\" cases, the generator promised %s", have, f[1],
                  f[2]);
}

START_TEST(test_corpus_complete)
{
    ck_assert_int_gt(for_each_case("min", check_count, NULL), 0);
}
END_TEST

/* Several threads decode every valid file at once: the decoders keep no
 * shared state (libraries' global init included). */
static int thread_failures;

static void decode_ok_file(char **f, int nf, void *ctx)
{
    char *path = corpus_path(f[1]);
    cb_decode_params p = params_for(0, 1, NULL);
    cerebro_image *img = NULL;

    (void)nf;
    (void)ctx;
    if (cb_image_decode_file(path, &p, &img) != CEREBRO_OK)
        __atomic_add_fetch(&thread_failures, 1, __ATOMIC_RELAXED);
    cerebro_image_free(img);
    free(path);
}

static void *decode_all(void *arg)
{
    (void)arg;
    for (int round = 0; round < 3; round++)
        for_each_case("ok", decode_ok_file, NULL);
    return NULL;
}

START_TEST(test_concurrent_decoding)
{
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, decode_all, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(thread_failures, 0);
}
END_TEST

static Suite *formats_suite(void)
{
    Suite *s = suite_create("image_format");
    TCase *tc = tcase_create("corpus");

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_corpus_complete);
    tcase_add_test(tc, test_valid_match_reference);
    tcase_add_test(tc, test_bad_inputs_refused);
    tcase_add_test(tc, test_damaged_files_are_safe);
    tcase_add_test(tc, test_truncations_are_safe);
    tcase_add_test(tc, test_limits_before_allocation);
    tcase_add_test(tc, test_fast_mode_close_to_exact);
    tcase_add_test(tc, test_not_raw);
    tcase_add_test(tc, test_concurrent_decoding);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(formats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
