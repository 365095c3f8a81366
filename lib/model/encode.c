/* Encoding texts, tokens, tensors and image files with a loaded model.
 * Image files go through the shared pipeline (pipeline.c); a bad file is
 * reported and skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/sha256.h"
#include "image/image.h"
#include "model/model.h"
#include "model/pipeline.h"

enum { TEXT_BATCH = 64, DEFAULT_IMAGE_BATCH = 32, MAX_BATCH = 1024 };

void cb_normalize_rows(float *v, size_t n, uint32_t dim)
{
    for (size_t i = 0; i < n; i++) {
        float *row = v + i * dim;
        double ss = 0;
        for (uint32_t j = 0; j < dim; j++)
            ss += (double)row[j] * row[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (uint32_t j = 0; j < dim; j++)
                row[j] *= inv;
        }
    }
}

cerebro_status cb_model_encode_pixels(const cerebro_model *m, const float *pixels, size_t n,
                                      size_t batch, float *out)
{
    return cb_model_encode_pixels_on(m, pixels, n, batch, 0, out);
}

cerebro_status cb_model_encode_pixels_on(const cerebro_model *m, const float *pixels, size_t n,
                                         size_t batch, int alone, float *out)
{
    uint32_t dim = m->config.embed_dim, s = m->config.image_size;
    size_t per = (size_t)3 * s * s;
    for (size_t i = 0; i < n; i += batch) {
        size_t k = n - i < batch ? n - i : batch;
        cerebro_status st = cb_torch_encode_image(m->torch, pixels + i * per, k, s, dim, out + i * dim, alone);
        if (st != CEREBRO_OK)
            return st;
        cb_normalize_rows(out + i * dim, k, dim);
    }
    return CEREBRO_OK;
}

cerebro_status cerebro_model_encode_preprocessed(const cerebro_model *m, const float *pixels,
                                                 size_t n, float *out)
{
    if (!m || (!pixels && n) || (!out && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_preprocessed: NULL argument");
    return cb_model_encode_pixels(m, pixels, n, DEFAULT_IMAGE_BATCH, out);
}

/* Runs encode_text on n sequences already laid out as int64 [n, len]. */
static cerebro_status encode_rows(const cerebro_model *m, const int64_t *ids, size_t n, size_t len,
                                  float *out)
{
    cerebro_status st = cb_torch_encode_text(m->torch, ids, n, len, m->config.embed_dim, out);
    if (st == CEREBRO_OK)
        cb_normalize_rows(out, n, m->config.embed_dim);
    return st;
}

