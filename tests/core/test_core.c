/* Core API: versions, statuses, thread-local errors, options defaults, and
 * the rule that unimplemented entry points fail loudly. Links libcerebro.so
 * like a user would. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"

START_TEST(test_version)
{
    ck_assert_uint_eq(cerebro_version_number(), CEREBRO_VERSION_NUMBER);
    ck_assert_str_eq(cerebro_version_string(), CEREBRO_VERSION_STRING);
    ck_assert_uint_eq(CEREBRO_VERSION_NUMBER, CEREBRO_VERSION_MAJOR * 10000 +
                                                  CEREBRO_VERSION_MINOR * 100 +
                                                  CEREBRO_VERSION_PATCH);
}
END_TEST

START_TEST(test_status_values_fixed)
{
    /* These numbers are ABI: they must never change. */
    ck_assert_int_eq(CEREBRO_OK, 0);
    ck_assert_int_eq(CEREBRO_E_INVALID, -1);
    ck_assert_int_eq(CEREBRO_E_NOMEM, -2);
    ck_assert_int_eq(CEREBRO_E_IO, -3);
    ck_assert_int_eq(CEREBRO_E_FORMAT, -4);
    ck_assert_int_eq(CEREBRO_E_CORRUPT, -5);
    ck_assert_int_eq(CEREBRO_E_LIMIT, -6);
    ck_assert_int_eq(CEREBRO_E_UNSUPPORTED, -7);
    ck_assert_int_eq(CEREBRO_E_MISMATCH, -8);
    ck_assert_int_eq(CEREBRO_E_NOT_FOUND, -9);
    ck_assert_int_eq(CEREBRO_E_CANCELLED, -10);
    ck_assert_int_eq(CEREBRO_E_MODEL, -11);
    ck_assert_int_eq(CEREBRO_E_STORE, -12);
    ck_assert_int_eq(CEREBRO_E_INTERNAL, -13);
}
END_TEST

START_TEST(test_status_strings)
{
    for (int s = 0; s >= CEREBRO_E_INTERNAL; s--) {
        const char *str = cerebro_status_string((cerebro_status)s);
        ck_assert_ptr_nonnull(str);
        ck_assert_msg(strncmp(str, "CEREBRO_", 8) == 0, "status %d -> '%s'", s, str);
    }
    ck_assert_str_eq(cerebro_status_string(CEREBRO_E_LIMIT), "CEREBRO_E_LIMIT: limit exceeded");
    ck_assert_str_eq(cerebro_status_string((cerebro_status)-999), "unknown status");
    ck_assert_str_eq(cerebro_status_string((cerebro_status)5), "unknown status");
}
END_TEST

static void *thread_error(void *arg)
{
    (void)arg;
    /* A fresh thread starts with an empty message, then gets its own. */
    int fresh = strcmp(cerebro_last_error(), "") == 0;
    cerebro_model *m = (cerebro_model *)1;
    cerebro_status st = cerebro_model_open(&m, "/nonexistent/other-thread.pt", NULL);
    int own = strstr(cerebro_last_error(), "other-thread.pt") != NULL;
    return (void *)(intptr_t)(fresh && own && st == CEREBRO_E_NOT_FOUND && m == NULL);
}

START_TEST(test_last_error_thread_local)
{
    pthread_t t;
    void *ok = NULL;
    cerebro_index_options o;

    cerebro_index_options_init(&o);
    cerebro_index *idx = (cerebro_index *)1;
    ck_assert_int_eq(cerebro_index_open(&idx, "/nonexistent", NULL, &o), CEREBRO_E_INVALID);
    ck_assert_ptr_null(idx);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "cerebro_index_open"));
    ck_assert_int_eq(pthread_create(&t, NULL, thread_error, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &ok), 0);
    ck_assert_ptr_eq(ok, (void *)1);
    /* The other thread's error did not overwrite ours. */
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "cerebro_index_open"));
}
END_TEST

