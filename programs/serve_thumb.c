/* cerebro serve, thumbnails: an item's picture (a still image, or a video
 * frame at its timestamp) scaled so its longest side is the size asked for,
 * as JPEG, with the library's own decoder and resampler; and whole images
 * of the formats browsers do not show (HEIC, TIFF, JPEG XL, camera RAW)
 * transcoded to JPEG. */
#define _XOPEN_SOURCE 700

#include <stdio.h>

#include "serve.h"

/* The one place that turns an item into pixels. `size` > 0: the picture
 * only needs its shorter side >= size, so a big JPEG is decoded at 1/2, 1/4
 * or 1/8 scale (several times faster); 0: full size. */
static cerebro_status load_picture(const cerebro_hit *hit, uint32_t size, uint64_t max_pixels,
                                   cerebro_image **out)
{
    cerebro_image_options o;

    cerebro_image_options_init(&o);
    if (max_pixels)
        o.max_pixels = max_pixels;
    if (size > 0) {
        o.size = size;
        o.flags |= CEREBRO_IMAGE_DRAFT;
    }
    if (hit->kind != CEREBRO_ITEM_VIDEO_FRAME)
        return cerebro_image_load_file(out, hit->path, &o);
    return cerebro_video_frame_load(out, hit->path, hit->timestamp, &o);
}

/* The HTTP status and message for a picture that could not be loaded. */
static unsigned load_failed(const cerebro_hit *hit, cerebro_status st, char *msg, size_t msg_cap)
{
    if (st == CEREBRO_E_UNSUPPORTED) {
        snprintf(msg, msg_cap, "cannot decode the %s of item %lld: %s",
                 hit->kind == CEREBRO_ITEM_VIDEO_FRAME ? "frame" : "image", (long long)hit->id,
                 cerebro_last_error());
        return MHD_HTTP_NOT_IMPLEMENTED;
    }
    snprintf(msg, msg_cap, "cannot decode item %lld: %s", (long long)hit->id, cerebro_last_error());
    return st == CEREBRO_E_NOT_FOUND ? MHD_HTTP_GONE : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

unsigned serve_image_transcode(const cerebro_hit *hit, int quality, uint64_t max_pixels, void **jpeg,
                               size_t *len, char *msg, size_t msg_cap)
{
    cerebro_image *img = NULL;
    cerebro_status st;

    *jpeg = NULL;
    *len = 0;
    if ((st = load_picture(hit, 0, max_pixels, &img)) != CEREBRO_OK)
        return load_failed(hit, st, msg, msg_cap);
    st = cerebro_image_encode_jpeg(img, quality, jpeg, len);
    cerebro_image_free(img);
    if (st != CEREBRO_OK) {
        snprintf(msg, msg_cap, "cannot encode item %lld as JPEG: %s", (long long)hit->id, cerebro_last_error());
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return MHD_HTTP_OK;
}

unsigned serve_thumb_make(const cerebro_hit *hit, uint32_t size, int quality, void **jpeg,
                          size_t *len, char *msg, size_t msg_cap)
{
    cerebro_image *img = NULL, *small = NULL;
    uint32_t w, h, tw, th;
    cerebro_status st;

    *jpeg = NULL;
    *len = 0;
    if ((st = load_picture(hit, size, 0, &img)) != CEREBRO_OK)
        return load_failed(hit, st, msg, msg_cap);
    w = cerebro_image_width(img);
    h = cerebro_image_height(img);
    /* Longest side = size, the other in proportion (at least 1 pixel). */
    tw = w >= h ? size : (uint32_t)(((uint64_t)w * size + h / 2) / h);
    th = w >= h ? (uint32_t)(((uint64_t)h * size + w / 2) / w) : size;
    tw = tw ? tw : 1;
    th = th ? th : 1;
    if (tw == w && th == h)
        st = cerebro_image_encode_jpeg(img, quality, jpeg, len);
    else if ((st = cerebro_image_resize(&small, img, tw, th)) == CEREBRO_OK)
        st = cerebro_image_encode_jpeg(small, quality, jpeg, len);
    cerebro_image_free(small);
    cerebro_image_free(img);
    if (st != CEREBRO_OK) {
        snprintf(msg, msg_cap, "cannot make a thumbnail of item %lld: %s", (long long)hit->id,
                 cerebro_last_error());
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return MHD_HTTP_OK;
}
