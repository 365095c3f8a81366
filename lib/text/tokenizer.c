/* The public tokenizer: loading merges and encoding text as CLIP does
 * (pipeline in text.h). The tokenizer is immutable after loading; each
 * encode call works in its own memory, so calls never contend. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text.h"
#include "text/spm.h"

/* Merges CLIP uses from its file: 49152 - 256 - 2. */
#define CLIP_MERGES (CB_CLIP_VOCAB_SIZE - CB_BPE_BYTE_SYMBOLS - CB_BPE_SPECIALS)
/* A per-call BPE cache starts paying after this many pieces (the benchmark
 * builds a variant with SIZE_MAX to measure it). */
#ifndef CB_CACHE_AFTER_PIECES
#define CB_CACHE_AFTER_PIECES 64
#endif

/* One of two kinds: CLIP BPE (bpe set) or SentencePiece (spm set). */
struct cerebro_tokenizer {
    cb_bpe *bpe;
    uint32_t vocab_size, sot, eot;
    cb_spm *spm;
    cb_spm_rules rules; /* SentencePiece only */
};

/* The merge lines follow a header line, which CLIP skips unread. */
static void skip_header(const char *data, size_t len, const char **lines, size_t *lines_len)
{
    const char *nl = data ? memchr(data, '\n', len) : NULL;

    *lines = nl ? nl + 1 : data + len;
    *lines_len = nl ? len - (size_t)(nl + 1 - data) : 0;
}

cerebro_status cb_tokenizer_from_merges(const char *data, size_t len, uint32_t vocab_size,
                                        uint32_t sot, uint32_t eot, cerebro_tokenizer **out)
{
    cerebro_tokenizer *tok;
    const char *lines;
    size_t lines_len;
    cerebro_status st;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "tokenizer: out is NULL");
    *out = NULL;
    if (!data && len)
        return cb_fail(CEREBRO_E_INVALID, "tokenizer: merges data is NULL");
    if (vocab_size < CB_BPE_BYTE_SYMBOLS + CB_BPE_SPECIALS)
        return cb_fail(CEREBRO_E_INVALID, "tokenizer: vocab_size %u is below %u", vocab_size,
                       CB_BPE_BYTE_SYMBOLS + CB_BPE_SPECIALS);
    if (vocab_size > CB_BPE_MAX_VOCAB)
        return cb_fail(CEREBRO_E_LIMIT, "tokenizer: vocab_size %u is over the limit of %u",
                       vocab_size, CB_BPE_MAX_VOCAB);
    if (sot >= vocab_size || eot >= vocab_size || sot == eot)
        return cb_fail(CEREBRO_E_INVALID,
                       "tokenizer: special token ids %u and %u must differ and be below %u", sot,
                       eot, vocab_size);
    tok = calloc(1, sizeof *tok);
    if (!tok)
        return cb_fail(CEREBRO_E_NOMEM, "tokenizer: out of memory");
    skip_header(data, len, &lines, &lines_len);
    st = cb_bpe_build(lines, lines_len, vocab_size - CB_BPE_BYTE_SYMBOLS - CB_BPE_SPECIALS, sot,
                      eot, &tok->bpe);
    if (st != CEREBRO_OK) {
        free(tok);
        return st;
    }
    tok->vocab_size = vocab_size;
    tok->sot = sot;
    tok->eot = eot;
    *out = tok;
    return CEREBRO_OK;
}

/* Lines after the header; a final newline does not start another line. */
static size_t count_lines(const char *lines, size_t len)
{
    size_t n = 0;

    for (const char *p = lines; (p = memchr(p, '\n', len - (size_t)(p - lines))) != NULL; p++)
        n++;
    return n + (len > 0 && lines[len - 1] != '\n');
}

int cb_spm_sniff(const uint8_t *data, size_t len)
{
    size_t i = 1;

    if (len < 4 || data[0] != 0x0A)
        return 0;
    while (i < len && i < 6 && (data[i] & 0x80))
        i++; /* the piece message's varint length */
    return i + 1 < len && data[i + 1] == 0x0A;
}

