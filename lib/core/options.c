/* Defaults for every public options struct (one place, matching the
 * *_OPTIONS_INIT macros of the header). */
#include "core.h"

void cerebro_image_options_init(cerebro_image_options *opts)
{
    const cerebro_image_options d = CEREBRO_IMAGE_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

void cerebro_model_options_init(cerebro_model_options *opts)
{
    const cerebro_model_options d = CEREBRO_MODEL_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

void cerebro_encode_options_init(cerebro_encode_options *opts)
{
    const cerebro_encode_options d = CEREBRO_ENCODE_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

void cerebro_index_options_init(cerebro_index_options *opts)
{
    const cerebro_index_options d = CEREBRO_INDEX_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

void cerebro_add_options_init(cerebro_add_options *opts)
{
    const cerebro_add_options d = CEREBRO_ADD_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

void cerebro_search_options_init(cerebro_search_options *opts)
{
    const cerebro_search_options d = CEREBRO_SEARCH_OPTIONS_INIT;
    if (opts)
        *opts = d;
}
