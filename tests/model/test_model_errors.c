/* The model API's refusals, each with the status and the message a caller
 * gets (bad options, NULL arguments, limits, a directory for a model file),
 * and cerebro_model_encode_image() agreeing with the other image paths.
 * Uses the tiny fixture model (tests/model/gen_model_fixtures.py). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "check_status.h"

static char *fixture(const char *name)
{
    static char buf[4][1024];
    static int i;
    const char *dir = getenv("CEREBRO_MODEL_FIXTURES");
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir ? dir : "fixtures", name);
    return b;
}

static cerebro_model *tiny(void)
{
    cerebro_model_options o;
    cerebro_model *m = NULL;
    cerebro_model_options_init(&o);
    o.precision = CEREBRO_PRECISION_FP32;
    ck_assert_msg(cerebro_model_open(&m, fixture("tiny.pt"), &o) == CEREBRO_OK, "%s", cerebro_last_error());
    return m;
}

START_TEST(test_open_option_errors)
{
    cerebro_model_options o;
    cerebro_model *m = (cerebro_model *)&o;

    cerebro_model_options_init(&o);
    o.version = 0;
    ck_assert_fails(cerebro_model_open(&m, fixture("tiny.pt"), &o), CEREBRO_E_INVALID,
                    "model options: unknown version 0");
    ck_assert_ptr_null(m); /* *out = NULL on failure */
    o.version = CEREBRO_MODEL_OPTIONS_VERSION + 1;
    ck_assert_fails(cerebro_model_open(&m, fixture("tiny.pt"), &o), CEREBRO_E_INVALID, "unknown version");
    cerebro_model_options_init(&o);
    o.n_threads = 1025;
    ck_assert_fails(cerebro_model_open(&m, fixture("tiny.pt"), &o), CEREBRO_E_INVALID,
                    "n_threads 1025 is over 1024");
    cerebro_model_options_init(&o);
    o.reserved = 1;
    ck_assert_fails(cerebro_model_open(&m, fixture("tiny.pt"), &o), CEREBRO_E_INVALID,
                    "reserved field must be 0");
    cerebro_model_options_init(&o);
    o.precision = CEREBRO_PRECISION_BF16 + 1;
    ck_assert_fails(cerebro_model_open(&m, fixture("tiny.pt"), &o), CEREBRO_E_INVALID, "unknown precision");
    ck_assert_fails(cerebro_model_open(&m, NULL, NULL), CEREBRO_E_INVALID, "path is NULL");
    ck_assert_ptr_null(m);
    /* A folder where the model file should be. */
    const char *dir = getenv("CEREBRO_MODEL_FIXTURES") ? getenv("CEREBRO_MODEL_FIXTURES") : "fixtures";
    ck_assert_fails(cerebro_model_open(&m, dir, NULL), CEREBRO_E_IO, "not a regular file");
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_encode_argument_errors)
{
    cerebro_model *m = tiny();
    uint32_t dim = cerebro_model_dim(m);
    float *out = malloc(4 * dim * sizeof *out);
    const char *texts[] = {"a dog", NULL};
    const char *bad_utf8[] = {"a dog", "caf\xC3"};
    int32_t tokens[4] = {0};

    ck_assert_uint_gt(dim, 0);
    ck_assert_fails(cerebro_model_encode_text(m, texts, 2, out), CEREBRO_E_INVALID, "texts[1] is NULL");
    ck_assert_fails(cerebro_model_encode_text(NULL, texts, 1, out), CEREBRO_E_INVALID, "NULL argument");
    ck_assert_fails(cerebro_model_encode_text(m, bad_utf8, 2, out), CEREBRO_E_INVALID,
                    "invalid UTF-8 at byte 3");
    ck_assert_int_eq(cerebro_model_encode_text(m, NULL, 0, NULL), CEREBRO_OK); /* nothing to do */
    ck_assert_fails(cerebro_model_encode_tokens(m, NULL, 1, 4, out), CEREBRO_E_INVALID,
                    "cerebro_model_encode_tokens: NULL argument");
    ck_assert_fails(cerebro_model_encode_tokens(NULL, tokens, 1, 4, out), CEREBRO_E_INVALID, "NULL argument");
    ck_assert_fails(cerebro_model_encode_preprocessed(m, NULL, 1, out), CEREBRO_E_INVALID,
                    "cerebro_model_encode_preprocessed: NULL argument");
    ck_assert_fails(cerebro_model_encode_image(m, NULL, out), CEREBRO_E_INVALID,
                    "cerebro_model_encode_image: NULL argument");
    ck_assert_fails(cerebro_model_encode_image_memory(m, NULL, 10, NULL, out), CEREBRO_E_INVALID,
                    "cerebro_model_encode_image_memory: NULL argument");
    ck_assert_fails(cerebro_model_encode_image_files(m, NULL, 1, NULL, out, NULL), CEREBRO_E_INVALID,
                    "cerebro_model_encode_image_files: NULL argument");
    ck_assert_fails(cerebro_model_image_options(m, NULL), CEREBRO_E_INVALID, "NULL argument");
    /* The accessors take NULL. */
    ck_assert_uint_eq(cerebro_model_dim(NULL), 0);
    ck_assert_uint_eq(cerebro_model_context_length(NULL), 0);
    ck_assert_str_eq(cerebro_model_config_json(NULL), "");
    ck_assert_ptr_null(cerebro_model_tokenizer(NULL));
    free(out);
    cerebro_model_free(m);
    cerebro_model_free(NULL);
}
END_TEST