cerebro_status cb_tokenizer_from_spm(const void *data, size_t len, const cb_spm_rules *rules,
                                     const char *label, cerebro_tokenizer **out)
{
    cerebro_tokenizer *tok;
    cerebro_status st;
    uint32_t pieces;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "tokenizer: out is NULL");
    *out = NULL;
    if (!rules)
        return cb_fail(CEREBRO_E_INVALID, "tokenizer: rules is NULL");
    if (!(tok = calloc(1, sizeof *tok)))
        return cb_fail(CEREBRO_E_NOMEM, "tokenizer: out of memory");
    if ((st = cb_spm_load(data, len, label, &tok->spm)) != CEREBRO_OK) {
        free(tok);
        return st;
    }
    pieces = cb_spm_piece_count(tok->spm);
    tok->vocab_size = rules->vocab_size ? rules->vocab_size : pieces;
    if (pieces > tok->vocab_size) {
        st = cb_fail(CEREBRO_E_FORMAT, "%s: the SentencePiece model has %u pieces, more than "
                     "vocab_size %u", label ? label : "tokenizer", pieces, tok->vocab_size);
    } else if (rules->sot >= (int32_t)tok->vocab_size || rules->eot >= (int32_t)tok->vocab_size ||
               rules->sot < -1 || rules->eot < -1 || (rules->sot >= 0 && rules->sot == rules->eot)) {
        st = cb_fail(CEREBRO_E_INVALID, "%s: special token ids %d and %d must differ and lie "
                     "in -1..%u", label ? label : "tokenizer", rules->sot, rules->eot,
                     tok->vocab_size - 1);
    }
    if (st != CEREBRO_OK) {
        cerebro_tokenizer_free(tok);
        return st;
    }
    tok->rules = *rules;
    *out = tok;
    return CEREBRO_OK;
}

/* A .model file on its own: pieces, then the model's </s>; nothing else. */
static cerebro_status open_spm_file(const char *data, size_t len, const char *path,
                                    cerebro_tokenizer **out)
{
    cb_spm_rules rules = {0, -1, -1, 0, 0};
    cerebro_status st = cb_tokenizer_from_spm(data, len, &rules, path, out);

    if (st == CEREBRO_OK)
        (*out)->rules.eot = cb_spm_eos_id((*out)->spm); /* -1 or a piece id */
    return st;
}

cerebro_status cerebro_tokenizer_open(cerebro_tokenizer **out, const char *merges_path)
{
    char *data = NULL;
    const char *lines;
    size_t len = 0, lines_len, n;
    uint32_t vocab;
    cerebro_status st;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_open: out is NULL");
    *out = NULL;
    if (!merges_path)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_open: merges_path is NULL");
    st = cb_merges_read_file(merges_path, &data, &len);
    if (st != CEREBRO_OK)
        return st;
    if (cb_spm_sniff((const uint8_t *)data, len)) {
        st = open_spm_file(data, len, merges_path, out);
        free(data);
        return st;
    }
    skip_header(data, len, &lines, &lines_len);
    n = count_lines(lines, lines_len);
    vocab = CB_BPE_BYTE_SYMBOLS + (uint32_t)(n < CLIP_MERGES ? n : CLIP_MERGES) + CB_BPE_SPECIALS;
    st = cb_tokenizer_from_merges(data, len, vocab, vocab - 2, vocab - 1, out);
    free(data);
    if (st != CEREBRO_OK)
        cb_error_prefix(merges_path);
    return st;
}

void cerebro_tokenizer_free(cerebro_tokenizer *tok)
{
    if (!tok)
        return;
    cb_bpe_free(tok->bpe);
    cb_spm_free(tok->spm);
    free(tok);
}

uint32_t cerebro_tokenizer_vocab_size(const cerebro_tokenizer *tok)
{
    return tok ? tok->vocab_size : 0;
}

/* Memory of one encode call. */
typedef struct encode_work {
    uint32_t *cps, *cleaned; /* len and 2 * len code points */
    uint8_t *piece;          /* UTF-8 of the current piece */
    size_t piece_cap;
    cb_bpe_work bpe;
    cb_piece_cache *cache;
    cb_ids ids;
} encode_work;

