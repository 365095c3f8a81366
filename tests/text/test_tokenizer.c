/* Tokenizer tests: known CLIP encodings, the API contract (truncation,
 * capacity, errors), token-for-token parity with the Python reference on a
 * generated corpus, every code point's classes against Python, and
 * concurrent use of one tokenizer. The reference data is written by
 * tests/text/gen_corpus.py into $CEREBRO_TEXT_REFERENCE. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cerebro/cerebro.h"
#include "text/text.h"

#define MAX_TOKENS 65536

/* CLIP's merges in the checkout (third_party/clip), or $CEREBRO_MERGES. */
static const char *merges_path(void)
{
    const char *env = getenv("CEREBRO_MERGES");
    return env && *env ? env : CEREBRO_TEST_MERGES;
}

static cerebro_tokenizer *open_clip(void)
{
    cerebro_tokenizer *tok = NULL;
    cerebro_status st = cerebro_tokenizer_open(&tok, merges_path());
    ck_assert_msg(st == CEREBRO_OK, "open %s: %s", merges_path(), cerebro_last_error());
    return tok;
}

/* Encodes a NUL-terminated string without truncation into out. */
static size_t encode(const cerebro_tokenizer *tok, const char *text, int32_t *out, size_t cap)
{
    size_t n = 0;
    cerebro_status st = cerebro_tokenizer_encode(tok, text, strlen(text), 0, out, cap, &n);
    ck_assert_msg(st == CEREBRO_OK, "encode '%s': %s", text, cerebro_last_error());
    return n;
}

static void assert_tokens(const cerebro_tokenizer *tok, const char *text, const int32_t *want,
                          size_t n_want)
{
    int32_t got[256];
    size_t n = encode(tok, text, got, 256);
    ck_assert_msg(n == n_want, "'%s': %zu tokens, want %zu", text, n, n_want);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "'%s': token %zu is %d, want %d", text, i, got[i], want[i]);
}

#define ASSERT_TOKENS(tok, text, ...)                                             \
    do {                                                                          \
        const int32_t want_[] = {__VA_ARGS__};                                    \
        assert_tokens(tok, text, want_, sizeof want_ / sizeof want_[0]);          \
    } while (0)

/* ---- known encodings ----------------------------------------------------- */

START_TEST(test_known_clip_encodings)
{
    cerebro_tokenizer *tok = open_clip();

    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(tok), 49408);
    /* From CLIP's README and model card examples. */
    ASSERT_TOKENS(tok, "a photo of a cat", 49406, 320, 1125, 539, 320, 2368, 49407);
    ASSERT_TOKENS(tok, "a diagram", 49406, 320, 22697, 49407);
    ASSERT_TOKENS(tok, "a dog", 49406, 320, 1929, 49407);
    ASSERT_TOKENS(tok, "a cat", 49406, 320, 2368, 49407);
    /* Cleaning: case, HTML entities, whitespace runs. */
    ASSERT_TOKENS(tok, "  A   PHOTO\tof\na &amp;amp; CAT  ", 49406, 320, 1125, 539, 320, 261, 2368,
                  49407);
    /* Byte-level symbols: 'a</w>' is 256 + 64, '!' is byte symbol 0. */
    ASSERT_TOKENS(tok, "a", 49406, 320, 49407);
    ASSERT_TOKENS(tok, "!", 49406, 256, 49407);
    /* Contractions and the special tokens written in the text. */
    ASSERT_TOKENS(tok, "IT'S", 49406, 585, 568, 49407);
    ASSERT_TOKENS(tok, "<|endoftext|><|startoftext|>", 49406, 49407, 49406, 49407);
    ASSERT_TOKENS(tok, "", 49406, 49407);
    ASSERT_TOKENS(tok, " \t\n\x1c\xe3\x80\x80 ", 49406, 49407);
    cerebro_tokenizer_free(tok);
}
END_TEST

/* ---- the API contract ----------------------------------------------------- */

