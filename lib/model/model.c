/* cerebro_model: loading bundles and OpenAI CLIP checkpoints, accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/core.h"
#include "core/sha256.h"
#include "model/model.h"
#include "text/spm.h"
#include "text/text.h"

int cb_cpu_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)))
        return 1; /* AMX-BF16 */
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)))
        return 1; /* AVX512-BF16 */
#endif
    return 0;
}

static cerebro_status check_options(const cerebro_model_options *o)
{
    if (o->version < 1 || o->version > CEREBRO_MODEL_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "model options: unknown version %u", o->version);
    if (o->precision > CEREBRO_PRECISION_BF16)
        return cb_fail(CEREBRO_E_INVALID, "model options: unknown precision %u", o->precision);
    if (o->n_threads > 1024)
        return cb_fail(CEREBRO_E_INVALID, "model options: n_threads %u is over 1024", o->n_threads);
    if (o->reserved != 0)
        return cb_fail(CEREBRO_E_INVALID, "model options: reserved field must be 0");
    return CEREBRO_OK;
}

/* The config JSON we report for checkpoints that carry none. */
static char *describe_defaults(const cb_model_config *c)
{
    char *s = malloc(1024);
    if (!s)
        return NULL;
    snprintf(s, 1024,
             "{\"format\": \"cerebro-bundle\", \"format_version\": 0, \"name\": \"%s\", "
             "\"embed_dim\": %u, \"image\": {\"size\": %u, \"mean\": [%.8g, %.8g, %.8g], "
             "\"std\": [%.8g, %.8g, %.8g], \"resize\": \"shortest_bicubic\", \"crop\": \"center\", "
             "\"background\": [255, 255, 255]}, \"text\": {\"context_length\": %u, "
             "\"tokenizer\": \"clip_bpe\", \"vocab_size\": %u, \"sot_id\": %d, \"eot_id\": %d, "
             "\"pad_id\": 0, \"variable_length\": false}}",
             c->name, c->embed_dim, c->image_size, c->mean[0], c->mean[1], c->mean[2], c->std[0],
             c->std[1], c->std[2], c->context_length, c->vocab_size, c->sot_id, c->eot_id);
    return s;
}

/* A SentencePiece bundle's tokenizer: the model proto stored in the
 * archive under text.spm_file, framed by the config's ids and rules. */
static cerebro_status load_spm(cerebro_model *m, const char *path, const char *spm,
                               size_t spm_len)
{
    const cb_model_config *c = &m->config;
    cb_spm_rules rules = {c->vocab_size, c->sot_id, c->eot_id, c->lowercase, c->canonicalize};
    char *own = NULL;
    size_t own_len = 0;
    cerebro_status st;

    if (strcmp(c->spm_file, "cerebro/spm.model") != 0) {
        if ((st = cb_torch_extra_file(path, c->spm_file, &own, &own_len)) != CEREBRO_OK)
            return st;
        spm = own;
        spm_len = own_len;
    }
    if (!spm)
        return cb_fail(CEREBRO_E_FORMAT, "%s: bundle has no SentencePiece model %s", path, c->spm_file);
    st = cb_tokenizer_from_spm(spm, spm_len, &rules, c->spm_file, &m->tokenizer);
    free(own);
    if (st != CEREBRO_OK)
        cb_error_prefix(path);
    return st;
}

/* Reads config + tokenizer from the archive (or CLIP defaults + vocab_path). */
static cerebro_status load_config(cerebro_model *m, const char *path, char *config, char *merges,
                                  size_t merges_len, const char *spm, size_t spm_len,
                                  const char *vocab_path)
{
    cerebro_status st;
    char *own_merges = NULL;
    size_t own_len = 0;

    if (config) {
        st = cb_model_config_parse(config, strlen(config), &m->config);
        if (st != CEREBRO_OK) {
            cb_error_prefix(path);
            return st;
        }
        m->config_json = config;
        if (m->config.tokenizer == CB_TOKENIZER_SENTENCEPIECE)
            return load_spm(m, path, spm, spm_len);
        if (strcmp(m->config.merges_file, "cerebro/merges.txt") != 0) {
            if ((st = cb_torch_extra_file(path, m->config.merges_file, &own_merges, &own_len)) != CEREBRO_OK)
                return st;
            merges = own_merges;
            merges_len = own_len;
        }
    } else {
        cb_model_config_clip_defaults(&m->config);
        if (!vocab_path && !merges)
            return cb_fail(CEREBRO_E_INVALID,
                           "%s: archive has no cerebro/config.json (an OpenAI CLIP checkpoint?): "
                           "pass the CLIP BPE vocabulary as vocab_path",
                           path);
    }
    if (vocab_path && !merges)
        st = cerebro_tokenizer_open(&m->tokenizer, vocab_path);
    else if (merges)
        st = cb_tokenizer_from_merges(merges, merges_len, m->config.vocab_size,
                                      (uint32_t)m->config.sot_id, (uint32_t)m->config.eot_id,
                                      &m->tokenizer);
    else
        st = cb_fail(CEREBRO_E_FORMAT, "%s: bundle has no merges file %s", path, m->config.merges_file);
    free(own_merges);
    if (st != CEREBRO_OK)
        cb_error_prefix(path);
    return st;
}

