/* Placeholder until the decoders land (decode.c, jpeg.c, png.c, exif.c). */
#include "core/core.h"
#include "image/image.h"

cerebro_status cb_image_decode(const uint8_t *data, size_t size, const char *name,
                               const cb_decode_params *params, cerebro_image **out)
{
    CB_UNUSED(data);
    CB_UNUSED(size);
    CB_UNUSED(name);
    CB_UNUSED(params);
    *out = NULL;
    return cb_unsupported("image decoding");
}

cerebro_status cb_image_decode_file(const char *path, const cb_decode_params *params,
                                    cerebro_image **out)
{
    CB_UNUSED(path);
    CB_UNUSED(params);
    *out = NULL;
    return cb_unsupported("image decoding");
}

cerebro_status cerebro_image_load_file(cerebro_image **out, const char *path,
                                       const cerebro_image_options *opts)
{
    CB_UNUSED(path);
    CB_UNUSED(opts);
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_image_load_file");
}

cerebro_status cerebro_image_load_memory(cerebro_image **out, const void *data, size_t size,
                                         const char *name, const cerebro_image_options *opts)
{
    CB_UNUSED(data);
    CB_UNUSED(size);
    CB_UNUSED(name);
    CB_UNUSED(opts);
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_image_load_memory");
}

cerebro_status cerebro_image_encode_jpeg(const cerebro_image *image, int quality, void **data,
                                         size_t *size)
{
    CB_UNUSED(image);
    CB_UNUSED(quality);
    CB_UNUSED(data);
    CB_UNUSED(size);
    return cb_unsupported("cerebro_image_encode_jpeg");
}
