/* Prints, as JSON, what the bindings must mirror from cerebro.h: the size
 * and field offsets of every struct, and the values of flags, enums and
 * limits. The Python and Node tests compare their declarations with it, so
 * a field added to the header without the bindings fails a test. */
#include <stddef.h>
#include <stdio.h>

#include <cerebro/cerebro.h>

static int first_field;

static void field(const char *name, size_t offset)
{
    printf("%s\"%s\": %zu", first_field ? "" : ", ", name, offset);
    first_field = 0;
}

#define BEGIN(type)                                                           \
    printf("%s\"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ",\n  ", #type, \
           sizeof(type));                                                     \
    first_struct = 0;                                                         \
    first_field = 1
#define FIELD(type, member) field(#member, offsetof(type, member))
#define END() printf("}}")

static void constant(const char *name, long long value, int last)
{
    printf("    \"%s\": %lld%s\n", name, value, last ? "" : ",");
}

int main(void)
{
    int first_struct = 1;

    printf("{\"structs\": {\n  ");
    BEGIN(cerebro_image_options);
    FIELD(cerebro_image_options, version); FIELD(cerebro_image_options, size);
    FIELD(cerebro_image_options, mean); FIELD(cerebro_image_options, std);
    FIELD(cerebro_image_options, mode); FIELD(cerebro_image_options, resize);
    FIELD(cerebro_image_options, flags); FIELD(cerebro_image_options, background);
    FIELD(cerebro_image_options, max_pixels); FIELD(cerebro_image_options, max_file_bytes);
    END();
    BEGIN(cerebro_model_options);
    FIELD(cerebro_model_options, version); FIELD(cerebro_model_options, n_threads);
    FIELD(cerebro_model_options, precision); FIELD(cerebro_model_options, reserved);
    FIELD(cerebro_model_options, vocab_path);
    END();
    BEGIN(cerebro_encode_options);
    FIELD(cerebro_encode_options, version); FIELD(cerebro_encode_options, mode);
    FIELD(cerebro_encode_options, batch_size); FIELD(cerebro_encode_options, n_workers);
    FIELD(cerebro_encode_options, on_error); FIELD(cerebro_encode_options, user);
    FIELD(cerebro_encode_options, sizes); FIELD(cerebro_encode_options, hashes);
    END();
    BEGIN(cerebro_index_options);
    FIELD(cerebro_index_options, version); FIELD(cerebro_index_options, flags);
    FIELD(cerebro_index_options, factory); FIELD(cerebro_index_options, memory_budget);
    FIELD(cerebro_index_options, recall_target);
    END();
    BEGIN(cerebro_progress);
    FIELD(cerebro_progress, version); FIELD(cerebro_progress, partial);
    FIELD(cerebro_progress, done); FIELD(cerebro_progress, total);
    FIELD(cerebro_progress, added); FIELD(cerebro_progress, skipped);
    FIELD(cerebro_progress, failed); FIELD(cerebro_progress, path);
    FIELD(cerebro_progress, status); FIELD(cerebro_progress, message);
    END();
    BEGIN(cerebro_add_options);
    FIELD(cerebro_add_options, version); FIELD(cerebro_add_options, flags);
    FIELD(cerebro_add_options, mode); FIELD(cerebro_add_options, batch_size);
    FIELD(cerebro_add_options, commit_every); FIELD(cerebro_add_options, n_workers);
    FIELD(cerebro_add_options, progress); FIELD(cerebro_add_options, user);
    FIELD(cerebro_add_options, frame_interval); FIELD(cerebro_add_options, max_frames);
    FIELD(cerebro_add_options, scene_threshold); FIELD(cerebro_add_options, dedup_threshold);
    FIELD(cerebro_add_options, file_time_limit); FIELD(cerebro_add_options, exclude);
    FIELD(cerebro_add_options, n_exclude);
    END();
    BEGIN(cerebro_add_stats);
    FIELD(cerebro_add_stats, version); FIELD(cerebro_add_stats, reserved);
    FIELD(cerebro_add_stats, added); FIELD(cerebro_add_stats, updated);
    FIELD(cerebro_add_stats, skipped); FIELD(cerebro_add_stats, removed);
    FIELD(cerebro_add_stats, failed); FIELD(cerebro_add_stats, frames);
    END();
    BEGIN(cerebro_search_options);
    FIELD(cerebro_search_options, version); FIELD(cerebro_search_options, k);
    FIELD(cerebro_search_options, prefix); FIELD(cerebro_search_options, min_relevance);
    END();
    BEGIN(cerebro_hit);
    FIELD(cerebro_hit, id); FIELD(cerebro_hit, score); FIELD(cerebro_hit, width);
    FIELD(cerebro_hit, height); FIELD(cerebro_hit, kind); FIELD(cerebro_hit, timestamp);
    FIELD(cerebro_hit, path);
    END();
    BEGIN(cerebro_index_stats);
    FIELD(cerebro_index_stats, version); FIELD(cerebro_index_stats, dim);
    FIELD(cerebro_index_stats, count); FIELD(cerebro_index_stats, files);
    FIELD(cerebro_index_stats, failed); FIELD(cerebro_index_stats, memory_bytes);
    FIELD(cerebro_index_stats, recall_at_10); FIELD(cerebro_index_stats, structure);
    FIELD(cerebro_index_stats, model_id);
    END();
    BEGIN(cerebro_embedding);
    FIELD(cerebro_embedding, version); FIELD(cerebro_embedding, kind);
    FIELD(cerebro_embedding, path); FIELD(cerebro_embedding, vector);
    FIELD(cerebro_embedding, size); FIELD(cerebro_embedding, mtime_ns);
    FIELD(cerebro_embedding, hash); FIELD(cerebro_embedding, width);
    FIELD(cerebro_embedding, height); FIELD(cerebro_embedding, timestamp);
    FIELD(cerebro_embedding, status); FIELD(cerebro_embedding, reserved);
    FIELD(cerebro_embedding, error);
    END();
    printf("\n},\n\"constants\": {\n");
    constant("CEREBRO_VERSION_MAJOR", CEREBRO_VERSION_MAJOR, 0);
    constant("CEREBRO_VERSION_MINOR", CEREBRO_VERSION_MINOR, 0);
    constant("CEREBRO_VERSION_PATCH", CEREBRO_VERSION_PATCH, 0);
    constant("CEREBRO_PREPROCESS_EXACT", CEREBRO_PREPROCESS_EXACT, 0);
    constant("CEREBRO_PREPROCESS_FAST", CEREBRO_PREPROCESS_FAST, 0);
    constant("CEREBRO_PRECISION_AUTO", CEREBRO_PRECISION_AUTO, 0);
    constant("CEREBRO_PRECISION_FP32", CEREBRO_PRECISION_FP32, 0);
    constant("CEREBRO_PRECISION_BF16", CEREBRO_PRECISION_BF16, 0);
    constant("CEREBRO_INDEX_CREATE", CEREBRO_INDEX_CREATE, 0);
    constant("CEREBRO_INDEX_READONLY", CEREBRO_INDEX_READONLY, 0);
    constant("CEREBRO_ADD_NO_RECURSE", CEREBRO_ADD_NO_RECURSE, 0);
    constant("CEREBRO_ADD_HIDDEN", CEREBRO_ADD_HIDDEN, 0);
    constant("CEREBRO_ADD_FOLLOW_SYMLINKS", CEREBRO_ADD_FOLLOW_SYMLINKS, 0);
    constant("CEREBRO_ADD_NO_VIDEO", CEREBRO_ADD_NO_VIDEO, 0);
    constant("CEREBRO_MAX_K", CEREBRO_MAX_K, 0);
    constant("CEREBRO_ITEM_IMAGE", CEREBRO_ITEM_IMAGE, 0);
    constant("CEREBRO_ITEM_VIDEO_FRAME", CEREBRO_ITEM_VIDEO_FRAME, 0);
    constant("CEREBRO_OK", CEREBRO_OK, 0);
    constant("CEREBRO_E_INVALID", CEREBRO_E_INVALID, 0);
    constant("CEREBRO_E_NOMEM", CEREBRO_E_NOMEM, 0);
    constant("CEREBRO_E_IO", CEREBRO_E_IO, 0);
    constant("CEREBRO_E_FORMAT", CEREBRO_E_FORMAT, 0);
    constant("CEREBRO_E_CORRUPT", CEREBRO_E_CORRUPT, 0);
    constant("CEREBRO_E_LIMIT", CEREBRO_E_LIMIT, 0);
    constant("CEREBRO_E_UNSUPPORTED", CEREBRO_E_UNSUPPORTED, 0);
    constant("CEREBRO_E_MISMATCH", CEREBRO_E_MISMATCH, 0);
    constant("CEREBRO_E_NOT_FOUND", CEREBRO_E_NOT_FOUND, 0);
    constant("CEREBRO_E_CANCELLED", CEREBRO_E_CANCELLED, 0);
    constant("CEREBRO_E_MODEL", CEREBRO_E_MODEL, 0);
    constant("CEREBRO_E_STORE", CEREBRO_E_STORE, 0);
    constant("CEREBRO_E_INTERNAL", CEREBRO_E_INTERNAL, 1);
    printf("}}\n");
    return 0;
}