START_TEST(test_truncation)
{
    cerebro_tokenizer *tok = open_clip();
    static int32_t full[MAX_TOKENS];
    int32_t cut[80];
    char text[2000] = "";
    size_t n_full, n;

    for (int i = 0; i < 100; i++)
        strcat(text, "word ");
    n_full = encode(tok, text, full, MAX_TOKENS);
    ck_assert_uint_eq(n_full, 102);
    for (uint32_t ctx = 1; ctx <= 80; ctx++) {
        ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), ctx, cut, 80, &n),
                         CEREBRO_OK);
        ck_assert_uint_eq(n, ctx);
        for (size_t i = 0; i + 1 < n; i++)
            ck_assert_int_eq(cut[i], full[i]);
        ck_assert_int_eq(cut[n - 1], 49407);
    }
    /* A context longer than the text changes nothing. */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a cat", 5, 77, cut, 80, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(cut[3], 49407);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a cat", 5, 4, cut, 80, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(cut[2], 2368);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a cat", 5, 3, cut, 80, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(cut[1], 320);
    ck_assert_int_eq(cut[2], 49407);
    cerebro_tokenizer_free(tok);
}
END_TEST

/* A word of several tokens that crosses the last place before eot: CLIP
 * keeps sot + ids[:context - 2] + eot, so the word is cut inside, id by id
 * (single-token words never leave more ids than fit, so test_truncation
 * cannot see a cut that lets one extra id through). The ids are the Python
 * reference tokenizer's (training/cerebro_train/tokenizer.py) for 'word' and
 * 'antidisestablishmentarianism'. */
START_TEST(test_truncation_inside_a_word)
{
    static const int32_t word = 2653;
    static const int32_t long_word[] = {3120, 4262, 7726, 12658, 1585, 44351};
    const size_t n_long = sizeof long_word / sizeof long_word[0];
    cerebro_tokenizer *tok = open_clip();
    int32_t want[90], got[90];
    char text[1000];

    for (uint32_t ctx = 76; ctx <= 78; ctx++) {
        for (size_t n_words = ctx - 8; n_words <= ctx - 2; n_words++) {
            size_t n_want = 0, n = 0;
            text[0] = '\0';
            want[n_want++] = 49406;
            for (size_t i = 0; i < n_words; i++) {
                strcat(text, "word ");
                want[n_want++] = word;
            }
            strcat(text, "antidisestablishmentarianism");
            for (size_t i = 0; i < n_long && n_want < ctx - 1; i++)
                want[n_want++] = long_word[i];
            want[n_want++] = 49407;
            /* Twice: the second encoding comes from the piece cache. */
            for (int pass = 0; pass < 2; pass++) {
                ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), ctx, got, 90, &n),
                                 CEREBRO_OK);
                ck_assert_msg(n == n_want, "context %u, %zu words before: %zu tokens, want %zu", ctx,
                              n_words, n, n_want);
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg(got[i] == want[i], "context %u, %zu words before: token %zu is %d, want %d",
                                  ctx, n_words, i, got[i], want[i]);
            }
        }
    }
    /* Spelled out for CLIP's context 77 and 74 words before: the word
     * starts at 75 and is cut at 76, where eot goes. */
    size_t n = 0;
    text[0] = '\0';
    for (int i = 0; i < 74; i++)
        strcat(text, "word ");
    strcat(text, "antidisestablishmentarianism");
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), 77, got, 90, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 77);
    ck_assert_int_eq(got[74], word);
    ck_assert_int_eq(got[75], 3120);
    ck_assert_int_eq(got[76], 49407);
    cerebro_tokenizer_free(tok);
}
END_TEST

