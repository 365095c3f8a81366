/* What the format decoders (jpeg.c, png.c, webp.c, ...) and the EXIF code (exif.c) offer
 * decode.c, which sniffs the format and puts the pieces together. Internal
 * to lib/image. */
#ifndef CEREBRO_IMAGE_DECODE_H
#define CEREBRO_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a decoder found the image's EXIF block: a TIFF header and IFDs
 * (JPEG's "Exif\0\0" prefix already skipped), pointing into the input
 * buffer. data is NULL when the file has none. */
typedef struct cb_exif_block {
    const uint8_t *data;
    size_t size;
} cb_exif_block;


/* Decoders: `label` (never NULL) prefixes every error message. On success
 * *out is an RGB image (alpha composited on params->background) and *exif
 * locates the EXIF block, if any. On failure *out is NULL. */
cerebro_status cb_jpeg_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out);
cerebro_status cb_png_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out);

/* The other formats, same contract (each in its own file, on the library
 * Debian ships for it). Orientation: the TIFF decoder points *exif at the
 * file itself (its IFD0 holds the Orientation tag), WebP at its EXIF chunk;
 * HEIF (irot/imir), JPEG XL and RAW apply their orientation themselves when
 * params->apply_exif is set and leave *exif empty. An animation or a
 * multi-page file gives its first frame or page. */
cerebro_status cb_webp_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out);
cerebro_status cb_gif_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out);
cerebro_status cb_tiff_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out);
cerebro_status cb_bmp_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out);
/* HEIC and AVIF (and any other HEIF brand libheif decodes). */
cerebro_status cb_heif_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out);
cerebro_status cb_jxl_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out);
cerebro_status cb_raw_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out);

/* 1 when LibRaw recognises the bytes as a camera RAW (TIFF-based ones such
 * as DNG, CR2, NEF and ARW included): decode.c asks before taking a TIFF
 * signature for a plain TIFF. Reads the header only. */
int cb_raw_sniff(const uint8_t *data, size_t size);

/* The EXIF orientation (1..8) of a TIFF-structured EXIF block, read the way
 * PIL's Image.getexif() does; 0 when absent, unreadable or out of range.
 * Every offset is bounds-checked: the block is untrusted. */
int cb_exif_orientation(const uint8_t *tiff, size_t size);

/* Applies an EXIF orientation (2..8; 0 and 1 leave the image alone) exactly
 * like PIL's ImageOps.exif_transpose(). May replace *image (orientations
 * 5..8 swap width and height); on failure *image is unchanged. */
cerebro_status cb_image_apply_orientation(cerebro_image **image, int orientation,
                                          const char *label);

#ifdef __cplusplus
}
#endif

#endif