/* One text and one image forward pass: the archive really works and its
 * outputs have the width the config promises. */
static cerebro_status probe(cerebro_model *m, const char *path)
{
    /* The empty text: [sot] eot, padded unless the tower takes any length. */
    size_t used = m->config.sot_id >= 0 ? 2 : 1;
    size_t len = m->config.variable_length ? used : m->config.context_length;
    int64_t *padded = calloc(len, sizeof *padded);
    uint32_t dim = 0;
    cerebro_status st;

    if (!padded)
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < len; i++)
        padded[i] = m->config.pad_id;
    if (m->config.sot_id >= 0)
        padded[0] = m->config.sot_id;
    padded[used - 1] = m->config.eot_id;
    st = cb_torch_probe_text_dim(m->torch, padded, len, &dim);
    free(padded);
    if (st != CEREBRO_OK) {
        cb_error_prefix(path);
        return st;
    }
    if (m->config.embed_dim == 0)
        m->config.embed_dim = dim; /* checkpoints without a config */
    if (dim != m->config.embed_dim)
        return cb_fail(CEREBRO_E_MISMATCH, "%s: encode_text gives %u values; config says embed_dim %u",
                       path, dim, m->config.embed_dim);

    size_t s = m->config.image_size;
    float *pixels = calloc(3 * s * s, sizeof *pixels), *out = malloc(dim * sizeof *out);
    if (!pixels || !out)
        st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    else if ((st = cb_torch_encode_image(m->torch, pixels, 1, (uint32_t)s, dim, out, 0)) != CEREBRO_OK)
        cb_error_prefix(path);
    free(pixels);
    free(out);
    return st;
}

/* Precision AUTO, where the CPU computes bf16 natively (AVX512-BF16, AMX):
 * bf16 is kept only if this model's embeddings stay within
 * CB_BF16_MIN_COSINE of fp32's on a probe image and text; otherwise the fp32
 * weights are loaded again. Speed is not timed at load: on a busy machine a
 * timing would make two processes choose differently for the same model
 * and their embeddings disagree; bench/bench_model.py measures the ratio
 * (3.4x for ViT-B/32 on this project's machine, docs/threads.md). */
#define CB_BF16_MIN_COSINE 0.999

static cerebro_status encode_probe(cerebro_model *m, const float *pixels, float *out)
{
    static const char *const text[] = {"a photo of a dog in the snow"};
    cerebro_status st = cb_model_encode_pixels(m, pixels, 1, 1, out);
    return st != CEREBRO_OK ? st : cerebro_model_encode_text(m, text, 1, out + m->config.embed_dim);
}

static cerebro_status choose_precision(cerebro_model *m, const char *path, uint32_t threads)
{
    uint32_t dim = m->config.embed_dim, s = m->config.image_size;
    size_t per = (size_t)3 * s * s;
    float *pixels = malloc(per * sizeof *pixels), *ref = malloc(4 * (size_t)dim * sizeof *ref);
    float *got = ref + 2 * (size_t)dim;
    cerebro_status st = CEREBRO_OK;
    double worst = 1;
    uint32_t x = 2463534242u;

    if (!pixels || !ref) {
        free(pixels);
        free(ref);
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    }
    /* A smooth picture with some texture, in normalised units. */
    for (size_t i = 0; i < per; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t c = i / ((size_t)s * s), yx = i % ((size_t)s * s);
        pixels[i] = (float)((double)(yx / s + c * 7) / s + (double)(yx % s) / (2.0 * s) - 0.75 +
                            0.25 * ((double)(x >> 8) / (1u << 24) - 0.5));
    }
    st = encode_probe(m, pixels, ref);
    if (st == CEREBRO_OK && (st = cb_torch_to_bf16(m->torch)) == CEREBRO_OK) {
        m->bf16 = 1;
        st = encode_probe(m, pixels, got);
    }
    for (int row = 0; row < 2 && st == CEREBRO_OK; row++) {
        double dot = 0;
        for (uint32_t j = 0; j < dim; j++)
            dot += (double)ref[row * dim + j] * got[row * dim + j];
        worst = dot < worst ? dot : worst;
    }
    free(pixels);
    free(ref);
    if (st != CEREBRO_OK) {
        cb_error_prefix(path);
        return st;
    }
    if (worst >= CB_BF16_MIN_COSINE)
        return CEREBRO_OK;
    /* fp32 it is: the weights were rounded, so load them again. */
    char *config = NULL, *merges = NULL, *spm = NULL;
    size_t merges_len = 0, spm_len = 0;
    cb_torch *fresh = NULL;
    st = cb_torch_load(path, threads, &fresh, &config, &merges, &merges_len, &spm, &spm_len);
    free(config);
    free(merges);
    free(spm);
    if (st != CEREBRO_OK)
        return st;
    cb_torch_free(m->torch);
    m->torch = fresh;
    m->bf16 = 0;
    return CEREBRO_OK;
}