START_TEST(test_capacity)
{
    cerebro_tokenizer *tok = open_clip();
    const char *text = "a photo of a cat";
    int32_t buf[8];
    size_t n = 123;

    ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), 0, NULL, 0, &n),
                     CEREBRO_E_LIMIT);
    ck_assert_uint_eq(n, 7);
    for (int i = 0; i < 8; i++)
        buf[i] = -1;
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), 0, buf, 3, &n),
                     CEREBRO_E_LIMIT);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(buf[0], 49406);
    ck_assert_int_eq(buf[2], 1125);
    ck_assert_int_eq(buf[3], -1); /* nothing past capacity */
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "7 tokens"));
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, strlen(text), 0, buf, 7, &n), CEREBRO_OK);
    ck_assert_int_eq(buf[6], 49407);
    ck_assert_int_eq(buf[7], -1);
    /* n_tokens may be NULL; the text needs no NUL terminator. */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a catXXXX", 5, 0, buf, 8, NULL), CEREBRO_OK);
    ck_assert_int_eq(buf[2], 2368);
    ck_assert_int_eq(buf[3], 49407);
    cerebro_tokenizer_free(tok);
}
END_TEST

START_TEST(test_argument_errors)
{
    cerebro_tokenizer *tok = open_clip();
    int32_t buf[4];
    size_t n = 99;
    char *big;

    ck_assert_int_eq(cerebro_tokenizer_encode(NULL, "a", 1, 0, buf, 4, &n), CEREBRO_E_INVALID);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, NULL, 1, 0, buf, 4, &n), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, NULL, 0, 0, buf, 4, &n), CEREBRO_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a", 1, 0, NULL, 4, &n), CEREBRO_E_INVALID);
    /* The length limit is checked before the bytes are looked at. */
    big = malloc(CB_TEXT_MAX_BYTES + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 0xFF, CB_TEXT_MAX_BYTES + 1);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, big, CB_TEXT_MAX_BYTES + 1, 77, buf, 4, &n),
                     CEREBRO_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "limit"));
    for (size_t i = 0; i < CB_TEXT_MAX_BYTES; i++)
        big[i] = i % 2 ? ' ' : 'a';
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, big, CB_TEXT_MAX_BYTES, 77, buf, 4, &n),
                     CEREBRO_E_LIMIT); /* capacity 4 < 77 */
    ck_assert_uint_eq(n, 77);
    free(big);

    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(NULL), 0);
    cerebro_tokenizer_free(NULL);
    cerebro_tokenizer_free(tok);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    static const struct {
        const char *bytes;
        size_t offset;
    } bad[] = {
        {"\x80", 0},                 /* lone continuation byte */
        {"ab\xBF", 2},
        {"\xC0\xAF", 0},             /* overlong '/' */
        {"\xC1\xBF", 0},
        {"x\xE0\x80\xAF", 1},        /* overlong, 3 bytes */
        {"\xE0\x9F\xBF", 0},
        {"\xF0\x80\x80\xAF", 0},     /* overlong, 4 bytes */
        {"\xF0\x8F\xBF\xBF", 0},
        {"\xED\xA0\x80", 0},         /* surrogate U+D800 */
        {"ok \xED\xBF\xBF", 3},      /* surrogate U+DFFF */
        {"\xF4\x90\x80\x80", 0},     /* U+110000 */
        {"\xF5\x80\x80\x80", 0},
        {"\xFE", 0},
        {"\xFF", 0},
        {"abc\xE2\x82", 3},          /* truncated at the end */
        {"\xE2\x82x", 0},            /* truncated before ASCII */
        {"\xF0\x9F\x98", 0},
        {"caf\xC3", 3},
        {"\xC3\xA9\xC3(", 2},
    };
    static const char extremes[] = "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF"
                                   "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xEE\x80\x80";
    cerebro_tokenizer *tok = open_clip();
    int32_t buf[64];
    size_t n;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        ck_assert_int_eq(cerebro_tokenizer_encode(tok, bad[i].bytes, strlen(bad[i].bytes), 0, buf,
                                                  64, &n),
                         CEREBRO_E_INVALID);
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", bad[i].offset);
        ck_assert_msg(strstr(cerebro_last_error(), want), "case %zu: '%s' lacks '%s'", i,
                      cerebro_last_error(), want);
    }
    /* The extremes of each length are valid. */
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, extremes, sizeof extremes - 1, 0, buf, 64, &n),
                     CEREBRO_OK);
    ck_assert_int_eq(cerebro_tokenizer_encode(tok, "a\0b", 3, 0, buf, 16, &n), CEREBRO_OK);
    cerebro_tokenizer_free(tok);
}
END_TEST

