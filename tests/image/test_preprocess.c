/* Resampling, CLIP preprocessing and the squash resize against the real
 * references:
 * PIL 9.4's Image.resize(BICUBIC) and torchvision 0.14's
 * Resize(S, BICUBIC) + CenterCrop(S) + ToTensor + Normalize, as written by
 * gen_preprocess_ref.py into $CEREBRO_PREPROCESS_REF (manifest.txt lists
 * the cases). Links the image objects directly to reach the crop itself
 * (cb_clip_crop) and to run the scalar kernels next to the SIMD ones. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "image/resample.h"

static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* Fast mode is a different decode (DCT scaling) followed by the same
 * resampling, so it is held to statistical bounds, not to the reference:
 * the mean absolute difference over a file's crop, in uint8 levels.
 * Measured on the generated photo-like files (run with
 * CEREBRO_TEST_VERBOSE=1 to see every figure):
 *   - large JPEGs (>= 2 MP, the case fast mode exists for): mean <= 0.56,
 *     max <= 30 levels;
 *   - small JPEGs at S = 32 or 64 (e.g. 333x250 decoded at 1/8): the
 *     scaled size is rounded up to whole pixels (ceil(333 / 8) = 42 for
 *     41.6 of content), so the decoder reports the original size and the
 *     content box and preprocess takes its geometry from them
 *     (cb_clip_crop_box, bit-exact with PIL's draft() + resize(box)):
 *     mean <= 2.35, max 30 levels (6.1 when the geometry came from the
 *     rounded decoded size). */
#define FAST_MEAN_LEVELS_LARGE 1.0
#define FAST_MEAN_LEVELS_ANY 3.0
#define FAST_BOX_MEAN_LEVELS 3.0

static char *ref_path(const char *name)
{
    const char *dir = getenv("CEREBRO_PREPROCESS_REF");
    size_t n;
    char *p;

    ck_assert_msg(dir != NULL, "CEREBRO_PREPROCESS_REF is not set (run through ctest)");
    n = strlen(dir) + strlen(name) + 2;
    p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Reads a reference file that must hold exactly `size` bytes. */
static void *read_ref(const char *name, size_t size)
{
    char *path = ref_path(name);
    FILE *f = fopen(path, "rb");
    void *buf;
    size_t got;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    buf = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(buf);
    got = fread(buf, 1, size, f);
    ck_assert_msg(got == size && fgetc(f) == EOF, "%s: expected %zu bytes", path, size);
    fclose(f);
    free(path);
    return buf;
}

static cerebro_image *load_raw(const char *name, uint32_t w, uint32_t h)
{
    uint8_t *rgb = read_ref(name, (size_t)w * h * 3);
    cerebro_image *img = NULL;

    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL), CEREBRO_OK);
    free(rgb);
    return img;
}

/* Calls fn for every manifest line of the given kind (first word). */
typedef void (*case_fn)(const char *line, void *ctx);
static int for_each_case(const char *kind, case_fn fn, void *ctx)
{
    char *path = ref_path("manifest.txt");
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t klen = strlen(kind);
    int n = 0;

    ck_assert_msg(f != NULL, "cannot open %s (did the gen_preprocess_ref fixture run?)", path);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, kind, klen) == 0 && line[klen] == ' ') {
            fn(line + klen + 1, ctx);
            n++;
        }
    }
    fclose(f);
    free(path);
    return n;
}

static void opts_for(cerebro_image_options *o, uint32_t size, uint32_t mode)
{
    cerebro_image_options_init(o);
    o->size = size;
    o->mode = mode;
}

/* ---- (1) the resampler on raw RGB == PIL's Image.resize ---------------- */