static void encode_work_free(encode_work *w)
{
    free(w->cps);
    free(w->cleaned);
    free(w->piece);
    cb_bpe_work_free(&w->bpe);
    cb_piece_cache_free(w->cache);
    cb_ids_free(&w->ids);
}

/* UTF-8 of cps[start, end) into w->piece; returns its length or 0. */
static size_t piece_bytes(encode_work *w, const uint32_t *cps, size_t start, size_t end)
{
    size_t need = 4 * (end - start), n = 0;

    if (need > w->piece_cap) {
        uint8_t *p = realloc(w->piece, need);
        if (!p)
            return 0;
        w->piece = p;
        w->piece_cap = need;
    }
    for (size_t i = start; i < end; i++)
        n += cb_utf8_put(cps[i], w->piece + n);
    return n;
}

/* Appends the ids of one text piece, through the per-call cache. */
static int encode_piece(const cerebro_tokenizer *tok, encode_work *w, const uint8_t *bytes,
                        size_t len, size_t piece_index)
{
    const int32_t *hit;
    size_t n, before = w->ids.n;

    if (!w->cache && piece_index >= CB_CACHE_AFTER_PIECES)
        w->cache = cb_piece_cache_new(); /* NULL just means no caching */
    if (w->cache && (hit = cb_piece_cache_get(w->cache, bytes, len, &n)) != NULL) {
        if (cb_ids_reserve(&w->ids, n) != 0)
            return -1;
        memcpy(w->ids.v + w->ids.n, hit, n * sizeof *hit);
        w->ids.n += n;
        return 0;
    }
    if (cb_bpe_word(tok->bpe, bytes, len, &w->bpe, &w->ids) != 0)
        return -1;
    if (w->cache)
        cb_piece_cache_put(w->cache, bytes, len, w->ids.v + before, w->ids.n - before);
    return 0;
}

/* sot, the ids of the cleaned text, eot. With context_length > 0 the result
 * is sot + ids[:context_length - 2] + eot (CLIP's truncation), so pieces stop
 * being encoded once those ids are known. */
static cerebro_status encode_cleaned(const cerebro_tokenizer *tok, encode_work *w,
                                     const uint32_t *cps, size_t n, uint32_t context_length)
{
    size_t pos = 0, count = 0;
    cb_piece piece;

    if (cb_ids_reserve(&w->ids, 2) != 0)
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
    w->ids.v[w->ids.n++] = (int32_t)tok->sot;
    while ((context_length == 0 || w->ids.n < context_length - 1) &&
           cb_pretokenize_next(cps, n, &pos, &piece)) {
        int rc;
        if (piece.kind != CB_PIECE_TEXT) {
            rc = cb_ids_reserve(&w->ids, 1);
            if (rc == 0)
                w->ids.v[w->ids.n++] = (int32_t)(piece.kind == CB_PIECE_SOT ? tok->sot : tok->eot);
        } else {
            size_t len = piece_bytes(w, cps, piece.start, piece.end);
            rc = len ? encode_piece(tok, w, w->piece, len, count++) : -1;
        }
        if (rc != 0)
            return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
    }
    if (context_length > 0 && w->ids.n > context_length - 1)
        w->ids.n = context_length - 1;
    if (cb_ids_reserve(&w->ids, 1) != 0)
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
    w->ids.v[w->ids.n++] = (int32_t)tok->eot;
    return CEREBRO_OK;
}

/* SentencePiece: [sot] + EncodeAsIds(prepared text) + [eot], the pieces
 * cut so that the whole fits in context_length (when > 0). w->cps holds
 * the n code points of text; w->cleaned has room for 2 * n. */