/* ---- loading --------------------------------------------------------------- */

static char *read_merges_text(size_t *len)
{
    char *data = NULL;
    ck_assert_int_eq(cb_merges_read_file(merges_path(), &data, len), CEREBRO_OK);
    ck_assert_uint_gt(*len, 3000000);
    return data;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *tmp_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("CEREBRO_TEST_TMP");
    dir = dir ? dir : "/tmp";
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

START_TEST(test_open_plain_and_errors)
{
    cerebro_tokenizer *gz = open_clip(), *plain = NULL, *tok = (cerebro_tokenizer *)1;
    const char *texts[] = {"a photo of a cat", "Snow leopards &amp; ibex, 2024!", "naïve café"};
    size_t len;
    char *data = read_merges_text(&len);
    const char *path = tmp_path("merges_plain.txt");

    write_file(path, data, len);
    ck_assert_int_eq(cerebro_tokenizer_open(&plain, path), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(plain), 49408);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t a[64], b[64];
        size_t na = encode(gz, texts[i], a, 64), nb = encode(plain, texts[i], b, 64);
        ck_assert_uint_eq(na, nb);
        ck_assert_int_eq(memcmp(a, b, na * sizeof *a), 0);
    }
    cerebro_tokenizer_free(plain);

    ck_assert_int_eq(cerebro_tokenizer_open(&tok, "/nonexistent/merges.txt.gz"),
                     CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_null(tok);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "/nonexistent/merges.txt.gz"));
    ck_assert_int_eq(cerebro_tokenizer_open(NULL, path), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_tokenizer_open(&tok, NULL), CEREBRO_E_INVALID);
    /* A damaged gzip stream. */
    write_file(tmp_path("bad.gz"), "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", 17);
    ck_assert_int_eq(cerebro_tokenizer_open(&tok, tmp_path("bad.gz")), CEREBRO_E_CORRUPT);
    ck_assert_ptr_null(tok);
    /* A malformed merge line is reported with its line number. */
    write_file(tmp_path("bad_line.txt"), "#version: 0.2\ni n\nt h x\n", 24);
    ck_assert_int_eq(cerebro_tokenizer_open(&tok, tmp_path("bad_line.txt")), CEREBRO_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "line 3"));
    /* A file with only a header is a byte-level tokenizer without merges. */
    write_file(tmp_path("header_only.txt"), "#version: 0.2\n", 14);
    ck_assert_int_eq(cerebro_tokenizer_open(&tok, tmp_path("header_only.txt")), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(tok), 514);
    ASSERT_TOKENS(tok, "ab", 512, 64, 321, 513);
    cerebro_tokenizer_free(tok);
    cerebro_tokenizer_free(gz);
    free(data);
}
END_TEST

START_TEST(test_from_merges)
{
    cerebro_tokenizer *tok = (cerebro_tokenizer *)1;
    size_t len;
    char *data = read_merges_text(&len);

    /* Model bundles: vocab_size decides how many merges are used. */
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 49408, 49406, 49407, &tok), CEREBRO_OK);
    ASSERT_TOKENS(tok, "a photo of a cat", 49406, 320, 1125, 539, 320, 2368, 49407);
    cerebro_tokenizer_free(tok);
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 1000, 998, 999, &tok), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_tokenizer_vocab_size(tok), 1000);
    ASSERT_TOKENS(tok, "", 998, 999);
    cerebro_tokenizer_free(tok);

    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 513, 511, 512, &tok), CEREBRO_E_INVALID);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 1000, 999, 999, &tok), CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 1000, 998, 1000, &tok),
                     CEREBRO_E_INVALID);
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, CB_BPE_MAX_VOCAB + 1, 0, 1, &tok),
                     CEREBRO_E_LIMIT);
    ck_assert_int_eq(cb_tokenizer_from_merges(NULL, 5, 1000, 998, 999, &tok), CEREBRO_E_INVALID);
    /* More merges asked for than the text holds. */
    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 300000, 0, 1, &tok), CEREBRO_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "merges"));
    ck_assert_int_eq(cb_tokenizer_from_merges("#version: 0.2\ni n\n", 18, 516, 514, 515, &tok),
                     CEREBRO_E_FORMAT);
    /* A bundle's trimmed merges with CRLF line ends. */
    ck_assert_int_eq(cb_tokenizer_from_merges("#version: 0.2\r\ni n</w>\r\n", 24, 515, 513, 514,
                                              &tok),
                     CEREBRO_OK);
    ASSERT_TOKENS(tok, "in", 513, 512, 514);
    ASSERT_TOKENS(tok, "ni", 513, 77, 328, 514);
    cerebro_tokenizer_free(tok);
    free(data);
}
END_TEST

