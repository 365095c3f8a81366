/* The decoders against PIL 9.4, on the corpus that gen_decode_corpus.py
 * writes into $CEREBRO_DECODE_CORPUS (manifest.txt lists the cases), plus
 * truncation at every offset, limits, the public load/encode calls and
 * concurrent decoding. Links the image objects directly to reach
 * cb_image_decode() with fast-mode parameters. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "image/image.h"

#if defined(__SANITIZE_ADDRESS__)
#define CB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CB_TEST_ASAN 1
#endif
#endif

/* ------------------------------------------------------------ helpers */

#define CORPUS_ENV "CEREBRO_DECODE_CORPUS"
#include "corpus.h"

static void assert_pixels(const cerebro_image *img, const char *ref_rel, uint32_t w, uint32_t h,
                          const char *what)
{
    size_t n = (size_t)w * h * 3, size = 0;
    uint8_t *ref = read_all(ref_rel, &size);

    ck_assert_msg(img->width == w && img->height == h, "%s: got %ux%u, PIL %ux%u", what,
                  img->width, img->height, w, h);
    ck_assert_msg(size == n, "%s: reference holds %zu bytes, expected %zu", what, size, n);
    for (size_t i = 0; i < n; i++) {
        if (img->pixels[i] != ref[i])
            ck_abort_msg("%s: first difference at pixel (%zu, %zu) channel %zu: %u vs PIL %u", what,
                         (i / 3) % w, (i / 3) / w, i % 3, img->pixels[i], ref[i]);
    }
    free(ref);
}

/* ------------------------------------------------------- the corpus */

/* ok FILE REF W H MIN_SHORT APPLY_EXIF R,G,B */
static void check_valid(char **f, int nf, void *ctx)
{
    uint8_t bg[3];
    unsigned r, g, b;
    cerebro_image *img = NULL;
    cb_decode_params p;
    char *path = corpus_path(f[1]);
    cerebro_status st;
    uint32_t w, h;

    CB_UNUSED(ctx);
    ck_assert_int_eq(nf, 8);
    ck_assert_int_eq(sscanf(f[7], "%u,%u,%u", &r, &g, &b), 3);
    bg[0] = (uint8_t)r;
    bg[1] = (uint8_t)g;
    bg[2] = (uint8_t)b;
    w = (uint32_t)strtoul(f[3], NULL, 10);
    h = (uint32_t)strtoul(f[4], NULL, 10);
    p = params_for((uint32_t)strtoul(f[5], NULL, 10), atoi(f[6]), bg);
    st = cb_image_decode_file(path, &p, &img);
    ck_assert_msg(st == CEREBRO_OK, "%s: %s", f[1], cerebro_last_error());
    assert_pixels(img, f[2], w, h, f[1]);
    cerebro_image_free(img);
    free(path);
}

START_TEST(test_corpus_matches_pil)
{
    int n = for_each_case("ok", check_valid, NULL);
    ck_assert_int_ge(n, 150);
}
END_TEST

