/* Image preprocessing: CLIP's shortest-side bicubic resize and centre crop,
 * or SigLIP's bicubic squash of the whole image to S x S; then scaling to
 * [0, 1] and per-channel normalisation into a CHW float32 tensor.
 *
 * Only the crop is ever resampled (cb_resample_window computes exactly the
 * pixels the full PIL resize would have there), and the float conversion
 * is a 256-entry table per channel computed with torchvision's float32
 * operations (x / 255, then (x - mean) / std), so the tensor equals the
 * reference whenever the uint8 crop does. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/preprocess.h"
#include "image/resample.h"

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even side. */
static uint32_t half_to_even(uint32_t d)
{
    uint32_t q = d / 2;
    return (d & 1u) && (q & 1u) ? q + 1 : q;
}

void cb_clip_geometry_of(uint32_t width, uint32_t height, uint32_t s, cb_clip_geometry *g)
{
    uint32_t shorter = width <= height ? width : height;
    uint32_t longer = width <= height ? height : width;
    /* int(S * long / short): the exact quotient's floor equals the
     * truncated double quotient for these magnitudes (< 2^29). */
    uint32_t resized_long = (uint32_t)((uint64_t)s * longer / shorter);

    g->resized_w = width <= height ? s : resized_long;
    g->resized_h = width <= height ? resized_long : s;
    g->left = half_to_even(g->resized_w - s);
    g->top = half_to_even(g->resized_h - s);
}

cerebro_status cb_clip_crop_box(const cerebro_image *image, uint32_t full_w, uint32_t full_h,
                                const float box[4], uint32_t s, uint8_t *crop, unsigned flags)
{
    cb_clip_geometry g;
    cb_resample_job job = {0};

    if (full_w == 0 || full_h == 0)
        return cb_fail(CEREBRO_E_INTERNAL, "preprocess: original size %ux%u is empty", full_w,
                       full_h);
    cb_clip_geometry_of(full_w, full_h, s, &g);
    job.out_w = g.resized_w;
    job.out_h = g.resized_h;
    if (box)
        memcpy(job.box, box, sizeof job.box);
    job.x0 = g.left;
    job.y0 = g.top;
    job.cw = job.ch = s;
    job.flags = flags;
    return cb_resample_window(image, &job, crop, (size_t)s * 3);
}

cerebro_status cb_clip_crop(const cerebro_image *image, uint32_t s, uint8_t *crop, unsigned flags)
{
    /* A scaled decode (fast mode) keeps its original geometry: resizing
     * from the rounded-up decoded size would stretch the image. */
    if (image->full_width != image->width || image->full_height != image->height)
        return cb_clip_crop_box(image, image->full_width, image->full_height, image->box, s, crop,
                                flags);
    return cb_clip_crop_box(image, image->width, image->height, NULL, s, crop, flags);
}

cerebro_status cb_squash_box(const cerebro_image *image, const float box[4], uint32_t s,
                             uint8_t *out, unsigned flags)
{
    cb_resample_job job = {0};

    job.out_w = job.out_h = job.cw = job.ch = s;
    if (box)
        memcpy(job.box, box, sizeof job.box);
    job.flags = flags;
    return cb_resample_window(image, &job, out, (size_t)s * 3);
}

cerebro_status cb_squash(const cerebro_image *image, uint32_t s, uint8_t *out, unsigned flags)
{
    /* A scaled decode (fast mode): the content's box, as PIL's draft()
     * hands resize(). */
    if (image->full_width != image->width || image->full_height != image->height)
        return cb_squash_box(image, image->box, s, out, flags);
    return cb_squash_box(image, NULL, s, out, flags);
}

cerebro_status cb_preprocess_pixels(const cerebro_image *image, uint32_t s, uint32_t resize,
                                    uint8_t *out, unsigned flags)
{
    if (resize == CEREBRO_RESIZE_SQUASH)
        return cb_squash(image, s, out, flags);
    return cb_clip_crop(image, s, out, flags);
}