static cerebro_status encode_spm(const cerebro_tokenizer *tok, encode_work *w, const char *text,
                                 size_t len, size_t n, uint32_t context_length)
{
    const cb_spm_rules *r = &tok->rules;
    size_t frame = (r->sot >= 0) + (r->eot >= 0), limit = 0;
    const char *utf8 = text;
    cerebro_status st;

    if (r->lowercase || r->canonicalize) {
        const uint32_t *cps = w->cps;
        size_t bytes = 0;
        if (r->lowercase) {
            n = cb_text_lower(w->cps, n, w->cleaned);
            cps = w->cleaned;
        }
        if (r->canonicalize)
            n = cb_text_canonicalize((uint32_t *)cps, n);
        /* Lower-casing at most doubles the code points (4 bytes each). */
        if (!(w->piece = malloc(n ? 4 * n : 1)))
            return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
        for (size_t i = 0; i < n; i++)
            bytes += cb_utf8_put(cps[i], w->piece + bytes);
        utf8 = (const char *)w->piece;
        len = bytes;
    }
    if (context_length > 0)
        limit = context_length > frame ? context_length - frame : 0;
    if (cb_ids_reserve(&w->ids, 1) != 0)
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
    if (r->sot >= 0)
        w->ids.v[w->ids.n++] = r->sot;
    /* A context too short for the frame itself keeps only the frame. */
    if (context_length == 0 || limit > 0) {
        if ((st = cb_spm_encode(tok->spm, utf8, len, limit, &w->ids)) != CEREBRO_OK)
            return st;
    }
    if (r->eot >= 0) {
        if (cb_ids_reserve(&w->ids, 1) != 0)
            return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
        w->ids.v[w->ids.n++] = r->eot;
    }
    if (context_length > 0 && w->ids.n > context_length) {
        /* context_length 1 with both: the end token alone, as CLIP's. */
        w->ids.n = context_length;
        w->ids.v[w->ids.n - 1] = r->eot;
    }
    return CEREBRO_OK;
}

cerebro_status cerebro_tokenizer_encode(const cerebro_tokenizer *tok, const char *text, size_t len,
                                        uint32_t context_length, int32_t *tokens, size_t capacity,
                                        size_t *n_tokens)
{
    encode_work w;
    size_t n, bad = 0;
    cerebro_status st;

    if (n_tokens)
        *n_tokens = 0;
    if (!tok)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_encode: tokenizer is NULL");
    if (!text && len)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_encode: text is NULL");
    if (!tokens && capacity)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_encode: tokens is NULL");
    if (len > CB_TEXT_MAX_BYTES)
        return cb_fail(CEREBRO_E_LIMIT, "cerebro_tokenizer_encode: text is %zu bytes, over the "
                       "limit of %zu bytes", len, CB_TEXT_MAX_BYTES);
    memset(&w, 0, sizeof w);
    w.cps = malloc((len ? len : 1) * sizeof *w.cps);
    w.cleaned = malloc((len ? len : 1) * 2 * sizeof *w.cleaned);
    if (!w.cps || !w.cleaned) {
        st = cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
        goto done;
    }
    n = cb_utf8_decode((const uint8_t *)text, len, w.cps, &bad);
    if (n == SIZE_MAX) {
        st = cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_encode: invalid UTF-8 at byte %zu "
                     "(0x%02X)", bad, (unsigned)(unsigned char)text[bad]);
        goto done;
    }
    if (tok->spm) {
        st = encode_spm(tok, &w, text, len, n, context_length);
    } else {
        /* html.unescape twice; neither pass makes the text longer. */
        n = cb_html_unescape(w.cps, n, w.cleaned);
        n = cb_html_unescape(w.cleaned, n, w.cps);
        n = cb_text_clean(w.cps, n, w.cleaned);
        st = encode_cleaned(tok, &w, w.cleaned, n, context_length);
    }
    if (st != CEREBRO_OK)
        goto done;
    if (n_tokens)
        *n_tokens = w.ids.n;
    if (capacity > 0)
        memcpy(tokens, w.ids.v, (capacity < w.ids.n ? capacity : w.ids.n) * sizeof *tokens);
    if (capacity < w.ids.n)
        st = cb_fail(CEREBRO_E_LIMIT, "cerebro_tokenizer_encode: %zu tokens do not fit in a "
                     "buffer of %zu", w.ids.n, capacity);
done:
    encode_work_free(&w);
    return st;
}