/* The public calls give the same pixels (default options, white). */
static void check_valid_public(char **f, int nf, void *ctx)
{
    cerebro_image_options opts;
    cerebro_image *a = NULL, *b = NULL;
    char *path;
    uint8_t *data;
    size_t size;

    CB_UNUSED(nf);
    CB_UNUSED(ctx);
    if (strcmp(f[5], "0") != 0 || strcmp(f[7], "255,255,255") != 0)
        return;
    cerebro_image_options_init(&opts);
    if (strcmp(f[6], "0") == 0)
        opts.flags |= CEREBRO_IMAGE_IGNORE_EXIF;
    path = corpus_path(f[1]);
    ck_assert_msg(cerebro_image_load_file(&a, path, &opts) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    data = read_all(f[1], &size);
    ck_assert_msg(cerebro_image_load_memory(&b, data, size, f[1], &opts) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    ck_assert_uint_eq(cerebro_image_width(a), cerebro_image_width(b));
    ck_assert_uint_eq(cerebro_image_height(a), cerebro_image_height(b));
    assert_pixels(a, f[2], (uint32_t)atoi(f[3]), (uint32_t)atoi(f[4]), f[1]);
    ck_assert_int_eq(memcmp(cerebro_image_pixels(a), cerebro_image_pixels(b),
                            (size_t)a->width * a->height * 3), 0);
    cerebro_image_free(a);
    cerebro_image_free(b);
    free(data);
    free(path);
}

START_TEST(test_public_load_matches_pil)
{
    ck_assert_int_gt(for_each_case("ok", check_valid_public, NULL), 0);
}
END_TEST

/* CEREBRO_IMAGE_DRAFT with size = the case's minimum shorter side gives the
 * pixels of PIL's draft() (JPEG) or the full image (PNG), from a file and
 * from memory; without the flag the same options decode at full size. */
static void check_draft_public(char **f, int nf, void *ctx)
{
    cerebro_image_options opts;
    cerebro_image *a = NULL, *b = NULL;
    unsigned long min_short = strtoul(f[5], NULL, 10);
    int *count = ctx;
    uint8_t *data;
    size_t size;
    char *path;

    CB_UNUSED(nf);
    if (min_short == 0 || strcmp(f[7], "255,255,255") != 0)
        return;
    cerebro_image_options_init(&opts);
    opts.size = (uint32_t)min_short;
    opts.flags = CEREBRO_IMAGE_DRAFT | (strcmp(f[6], "0") == 0 ? CEREBRO_IMAGE_IGNORE_EXIF : 0);
    path = corpus_path(f[1]);
    ck_assert_msg(cerebro_image_load_file(&a, path, &opts) == CEREBRO_OK, "%s: %s", f[1],
                  cerebro_last_error());
    assert_pixels(a, f[2], (uint32_t)atoi(f[3]), (uint32_t)atoi(f[4]), f[1]);
    data = read_all(f[1], &size);
    ck_assert_msg(cerebro_image_load_memory(&b, data, size, f[1], &opts) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    ck_assert_int_eq(memcmp(cerebro_image_pixels(a), cerebro_image_pixels(b),
                            (size_t)a->width * a->height * 3), 0);
    cerebro_image_free(b);
    opts.flags &= ~CEREBRO_IMAGE_DRAFT;
    ck_assert_int_eq(cerebro_image_load_memory(&b, data, size, f[1], &opts), CEREBRO_OK);
    ck_assert_uint_ge(cerebro_image_width(b), cerebro_image_width(a));
    if (cerebro_image_width(b) > cerebro_image_width(a))
        (*count)++;
    cerebro_image_free(a);
    cerebro_image_free(b);
    free(data);
    free(path);
}

START_TEST(test_public_draft_matches_pil)
{
    int reduced = 0;

    ck_assert_int_gt(for_each_case("ok", check_draft_public, &reduced), 0);
    ck_assert_int_ge(reduced, 3); /* 1/2, 1/4 and 1/8 were all exercised */
}
END_TEST

/* err FILE STATUS */
static void check_error(char **f, int nf, void *ctx)
{
    cerebro_image *img = (cerebro_image *)&img; /* must be reset to NULL */
    cb_decode_params p = params_for(0, 1, NULL);
    char *path = corpus_path(f[1]);
    cerebro_status want, st;

    CB_UNUSED(ctx);
    ck_assert_int_eq(nf, 3);
    want = status_from_name(f[2]);
    st = cb_image_decode_file(path, &p, &img);
    ck_assert_msg(st == want, "%s: got %s (%s), want %s", f[1], cerebro_status_string(st),
                  cerebro_last_error(), f[2]);
    ck_assert_ptr_null(img);
    assert_names(path);
    if (strstr(f[1], "huge_60000")) {
        ck_assert_msg(strstr(cerebro_last_error(), "60000x60000") &&
                          strstr(cerebro_last_error(), "100000000"),
                      "%s: message lacks the size or the limit: %s", f[1], cerebro_last_error());
    }
    /* Fast mode refuses the same files. */
    p.min_short_side = 16;
    ck_assert_int_eq(cb_image_decode_file(path, &p, &img), want);
    free(path);
}

START_TEST(test_bad_inputs_refused)
{
    ck_assert_int_ge(for_each_case("err", check_error, NULL), 300);
}
END_TEST

typedef struct flip_stats {
    int jpeg_same, png_same, png_stricter;
} flip_stats;

/* flip FILE PIL REF: never crash; JPEG agrees with PIL on every file; a
 * PNG we accept PIL accepts too; where both decode, the pixels agree. */
static void check_flip(char **f, int nf, void *ctx)
{
    flip_stats *stats = ctx;
    cerebro_image *img = NULL;
    cb_decode_params p = params_for(0, 1, NULL);
    char *path = corpus_path(f[1]);
    int is_jpeg = strstr(f[1], ".jpg") != NULL, pil_ok = strcmp(f[2], "ok") == 0;
    cerebro_status st = cb_image_decode_file(path, &p, &img);

    ck_assert_int_eq(nf, 4);
    ck_assert_msg(st == CEREBRO_OK || st == CEREBRO_E_CORRUPT || st == CEREBRO_E_FORMAT ||
                      st == CEREBRO_E_LIMIT,
                  "%s: unexpected %s", f[1], cerebro_status_string(st));
    if (st != CEREBRO_OK)
        assert_names(path);
    if (is_jpeg)
        ck_assert_msg((st == CEREBRO_OK) == pil_ok, "%s: PIL %s, we %s (%s)", f[1], f[2],
                      cerebro_status_string(st), cerebro_last_error());
    else if (st == CEREBRO_OK)
        ck_assert_msg(pil_ok, "%s: PIL refuses it, we decode it", f[1]);
    else if (pil_ok)
        stats->png_stricter++;
    if (st == CEREBRO_OK && pil_ok) {
        assert_pixels(img, f[3], img->width, img->height, f[1]);
        if (is_jpeg)
            stats->jpeg_same++;
        else
            stats->png_same++;
    }
    cerebro_image_free(img);
    /* Scaled decoding of the same damage must be just as safe. */
    p.min_short_side = 8;
    st = cb_image_decode_file(path, &p, &img);
    ck_assert(st == CEREBRO_OK || st == CEREBRO_E_CORRUPT || st == CEREBRO_E_FORMAT ||
              st == CEREBRO_E_LIMIT);
    cerebro_image_free(img);
    free(path);
}

START_TEST(test_bit_flips)
{
    flip_stats stats = {0, 0, 0};
    ck_assert_int_ge(for_each_case("flip", check_flip, &stats), 200);
    /* With the fixed seed: dozens of damaged JPEGs still decode, identical
     * to PIL; PNG differs only where PIL skips the IDAT CRC check. */
    ck_assert_int_ge(stats.jpeg_same, 50);
    ck_assert_int_le(stats.png_stricter, 3);
}
END_TEST

/* --------------------------------------------- truncation everywhere */

/* Offset just past the last IDAT chunk. */
static size_t png_image_data_end(const uint8_t *d, size_t n)
{
    size_t pos = 8, end = 0;

    while (n - pos >= 12) {
        size_t len = ((size_t)d[pos] << 24) | ((size_t)d[pos + 1] << 16) |
                     ((size_t)d[pos + 2] << 8) | d[pos + 3];
        if (memcmp(d + pos + 4, "IDAT", 4) == 0)
            end = pos + 12 + len;
        pos += 12 + len;
    }
    return end;
}

static void truncate_everywhere(const char *rel)
{
    size_t size, end;
    uint8_t *data;
    int is_png;
    cb_decode_params p = params_for(0, 1, NULL);
    char *path = corpus_path(rel);

    if (access(path, R_OK) != 0 && strstr(rel, "cjpeg_")) {
        fprintf(stderr, "%s missing (no cjpeg when the corpus was made): skipped\n", rel);
        free(path);
        return;
    }
    free(path);
    data = read_all(rel, &size);
    is_png = data[0] == 0x89;

    end = is_png ? png_image_data_end(data, size) : size;
    ck_assert_uint_gt(end, 100);
    for (size_t cut = 0; cut <= size; cut++) {
        cerebro_image *img = NULL;
        cerebro_status st = cb_image_decode(data, cut, "cut", &p, &img);
        cerebro_status want = cut < (is_png ? 8u : 3u) ? CEREBRO_E_FORMAT
                              : cut < end             ? CEREBRO_E_CORRUPT
                                                      : CEREBRO_OK;
        ck_assert_msg(st == want, "%s cut at %zu: got %s (%s)", rel, cut,
                      cerebro_status_string(st), cerebro_last_error());
        if (st != CEREBRO_OK)
            assert_names("cut");
        cerebro_image_free(img);
    }
    free(data);
}

START_TEST(test_truncated_at_every_offset)
{
    truncate_everywhere("valid/baseline420.jpg");
    truncate_everywhere("valid/progressive.jpg");
    truncate_everywhere("valid/cmyk.jpg");
    truncate_everywhere("valid/cjpeg_restart_every_mcu.jpg");
    truncate_everywhere("valid/cjpeg_arithmetic_progressive.jpg");
    truncate_everywhere("valid/rgb.png");
    truncate_everywhere("valid/interlaced_rgba.png");
    truncate_everywhere("valid/palette2_trns.png");
}
END_TEST

/* ------------------------------------------------------------- limits */

START_TEST(test_pixel_limit_names_file_size_and_limit)
{
    cerebro_image_options opts;
    cerebro_image *img = NULL;
    char *path = corpus_path("valid/baseline420.jpg");
    char *png = corpus_path("valid/rgba.png");
    const char *msg;

    cerebro_image_options_init(&opts);
    opts.max_pixels = 67 * 45 - 1;
    ck_assert_int_eq(cerebro_image_load_file(&img, path, &opts), CEREBRO_E_LIMIT);
    ck_assert_ptr_null(img);
    msg = cerebro_last_error();
    ck_assert_msg(strstr(msg, path) && strstr(msg, "67x45") && strstr(msg, "3014"), "%s", msg);
    opts.max_pixels = 67 * 45;
    ck_assert_int_eq(cerebro_image_load_file(&img, path, &opts), CEREBRO_OK);
    cerebro_image_free(img);

    opts.max_pixels = 100;
    ck_assert_int_eq(cerebro_image_load_file(&img, png, &opts), CEREBRO_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "37x29"));
    free(path);
    free(png);
}
END_TEST

START_TEST(test_fast_mode_judges_the_full_size)
{
    /* 301x203 is 61103 pixels; at 1/8 it would be 38x26, yet the limit is
     * about the file's image. */
    cb_decode_params p = params_for(8, 1, NULL);
    cerebro_image *img = NULL;
    char *path = corpus_path("valid/26_fast_baseline.jpg");

    p.max_pixels = 61102;
    ck_assert_int_eq(cb_image_decode_file(path, &p, &img), CEREBRO_E_LIMIT);
    p.max_pixels = 61103;
    ck_assert_int_eq(cb_image_decode_file(path, &p, &img), CEREBRO_OK);
    ck_assert_uint_eq(img->width, 38);
    ck_assert_uint_eq(img->height, 26);
    cerebro_image_free(img);
    free(path);
}
END_TEST

START_TEST(test_file_size_limit)
{
    cerebro_image_options opts;
    cerebro_image *img = NULL;
    char *path = corpus_path("valid/baseline420.jpg");
    size_t size;
    uint8_t *data = read_all("valid/baseline420.jpg", &size);

    cerebro_image_options_init(&opts);
    opts.max_file_bytes = size - 1;
    ck_assert_int_eq(cerebro_image_load_file(&img, path, &opts), CEREBRO_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), path));
    ck_assert_int_eq(cerebro_image_load_memory(&img, data, size, "buf.jpg", &opts), CEREBRO_E_LIMIT);
    assert_names("buf.jpg");
    opts.max_file_bytes = size;
    ck_assert_int_eq(cerebro_image_load_memory(&img, data, size, "buf.jpg", &opts), CEREBRO_OK);
    cerebro_image_free(img);
    free(data);
    free(path);
}
END_TEST