static void resize_case(const char *line, void *ctx)
{
    char src[256], ref[256];
    uint32_t w, h, tw, th;
    double box[4];
    int *mismatches = ctx;
    cerebro_image *img, *out = NULL;
    uint8_t *expect, *got;

    ck_assert_int_eq(sscanf(line, "%255s %u %u %u %u %lf %lf %lf %lf %255s", src, &w, &h, &tw, &th,
                            &box[0], &box[1], &box[2], &box[3], ref), 10);
    img = load_raw(src, w, h);
    expect = read_ref(ref, (size_t)tw * th * 3);
    if (box[2] == 0) {
        /* The public entry point: the whole image. */
        ck_assert_int_eq(cerebro_image_resize(&out, img, tw, th), CEREBRO_OK);
        ck_assert_uint_eq(cerebro_image_width(out), tw);
        ck_assert_uint_eq(cerebro_image_height(out), th);
        got = out->pixels;
    } else {
        cb_resample_job job = {.out_w = tw, .out_h = th, .cw = tw, .ch = th};
        for (int i = 0; i < 4; i++)
            job.box[i] = (float)box[i]; /* as PIL's "(ffff)" argument parsing does */
        ck_assert_int_eq(cb_image_new(tw, th, 0, "test", &out), CEREBRO_OK);
        ck_assert_int_eq(cb_resample_window(img, &job, out->pixels, (size_t)tw * 3), CEREBRO_OK);
        got = out->pixels;
    }
    if (memcmp(got, expect, (size_t)tw * th * 3) != 0) {
        fprintf(stderr, "resize %ux%u -> %ux%u (box %g %g %g %g) differs from PIL\n", w, h, tw, th,
                box[0], box[1], box[2], box[3]);
        (*mismatches)++;
    }
    free(expect);
    cerebro_image_free(out);
    cerebro_image_free(img);
}

START_TEST(test_resize_matches_pil)
{
    int mismatches = 0;
    int n = for_each_case("resize", resize_case, &mismatches);

    printf("resize: %d cases, %d differ from PIL\n", n, mismatches);
    ck_assert_int_gt(n, 50);
    ck_assert_int_eq(mismatches, 0);
}
END_TEST

/* Max |got - ref| over a tensor, in uint8 levels of each channel. */
static double level_diff(const float *got, const float *ref, uint32_t s, double *sum)
{
    size_t plane = (size_t)s * s;
    double worst = 0;

    for (size_t i = 0; i < 3 * plane; i++) {
        double d = fabs((double)got[i] - ref[i]) * clip_std[i / plane] * 255.0;
        if (sum)
            *sum += d;
        if (d > worst)
            worst = d;
    }
    return worst;
}

typedef struct crop_stats {
    int crops_differ;
    int tensors;
    double tensor_max;  /* absolute float difference */
} crop_stats;

/* One "crop" or "squash" line: the S x S bytes of that resize mode, SIMD and
 * scalar, equal the reference; the tensor (if any) within float noise. */
static void square_case(const char *line, crop_stats *stats, uint32_t resize)
{
    char src[256], out_name[256], tensor_name[256];
    const char *what = resize == CEREBRO_RESIZE_SQUASH ? "squash" : "crop";
    uint32_t w, h, s;
    cerebro_image *img;
    uint8_t *expect, *got;
    cerebro_image_options o;

    ck_assert_int_eq(sscanf(line, "%255s %u %u %u %255s %255s", src, &w, &h, &s, out_name,
                            tensor_name), 6);
    img = load_raw(src, w, h);
    expect = read_ref(out_name, (size_t)s * s * 3);
    got = malloc((size_t)s * s * 3);
    ck_assert_ptr_nonnull(got);
    /* The SIMD kernels and the scalar ones must both give the reference's bytes. */
    for (unsigned flags = 0; flags <= CB_RESAMPLE_SCALAR; flags++) {
        memset(got, 0x5a, (size_t)s * s * 3);
        ck_assert_int_eq(cb_preprocess_pixels(img, s, resize, got, flags), CEREBRO_OK);
        if (memcmp(got, expect, (size_t)s * s * 3) != 0) {
            fprintf(stderr, "%s of %ux%u at S=%u (flags %u) differs\n", what, w, h, s, flags);
            stats->crops_differ++;
        }
    }
    if (strcmp(tensor_name, "-") != 0) {
        float *ref = read_ref(tensor_name, (size_t)3 * s * s * sizeof(float));
        float *tensor = malloc((size_t)3 * s * s * sizeof(float));
        ck_assert_ptr_nonnull(tensor);
        opts_for(&o, s, CEREBRO_PREPROCESS_EXACT);
        o.resize = resize;
        ck_assert_int_eq(cerebro_image_preprocess(img, &o, tensor), CEREBRO_OK);
        for (size_t i = 0; i < (size_t)3 * s * s; i++) {
            double d = fabs((double)tensor[i] - ref[i]);
            if (d > stats->tensor_max)
                stats->tensor_max = d;
        }
        stats->tensors++;
        free(tensor);
        free(ref);
    }
    free(got);
    free(expect);
    cerebro_image_free(img);
}

