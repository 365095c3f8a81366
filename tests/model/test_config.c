/* The bundle config reader without libtorch: each float field is checked
 * after its conversion to float, and a rejected value names its field. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "model/config.h"

/* A valid config with image.mean, image.std and image.background given as
 * JSON text. */
static cerebro_status parse(const char *mean, const char *std, const char *bg, cb_model_config *c)
{
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"format\": \"cerebro-bundle\", \"format_version\": 1, \"name\": \"t\","
                     " \"embed_dim\": 64, \"image\": {\"size\": 32, \"mean\": %s, \"std\": %s,"
                     " \"background\": %s,"
                     " \"resize\": \"shortest_bicubic\", \"crop\": \"center\"},"
                     " \"text\": {\"context_length\": 77, \"tokenizer\": \"clip_bpe\","
                     " \"merges_file\": \"cerebro/merges.txt\", \"vocab_size\": 49408,"
                     " \"sot_id\": 49406, \"eot_id\": 49407, \"pad_id\": 0,"
                     " \"variable_length\": true}}",
                     mean, std, bg);
    ck_assert_int_lt(n, (int)sizeof json);
    return cb_model_config_parse(json, (size_t)n, c);
}

static void expect_rejected(const char *mean, const char *std, const char *bg, const char *field)
{
    cb_model_config c;
    cerebro_status st = parse(mean, std, bg, &c);
    ck_assert_msg(st == CEREBRO_E_FORMAT, "mean %s std %s background %s: status %d, want E_FORMAT",
                  mean, std, bg, (int)st);
    ck_assert_msg(strstr(cerebro_last_error(), field) != NULL, "message lacks '%s': %s", field,
                  cerebro_last_error());
}

START_TEST(test_valid)
{
    cb_model_config c;
    ck_assert_msg(parse("[0.5, 0, -1]", "[0.25, 0.001, 1000]", "[0, 128, 255]", &c) == CEREBRO_OK,
                  "%s", cerebro_last_error());
    ck_assert_float_eq(c.mean[0], 0.5f);
    ck_assert_float_eq(c.mean[2], -1.0f);
    ck_assert_float_eq(c.std[1], 0.001f);
    ck_assert_float_eq(c.std[2], 1000.0f);
    for (int i = 0; i < 3; i++)
        ck_assert(isfinite(1.0f / c.std[i]));
    ck_assert_uint_eq(c.background[1], 128);
    ck_assert_uint_eq(c.background[2], 255);
}
END_TEST

#define BG "[255, 255, 255]"

/* Each row: image.mean, image.std, image.background, the field the error
 * must name. */
static const struct {
    const char *mean, *std, *bg, *field;
} rejected[] = {
    /* > 0 as a double, 0.0f or subnormal as a float: fuzz_config's crash. */
    {"[0.5, 0.5, 0.5]", "[0.26, 2.6e-92, 0.27]", BG, "image.std[1]"},
    {"[0.5, 0.5, 0.5]", "[1e-46, 0.26, 0.27]", BG, "image.std[0]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e-40]", BG, "image.std[2]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e-4]", BG, "image.std[2]"},
    /* Finite doubles that are inf as floats, and JSON strtod reads as inf. */
    {"[0.5, 0.5, 0.5]", "[1e39, 0.26, 0.27]", BG, "image.std[0]"},
    {"[0.5, -1e39, 0.5]", "[0.26, 0.26, 0.27]", BG, "image.mean[1]"},
    {"[0.5, 0.5, 1e99999]", "[0.26, 0.26, 0.27]", BG, "image.mean[2]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 1e99999]", BG, "image.std[2]"},
    /* Out of the documented ranges, or not numbers. */
    {"[0.5, 0.5, 0.5]", "[0.26, -0.26, 0.27]", BG, "image.std[1]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 1001]", BG, "image.std[2]"},
    {"[0.5, 2.5, 0.5]", "[0.26, 0.26, 0.27]", BG, "image.mean[1]"},
    {"[1e30, 0.5, 0.5]", "[0.26, 0.26, 0.27]", BG, "image.mean[0]"},
    {"[0.5, 0.5, \"x\"]", "[0.26, 0.26, 0.27]", BG, "image.mean[2]"},
    {"[0.5, 0.5]", "[0.26, 0.26, 0.27]", BG, "image.mean"},
    /* background: integers 0..255, judged before the conversion to float
     * (254.99999999 would become 255.0f). */
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 0.27]", "[255, 254.99999999, 0]", "image.background[1]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 0.27]", "[255, 255, 256]", "image.background[2]"},
    {"[0.5, 0.5, 0.5]", "[0.26, 0.26, 0.27]", "[-1, 255, 255]", "image.background[0]"},
};