/* A 60000x60000 header is refused before anything image-sized is
 * allocated: with the address space capped at 256 MiB, decoding it must
 * still report the limit, not run out of memory. (ASan reserves terabytes
 * of address space, so the cap only applies without it.) */
START_TEST(test_huge_headers_refused_without_allocating)
{
    static const char *const files[] = {"bad/huge_60000.jpg", "bad/huge_60000_progressive.jpg",
                                        "bad/huge_60000.png"};
    cb_decode_params p = params_for(0, 1, NULL);
    struct rlimit saved;
#ifndef CB_TEST_ASAN
    struct rlimit cap;
#endif

    ck_assert_int_eq(getrlimit(RLIMIT_AS, &saved), 0);
#ifndef CB_TEST_ASAN
    cap = saved;
    cap.rlim_cur = 256u << 20;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &cap), 0);
#endif
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        cerebro_image *img = NULL;
        size_t size;
        uint8_t *data = read_all(files[i], &size);

        ck_assert_int_eq(cb_image_decode(data, size, files[i], &p, &img), CEREBRO_E_LIMIT);
        p.min_short_side = 224;
        ck_assert_int_eq(cb_image_decode(data, size, files[i], &p, &img), CEREBRO_E_LIMIT);
        p.min_short_side = 0;
        free(data);
    }
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &saved), 0); /* for CK_FORK=no runs */
}
END_TEST

