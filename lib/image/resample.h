/* PIL-exact bicubic resampling (resample.c).
 *
 * The resampler reproduces Pillow's ImagingResample (libImaging/Resample.c,
 * Pillow 9.4) for 8-bit RGB with the BICUBIC filter bit for bit: the same
 * double-precision weights, the same 22-bit fixed-point coefficients, the
 * same rounding and clamping after each pass, horizontal pass first, and a
 * pass skipped when its dimension does not change. On top of that it can
 * compute just a window of the resized image, which is what a centre crop
 * keeps, with exactly the values the full resize would have there. */
#ifndef CEREBRO_IMAGE_RESAMPLE_H
#define CEREBRO_IMAGE_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for cb_resample_window. */
#define CB_RESAMPLE_SCALAR 0x1u /* never use the SIMD kernels (tests compare both) */

/* Largest output side the window function accepts. A centre crop of an
 * extreme panorama resizes its long side far beyond CB_IMAGE_MAX_SIDE
 * (4096 * 65500 / 1 at most); only the window is ever stored. */
#define CB_RESAMPLE_MAX_OUT (1u << 30)

/* Writes the window [x0, x0 + cw) x [y0, y0 + ch) of what PIL's
 * image.resize((out_w, out_h), Image.BICUBIC) returns into dst, packed RGB
 * rows of dst_stride bytes. The window must lie inside out_w x out_h and
 * both sizes must be 1..CB_RESAMPLE_MAX_OUT. Allocates only its scratch
 * (coefficients and the horizontally resampled rows the window needs).
 * Errors: E_INVALID (bad geometry), E_LIMIT, E_NOMEM. */
cerebro_status cb_resample_window(const cerebro_image *src, uint32_t out_w, uint32_t out_h,
                                  uint32_t x0, uint32_t y0, uint32_t cw, uint32_t ch,
                                  uint8_t *dst, size_t dst_stride, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
