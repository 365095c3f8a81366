/* From a video file to the embeddings of its kept frames. Frames are taken
 * one batch at a time, so memory holds at most `batch` preprocessed frames
 * whatever the video's length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/image.h"
#include "index/frames.h"
#include "model/model.h"
#include "video/video.h"

enum { DEFAULT_MAX_FRAMES = 500 };
#define DEFAULT_INTERVAL 10.0
#define DEFAULT_SCENE 0.3f
#define DEFAULT_DEDUP 0.98f
#define DEFAULT_TIME_LIMIT 120.0

void cb_frame_options_from(const cerebro_add_options *ao, uint32_t batch, uint32_t threads,
                           cb_frame_options *o)
{
    memset(o, 0, sizeof *o);
    o->interval = ao->frame_interval > 0 ? ao->frame_interval : DEFAULT_INTERVAL;
    o->max_frames = ao->max_frames ? ao->max_frames : DEFAULT_MAX_FRAMES;
    o->scene_threshold = ao->scene_threshold > 0 ? ao->scene_threshold : DEFAULT_SCENE;
    o->dedup_threshold = ao->dedup_threshold > 0 ? ao->dedup_threshold : DEFAULT_DEDUP;
    o->time_limit = ao->file_time_limit > 0 ? ao->file_time_limit : DEFAULT_TIME_LIMIT;
    o->batch = batch ? batch : 1;
    o->threads = threads;
    o->fast = ao->mode == CEREBRO_PREPROCESS_FAST;
}

void cb_frames_free(cb_frames *f)
{
    if (!f)
        return;
    free(f->times);
    free(f->vectors);
    memset(f, 0, sizeof *f);
}

static float dot(const float *a, const float *b, uint32_t n)
{
    float s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* More room for kept frames: memory follows what a video yields, not
 * max_frames. */
static int grow(cb_frames *f, uint32_t dim, uint32_t max_frames)
{
    size_t cap = f->cap ? f->cap * 2 : 16;
    if (cap > max_frames)
        cap = max_frames;
    double *t = realloc(f->times, cap * sizeof *t);
    if (!t)
        return -1;
    f->times = t;
    float *v = realloc(f->vectors, cap * dim * sizeof *v);
    if (!v)
        return -1;
    f->vectors = v;
    f->cap = cap;
    return 0;
}

/* The frames of one batch waiting for the model. */
typedef struct pending {
    float *pixels; /* batch * per */
    double *times;
    size_t n;
} pending;

/* Encodes the pending frames and keeps those that are not near-duplicates
 * of the last kept one, up to max_frames. */
static cerebro_status flush(const cerebro_model *m, const cb_frame_options *o, pending *p, float *emb,
                            cb_frames *out)
{
    uint32_t dim = cerebro_model_dim(m);
    double t0 = cb_now();
    cerebro_status st;

    if (p->n == 0)
        return CEREBRO_OK;
    st = cb_model_encode_pixels(m, p->pixels, p->n, p->n, emb);
    out->encode_s += cb_now() - t0;
    if (st != CEREBRO_OK)
        return st;
    out->sampled += p->n;
    for (size_t i = 0; i < p->n && out->n < o->max_frames; i++) {
        const float *e = emb + i * dim;
        if (out->n == out->cap && grow(out, dim, o->max_frames) != 0)
            return cb_fail(CEREBRO_E_NOMEM, "out of memory for %zu video frames", out->n + 1);
        if (o->dedup_threshold < 1.0f && out->n > 0 &&
            dot(e, out->vectors + (out->n - 1) * dim, dim) > o->dedup_threshold)
            continue;
        memcpy(out->vectors + out->n * dim, e, dim * sizeof(float));
        out->times[out->n++] = p->times[i];
    }
    p->n = 0;
    return CEREBRO_OK;
}

cerebro_status cb_frames_encode(const cerebro_model *model, const char *path,
                                const cerebro_image_options *iopts, const cb_frame_options *o,
                                cb_frames *out)
{
    uint32_t dim = cerebro_model_dim(model);
    size_t per = cerebro_image_tensor_size(iopts);
    cb_video_limits limits = {iopts->max_pixels, o->time_limit, o->fast ? iopts->size : 0, o->threads};
    uint8_t thumb[CB_SCENE_BYTES];
    cb_video *v = NULL;
    cb_sampler sampler;
    pending p = {NULL, NULL, 0};
    float *emb = NULL;
    cerebro_status st, end;
    double t, t0 = cb_now(), next_tick = t0 + CB_FRAMES_TICK_S;
    int abandon = 0; /* the model failed or the caller cancelled */

    memset(out, 0, sizeof *out);
    if ((st = cb_video_open(&v, path, &limits)) != CEREBRO_OK)
        return st;
    out->width = cb_video_width(v);
    out->height = cb_video_height(v);
    p.pixels = malloc((size_t)o->batch * per * sizeof(float));
    p.times = malloc(o->batch * sizeof *p.times);
    emb = malloc((size_t)o->batch * dim * sizeof(float));
    if (!p.pixels || !p.times || !emb) {
        st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory for a batch of %u frames", path, o->batch);
        goto done;
    }
    /* A long video spreads its max_frames over its whole length instead of
     * spending them all on the beginning. */
    double interval = o->interval, duration = cb_video_duration(v);
    if (duration > 0 && duration / o->max_frames > interval)
        interval = duration / o->max_frames;
    cb_sampler_init(&sampler, interval, o->scene_threshold);
    while (out->n < o->max_frames && (st = cb_video_next(v, &t)) == CEREBRO_OK) {
        cerebro_image *img = NULL;
        out->decoded++;
        if (o->tick && (out->decoded % CB_FRAMES_TICK_N == 0 || cb_now() >= next_tick)) {
            next_tick = cb_now() + CB_FRAMES_TICK_S;
            if (o->tick(o->tick_user)) {
                st = cb_fail(CEREBRO_E_CANCELLED, "%s: cancelled while decoding", path);
                abandon = 1; /* the pending frames are not encoded */
                out->n = 0;
                break;
            }
        }
        if ((st = cb_video_scene_thumb(v, thumb)) != CEREBRO_OK)
            break;
        if (!cb_sampler_take(&sampler, t, thumb))
            continue;
        if ((st = cb_video_rgb(v, &img)) != CEREBRO_OK)
            break;
        st = cerebro_image_preprocess(img, iopts, p.pixels + p.n * per);
        cerebro_image_free(img);
        if (st != CEREBRO_OK) {
            cb_error_prefix(path);
            break;
        }
        p.times[p.n++] = t;
        if (p.n == o->batch) {
            out->decode_s += cb_now() - t0;
            st = flush(model, o, &p, emb, out);
            t0 = cb_now();
            if (st != CEREBRO_OK) {
                abandon = 1;
                break;
            }
        }
    }
    out->decode_s += cb_now() - t0;
    end = st;
    if (!abandon) {
        /* The frames decoded before an error still count. */
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", cerebro_last_error());
        st = flush(model, o, &p, emb, out);
        if (st == CEREBRO_OK && end != CB_VIDEO_END && end != CEREBRO_OK)
            st = cb_fail(end, "%s", saved);
    }
done:
    free(p.pixels);
    free(p.times);
    free(emb);
    cb_video_close(v);
    return st;
}
