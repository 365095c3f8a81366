/* Placeholder until lib/text implements CLIP's BPE (Model runtime issue). */
#include "core/core.h"

cerebro_status cerebro_tokenizer_open(cerebro_tokenizer **out, const char *merges_path)
{
    CB_UNUSED(merges_path);
    if (out)
        *out = NULL;
    return cb_unsupported("cerebro_tokenizer_open");
}

void cerebro_tokenizer_free(cerebro_tokenizer *tok)
{
    CB_UNUSED(tok);
}

uint32_t cerebro_tokenizer_vocab_size(const cerebro_tokenizer *tok)
{
    CB_UNUSED(tok);
    return 0;
}

cerebro_status cerebro_tokenizer_encode(const cerebro_tokenizer *tok, const char *text, size_t len,
                                        uint32_t context_length, int32_t *tokens, size_t capacity,
                                        size_t *n_tokens)
{
    CB_UNUSED(tok);
    CB_UNUSED(text);
    CB_UNUSED(len);
    CB_UNUSED(context_length);
    CB_UNUSED(tokens);
    CB_UNUSED(capacity);
    if (n_tokens)
        *n_tokens = 0;
    return cb_unsupported("cerebro_tokenizer_encode");
}

#include "text/text.h"

cerebro_status cb_tokenizer_from_merges(const char *data, size_t len, uint32_t vocab_size,
                                        uint32_t sot, uint32_t eot, cerebro_tokenizer **out)
{
    CB_UNUSED(data);
    CB_UNUSED(len);
    CB_UNUSED(vocab_size);
    CB_UNUSED(sot);
    CB_UNUSED(eot);
    *out = NULL;
    return cb_unsupported("cb_tokenizer_from_merges");
}
