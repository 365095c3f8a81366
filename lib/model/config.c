/* Strict reader for cerebro/config.json: every field is type- and
 * range-checked, and errors name the field. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/config.h"

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

void cb_model_config_clip_defaults(cb_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->format_version = 0;
    snprintf(c->name, sizeof c->name, "openai-clip");
    c->image_size = 224;
    memcpy(c->mean, clip_mean, sizeof clip_mean);
    memcpy(c->std, clip_std, sizeof clip_std);
    memset(c->background, 255, 3);
    c->context_length = 77;
    c->vocab_size = 49408;
    c->sot_id = 49406;
    c->eot_id = 49407;
    c->pad_id = 0;
    c->variable_length = 0; /* OpenAI's modules add a fixed 77-row positional embedding */
    snprintf(c->merges_file, sizeof c->merges_file, "cerebro/merges.txt");
}

static const cJSON *member(const cJSON *obj, const char *key, int type, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: missing field %s%s", where, key);
        return NULL;
    }
    if (!(v->type & type)) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: field %s%s has the wrong type", where, key);
        return NULL;
    }
    return v;
}

static int get_uint(const cJSON *obj, const char *key, const char *where, double lo, double hi,
                    uint32_t *out)
{
    const cJSON *v = member(obj, key, cJSON_Number, where);
    if (!v)
        return -1;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || floor(d) != d) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s = %g is not an integer in %g..%g", where, key,
                d, lo, hi);
        return -1;
    }
    *out = (uint32_t)d;
    return 0;
}

static int get_string(const cJSON *obj, const char *key, const char *where, char *out, size_t cap)
{
    const cJSON *v = member(obj, key, cJSON_String, where);
    if (!v)
        return -1;
    if (strlen(v->valuestring) >= cap) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s is longer than %zu bytes", where, key, cap - 1);
        return -1;
    }
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

static int expect_string(const cJSON *obj, const char *key, const char *where, const char *want)
{
    char got[64];
    if (get_string(obj, key, where, got, sizeof got) != 0)
        return -1;
    if (strcmp(got, want) != 0) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s is \"%s\"; this library supports \"%s\"",
                where, key, got, want);
        return -1;
    }
    return 0;
}

/* Reads n numbers into out, each checked after the conversion to float (a
 * double such as 2.6e-92 passes "> 0" but becomes 0.0f, and 1e39 becomes
 * inf): finite and within lo..hi as a float, and an integer when integral is
 * set. */
static int get_floats(const cJSON *obj, const char *key, const char *where, float *out, int n,
                      float lo, float hi, int integral)
{
    const cJSON *v = member(obj, key, cJSON_Array, where), *e;
    int i = 0;
    if (!v)
        return -1;
    if (cJSON_GetArraySize(v) != n) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s must have %d numbers", where, key, n);
        return -1;
    }
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e)) {
            cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s[%d] is not a number", where, key, i);
            return -1;
        }
        double d = e->valuedouble;
        float f = (float)d;
        if (!isfinite(f) || !(f >= lo && f <= hi) || (integral && floor(d) != d)) {
            cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s[%d] = %g is not %s in %g..%g", where, key,
                    i, d, integral ? "an integer" : "a number", (double)lo, (double)hi);
            return -1;
        }
        out[i++] = f;
    }
    return 0;
}

/* A number, checked as a float after the conversion (as get_floats). */
static int get_float(const cJSON *obj, const char *key, const char *where, float lo, float hi,
                     float *out)
{
    const cJSON *v = member(obj, key, cJSON_Number, where);
    if (!v)
        return -1;
    float f = (float)v->valuedouble;
    if (!isfinite(f) || !(f >= lo && f <= hi)) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s = %g is not a number in %g..%g", where, key,
                v->valuedouble, (double)lo, (double)hi);
        return -1;
    }
    *out = f;
    return 0;
}

/* A string field that must be one of `choices` (n of them): *index gets
 * its position. */
