/* Placeholder until the resampler and preprocessor land (resample.c, preprocess.c). */
#include "core/core.h"
#include "image/image.h"

cerebro_status cerebro_image_resize(cerebro_image **out, const cerebro_image *image,
                                    uint32_t width, uint32_t height)
{
    CB_UNUSED(image);
    CB_UNUSED(width);
    CB_UNUSED(height);
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_image_resize");
}

cerebro_status cerebro_image_preprocess_file(const char *path, const cerebro_image_options *opts,
                                             float *out)
{
    CB_UNUSED(path);
    CB_UNUSED(opts);
    CB_UNUSED(out);
    return cb_unsupported("cerebro_image_preprocess_file");
}

cerebro_status cerebro_image_preprocess_memory(const void *data, size_t size, const char *name,
                                               const cerebro_image_options *opts, float *out)
{
    CB_UNUSED(data);
    CB_UNUSED(size);
    CB_UNUSED(name);
    CB_UNUSED(opts);
    CB_UNUSED(out);
    return cb_unsupported("cerebro_image_preprocess_memory");
}

cerebro_status cerebro_image_preprocess(const cerebro_image *image,
                                        const cerebro_image_options *opts, float *out)
{
    CB_UNUSED(image);
    CB_UNUSED(opts);
    CB_UNUSED(out);
    return cb_unsupported("cerebro_image_preprocess");
}
