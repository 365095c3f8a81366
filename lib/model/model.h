/* Internal view of cerebro_model, shared by model.c and encode.c. */
#ifndef CEREBRO_MODEL_H
#define CEREBRO_MODEL_H

#include "cerebro/cerebro.h"
#include "model/config.h"
#include "model/torch_shim.h"

struct cerebro_model {
    cb_torch *torch;
    cb_model_config config;
    char *config_json; /* the bundle's text, or the defaults used for a CLIP checkpoint */
    char id[65];       /* sha256 of the file */
    cerebro_tokenizer *tokenizer;
    int bf16;
    uint32_t threads; /* n_threads as opened (>= 1) */
};

/* L2-normalises n rows of dim floats in place (zero rows stay zero). */
void cb_normalize_rows(float *v, size_t n, uint32_t dim);

/* Encodes n preprocessed tensors in batches of at most `batch`. */
cerebro_status cb_model_encode_pixels(const cerebro_model *m, const float *pixels, size_t n,
                                      size_t batch, float *out);
/* The same; alone != 0 runs each batch on the calling thread only (see
 * cb_torch_encode_image), for a caller whose other threads keep the cores busy. */
cerebro_status cb_model_encode_pixels_on(const cerebro_model *m, const float *pixels, size_t n,
                                         size_t batch, int alone, float *out);

/* 1 if the CPU has AMX-BF16 or AVX512-BF16. */
int cb_cpu_has_bf16(void);

#endif