static void crop_case(const char *line, void *ctx)
{
    square_case(line, ctx, CEREBRO_RESIZE_SHORTEST_CROP);
}

START_TEST(test_crop_matches_torchvision)
{
    crop_stats stats = {0, 0, 0};
    int n = for_each_case("crop", crop_case, &stats);

    printf("crop: %d cases (SIMD and scalar), %d differ; %d tensors, max float diff %g\n", n,
           stats.crops_differ, stats.tensors, stats.tensor_max);
    ck_assert_int_gt(n, 50);
    ck_assert_int_gt(stats.tensors, 20);
    ck_assert_int_eq(stats.crops_differ, 0);
    /* The table reproduces torchvision's two float32 roundings. */
    ck_assert_msg(stats.tensor_max <= 1e-6, "tensor differs by %g", stats.tensor_max);
}
END_TEST

/* ---- (1b) squash (CEREBRO_RESIZE_SQUASH) on raw RGB == PIL ------------- */

static void squash_case(const char *line, void *ctx)
{
    square_case(line, ctx, CEREBRO_RESIZE_SQUASH);
}

START_TEST(test_squash_matches_pil)
{
    crop_stats stats = {0, 0, 0};
    int n = for_each_case("squash", squash_case, &stats);

    printf("squash: %d cases (SIMD and scalar), %d differ; %d tensors, max float diff %g\n", n,
           stats.crops_differ, stats.tensors, stats.tensor_max);
    ck_assert_int_gt(n, 100);
    ck_assert_int_gt(stats.tensors, 50);
    ck_assert_int_eq(stats.crops_differ, 0);
    ck_assert_msg(stats.tensor_max <= 1e-6, "tensor differs by %g", stats.tensor_max);
}
END_TEST

/* ---- (2) and (3): the file pipeline in exact and fast mode ------------- */

typedef struct file_stats {
    int files;
    int crops_exact;       /* decoded + cropped bytes identical to torchvision's */
    double worst;          /* max level difference, exact mode */
    double fast_worst_mean;
    double fast_worst_max;
    int fast_files;
    uint32_t mode;
    uint32_t resize; /* cerebro_resize_mode */
} file_stats;

static void file_case(const char *line, void *ctx)
{
    char name[256], crop_name[256], tensor_name[256];
    uint32_t s;
    int big;
    file_stats *st = ctx;
    cerebro_image_options o;
    char *path;
    float *ref, *got;
    double sum = 0, worst;

    ck_assert_int_eq(sscanf(line, "%255s %u %d %255s %255s", name, &s, &big, crop_name,
                            tensor_name), 5);
    path = ref_path(name);
    ref = read_ref(tensor_name, (size_t)3 * s * s * sizeof(float));
    got = malloc((size_t)3 * s * s * sizeof(float));
    ck_assert_ptr_nonnull(got);
    opts_for(&o, s, st->mode);
    o.resize = st->resize;
    ck_assert_msg(cerebro_image_preprocess_file(path, &o, got) == CEREBRO_OK, "%s: %s", name,
                  cerebro_last_error());
    worst = level_diff(got, ref, s, &sum);
    if (st->mode == CEREBRO_PREPROCESS_EXACT) {
        uint8_t *expect = read_ref(crop_name, (size_t)s * s * 3);
        uint8_t *crop = malloc((size_t)s * s * 3);
        cerebro_image *img = NULL;
        cb_decode_params p;

        ck_assert_ptr_nonnull(crop);
        ck_assert_int_eq(cb_decode_params_from(&o, 0, &p), CEREBRO_OK);
        ck_assert_int_eq(cb_image_decode_file(path, &p, &img), CEREBRO_OK);
        ck_assert_int_eq(cb_preprocess_pixels(img, s, st->resize, crop, 0), CEREBRO_OK);
        if (memcmp(crop, expect, (size_t)s * s * 3) == 0)
            st->crops_exact++;
        if (worst > 1.001)
            fprintf(stderr, "%s S=%u: %.2f levels off the reference\n", name, s, worst);
        if (worst > st->worst)
            st->worst = worst;
        cerebro_image_free(img);
        free(crop);
        free(expect);
    } else {
        double mean = sum / (3.0 * s * s);
        if (big || getenv("CEREBRO_TEST_VERBOSE"))
            printf("fast %s S=%u: mean %.3f, max %.0f levels\n", name, s, mean, worst);
        ck_assert_msg(mean <= (big ? FAST_MEAN_LEVELS_LARGE : FAST_MEAN_LEVELS_ANY),
                      "%s S=%u: fast mode mean diff %.3f levels", name, s, mean);
        if (mean > st->fast_worst_mean)
            st->fast_worst_mean = mean;
        if (worst > st->fast_worst_max)
            st->fast_worst_max = worst;
        st->fast_files += big;
    }
    st->files++;
    free(got);
    free(ref);
    free(path);
}

