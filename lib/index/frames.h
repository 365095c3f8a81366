/* A video's searchable frames: decode (lib/video), keep scene changes and
 * regular samples, preprocess like stills, encode in bounded batches and
 * drop near-duplicates of the last kept frame. Used by incremental
 * indexing (add.c) and the video benchmark. */
#ifndef CEREBRO_FRAMES_H
#define CEREBRO_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

typedef struct cb_frame_options {
    double interval;       /* max seconds between kept frames (> 0) */
    uint32_t max_frames;   /* max frames kept (> 0) */
    float scene_threshold; /* scene-change score that keeps a frame */
    float dedup_threshold; /* drop a frame whose cosine to the last kept one is above this */
    double time_limit;     /* seconds for the whole file (0: none) */
    uint32_t batch;        /* frames per forward pass (> 0): bounds the frames in flight */
    uint32_t threads;      /* decoder threads */
    int fast;              /* fast preprocessing (frames shrunk before resampling) */
    /* Called while the video decodes, every CB_FRAMES_TICK_S seconds or
     * CB_FRAMES_TICK_N decoded frames, whichever comes first (NULL: never);
     * non-zero stops with CEREBRO_E_CANCELLED and no frames. */
    int (*tick)(void *user);
    void *tick_user;
} cb_frame_options;

#define CB_FRAMES_TICK_S 0.5
#define CB_FRAMES_TICK_N 250

typedef struct cb_frames {
    size_t n;              /* frames kept */
    size_t cap;            /* room in times/vectors (grown as frames are kept) */
    double *times;         /* n timestamps (seconds), ascending */
    float *vectors;        /* n * dim, L2-normalised */
    uint32_t width, height;/* the video's frame size */
    uint64_t decoded;      /* frames decoded */
    uint64_t sampled;      /* frames encoded (before de-duplication) */
    double decode_s;       /* seconds decoding, sampling and preprocessing */
    double encode_s;       /* seconds in the model */
} cb_frames;

/* Fills *out (free with cb_frames_free) for the video at `path`. On an
 * error the frames decoded before it are still in *out and the status and
 * cerebro_last_error() say what went wrong (a truncated file, the time
 * limit); an error with out->n == 0 means nothing usable. */
cerebro_status cb_frames_encode(const cerebro_model *model, const char *path,
                                const cerebro_image_options *iopts, const cb_frame_options *o,
                                cb_frames *out);
void cb_frames_free(cb_frames *f);

/* The add options' video fields with their defaults applied. */
void cb_frame_options_from(const cerebro_add_options *ao, uint32_t batch, uint32_t threads,
                           cb_frame_options *o);

#endif
