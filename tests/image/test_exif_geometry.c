/* The decoder's own geometry under EXIF orientation: for each orientation
 * 1..8, a JPEG decoded in exact mode and at 1/2 and 1/4 scale (fast mode)
 * must report the original's size after orientation (full_width/height),
 * the decoded size, and where the content lies in the decoded pixels (box),
 * all computed here independently: the scaled content rectangle's corners
 * are moved by the orientation's point map (PIL's exif_transpose) and
 * bounded. test_preprocess.c feeds preprocessing the reference box; this
 * test is what holds the box the decoder itself produces. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "image/image.h"

/* A w x h JPEG (a gradient) with an EXIF APP1 holding `orientation` right
 * after SOI (0: no EXIF block). */
static uint8_t *jpeg_with_orientation(uint32_t w, uint32_t h, int orientation, size_t *size)
{
    static const uint8_t tiff_head[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2a, 0, 8, 0, 0, 0,
                                        1,   0,   /* one IFD entry */
                                        0x12, 0x01, 3, 0, 1, 0, 0, 0};
    uint8_t *rgb = malloc((size_t)w * h * 3), *out;
    cerebro_image *img = NULL;
    void *jpeg = NULL;
    size_t jsize, app1 = 4 + sizeof tiff_head + 4 + 4;

    ck_assert_ptr_nonnull(rgb);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            rgb[((size_t)y * w + x) * 3] = (uint8_t)(x * 255 / w);
            rgb[((size_t)y * w + x) * 3 + 1] = (uint8_t)(y * 255 / h);
            rgb[((size_t)y * w + x) * 3 + 2] = (uint8_t)(x < w / 3 && y < h / 3 ? 255 : 0);
        }
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, w, h, (size_t)w * 3, NULL), CEREBRO_OK);
    ck_assert_int_eq(cerebro_image_encode_jpeg(img, 90, &jpeg, &jsize), CEREBRO_OK);
    cerebro_image_free(img);
    free(rgb);
    if (orientation == 0) {
        *size = jsize;
        out = malloc(jsize);
        memcpy(out, jpeg, jsize);
        cerebro_free(jpeg);
        return out;
    }
    out = malloc(jsize + app1);
    ck_assert_ptr_nonnull(out);
    uint8_t *p = out;
    memcpy(p, jpeg, 2); /* SOI */
    p += 2;
    *p++ = 0xff;
    *p++ = 0xe1;
    *p++ = (uint8_t)((app1 - 2) >> 8);
    *p++ = (uint8_t)(app1 - 2);
    memcpy(p, tiff_head, sizeof tiff_head);
    p += sizeof tiff_head;
    *p++ = (uint8_t)orientation; /* the SHORT value, little-endian, padded */
    *p++ = 0;
    *p++ = 0;
    *p++ = 0;
    memset(p, 0, 4); /* no next IFD */
    p += 4;
    memcpy(p, (uint8_t *)jpeg + 2, jsize - 2);
    *size = jsize + app1;
    cerebro_free(jpeg);
    return out;
}

/* Where the point (x, y) of a dw x dh stored image lands once shown upright
 * under `orientation` (PIL: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4
 * FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90). */
static void orient_point(int orientation, double dw, double dh, double x, double y, double *ox, double *oy)
{
    switch (orientation) {
    case 2: *ox = dw - x, *oy = y; break;
    case 3: *ox = dw - x, *oy = dh - y; break;
    case 4: *ox = x, *oy = dh - y; break;
    case 5: *ox = y, *oy = x; break;
    case 6: *ox = dh - y, *oy = x; break; /* clockwise: the top-left corner goes top-right */
    case 7: *ox = dh - y, *oy = dw - x; break;
    case 8: *ox = y, *oy = dw - x; break; /* anticlockwise: the top-left corner goes bottom-left */
    default: *ox = x, *oy = y; break;
    }
}

/* Decodes a stored w x h JPEG with EXIF `orientation` at scale 1/d (fast mode
 * with the shortest side S = s; s == 0: exact mode, d must be 1) and checks
 * its geometry. */