/* ---------------------------------------------------------- public API */

START_TEST(test_public_argument_errors)
{
    cerebro_image *img = (cerebro_image *)&img;
    cerebro_image_options opts;
    char *dir = corpus_path("valid");
    uint8_t junk[4] = {1, 2, 3, 4};

    ck_assert_int_eq(cerebro_image_load_file(NULL, "x.jpg", NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_load_file(&img, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(cerebro_image_load_memory(NULL, junk, 4, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_load_memory(&img, NULL, 4, NULL, NULL), CEREBRO_E_INVALID);

    ck_assert_int_eq(cerebro_image_load_file(&img, "/nonexistent/photo.jpg", NULL),
                     CEREBRO_E_NOT_FOUND);
    assert_names("/nonexistent/photo.jpg");
    ck_assert_int_eq(cerebro_image_load_file(&img, dir, NULL), CEREBRO_E_IO);
    assert_names(dir);

    /* Without a name, messages still say which input. */
    ck_assert_int_eq(cerebro_image_load_memory(&img, junk, 4, NULL, NULL), CEREBRO_E_FORMAT);
    assert_names("image");
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "01 02 03 04"));
    ck_assert_int_eq(cerebro_image_load_memory(&img, junk, 0, "empty.png", NULL),
                     CEREBRO_E_FORMAT);
    assert_names("empty.png");

    cerebro_image_options_init(&opts);
    opts.version = 99;
    ck_assert_int_eq(cerebro_image_load_memory(&img, junk, 4, NULL, &opts), CEREBRO_E_INVALID);
    free(dir);
}
END_TEST

/* Bytes no decoder claims are refused by what they are, never by their
 * name: the message lists the formats that are read, or names the kind of
 * file it is. */
START_TEST(test_unknown_formats_named)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *says;
    } cases[] = {
        {"RIFF\0\0\0\0WAVEfmt ", 16, "starts with 52 49 46 46"},
        {"\0\0\0\x18" "ftypisom\0\0\2\0", 16, "ISO media"},
        {"FUJIFILMCCD-RAW 0201", 20, "camera RAW"},
        {"%PDF-1.7\n", 9, "JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/AVIF, JPEG XL, camera RAW"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cerebro_image *img = NULL;
        ck_assert_int_eq(cerebro_image_load_memory(&img, cases[i].bytes, cases[i].n, "f", NULL),
                         CEREBRO_E_FORMAT);
        ck_assert_ptr_null(img);
        ck_assert_msg(strncmp(cerebro_last_error(), "f: ", 3) == 0 &&
                          strstr(cerebro_last_error(), cases[i].says),
                      "%s", cerebro_last_error());
    }
}
END_TEST

static cerebro_image *gradient(uint32_t w, uint32_t h)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    cerebro_image *img = NULL;

    ck_assert_ptr_nonnull(rgb);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)((x + y) * 255 / (w + h - 2));
        }
    }
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL), CEREBRO_OK);
    free(rgb);
    return img;
}

