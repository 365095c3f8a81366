/* SentencePiece tokenizers against Debian's python3-sentencepiece:
 * tests/text/gen_spm.py trains a unigram and a BPE model and writes, for
 * several framing rules (start/end ids, lower-casing, SigLIP's
 * canonicalisation, context lengths), the ids sp.encode() gives for each
 * text of a 2,774-text corpus; every one must match token for token. Also:
 * cerebro_tokenizer_open() on a bare .model file, concurrent encoding and
 * the errors (damaged models, limits, invalid UTF-8). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "text/spm.h"
#include "text/text.h"

#define MAX_IDS 65536

typedef struct spm_case {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} spm_case;

typedef struct spm_file {
    cb_spm_rules rules;
    uint32_t context_length;
    spm_case *cases;
    size_t n;
} spm_file;

static char *data_path(const char *name)
{
    const char *dir = getenv("CEREBRO_SPM_REFERENCE");
    char *p;

    ck_assert_msg(dir != NULL, "CEREBRO_SPM_REFERENCE is not set (run through ctest)");
    p = malloc(strlen(dir) + strlen(name) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static int hexval(int c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Reads a line of any length (the long texts are 40 KB of hex). */
static char *read_line(FILE *f)
{
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    int c;

    ck_assert_ptr_nonnull(buf);
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    if (c == EOF && n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void load_cases(const char *name, spm_file *out)
{
    char *path = data_path(name), *line;
    FILE *f = fopen(path, "r");
    int sot, eot, lower, canon;
    unsigned ctx;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    line = read_line(f);
    ck_assert_int_eq(sscanf(line, "rules %d %d %d %d %u", &sot, &eot, &lower, &canon, &ctx), 5);
    free(line);
    memset(out, 0, sizeof *out);
    out->rules = (cb_spm_rules){0, sot, eot, lower, canon};
    out->context_length = ctx;
    line = read_line(f);
    ck_assert_int_eq(sscanf(line, "count %zu", &out->n), 1);
    free(line);
    out->cases = calloc(out->n, sizeof *out->cases);
    ck_assert_ptr_nonnull(out->cases);
    for (size_t i = 0; i < out->n; i++) {
        spm_case *c = &out->cases[i];
        char *t = read_line(f), *ids = read_line(f), *p;
        size_t hex;

        ck_assert_msg(t && ids && t[0] == 'T' && ids[0] == 'I', "%s: case %zu malformed", name, i);
        hex = strlen(t) > 2 ? strlen(t) - 2 : 0;
        c->len = hex / 2;
        c->text = malloc(c->len + 1);
        ck_assert_ptr_nonnull(c->text);
        for (size_t k = 0; k < c->len; k++)
            c->text[k] = (char)(hexval(t[2 + 2 * k]) << 4 | hexval(t[3 + 2 * k]));
        c->n = strtoul(ids + 2, &p, 10);
        c->ids = malloc((c->n ? c->n : 1) * sizeof *c->ids);
        ck_assert_ptr_nonnull(c->ids);
        for (size_t k = 0; k < c->n; k++)
            c->ids[k] = (int32_t)strtol(p, &p, 10);
        free(t);
        free(ids);
    }
    fclose(f);
    free(path);
}

static void free_cases(spm_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->cases[i].text);
        free(f->cases[i].ids);
    }
    free(f->cases);
}

static void *read_all(const char *name, size_t *len)
{
    char *path = data_path(name);
    uint8_t *data;

    ck_assert_int_eq(cb_read_file(path, 1u << 30, &data, len), CEREBRO_OK);
    free(path);
    return data;
}

/* Number of cases whose ids differ; the first few are printed. */
static size_t mismatches(const cerebro_tokenizer *tok, const spm_file *f, const char *label)
{
    int32_t *got = malloc(MAX_IDS * sizeof *got);
    size_t bad = 0;

    ck_assert_ptr_nonnull(got);
    for (size_t i = 0; i < f->n; i++) {
        const spm_case *c = &f->cases[i];
        size_t n = 0;
        cerebro_status st = cerebro_tokenizer_encode(tok, c->text, c->len, f->context_length, got,
                                                     MAX_IDS, &n);
        ck_assert_msg(st == CEREBRO_OK, "%s case %zu: %s", label, i, cerebro_last_error());
        if (n != c->n || memcmp(got, c->ids, n * sizeof *got) != 0) {
            if (bad++ < 5) {
                fprintf(stderr, "%s case %zu (%zu bytes): %zu ids, want %zu;", label, i, c->len, n, c->n);
                for (size_t k = 0; k < n && k < 12; k++)
                    fprintf(stderr, " %d/%d", got[k], k < c->n ? c->ids[k] : -1);
                fprintf(stderr, "\n");
            }
        }
    }
    free(got);
    return bad;
}