START_TEST(test_files_exact)
{
    file_stats st = {0};
    int n;

    st.mode = CEREBRO_PREPROCESS_EXACT;
    n = for_each_case("file", file_case, &st);
    printf("files, exact mode: %d cases, %d crops byte-identical, max diff %.3f levels\n", n,
           st.crops_exact, st.worst);
    ck_assert_int_gt(n, 80);
    ck_assert_msg(st.worst <= 1.001, "exact mode is %.3f levels off the reference", st.worst);
    memset(&st, 0, sizeof st);
    st.resize = CEREBRO_RESIZE_SQUASH;
    n = for_each_case("sfile", file_case, &st);
    printf("files, exact mode, squash: %d cases, %d byte-identical, max diff %.3f levels\n", n,
           st.crops_exact, st.worst);
    ck_assert_int_gt(n, 80);
    ck_assert_msg(st.worst <= 1.001, "exact squash is %.3f levels off the reference", st.worst);
}
END_TEST

START_TEST(test_files_fast)
{
    file_stats st = {0};
    int n;

    st.mode = CEREBRO_PREPROCESS_FAST;
    n = for_each_case("file", file_case, &st);
    printf("files, fast mode: %d cases (%d large), worst mean %.3f levels, worst max %.0f levels\n",
           n, st.fast_files, st.fast_worst_mean, st.fast_worst_max);
    ck_assert_int_gt(st.fast_files, 5);
    memset(&st, 0, sizeof st);
    st.mode = CEREBRO_PREPROCESS_FAST;
    st.resize = CEREBRO_RESIZE_SQUASH;
    n = for_each_case("sfile", file_case, &st);
    printf("files, fast mode, squash: %d cases (%d large), worst mean %.3f levels, worst max %.0f "
           "levels\n", n, st.fast_files, st.fast_worst_mean, st.fast_worst_max);
    ck_assert_int_gt(st.fast_files, 5);
}
END_TEST

/* Fast mode's resampling from the scaled decode, against PIL's draft() +
 * resize(box) + CenterCrop: bit-exact once the original size and the
 * content box are known (see cb_clip_crop_box). */
typedef struct fast_box_stats {
    int differ;
    double worst_mean; /* vs the full-resolution reference, levels */
    int worst_max;
    uint32_t resize;   /* cerebro_resize_mode */
} fast_box_stats;