static void encode_roundtrip(const cerebro_image *src, int quality, double max_mean, int max_abs)
{
    void *jpeg = NULL;
    size_t size = 0, n = (size_t)src->width * src->height * 3;
    cerebro_image *back = NULL;
    double sum = 0;
    int worst = 0;

    ck_assert_int_eq(cerebro_image_encode_jpeg(src, quality, &jpeg, &size), CEREBRO_OK);
    ck_assert_uint_gt(size, 100);
    ck_assert_int_eq(memcmp(jpeg, "\xFF\xD8\xFF", 3), 0);
    ck_assert_int_eq(memcmp((uint8_t *)jpeg + size - 2, "\xFF\xD9", 2), 0);
    ck_assert_ptr_nonnull(memmem(jpeg, size, "\xFF\xC0", 2)); /* baseline SOF0 */
    ck_assert_ptr_null(memmem(jpeg, size, "\xFF\xC2", 2));
    ck_assert_int_eq(cerebro_image_load_memory(&back, jpeg, size, "encoded", NULL), CEREBRO_OK);
    ck_assert_uint_eq(back->width, src->width);
    ck_assert_uint_eq(back->height, src->height);
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)back->pixels[i] - (int)src->pixels[i]);
        sum += d;
        if (d > worst)
            worst = d;
    }
    ck_assert_msg(sum / (double)n <= max_mean && worst <= max_abs,
                  "q%d: mean abs diff %.3f, max %d", quality, sum / (double)n, worst);
    cerebro_free(jpeg);
    cerebro_image_free(back);
}