/* Resolves NULL to the defaults and validates. */
static cerebro_status options_or_defaults(const cerebro_image_options *opts,
                                          cerebro_image_options *buf,
                                          const cerebro_image_options **use)
{
    if (!opts) {
        cerebro_image_options_init(buf);
        *use = buf;
        return CEREBRO_OK;
    }
    *use = opts;
    return cb_image_options_check(opts);
}

static void crop_to_tensor(const uint8_t *crop, const cerebro_image_options *o, float *out)
{
    size_t plane = (size_t)o->size * o->size;
    float lut[3][256];

    for (int c = 0; c < 3; c++) {
        for (int v = 0; v < 256; v++) {
            /* Two float32 roundings, as ToTensor's div(255) then Normalize's
             * sub_(mean).div_(std). */
            float scaled = (float)v / 255.0f;
            lut[c][v] = (scaled - o->mean[c]) / o->std[c];
        }
    }
    for (size_t i = 0; i < plane; i++) {
        out[i] = lut[0][crop[3 * i]];
        out[plane + i] = lut[1][crop[3 * i + 1]];
        out[2 * plane + i] = lut[2][crop[3 * i + 2]];
    }
}

cerebro_status cerebro_image_preprocess(const cerebro_image *image,
                                        const cerebro_image_options *opts, float *out)
{
    cerebro_image_options defaults;
    const cerebro_image_options *o;
    uint8_t *crop;
    cerebro_status st;

    if (!image || !image->pixels)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess: image is NULL");
    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess: out is NULL");
    if ((st = options_or_defaults(opts, &defaults, &o)) != CEREBRO_OK)
        return st;
    crop = malloc((size_t)o->size * o->size * 3);
    if (!crop)
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_image_preprocess: cannot allocate a %ux%u crop",
                       o->size, o->size);
    st = cb_preprocess_pixels(image, o->size, o->resize, crop, 0);
    if (st == CEREBRO_OK)
        crop_to_tensor(crop, o, out);
    free(crop);
    return st;
}

/* Options and decode parameters of a preprocess call: fast mode lets the
 * JPEG decoder shrink in the IDCT while the shortest side stays >= S. */
static cerebro_status prepare(const cerebro_image_options *opts, cerebro_image_options *buf,
                              const cerebro_image_options **use, cb_decode_params *p)
{
    cerebro_status st = options_or_defaults(opts, buf, use);

    if (st != CEREBRO_OK)
        return st;
    return cb_decode_params_from(*use, (*use)->mode == CEREBRO_PREPROCESS_FAST, p);
}

/* Preprocesses a freshly decoded image and frees it. */
static cerebro_status finish(cerebro_image *img, const cerebro_image_options *o, float *out,
                             const char *label)
{
    cerebro_status st = cerebro_image_preprocess(img, o, out);

    if (st != CEREBRO_OK)
        cb_error_prefix(label);
    cerebro_image_free(img);
    return st;
}

cerebro_status cerebro_image_preprocess_file(const char *path, const cerebro_image_options *opts,
                                             float *out)
{
    cerebro_image_options defaults;
    const cerebro_image_options *o;
    cb_decode_params p;
    cerebro_image *img = NULL;
    cerebro_status st;

    if (!path)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess_file: path is NULL");
    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess_file: out is NULL");
    if ((st = prepare(opts, &defaults, &o, &p)) != CEREBRO_OK ||
        (st = cb_image_decode_file(path, &p, &img)) != CEREBRO_OK)
        return st;
    return finish(img, o, out, path);
}

cerebro_status cerebro_image_preprocess_memory(const void *data, size_t size, const char *name,
                                               const cerebro_image_options *opts, float *out)
{
    cerebro_image_options defaults;
    const cerebro_image_options *o;
    cb_decode_params p;
    cerebro_image *img = NULL;
    cerebro_status st;

    if (!data)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess_memory: data is NULL");
    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_preprocess_memory: out is NULL");
    if ((st = prepare(opts, &defaults, &o, &p)) != CEREBRO_OK ||
        (st = cb_image_decode(data, size, name, &p, &img)) != CEREBRO_OK)
        return st;
    return finish(img, o, out, name);
}
