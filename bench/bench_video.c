/* Video indexing benchmark, the libcerebro side (bench/bench_video.py makes
 * the clip, runs this and a Python reference, and prints them side by side):
 *
 *   bench_video MODEL CLIP [--threads T] [--batch B] [--interval S]
 *               [--precision auto|fp32|bf16]
 *
 * Runs what indexing runs for one video -- decode every frame, score scene
 * changes on a small colour thumbnail, convert and preprocess the frames kept
 * (one every S seconds plus scene changes), encode them with the model and
 * drop near-duplicates -- and, separately, decoding alone. Prints one line
 * "name value unit" per figure: frames decoded per second end to end, and
 * the share of that time spent decoding (decode + sample + preprocess)
 * versus in the model. Links the library's internals (cb_frames_encode
 * reports the split), not only the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cerebro/cerebro.h"
#include "index/frames.h"
#include "video/video.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_video: %s: %s\n", what, cerebro_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    uint32_t threads = 0, batch = 32;
    double interval = 1.0;
    uint32_t precision = CEREBRO_PRECISION_AUTO;
    cerebro_model_options mo;
    cerebro_model *model = NULL;
    cerebro_image_options io;
    cerebro_add_options ao;
    cb_frame_options fo;
    cb_frames f;
    cb_video *v = NULL;
    uint8_t thumb[CB_SCENE_BYTES];
    double t, t0;
    uint64_t n = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_video MODEL CLIP [--threads T] [--batch B] [--interval S] "
                        "[--precision auto|fp32|bf16]\n");
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            batch = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--interval") == 0)
            interval = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--precision") == 0)
            precision = strcmp(argv[i + 1], "fp32") == 0   ? CEREBRO_PRECISION_FP32
                        : strcmp(argv[i + 1], "bf16") == 0 ? CEREBRO_PRECISION_BF16
                                                           : CEREBRO_PRECISION_AUTO;
    }
    cerebro_model_options_init(&mo);
    mo.n_threads = threads;
    mo.precision = precision;
    if (cerebro_model_open(&model, argv[1], &mo) != CEREBRO_OK)
        return fail(argv[1]);
    cerebro_model_image_options(model, &io);
    io.mode = CEREBRO_PREPROCESS_FAST;

    /* Decoding alone: every frame, and the thumbnail the sampler looks at. */
    cb_video_limits lim = {io.max_pixels, 0, 0, threads ? threads : 2};
    t0 = now();
    if (cb_video_open(&v, argv[2], &lim) != CEREBRO_OK)
        return fail(argv[2]);
    printf("clip %ux%u %.1f s\n", cb_video_width(v), cb_video_height(v), cb_video_duration(v));
    while (cb_video_next(v, &t) == CEREBRO_OK) {
        cb_video_scene_thumb(v, thumb);
        n++;
    }
    cb_video_close(v);
    double decode_only = now() - t0;
    printf("decode_only_fps %.1f frames/s\n", (double)n / decode_only);

    /* What indexing does for one video. */
    cerebro_add_options_init(&ao);
    ao.frame_interval = interval;
    cb_frame_options_from(&ao, batch, threads ? threads : 2, &fo);
    t0 = now();
    cerebro_status st = cb_frames_encode(model, argv[2], &io, &fo, &f);
    double total = now() - t0;
    if (st != CEREBRO_OK)
        return fail(argv[2]);
    printf("frames_decoded %llu frames\n", (unsigned long long)f.decoded);
    printf("frames_encoded %llu frames\n", (unsigned long long)f.sampled);
    printf("frames_kept %zu frames\n", f.n);
    printf("total %.3f s\n", total);
    printf("pipeline_fps %.1f frames/s\n", (double)f.decoded / total);
    printf("decode_share %.1f %%\n", 100.0 * f.decode_s / (f.decode_s + f.encode_s));
    printf("encode_rate %.1f frames/s\n", f.encode_s > 0 ? (double)f.sampled / f.encode_s : 0.0);
    cb_frames_free(&f);
    cerebro_model_free(model);
    return 0;
}
