/* TIFF decoding with libtiff: the first page (IFD0) of the file.
 *
 * Output matches PIL 9.4's Image.open(f).convert("RGB") (or, with an
 * alpha channel, convert("RGBA") composited on params->background):
 *   - bilevel, 2/4/8-bit grey (MINISBLACK and MINISWHITE), palette
 *     (1/2/4/8 bits, colormap entries taken as value // 256 as PIL does,
 *     palette + alpha), RGB, RGBA with unassociated alpha, RGBA with
 *     associated alpha (un-premultiplied as PIL's "RGBa" -> "RGBA":
 *     min(255, 255 * c / a) for 0 < a < 255), RGB with unspecified extra
 *     samples (ignored), grey + alpha, CMYK (PIL's cmyk2rgb: 255 - k -
 *     c * (255 - k) / 255 rounded), contiguous or planar, strips or tiles,
 *     any compression libtiff was built with;
 *   - 16-bit samples keep their high byte, as PIL does for RGB(A) and
 *     CMYK. PIL opens 16-bit grey as mode "I;16", whose convert("RGB")
 *     clips everything above 255 to white; we take the high byte there
 *     too, like png.c does (and MINISWHITE 16-bit grey is inverted, which
 *     PIL's table forgets);
 *   - YCbCr (JPEG-compressed or not) and old-style JPEG go through
 *     libtiff's RGBA interface (TIFFRGBAImage), as PIL does: for JPEG,
 *     libjpeg converts to RGB (JPEGCOLORMODE_RGB), as in PIL.
 * Not read: float and signed samples, CIELAB, LogLuv and the other
 * photometric interpretations PIL cannot convert to RGB (E_UNSUPPORTED).
 * The ICC profile is ignored, like PIL's convert("RGB").
 * Orientation: *exif is the whole file, whose IFD0 holds the Orientation
 * tag that decode.c applies; the pixels here stay in stored order (the
 * RGBA interface is told not to reorient them). PIL 9.4 applies the tag
 * itself when it loads a TIFF (TiffImageFile.load_end), so
 * Image.open(f).convert("RGB") is already upright and equals
 * ImageOps.exif_transpose() of the stored pixels, which is what we give;
 * exif_transpose() on PIL's loaded TIFF would turn it a second time, as
 * PIL leaves the tag in place.
 *
 * libtiff's messages go into the error through per-handle handlers, never
 * to stderr or a global handler. Its own allocations are bounded by
 * TIFFOpenOptionsSetMaxSingleMemAlloc, strip and tile tables are loaded
 * on demand, and the declared size is checked against the limits before
 * any buffer of ours that depends on it is allocated. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "core/core.h"
#include "image/decode.h"

enum { MAX_SAMPLES = 8 };

typedef struct tiff_job {
    const uint8_t *data;
    size_t size;
    size_t pos;
    const char *label;
    const cb_decode_params *params;
    TIFF *tif;
    char message[256];
    /* the layout of IFD0 */
    uint32_t width, height;
    uint16_t bps, spp, photometric, planar, compression;
    int colors;     /* 1 grey or palette, 3 RGB, 4 CMYK */
    int alpha;      /* sample index of the alpha channel, -1 none */
    int associated; /* premultiplied alpha */
    uint16_t *cmap[3];
    /* buffers */
    uint8_t *planes[MAX_SAMPLES];
    uint8_t *tile;
    uint32_t *raster;
    cerebro_image *image;
} tiff_job;

/* ------------------------------------------------------------ I/O */

static tmsize_t io_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_job *job = (tiff_job *)h;
    size_t left = job->pos < job->size ? job->size - job->pos : 0;
    size_t k = n < 0 ? 0 : (size_t)n;

    if (k > left)
        k = left;
    memcpy(buf, job->data + job->pos, k);
    job->pos += k;
    return (tmsize_t)k;
}

static tmsize_t io_write(thandle_t h, void *buf, tmsize_t n)
{
    CB_UNUSED(h);
    CB_UNUSED(buf);
    CB_UNUSED(n);
    return -1;
}