static void fast_geometry_case(const char *line, void *ctx)
{
    char name[256], crop_name[256], ref_name[300];
    double sum = 0, mean;
    uint32_t s, full_w, full_h;
    double box[4];
    float fbox[4];
    fast_box_stats *st = ctx;
    cerebro_image_options o;
    cb_decode_params p;
    cerebro_image *img = NULL;
    char *path;
    uint8_t *expect, *crop;

    ck_assert_int_eq(sscanf(line, "%255s %u %u %u %lf %lf %lf %lf %255s", name, &s, &full_w,
                            &full_h, &box[0], &box[1], &box[2], &box[3], crop_name), 9);
    for (int i = 0; i < 4; i++)
        fbox[i] = (float)box[i];
    path = ref_path(name);
    expect = read_ref(crop_name, (size_t)s * s * 3);
    crop = malloc((size_t)s * s * 3);
    ck_assert_ptr_nonnull(crop);
    opts_for(&o, s, CEREBRO_PREPROCESS_FAST);
    ck_assert_int_eq(cb_decode_params_from(&o, 1, &p), CEREBRO_OK);
    ck_assert_int_eq(cb_image_decode_file(path, &p, &img), CEREBRO_OK);
    /* The decoder picked the scale the reference assumed. */
    ck_assert_msg(img->width == (uint32_t)ceil(box[2]) && img->height == (uint32_t)ceil(box[3]),
                  "%s S=%u: decoded %ux%u, reference box %g x %g", name, s, img->width,
                  img->height, box[2], box[3]);
    /* ...and reports the reference's geometry itself (orientation included):
     * preprocessing takes it from the image, not from this manifest. */
    ck_assert_msg(img->full_width == full_w && img->full_height == full_h && fabs(img->box[0] - box[0]) < 1e-4 &&
                      fabs(img->box[1] - box[1]) < 1e-4 && fabs(img->box[2] - box[2]) < 1e-4 &&
                      fabs(img->box[3] - box[3]) < 1e-4,
                  "%s S=%u: decoder's geometry %ux%u box (%g, %g, %g, %g), reference %ux%u box (%g, %g, %g, %g)",
                  name, s, img->full_width, img->full_height, img->box[0], img->box[1], img->box[2], img->box[3],
                  full_w, full_h, box[0], box[1], box[2], box[3]);
    if (st->resize == CEREBRO_RESIZE_SQUASH)
        ck_assert_int_eq(cb_squash_box(img, fbox, s, crop, 0), CEREBRO_OK);
    else
        ck_assert_int_eq(cb_clip_crop_box(img, full_w, full_h, fbox, s, crop, 0), CEREBRO_OK);
    if (memcmp(crop, expect, (size_t)s * s * 3) != 0) {
        fprintf(stderr, "fast %s S=%u differs from PIL draft + resize(box)\n", name, s);
        st->differ++;
    }
    ck_assert_int_eq(cb_preprocess_pixels(img, s, st->resize, crop, 0), CEREBRO_OK);
    if (memcmp(crop, expect, (size_t)s * s * 3) != 0) {
        fprintf(stderr, "fast %s S=%u from the decoder's own box differs from PIL draft + resize(box)\n", name, s);
        st->differ++;
    }
    /* How far this is from the full-resolution reference crop. */
    snprintf(ref_name, sizeof ref_name, "%s%s.s%u.u8", name,
             st->resize == CEREBRO_RESIZE_SQUASH ? ".sq" : "", s);
    free(expect);
    expect = read_ref(ref_name, (size_t)s * s * 3);
    for (size_t i = 0; i < (size_t)s * s * 3; i++) {
        int d = abs((int)crop[i] - expect[i]);
        sum += d;
        if (d > st->worst_max)
            st->worst_max = d;
    }
    mean = sum / (3.0 * s * s);
    if (getenv("CEREBRO_TEST_VERBOSE"))
        printf("fast+box %s S=%u: mean %.3f levels\n", name, s, mean);
    if (mean > st->worst_mean)
        st->worst_mean = mean;
    cerebro_image_free(img);
    free(crop);
    free(expect);
    free(path);
}

START_TEST(test_fast_geometry_matches_pil_draft)
{
    fast_box_stats st = {0, 0, 0, CEREBRO_RESIZE_SHORTEST_CROP};
    int n = for_each_case("fast", fast_geometry_case, &st);

    printf("fast geometry: %d scaled decodes, %d differ from PIL draft + resize(box); "
           "vs the full reference: worst mean %.3f, max %d levels\n",
           n, st.differ, st.worst_mean, st.worst_max);
    ck_assert_int_gt(n, 30);
    ck_assert_int_eq(st.differ, 0);
    ck_assert_msg(st.worst_mean <= FAST_BOX_MEAN_LEVELS, "mean %.3f", st.worst_mean);
    memset(&st, 0, sizeof st);
    st.resize = CEREBRO_RESIZE_SQUASH;
    n = for_each_case("sfast", fast_geometry_case, &st);
    printf("fast geometry, squash: %d scaled decodes, %d differ from PIL draft + resize(box); "
           "vs the full reference: worst mean %.3f, max %d levels\n",
           n, st.differ, st.worst_mean, st.worst_max);
    ck_assert_int_gt(n, 30);
    ck_assert_int_eq(st.differ, 0);
    ck_assert_msg(st.worst_mean <= FAST_BOX_MEAN_LEVELS, "squash mean %.3f", st.worst_mean);
}
END_TEST