START_TEST(test_rejected)
{
    expect_rejected(rejected[_i].mean, rejected[_i].std, rejected[_i].bg, rejected[_i].field);
}
END_TEST

/* ---- SentencePiece and squash (SigLIP's bundles) -------------------------- */

#define SIGLIP_IMAGE "{\"size\": 224, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5]," \
                     " \"resize\": \"squash_bicubic\", \"crop\": \"none\"}"
#define SIGLIP_TEXT "\"context_length\": 64, \"tokenizer\": \"sentencepiece\"," \
                    " \"spm_file\": \"cerebro/spm.model\", \"vocab_size\": 32000, \"pad_id\": 1," \
                    " \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": true, \"canonicalize\": true," \
                    " \"variable_length\": false, \"pooling\": \"last\""

static cerebro_status parse_sections(const char *image, const char *text, cb_model_config *c)
{
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"format\": \"cerebro-bundle\", \"format_version\": 1, \"name\": \"s\","
                     " \"embed_dim\": 768, \"image\": %s, \"text\": {%s}}", image, text);
    ck_assert_int_lt(n, (int)sizeof json);
    return cb_model_config_parse(json, (size_t)n, c);
}

START_TEST(test_siglip_valid)
{
    cb_model_config c;
    ck_assert_msg(parse_sections(SIGLIP_IMAGE, SIGLIP_TEXT, &c) == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_uint_eq(c.resize, CEREBRO_RESIZE_SQUASH);
    ck_assert_int_eq(c.tokenizer, CB_TOKENIZER_SENTENCEPIECE);
    ck_assert_str_eq(c.spm_file, "cerebro/spm.model");
    ck_assert_int_eq(c.sot_id, -1);
    ck_assert_int_eq(c.eot_id, 1);
    ck_assert_int_eq(c.pad_id, 1);
    ck_assert_int_eq(c.lowercase, 1);
    ck_assert_int_eq(c.canonicalize, 1);
    ck_assert_int_eq(c.pooling, CB_POOLING_LAST);
    /* canonicalize and pooling are optional. */
    ck_assert_int_eq(parse_sections(SIGLIP_IMAGE,
                                    "\"context_length\": 64, \"tokenizer\": \"sentencepiece\","
                                    " \"spm_file\": \"a.model\", \"vocab_size\": 250000, \"pad_id\": 0,"
                                    " \"eot_id\": 2, \"sot_id\": 0, \"lowercase\": false,"
                                    " \"variable_length\": false", &c), CEREBRO_OK);
    ck_assert_int_eq(c.canonicalize, 0);
    ck_assert_int_eq(c.pooling, CB_POOLING_EOT_ARGMAX);
    ck_assert_int_eq(c.sot_id, 0);
}
END_TEST

/* Each row: the image section, the text section, what the error names. */
static const struct {
    const char *image, *text, *field;
} siglip_rejected[] = {
    {"{\"size\": 224, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"resize\": \"squash_bicubic\","
     " \"crop\": \"center\"}", SIGLIP_TEXT, "image.crop"},
    {"{\"size\": 224, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"resize\": \"shortest_bicubic\","
     " \"crop\": \"none\"}", SIGLIP_TEXT, "image.crop"},
    {"{\"size\": 224, \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"resize\": \"squash\","
     " \"crop\": \"none\"}", SIGLIP_TEXT, "image.resize"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"wordpiece\"", "text.tokenizer"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"vocab_size\": 32000",
     "text.spm_file"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -2, \"lowercase\": true,"
     " \"variable_length\": false", "text.sot_id"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 32000, \"sot_id\": -1, \"lowercase\": true,"
     " \"variable_length\": false", "text.eot_id"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": -1, \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": true,"
     " \"variable_length\": false", "text.pad_id"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -1,"
     " \"variable_length\": false", "text.lowercase"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": \"yes\","
     " \"variable_length\": false", "text.lowercase"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": true,"
     " \"canonicalize\": 1, \"variable_length\": false", "text.canonicalize"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": true,"
     " \"variable_length\": true, \"pooling\": \"last\"", "text.pooling"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 1, \"sot_id\": -1, \"lowercase\": true,"
     " \"variable_length\": false, \"pooling\": \"mean\"", "text.pooling"},
    {SIGLIP_IMAGE, "\"context_length\": 64, \"tokenizer\": \"sentencepiece\", \"spm_file\": \"x\","
     " \"vocab_size\": 32000, \"pad_id\": 1, \"eot_id\": 5, \"sot_id\": 5, \"lowercase\": true,"
     " \"variable_length\": false", "sot_id and text.eot_id"},
    /* CLIP BPE keeps its rules: no -1 start token. */
    {SIGLIP_IMAGE, "\"context_length\": 77, \"tokenizer\": \"clip_bpe\", \"merges_file\": \"m\","
     " \"vocab_size\": 49408, \"sot_id\": -1, \"eot_id\": 49407, \"pad_id\": 0,"
     " \"variable_length\": true", "text.sot_id"},
};

START_TEST(test_siglip_rejected)
{
    cb_model_config c;
    cerebro_status st = parse_sections(siglip_rejected[_i].image, siglip_rejected[_i].text, &c);
    ck_assert_msg(st == CEREBRO_E_FORMAT, "row %d: status %d", _i, (int)st);
    ck_assert_msg(strstr(cerebro_last_error(), siglip_rejected[_i].field) != NULL,
                  "row %d: message lacks '%s': %s", _i, siglip_rejected[_i].field, cerebro_last_error());
}
END_TEST

/* The optional "relevance" record: `rel` is its JSON text, NULL for none. */
static cerebro_status parse_relevance(const char *rel, cb_model_config *c)
{
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"format\": \"cerebro-bundle\", \"format_version\": 1, \"name\": \"r\","
                     " \"embed_dim\": 64, \"image\": {\"size\": 32, \"mean\": [0.5, 0.5, 0.5],"
                     " \"std\": [0.5, 0.5, 0.5], \"resize\": \"shortest_bicubic\", \"crop\": \"center\"},"
                     " \"text\": {\"context_length\": 77, \"tokenizer\": \"clip_bpe\","
                     " \"merges_file\": \"m\", \"vocab_size\": 49408, \"sot_id\": 49406,"
                     " \"eot_id\": 49407, \"pad_id\": 0, \"variable_length\": true}%s%s}",
                     rel ? ", \"relevance\": " : "", rel ? rel : "");
    ck_assert_int_lt(n, (int)sizeof json);
    return cb_model_config_parse(json, (size_t)n, c);
}