static toff_t io_seek(thandle_t h, toff_t off, int whence)
{
    tiff_job *job = (tiff_job *)h;
    uint64_t base = whence == SEEK_CUR ? job->pos : whence == SEEK_END ? job->size : 0;

    if (off > UINT64_MAX - base || base + off > SIZE_MAX)
        return (toff_t)-1;
    job->pos = (size_t)(base + off);
    return job->pos;
}

static int io_close(thandle_t h)
{
    CB_UNUSED(h);
    return 0;
}

static toff_t io_size(thandle_t h)
{
    return ((tiff_job *)h)->size;
}

static int io_map(thandle_t h, void **base, toff_t *size)
{
    CB_UNUSED(h);
    CB_UNUSED(base);
    CB_UNUSED(size);
    return 0;
}

static void io_unmap(thandle_t h, void *base, toff_t size)
{
    CB_UNUSED(h);
    CB_UNUSED(base);
    CB_UNUSED(size);
}

/* The first error is the specific one; libtiff's later ones only say
 * which call failed. Returning 1 keeps the global handler out of it. */
CB_PRINTF(4, 0)
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    tiff_job *job = user;
    int n;

    CB_UNUSED(tif);
    if (job->message[0])
        return 1;
    n = snprintf(job->message, sizeof job->message, "%s: ", module ? module : "libtiff");
    if (n < 0 || (size_t)n >= sizeof job->message)
        n = 0;
    vsnprintf(job->message + n, sizeof job->message - (size_t)n, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    CB_UNUSED(tif);
    CB_UNUSED(user);
    CB_UNUSED(module);
    CB_UNUSED(fmt);
    CB_UNUSED(ap);
    return 1;
}

static cerebro_status libtiff_failure(const tiff_job *job, const char *what)
{
    return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt TIFF: %s (%s)", job->label, what,
                   job->message[0] ? job->message : "no detail from libtiff");
}

/* ------------------------------------------------------------ layout */

/* Reads and checks IFD0's sample layout; decides how pixels map to RGB. */
static cerebro_status read_layout(tiff_job *job)
{
    TIFF *tif = job->tif;
    uint16_t fmt, extras_n, *extras = NULL;
    int extras_given;

    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &job->width) ||
        !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &job->height))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt TIFF: no image size in IFD0", job->label);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &job->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &job->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &job->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &job->compression);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &job->photometric))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt TIFF: no PhotometricInterpretation tag",
                       job->label);
    extras_given = TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &extras_n, &extras);
    if (!extras_given)
        extras_n = 0;

    if (!TIFFIsCODECConfigured(job->compression))
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: TIFF compression %u is not supported",
                       job->label, job->compression);
    if (job->photometric == PHOTOMETRIC_YCBCR || job->compression == COMPRESSION_OJPEG)
        return CEREBRO_OK; /* libtiff's RGBA interface reads these */
    if (fmt != SAMPLEFORMAT_UINT && fmt != SAMPLEFORMAT_VOID)
        return cb_fail(CEREBRO_E_UNSUPPORTED,
                       "%s: TIFF with %s samples is not supported (unsigned integers only)",
                       job->label, fmt == SAMPLEFORMAT_IEEEFP ? "floating-point" : "signed");
    if (job->bps != 1 && job->bps != 2 && job->bps != 4 && job->bps != 8 && job->bps != 16)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: TIFF with %u bits per sample is not supported",
                       job->label, job->bps);

    switch (job->photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK: job->colors = 1; break;
    case PHOTOMETRIC_PALETTE:
        job->colors = 1;
        if (job->bps > 8)
            return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: 16-bit TIFF palette is not supported",
                           job->label);
        if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &job->cmap[0], &job->cmap[1], &job->cmap[2]))
            return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt TIFF: palette image without a colormap",
                           job->label);
        break;
    case PHOTOMETRIC_RGB: job->colors = 3; break;
    case PHOTOMETRIC_SEPARATED: {
        uint16_t inkset;
        TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &inkset);
        if (inkset != INKSET_CMYK)
            return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: TIFF ink set %u is not supported (CMYK only)",
                           job->label, inkset);
        job->colors = 4;
        break;
    }
    default:
        return cb_fail(CEREBRO_E_UNSUPPORTED,
                       "%s: TIFF photometric interpretation %u is not supported", job->label,
                       job->photometric);
    }
    if (job->colors > 1 && job->bps < 8)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: %u-bit colour TIFF is not supported", job->label,
                       job->bps);
    if (job->spp < job->colors || job->spp > MAX_SAMPLES)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: TIFF with %u samples per pixel for "
                       "photometric interpretation %u is not supported",
                       job->label, job->spp, job->photometric);

    /* The first extra sample is alpha unless it is declared unspecified;
     * PIL reads RGB with a fourth sample and no ExtraSamples tag as RGBA. */
    job->alpha = -1;
    if (job->spp > job->colors) {
        if (extras_n > 0 && extras[0] != EXTRASAMPLE_UNSPECIFIED) {
            job->alpha = job->colors;
            job->associated = extras[0] == EXTRASAMPLE_ASSOCALPHA;
        } else if (extras_n == 0 && job->colors == 3 && job->spp == 4) {
            job->alpha = 3;
        }
    }
    return CEREBRO_OK;
}