START_TEST(test_memory_matches_file)
{
    static const char *const names[] = {"j500x375.jpg", "p375x500.png", "exif6_320x240.jpg"};
    size_t n = cerebro_image_tensor_size(NULL);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = ref_path(names[i]);
        uint8_t *data;
        size_t size;

        ck_assert_int_eq(cb_read_file(path, 1u << 30, &data, &size), CEREBRO_OK);
        ck_assert_int_eq(cerebro_image_preprocess_file(path, NULL, a), CEREBRO_OK);
        ck_assert_int_eq(cerebro_image_preprocess_memory(data, size, names[i], NULL, b), CEREBRO_OK);
        ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
        free(data);
        free(path);
    }
    free(a);
    free(b);
}
END_TEST

/* ---- geometry and the public resize ------------------------------------ */

START_TEST(test_geometry)
{
    cb_clip_geometry g;

    cb_clip_geometry_of(500, 375, 224, &g);
    ck_assert_uint_eq(g.resized_w, 298); /* int(224 * 500 / 375) = int(298.67) */
    ck_assert_uint_eq(g.resized_h, 224);
    ck_assert_uint_eq(g.left, 37);
    ck_assert_uint_eq(g.top, 0);
    /* Python's round() halves to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4. */
    cb_clip_geometry_of(224, 225, 224, &g);
    ck_assert_uint_eq(g.top, 0);
    cb_clip_geometry_of(224, 227, 224, &g);
    ck_assert_uint_eq(g.top, 2);
    cb_clip_geometry_of(229, 224, 224, &g);
    ck_assert_uint_eq(g.left, 2);
    cb_clip_geometry_of(231, 224, 224, &g);
    ck_assert_uint_eq(g.left, 4);
    /* Extreme panorama: the long side exceeds any storable image. */
    cb_clip_geometry_of(1, 65500, 4096, &g);
    ck_assert_uint_eq(g.resized_w, 4096);
    ck_assert_uint_eq(g.resized_h, 268288000u);
    ck_assert_uint_eq(g.top, 134141952u);
    cb_clip_geometry_of(3, 500, 224, &g);
    ck_assert_uint_eq(g.resized_h, 37333);
    ck_assert_uint_eq(g.top, 18554); /* round(18554.5) = 18554 */
}
END_TEST

START_TEST(test_resize_public)
{
    uint8_t px[2 * 3 * 3];
    cerebro_image *img = NULL, *out = NULL;

    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37);
    ck_assert_int_eq(cerebro_image_from_rgb(&img, px, 3, 2, 9, NULL), CEREBRO_OK);
    /* Same size: a copy, as PIL returns. */
    ck_assert_int_eq(cerebro_image_resize(&out, img, 3, 2), CEREBRO_OK);
    ck_assert_ptr_ne(cerebro_image_pixels(out), cerebro_image_pixels(img));
    ck_assert_int_eq(memcmp(cerebro_image_pixels(out), px, sizeof px), 0);
    cerebro_image_free(out);
    /* A flat image stays flat at any size. */
    memset(px, 77, sizeof px);
    cerebro_image_free(img);
    ck_assert_int_eq(cerebro_image_from_rgb(&img, px, 3, 2, 9, NULL), CEREBRO_OK);
    ck_assert_int_eq(cerebro_image_resize(&out, img, 301, 1), CEREBRO_OK);
    for (size_t i = 0; i < 301 * 3; i++)
        ck_assert_uint_eq(cerebro_image_pixels(out)[i], 77);
    cerebro_image_free(out);
    cerebro_image_free(img);
}
END_TEST