START_TEST(test_encode_jpeg_roundtrip)
{
    cerebro_image *img = gradient(123, 77);
    void *jpeg = (void *)&img;
    size_t size = 7;

    encode_roundtrip(img, 90, 1.5, 24);
    encode_roundtrip(img, 100, 1.0, 12);
    encode_roundtrip(img, 10, 10.0, 64);
    cerebro_image_free(img);
    /* Tiny images work too (4:2:0 averages colours over 2x2 blocks, so
     * this one is flat). */
    {
        static const uint8_t flat[2 * 2 * 3] = {200, 100, 50, 200, 100, 50,
                                                200, 100, 50, 200, 100, 50};
        ck_assert_int_eq(cerebro_image_from_rgb(&img, flat, 2, 2, 6, NULL), CEREBRO_OK);
    }
    encode_roundtrip(img, 95, 2.0, 3);

    ck_assert_int_eq(cerebro_image_encode_jpeg(img, 0, &jpeg, &size), CEREBRO_E_INVALID);
    ck_assert_ptr_null(jpeg);
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(cerebro_image_encode_jpeg(img, 101, &jpeg, &size), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_encode_jpeg(NULL, 90, &jpeg, &size), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_encode_jpeg(img, 90, NULL, &size), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_encode_jpeg(img, 90, &jpeg, NULL), CEREBRO_E_INVALID);
    cerebro_image_free(img);
}
END_TEST

/* ------------------------------------------------------------ threads */

typedef struct decode_job {
    const char *rel;
    uint32_t min_short;
    int rounds;
    cerebro_status want;
    uint32_t width, height;
    int failures;
} decode_job;

static void *decode_loop(void *arg)
{
    decode_job *job = arg;
    char *path = corpus_path(job->rel);
    cb_decode_params p = params_for(job->min_short, 1, NULL);

    for (int i = 0; i < job->rounds; i++) {
        cerebro_image *img = NULL;
        cerebro_status st = cb_image_decode_file(path, &p, &img);
        if (st != job->want || (st == CEREBRO_OK && (img->width != job->width ||
                                                     img->height != job->height)))
            job->failures++;
        /* The thread's own error, naming its own file. */
        if (st != CEREBRO_OK && strncmp(cerebro_last_error(), path, strlen(path)) != 0)
            job->failures++;
        cerebro_image_free(img);
    }
    free(path);
    return NULL;
}

START_TEST(test_concurrent_decoding)
{
    decode_job jobs[] = {
        {"valid/fast_exif6.jpg", 51, 40, CEREBRO_OK, 51, 76, 0},
        {"valid/1_fast_progressive.jpg", 1, 40, CEREBRO_OK, 38, 26, 0},
        {"valid/interlaced_rgba.png", 0, 40, CEREBRO_OK, 37, 29, 0},
        {"bad/trunc_30_rgb.png", 0, 40, CEREBRO_E_CORRUPT, 0, 0, 0},
        {"valid/cmyk.jpg", 0, 40, CEREBRO_OK, 67, 45, 0},
        {"bad/garbage_after_header.jpg", 0, 40, CEREBRO_E_CORRUPT, 0, 0, 0},
    };
    enum { N = sizeof jobs / sizeof jobs[0] };
    pthread_t threads[N];

    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, decode_loop, &jobs[i]), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_msg(jobs[i].failures == 0, "%s: %d failures", jobs[i].rel, jobs[i].failures);
    }
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("image_decode");
    TCase *corpus = tcase_create("corpus");
    TCase *api = tcase_create("api");

    tcase_set_timeout(corpus, 600);
    tcase_add_test(corpus, test_corpus_matches_pil);
    tcase_add_test(corpus, test_public_load_matches_pil);
    tcase_add_test(corpus, test_public_draft_matches_pil);
    tcase_add_test(corpus, test_bad_inputs_refused);
    tcase_add_test(corpus, test_bit_flips);
    tcase_add_test(corpus, test_truncated_at_every_offset);
    suite_add_tcase(s, corpus);

    tcase_set_timeout(api, 120);
    tcase_add_test(api, test_pixel_limit_names_file_size_and_limit);
    tcase_add_test(api, test_fast_mode_judges_the_full_size);
    tcase_add_test(api, test_file_size_limit);
    tcase_add_test(api, test_huge_headers_refused_without_allocating);
    tcase_add_test(api, test_public_argument_errors);
    tcase_add_test(api, test_unknown_formats_named);
    tcase_add_test(api, test_encode_jpeg_roundtrip);
    tcase_add_test(api, test_concurrent_decoding);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(decode_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
