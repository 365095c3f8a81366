/* The only door to libtorch: a C interface over one C++ file. No C++
 * exception ever crosses it; every failure becomes a status + message. */
#ifndef CEREBRO_TORCH_SHIM_H
#define CEREBRO_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cb_torch cb_torch;

/* Loads a TorchScript archive, reading the extra files cerebro/config.json,
 * cerebro/merges.txt and cerebro/spm.model when present (*config, *merges,
 * *spm: malloc'd, NUL-terminated, NULL when absent). Fails with E_FORMAT if
 * encode_image or encode_text is missing. Sizes libtorch's intra-op pool
 * and OpenBLAS's to n_threads (process-wide); a batch is then split over
 * n_threads threads and a single input runs on the calling thread or the
 * OpenMP team (the top of torch_shim.cpp says when). */
cerebro_status cb_torch_load(const char *path, uint32_t n_threads, cb_torch **out, char **config,
                             char **merges, size_t *merges_len, char **spm, size_t *spm_len);

/* Reads one extra file after the config names it (e.g. a merges file under
 * another name). *data malloc'd, NULL when absent. */
cerebro_status cb_torch_extra_file(const char *path, const char *name, char **data, size_t *len);

/* Converts weights to bfloat16; inputs are converted per call, outputs
 * come back as float32. */
cerebro_status cb_torch_to_bf16(cb_torch *t);

/* pixels: n x 3 x size x size float32; out: n x dim (not normalised).
 * alone: run on the calling thread only (OpenMP and OpenBLAS at one
 * thread), for a caller whose other threads keep the cores busy; 0: the
 * model's own rule (a batch split over its threads). E_MISMATCH if the
 * module's output is not [n, dim]. Thread-safe. */
cerebro_status cb_torch_encode_image(const cb_torch *t, const float *pixels, size_t n, uint32_t size,
                                     uint32_t dim, float *out, int alone);

/* tokens: n x length int64; out: n x dim (not normalised). Thread-safe. */
cerebro_status cb_torch_encode_text(const cb_torch *t, const int64_t *tokens, size_t n,
                                    size_t length, uint32_t dim, float *out);

/* Output width of encode_text for a probe input (used to check the config). */
cerebro_status cb_torch_probe_text_dim(const cb_torch *t, const int64_t *tokens, size_t length,
                                       uint32_t *dim);

void cb_torch_free(cb_torch *t);

#ifdef __cplusplus
}
#endif

#endif
