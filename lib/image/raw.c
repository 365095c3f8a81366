/* Camera RAW decoding with LibRaw (the thread-safe libraw_r, 0.20): DNG,
 * CR2, NEF, ARW, RAF, ORF, RW2 and every other kind LibRaw identifies.
 *
 * What comes out:
 *   - exact mode: LibRaw's full demosaic (dcraw_process) with the camera's
 *     white balance (use_camera_wb), sRGB primaries, 8 bits and LibRaw's
 *     default BT.709 gamma and auto-brightening: the pixels of
 *     `dcraw_emu -w` (libraw-bin), which is the reference the tests use;
 *   - fast mode (min_short_side > 0): the embedded JPEG preview when its
 *     short side reaches min_short_side and it shows the same frame (its
 *     aspect ratio within 2% of the RAW's), decoded by cb_jpeg_decode() in
 *     fast mode so it may be scaled further; otherwise LibRaw's half-size
 *     demosaic (half_size, `dcraw_emu -w -h`). Either way the image
 *     records the full (oriented) size exact mode would give in
 *     full_width/full_height, and its content box, so preprocessing crops
 *     the same part of the picture.
 *   - orientation: LibRaw's flip (from the file's Orientation tag or the
 *     maker's own field) is turned into the EXIF orientation it stands for
 *     and applied with cb_image_apply_orientation() when apply_exif is set;
 *     LibRaw itself never rotates (user_flip = 0). *exif stays empty.
 *
 * Errors: LibRaw never prints (data and memory error callbacks record
 * into the context instead); a read past the end of the input or any
 * data error LibRaw reports is E_CORRUPT, an unidentified file E_FORMAT,
 * LibRaw's own memory cap (max_raw_memory_mb, set from max_pixels) E_LIMIT.
 *
 * Limits: the output size (sizes.width x height, stretched for
 * non-square pixels, oriented) and the sensor size (raw_width x
 * raw_height, which includes masked margins: allowed a quarter more) are
 * checked against max_pixels right after identification, before anything
 * is unpacked; the preview's declared size before it is unpacked; the
 * processed size again before LibRaw allocates the output bitmap.
 *
 * Threads: each call has its own LibRaw object. LibRaw's demosaic runs
 * OpenMP parallel loops; a decode runs on one of the caller's decode
 * workers, so the calling thread's OpenMP team is held to one thread
 * for the call (the thread's own setting, restored afterwards). */
#include <libraw/libraw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

typedef struct raw_ctx {
    int data_errors;
    int data_offset; /* where the first data error was, -1 at end of data */
    int mem_error;
} raw_ctx;

static void on_data_error(void *data, const char *file, const int offset)
{
    raw_ctx *ctx = data;

    (void)file;
    if (ctx->data_errors++ == 0)
        ctx->data_offset = offset;
}

static void on_mem_error(void *data, const char *file, const char *where)
{
    (void)file;
    (void)where;
    ((raw_ctx *)data)->mem_error = 1;
}

/* A LibRaw object that never writes to stderr. */
static libraw_data_t *raw_open_handle(raw_ctx *ctx)
{
    libraw_data_t *lr = libraw_init(0);

    if (!lr)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    libraw_set_dataerror_handler(lr, on_data_error, ctx);
    libraw_set_memerror_handler(lr, on_mem_error, ctx);
    return lr;
}

/* LibRaw stores a flip as dcraw's 0..7 code, or for a few makers in
 * degrees; raw2image_start() normalises degrees the same way. */
static int normalised_flip(int flip)
{
    switch ((flip + 3600) % 360) {
    case 270: return 5;
    case 180: return 3;
    case 90: return 6;
    default: return flip & 7;
    }
}

/* dcraw reads EXIF orientation o as flip "50132467"[o]; this is the
 * inverse: the orientation a viewer applies for each flip. */
static int orientation_of_flip(int flip)
{
    static const int exif[8] = {1, 2, 4, 3, 5, 8, 6, 7};
    return exif[flip & 7];
}

