/* The relevance cutoff end to end, as a user meets it: the bundled default
 * model, a store of the 64 Twitter-style emoji of tests/fixtures/twemoji (a
 * style the model never trained on) and the eight sample pictures, searched
 * with the default options. Nonsense finds nothing; a real query finds its
 * picture first, standing above every nonsense query's best hit. (The
 * default was chosen on stores of 50 to 18,362 items; in this one of 72 the
 * strawberry's relevance, 3.28 with the store-size term, is just under it
 * and the nonsense queries' best hits stand at 2.20-2.46 --
 * models/MODEL_CARD.md.) */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

static cerebro_model *model;
static cerebro_index *idx;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && *v, "%s is not set (ctest sets it)", name);
    return v;
}

static void setup(void)
{
    char dir[2048];
    const char *tmp = getenv("CEREBRO_TEST_TMP");
    cerebro_index_options io;
    const char *paths[2] = {env("CEREBRO_TWEMOJI"), env("CEREBRO_SAMPLE_IMAGES")};

    ck_assert_msg(cerebro_model_open(&model, env("CEREBRO_DEFAULT_MODEL"), NULL) == CEREBRO_OK, "%s",
                  cerebro_last_error());
    snprintf(dir, sizeof dir, "%s/relevance_default", tmp ? tmp : "/tmp/cerebro-test");
    rm_rf(dir);
    cerebro_index_options_init(&io);
    io.flags = CEREBRO_INDEX_CREATE;
    ck_assert_msg(cerebro_index_open(&idx, dir, model, &io) == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_msg(cerebro_index_add(idx, paths, 2, NULL, NULL) == CEREBRO_OK, "%s", cerebro_last_error());
}

static void teardown(void)
{
    cerebro_index_free(idx);
    cerebro_model_free(model);
}

static cerebro_results *search(const char *text, float min)
{
    cerebro_search_options o;
    cerebro_results *r = NULL;
    cerebro_search_options_init(&o);
    if (min >= 0)
        o.min_relevance = min;
    ck_assert_msg(cerebro_index_search_text(idx, text, &o, &r) == CEREBRO_OK, "%s", cerebro_last_error());
    return r;
}

static const char *const nonsense[] = {"zxqv blorp", "gnarfle", "qwpz vrumt kelb", "flimbo drax"};

START_TEST(test_real_query_stands_above_nonsense)
{
    cerebro_hit h;
    cerebro_results *r = search("a strawberry", 0);
    ck_assert_uint_ge(cerebro_results_count(r), 1);
    OK(cerebro_results_get(r, 0, &h));
    ck_assert_msg(strstr(h.path, "/strawberry.png"), "first hit for \"a strawberry\": %s", h.path);
    float best = cerebro_results_relevance(r, 0);
    cerebro_results_free(r);
    for (size_t i = 0; i < sizeof nonsense / sizeof nonsense[0]; i++) {
        r = search(nonsense[i], 0);
        ck_assert_msg(cerebro_results_relevance(r, 0) < best, "\"%s\" relevance %.2f >= the strawberry's %.2f",
                      nonsense[i], cerebro_results_relevance(r, 0), best);
        cerebro_results_free(r);
    }
}
END_TEST

START_TEST(test_nonsense_finds_nothing)
{
    /* Made-up words of the kind the threshold was chosen on; without the
     * cutoff each of them still gets ten hits. */
    for (size_t i = 0; i < sizeof nonsense / sizeof nonsense[0]; i++) {
        cerebro_results *r = search(nonsense[i], -1);
        cerebro_hit h;
        if (cerebro_results_count(r) > 0)
            OK(cerebro_results_get(r, 0, &h));
        ck_assert_msg(cerebro_results_count(r) == 0, "\"%s\": %zu hits, the first %s (relevance %.2f)",
                      nonsense[i], cerebro_results_count(r), cerebro_results_count(r) ? h.path : "",
                      cerebro_results_count(r) ? cerebro_results_relevance(r, 0) : 0.0);
        cerebro_results_free(r);
        r = search(nonsense[i], 0);
        ck_assert_uint_eq(cerebro_results_count(r), 10);
        ck_assert(!isnan(cerebro_results_relevance(r, 0)));
        cerebro_results_free(r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("relevance_default");
    TCase *tc = tcase_create("default");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_real_query_stands_above_nonsense);
    tcase_add_test(tc, test_nonsense_finds_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