/* Opens the tokenizer an index line describes. */
static cerebro_tokenizer *open_for(const char *model, const char *rules_name, const spm_file *f)
{
    cerebro_tokenizer *tok = NULL;
    cerebro_status st;

    if (strcmp(rules_name, "open") == 0) {
        char *path = data_path(model);
        st = cerebro_tokenizer_open(&tok, path);
        free(path);
    } else {
        size_t len;
        void *data = read_all(model, &len);
        st = cb_tokenizer_from_spm(data, len, &f->rules, model, &tok);
        free(data);
    }
    ck_assert_msg(st == CEREBRO_OK, "%s (%s): %s", model, rules_name, cerebro_last_error());
    return tok;
}

typedef void (*index_fn)(const char *model, const char *cases, const char *rules, void *ctx);

static int for_each_file(index_fn fn, void *ctx)
{
    char *path = data_path("index.txt");
    FILE *f = fopen(path, "r");
    char model[128], cases[128], rules[32];
    int n = 0;

    ck_assert_msg(f != NULL, "cannot open %s (did the text_spm_data fixture run?)", path);
    while (fscanf(f, "%127s %127s %31s", model, cases, rules) == 3) {
        fn(model, cases, rules, ctx);
        n++;
    }
    fclose(f);
    free(path);
    return n;
}

static void parity_file(const char *model, const char *cases, const char *rules, void *ctx)
{
    spm_file f;
    cerebro_tokenizer *tok;
    size_t bad;

    load_cases(cases, &f);
    tok = open_for(model, rules, &f);
    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(tok), 800);
    bad = mismatches(tok, &f, cases);
    printf("%s: %zu texts, %zu differ from python3-sentencepiece\n", cases, f.n, bad);
    *(size_t *)ctx += bad;
    ck_assert_uint_gt(f.n, 2000);
    cerebro_tokenizer_free(tok);
    free_cases(&f);
}