/* ---- parity with the Python reference --------------------------------------- */

typedef struct corpus_case {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} corpus_case;

typedef struct corpus {
    corpus_case *cases;
    size_t n;
} corpus;

static const char *reference_dir(void)
{
    const char *dir = getenv("CEREBRO_TEXT_REFERENCE");
    ck_assert_msg(dir != NULL, "CEREBRO_TEXT_REFERENCE is not set (run through ctest)");
    return dir;
}

static FILE *open_reference(const char *name)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", reference_dir(), name);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (written by tests/text/gen_corpus.py)", path);
    return f;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static corpus load_corpus(const char *name)
{
    FILE *f = open_reference(name);
    char *line = NULL;
    size_t cap = 0;
    corpus c = {NULL, 0};

    ck_assert_int_eq(fscanf(f, "count %zu\n", &c.n), 1);
    c.cases = calloc(c.n, sizeof *c.cases);
    ck_assert_ptr_nonnull(c.cases);
    for (size_t i = 0; i < c.n; i++) {
        corpus_case *k = &c.cases[i];
        ssize_t got = getline(&line, &cap, f);
        char *p;
        ck_assert_msg(got >= 2 && line[0] == 'T', "corpus case %zu: bad text line", i);
        k->len = (size_t)(got - 3) / 2;
        k->text = malloc(k->len + 1);
        for (size_t j = 0; j < k->len; j++)
            k->text[j] = (char)(hex_digit(line[2 + 2 * j]) * 16 + hex_digit(line[3 + 2 * j]));
        k->text[k->len] = '\0';
        got = getline(&line, &cap, f);
        ck_assert_msg(got >= 2 && line[0] == 'I', "corpus case %zu: bad ids line", i);
        k->n = strtoul(line + 2, &p, 10);
        k->ids = malloc((k->n ? k->n : 1) * sizeof *k->ids);
        for (size_t j = 0; j < k->n; j++)
            k->ids[j] = (int32_t)strtol(p, &p, 10);
    }
    free(line);
    fclose(f);
    return c;
}

static void free_corpus(corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->cases[i].text);
        free(c->cases[i].ids);
    }
    free(c->cases);
}

