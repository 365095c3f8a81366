/* SigLIP-shaped bundles (text.tokenizer "sentencepiece", image.resize
 * "squash_bicubic") end to end through the public API, against what
 * PyTorch makes of python3-sentencepiece's ids and PIL's squash resize on
 * the same TorchScript module (tests/model/gen_spm_bundle.py writes both
 * into $CEREBRO_SPM_BUNDLES). Also the bundle's refusals: a missing or
 * damaged SentencePiece model. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"

#define DIM 24
#define MAX_TEXTS 512
#define MAX_IMAGES 16

static char *path_of(const char *name)
{
    const char *dir = getenv("CEREBRO_SPM_BUNDLES");
    char *p;

    ck_assert_msg(dir != NULL, "CEREBRO_SPM_BUNDLES is not set (run through ctest)");
    p = malloc(strlen(dir) + strlen(name) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static float *read_floats(const char *name, size_t n)
{
    char *path = path_of(name);
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof *v);

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(fread(v, sizeof *v, n, f), n);
    ck_assert_int_eq(fgetc(f), EOF);
    fclose(f);
    free(path);
    return v;
}

static int hexval(int c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* texts.txt: "T <hex>" lines into NUL-terminated strings. */
static size_t read_texts(char **texts)
{
    char *path = path_of("texts.txt");
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    size_t n = 0;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (n < MAX_TEXTS && fgets(line, sizeof line, f)) {
        size_t hex = strcspn(line + 2, "\n");
        char *t = malloc(hex / 2 + 1);
        ck_assert_ptr_nonnull(t);
        for (size_t k = 0; k < hex / 2; k++)
            t[k] = (char)(hexval(line[2 + 2 * k]) << 4 | hexval(line[3 + 2 * k]));
        t[hex / 2] = '\0';
        texts[n++] = t;
    }
    fclose(f);
    free(path);
    return n;
}

static cerebro_model *open_bundle(const char *name)
{
    cerebro_model_options o;
    cerebro_model *m = NULL;
    char *path = path_of(name);
    cerebro_status st;

    cerebro_model_options_init(&o);
    o.precision = CEREBRO_PRECISION_FP32;
    st = cerebro_model_open(&m, path, &o);
    ck_assert_msg(st == CEREBRO_OK, "open %s: %s", name, cerebro_last_error());
    free(path);
    return m;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

/* Worst row cosine and max element difference of n rows. */
static void compare(const float *got, const float *want, size_t n, double *worst_cos, double *max_diff)
{
    *worst_cos = 1;
    *max_diff = 0;
    for (size_t i = 0; i < n; i++) {
        double c = cosine(got + i * DIM, want + i * DIM, DIM);
        if (c < *worst_cos)
            *worst_cos = c;
        for (size_t j = 0; j < DIM; j++) {
            double d = fabs((double)got[i * DIM + j] - want[i * DIM + j]);
            if (d > *max_diff)
                *max_diff = d;
        }
    }
}

START_TEST(test_options_and_tokenizer)
{
    cerebro_model *m = open_bundle("spm.pt");
    cerebro_image_options io;
    const cerebro_tokenizer *tok = cerebro_model_tokenizer(m);
    int32_t ids[16];
    size_t n = 0;

    ck_assert_uint_eq(cerebro_model_dim(m), DIM);
    ck_assert_uint_eq(cerebro_model_context_length(m), 16);
    ck_assert_int_eq(cerebro_model_image_options(m, &io), CEREBRO_OK);
    ck_assert_uint_eq(io.resize, CEREBRO_RESIZE_SQUASH);
    ck_assert_uint_eq(io.size, 40);
    ck_assert_float_eq(io.mean[1], 0.5f);
    ck_assert_ptr_nonnull(tok);
    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(tok), 800);
    /* Canonicalised and lower-cased: punctuation does not change the ids. */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "A photo, of a CAT!", 18, 16, ids, 16, &n), CEREBRO_OK);
    {
        int32_t again[16];
        size_t n2 = 0;
        ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a photo of a cat", 16, 16, again, 16, &n2), CEREBRO_OK);
        ck_assert_uint_eq(n, n2);
        ck_assert_int_eq(memcmp(ids, again, n * sizeof *ids), 0);
    }
    ck_assert_int_eq(ids[n - 1], 2); /* </s> */
    /* Rows are always the full context: no variable-length input. */
    ck_assert_int_eq(cerebro_model_encode_tokens(m, ids, 1, n, (float[DIM]){0}), CEREBRO_E_INVALID);
    cerebro_model_free(m);
}
END_TEST

