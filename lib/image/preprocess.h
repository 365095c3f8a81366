/* The image transforms (preprocess.c), reproduced exactly: CLIP's
 * torchvision Resize(S, BICUBIC) + CenterCrop(S), or SigLIP's PIL
 * resize((S, S), BICUBIC); then ToTensor() + Normalize(mean, std). */
#ifndef CEREBRO_IMAGE_PREPROCESS_H
#define CEREBRO_IMAGE_PREPROCESS_H

#include <stdint.h>

#include "image/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the S x S crop lies in the resized image. */
typedef struct cb_clip_geometry {
    uint32_t resized_w, resized_h; /* shortest side S, long side int(S * long / short) */
    uint32_t left, top;            /* int(round((side - S) / 2.0)), halves to even */
} cb_clip_geometry;

void cb_clip_geometry_of(uint32_t width, uint32_t height, uint32_t s, cb_clip_geometry *g);

/* The uint8 S x S RGB crop (packed, 3 * S bytes a row) that
 * CenterCrop(S)(Resize(S, BICUBIC)(image)) holds, bit-exact with PIL.
 * flags: CB_RESAMPLE_* (tests only). Errors: E_LIMIT, E_NOMEM. */
cerebro_status cb_clip_crop(const cerebro_image *image, uint32_t s, uint8_t *crop, unsigned flags);

/* The same for an image decoded at reduced scale (fast mode) from a
 * full_w x full_h original (after EXIF orientation) whose content lies in
 * `box` (x0, y0, x1, y1 in decoded pixels; NULL = the whole image): the
 * geometry comes from the original size, so the result equals PIL's
 * draft() + resize(size, BICUBIC, box) + CenterCrop, and differs from the
 * full-resolution reference only by the DCT-domain downscale. For a 1/d
 * decode the box is (0, 0, full_w / d, full_h / d) before orientation;
 * orientations that mirror an axis move its partial pixel to the start. */
cerebro_status cb_clip_crop_box(const cerebro_image *image, uint32_t full_w, uint32_t full_h,
                                const float box[4], uint32_t s, uint8_t *crop, unsigned flags);

/* CEREBRO_RESIZE_SQUASH: the uint8 S x S RGB image (packed) that PIL's
 * image.resize((S, S), Image.BICUBIC) gives, bit-exact. A scaled decode
 * (fast mode) is resampled from the box its content covers (`box`, or the
 * image's own in cb_squash), as PIL's draft() + resize((S, S), box=box).
 * Errors: E_LIMIT, E_NOMEM. */
cerebro_status cb_squash(const cerebro_image *image, uint32_t s, uint8_t *out, unsigned flags);
cerebro_status cb_squash_box(const cerebro_image *image, const float box[4], uint32_t s,
                             uint8_t *out, unsigned flags);

/* The S x S pixels of a cerebro_resize_mode: cb_clip_crop or cb_squash. */
cerebro_status cb_preprocess_pixels(const cerebro_image *image, uint32_t s, uint32_t resize,
                                    uint8_t *out, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
