/* ABI snapshot: sizes and field offsets of every public struct on LP64
 * (x86_64, aarch64). A change here breaks applications and bindings built
 * against an earlier header: options structs may only grow at the end
 * (with a new version), never move a field. If this test fails, the layout
 * change was either a mistake or needs a new SOVERSION and a CHANGELOG
 * ABI entry, and this snapshot updated with it. */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>

#include "cerebro/cerebro.h"

#define ABI_SIZE(T, n) ck_assert_msg(sizeof(T) == (n), #T ": size %zu, snapshot %d", sizeof(T), (int)(n))
#define ABI_OFFSET(T, f, n) \
    ck_assert_msg(offsetof(T, f) == (n), #T "." #f ": offset %zu, snapshot %d", offsetof(T, f), (int)(n))

START_TEST(test_layout_snapshot)
{
    if (sizeof(void *) != 8)
        ck_abort_msg("the snapshot is for LP64 targets; add one for this ABI");
    ABI_SIZE(cerebro_image_options, 64);
    ABI_OFFSET(cerebro_image_options, version, 0);
    ABI_OFFSET(cerebro_image_options, size, 4);
    ABI_OFFSET(cerebro_image_options, mean, 8);
    ABI_OFFSET(cerebro_image_options, std, 20);
    ABI_OFFSET(cerebro_image_options, mode, 32);
    ABI_OFFSET(cerebro_image_options, resize, 36);
    ABI_OFFSET(cerebro_image_options, flags, 40);
    ABI_OFFSET(cerebro_image_options, background, 44);
    ABI_OFFSET(cerebro_image_options, max_pixels, 48);
    ABI_OFFSET(cerebro_image_options, max_file_bytes, 56);
    ABI_SIZE(cerebro_model_options, 24);
    ABI_OFFSET(cerebro_model_options, version, 0);
    ABI_OFFSET(cerebro_model_options, n_threads, 4);
    ABI_OFFSET(cerebro_model_options, precision, 8);
    ABI_OFFSET(cerebro_model_options, reserved, 12);
    ABI_OFFSET(cerebro_model_options, vocab_path, 16);
    ABI_SIZE(cerebro_encode_options, 48);
    ABI_OFFSET(cerebro_encode_options, version, 0);
    ABI_OFFSET(cerebro_encode_options, mode, 4);
    ABI_OFFSET(cerebro_encode_options, batch_size, 8);
    ABI_OFFSET(cerebro_encode_options, n_workers, 12);
    ABI_OFFSET(cerebro_encode_options, on_error, 16);
    ABI_OFFSET(cerebro_encode_options, user, 24);
    ABI_OFFSET(cerebro_encode_options, sizes, 32);
    ABI_OFFSET(cerebro_encode_options, hashes, 40);
    ABI_SIZE(cerebro_index_options, 32);
    ABI_OFFSET(cerebro_index_options, version, 0);
    ABI_OFFSET(cerebro_index_options, flags, 4);
    ABI_OFFSET(cerebro_index_options, factory, 8);
    ABI_OFFSET(cerebro_index_options, memory_budget, 16);
    ABI_OFFSET(cerebro_index_options, recall_target, 24);
    ABI_SIZE(cerebro_progress, 72);
    ABI_OFFSET(cerebro_progress, version, 0);
    ABI_OFFSET(cerebro_progress, partial, 4);
    ABI_OFFSET(cerebro_progress, done, 8);
    ABI_OFFSET(cerebro_progress, total, 16);
    ABI_OFFSET(cerebro_progress, added, 24);
    ABI_OFFSET(cerebro_progress, skipped, 32);
    ABI_OFFSET(cerebro_progress, failed, 40);
    ABI_OFFSET(cerebro_progress, path, 48);
    ABI_OFFSET(cerebro_progress, status, 56);
    ABI_OFFSET(cerebro_progress, message, 64);
    ABI_SIZE(cerebro_add_options, 88); /* version 2: exclude, n_exclude appended */
    ABI_OFFSET(cerebro_add_options, version, 0);
    ABI_OFFSET(cerebro_add_options, flags, 4);
    ABI_OFFSET(cerebro_add_options, mode, 8);
    ABI_OFFSET(cerebro_add_options, batch_size, 12);
    ABI_OFFSET(cerebro_add_options, commit_every, 16);
    ABI_OFFSET(cerebro_add_options, n_workers, 20);
    ABI_OFFSET(cerebro_add_options, progress, 24);
    ABI_OFFSET(cerebro_add_options, user, 32);
    ABI_OFFSET(cerebro_add_options, frame_interval, 40);
    ABI_OFFSET(cerebro_add_options, max_frames, 48);
    ABI_OFFSET(cerebro_add_options, scene_threshold, 52);
    ABI_OFFSET(cerebro_add_options, dedup_threshold, 56);
    ABI_OFFSET(cerebro_add_options, file_time_limit, 64);
    ABI_OFFSET(cerebro_add_options, exclude, 72);
    ABI_OFFSET(cerebro_add_options, n_exclude, 80);
    ABI_SIZE(cerebro_add_stats, 56);
    ABI_OFFSET(cerebro_add_stats, version, 0);
    ABI_OFFSET(cerebro_add_stats, added, 8);
    ABI_OFFSET(cerebro_add_stats, updated, 16);
    ABI_OFFSET(cerebro_add_stats, skipped, 24);
    ABI_OFFSET(cerebro_add_stats, removed, 32);
    ABI_OFFSET(cerebro_add_stats, failed, 40);
    ABI_OFFSET(cerebro_add_stats, frames, 48);
    ABI_SIZE(cerebro_search_options, 24);
    ABI_OFFSET(cerebro_search_options, version, 0);
    ABI_OFFSET(cerebro_search_options, k, 4);
    ABI_OFFSET(cerebro_search_options, prefix, 8);
    ABI_OFFSET(cerebro_search_options, min_relevance, 16);
    ABI_SIZE(cerebro_hit, 40);
    ABI_OFFSET(cerebro_hit, id, 0);
    ABI_OFFSET(cerebro_hit, score, 8);
    ABI_OFFSET(cerebro_hit, width, 12);
    ABI_OFFSET(cerebro_hit, height, 16);
    ABI_OFFSET(cerebro_hit, kind, 20);
    ABI_OFFSET(cerebro_hit, timestamp, 24);
    ABI_OFFSET(cerebro_hit, path, 32);
    ABI_SIZE(cerebro_index_stats, 184);
    ABI_OFFSET(cerebro_index_stats, version, 0);
    ABI_OFFSET(cerebro_index_stats, dim, 4);
    ABI_OFFSET(cerebro_index_stats, count, 8);
    ABI_OFFSET(cerebro_index_stats, files, 16);
    ABI_OFFSET(cerebro_index_stats, failed, 24);
    ABI_OFFSET(cerebro_index_stats, memory_bytes, 32);
    ABI_OFFSET(cerebro_index_stats, recall_at_10, 40);
    ABI_OFFSET(cerebro_index_stats, structure, 48);
    ABI_OFFSET(cerebro_index_stats, model_id, 112);
    ABI_SIZE(cerebro_embedding, 104);
    ABI_OFFSET(cerebro_embedding, version, 0);
    ABI_OFFSET(cerebro_embedding, kind, 4);
    ABI_OFFSET(cerebro_embedding, path, 8);
    ABI_OFFSET(cerebro_embedding, vector, 16);
    ABI_OFFSET(cerebro_embedding, size, 24);
    ABI_OFFSET(cerebro_embedding, mtime_ns, 32);
    ABI_OFFSET(cerebro_embedding, hash, 40);
    ABI_OFFSET(cerebro_embedding, width, 72);
    ABI_OFFSET(cerebro_embedding, height, 76);
    ABI_OFFSET(cerebro_embedding, timestamp, 80);
    ABI_OFFSET(cerebro_embedding, status, 88);
    ABI_OFFSET(cerebro_embedding, reserved, 92);
    ABI_OFFSET(cerebro_embedding, error, 96);
    /* Enum values written into uint32_t option fields stay fixed too. */
    ck_assert_int_eq(CEREBRO_PREPROCESS_EXACT, 0);
    ck_assert_int_eq(CEREBRO_PREPROCESS_FAST, 1);
    ck_assert_int_eq(CEREBRO_PRECISION_AUTO, 0);
    ck_assert_int_eq(CEREBRO_PRECISION_FP32, 1);
    ck_assert_int_eq(CEREBRO_PRECISION_BF16, 2);
    ck_assert_int_eq(sizeof(cerebro_status), 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("abi");
    tcase_add_test(tc, test_layout_snapshot);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