static int get_choice(const cJSON *obj, const char *key, const char *where,
                      const char *const *choices, int n, int *index)
{
    char got[64], list[160] = "";
    if (get_string(obj, key, where, got, sizeof got) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(got, choices[i]) == 0) {
            *index = i;
            return 0;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 choices[i]);
    }
    cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s is \"%s\"; this library supports %s", where, key,
            got, list);
    return -1;
}

/* An optional boolean (absent: fallback). */
static int get_bool(const cJSON *obj, const char *key, const char *where, int required,
                    int fallback, int *out)
{
    const cJSON *v;
    if (!required && !cJSON_GetObjectItemCaseSensitive(obj, key)) {
        *out = fallback;
        return 0;
    }
    if (!(v = member(obj, key, cJSON_True | cJSON_False, where)))
        return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

static int parse_image(const cJSON *img, cb_model_config *c)
{
    static const char *const resizes[] = {"shortest_bicubic", "squash_bicubic"};
    /* What each resize rule needs from image.crop. */
    static const char *const crops[] = {"center", "none"};
    const char *w = "image.";
    float bg[3];
    int resize;
    if (get_uint(img, "size", w, 1, 4096, &c->image_size) ||
        get_floats(img, "mean", w, c->mean, 3, CB_CONFIG_MEAN_MIN, CB_CONFIG_MEAN_MAX, 0) ||
        get_floats(img, "std", w, c->std, 3, CB_CONFIG_STD_MIN, CB_CONFIG_STD_MAX, 0) ||
        get_choice(img, "resize", w, resizes, 2, &resize))
        return -1;
    {
        char crop[64];
        if (get_string(img, "crop", w, crop, sizeof crop))
            return -1;
        if (strcmp(crop, crops[resize]) != 0) {
            cb_fail(CEREBRO_E_FORMAT,
                    "config.json: image.crop is \"%s\"; image.resize \"%s\" needs crop \"%s\"",
                    crop, resizes[resize], crops[resize]);
            return -1;
        }
    }
    c->resize = resize == 0 ? CEREBRO_RESIZE_SHORTEST_CROP : CEREBRO_RESIZE_SQUASH;
    if (cJSON_GetObjectItemCaseSensitive(img, "background")) {
        if (get_floats(img, "background", w, bg, 3, 0, 255, 1))
            return -1;
        for (int i = 0; i < 3; i++)
            c->background[i] = (uint8_t)bg[i];
    }
    return 0;
}

/* A signed id in lo..hi. */
static int get_id(const cJSON *obj, const char *key, const char *where, int32_t lo, uint32_t hi,
                  int32_t *out)
{
    uint32_t u;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (lo < 0 && v && cJSON_IsNumber(v) && v->valuedouble == lo) {
        *out = lo;
        return 0;
    }
    if (get_uint(obj, key, where, 0, hi, &u)) {
        if (lo < 0)
            cb_fail(CEREBRO_E_FORMAT, "config.json: %s%s must be %d (none) or an id in 0..%u",
                    where, key, lo, hi);
        return -1;
    }
    *out = (int32_t)u;
    return 0;
}

static int parse_text(const cJSON *txt, cb_model_config *c)
{
    static const char *const tokenizers[] = {"clip_bpe", "sentencepiece"};
    static const char *const poolings[] = {"eot_argmax", "last"};
    const char *w = "text.";
    int kind, pooling = CB_POOLING_EOT_ARGMAX, spm;
    if (get_uint(txt, "context_length", w, 2, 4096, &c->context_length) ||
        get_choice(txt, "tokenizer", w, tokenizers, 2, &kind))
        return -1;
    spm = kind == CB_TOKENIZER_SENTENCEPIECE;
    c->tokenizer = spm ? CB_TOKENIZER_SENTENCEPIECE : CB_TOKENIZER_CLIP_BPE;
    if (spm ? get_string(txt, "spm_file", w, c->spm_file, sizeof c->spm_file)
            : get_string(txt, "merges_file", w, c->merges_file, sizeof c->merges_file))
        return -1;
    /* CLIP BPE needs its 512 byte symbols, 2 specials and a merge. */
    if (get_uint(txt, "vocab_size", w, spm ? 1 : 515, 1u << 24, &c->vocab_size) ||
        get_id(txt, "sot_id", w, spm ? -1 : 0, c->vocab_size - 1, &c->sot_id) ||
        get_id(txt, "eot_id", w, 0, c->vocab_size - 1, &c->eot_id) ||
        get_id(txt, "pad_id", w, 0, c->vocab_size - 1, &c->pad_id) ||
        get_bool(txt, "variable_length", w, 1, 0, &c->variable_length))
        return -1;
    if (spm && (get_bool(txt, "lowercase", w, 1, 0, &c->lowercase) ||
                get_bool(txt, "canonicalize", w, 0, 0, &c->canonicalize)))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(txt, "pooling") &&
        get_choice(txt, "pooling", w, poolings, 2, &pooling))
        return -1;
    c->pooling = pooling == 1 ? CB_POOLING_LAST : CB_POOLING_EOT_ARGMAX;
    /* Pooling at the last position reads the padded row's end: every row
     * must have the full length. */
    if (c->pooling == CB_POOLING_LAST && c->variable_length) {
        cb_fail(CEREBRO_E_FORMAT,
                "config.json: text.pooling \"last\" needs text.variable_length false (rows "
                "padded to context_length)");
        return -1;
    }
    return 0;
}