START_TEST(test_extreme_aspect)
{
    /* 1 x 4000 at S=224 resizes to 224 x 896000 in the reference; only the
     * crop is computed. A flat column gives a flat crop. */
    uint8_t *px = malloc(4000 * 3);
    cerebro_image *img = NULL;
    cerebro_image_options o;
    float *t = malloc(cerebro_image_tensor_size(NULL) * sizeof(float));

    ck_assert_ptr_nonnull(px);
    ck_assert_ptr_nonnull(t);
    memset(px, 128, 4000 * 3);
    ck_assert_int_eq(cerebro_image_from_rgb(&img, px, 1, 4000, 3, NULL), CEREBRO_OK);
    opts_for(&o, 224, CEREBRO_PREPROCESS_EXACT);
    ck_assert_int_eq(cerebro_image_preprocess(img, &o, t), CEREBRO_OK);
    for (size_t i = 0; i < 224 * 224; i++)
        ck_assert_float_eq_tol(t[i], (128.0f / 255.0f - o.mean[0]) / o.std[0], 1e-6);
    cerebro_image_free(img);
    free(px);
    free(t);
}
END_TEST

/* ---- bad input ---------------------------------------------------------- */

static void expect_invalid(cerebro_status st, const char *needle)
{
    ck_assert_int_eq(st, CEREBRO_E_INVALID);
    ck_assert_msg(strstr(cerebro_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  cerebro_last_error(), needle);
}

START_TEST(test_bad_arguments)
{
    uint8_t px[3] = {1, 2, 3};
    cerebro_image *img = NULL, *out = (cerebro_image *)1;
    cerebro_image_options o;
    float t[3 * 4 * 4];

    ck_assert_int_eq(cerebro_image_from_rgb(&img, px, 1, 1, 3, NULL), CEREBRO_OK);

    expect_invalid(cerebro_image_resize(NULL, img, 2, 2), "out is NULL");
    expect_invalid(cerebro_image_resize(&out, NULL, 2, 2), "image is NULL");
    ck_assert_ptr_null(out);
    expect_invalid(cerebro_image_resize(&out, img, 0, 2), "empty");
    ck_assert_int_eq(cerebro_image_resize(&out, img, 70000, 1), CEREBRO_E_LIMIT);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(cerebro_image_resize(&out, img, 20000, 20000), CEREBRO_E_LIMIT);

    expect_invalid(cerebro_image_preprocess(NULL, NULL, t), "image is NULL");
    expect_invalid(cerebro_image_preprocess(img, NULL, NULL), "out is NULL");
    expect_invalid(cerebro_image_preprocess_file(NULL, NULL, t), "path is NULL");
    expect_invalid(cerebro_image_preprocess_file("x.jpg", NULL, NULL), "out is NULL");
    expect_invalid(cerebro_image_preprocess_memory(NULL, 3, "x", NULL, t), "data is NULL");
    expect_invalid(cerebro_image_preprocess_memory(px, 3, "x", NULL, NULL), "out is NULL");

    /* Every preprocess entry point validates the options before any work. */
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    o.version = 0;
    expect_invalid(cerebro_image_preprocess(img, &o, t), "version");
    expect_invalid(cerebro_image_preprocess_file("/nonexistent.jpg", &o, t), "version");
    expect_invalid(cerebro_image_preprocess_memory(px, 3, "x", &o, t), "version");
    opts_for(&o, 0, CEREBRO_PREPROCESS_EXACT);
    expect_invalid(cerebro_image_preprocess(img, &o, t), "size");
    opts_for(&o, 5000, CEREBRO_PREPROCESS_EXACT);
    expect_invalid(cerebro_image_preprocess(img, &o, t), "size");
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    o.std[1] = 0.0f;
    expect_invalid(cerebro_image_preprocess(img, &o, t), "std");
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    o.mean[2] = NAN;
    expect_invalid(cerebro_image_preprocess(img, &o, t), "mean");
    opts_for(&o, 4, 9);
    expect_invalid(cerebro_image_preprocess_file("/nonexistent.jpg", &o, t), "mode");
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    o.resize = 3;
    expect_invalid(cerebro_image_preprocess(img, &o, t), "resize");
    o.resize = CEREBRO_RESIZE_SQUASH + 1;
    expect_invalid(cerebro_image_preprocess_file("/nonexistent.jpg", &o, t), "resize");
    o.resize = CEREBRO_RESIZE_SQUASH;
    ck_assert_int_eq(cerebro_image_preprocess(img, &o, t), CEREBRO_OK);
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    o.flags = 0x80;
    expect_invalid(cerebro_image_preprocess(img, &o, t), "flags");

    /* A valid tiny case still works after all that: 1x1 -> flat 4x4. */
    opts_for(&o, 4, CEREBRO_PREPROCESS_EXACT);
    ck_assert_int_eq(cerebro_image_preprocess(img, &o, t), CEREBRO_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++)
            ck_assert_float_eq_tol(t[c * 16 + i], ((c + 1) / 255.0f - o.mean[c]) / o.std[c], 1e-6);

    /* Internal window geometry is checked too. */
    {
        cb_resample_job job = {.out_w = 4, .out_h = 4, .x0 = 2, .cw = 3, .ch = 1};
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 9), CEREBRO_E_INVALID);
        job.x0 = 0;
        job.cw = 4;
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 11), CEREBRO_E_INVALID);
        job.box[2] = 1.5f;
        job.box[3] = 1.0f;
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 12), CEREBRO_E_INVALID);
        job.box[2] = NAN;
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 12), CEREBRO_E_INVALID);
        job.box[0] = 0.5f;
        job.box[2] = 0.5f;
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 12), CEREBRO_E_INVALID);
        job.box[2] = 1.0f;
        ck_assert_int_eq(cb_resample_window(img, &job, (uint8_t *)t, 12), CEREBRO_OK);
        ck_assert_int_eq(cb_clip_crop_box(img, 0, 9, NULL, 4, (uint8_t *)t, 0), CEREBRO_E_INTERNAL);
    }
    cerebro_image_free(img);
}
END_TEST