/* Python-style repr of UTF-8 text, for mismatch reports. */
static void print_text(const char *text, size_t len)
{
    uint32_t *cps = malloc((len ? len : 1) * sizeof *cps);
    size_t bad, n = cb_utf8_decode((const uint8_t *)text, len, cps, &bad);

    fputs("  text: '", stderr);
    for (size_t i = 0; n != SIZE_MAX && i < n; i++) {
        uint32_t c = cps[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'')
            fputc((int)c, stderr);
        else if (c < 0x100)
            fprintf(stderr, "\\x%02x", c);
        else if (c < 0x10000)
            fprintf(stderr, "\\u%04x", c);
        else
            fprintf(stderr, "\\U%08x", c);
    }
    fputs("'\n", stderr);
    free(cps);
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

/* Encodes every case; returns the index of the first mismatch or c->n. */
static size_t check_corpus(const cerebro_tokenizer *tok, const corpus *c, int report)
{
    static _Thread_local int32_t got[MAX_TOKENS];

    for (size_t i = 0; i < c->n; i++) {
        const corpus_case *k = &c->cases[i];
        size_t n = 0, first = 0;
        cerebro_status st = cerebro_tokenizer_encode(tok, k->text, k->len, 0, got, MAX_TOKENS, &n);
        if (st == CEREBRO_OK && n == k->n && memcmp(got, k->ids, n * sizeof *got) == 0)
            continue;
        if (report) {
            while (first < n && first < k->n && got[first] == k->ids[first])
                first++;
            fprintf(stderr, "corpus case %zu differs at token %zu (status %d %s)\n", i, first, st,
                    st == CEREBRO_OK ? "" : cerebro_last_error());
            print_text(k->text, k->len);
            print_ids("python", k->ids, k->n);
            print_ids("C", got, n < MAX_TOKENS ? n : MAX_TOKENS);
        }
        return i;
    }
    return c->n;
}

START_TEST(test_corpus_parity)
{
    cerebro_tokenizer *tok = open_clip();
    corpus c = load_corpus("corpus.txt");
    size_t bad;

    ck_assert_uint_ge(c.n, 2000);
    bad = check_corpus(tok, &c, 1);
    ck_assert_msg(bad == c.n, "corpus case %zu differs from the Python reference (see stderr)",
                  bad);
    free_corpus(&c);
    cerebro_tokenizer_free(tok);
}
END_TEST

START_TEST(test_corpus_parity_small_vocab)
{
    cerebro_tokenizer *tok = NULL;
    corpus c = load_corpus("corpus_vocab1000.txt");
    size_t len, bad;
    char *data = read_merges_text(&len);

    ck_assert_int_eq(cb_tokenizer_from_merges(data, len, 1000, 998, 999, &tok), CEREBRO_OK);
    bad = check_corpus(tok, &c, 1);
    ck_assert_msg(bad == c.n, "small-vocabulary case %zu differs (see stderr)", bad);
    free_corpus(&c);
    free(data);
    cerebro_tokenizer_free(tok);
}
END_TEST

typedef struct thread_job {
    const cerebro_tokenizer *tok;
    const corpus *c;
    size_t first_bad;
} thread_job;

static void *encode_all(void *arg)
{
    thread_job *job = arg;
    job->first_bad = check_corpus(job->tok, job->c, 0);
    return NULL;
}

START_TEST(test_concurrent_encoding)
{
    cerebro_tokenizer *tok = open_clip();
    corpus c = load_corpus("corpus.txt");
    pthread_t threads[4];
    thread_job jobs[4];

    for (int t = 0; t < 4; t++) {
        jobs[t] = (thread_job){tok, &c, 0};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, encode_all, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
        ck_assert_msg(jobs[t].first_bad == c.n, "thread %d: case %zu differs", t,
                      jobs[t].first_bad);
    }
    free_corpus(&c);
    cerebro_tokenizer_free(tok);
}
END_TEST

/* ---- every code point against Python ---------------------------------------- */

static char class_letter(cb_char_class k)
{
    return "SLNOX"[k];
}

static char sigma_letter(uint32_t cp)
{
    return cb_is_case_ignorable(cp) ? 'I' : cb_is_cased(cp) ? 'C' : '-';
}

START_TEST(test_codepoints_match_python)
{
    FILE *f = open_reference("unicode.txt");
    static uint8_t py_unassigned[0x110000];
    static uint32_t lower_of[0x110000][2];
    char kind[32], value[8], value2[8];
    unsigned long a, b;
    size_t checked = 0, bad = 0, skipped = 0;

    for (uint32_t cp = 0; cp < 0x110000; cp++)
        lower_of[cp][0] = cp, lower_of[cp][1] = 0;
    ck_assert_int_eq(fscanf(f, "unicode %31s\n", kind), 1);
    while (fscanf(f, "%31s %lu", kind, &a) == 2) {
        if (strcmp(kind, "lower") == 0) {
            ck_assert_int_eq(fscanf(f, "%lu", &b), 1);
            lower_of[a][0] = (uint32_t)b;
            if (fscanf(f, "%7[ 0-9]", value) == 1)
                lower_of[a][1] = (uint32_t)strtoul(value, NULL, 10);
            continue;
        }
        ck_assert_int_eq(fscanf(f, "%lu", &b), 1);
        if (strcmp(kind, "py_unassigned") == 0) {
            memset(py_unassigned + a, 1, b - a + 1);
            continue;
        }
        ck_assert_int_eq(fscanf(f, " %7s", value), 1);
        if (strcmp(kind, "space") == 0)
            ck_assert_int_eq(fscanf(f, " %7s", value2), 1);
        for (unsigned long cp = a; cp <= b; cp++) {
            int ok = 1;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            if (strcmp(kind, "class") == 0)
                ok = class_letter(cb_char_class_of((uint32_t)cp)) == value[0];
            else if (strcmp(kind, "space") == 0)
                ok = cb_is_py_space((uint32_t)cp) == (value[0] == '1') &&
                     cb_is_re_space((uint32_t)cp) == (value2[0] == '1');
            else if (strcmp(kind, "sigma") == 0 && py_unassigned[cp])
                /* New in Unicode 15 (utf8proc) but unknown to Python 3.11's
                 * Unicode 14: Python cannot say whether they are cased. */
                skipped += sigma_letter((uint32_t)cp) != value[0];
            else if (strcmp(kind, "sigma") == 0)
                ok = sigma_letter((uint32_t)cp) == value[0];
            checked++;
            if (!ok && bad++ < 10)
                fprintf(stderr, "%s U+%04lX: C differs from Python '%s'\n", kind, cp, value);
        }
    }
    fclose(f);
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        uint32_t out[2] = {0, 0};
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        cb_lower_full(cp, out);
        if ((out[0] != lower_of[cp][0] || out[1] != lower_of[cp][1]) && bad++ < 10)
            fprintf(stderr, "lower U+%04X: C gives U+%04X U+%04X, Python U+%04X U+%04X\n", cp,
                    out[0], out[1], lower_of[cp][0], lower_of[cp][1]);
    }
    ck_assert_uint_gt(checked, 3 * 1100000);
    ck_assert_msg(bad == 0, "%zu code point properties differ from Python (see stderr)", bad);
    ck_assert_uint_lt(skipped, 200);
}
END_TEST