cerebro_status cb_model_config_parse(const char *json, size_t len, cb_model_config *out)
{
    cJSON *root;
    const cJSON *v;
    uint32_t version;
    cerebro_status st = CEREBRO_E_FORMAT;

    memset(out, 0, sizeof *out);
    memset(out->background, 255, 3);
    if (len > CB_CONFIG_MAX_BYTES)
        return cb_fail(CEREBRO_E_LIMIT, "config.json: %zu bytes, over the limit of %u", len,
                       CB_CONFIG_MAX_BYTES);
    root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return cb_fail(CEREBRO_E_FORMAT, "config.json: not a JSON object");
    }
    if (expect_string(root, "format", "", "cerebro-bundle") ||
        get_uint(root, "format_version", "", 0, 1e9, &version))
        goto done;
    if (version != CB_CONFIG_FORMAT_VERSION) {
        st = cb_fail(CEREBRO_E_UNSUPPORTED,
                     "config.json: schema version %u; this library reads version %u", version,
                     CB_CONFIG_FORMAT_VERSION);
        goto done;
    }
    out->format_version = version;
    if (get_string(root, "name", "", out->name, sizeof out->name) ||
        get_uint(root, "embed_dim", "", 1, 65536, &out->embed_dim))
        goto done;
    if (!(v = member(root, "image", cJSON_Object, "")) || parse_image(v, out))
        goto done;
    if (!(v = member(root, "text", cJSON_Object, "")) || parse_text(v, out))
        goto done;
    if (out->sot_id >= 0 && out->sot_id == out->eot_id) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: text.sot_id and text.eot_id are equal");
        goto done;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "relevance")) {
        if (!(v = member(root, "relevance", cJSON_Object, "")) ||
            get_float(v, "size_slope", "relevance.", 0.0f, CB_CONFIG_RELEVANCE_SLOPE_MAX,
                      &out->relevance_slope) ||
            get_float(v, "threshold", "relevance.", CB_CONFIG_RELEVANCE_THRESHOLD_MIN,
                      CB_CONFIG_RELEVANCE_THRESHOLD_MAX, &out->relevance_threshold))
            goto done;
        out->has_relevance = 1;
    }
    st = CEREBRO_OK;
done:
    cJSON_Delete(root);
    return st;
}
