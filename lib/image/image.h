/* Internal image types and the contract between the decoders
 * (decode.c, jpeg.c, png.c, exif.c) and the resampler/preprocessor
 * (resample.c, preprocess.c). */
#ifndef CEREBRO_IMAGE_H
#define CEREBRO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The public opaque handle: tightly packed 8-bit RGB, 3 * width bytes a row.
 * A JPEG decoded at 1/d scale (fast mode) remembers the size of the image
 * the file holds (after EXIF orientation) and where that content lies in
 * the decoded pixels: the scaled size is rounded up, so the last column or
 * row is partial (and orientation may move it to the first). Otherwise
 * full_* equal width/height and box is (0, 0, width, height). */
struct cerebro_image {
    uint32_t width;
    uint32_t height;
    uint8_t *pixels;
    uint32_t full_width;
    uint32_t full_height;
    float box[4]; /* x0, y0, x1, y1 in decoded pixels */
};

/* Records that `img` holds a full_w x full_h original decoded at `num/den`
 * scale (content in (0, 0, full_w * num / den, full_h * num / den)). */
void cb_image_set_scaled(cerebro_image *img, uint32_t full_w, uint32_t full_h, int num, int den);

/* Hard ceiling on either side whatever the options say (PIL's own limit
 * and far above any camera). */
#define CB_IMAGE_MAX_SIDE 65500u

/* What the decoders need to know. */
typedef struct cb_decode_params {
    uint64_t max_pixels;     /* refuse larger images before allocating */
    uint64_t max_file_bytes; /* refuse larger inputs */
    /* 0: full-resolution decode (exact mode). Otherwise a JPEG may be
     * decoded at 1/2, 1/4 or 1/8 scale as long as the decoded image's
     * shortest side stays >= min_short_side (fast mode). */
    uint32_t min_short_side;
    int apply_exif;          /* apply EXIF orientation (1..8) */
    uint8_t background[3];   /* colour under transparent pixels */
} cb_decode_params;

/* Fills params from public options (NULL = defaults). Returns E_INVALID
 * on a bad options struct. For fast mode pass fast=1: min_short_side
 * becomes opts->size. */
cerebro_status cb_decode_params_from(const cerebro_image_options *opts, int fast,
                                     cb_decode_params *params);

/* E_LIMIT when a side exceeds CB_IMAGE_MAX_SIDE or the pixel count
 * max_pixels (0: only the side ceiling). Call before any allocation that
 * depends on the size. */
cerebro_status cb_image_check_limits(uint32_t width, uint32_t height, uint64_t max_pixels,
                                     const char *label);

/* Alpha compositing, the rule of every decoder: a pixel of colour fg and
 * alpha a over the background bg is round((a * fg + (255 - a) * bg) / 255)
 * (255 is odd, so there are no ties). */
static inline uint8_t cb_composite(unsigned a, unsigned fg, unsigned bg)
{
    return (uint8_t)((a * fg + (255 - a) * bg + 127) / 255);
}

/* A row of width RGBA pixels composited on bg into width RGB pixels. */
void cb_composite_row(const uint8_t *rgba, uint8_t *rgb, size_t width, const uint8_t bg[3]);

/* Allocates an image of width x height after checking limits
 * (max_pixels: 0 = only the hard ceiling). `name` labels errors. */
cerebro_status cb_image_new(uint32_t width, uint32_t height, uint64_t max_pixels, const char *name,
                            cerebro_image **out);

/* Decodes JPEG/PNG bytes (sniffed from the magic). `name` (may be NULL)
 * prefixes error messages, e.g. "photo.jpg: truncated JPEG data". */
cerebro_status cb_image_decode(const uint8_t *data, size_t size, const char *name,
                               const cb_decode_params *params, cerebro_image **out);

/* Reads the file (within max_file_bytes) and decodes it. */
cerebro_status cb_image_decode_file(const char *path, const cb_decode_params *params,
                                    cerebro_image **out);

/* Validates public options: E_INVALID with a message naming the field. */
cerebro_status cb_image_options_check(const cerebro_image_options *opts);

#ifdef __cplusplus
}
#endif

#endif
