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

static int parse_image(const cJSON *img, cb_model_config *c)
{
    const char *w = "image.";
    float bg[3];
    if (get_uint(img, "size", w, 1, 4096, &c->image_size) ||
        get_floats(img, "mean", w, c->mean, 3, CB_CONFIG_MEAN_MIN, CB_CONFIG_MEAN_MAX, 0) ||
        get_floats(img, "std", w, c->std, 3, CB_CONFIG_STD_MIN, CB_CONFIG_STD_MAX, 0) ||
        expect_string(img, "resize", w, "shortest_bicubic") ||
        expect_string(img, "crop", w, "center"))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(img, "background")) {
        if (get_floats(img, "background", w, bg, 3, 0, 255, 1))
            return -1;
        for (int i = 0; i < 3; i++)
            c->background[i] = (uint8_t)bg[i];
    }
    return 0;
}

static int parse_text(const cJSON *txt, cb_model_config *c)
{
    const char *w = "text.";
    uint32_t sot, eot, pad;
    const cJSON *var;
    if (get_uint(txt, "context_length", w, 2, 4096, &c->context_length) ||
        expect_string(txt, "tokenizer", w, "clip_bpe") ||
        get_string(txt, "merges_file", w, c->merges_file, sizeof c->merges_file) ||
        get_uint(txt, "vocab_size", w, 515, 1u << 24, &c->vocab_size) ||
        get_uint(txt, "sot_id", w, 0, c->vocab_size - 1, &sot) ||
        get_uint(txt, "eot_id", w, 0, c->vocab_size - 1, &eot) ||
        get_uint(txt, "pad_id", w, 0, c->vocab_size - 1, &pad))
        return -1;
    c->sot_id = (int32_t)sot;
    c->eot_id = (int32_t)eot;
    c->pad_id = (int32_t)pad;
    var = member(txt, "variable_length", cJSON_True | cJSON_False, w);
    if (!var)
        return -1;
    c->variable_length = cJSON_IsTrue(var);
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
    if (out->sot_id == out->eot_id) {
        cb_fail(CEREBRO_E_FORMAT, "config.json: text.sot_id and text.eot_id are equal");
        goto done;
    }
    st = CEREBRO_OK;
done:
    cJSON_Delete(root);
    return st;
}
