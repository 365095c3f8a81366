/* The CLIP image transform (preprocess.c): torchvision's
 * Resize(S, BICUBIC) + CenterCrop(S) + ToTensor() + Normalize(mean, std)
 * on a decoded RGB image, reproduced exactly. */
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

#ifdef __cplusplus
}
#endif

#endif