static cerebro_status raw_error(const raw_ctx *ctx, int rc, const char *label, const char *step)
{
    if (rc == LIBRAW_FILE_UNSUPPORTED)
        return cb_fail(CEREBRO_E_FORMAT, "%s: not a camera RAW file LibRaw can read", label);
    if (rc == LIBRAW_TOO_BIG)
        return cb_fail(CEREBRO_E_LIMIT, "%s: RAW data is over the memory limit set from max_pixels",
                       label);
    if (rc == LIBRAW_UNSUFFICIENT_MEMORY || rc == LIBRAW_MEMPOOL_OVERFLOW || ctx->mem_error)
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory while %s the RAW data", label, step);
    if (rc == LIBRAW_NOT_IMPLEMENTED)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: LibRaw cannot decode this kind of RAW data",
                       label);
    if (rc == LIBRAW_IO_ERROR || (ctx->data_errors && ctx->data_offset < 0))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated RAW file (data ends while %s)", label,
                       step);
    if (ctx->data_errors)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: damaged RAW data near byte %d (while %s)", label,
                       ctx->data_offset, step);
    return cb_fail(CEREBRO_E_CORRUPT, "%s: LibRaw failed while %s: %s", label, step,
                   libraw_strerror(rc));
}

/* ------------------------------------------------------------ geometry */

typedef struct raw_geometry {
    uint32_t width, height; /* what dcraw_process outputs, before orientation */
    int orientation;        /* EXIF orientation to apply (1 = none) */
} raw_geometry;

static uint32_t oriented_w(const raw_geometry *g)
{
    return g->orientation >= 5 ? g->height : g->width;
}

static uint32_t oriented_h(const raw_geometry *g)
{
    return g->orientation >= 5 ? g->width : g->height;
}

/* The output size exact mode gives: the visible area, stretched like
 * LibRaw's stretch() for non-square pixels. */
static void raw_geometry_of(const libraw_data_t *lr, int apply_exif, raw_geometry *g)
{
    const libraw_image_sizes_t *s = &lr->sizes;
    double w = s->width, h = s->height, aspect = s->pixel_aspect;

    if (aspect > 0 && aspect < 0.995)
        h = floor(h / aspect + 0.5);
    else if (aspect > 1.005)
        w = floor(w * aspect + 0.5);
    g->width = w < 1e6 ? (uint32_t)w : 1000000u;
    g->height = h < 1e6 ? (uint32_t)h : 1000000u;
    g->orientation = apply_exif ? orientation_of_flip(normalised_flip(s->flip)) : 1;
}

static cerebro_status check_sizes(const libraw_data_t *lr, const raw_geometry *g,
                                  const cb_decode_params *params, const char *label)
{
    const libraw_image_sizes_t *s = &lr->sizes;
    uint64_t raw_cap = params->max_pixels ? params->max_pixels + params->max_pixels / 4 : 0;
    cerebro_status st;

    if (g->width == 0 || g->height == 0 || s->raw_width == 0 || s->raw_height == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: RAW image has no pixels (%ux%u, sensor %ux%u)",
                       label, g->width, g->height, s->raw_width, s->raw_height);
    st = cb_image_check_limits(oriented_w(g), oriented_h(g), params->max_pixels, label);
    if (st != CEREBRO_OK)
        return st;
    return cb_image_check_limits(s->raw_width, s->raw_height, raw_cap, label);
}

/* LibRaw's own allocation cap: a 4-channel 16-bit image of max_pixels,
 * with the same quarter for margins, and some room for tables. */
static unsigned memory_cap_mb(uint64_t max_pixels)
{
    uint64_t mb = (max_pixels + max_pixels / 4) * 8 / (1u << 20) + 64;
    return mb > 0xFFFFFFu ? 0xFFFFFFu : (unsigned)mb;
}

/* ------------------------------------------------------------ output */

/* Copies LibRaw's processed bitmap (8-bit grey or RGB) into our image. */
static cerebro_status bitmap_to_image(const libraw_processed_image_t *pi, const cb_decode_params *params,
                                      const char *label, cerebro_image **out)
{
    size_t pixels, need;
    cerebro_image *img;
    cerebro_status st;

    if (pi->type != LIBRAW_IMAGE_BITMAP || pi->bits != 8 || (pi->colors != 1 && pi->colors != 3))
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: LibRaw gave a %u-bit %u-channel image", label,
                       pi->bits, pi->colors);
    st = cb_image_new(pi->width, pi->height, params->max_pixels, label, &img);
    if (st != CEREBRO_OK)
        return st;
    pixels = (size_t)pi->width * pi->height;
    need = pixels * pi->colors;
    if (pi->data_size < need) {
        cerebro_image_free(img);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: LibRaw's image holds %u bytes, %zu expected", label,
                       pi->data_size, need);
    }
    if (pi->colors == 3) {
        memcpy(img->pixels, pi->data, need);
    } else {
        for (size_t i = 0; i < pixels; i++)
            memset(img->pixels + 3 * i, pi->data[i], 3);
    }
    *out = img;
    return CEREBRO_OK;
}