START_TEST(test_encode_option_errors)
{
    cerebro_model *m = tiny();
    uint32_t dim = cerebro_model_dim(m);
    float *out = malloc(dim * sizeof *out);
    const char *paths[] = {fixture("photos/photo0.jpg")};
    static const unsigned char jpeg_start[] = {0xFF, 0xD8, 0xFF};
    cerebro_encode_options o;

    cerebro_encode_options_init(&o);
    o.version = 0;
    ck_assert_fails(cerebro_model_encode_image_files(m, paths, 1, &o, out, NULL), CEREBRO_E_INVALID,
                    "encode options: unknown version 0");
    ck_assert_fails(cerebro_model_encode_image_memory(m, jpeg_start, sizeof jpeg_start, &o, out),
                    CEREBRO_E_INVALID, "encode options: unknown version 0");
    cerebro_encode_options_init(&o);
    o.mode = 99;
    ck_assert_fails(cerebro_model_encode_image_files(m, paths, 1, &o, out, NULL), CEREBRO_E_INVALID,
                    "unknown preprocess mode 99");
    cerebro_encode_options_init(&o);
    o.batch_size = 1025;
    ck_assert_fails(cerebro_model_encode_image_files(m, paths, 1, &o, out, NULL), CEREBRO_E_LIMIT,
                    "batch_size 1025 over 1024");
    /* A damaged buffer names itself. */
    ck_assert_fails(cerebro_model_encode_image_memory(m, jpeg_start, sizeof jpeg_start, NULL, out),
                    CEREBRO_E_CORRUPT, "image buffer");
    free(out);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_encode_image_agrees)
{
    /* A decoded image, a file and the file's bytes: one embedding (exact
     * mode, where the three run the same preprocessing). */
    cerebro_model *m = tiny();
    uint32_t dim = cerebro_model_dim(m);
    float *a = malloc(dim * sizeof *a), *b = malloc(dim * sizeof *b), *c = malloc(dim * sizeof *c);
    const char *paths[] = {fixture("photos/photo1.jpg")};
    cerebro_encode_options o;
    cerebro_image_options io;
    cerebro_image *img = NULL;
    cerebro_status status = CEREBRO_E_INVALID;
    double norm = 0, worst = 0;

    cerebro_encode_options_init(&o);
    o.mode = CEREBRO_PREPROCESS_EXACT;
    ck_assert_int_eq(cerebro_model_encode_image_files(m, paths, 1, &o, a, &status), CEREBRO_OK);
    ck_assert_int_eq(status, CEREBRO_OK);
    ck_assert_int_eq(cerebro_model_image_options(m, &io), CEREBRO_OK);
    io.mode = CEREBRO_PREPROCESS_EXACT;
    ck_assert_int_eq(cerebro_image_load_file(&img, paths[0], &io), CEREBRO_OK);
    ck_assert_int_eq(cerebro_model_encode_image(m, img, b), CEREBRO_OK);
    FILE *f = fopen(paths[0], "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size);
    ck_assert_uint_eq(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    ck_assert_int_eq(cerebro_model_encode_image_memory(m, bytes, (size_t)size, &o, c), CEREBRO_OK);
    for (uint32_t i = 0; i < dim; i++) {
        norm += (double)a[i] * a[i];
        worst = fmax(worst, fmax(fabs(a[i] - b[i]), fabs(a[i] - c[i])));
    }
    ck_assert_double_eq_tol(norm, 1.0, 1e-5); /* L2-normalised */
    ck_assert_msg(worst < 1e-5, "the three paths differ by %g", worst);
    free(bytes);
    cerebro_image_free(img);
    free(a);
    free(b);
    free(c);
    cerebro_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_open_option_errors);
    tcase_add_test(tc, test_encode_argument_errors);
    tcase_add_test(tc, test_encode_option_errors);
    tcase_add_test(tc, test_encode_image_agrees);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