/* ------------------------------------------------------------ pixels */

/* Sample `i` of a row of `bps`-bit samples, MSB first (libtiff has
 * already applied FillOrder and byte order). */
static unsigned sample(const uint8_t *row, size_t i, unsigned bps)
{
    switch (bps) {
    case 8: return row[i];
    case 16: {
        uint16_t v;
        memcpy(&v, row + 2 * i, 2);
        return v;
    }
    default: {
        size_t bit = i * bps;
        return (row[bit / 8] >> (8 - bps - bit % 8)) & ((1u << bps) - 1);
    }
    }
}

/* A sample scaled to 8 bits as PIL does: high byte of 16, 1/2/4 bits
 * multiplied up to 255. */
static unsigned to8(unsigned v, unsigned bps)
{
    switch (bps) {
    case 16: return v >> 8;
    case 8: return v;
    default: return v * 255 / ((1u << bps) - 1);
    }
}

/* PIL's MULDIV255: a * b / 255 rounded. */
static unsigned muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static void convert_row(const tiff_job *job, uint32_t y, size_t stride, uint8_t *rgb)
{
    const uint8_t *bg = job->params->background;
    int contig = job->planar == PLANARCONFIG_CONTIG;
    unsigned bps = job->bps;

    for (uint32_t x = 0; x < job->width; x++, rgb += 3) {
        unsigned s[MAX_SAMPLES], c[3], a = 255;
        int want = job->alpha >= 0 ? job->alpha + 1 : job->colors;

        for (int k = 0; k < want; k++) {
            const uint8_t *row = job->planes[contig ? 0 : k] + (size_t)y * stride;
            s[k] = sample(row, contig ? (size_t)x * job->spp + (size_t)k : x, bps);
        }
        switch (job->photometric) {
        case PHOTOMETRIC_PALETTE:
            for (int k = 0; k < 3; k++)
                c[k] = job->cmap[k][s[0]] >> 8;
            break;
        case PHOTOMETRIC_MINISWHITE: c[0] = c[1] = c[2] = 255 - to8(s[0], bps); break;
        case PHOTOMETRIC_MINISBLACK: c[0] = c[1] = c[2] = to8(s[0], bps); break;
        case PHOTOMETRIC_SEPARATED: {
            unsigned nk = 255 - to8(s[3], bps);
            for (int k = 0; k < 3; k++)
                c[k] = nk - muldiv255(to8(s[k], bps), nk);
            break;
        }
        default:
            for (int k = 0; k < 3; k++)
                c[k] = to8(s[k], bps);
        }
        if (job->alpha >= 0) {
            a = to8(s[job->alpha], bps);
            if (job->associated && a != 0 && a != 255)
                for (int k = 0; k < 3; k++)
                    c[k] = c[k] * 255 / a > 255 ? 255 : c[k] * 255 / a;
        }
        for (int k = 0; k < 3; k++)
            rgb[k] = cb_composite(a, c[k], bg[k]);
    }
}

