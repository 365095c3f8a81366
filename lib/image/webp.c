/* WebP decoding with libwebp and libwebpdemux: lossy, lossless, alpha,
 * extended (VP8X) files and the first frame of an animation.
 *
 * Output matches PIL 9.4's Image.open(p).convert("RGB") byte for byte, or,
 * when the file says it has alpha, convert("RGBA") composited on
 * params->background. PIL opens every WebP through WebPAnimDecoder with
 * its default options (RGBA, fancy upsampling, no dithering), and its
 * first frame is what this file computes without the decoder's second
 * canvas: a transparent canvas of the VP8X size with frame 1 decoded into
 * its rectangle (the first frame is always a key frame: no blending, and
 * the ANIM background colour is ignored). PIL's mode is "RGBA" when
 * WebPGetFeatures reports alpha (the VP8X alpha flag, a VP8L alpha hint or
 * an ALPH chunk) and "RGB" otherwise; in RGB mode any alpha is dropped, so
 * the canvas outside a smaller first frame is black, as in PIL.
 *
 * Like PIL, the whole file must demux (WebPDemux, not the partial one):
 * truncated files are errors. ICC profiles are ignored, as PIL's convert
 * ignores them. The first EXIF chunk (what PIL's info["exif"] holds, with
 * or without an "Exif\0\0" prefix) is handed to decode.c, which applies
 * its orientation like ImageOps.exif_transpose().
 *
 * Fast mode (params->min_short_side > 0): libwebp's own rescaler decodes
 * straight to the smallest size whose short side is min_short_side,
 * keeping the aspect. The result records the file's size in full_width/
 * full_height and box = (0, 0, width, height): the whole decoded image is
 * the whole picture. cb_image_set_scaled() cannot say that, because the
 * two sides are scaled by slightly different rational factors after
 * rounding. An animation whose first frame does not cover the canvas is
 * decoded at full size. */
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "core/core.h"
#include "image/decode.h"

static const char *status_text(VP8StatusCode code)
{
    switch (code) {
    case VP8_STATUS_OUT_OF_MEMORY:
        return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
        return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
        return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
        return "suspended";
    case VP8_STATUS_USER_ABORT:
        return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return "not enough data";
    default:
        return "unknown error";
    }
}

static cerebro_status libwebp_failure(VP8StatusCode code, const char *what, size_t size,
                                      const char *label)
{
    switch (code) {
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated WebP: %s ends at byte %zu", label, what,
                       size);
    case VP8_STATUS_OUT_OF_MEMORY:
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory decoding %s", label, what);
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: WebP %s uses a feature libwebp does not support",
                       label, what);
    default:
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt WebP: %s in %s", label, status_text(code),
                       what);
    }
}

/* The whole file through the demuxer, as PIL's WebPAnimDecoderNew does.
 * On failure the partial demuxer tells a truncated file from a bad one. */
static cerebro_status demux_all(const uint8_t *data, size_t size, const char *label,
                                WebPDemuxer **out)
{
    WebPData wd = {data, size};
    WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
    WebPDemuxer *partial;

    *out = WebPDemux(&wd);
    if (*out)
        return CEREBRO_OK;
    partial = WebPDemuxPartial(&wd, &state);
    WebPDemuxDelete(partial);
    if (partial && state != WEBP_DEMUX_DONE)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated WebP: the file ends at byte %zu, before "
                       "its RIFF size says", label, size);
    return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt WebP: its chunks do not form a valid file",
                   label);
}

/* The first EXIF chunk, without the "Exif\0\0" prefix some writers keep
 * (PIL strips it too). Points into the input. */
static cb_exif_block find_exif(WebPDemuxer *demux)
{
    cb_exif_block exif = {NULL, 0};
    WebPChunkIterator chunk;

    if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
        exif.data = chunk.chunk.bytes;
        exif.size = chunk.chunk.size;
        if (exif.size >= 6 && memcmp(exif.data, "Exif\0\0", 6) == 0) {
            exif.data += 6;
            exif.size -= 6;
        }
        WebPDemuxReleaseChunkIterator(&chunk);
    }
    return exif;
}

/* Fast mode: the short side becomes min_short (the long side rounded to
 * keep the aspect), when the picture is larger than that. */
static void scaled_size(uint32_t w, uint32_t h, uint32_t min_short, uint32_t *sw, uint32_t *sh)
{
    uint32_t shorter = w < h ? w : h, longer = w < h ? h : w, scaled;

    *sw = w;
    *sh = h;
    if (min_short == 0 || shorter <= min_short)
        return;
    scaled = (uint32_t)(((uint64_t)longer * min_short * 2 + shorter) / ((uint64_t)shorter * 2));
    *sw = w < h ? min_short : scaled;
    *sh = w < h ? scaled : min_short;
}

/* Decodes frame 1 (iter) at out_w x out_h onto img, whose size is the
 * canvas's (or the scaled frame's when scaling). */