static void check_texts(const char *bundle)
{
    char *texts[MAX_TEXTS];
    size_t n = read_texts(texts);
    float *want = read_floats("text_emb.f32", n * DIM), *got = malloc(n * DIM * sizeof(float));
    cerebro_model *m = open_bundle(bundle);
    double worst, diff;

    ck_assert_ptr_nonnull(got);
    ck_assert_uint_gt(n, 300);
    ck_assert_msg(cerebro_model_encode_text(m, (const char *const *)texts, n, got) == CEREBRO_OK,
                  "%s", cerebro_last_error());
    compare(got, want, n, &worst, &diff);
    printf("%s: %zu texts, worst cosine %.7f, max diff %.2g vs PyTorch on python3-sentencepiece ids\n",
           bundle, n, worst, diff);
    ck_assert_msg(diff <= 1e-5, "max diff %g", diff);
    ck_assert_msg(worst >= 0.9999, "cosine %f", worst);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(want);
    free(got);
    cerebro_model_free(m);
}

START_TEST(test_text_matches_pytorch)
{
    check_texts("spm.pt");
    check_texts("spm-named.pt");
}
END_TEST

START_TEST(test_images_match_pil_squash)
{
    char *names[MAX_IMAGES], line[256], *list = path_of("images.txt");
    const char *paths[MAX_IMAGES];
    FILE *f = fopen(list, "r");
    size_t n = 0;
    float *want, got[MAX_IMAGES * DIM];
    cerebro_status statuses[MAX_IMAGES];
    cerebro_encode_options eo;
    cerebro_model *m = open_bundle("spm.pt");
    double worst, diff;

    ck_assert_ptr_nonnull(f);
    while (n < MAX_IMAGES && fgets(line, sizeof line, f)) {
        char rel[300];
        line[strcspn(line, "\n")] = '\0';
        snprintf(rel, sizeof rel, "images/%s", line);
        names[n] = path_of(rel);
        paths[n] = names[n];
        n++;
    }
    fclose(f);
    want = read_floats("image_emb.f32", n * DIM);
    cerebro_encode_options_init(&eo);
    eo.mode = CEREBRO_PREPROCESS_EXACT;
    ck_assert_int_eq(cerebro_model_encode_image_files(m, paths, n, &eo, got, statuses), CEREBRO_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(statuses[i] == CEREBRO_OK, "%s: %d", paths[i], statuses[i]);
    compare(got, want, n, &worst, &diff);
    printf("images, exact squash: %zu files, worst cosine %.7f, max diff %.2g vs PIL + PyTorch\n", n,
           worst, diff);
    ck_assert_msg(diff <= 1e-5, "max diff %g", diff);
    /* Fast mode: the 640x480 and 1200x300 JPEGs decode at reduced scale. */
    eo.mode = CEREBRO_PREPROCESS_FAST;
    ck_assert_int_eq(cerebro_model_encode_image_files(m, paths, n, &eo, got, statuses), CEREBRO_OK);
    compare(got, want, n, &worst, &diff);
    printf("images, fast squash: worst cosine %.5f\n", worst);
    ck_assert_msg(worst >= 0.995, "fast mode cosine %f", worst);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(want);
    free(list);
    cerebro_model_free(m);
}
END_TEST

static void expect_open_error(const char *name, cerebro_status want, const char *phrase)
{
    cerebro_model *m = (cerebro_model *)1;
    char *path = path_of(name);
    cerebro_status st = cerebro_model_open(&m, path, NULL);

    ck_assert_msg(st == want, "%s: status %d, want %d (%s)", name, st, want, cerebro_last_error());
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(cerebro_last_error(), phrase) && strstr(cerebro_last_error(), name),
                  "%s: message lacks '%s': %s", name, phrase, cerebro_last_error());
    free(path);
}

START_TEST(test_refusals)
{
    expect_open_error("spm-missing.pt", CEREBRO_E_FORMAT, "no SentencePiece model cerebro/spm.model");
    expect_open_error("spm-damaged.pt", CEREBRO_E_FORMAT, "cerebro/spm.model");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_spm");
    TCase *tc = tcase_create("spm");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_options_and_tokenizer);
    tcase_add_test(tc, test_text_matches_pytorch);
    tcase_add_test(tc, test_images_match_pil_squash);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
