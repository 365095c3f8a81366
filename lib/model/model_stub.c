/* The model runtime is declared in the header but not built yet (see the
 * "Model runtime" issue). Every entry point fails loudly with
 * CEREBRO_E_UNSUPPORTED; queries on the (never created) handle return
 * neutral values. */
#include "core/core.h"

cerebro_status cerebro_model_open(cerebro_model **out, const char *path,
                                  const cerebro_model_options *opts)
{
    (void)path;
    (void)opts;
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_model_open");
}

void cerebro_model_free(cerebro_model *model)
{
    (void)model;
}

uint32_t cerebro_model_dim(const cerebro_model *model)
{
    (void)model;
    return 0;
}

const char *cerebro_model_id(const cerebro_model *model)
{
    (void)model;
    return "";
}

const char *cerebro_model_name(const cerebro_model *model)
{
    (void)model;
    return "";
}

uint32_t cerebro_model_context_length(const cerebro_model *model)
{
    (void)model;
    return 0;
}

const char *cerebro_model_config_json(const cerebro_model *model)
{
    (void)model;
    return "";
}

cerebro_status cerebro_model_image_options(const cerebro_model *model, cerebro_image_options *out)
{
    (void)model;
    (void)out;
    return cb_unsupported("cerebro_model_image_options");
}

const cerebro_tokenizer *cerebro_model_tokenizer(const cerebro_model *model)
{
    (void)model;
    return NULL;
}

cerebro_status cerebro_model_encode_text(const cerebro_model *model, const char *const *texts,
                                         size_t n, float *out)
{
    (void)model;
    (void)texts;
    (void)n;
    (void)out;
    return cb_unsupported("cerebro_model_encode_text");
}

cerebro_status cerebro_model_encode_tokens(const cerebro_model *model, const int32_t *tokens,
                                           size_t n, size_t length, float *out)
{
    (void)model;
    (void)tokens;
    (void)n;
    (void)length;
    (void)out;
    return cb_unsupported("cerebro_model_encode_tokens");
}

cerebro_status cerebro_model_encode_preprocessed(const cerebro_model *model, const float *pixels,
                                                 size_t n, float *out)
{
    (void)model;
    (void)pixels;
    (void)n;
    (void)out;
    return cb_unsupported("cerebro_model_encode_preprocessed");
}

cerebro_status cerebro_model_encode_image_files(const cerebro_model *model,
                                                const char *const *paths, size_t n,
                                                const cerebro_encode_options *opts, float *out,
                                                cerebro_status *statuses)
{
    (void)model;
    (void)paths;
    (void)opts;
    (void)out;
    for (size_t i = 0; statuses && i < n; i++)
        statuses[i] = CEREBRO_E_UNSUPPORTED;
    return cb_unsupported("cerebro_model_encode_image_files");
}

cerebro_status cerebro_model_encode_image_memory(const cerebro_model *model, const void *data,
                                                 size_t size, const cerebro_encode_options *opts,
                                                 float *out)
{
    (void)model;
    (void)data;
    (void)size;
    (void)opts;
    (void)out;
    return cb_unsupported("cerebro_model_encode_image_memory");
}

cerebro_status cerebro_model_encode_image(const cerebro_model *model, const cerebro_image *image,
                                          float *out)
{
    (void)model;
    (void)image;
    (void)out;
    return cb_unsupported("cerebro_model_encode_image");
}