static cerebro_status decode_frame(const WebPIterator *iter, int has_alpha, uint32_t out_w,
                                   uint32_t out_h, const uint8_t bg[3], cerebro_image *img,
                                   const char *label)
{
    WebPDecoderConfig config;
    size_t row = (size_t)img->width * 3;
    size_t at = (size_t)iter->y_offset * row + (size_t)iter->x_offset * 3;
    uint8_t *rgba = NULL;
    VP8StatusCode code;

    if (!WebPInitDecoderConfig(&config))
        return cb_fail(CEREBRO_E_INTERNAL, "%s: libwebp version mismatch", label);
    if (out_w != (uint32_t)iter->width || out_h != (uint32_t)iter->height) {
        config.options.use_scaling = 1;
        config.options.scaled_width = (int)out_w;
        config.options.scaled_height = (int)out_h;
    }
    config.output.is_external_memory = 1;
    if (has_alpha) {
        rgba = malloc((size_t)out_w * out_h * 4);
        if (!rgba)
            return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate %ux%u RGBA pixels", label, out_w,
                           out_h);
        config.output.colorspace = MODE_RGBA;
        config.output.u.RGBA.rgba = rgba;
        config.output.u.RGBA.stride = (int)out_w * 4;
        config.output.u.RGBA.size = (size_t)out_w * out_h * 4;
    } else {
        config.output.colorspace = MODE_RGB;
        config.output.u.RGBA.rgba = img->pixels + at;
        config.output.u.RGBA.stride = (int)row;
        config.output.u.RGBA.size = (size_t)img->height * row - at;
    }
    code = WebPDecode(iter->fragment.bytes, iter->fragment.size, &config);
    WebPFreeDecBuffer(&config.output);
    if (code == VP8_STATUS_OK && rgba) {
        for (uint32_t y = 0; y < out_h; y++)
            cb_composite_row(rgba + (size_t)y * out_w * 4, img->pixels + at + y * row, out_w, bg);
    }
    free(rgba);
    if (code != VP8_STATUS_OK)
        return libwebp_failure(code, "the first frame", iter->fragment.size, label);
    return CEREBRO_OK;
}

/* Everything after the demuxer: the canvas, frame 1 and the EXIF chunk. */
static cerebro_status decode_demuxed(WebPDemuxer *demux, int has_alpha, const char *label,
                                     const cb_decode_params *params, cb_exif_block *exif,
                                     cerebro_image **out)
{
    uint32_t cw = WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    uint32_t ch = WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    uint32_t out_w = cw, out_h = ch;
    WebPIterator iter;
    cerebro_image *img = NULL;
    cerebro_status st;
    int whole;

    if ((st = cb_image_check_limits(cw, ch, params->max_pixels, label)) != CEREBRO_OK)
        return st;
    if (!WebPDemuxGetFrame(demux, 1, &iter))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt WebP: no image frame", label);
    whole = iter.x_offset == 0 && iter.y_offset == 0 && (uint32_t)iter.width == cw &&
            (uint32_t)iter.height == ch;
    if (whole)
        scaled_size(cw, ch, params->min_short_side, &out_w, &out_h);
    if ((st = cb_image_new(out_w, out_h, params->max_pixels, label, &img)) != CEREBRO_OK)
        goto done;
    img->full_width = cw;
    img->full_height = ch;
    img->box[2] = (float)out_w;
    img->box[3] = (float)out_h;
    if (!whole) {
        /* What PIL shows where frame 1 does not reach: its transparent
         * canvas, composited (RGBA) or with the alpha dropped (RGB). */
        const uint8_t black[3] = {0, 0, 0};
        const uint8_t *fill = has_alpha ? params->background : black;
        for (size_t i = 0; i < (size_t)cw * ch; i++)
            memcpy(img->pixels + 3 * i, fill, 3);
    }
    st = decode_frame(&iter, has_alpha, whole ? out_w : (uint32_t)iter.width,
                      whole ? out_h : (uint32_t)iter.height, params->background, img, label);
done:
    WebPDemuxReleaseIterator(&iter);
    if (st != CEREBRO_OK) {
        cerebro_image_free(img);
        return st;
    }
    *exif = find_exif(demux);
    *out = img;
    return CEREBRO_OK;
}

cerebro_status cb_webp_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    WebPBitstreamFeatures features;
    WebPDemuxer *demux;
    VP8StatusCode code;
    cerebro_status st;

    *out = NULL;
    if (size < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBP", 4) != 0)
        return cb_fail(CEREBRO_E_FORMAT, "%s: not a WebP file (no RIFF/WEBP signature)", label);
    /* The header alone gives the canvas size: limits before any
     * allocation, the demuxer's included. */
    code = WebPGetFeatures(data, size, &features);
    if (code != VP8_STATUS_OK)
        return libwebp_failure(code, "the header", size, label);
    if (features.width <= 0 || features.height <= 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt WebP: size %dx%d", label, features.width,
                       features.height);
    st = cb_image_check_limits((uint32_t)features.width, (uint32_t)features.height,
                               params->max_pixels, label);
    if (st != CEREBRO_OK)
        return st;
    if ((st = demux_all(data, size, label, &demux)) != CEREBRO_OK)
        return st;
    st = decode_demuxed(demux, features.has_alpha, label, params, exif, out);
    WebPDemuxDelete(demux);
    return st;
}
