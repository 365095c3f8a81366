/* SentencePiece tokenizers (lib/text/spm.c over Debian's libsentencepiece,
 * loaded as a module: spm_module.h). Nothing here
 * is exported; cerebro_tokenizer (tokenizer.c) holds one of these or a
 * CLIP BPE table; the text rules a bundle may ask for first are in clean.c. */
#ifndef CEREBRO_TEXT_SPM_H
#define CEREBRO_TEXT_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"
#include "text/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest SentencePiece model proto accepted (real ones are 0.2-10 MB). */
#define CB_SPM_MAX_BYTES ((size_t)64 << 20)

/* ---- spm.c: libsentencepiece through its module (spm_module.h). Errors
 * also include E_UNSUPPORTED when the module cannot be loaded. ---- */

typedef struct cb_spm cb_spm;

/* Loads a model from its serialised ModelProto (len bytes; not retained).
 * label names it in errors. Errors: E_FORMAT (not a model libsentencepiece
 * can load), E_LIMIT (over CB_SPM_MAX_BYTES or 2^24 pieces), E_NOMEM. */
cerebro_status cb_spm_load(const void *data, size_t len, const char *label, cb_spm **out);
void cb_spm_free(cb_spm *spm);
/* Number of pieces (the vocabulary). */
uint32_t cb_spm_piece_count(const cb_spm *spm);
/* The model's own special ids; -1 where it has none. */
int32_t cb_spm_eos_id(const cb_spm *spm);
int32_t cb_spm_bos_id(const cb_spm *spm);
int32_t cb_spm_pad_id(const cb_spm *spm);
/* Appends EncodeAsIds(text) (valid UTF-8, len bytes) to out; at most
 * `limit` ids when limit > 0. Thread-safe (the processor is only read).
 * Errors: E_INVALID (libsentencepiece refused the text), E_NOMEM. */
cerebro_status cb_spm_encode(const cb_spm *spm, const char *text, size_t len, size_t limit,
                             cb_ids *out);

/* ---- tokenizer.c ---- */

/* How a SentencePiece tokenizer frames and prepares the text. */
typedef struct cb_spm_rules {
    uint32_t vocab_size; /* ids the model takes; >= the piece count (0: the piece count) */
    int32_t sot;         /* prepended id, -1 for none */
    int32_t eot;         /* appended id, -1 for none */
    int lowercase;       /* str.lower() first */
    int canonicalize;    /* then cb_text_canonicalize() */
} cb_spm_rules;

/* A tokenizer from a model proto in memory (not retained), as found in
 * bundles. label names it in errors. Errors: E_INVALID, E_FORMAT, E_LIMIT,
 * E_NOMEM. */
cerebro_status cb_tokenizer_from_spm(const void *data, size_t len, const cb_spm_rules *rules,
                                     const char *label, cerebro_tokenizer **out);

/* Sniffs a SentencePiece ModelProto: its first field is a repeated piece
 * message (tag 0x0A, a varint length) whose own first field is the piece
 * string (tag 0x0A) -- bytes a CLIP merges text (a "#version" header line)
 * or a gzip stream does not start with. */
int cb_spm_sniff(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
