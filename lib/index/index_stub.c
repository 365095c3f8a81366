/* The store and k-NN search are declared in the header but not built yet
 * (see the "Searchable store" issue). Every entry point fails loudly with
 * CEREBRO_E_UNSUPPORTED. */
#include "core/core.h"



cerebro_status cerebro_index_open(cerebro_index **out, const char *dir, const cerebro_model *model,
                                  const cerebro_index_options *opts)
{
    CB_UNUSED(dir);
    CB_UNUSED(model);
    CB_UNUSED(opts);
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_index_open");
}

void cerebro_index_free(cerebro_index *index)
{
    CB_UNUSED(index);
}

cerebro_status cerebro_index_add(cerebro_index *index, const char *const *paths, size_t n,
                                 const cerebro_add_options *opts, cerebro_add_stats *stats)
{
    CB_UNUSED(index);
    CB_UNUSED(paths);
    CB_UNUSED(n);
    CB_UNUSED(opts);
    CB_UNUSED(stats);
    return cb_unsupported("cerebro_index_add");
}

cerebro_status cerebro_index_remove_path(cerebro_index *index, const char *path)
{
    CB_UNUSED(index);
    CB_UNUSED(path);
    return cb_unsupported("cerebro_index_remove_path");
}

cerebro_status cerebro_index_remove_id(cerebro_index *index, int64_t id)
{
    CB_UNUSED(index);
    CB_UNUSED(id);
    return cb_unsupported("cerebro_index_remove_id");
}

/* All search entry points share one refusal. */
static cerebro_status search_unsupported(const char *fn, cerebro_results **out)
{
    if (out)
        *out = NULL;
    return cb_unsupported(fn);
}

cerebro_status cerebro_index_search_text(cerebro_index *index, const char *text,
                                         const cerebro_search_options *opts, cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(text);
    CB_UNUSED(opts);
    return search_unsupported("cerebro_index_search_text", out);
}

cerebro_status cerebro_index_search_image_file(cerebro_index *index, const char *path,
                                               const cerebro_search_options *opts,
                                               cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(path);
    CB_UNUSED(opts);
    return search_unsupported("cerebro_index_search_image_file", out);
}

cerebro_status cerebro_index_search_image_memory(cerebro_index *index, const void *data,
                                                 size_t size, const cerebro_search_options *opts,
                                                 cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(data);
    CB_UNUSED(size);
    CB_UNUSED(opts);
    return search_unsupported("cerebro_index_search_image_memory", out);
}

cerebro_status cerebro_index_search_vector(cerebro_index *index, const float *vector,
                                           const cerebro_search_options *opts,
                                           cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(vector);
    CB_UNUSED(opts);
    return search_unsupported("cerebro_index_search_vector", out);
}

cerebro_status cerebro_index_search_id(cerebro_index *index, int64_t id,
                                       const cerebro_search_options *opts, cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(id);
    CB_UNUSED(opts);
    return search_unsupported("cerebro_index_search_id", out);
}

cerebro_status cerebro_index_get(cerebro_index *index, int64_t id, cerebro_results **out)
{
    CB_UNUSED(index);
    CB_UNUSED(id);
    return search_unsupported("cerebro_index_get", out);
}

cerebro_status cerebro_index_get_vector(cerebro_index *index, int64_t id, float *out)
{
    CB_UNUSED(index);
    CB_UNUSED(id);
    CB_UNUSED(out);
    return cb_unsupported("cerebro_index_get_vector");
}

size_t cerebro_results_count(const cerebro_results *results)
{
    CB_UNUSED(results);
    return 0;
}

cerebro_status cerebro_results_get(const cerebro_results *results, size_t i, cerebro_hit *hit)
{
    CB_UNUSED(results);
    CB_UNUSED(i);
    CB_UNUSED(hit);
    return cb_unsupported("cerebro_results_get");
}

void cerebro_results_free(cerebro_results *results)
{
    CB_UNUSED(results);
}

cerebro_status cerebro_index_stats_get(cerebro_index *index, cerebro_index_stats *out)
{
    CB_UNUSED(index);
    CB_UNUSED(out);
    return cb_unsupported("cerebro_index_stats_get");
}