cerebro_status cerebro_model_encode_tokens(const cerebro_model *m, const int32_t *tokens, size_t n,
                                           size_t length, float *out)
{
    int64_t *ids;
    cerebro_status st = CEREBRO_OK;

    if (!m || (!tokens && n) || (!out && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_tokens: NULL argument");
    if (length < 1 || length > m->config.context_length ||
        (!m->config.variable_length && length != m->config.context_length))
        return cb_fail(CEREBRO_E_INVALID,
                       "cerebro_model_encode_tokens: length %zu; this model takes %s%u tokens", length,
                       m->config.variable_length ? "1.." : "exactly ", m->config.context_length);
    if (!(ids = malloc(TEXT_BATCH * length * sizeof *ids)))
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_model_encode_tokens: out of memory");
    for (size_t i = 0; i < n && st == CEREBRO_OK; i += TEXT_BATCH) {
        size_t k = n - i < TEXT_BATCH ? n - i : TEXT_BATCH;
        for (size_t j = 0; j < k * length; j++) {
            int32_t t = tokens[i * length + j];
            if (t < 0 || (uint32_t)t >= m->config.vocab_size) {
                st = cb_fail(CEREBRO_E_INVALID, "token %d at [%zu][%zu] outside the vocabulary 0..%u",
                             t, i + j / length, j % length, m->config.vocab_size - 1);
                break;
            }
            ids[j] = t;
        }
        if (st == CEREBRO_OK)
            st = encode_rows(m, ids, k, length, out + i * m->config.embed_dim);
    }
    free(ids);
    return st;
}

cerebro_status cerebro_model_encode_text(const cerebro_model *m, const char *const *texts, size_t n,
                                         float *out)
{
    const uint32_t ctx = m ? m->config.context_length : 0;
    int32_t *tok = NULL;
    size_t *lens = NULL;
    int64_t *ids = NULL;
    cerebro_status st = CEREBRO_OK;

    if (!m || (!texts && n) || (!out && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_text: NULL argument");
    tok = malloc((size_t)TEXT_BATCH * ctx * sizeof *tok);
    lens = malloc(TEXT_BATCH * sizeof *lens);
    ids = malloc((size_t)TEXT_BATCH * ctx * sizeof *ids);
    if (!tok || !lens || !ids) {
        st = cb_fail(CEREBRO_E_NOMEM, "cerebro_model_encode_text: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && st == CEREBRO_OK; i += TEXT_BATCH) {
        size_t k = n - i < TEXT_BATCH ? n - i : TEXT_BATCH, longest = 0;
        for (size_t j = 0; j < k; j++) {
            const char *t = texts[i + j];
            if (!t) {
                st = cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_text: texts[%zu] is NULL", i + j);
                goto done;
            }
            /* Truncation to the context keeps the end token (documented). */
            st = cerebro_tokenizer_encode(m->tokenizer, t, strlen(t), ctx, tok + j * ctx, ctx, &lens[j]);
            if (st != CEREBRO_OK)
                goto done;
            if (lens[j] > ctx)
                lens[j] = ctx;
            longest = lens[j] > longest ? lens[j] : longest;
        }
        /* A causal tower pooled at the end token ignores what follows it, so
         * a batch only needs padding to its longest text (DESIGN.md). */
        size_t len = m->config.variable_length ? longest : ctx;
        for (size_t j = 0; j < k; j++) {
            for (size_t p = 0; p < len; p++)
                ids[j * len + p] = p < lens[j] ? tok[j * ctx + p] : m->config.pad_id;
        }
        st = encode_rows(m, ids, k, len, out + i * m->config.embed_dim);
    }
done:
    free(tok);
    free(lens);
    free(ids);
    return st;
}

/* ---- image files ----------------------------------------------------------- */

typedef struct files_job {
    const char *const *paths;
    const cerebro_image_options *iopts;
    const cerebro_encode_options *opts;
    const cb_decode_params *params; /* set when sizes or hashes are wanted */
    uint32_t dim;
    float *out;
    cerebro_status *statuses;
} files_job;

/* Read, hash, decode and preprocess one file, keeping its size and hash
 * (encode options version 2): the bytes are read once, as
 * cerebro_index_add() reads them, so that the metadata matches its own. */
static cerebro_status prepare_with_metadata(files_job *job, size_t i, const char *path, float *tensor)
{
    uint8_t *data = NULL;
    size_t size = 0;
    cerebro_image *img = NULL;
    cerebro_status st = cb_read_file(path, job->iopts->max_file_bytes, &data, &size);

    if (st == CEREBRO_OK && job->opts->hashes &&
        (st = cb_sha256(data, size, job->opts->hashes + 32 * i)) != CEREBRO_OK)
        cb_error_prefix(path);
    if (st == CEREBRO_OK)
        st = cb_image_decode(data, size, path, job->params, &img);
    free(data);
    if (st != CEREBRO_OK)
        return st;
    if (job->opts->sizes) {
        job->opts->sizes[2 * i] = img->full_width;
        job->opts->sizes[2 * i + 1] = img->full_height;
    }
    if ((st = cerebro_image_preprocess(img, job->iopts, tensor)) != CEREBRO_OK)
        cb_error_prefix(path);
    cerebro_image_free(img);
    return st;
}

static cerebro_status prepare_file(void *user, size_t i, float *tensor, char *msg, size_t cap)
{
    files_job *job = user;
    const char *path = job->paths[i];
    cerebro_status st;

    if (!path)
        st = cb_fail(CEREBRO_E_INVALID, "paths[%zu] is NULL", i);
    else if (job->params)
        st = prepare_with_metadata(job, i, path, tensor);
    else
        st = cerebro_image_preprocess_file(path, job->iopts, tensor);
    if (st != CEREBRO_OK)
        snprintf(msg, cap, "%s", cerebro_last_error());
    return st;
}

static cerebro_status consume_files(void *user, size_t start, size_t count, const float *emb,
                                    const cerebro_status *status,
                                    const char (*msg)[CB_PIPELINE_MSG_CAP])
{
    files_job *job = user;
    memcpy(job->out + start * job->dim, emb, count * job->dim * sizeof(float));
    for (size_t i = 0; i < count; i++) {
        if (job->statuses)
            job->statuses[start + i] = status[i];
        if (status[i] != CEREBRO_OK && job->opts->on_error)
            job->opts->on_error(job->opts->user, start + i, status[i], msg[i]);
    }
    return CEREBRO_OK;
}

static cerebro_status check_encode_options(const cerebro_encode_options *o)
{
    if (o->version < 1 || o->version > CEREBRO_ENCODE_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "encode options: unknown version %u", o->version);
    if (o->mode > CEREBRO_PREPROCESS_FAST)
        return cb_fail(CEREBRO_E_INVALID, "encode options: unknown preprocess mode %u", o->mode);
    if (o->batch_size > MAX_BATCH)
        return cb_fail(CEREBRO_E_LIMIT, "encode options: batch_size %u over %u", o->batch_size, MAX_BATCH);
    return CEREBRO_OK;
}

cerebro_status cerebro_model_encode_image_files(const cerebro_model *m, const char *const *paths,
                                                size_t n, const cerebro_encode_options *opts,
                                                float *out, cerebro_status *statuses)
{
    cerebro_encode_options defaults;
    cerebro_image_options iopts;
    cb_decode_params params;
    cerebro_status st;

    if (!m || (!paths && n) || (!out && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_image_files: NULL argument");
    if (!opts) {
        cerebro_encode_options_init(&defaults);
        opts = &defaults;
    }
    if ((st = check_encode_options(opts)) != CEREBRO_OK)
        return st;
    cerebro_model_image_options(m, &iopts);
    iopts.mode = opts->mode;
    int metadata = opts->version >= 2 && (opts->sizes || opts->hashes);
    if (metadata) {
        if (opts->sizes)
            memset(opts->sizes, 0, 2 * n * sizeof *opts->sizes);
        if (opts->hashes)
            memset(opts->hashes, 0, 32 * n);
        if ((st = cb_decode_params_from(&iopts, opts->mode == CEREBRO_PREPROCESS_FAST, &params)) != CEREBRO_OK)
            return st;
    }
    files_job job = {paths, &iopts, opts, metadata ? &params : NULL, m->config.embed_dim, out, statuses};
    cb_pipeline p = {m,
                     n,
                     opts->batch_size ? opts->batch_size : DEFAULT_IMAGE_BATCH,
                     opts->n_workers ? opts->n_workers : cb_online_cpus(),
                     prepare_file,
                     consume_files,
                     &job};
    return cb_pipeline_run(&p);
}

cerebro_status cerebro_model_encode_image_memory(const cerebro_model *m, const void *data, size_t size,
                                                 const cerebro_encode_options *opts, float *out)
{
    cerebro_image_options iopts;
    cerebro_status st;
    float *pixels;

    if (!m || !data || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_image_memory: NULL argument");
    if (opts && (st = check_encode_options(opts)) != CEREBRO_OK)
        return st;
    cerebro_model_image_options(m, &iopts);
    iopts.mode = opts ? opts->mode : CEREBRO_PREPROCESS_FAST;
    if (!(pixels = malloc(cerebro_image_tensor_size(&iopts) * sizeof *pixels)))
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_model_encode_image_memory: out of memory");
    st = cerebro_image_preprocess_memory(data, size, "image buffer", &iopts, pixels);
    if (st == CEREBRO_OK)
        st = cb_model_encode_pixels(m, pixels, 1, 1, out);
    free(pixels);
    return st;
}

cerebro_status cerebro_model_encode_image(const cerebro_model *m, const cerebro_image *image, float *out)
{
    cerebro_image_options iopts;
    cerebro_status st;
    float *pixels;

    if (!m || !image || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_encode_image: NULL argument");
    cerebro_model_image_options(m, &iopts);
    if (!(pixels = malloc(cerebro_image_tensor_size(&iopts) * sizeof *pixels)))
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_model_encode_image: out of memory");
    st = cerebro_image_preprocess(image, &iopts, pixels);
    if (st == CEREBRO_OK)
        st = cb_model_encode_pixels(m, pixels, 1, 1, out);
    free(pixels);
    return st;
}