cerebro_status cerebro_model_open(cerebro_model **out, const char *path,
                                  const cerebro_model_options *opts)
{
    cerebro_model_options defaults;
    cerebro_model *m = NULL;
    uint8_t digest[32];
    char *config = NULL, *merges = NULL, *spm = NULL;
    size_t merges_len = 0, spm_len = 0;
    struct stat sb;
    uint32_t threads;
    cerebro_status st;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_open: out is NULL");
    *out = NULL;
    if (!path)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_open: path is NULL");
    if (!opts) {
        cerebro_model_options_init(&defaults);
        opts = &defaults;
    }
    if ((st = check_options(opts)) != CEREBRO_OK)
        return st;
    if (stat(path, &sb) != 0)
        return cb_fail(CEREBRO_E_NOT_FOUND, "%s: no such model file", path);
    if (!S_ISREG(sb.st_mode))
        return cb_fail(CEREBRO_E_IO, "%s: not a regular file", path);
    if ((st = cb_sha256_file(path, digest)) != CEREBRO_OK)
        return st;
    if (!(m = calloc(1, sizeof *m)))
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    cb_sha256_hex(digest, m->id);

    threads = opts->n_threads ? opts->n_threads : cb_online_cpus();
    m->threads = threads ? threads : 1;
    st = cb_torch_load(path, threads, &m->torch, &config, &merges, &merges_len, &spm, &spm_len);
    if (st == CEREBRO_E_MODEL)
        st = CEREBRO_E_FORMAT; /* libtorch could not read it: not a TorchScript archive */
    if (st != CEREBRO_OK)
        goto fail;
    st = load_config(m, path, config, merges, merges_len, spm, spm_len, opts->vocab_path);
    config = m->config_json == config ? NULL : config; /* now owned by m */
    if (st != CEREBRO_OK)
        goto fail;
    if ((st = probe(m, path)) != CEREBRO_OK)
        goto fail;
    /* A checkpoint without a config is described once embed_dim is known. */
    if (!m->config_json && !(m->config_json = describe_defaults(&m->config))) {
        st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (opts->precision == CEREBRO_PRECISION_BF16) {
        if ((st = cb_torch_to_bf16(m->torch)) != CEREBRO_OK)
            goto fail;
        m->bf16 = 1;
    } else if (opts->precision == CEREBRO_PRECISION_AUTO && cb_cpu_has_bf16() &&
               (st = choose_precision(m, path, threads)) != CEREBRO_OK) {
        goto fail;
    }
    free(config);
    free(merges);
    free(spm);
    *out = m;
    return CEREBRO_OK;
fail:
    free(config);
    free(merges);
    free(spm);
    cerebro_model_free(m);
    return st;
}

cerebro_precision cerebro_model_precision(const cerebro_model *m)
{
    return !m ? CEREBRO_PRECISION_AUTO : m->bf16 ? CEREBRO_PRECISION_BF16 : CEREBRO_PRECISION_FP32;
}

void cerebro_model_free(cerebro_model *m)
{
    if (!m)
        return;
    cb_torch_free(m->torch);
    cerebro_tokenizer_free(m->tokenizer);
    free(m->config_json);
    free(m);
}

uint32_t cerebro_model_dim(const cerebro_model *m)
{
    return m ? m->config.embed_dim : 0;
}

const char *cerebro_model_id(const cerebro_model *m)
{
    return m ? m->id : "";
}

const char *cerebro_model_name(const cerebro_model *m)
{
    return m ? m->config.name : "";
}

uint32_t cerebro_model_context_length(const cerebro_model *m)
{
    return m ? m->config.context_length : 0;
}

const char *cerebro_model_config_json(const cerebro_model *m)
{
    return m ? m->config_json : "";
}

const cerebro_tokenizer *cerebro_model_tokenizer(const cerebro_model *m)
{
    return m ? m->tokenizer : NULL;
}

cerebro_status cerebro_model_image_options(const cerebro_model *m, cerebro_image_options *out)
{
    if (!m || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_model_image_options: NULL argument");
    cerebro_image_options_init(out);
    out->size = m->config.image_size;
    memcpy(out->mean, m->config.mean, sizeof out->mean);
    memcpy(out->std, m->config.std, sizeof out->std);
    memcpy(out->background, m->config.background, 3);
    out->resize = m->config.resize;
    return CEREBRO_OK;
}