/* An odd width or height leaves half-size's last column or row with one
 * sensor line: half its colours are missing (no blue, half the green).
 * It takes the colours of the complete cells next to it; the content box
 * gives it half a pixel's weight. */
static void fill_partial_cells(cerebro_image *img, int last_col, int last_row)
{
    size_t stride = (size_t)img->width * 3;

    if (last_col && img->width >= 2) {
        for (uint32_t y = 0; y < img->height; y++) {
            uint8_t *row = img->pixels + y * stride;
            memcpy(row + stride - 3, row + stride - 6, 3);
        }
    }
    if (last_row && img->height >= 2)
        memcpy(img->pixels + (img->height - 1) * stride, img->pixels + (img->height - 2) * stride,
               stride);
}

/* Demosaics (full or half size) into *out, unoriented. */
static cerebro_status demosaic(libraw_data_t *lr, raw_ctx *ctx, const cb_decode_params *params,
                               const char *label, int half, cerebro_image **out)
{
    libraw_processed_image_t *pi;
    int rc, errc = 0;
    cerebro_status st;

    rc = libraw_unpack(lr);
    if (rc != LIBRAW_SUCCESS || ctx->data_errors)
        return raw_error(ctx, rc, label, "unpacking");
    /* Fujifilm's 45-degree sensors are rotated back after interpolation:
     * a half-size decode of them has no simple scale, so they are
     * decoded in full. */
    lr->params.half_size = half && lr->rawdata.ioparams.fuji_width == 0;
    rc = libraw_dcraw_process(lr);
    if (rc != LIBRAW_SUCCESS || ctx->data_errors)
        return raw_error(ctx, rc, label, "processing");
    st = cb_image_check_limits(lr->sizes.iwidth, lr->sizes.iheight, params->max_pixels, label);
    if (st != CEREBRO_OK)
        return st;
    pi = libraw_dcraw_make_mem_image(lr, &errc);
    if (!pi)
        return raw_error(ctx, errc ? errc : LIBRAW_UNSUFFICIENT_MEMORY, label,
                         "making the output image");
    st = bitmap_to_image(pi, params, label, out);
    libraw_dcraw_clear_mem(pi);
    return st;
}

/* The embedded JPEG preview, when it is big enough for fast mode and shows
 * the frame the RAW does. Returns NULL (no error set) when there is none
 * to use: the RAW itself is decoded instead. */
static cerebro_image *preview(libraw_data_t *lr, raw_ctx *ctx, const raw_geometry *g,
                              const cb_decode_params *params, const char *label)
{
    const libraw_thumbnail_t *t = &lr->thumbnail;
    libraw_processed_image_t *pi;
    cb_decode_params jp = *params;
    cb_exif_block exif = {NULL, 0};
    cerebro_image *img = NULL;
    double want = (double)g->width / g->height, got;
    int errc = 0;

    /* Identification declares the preview's size and length; its format
     * is known once it is unpacked. */
    if (t->tlength == 0 || t->twidth == 0 || t->theight == 0 ||
        (t->twidth < t->theight ? t->twidth : t->theight) < params->min_short_side)
        return NULL;
    if (cb_image_check_limits(t->twidth, t->theight, params->max_pixels, label) != CEREBRO_OK)
        return NULL;
    if (libraw_unpack_thumb(lr) != LIBRAW_SUCCESS || ctx->data_errors ||
        t->tformat != LIBRAW_THUMBNAIL_JPEG)
        return NULL;
    pi = libraw_dcraw_make_mem_thumb(lr, &errc);
    if (!pi)
        return NULL;
    jp.apply_exif = 0;
    if (pi->type != LIBRAW_IMAGE_JPEG ||
        cb_jpeg_decode(pi->data, pi->data_size, label, &jp, &exif, &img) != CEREBRO_OK)
        img = NULL;
    libraw_dcraw_clear_mem(pi);
    if (!img)
        return NULL;
    /* The JPEG's own size (full_*) decides, not the tags that declared it. */
    got = (double)img->full_width / img->full_height;
    if ((img->full_width < img->full_height ? img->full_width : img->full_height) <
            params->min_short_side ||
        fabs(got / want - 1.0) > 0.02) {
        cerebro_image_free(img);
        return NULL;
    }
    /* The whole preview is the whole frame: its box (set by the JPEG
     * decode) stays, the original size becomes the RAW's. */
    img->full_width = g->width;
    img->full_height = g->height;
    return img;
}