/* Reads rows [y0, y0 + rows) of every plane into job->planes (rows of
 * `stride` bytes, band-relative). y0 is a multiple of the strip or tile
 * height. */
static cerebro_status read_band(tiff_job *job, uint32_t y0, uint32_t rows, size_t stride,
                                uint32_t tile_w, size_t tile_row, tmsize_t tile_size)
{
    int nplanes = job->planar == PLANARCONFIG_CONTIG ? 1 : job->spp;
    unsigned pixel_bits = job->bps * (job->planar == PLANARCONFIG_CONTIG ? job->spp : 1u);

    for (int p = 0; p < nplanes; p++) {
        memset(job->planes[p], 0, stride * rows);
        if (!job->tile) {
            uint32_t strip = TIFFComputeStrip(job->tif, y0, (uint16_t)p);
            if (TIFFReadEncodedStrip(job->tif, strip, job->planes[p], (tmsize_t)(stride * rows)) < 0)
                return libtiff_failure(job, "cannot read a strip");
            continue;
        }
        for (uint32_t x0 = 0; x0 < job->width; x0 += tile_w) {
            uint32_t cols = job->width - x0 < tile_w ? job->width - x0 : tile_w;
            size_t at = (size_t)x0 * pixel_bits / 8, n = ((size_t)cols * pixel_bits + 7) / 8;
            uint32_t tile = TIFFComputeTile(job->tif, x0, y0, 0, (uint16_t)p);

            if (TIFFReadEncodedTile(job->tif, tile, job->tile, tile_size) < 0)
                return libtiff_failure(job, "cannot read a tile");
            for (uint32_t r = 0; r < rows; r++)
                memcpy(job->planes[p] + r * stride + at, job->tile + r * tile_row, n);
        }
    }
    return CEREBRO_OK;
}

/* Bound for any single allocation of libtiff's: a decoded strip or tile
 * can need 8 bytes a pixel (4 samples of 16 bits) of the largest image the
 * limits allow, plus room for small images with large tiles. */
static tmsize_t alloc_bound(const cb_decode_params *params)
{
    uint64_t pixels = params->max_pixels ? params->max_pixels
                                         : (uint64_t)CB_IMAGE_MAX_SIDE * CB_IMAGE_MAX_SIDE;
    uint64_t bytes = pixels * 8 + (16u << 20);

    return bytes > (uint64_t)INT64_MAX / 2 ? (tmsize_t)(INT64_MAX / 2) : (tmsize_t)bytes;
}

/* Strips or tiles, contiguous or planar: a band of rows at a time. */
static cerebro_status decode_samples(tiff_job *job)
{
    int nplanes = job->planar == PLANARCONFIG_CONTIG ? 1 : job->spp;
    unsigned pixel_bits = job->bps * (job->planar == PLANARCONFIG_CONTIG ? job->spp : 1u);
    size_t stride = ((size_t)job->width * pixel_bits + 7) / 8;
    uint32_t band, tile_w = 0;
    size_t tile_row = 0;
    tmsize_t tile_size = 0;
    cerebro_status st;

    if (TIFFIsTiled(job->tif)) {
        uint32_t tile_h;
        TIFFGetField(job->tif, TIFFTAG_TILEWIDTH, &tile_w);
        TIFFGetField(job->tif, TIFFTAG_TILELENGTH, &tile_h);
        tile_size = TIFFTileSize(job->tif);
        tile_row = (size_t)TIFFTileRowSize(job->tif);
        if (tile_w == 0 || tile_h == 0 || tile_size <= 0 ||
            tile_row < ((size_t)tile_w * pixel_bits + 7) / 8)
            return libtiff_failure(job, "bad tile size");
        if (tile_size > alloc_bound(job->params))
            return cb_fail(CEREBRO_E_LIMIT, "%s: TIFF tiles of %ux%u are too large for the limits",
                           job->label, tile_w, tile_h);
        job->tile = malloc((size_t)tile_size);
        if (!job->tile)
            return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate a %ux%u TIFF tile", job->label,
                           tile_w, tile_h);
        band = tile_h;
    } else {
        TIFFGetFieldDefaulted(job->tif, TIFFTAG_ROWSPERSTRIP, &band);
        if (band == 0)
            band = job->height;
    }
    if (band > job->height)
        band = job->height;
    for (int p = 0; p < nplanes; p++) {
        job->planes[p] = malloc(stride * band);
        if (!job->planes[p])
            return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate TIFF rows for %ux%u", job->label,
                           job->width, job->height);
    }
    for (uint32_t y0 = 0; y0 < job->height; y0 += band) {
        uint32_t rows = job->height - y0 < band ? job->height - y0 : band;
        st = read_band(job, y0, rows, stride, tile_w, tile_row, tile_size);
        if (st != CEREBRO_OK)
            return st;
        for (uint32_t r = 0; r < rows; r++)
            convert_row(job, r, stride,
                        job->image->pixels + ((size_t)y0 + r) * job->width * 3);
    }
    return CEREBRO_OK;
}