START_TEST(test_parity_with_python)
{
    size_t bad = 0;
    int files = for_each_file(parity_file, &bad);

    ck_assert_int_eq(files, 10);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* ---- several threads, one tokenizer ------------------------------------- */

typedef struct thread_job {
    const cerebro_tokenizer *tok;
    const spm_file *f;
    size_t start, bad;
} thread_job;

static void *encode_all(void *arg)
{
    thread_job *j = arg;
    int32_t *got = malloc(MAX_IDS * sizeof *got);

    for (size_t k = 0; got && k < j->f->n; k++) {
        const spm_case *c = &j->f->cases[(j->start + k) % j->f->n];
        size_t n = 0;
        if (cerebro_tokenizer_encode(j->tok, c->text, c->len, j->f->context_length, got, MAX_IDS,
                                     &n) != CEREBRO_OK ||
            n != c->n || memcmp(got, c->ids, n * sizeof *got) != 0)
            j->bad++;
    }
    free(got);
    return NULL;
}

START_TEST(test_threads)
{
    enum { THREADS = 6 };
    spm_file f;
    cerebro_tokenizer *tok;
    pthread_t th[THREADS];
    thread_job jobs[THREADS];

    load_cases("spm_unigram_siglip.txt", &f);
    tok = open_for("unigram.model", "siglip", &f);
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (thread_job){tok, &f, (size_t)i * f.n / THREADS, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, encode_all, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_uint_eq(jobs[i].bad, 0);
    }
    cerebro_tokenizer_free(tok);
    free_cases(&f);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

START_TEST(test_errors)
{
    size_t len, n = 99;
    uint8_t *model = read_all("bpe.model", &len);
    cb_spm_rules rules = {0, -1, 2, 1, 1};
    cerebro_tokenizer *tok = (cerebro_tokenizer *)1;
    int32_t ids[8];
    char *big;
    char path[512];
    FILE *f;

    /* The sniffer: a model proto yes, merges text and gzip no. */
    ck_assert(cb_spm_sniff(model, len));
    ck_assert(!cb_spm_sniff((const uint8_t *)"#version: 0.2\na b\n", 18));
    ck_assert(!cb_spm_sniff((const uint8_t *)"\x1f\x8b\x08\x00", 4));
    ck_assert(!cb_spm_sniff((const uint8_t *)"\n\n", 2));

    /* Damaged models: cut short, bytes flipped in the header, not a proto. */
    ck_assert_int_eq(cb_tokenizer_from_spm(model, len / 2, &rules, "cut.model", &tok), CEREBRO_E_FORMAT);
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(cerebro_last_error(), "cut.model") != NULL, "%s", cerebro_last_error());
    ck_assert_int_eq(cb_tokenizer_from_spm("\x0a\x05\x0a\x03" "abc", 7, &rules, "x", &tok), CEREBRO_E_FORMAT);
    ck_assert_int_eq(cb_tokenizer_from_spm("hello", 5, &rules, "x", &tok), CEREBRO_E_FORMAT);
    ck_assert_int_eq(cb_tokenizer_from_spm("", 0, &rules, "x", &tok), CEREBRO_E_FORMAT);
    ck_assert_int_eq(cb_tokenizer_from_spm(model, CB_SPM_MAX_BYTES + 1, &rules, "x", &tok), CEREBRO_E_LIMIT);
    /* Framing ids: equal, or beyond the vocabulary. */
    rules.sot = 2;
    ck_assert_int_eq(cb_tokenizer_from_spm(model, len, &rules, "x", &tok), CEREBRO_E_INVALID);
    rules = (cb_spm_rules){0, -1, 800, 0, 0};
    ck_assert_int_eq(cb_tokenizer_from_spm(model, len, &rules, "x", &tok), CEREBRO_E_INVALID);
    rules = (cb_spm_rules){500, -1, 2, 0, 0};
    ck_assert_int_eq(cb_tokenizer_from_spm(model, len, &rules, "x", &tok), CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "vocab_size 500") != NULL, "%s", cerebro_last_error());

    /* A damaged .model through the public open: named, E_FORMAT. */
    snprintf(path, sizeof path, "%s/cut.model", getenv("CEREBRO_SPM_REFERENCE"));
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(model, 1, len / 3, f), len / 3);
    fclose(f);
    ck_assert_int_eq(cerebro_tokenizer_open(&tok, path), CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "cut.model") != NULL, "%s", cerebro_last_error());

    /* Encoding errors, as the CLIP tokenizer's. */
    rules = (cb_spm_rules){0, -1, 2, 1, 1};
    ck_assert_int_eq(cb_tokenizer_from_spm(model, len, &rules, "bpe.model", &tok), CEREBRO_OK);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a\xff", 2, 0, ids, 8, &n), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, NULL, 2, 0, ids, 8, &n), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a photo of a cat", 16, 0, ids, 2, &n), CEREBRO_E_LIMIT);
    ck_assert_uint_gt(n, 2);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a photo of a cat", 16, 0, NULL, 0, &n), CEREBRO_E_LIMIT);
    big = malloc(CB_TEXT_MAX_BYTES + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', CB_TEXT_MAX_BYTES + 1);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, big, CB_TEXT_MAX_BYTES + 1, 0, ids, 8, &n), CEREBRO_E_LIMIT);
    /* The largest text allowed encodes (truncated to 8: 7 pieces + eot). */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, big, CB_TEXT_MAX_BYTES, 8, ids, 8, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(ids[7], 2);
    /* Context 1 keeps the end token alone. */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "cat", 3, 1, ids, 8, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ids[0], 2);
    free(big);
    cerebro_tokenizer_free(tok);
    free(model);
}
END_TEST

START_TEST(test_text_rules)
{
    /* canonicalize: punctuation out, whitespace runs (str.isspace) one
     * space, stripped. */
    uint32_t s[] = {' ', 'A', ',', ' ', '!', '\t', 'b', '.', 0x3000, 0x1c, 'c', '?', ' '};
    uint32_t want[] = {'A', ' ', 'b', ' ', 'c'};
    uint32_t sigma[] = {0x3a3, 'A', 0x3a3, '.', ' ', 0x3a3}, lowered[12];
    size_t n = cb_text_canonicalize(s, sizeof s / sizeof s[0]);

    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(s, want, sizeof want), 0);
    ck_assert_uint_eq(cb_text_canonicalize(s, 0), 0);
    /* Python: "ΣAΣ. Σ".lower() == "σaς. σ". */
    ck_assert_uint_eq(cb_text_lower(sigma, 6, lowered), 6);
    ck_assert_uint_eq(lowered[0], 0x3c3);
    ck_assert_uint_eq(lowered[2], 0x3c2);
    ck_assert_uint_eq(lowered[5], 0x3c3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text_spm");
    TCase *tc = tcase_create("spm");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_text_rules);
    tcase_add_test(tc, test_parity_with_python);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