START_TEST(test_relevance_valid)
{
    cb_model_config c;
    ck_assert_int_eq(parse_relevance(NULL, &c), CEREBRO_OK);
    ck_assert_int_eq(c.has_relevance, 0);
    ck_assert_msg(parse_relevance("{\"size_slope\": 0.5, \"threshold\": 3.05,"
                                  " \"measured\": \"anything else is kept for people\"}",
                                  &c) == CEREBRO_OK,
                  "%s", cerebro_last_error());
    ck_assert_int_eq(c.has_relevance, 1);
    ck_assert_float_eq(c.relevance_slope, 0.5f);
    ck_assert_float_eq(c.relevance_threshold, 3.05f);
    ck_assert_int_eq(parse_relevance("{\"size_slope\": 0, \"threshold\": 20}", &c), CEREBRO_OK);
    ck_assert_float_eq(c.relevance_slope, 0.0f);
}
END_TEST

/* Each row: the relevance record, what the error names. */
static const struct {
    const char *rel, *field;
} relevance_rejected[] = {
    {"3.35", "relevance"},
    {"{\"threshold\": 3.35}", "relevance.size_slope"},
    {"{\"size_slope\": 0.38}", "relevance.threshold"},
    {"{\"size_slope\": \"0.38\", \"threshold\": 3.35}", "relevance.size_slope"},
    {"{\"size_slope\": -0.1, \"threshold\": 3.35}", "relevance.size_slope"},
    {"{\"size_slope\": 1e39, \"threshold\": 3.35}", "relevance.size_slope"},
    {"{\"size_slope\": 0.38, \"threshold\": 0}", "relevance.threshold"},
    {"{\"size_slope\": 0.38, \"threshold\": 21}", "relevance.threshold"},
    {"{\"size_slope\": 0.38, \"threshold\": null}", "relevance.threshold"},
};

START_TEST(test_relevance_rejected)
{
    cb_model_config c;
    cerebro_status st = parse_relevance(relevance_rejected[_i].rel, &c);
    ck_assert_msg(st == CEREBRO_E_FORMAT, "row %d: status %d", _i, (int)st);
    ck_assert_msg(strstr(cerebro_last_error(), relevance_rejected[_i].field) != NULL,
                  "row %d: message lacks '%s': %s", _i, relevance_rejected[_i].field,
                  cerebro_last_error());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_valid);
    tcase_add_loop_test(tc, test_rejected, 0, (int)(sizeof rejected / sizeof rejected[0]));
    tcase_add_test(tc, test_siglip_valid);
    tcase_add_loop_test(tc, test_siglip_rejected, 0,
                        (int)(sizeof siglip_rejected / sizeof siglip_rejected[0]));
    tcase_add_test(tc, test_relevance_valid);
    tcase_add_loop_test(tc, test_relevance_rejected, 0,
                        (int)(sizeof relevance_rejected / sizeof relevance_rejected[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