static void check_geometry(uint32_t w, uint32_t h, int orientation, uint32_t s, uint32_t d)
{
    size_t size;
    uint8_t *data = jpeg_with_orientation(w, h, orientation, &size);
    cerebro_image_options opts;
    cb_decode_params params;
    cerebro_image *img = NULL;
    int swap = orientation >= 5;
    /* Stored: decoded (dw x dh, rounded up) holding the content (cw x ch). */
    uint32_t dw = (w + d - 1) / d, dh = (h + d - 1) / d;
    double cw = (double)w / d, ch = (double)h / d;
    double bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;

    cerebro_image_options_init(&opts);
    if (s)
        opts.size = s;
    ck_assert_int_eq(cb_decode_params_from(&opts, s != 0, &params), CEREBRO_OK);
    ck_assert_msg(cb_image_decode(data, size, "oriented.jpg", &params, &img) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    for (int corner = 0; corner < 4; corner++) {
        double ox, oy;
        orient_point(orientation, dw, dh, corner & 1 ? cw : 0, corner & 2 ? ch : 0, &ox, &oy);
        bx0 = fmin(bx0, ox), by0 = fmin(by0, oy), bx1 = fmax(bx1, ox), by1 = fmax(by1, oy);
    }
    char what[96];
    snprintf(what, sizeof what, "%ux%u orientation %d %s 1/%u", w, h, orientation, s ? "fast" : "exact", d);
    ck_assert_msg(img->width == (swap ? dh : dw) && img->height == (swap ? dw : dh),
                  "%s: decoded %ux%u, want %ux%u", what, img->width, img->height, swap ? dh : dw,
                  swap ? dw : dh);
    ck_assert_msg(img->full_width == (swap ? h : w) && img->full_height == (swap ? w : h),
                  "%s: full size %ux%u, want %ux%u", what, img->full_width, img->full_height,
                  swap ? h : w, swap ? w : h);
    ck_assert_msg(fabs(img->box[0] - bx0) < 1e-6 && fabs(img->box[1] - by0) < 1e-6 &&
                      fabs(img->box[2] - bx1) < 1e-6 && fabs(img->box[3] - by1) < 1e-6,
                  "%s: box (%g, %g, %g, %g), want (%g, %g, %g, %g)", what, img->box[0], img->box[1],
                  img->box[2], img->box[3], bx0, by0, bx1, by1);
    cerebro_image_free(img);
    free(data);
}

START_TEST(test_exact_geometry)
{
    for (int o = 0; o <= 8; o++) {
        check_geometry(203, 130, o, 0, 1);
        check_geometry(97, 161, o, 0, 1);
    }
}
END_TEST

/* Sizes that no scale divides, so the last decoded column and row are
 * partial and orientation moves them: 203x130 at S=32 decodes at 1/4
 * (1/8 would give 17 < 32), 97x161 at S=40 at 1/2. */
START_TEST(test_fast_geometry)
{
    for (int o = 0; o <= 8; o++) {
        check_geometry(203, 130, o, 32, 4);
        check_geometry(97, 161, o, 40, 2);
    }
}
END_TEST

/* The orientation must also reach the pixels: the marked top-left third of
 * the stored picture (blue) is where the point map sends it. */
START_TEST(test_fast_pixels_follow_orientation)
{
    for (int o = 1; o <= 8; o++) {
        size_t size;
        uint8_t *data = jpeg_with_orientation(203, 130, o, &size);
        cerebro_image_options opts;
        cb_decode_params params;
        cerebro_image *img = NULL;
        double ox, oy;

        cerebro_image_options_init(&opts);
        opts.size = 32;
        ck_assert_int_eq(cb_decode_params_from(&opts, 1, &params), CEREBRO_OK);
        ck_assert_int_eq(cb_image_decode(data, size, "oriented.jpg", &params, &img), CEREBRO_OK);
        /* The centre of the marked block, stored at (w/6, h/6) of 51x33. */
        orient_point(o, 51, 33, 203.0 / 4 / 6, 130.0 / 4 / 6, &ox, &oy);
        const uint8_t *px = img->pixels + ((size_t)oy * img->width + (size_t)ox) * 3;
        ck_assert_msg(px[2] > 200, "orientation %d: blue %u at (%d, %d)", o, px[2], (int)ox, (int)oy);
        cerebro_image_free(img);
        free(data);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exif_geometry");
    TCase *tc = tcase_create("exif_geometry");
    tcase_add_test(tc, test_exact_geometry);
    tcase_add_test(tc, test_fast_geometry);
    tcase_add_test(tc, test_fast_pixels_follow_orientation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