/* ---- pieces of the pipeline ------------------------------------------------- */

/* The inputs of test_long_inputs_are_linear: a word, a punctuation run,
 * capital sigmas (case folding), '&' runs (HTML unescaping). */
static void fill_long(char *text, size_t len, int kind)
{
    for (size_t i = 0; i < len; i++) {
        switch (kind) {
        case 0: text[i] = (char)('a' + (i * 7 + i / 13) % 26); break;
        case 1: text[i] = '!'; break;
        case 2: text[i] = (char)(i % 2 ? 0xA3 : 0xCE); break;
        default: text[i] = '&'; break;
        }
    }
}

/* CPU seconds of this thread for one encode, the least of three (a busy
 * machine only ever adds time); the count of ids in *n. */
static double encode_cpu(cerebro_tokenizer *tok, const char *text, size_t len, size_t ctx, int32_t *ids,
                         size_t *n)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        ck_assert_int_eq(cerebro_tokenizer_encode(tok, text, len, ctx, ids, len, n), CEREBRO_OK);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        if (t < best)
            best = t;
    }
    return best;
}

START_TEST(test_long_inputs_are_linear)
{
    static const char *const names[] = {"one long word", "a punctuation run", "capital sigmas", "'&' runs"};
    static const size_t ctx[] = {0, 0, 77, 77};
    cerebro_tokenizer *tok = open_clip();
    size_t big = CB_TEXT_MAX_BYTES, small = big / 8, n_small, n_big;
    char *text = malloc(big);
    int32_t *ids = malloc(big * sizeof *ids);

    /* 1 MiB against 128 KiB of the same pattern: linear work grows 8 times,
     * quadratic 64 times. The bound, 32, is four times the linear growth
     * and well below the quadratic one; the ratio of CPU times (not wall
     * time) does not depend on how fast or busy the machine is. Below 1 ms
     * the small input's time is taken as 1 ms, so timer noise cannot make a
     * linear ratio look large. */
    for (int kind = 0; kind < 4; kind++) {
        fill_long(text, small, kind);
        double t_small = encode_cpu(tok, text, small, ctx[kind], ids, &n_small);
        fill_long(text, big, kind);
        double t_big = encode_cpu(tok, text, big, ctx[kind], ids, &n_big);
        double ratio = t_big / (t_small > 1e-3 ? t_small : 1e-3);
        printf("linear: %s: %.4f s for 128 KiB, %.4f s for 1 MiB (x%.1f)\n", names[kind], t_small, t_big, ratio);
        ck_assert_msg(ratio < 32, "%s: 8 times the input took %.1f times the CPU time (%.4f s, %.4f s)",
                      names[kind], ratio, t_small, t_big);
        if (ctx[kind] == 77) {
            ck_assert_uint_eq(n_small, 77);
            ck_assert_uint_eq(n_big, 77);
        } else {
            /* Without a context length every byte is encoded: the ids
             * grow with the input. */
            ck_assert_uint_gt(n_small, 1000);
            ck_assert_uint_gt(n_big, 7 * n_small);
        }
    }
    free(text);
    free(ids);
    cerebro_tokenizer_free(tok);
}
END_TEST

