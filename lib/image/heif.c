/* HEIF decoding with libheif: HEIC (HEVC, through libde265), AVIF (AV1,
 * through dav1d or aom) and whatever else the installed libheif decodes;
 * grids, alpha, 8 to 12 bits, thumbnails.
 *
 * Fidelity: pixels equal heif-convert's PNG as PIL reads it. libheif does
 * the YCbCr to RGB conversion in both; an image of more than 8 bits is
 * asked for as 8-bit interleaved RGB, which libheif makes by dropping the
 * low bits (v >> (bits - 8)), the same value as the high byte of the
 * 16-bit PNG heif-convert writes (v << (16 - bits)) and PIL keeps. Alpha is
 * composited on params->background. ICC and nclx profiles are not applied
 * (heif-convert, and PIL's convert("RGB") of its PNG, ignore them too).
 *
 * Orientation: HEIF stores it as transformation properties (clap crop,
 * irot rotation, imir mirror), which libheif applies while decoding. With
 * params->apply_exif they are applied; without it they are all ignored and
 * the coded picture comes out as stored (uncropped). *exif is always left
 * empty: the HEIF specification says the EXIF Orientation tag of a HEIF
 * file is informative only, irot/imir being the truth, so applying it on
 * top would turn the image twice.
 *
 * Limits: libheif refuses while parsing any item (thumbnails, grid tiles
 * and alpha planes included) with a side over min(its own default, our
 * ceiling, max_pixels); then the primary image's size, as displayed and
 * as coded, is checked against max_pixels before anything is decoded.
 * Grid tiles are decoded on the calling thread: callers decode many
 * images in parallel already.
 *
 * Fast mode (min_short_side > 0): the smallest thumbnail whose short side
 * is at least min_short_side, if any, is decoded instead of the primary
 * image; full_width/full_height keep the primary image's size and the box
 * spans the whole thumbnail, whose scale may differ per axis. Only when
 * transformations are applied: each item carries its own irot/imir, so the
 * thumbnail is then upright like the primary image, while untransformed
 * their stored orientations may differ. A thumbnail whose aspect ratio
 * does not match the primary image's is not used.
 *
 * Thread safety: a context per call. heif_init() is not called: libheif
 * 1.15 registers its built-in codecs when it is loaded, and heif_init()
 * would load plugins from $LIBHEIF_PLUGIN_PATH, which a library should not
 * do behind its caller's back.
 *
 * Known library behaviour (Debian's libheif 1.15): AV1 goes to dav1d
 * (libheif's first choice, and decoder_id in the decoding options is not
 * honoured for it), which logs to stderr on damaged data because libheif
 * gives it no logger; and libheif's dav1d plugin leaks its 40-byte input
 * packet when dav1d refuses the data. Neither can be reached from here. */
#include <libheif/heif.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

/* libheif 1.15's own per-side limit (MAX_IMAGE_WIDTH/HEIGHT): lowered,
 * never raised. */
#define HEIF_DEFAULT_SIDE_LIMIT 32768u

static cerebro_status heif_status(const struct heif_error *err)
{
    switch (err->code) {
    case heif_error_Unsupported_filetype:
        return CEREBRO_E_FORMAT;
    case heif_error_Unsupported_feature:
        return CEREBRO_E_UNSUPPORTED;
    case heif_error_Memory_allocation_error:
        return err->subcode == heif_suberror_Security_limit_exceeded ? CEREBRO_E_LIMIT
                                                                     : CEREBRO_E_NOMEM;
    default:
        /* Invalid_input, Decoder_plugin_error, Usage_error (a reference to
         * an item the file lacks), ...: the file is damaged. */
        return CEREBRO_E_CORRUPT;
    }
}

static cerebro_status heif_failure(const struct heif_error *err, const char *label,
                                   const char *doing)
{
    return cb_fail(heif_status(err), "%s: %s HEIF: %s", label, doing,
                   err->message && *err->message ? err->message : "unknown libheif error");
}

/* The size the decoded image will have: as displayed (clap, irot applied)
 * or as coded (ispe) when transformations are ignored. */
static void output_size(const struct heif_image_handle *h, int transformed, uint32_t *w,
                        uint32_t *h_out)
{
    int width = heif_image_handle_get_width(h), height = heif_image_handle_get_height(h);

    if (!transformed) {
        int iw = heif_image_handle_get_ispe_width(h), ih = heif_image_handle_get_ispe_height(h);
        if (iw > 0 && ih > 0) {
            width = iw;
            height = ih;
        }
    }
    *w = width > 0 ? (uint32_t)width : 0;
    *h_out = height > 0 ? (uint32_t)height : 0;
}

/* The smallest thumbnail at least min_short on its short side with the
 * primary image's aspect ratio (within a pixel of rounding), or NULL. */
