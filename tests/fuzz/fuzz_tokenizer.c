/* libFuzzer target for the tokenizer. The real CLIP merges are loaded once
 * ($CEREBRO_MERGES, else the checkout's third_party/clip copy, whose path
 * the build passes in as CEREBRO_FUZZ_MERGES).
 *
 * Input: byte 0 picks the mode, the rest is the payload.
 *   mode & 0x80 clear: the payload is text, encoded with the context length
 *     mode & 0x7F (0: none); checks the API contract and that truncation
 *     keeps a prefix of the untruncated result.
 *   mode & 0x80 set: the payload is a merges text for a small vocabulary
 *     (cb_tokenizer_from_merges, as model bundles are loaded), then a few
 *     texts and the payload itself are encoded with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cerebro/cerebro.h"
#include "text/text.h"

static cerebro_tokenizer *clip;
static int32_t *full, *cut;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *env = getenv("CEREBRO_MERGES");
    const char *path = env && *env ? env : CEREBRO_FUZZ_MERGES;

    (void)argc;
    (void)argv;
    if (cerebro_tokenizer_open(&clip, path) != CEREBRO_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s (set CEREBRO_MERGES)\n", cerebro_last_error());
        abort();
    }
    full = malloc((2 * CB_TEXT_MAX_BYTES + 2) * sizeof *full);
    cut = malloc(128 * sizeof *cut);
    if (!full || !cut)
        abort();
    return 0;
}

static int valid_utf8(const uint8_t *s, size_t len)
{
    utf8proc_int32_t cp;
    for (size_t i = 0; i < len;) {
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return 0;
        i += (size_t)n;
    }
    return 1;
}

static void check_text(const cerebro_tokenizer *tok, const uint8_t *text, size_t len,
                       uint32_t ctx)
{
    uint32_t vocab = cerebro_tokenizer_vocab_size(tok);
    size_t n = 0, n_cut = 0, sized = 0;
    cerebro_status st;

    st = cerebro_tokenizer_encode(tok, (const char *)text, len, 0, full, 2 * CB_TEXT_MAX_BYTES + 2,
                                  &n);
    if (st != (valid_utf8(text, len) ? CEREBRO_OK : CEREBRO_E_INVALID))
        abort();
    if (st != CEREBRO_OK)
        return;
    /* sot ... eot, every id in the vocabulary, at most one token per byte of
     * the cleaned text, which is never twice as long as the input (entities
     * grow at most 5 -> 6 bytes, lower-casing 2 -> 3, as U+0130). */
    if (n < 2 || n > 2 * len + 2 || full[0] != (int32_t)vocab - 2 ||
        full[n - 1] != (int32_t)vocab - 1)
        abort();
    for (size_t i = 0; i < n; i++)
        if (full[i] < 0 || (uint32_t)full[i] >= vocab)
            abort();
    /* Sizing call, then truncation: a prefix with the end token last. */
    if (cerebro_tokenizer_encode(tok, (const char *)text, len, 0, NULL, 0, &sized) !=
            CEREBRO_E_LIMIT ||
        sized != n)
        abort();
    if (ctx == 0)
        return;
    st = cerebro_tokenizer_encode(tok, (const char *)text, len, ctx, cut, 128, &n_cut);
    if (st != CEREBRO_OK || n_cut != (n < ctx ? n : ctx) || cut[n_cut - 1] != full[n - 1])
        abort();
    if (memcmp(cut, full, (n_cut - 1) * sizeof *cut) != 0)
        abort();
}

static void check_merges(const uint8_t *data, size_t len)
{
    static const char *const texts[] = {"a photo of a cat", "", "<|endoftext|> it's ΣΑΣ İ &amp;",
                                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    cerebro_tokenizer *tok = NULL;
    size_t lines = 0;

    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    if (lines == 0)
        return;
    /* vocab_size = 514 + the merge lines after the header. */
    if (cb_tokenizer_from_merges((const char *)data, len, 513 + (uint32_t)lines,
                                 511 + (uint32_t)lines, 512 + (uint32_t)lines, &tok) != CEREBRO_OK) {
        if (tok)
            abort();
        return;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        check_text(tok, (const uint8_t *)texts[i], strlen(texts[i]), 0);
    check_text(tok, data, len, 7);
    cerebro_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size - 1 > CB_TEXT_MAX_BYTES)
        return 0;
    if (data[0] & 0x80)
        check_merges(data + 1, size - 1);
    else
        check_text(clip, data + 1, size - 1, data[0] & 0x7Fu);
    return 0;
}