START_TEST(test_bpe_paths_agree)
{
    static const char *const alphabets[] = {"abcdefghijklmnopqrstuvwxyz", "ab", "a", "eat",
                                            "!?.,'-", "0123456789", "\xce\xb1\xcf\x83\xe7\x8c\xab"};
    size_t len;
    char *data = read_merges_text(&len);
    const char *lines = memchr(data, '\n', len) + 1;
    cb_bpe *bpe = NULL;
    cb_bpe_work work = {0};
    cb_ids a = {0}, b = {0};
    uint32_t seed = 12345;

    ck_assert_int_eq(cb_bpe_build(lines, len - (size_t)(lines - data), 48894, 49406, 49407, &bpe),
                     CEREBRO_OK);
    for (int k = 0; k < 50000; k++) {
        uint8_t word[32];
        const char *set;
        size_t n, set_len;
        seed = seed * 1103515245u + 12345u;
        set = alphabets[(seed >> 16) % (sizeof alphabets / sizeof alphabets[0])];
        set_len = strlen(set);
        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 16) % 32;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            word[i] = (uint8_t)set[(seed >> 16) % set_len];
        }
        a.n = b.n = 0;
        ck_assert_int_eq(cb_bpe_word(bpe, word, n, &work, &a), 0);
        ck_assert_int_eq(cb_bpe_word_heap(bpe, word, n, &work, &b), 0);
        ck_assert_msg(a.n == b.n && memcmp(a.v, b.v, a.n * sizeof *a.v) == 0,
                      "word %d (%zu bytes, '%.*s'): the two BPE paths differ", k, n, (int)n,
                      (const char *)word);
    }
    cb_ids_free(&a);
    cb_ids_free(&b);
    cb_bpe_work_free(&work);
    cb_bpe_free(bpe);
    free(data);
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *api = tcase_create("api"), *parity = tcase_create("parity");

    tcase_set_timeout(api, 120);
    tcase_set_timeout(parity, 300);
    tcase_add_test(api, test_known_clip_encodings);
    tcase_add_test(api, test_truncation);
    tcase_add_test(api, test_truncation_inside_a_word);
    tcase_add_test(api, test_capacity);
    tcase_add_test(api, test_argument_errors);
    tcase_add_test(api, test_invalid_utf8);
    tcase_add_test(api, test_open_plain_and_errors);
    tcase_add_test(api, test_from_merges);
    tcase_add_test(api, test_long_inputs_are_linear);
    tcase_add_test(api, test_bpe_paths_agree);
    tcase_add_test(parity, test_corpus_parity);
    tcase_add_test(parity, test_corpus_parity_small_vocab);
    tcase_add_test(parity, test_concurrent_encoding);
    tcase_add_test(parity, test_codepoints_match_python);
    suite_add_tcase(s, api);
    suite_add_tcase(s, parity);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(text_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