START_TEST(test_options_init_matches_macros)
{
    cerebro_image_options a = CEREBRO_IMAGE_OPTIONS_INIT, b;
    memset(&b, 0xab, sizeof b);
    cerebro_image_options_init(&b);
    ck_assert_uint_eq(b.version, CEREBRO_IMAGE_OPTIONS_VERSION);
    ck_assert_uint_eq(b.size, 224);
    ck_assert_float_eq(b.mean[0], 0.48145466f);
    ck_assert_float_eq(b.std[2], 0.27577711f);
    ck_assert_uint_eq(b.mode, CEREBRO_PREPROCESS_EXACT);
    ck_assert_uint_eq(b.background[0], 255);
    ck_assert_uint_eq(b.max_pixels, 100000000u);
    ck_assert_uint_eq(b.max_file_bytes, 268435456u);
    ck_assert_uint_eq(a.size, b.size);
    ck_assert_uint_eq(a.max_pixels, b.max_pixels);

    cerebro_model_options m;
    memset(&m, 0xab, sizeof m);
    cerebro_model_options_init(&m);
    ck_assert_uint_eq(m.version, CEREBRO_MODEL_OPTIONS_VERSION);
    ck_assert_uint_eq(m.n_threads, 0);
    ck_assert_uint_eq(m.precision, CEREBRO_PRECISION_AUTO);
    ck_assert_ptr_null(m.vocab_path);

    cerebro_search_options s;
    cerebro_search_options_init(&s);
    ck_assert_uint_eq(s.k, 10);
    ck_assert_ptr_null(s.prefix);

    cerebro_add_options ad;
    memset(&ad, 0xab, sizeof ad);
    cerebro_add_options_init(&ad);
    ck_assert_uint_eq(ad.version, CEREBRO_ADD_OPTIONS_VERSION);
    ck_assert_uint_eq(ad.mode, CEREBRO_PREPROCESS_FAST);
    ck_assert_ptr_null(ad.progress);

    cerebro_encode_options e;
    cerebro_encode_options_init(&e);
    ck_assert_uint_eq(e.mode, CEREBRO_PREPROCESS_FAST);
    ck_assert_ptr_null(e.on_error);

    /* NULL is tolerated. */
    cerebro_image_options_init(NULL);
    cerebro_search_options_init(NULL);
}
END_TEST

START_TEST(test_free_null_is_noop)
{
    cerebro_model_free(NULL);
    cerebro_index_free(NULL);
    cerebro_image_free(NULL);
    cerebro_results_free(NULL);
    cerebro_tokenizer_free(NULL);
    cerebro_free(NULL);
    ck_assert_uint_eq(cerebro_model_dim(NULL), 0);
    ck_assert_uint_eq(cerebro_image_width(NULL), 0);
    ck_assert_uint_eq(cerebro_results_count(NULL), 0);
}
END_TEST

START_TEST(test_null_arguments_refused)
{
    /* NULL handles are refused with E_INVALID and a message naming the
     * call, never a crash or a silent success. */
    cerebro_results *r = (cerebro_results *)1;
    float v[4] = {0};
    ck_assert_int_eq(cerebro_index_search_vector(NULL, v, NULL, &r), CEREBRO_E_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "cerebro_index_search_vector"));
    ck_assert_int_eq(cerebro_index_remove_id(NULL, 1), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_model_encode_text(NULL, NULL, 0, v), CEREBRO_E_INVALID);
    cerebro_index_stats st;
    ck_assert_int_eq(cerebro_index_stats_get(NULL, &st), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_index_add(NULL, NULL, 0, NULL, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_image_preprocess_file(NULL, NULL, v), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_tokenizer_open(NULL, "x"), CEREBRO_E_INVALID);
}
END_TEST

START_TEST(test_image_from_rgb)
{
    uint8_t rgb[2 * 8] = {1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0};
    cerebro_image *img = NULL;
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 2, 2, 8, NULL), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_image_width(img), 2);
    ck_assert_uint_eq(cerebro_image_height(img), 2);
    const uint8_t want[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ck_assert_mem_eq(cerebro_image_pixels(img), want, 12);
    cerebro_image_free(img);

    img = (cerebro_image *)1;
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 3, 2, 8, NULL), CEREBRO_E_INVALID);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 0, 2, 8, NULL), CEREBRO_E_CORRUPT);

    cerebro_image_options o;
    cerebro_image_options_init(&o);
    o.max_pixels = 3;
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 2, 2, 8, &o), CEREBRO_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "limit of 3"));
    o.max_pixels = 100;
    o.version = 99;
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 2, 2, 8, &o), CEREBRO_E_INVALID);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "version 99"));
    o.version = CEREBRO_IMAGE_OPTIONS_VERSION;
    o.std[1] = 0.0f;
    ck_assert_int_eq(cerebro_image_from_rgb(&img, rgb, 2, 2, 8, &o), CEREBRO_E_INVALID);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_status_values_fixed);
    tcase_add_test(tc, test_status_strings);
    tcase_add_test(tc, test_last_error_thread_local);
    tcase_add_test(tc, test_options_init_matches_macros);
    tcase_add_test(tc, test_free_null_is_noop);
    tcase_add_test(tc, test_null_arguments_refused);
    tcase_add_test(tc, test_image_from_rgb);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