static struct heif_image_handle *pick_thumbnail(const struct heif_image_handle *primary,
                                                uint32_t full_w, uint32_t full_h,
                                                uint32_t min_short)
{
    heif_item_id ids[16];
    struct heif_image_handle *best = NULL;
    uint64_t best_pixels = 0;
    int n = heif_image_handle_get_list_of_thumbnail_IDs(primary, ids, 16);

    for (int i = 0; i < n; i++) {
        struct heif_image_handle *t = NULL;
        struct heif_error err = heif_image_handle_get_thumbnail(primary, ids[i], &t);
        uint32_t w, h;
        uint64_t cross_a, cross_b, slack;

        if (err.code != heif_error_Ok || !t)
            continue;
        output_size(t, 1, &w, &h);
        /* w / h == full_w / full_h up to half a pixel on the thumbnail's
         * longer side: |w * full_h - h * full_w| <= max(full_w, full_h). */
        cross_a = (uint64_t)w * full_h;
        cross_b = (uint64_t)h * full_w;
        slack = full_w > full_h ? full_w : full_h;
        if (w == 0 || h == 0 || w >= full_w || h >= full_h || (w < h ? w : h) < min_short ||
            (cross_a > cross_b ? cross_a - cross_b : cross_b - cross_a) > slack ||
            (best && (uint64_t)w * h >= best_pixels)) {
            heif_image_handle_release(t);
            continue;
        }
        heif_image_handle_release(best);
        best = t;
        best_pixels = (uint64_t)w * h;
    }
    return best;
}

/* Decodes `h` to 8-bit RGB into a new image. */
static cerebro_status decode_handle(const struct heif_image_handle *h, const char *label,
                                    const cb_decode_params *params, cerebro_image **out)
{
    int alpha = heif_image_handle_has_alpha_channel(h);
    struct heif_decoding_options *opts = heif_decoding_options_alloc();
    struct heif_image *pic = NULL;
    struct heif_error err;
    const uint8_t *plane;
    cerebro_image *img = NULL;
    cerebro_status st;
    int stride = 0, w, hh;

    if (!opts)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate HEIF decoding options", label);
    opts->ignore_transformations = params->apply_exif ? 0 : 1;
    err = heif_decode_image(h, &pic, heif_colorspace_RGB,
                            alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB,
                            opts);
    heif_decoding_options_free(opts);
    if (err.code != heif_error_Ok) {
        heif_image_release(pic);
        return heif_failure(&err, label, "cannot decode");
    }
    w = heif_image_get_width(pic, heif_channel_interleaved);
    hh = heif_image_get_height(pic, heif_channel_interleaved);
    plane = heif_image_get_plane_readonly(pic, heif_channel_interleaved, &stride);
    if (!plane || w <= 0 || hh <= 0 ||
        heif_image_get_bits_per_pixel(pic, heif_channel_interleaved) != (alpha ? 32 : 24) ||
        stride < w * (alpha ? 4 : 3)) {
        heif_image_release(pic);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: libheif decoded no usable 8-bit RGB picture",
                       label);
    }
    st = cb_image_new((uint32_t)w, (uint32_t)hh, params->max_pixels, label, &img);
    if (st != CEREBRO_OK) {
        heif_image_release(pic);
        return st;
    }
    for (int y = 0; y < hh; y++) {
        const uint8_t *row = plane + (size_t)y * (size_t)stride;
        uint8_t *dst = img->pixels + (size_t)y * w * 3;
        if (alpha)
            cb_composite_row(row, dst, (size_t)w, params->background);
        else
            memcpy(dst, row, (size_t)w * 3);
    }
    heif_image_release(pic);
    *out = img;
    return CEREBRO_OK;
}

cerebro_status cb_heif_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    struct heif_context *ctx;
    struct heif_image_handle *primary = NULL, *thumb = NULL;
    struct heif_error err;
    uint32_t w, h, cw, ch, side = HEIF_DEFAULT_SIDE_LIMIT;
    cerebro_image *img = NULL;
    cerebro_status st;

    (void)exif;
    *out = NULL;
    if (side > CB_IMAGE_MAX_SIDE)
        side = CB_IMAGE_MAX_SIDE;
    if (params->max_pixels && params->max_pixels < side)
        side = (uint32_t)params->max_pixels;
    ctx = heif_context_alloc();
    if (!ctx)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate a HEIF context", label);
    heif_context_set_maximum_image_size_limit(ctx, (int)side);
    heif_context_set_max_decoding_threads(ctx, 0);
    err = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
    if (err.code == heif_error_Ok)
        err = heif_context_get_primary_image_handle(ctx, &primary);
    if (err.code != heif_error_Ok) {
        st = heif_failure(&err, label, "cannot read");
        goto done;
    }

    /* Both the size we will output and the coded size (what the codec
     * allocates before any crop or rotation) must be within limits. */
    output_size(primary, params->apply_exif, &w, &h);
    output_size(primary, 0, &cw, &ch);
    st = cb_image_check_limits(w, h, params->max_pixels, label);
    if (st == CEREBRO_OK)
        st = cb_image_check_limits(cw, ch, params->max_pixels, label);
    if (st != CEREBRO_OK)
        goto done;
    if (w == 0 || h == 0) {
        st = cb_fail(CEREBRO_E_CORRUPT, "%s: HEIF image has an empty size (%ux%u)", label, w, h);
        goto done;
    }

    if (params->min_short_side && params->apply_exif)
        thumb = pick_thumbnail(primary, w, h, params->min_short_side);
    st = decode_handle(thumb ? thumb : primary, label, params, &img);
    if (st != CEREBRO_OK)
        goto done;
    if (thumb) {
        /* The thumbnail shows the whole picture, scaled by its own
         * (possibly per-axis different) ratio. */
        img->full_width = w;
        img->full_height = h;
        img->box[0] = 0.0f;
        img->box[1] = 0.0f;
        img->box[2] = (float)img->width;
        img->box[3] = (float)img->height;
    }
    *out = img;

done:
    heif_image_handle_release(thumb);
    heif_image_handle_release(primary);
    heif_context_free(ctx);
    return st;
}
