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

/* Flags for cb_resample_job.flags. */
#define CB_RESAMPLE_SCALAR 0x1u /* never use the SIMD kernels (tests compare both) */

/* Largest output side the window function accepts. A centre crop of an
 * extreme panorama resizes its long side far beyond CB_IMAGE_MAX_SIDE
 * (4096 * 65500 / 1 at most); only the window is ever stored. */
#define CB_RESAMPLE_MAX_OUT (1u << 30)

/* What to compute: the window [x0, x0 + cw) x [y0, y0 + ch) of what PIL's
 * image.resize((out_w, out_h), Image.BICUBIC, box=box) returns. An all-zero
 * box means the whole source (PIL's default). A fractional box is what a
 * scaled JPEG decode needs: the last pixel of a 1/8 decode may hold only
 * part of a block, so the content spans full / 8 pixels (PIL's draft()
 * returns that box for resize()). */
typedef struct cb_resample_job {
    uint32_t out_w, out_h;   /* the full resized size, 1..CB_RESAMPLE_MAX_OUT */
    float box[4];            /* source x0, y0, x1, y1, 0 <= x0 < x1 <= width; or all 0 */
    uint32_t x0, y0, cw, ch; /* the window, inside out_w x out_h */
    unsigned flags;          /* CB_RESAMPLE_* */
} cb_resample_job;

/* Writes job's window into dst, packed RGB rows of dst_stride bytes.
 * Allocates only its scratch (coefficients and the horizontally resampled
 * rows the window needs). Errors: E_INVALID (bad geometry), E_LIMIT,
 * E_NOMEM. */
cerebro_status cb_resample_window(const cerebro_image *src, const cb_resample_job *job,
                                  uint8_t *dst, size_t dst_stride);

#ifdef __cplusplus
}
#endif

#endif
