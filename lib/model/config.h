/* The model bundle's cerebro/config.json (schema: docs/bundle-format.md). */
#ifndef CEREBRO_MODEL_CONFIG_H
#define CEREBRO_MODEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CB_CONFIG_FORMAT_VERSION 1
#define CB_CONFIG_MAX_BYTES (1u << 20)
/* image.mean and image.std bounds (docs/bundle-format.md): pixels are scaled
 * to 0..1 before normalising, so these keep (x - mean) / std finite and
 * 1 / std a normal float. */
#define CB_CONFIG_MEAN_MIN (-1.0f)
#define CB_CONFIG_MEAN_MAX 2.0f
#define CB_CONFIG_STD_MIN 1e-3f
#define CB_CONFIG_STD_MAX 1e3f

/* text.tokenizer */
typedef enum cb_tokenizer_kind {
    CB_TOKENIZER_CLIP_BPE = 0,     /* "clip_bpe": merges_file */
    CB_TOKENIZER_SENTENCEPIECE = 1 /* "sentencepiece": spm_file */
} cb_tokenizer_kind;

/* text.pooling: how the text tower pools (documentation for the bundle's
 * own encode_text; the library only pads accordingly). */
typedef enum cb_text_pooling {
    CB_POOLING_EOT_ARGMAX = 0, /* "eot_argmax": CLIP, the default */
    CB_POOLING_LAST = 1        /* "last": SigLIP, the last position */
} cb_text_pooling;

typedef struct cb_model_config {
    uint32_t format_version;
    char name[128];
    uint32_t embed_dim;
    uint32_t image_size;
    float mean[3];
    float std[3];
    uint8_t background[3];
    uint32_t resize; /* cerebro_resize_mode, from image.resize + image.crop */
    uint32_t context_length;
    uint32_t vocab_size;
    int32_t sot_id; /* -1: none prepended (SentencePiece only) */
    int32_t eot_id;
    int32_t pad_id;
    int variable_length; /* the text tower accepts unpadded inputs */
    cb_tokenizer_kind tokenizer;
    char merges_file[128]; /* CLIP BPE */
    char spm_file[128];    /* SentencePiece: the model proto in the archive */
    int lowercase;         /* SentencePiece: str.lower() first */
    int canonicalize;      /* SentencePiece: SigLIP's punctuation/whitespace rule */
    cb_text_pooling pooling;
    /* relevance (optional): the calibration `cerebro_train relevance` measured
     * for this model (lib/index/relevance.c); has_relevance 0: the library's
     * fallback (the default model's numbers). */
    int has_relevance;
    float relevance_slope;     /* relevance.size_slope */
    float relevance_threshold; /* relevance.threshold */
} cb_model_config;

/* relevance.size_slope and relevance.threshold bounds. */
#define CB_CONFIG_RELEVANCE_SLOPE_MAX 4.0f
#define CB_CONFIG_RELEVANCE_THRESHOLD_MIN 0.5f
#define CB_CONFIG_RELEVANCE_THRESHOLD_MAX 20.0f

/* Parses and validates config JSON (len bytes). Errors: E_FORMAT (not JSON,
 * wrong field types or values, each named), E_UNSUPPORTED (format version),
 * E_LIMIT (too large). */
cerebro_status cb_model_config_parse(const char *json, size_t len, cb_model_config *out);

/* OpenAI CLIP JIT checkpoints carry no config: CLIP's published values. */
void cb_model_config_clip_defaults(cb_model_config *out);

#ifdef __cplusplus
}
#endif

#endif