START_TEST(test_file_errors)
{
    cerebro_image_options o;
    float *t = malloc(cerebro_image_tensor_size(NULL) * sizeof(float));
    char *path = ref_path("j500x375.jpg");
    static const uint8_t junk[16] = "not an image";

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cerebro_image_preprocess_file("/nonexistent/x.jpg", NULL, t),
                     CEREBRO_E_NOT_FOUND);
    ck_assert_msg(strstr(cerebro_last_error(), "/nonexistent/x.jpg") != NULL, "%s",
                  cerebro_last_error());
    opts_for(&o, 224, CEREBRO_PREPROCESS_EXACT);
    o.max_pixels = 1000;
    ck_assert_int_eq(cerebro_image_preprocess_file(path, &o, t), CEREBRO_E_LIMIT);
    opts_for(&o, 224, CEREBRO_PREPROCESS_FAST);
    o.max_file_bytes = 100;
    ck_assert_int_eq(cerebro_image_preprocess_file(path, &o, t), CEREBRO_E_LIMIT);
    ck_assert_int_eq(cerebro_image_preprocess_memory(junk, sizeof junk, "junk", NULL, t),
                     CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "junk") != NULL, "%s", cerebro_last_error());
    free(path);
    free(t);
}
END_TEST

static Suite *preprocess_suite(void)
{
    Suite *s = suite_create("image_preprocess");
    TCase *pure = tcase_create("resample");
    TCase *files = tcase_create("files");

    /* Decoding 12-megapixel JPEGs under ASan takes a while. */
    tcase_set_timeout(pure, 600);
    tcase_set_timeout(files, 600);
    tcase_add_test(pure, test_geometry);
    tcase_add_test(pure, test_resize_public);
    tcase_add_test(pure, test_extreme_aspect);
    tcase_add_test(pure, test_bad_arguments);
    tcase_add_test(pure, test_resize_matches_pil);
    tcase_add_test(pure, test_crop_matches_torchvision);
    tcase_add_test(pure, test_squash_matches_pil);
    tcase_add_test(files, test_files_exact);
    tcase_add_test(files, test_files_fast);
    tcase_add_test(files, test_fast_geometry_matches_pil_draft);
    tcase_add_test(files, test_memory_matches_file);
    tcase_add_test(files, test_file_errors);
    suite_add_tcase(s, pure);
    suite_add_tcase(s, files);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(preprocess_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