static cerebro_status decode(libraw_data_t *lr, raw_ctx *ctx, const uint8_t *data, size_t size,
                             const char *label, const cb_decode_params *params, cerebro_image **out)
{
    raw_geometry g;
    cerebro_image *img = NULL;
    cerebro_status st;
    int rc;

    lr->params.use_camera_wb = 1;
    lr->params.output_color = 1; /* sRGB */
    lr->params.output_bps = 8;
    lr->params.user_flip = 0; /* we orient, after any scaling */
    if (params->max_pixels)
        lr->params.max_raw_memory_mb = memory_cap_mb(params->max_pixels);
    rc = libraw_open_buffer(lr, (void *)(uintptr_t)data, size);
    if (rc != LIBRAW_SUCCESS)
        return raw_error(ctx, rc, label, "reading the header");
    raw_geometry_of(lr, params->apply_exif, &g);
    st = check_sizes(lr, &g, params, label);
    if (st != CEREBRO_OK)
        return st;

    if (params->min_short_side > 0)
        img = preview(lr, ctx, &g, params, label);
    if (!img) {
        int half = params->min_short_side > 0 &&
                   (g.width + 1) / 2 >= params->min_short_side &&
                   (g.height + 1) / 2 >= params->min_short_side;
        ctx->data_errors = 0;
        st = demosaic(lr, ctx, params, label, half, &img);
        if (st != CEREBRO_OK)
            return st;
        if (img->width == g.width && img->height == g.height) {
            /* full size: nothing to record */
        } else if (img->width == (g.width + 1) / 2 && img->height == (g.height + 1) / 2) {
            /* A half-size pixel is one 2x2 cell of the sensor: a scale of
             * 1/2 rounded up, like a JPEG's 1/2 decode. */
            cb_image_set_scaled(img, g.width, g.height, 1, 2);
            fill_partial_cells(img, g.width & 1, g.height & 1);
        } else {
            /* Any other ratio (LibRaw's own crops or stretches): the whole
             * decoded image stands for the whole frame. */
            img->full_width = g.width;
            img->full_height = g.height;
            img->box[0] = img->box[1] = 0.0f;
            img->box[2] = (float)img->width;
            img->box[3] = (float)img->height;
        }
    }
    st = cb_image_apply_orientation(&img, g.orientation, label);
    if (st != CEREBRO_OK) {
        cerebro_image_free(img);
        return st;
    }
    *out = img;
    return CEREBRO_OK;
}

cerebro_status cb_raw_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out)
{
    raw_ctx ctx;
    libraw_data_t *lr;
    int omp_before;
    cerebro_status st;

    *out = NULL;
    (void)exif;
    lr = raw_open_handle(&ctx);
    if (!lr)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot create a LibRaw decoder", label);
    omp_before = cb_omp_hold(1);
    st = decode(lr, &ctx, data, size, label, params, out);
    cb_omp_restore(omp_before);
    libraw_close(lr);
    return st;
}

int cb_raw_sniff(const uint8_t *data, size_t size)
{
    raw_ctx ctx;
    libraw_data_t *lr = raw_open_handle(&ctx);
    int yes;

    if (!lr)
        return 0;
    /* open_buffer identifies the file from its headers; nothing is
     * unpacked. A TIFF LibRaw takes for RAW has a maker or a DNG version. */
    yes = libraw_open_buffer(lr, (void *)(uintptr_t)data, size) == LIBRAW_SUCCESS &&
          (lr->idata.dng_version != 0 || lr->idata.make[0] != '\0');
    libraw_close(lr);
    return yes;
}
