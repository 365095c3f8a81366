/* The cerebro_image value type, option validation and decode parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/image.h"

cerebro_status cb_image_options_check(const cerebro_image_options *o)
{
    if (o->version < 1 || o->version > CEREBRO_IMAGE_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "image options: unknown version %u (this library knows 1..%u)",
                       o->version, CEREBRO_IMAGE_OPTIONS_VERSION);
    if (o->size < 1 || o->size > 4096)
        return cb_fail(CEREBRO_E_INVALID, "image options: size %u outside 1..4096", o->size);
    for (int c = 0; c < 3; c++) {
        if (!(o->std[c] > 0.0f) || !isfinite(o->std[c]) || !isfinite(o->mean[c]))
            return cb_fail(CEREBRO_E_INVALID, "image options: mean/std of channel %d must be finite with std > 0", c);
    }
    if (o->mode > CEREBRO_PREPROCESS_FAST)
        return cb_fail(CEREBRO_E_INVALID, "image options: unknown preprocess mode %u", o->mode);
    if (o->resize != CEREBRO_RESIZE_SHORTEST_CROP && o->resize != CEREBRO_RESIZE_SQUASH)
        return cb_fail(CEREBRO_E_INVALID, "image options: unknown resize mode %u", o->resize);
    if (o->flags & ~(CEREBRO_IMAGE_IGNORE_EXIF | CEREBRO_IMAGE_DRAFT))
        return cb_fail(CEREBRO_E_INVALID, "image options: unknown flags 0x%x", o->flags);
    if (o->max_pixels == 0 || o->max_file_bytes == 0)
        return cb_fail(CEREBRO_E_INVALID, "image options: max_pixels and max_file_bytes must be > 0");
    return CEREBRO_OK;
}

cerebro_status cb_decode_params_from(const cerebro_image_options *opts, int fast,
                                     cb_decode_params *p)
{
    cerebro_image_options defaults;
    cerebro_status st;

    if (!opts) {
        cerebro_image_options_init(&defaults);
        opts = &defaults;
    }
    st = cb_image_options_check(opts);
    if (st != CEREBRO_OK)
        return st;
    memset(p, 0, sizeof *p);
    p->max_pixels = opts->max_pixels;
    p->max_file_bytes = opts->max_file_bytes;
    p->min_short_side = fast ? opts->size : 0;
    p->apply_exif = !(opts->flags & CEREBRO_IMAGE_IGNORE_EXIF);
    memcpy(p->background, opts->background, 3);
    return CEREBRO_OK;
}

cerebro_status cb_image_check_limits(uint32_t width, uint32_t height, uint64_t max_pixels,
                                     const char *label)
{
    uint64_t pixels = (uint64_t)width * height;

    if (width > CB_IMAGE_MAX_SIDE || height > CB_IMAGE_MAX_SIDE)
        return cb_fail(CEREBRO_E_LIMIT, "%s: %ux%u exceeds the maximum side of %u pixels", label,
                       width, height, CB_IMAGE_MAX_SIDE);
    if (max_pixels && pixels > max_pixels)
        return cb_fail(CEREBRO_E_LIMIT, "%s: %ux%u is %llu pixels, over the limit of %llu", label,
                       width, height, (unsigned long long)pixels, (unsigned long long)max_pixels);
    return CEREBRO_OK;
}

cerebro_status cb_image_new(uint32_t width, uint32_t height, uint64_t max_pixels, const char *name,
                            cerebro_image **out)
{
    cerebro_image *img;
    uint64_t pixels = (uint64_t)width * height;
    const char *label = name ? name : "image";
    cerebro_status st;

    *out = NULL;
    if (width == 0 || height == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: image has zero size (%ux%u)", label, width, height);
    if ((st = cb_image_check_limits(width, height, max_pixels, label)) != CEREBRO_OK)
        return st;
    img = malloc(sizeof *img);
    if (!img)
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", label);
    img->width = width;
    img->height = height;
    cb_image_set_scaled(img, width, height, 1, 1);
    img->pixels = malloc((size_t)pixels * 3);
    if (!img->pixels) {
        free(img);
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate %ux%u RGB pixels", label, width, height);
    }
    *out = img;
    return CEREBRO_OK;
}

void cb_image_set_scaled(cerebro_image *img, uint32_t full_w, uint32_t full_h, int num, int den)
{
    img->full_width = full_w;
    img->full_height = full_h;
    img->box[0] = 0.0f;
    img->box[1] = 0.0f;
    img->box[2] = (float)((double)full_w * num / den);
    img->box[3] = (float)((double)full_h * num / den);
}

void cerebro_image_free(cerebro_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    free(image);
}

uint32_t cerebro_image_width(const cerebro_image *image)
{
    return image ? image->width : 0;
}

uint32_t cerebro_image_height(const cerebro_image *image)
{
    return image ? image->height : 0;
}

const uint8_t *cerebro_image_pixels(const cerebro_image *image)
{
    return image ? image->pixels : NULL;
}

cerebro_status cerebro_image_from_rgb(cerebro_image **out, const uint8_t *rgb, uint32_t width,
                                      uint32_t height, size_t stride,
                                      const cerebro_image_options *opts)
{
    cb_decode_params p;
    cerebro_status st;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_from_rgb: out is NULL");
    *out = NULL;
    if (!rgb)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_from_rgb: rgb is NULL");
    if ((st = cb_decode_params_from(opts, 0, &p)) != CEREBRO_OK)
        return st;
    if (width > CB_IMAGE_MAX_SIDE || stride < (size_t)width * 3)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_from_rgb: stride %zu < 3 * width %u", stride,
                       width);
    if ((st = cb_image_new(width, height, p.max_pixels, "rgb buffer", out)) != CEREBRO_OK)
        return st;
    for (uint32_t y = 0; y < height; y++)
        memcpy((*out)->pixels + (size_t)y * width * 3, rgb + (size_t)y * stride, (size_t)width * 3);
    return CEREBRO_OK;
}

size_t cerebro_image_tensor_size(const cerebro_image_options *opts)
{
    uint32_t s = opts ? opts->size : 224;
    return (size_t)3 * s * s;
}

void cb_composite_row(const uint8_t *rgba, uint8_t *rgb, size_t width, const uint8_t bg[3])
{
    for (size_t x = 0; x < width; x++, rgba += 4, rgb += 3)
        for (int c = 0; c < 3; c++)
            rgb[c] = cb_composite(rgba[3], rgba[c], bg[c]);
}