/* YCbCr and old-style JPEG: libtiff's RGBA interface, in stored row order
 * (the Orientation tag is decode.c's business). */
static cerebro_status decode_rgba(tiff_job *job)
{
    TIFFRGBAImage img;
    char emsg[1024] = "";
    const uint8_t *bg = job->params->background;
    size_t n = (size_t)job->width * job->height;
    int ok;

    if (!TIFFRGBAImageOK(job->tif, emsg))
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: TIFF not readable as RGB: %s", job->label, emsg);
    job->raster = malloc(n * sizeof *job->raster);
    if (!job->raster)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate %ux%u TIFF pixels", job->label,
                       job->width, job->height);
    if (!TIFFRGBAImageBegin(&img, job->tif, 1, emsg))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt TIFF: %s", job->label, emsg);
    img.req_orientation = img.orientation;
    ok = TIFFRGBAImageGet(&img, job->raster, job->width, job->height);
    TIFFRGBAImageEnd(&img);
    if (!ok)
        return libtiff_failure(job, "cannot decode the image");
    for (size_t i = 0; i < n; i++) {
        uint32_t v = job->raster[i];
        unsigned a = TIFFGetA(v), c[3] = {TIFFGetR(v), TIFFGetG(v), TIFFGetB(v)};
        for (int k = 0; k < 3; k++)
            job->image->pixels[3 * i + (size_t)k] =
                cb_composite(a, c[k], bg[k]);
    }
    return CEREBRO_OK;
}

/* ------------------------------------------------------------ entry */

static cerebro_status tiff_run(tiff_job *job)
{
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    cerebro_status st;

    if (!opts)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot create a TIFF decoder", job->label);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, alloc_bound(job->params));
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, job);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, job);
    /* r: read, m: no mapping (our read procs), O: strip and tile tables
     * read on demand, so a bogus strip count costs nothing up front. */
    job->tif = TIFFClientOpenExt(job->label, "rmO", (thandle_t)job, io_read, io_write, io_seek,
                                 io_close, io_size, io_map, io_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!job->tif)
        return libtiff_failure(job, "cannot read the header or IFD0");

    st = read_layout(job);
    if (st == CEREBRO_OK)
        st = cb_image_new(job->width, job->height, job->params->max_pixels, job->label,
                          &job->image);
    if (st != CEREBRO_OK)
        return st;
    if (job->photometric == PHOTOMETRIC_YCBCR || job->compression == COMPRESSION_OJPEG)
        return decode_rgba(job);
    return decode_samples(job);
}

cerebro_status cb_tiff_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    tiff_job job;
    cerebro_status st;

    *out = NULL;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.size = size;
    job.label = label;
    job.params = params;

    st = tiff_run(&job);
    if (job.tif)
        TIFFClose(job.tif);
    for (int p = 0; p < MAX_SAMPLES; p++)
        free(job.planes[p]);
    free(job.tile);
    free(job.raster);
    if (st != CEREBRO_OK) {
        cerebro_image_free(job.image);
        return st;
    }
    exif->data = data;
    exif->size = size;
    *out = job.image;
    return CEREBRO_OK;
}
