/* The bundle config reader without libtorch: each float field is checked
 * after its conversion to float, and a rejected value names its field. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "model/config.h"

/* A valid config with image.mean and image.std given as JSON text. */
static cerebro_status parse(const char *mean, const char *std, cb_model_config *c)
{
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"format\": \"cerebro-bundle\", \"format_version\": 1, \"name\": \"t\","
                     " \"embed_dim\": 64, \"image\": {\"size\": 32, \"mean\": %s, \"std\": %s,"
                     " \"resize\": \"shortest_bicubic\", \"crop\": \"center\"},"
                     " \"text\": {\"context_length\": 77, \"tokenizer\": \"clip_bpe\","
                     " \"merges_file\": \"cerebro/merges.txt\", \"vocab_size\": 49408,"
                     " \"sot_id\": 49406, \"eot_id\": 49407, \"pad_id\": 0,"
                     " \"variable_length\": true}}",
                     mean, std);
    ck_assert_int_lt(n, (int)sizeof json);
    return cb_model_config_parse(json, (size_t)n, c);
}

static void expect_rejected(const char *mean, const char *std, const char *field)
{
    cb_model_config c;
    cerebro_status st = parse(mean, std, &c);
    ck_assert_msg(st == CEREBRO_E_FORMAT, "mean %s std %s: status %d, want E_FORMAT", mean, std,
                  (int)st);
    ck_assert_msg(strstr(cerebro_last_error(), field) != NULL, "message lacks '%s': %s", field,
                  cerebro_last_error());
}

START_TEST(test_valid)
{
    cb_model_config c;
    ck_assert_msg(parse("[0.5, 0, -1]", "[0.25, 0.001, 1000]", &c) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    ck_assert_float_eq(c.mean[0], 0.5f);
    ck_assert_float_eq(c.mean[2], -1.0f);
    ck_assert_float_eq(c.std[1], 0.001f);
    ck_assert_float_eq(c.std[2], 1000.0f);
    for (int i = 0; i < 3; i++)
        ck_assert(isfinite(1.0f / c.std[i]));
}
END_TEST

START_TEST(test_std_underflows_to_zero)
{
    /* > 0 as a double, 0.0f (or a subnormal) as a float: fuzz_config's crash. */
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, 2.6e-92, 0.27]", "image.std[1]");
    expect_rejected("[0.5, 0.5, 0.5]", "[1e-46, 0.26, 0.27]", "image.std[0]");
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e-40]", "image.std[2]");
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e-4]", "image.std[2]");
}
END_TEST

START_TEST(test_overflows_to_inf)
{
    /* Finite doubles that are inf as floats, and JSON that strtod reads as inf. */
    expect_rejected("[0.5, 0.5, 0.5]", "[1e39, 0.26, 0.27]", "image.std[0]");
    expect_rejected("[0.5, -1e39, 0.5]", "[0.26, 0.26, 0.27]", "image.mean[1]");
    expect_rejected("[0.5, 0.5, 1e99999]", "[0.26, 0.26, 0.27]", "image.mean[2]");
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e99999]", "image.std[2]");
}
END_TEST

START_TEST(test_out_of_range)
{
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, -0.26, 0.27]", "image.std[1]");
    expect_rejected("[0.5, 0.5, 0.5]", "[0.26, 0.26, 1001]", "image.std[2]");
    expect_rejected("[0.5, 2.5, 0.5]", "[0.26, 0.26, 0.27]", "image.mean[1]");
    expect_rejected("[1e30, 0.5, 0.5]", "[0.26, 0.26, 0.27]", "image.mean[0]");
    expect_rejected("[0.5, 0.5, \"x\"]", "[0.26, 0.26, 0.27]", "image.mean[2]");
    expect_rejected("[0.5, 0.5]", "[0.26, 0.26, 0.27]", "image.mean");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_std_underflows_to_zero);
    tcase_add_test(tc, test_overflows_to_inf);
    tcase_add_test(tc, test_out_of_range);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
