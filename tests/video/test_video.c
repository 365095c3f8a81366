/* lib/video on videos that tests/video/gen_videos.sh writes with ffmpeg:
 * every frame of each format decodes with its timestamp, the sampler keeps
 * the first frame and the scene change at 3 s (also a change of colour
 * alone, at equal brightness), damaged files keep what
 * decodes and say what is wrong, the time limit stops a decode, and
 * cerebro_video_frame_load returns the frame ffmpeg itself extracts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "image/image.h"
#include "video/video.h"

static char path_buf[8][4096];
static int path_next;

/* A generated file's path (valid for the next few calls). */
static const char *media(const char *name)
{
    const char *dir = getenv("CEREBRO_VIDEO_MEDIA");
    char *p = path_buf[path_next++ % 8];
    snprintf(p, sizeof path_buf[0], "%s/%s", dir ? dir : "media", name);
    ck_assert_msg(access(p, R_OK) == 0 || strstr(name, "missing"),
                  "%s is missing: the video_media fixture writes it", p);
    return p;
}

static const cb_video_limits plain = {100000000u, 0, 0, 1};

typedef struct decoded {
    size_t n;
    double times[400];
    size_t n_kept;
    double kept[32];
    cerebro_status end;
    char message[1024];
} decoded;

/* Decodes the whole file, sampling with interval/threshold. */
static void decode_all(const char *path, const cb_video_limits *lim, double interval, float threshold,
                       unsigned sleep_us, decoded *d)
{
    cb_video *v = NULL;
    cb_sampler s;
    uint8_t thumb[CB_SCENE_BYTES];
    double t;
    cerebro_status st;

    memset(d, 0, sizeof *d);
    st = cb_video_open(&v, path, lim);
    ck_assert_msg(st == CEREBRO_OK, "%s: %s", path, cerebro_last_error());
    ck_assert_uint_eq(cb_video_width(v), 320);
    ck_assert_uint_eq(cb_video_height(v), 240);
    cb_sampler_init(&s, interval, threshold);
    while ((st = cb_video_next(v, &t)) == CEREBRO_OK) {
        ck_assert_int_eq(cb_video_scene_thumb(v, thumb), CEREBRO_OK);
        if (d->n < 400)
            d->times[d->n] = t;
        d->n++;
        if (cb_sampler_take(&s, t, thumb) && d->n_kept < 32)
            d->kept[d->n_kept++] = t;
        if (sleep_us)
            usleep(sleep_us);
    }
    d->end = st;
    snprintf(d->message, sizeof d->message, "%s", cerebro_last_error());
    cb_video_close(v);
}

START_TEST(test_formats_decode_and_sample)
{
    static const char *const files[] = {"scenes.mp4", "scenes.webm", "scenes.mkv", "scenes.mov",
                                        "scenes_av1.mkv"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char skip[4096];
        snprintf(skip, sizeof skip, "%s/av1_skipped.txt", getenv("CEREBRO_VIDEO_MEDIA"));
        if (strstr(files[f], "av1") && access(skip, R_OK) == 0) {
            printf("skipping %s: %s has no AV1 encoder (see %s)\n", files[f], "ffmpeg", skip);
            continue;
        }
        decoded d;
        decode_all(media(files[f]), &plain, 10.0, 0.3f, 0, &d);
        ck_assert_msg(d.end == CB_VIDEO_END, "%s: %d %s", files[f], d.end, d.message);
        /* 6 s at 25 fps, timestamps every 40 ms from 0. */
        ck_assert_uint_eq(d.n, 150);
        for (size_t i = 0; i < d.n; i++)
            ck_assert_msg(fabs(d.times[i] - 0.04 * (double)i) < 1e-3, "%s frame %zu at %f", files[f], i,
                          d.times[i]);
        /* The first frame and the cut to the frog, nothing else. */
        ck_assert_msg(d.n_kept == 2, "%s: %zu frames kept", files[f], d.n_kept);
        ck_assert_double_eq_tol(d.kept[0], 0.0, 1e-6);
        ck_assert_double_eq_tol(d.kept[1], 3.0, 1e-6);
    }
}
END_TEST

START_TEST(test_interval)
{
    decoded d;
    /* The owl stands still for 60 s at 5 fps: no scene change, so only the
     * interval keeps frames. */
    decode_all(media("still.mp4"), &plain, 7.0, 0.3f, 0, &d);
    ck_assert_int_eq(d.end, CB_VIDEO_END);
    ck_assert_uint_eq(d.n, 300);
    ck_assert_uint_eq(d.n_kept, 9); /* 0, 7, ..., 56 */
    for (size_t i = 0; i < d.n_kept; i++)
        ck_assert_double_eq_tol(d.kept[i], 7.0 * (double)i, 1e-6);
}
END_TEST

START_TEST(test_scene_score)
{
    cb_sampler s;
    uint8_t a[CB_SCENE_BYTES], b[CB_SCENE_BYTES];
    memset(a, 40, sizeof a);
    memset(b, 200, sizeof b);
    cb_sampler_init(&s, 100, 0.3f);
    ck_assert_float_eq(cb_scene_score(&s, a), 1.0f); /* first frame */
    ck_assert_float_eq(cb_scene_score(&s, a), 0.0f); /* same picture */
    ck_assert_float_eq_tol(cb_scene_score(&s, b), 1.0f, 1e-6); /* a cut: 160 levels */
    /* Steady motion: every pair differs by 20 levels, so only the first
     * step (after a still pair) scores. */
    cb_sampler_init(&s, 100, 0.3f);
    for (int i = 0; i < 6; i++) {
        memset(a, 20 * i, sizeof a);
        float score = cb_scene_score(&s, a);
        if (i >= 2)
            ck_assert_float_eq_tol(score, 0.0f, 1e-6);
        else if (i == 1)
            ck_assert_float_eq_tol(score, 0.2f, 1e-6);
    }
    /* Red, then blue of the same BT.601 luma (76.2, 76.0): a grey
     * thumbnail saw no change at all. */
    for (size_t i = 0; i < CB_SCENE_BYTES; i += 3) {
        a[i] = 255, a[i + 1] = 0, a[i + 2] = 0;
        b[i] = 0, b[i + 1] = 80, b[i + 2] = 255;
    }
    cb_sampler_init(&s, 100, 0.3f);
    cb_scene_score(&s, a);
    ck_assert_float_eq(cb_scene_score(&s, a), 0.0f);
    ck_assert_float_ge(cb_scene_score(&s, b), 0.3f);
    char buf[32];
    cb_video_format_time(83.44, buf, sizeof buf);
    ck_assert_str_eq(buf, "00:01:23.4");
    cb_video_format_time(3725.06, buf, sizeof buf);
    ck_assert_str_eq(buf, "01:02:05.1");
    ck_assert(cb_is_video_name("a/Clip.MP4") && cb_is_video_name("x.webm") && cb_is_video_name("x.mkv"));
    ck_assert(!cb_is_video_name("x.jpg") && !cb_is_video_name(".mp4") && !cb_is_video_name("mp4"));
}
END_TEST

/* Mean R, G, B and BT.601 luma of an RGB image. */
static void image_means(const cerebro_image *img, double m[4])
{
    const size_t n = (size_t)img->width * img->height;
    double sum[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            sum[c] += img->pixels[3 * i + (size_t)c];
    for (int c = 0; c < 3; c++)
        m[c] = sum[c] / (double)n;
    m[3] = 0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2];
}

START_TEST(test_colour_cut)
{
    /* A red disc for 3 s, then a blue one of the same luma (gen_videos.sh):
     * only colour tells the scenes apart, and the second must be kept. */
    cb_video *v = NULL;
    cb_sampler s;
    uint8_t thumb[CB_SCENE_BYTES];
    double t, kept[8], means[8][4];
    size_t n_kept = 0;
    cerebro_status st = cb_video_open(&v, media("colour_cut.mp4"), &plain);
    ck_assert_msg(st == CEREBRO_OK, "%s", cerebro_last_error());
    cb_sampler_init(&s, 10.0, 0.3f);
    while ((st = cb_video_next(v, &t)) == CEREBRO_OK) {
        ck_assert_int_eq(cb_video_scene_thumb(v, thumb), CEREBRO_OK);
        if (!cb_sampler_take(&s, t, thumb))
            continue;
        ck_assert_uint_lt(n_kept, 8);
        cerebro_image *img = NULL;
        ck_assert_int_eq(cb_video_rgb(v, &img), CEREBRO_OK);
        image_means(img, means[n_kept]);
        cerebro_image_free(img);
        kept[n_kept++] = t;
    }
    cb_video_close(v);
    ck_assert_int_eq(st, CB_VIDEO_END);
    ck_assert_msg(n_kept == 2, "%zu frames kept (the cut at 3 s must be one of two)", n_kept);
    ck_assert_double_eq_tol(kept[0], 0.0, 1e-6);
    ck_assert_msg(kept[1] >= 3.0 && kept[1] < 3.2, "second frame kept at %f, not at the cut", kept[1]);
    /* The clip is what it claims: the same brightness, a different colour. */
    ck_assert_msg(fabs(means[0][3] - means[1][3]) < 2.0, "luma %f vs %f", means[0][3], means[1][3]);
    ck_assert_msg(means[0][0] - means[1][0] > 80 && means[1][2] - means[0][2] > 80,
                  "RGB means (%.1f %.1f %.1f) then (%.1f %.1f %.1f)", means[0][0], means[0][1],
                  means[0][2], means[1][0], means[1][1], means[1][2]);
}
END_TEST

START_TEST(test_bad_files)
{
    cb_video *v = NULL;
    cerebro_status st = cb_video_open(&v, media("audio_only.mp4"), &plain);
    ck_assert_int_eq(st, CEREBRO_E_FORMAT);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(cerebro_last_error(), "audio_only.mp4: no video stream"), "%s", cerebro_last_error());

    st = cb_video_open(&v, media("garbage.mp4"), &plain);
    ck_assert_int_eq(st, CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "garbage.mp4: not a video"), "%s", cerebro_last_error());

    st = cb_video_open(&v, media("missing.mp4"), &plain);
    ck_assert_int_eq(st, CEREBRO_E_NOT_FOUND);
    ck_assert_msg(strstr(cerebro_last_error(), "missing.mp4"), "%s", cerebro_last_error());

    /* The frame size is checked before anything is decoded. */
    cb_video_limits small = {320 * 240 - 1, 0, 0, 1};
    st = cb_video_open(&v, media("scenes.mp4"), &small);
    ck_assert_int_eq(st, CEREBRO_E_LIMIT);
    ck_assert_msg(strstr(cerebro_last_error(), "320x240"), "%s", cerebro_last_error());
}
END_TEST

START_TEST(test_truncated)
{
    decoded d;
    decode_all(media("truncated.mkv"), &plain, 1.0, 0.3f, 0, &d);
    /* 12 s declared, the bytes of the first few seconds present: those
     * frames decode, then the end is reported as truncation. */
    ck_assert_int_eq(d.end, CEREBRO_E_CORRUPT);
    ck_assert_msg(strstr(d.message, "truncated.mkv: truncated"), "%s", d.message);
    ck_assert_msg(d.n >= 25 && d.n < 300, "%zu frames", d.n);
    ck_assert_uint_ge(d.n_kept, 2);
}
END_TEST

START_TEST(test_sound_longer_than_picture)
{
    decoded d;
    /* The file lasts 6 s because of its sound; the picture's 3 s are all
     * there, so this is not a truncated file. */
    decode_all(media("long_audio.mkv"), &plain, 10.0, 0.3f, 0, &d);
    ck_assert_msg(d.end == CB_VIDEO_END, "%d %s", d.end, d.message);
    ck_assert_uint_eq(d.n, 75);
}
END_TEST

START_TEST(test_time_limit)
{
    decoded d;
    /* 300 frames with 5 ms of sleep each take at least 1.5 s, so a 0.2 s
     * limit stops the file before its end on any machine. How many frames
     * come before it depends on the machine (none on a loaded one), so only
     * the upper bound is asserted. */
    cb_video_limits lim = plain;
    lim.time_limit = 0.2;
    decode_all(media("still.mp4"), &lim, 7.0, 0.3f, 5000, &d);
    ck_assert_int_eq(d.end, CEREBRO_E_LIMIT);
    ck_assert_msg(strstr(d.message, "still.mp4: stopped after the time limit of 0.2 s per file (decoded up to "),
                  "%s", d.message);
    ck_assert_msg(d.n < 300, "%zu frames", d.n);
}
END_TEST

/* Mean and largest absolute difference of two RGB images of one size. */
static void compare(const cerebro_image *a, const cerebro_image *b, double *mean, int *max)
{
    size_t n = (size_t)cerebro_image_width(a) * cerebro_image_height(a) * 3;
    const uint8_t *p = cerebro_image_pixels(a), *q = cerebro_image_pixels(b);
    uint64_t sum = 0;
    *max = 0;
    ck_assert_uint_eq(cerebro_image_width(a), cerebro_image_width(b));
    ck_assert_uint_eq(cerebro_image_height(a), cerebro_image_height(b));
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)p[i] - (int)q[i]);
        sum += (uint64_t)d;
        if (d > *max)
            *max = d;
    }
    *mean = (double)sum / (double)n;
}

START_TEST(test_frame_load_matches_ffmpeg)
{
    static const char *const kinds[] = {"mp4", "webm"};
    static const char *const times[] = {"0", "1", "4.52"};
    for (size_t k = 0; k < 2; k++) {
        cerebro_image *first = NULL;
        for (size_t i = 0; i < 3; i++) {
            char clip[64], ref[64];
            cerebro_image *ours = NULL, *theirs = NULL;
            double mean;
            int max;
            snprintf(clip, sizeof clip, "scenes.%s", kinds[k]);
            snprintf(ref, sizeof ref, "ref_%s_%s.png", kinds[k], times[i]);
            cerebro_status st = cerebro_video_frame_load(&ours, media(clip), atof(times[i]), NULL);
            ck_assert_msg(st == CEREBRO_OK, "%s @ %s: %s", clip, times[i], cerebro_last_error());
            ck_assert_int_eq(cerebro_image_load_file(&theirs, media(ref), NULL), CEREBRO_OK);
            compare(ours, theirs, &mean, &max);
            /* ffmpeg's PNG output converts YUV to RGB with its own swscale
             * settings; the same frame differs by rounding and chroma
             * interpolation only. A neighbouring frame of the same still
             * scene would pass too: the frame at 4.52 s is 1.52 s from the
             * cut, so picking the wrong scene fails. */
            ck_assert_msg(mean < 1.5 && max <= 48, "%s @ %s: mean %.3f max %d", clip, times[i], mean, max);
            if (i == 0) {
                first = ours;
                ours = NULL;
            } else if (i == 2) {
                compare(ours, first, &mean, &max);
                ck_assert_msg(mean > 10, "the frog frame looks like the tiger frame (%.2f)", mean);
            }
            cerebro_image_free(ours);
            cerebro_image_free(theirs);
        }
        cerebro_image_free(first);
    }
}
END_TEST

START_TEST(test_frame_load_errors)
{
    cerebro_image *img = (cerebro_image *)1;
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("scenes.mp4"), -1, NULL), CEREBRO_E_INVALID);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("scenes.mp4"), NAN, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_video_frame_load(NULL, media("scenes.mp4"), 1, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_video_frame_load(&img, NULL, 1, NULL), CEREBRO_E_INVALID);
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("audio_only.mp4"), 1, NULL), CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "audio_only.mp4: no video stream"), "%s", cerebro_last_error());
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("garbage.mp4"), 0, NULL), CEREBRO_E_FORMAT);
    cerebro_image_options o;
    cerebro_image_options_init(&o);
    o.max_pixels = 1000;
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("scenes.mp4"), 1, &o), CEREBRO_E_LIMIT);
    /* Past the end: the last frame stays on screen. */
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("scenes.mp4"), 100, NULL), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_image_width(img), 320);
    cerebro_image_free(img);
    /* A truncated file still gives the frames it has. */
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("truncated.mkv"), 0.5, NULL), CEREBRO_OK);
    cerebro_image_free(img);
}
END_TEST

/* Four threads load frames of the same files at once (the server does);
 * each must get exactly what one thread alone gets. */
typedef struct loader {
    const char *path;
    double t;
    const cerebro_image *want;
    int ok;
} loader;

static void *load_many(void *arg)
{
    loader *l = arg;
    l->ok = 1;
    for (int i = 0; i < 5; i++) {
        cerebro_image *img = NULL;
        if (cerebro_video_frame_load(&img, l->path, l->t, NULL) != CEREBRO_OK ||
            cerebro_image_width(img) != cerebro_image_width(l->want) ||
            memcmp(cerebro_image_pixels(img), cerebro_image_pixels(l->want),
                   (size_t)cerebro_image_width(img) * cerebro_image_height(img) * 3) != 0)
            l->ok = 0;
        cerebro_image_free(img);
    }
    return NULL;
}

START_TEST(test_frame_load_threads)
{
    char paths[2][4096];
    cerebro_image *want[2] = {NULL, NULL};
    const double times[2] = {1.0, 4.52};
    snprintf(paths[0], sizeof paths[0], "%s", media("scenes.mp4"));
    snprintf(paths[1], sizeof paths[1], "%s", media("scenes.webm"));
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(cerebro_video_frame_load(&want[i], paths[i], times[i], NULL), CEREBRO_OK);
    pthread_t tid[4];
    loader l[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (loader){paths[i % 2], times[i % 2], want[i % 2], 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, load_many, &l[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_msg(l[i].ok, "thread %d got another frame", i);
    }
    cerebro_image_free(want[0]);
    cerebro_image_free(want[1]);
}
END_TEST

/* A time the data does not reach is an error naming the file and both
 * times, not the last frame there is: one_frame.mkv declares 12 s and
 * holds the frame at 0 s only. */
START_TEST(test_frame_load_not_reached)
{
    cerebro_image *img = NULL;
    const char *path = media("one_frame.mkv");
    cerebro_status st = cerebro_video_frame_load(&img, path, 3.0, NULL);
    ck_assert_int_eq(st, CEREBRO_E_CORRUPT);
    ck_assert_ptr_null(img);
    char want[4300];
    snprintf(want, sizeof want,
             "%s: no frame at 00:00:03.0: decoding stopped after the frame at 00:00:00.0 (truncated: ", path);
    ck_assert_msg(strstr(cerebro_last_error(), want), "%s", cerebro_last_error());
    /* The frame it has is still there for its own time. */
    ck_assert_int_eq(cerebro_video_frame_load(&img, path, 0.0, NULL), CEREBRO_OK);
    ck_assert_uint_eq(cerebro_image_width(img), 320);
    cerebro_image_free(img);
    ck_assert_int_eq(cerebro_video_frame_load(&img, path, 0.03, NULL), CEREBRO_OK);
    cerebro_image_free(img);

    /* Past the end of an intact video the last frame stays on screen, as
     * the header documents: the same picture as at its last frame, 5.96 s. */
    cerebro_image *last = NULL, *past = NULL;
    ck_assert_int_eq(cerebro_video_frame_load(&last, media("scenes.mp4"), 5.97, NULL), CEREBRO_OK);
    ck_assert_int_eq(cerebro_video_frame_load(&past, media("scenes.mp4"), 100, NULL), CEREBRO_OK);
    double mean;
    int max;
    compare(last, past, &mean, &max);
    ck_assert_int_eq(max, 0);
    cerebro_image_free(last);
    cerebro_image_free(past);
}
END_TEST

/* A file cut inside its first frame: the header opens, no frame comes. */
START_TEST(test_no_frame)
{
    cb_video *v = NULL;
    double t;
    const char *path = media("no_frame.mkv");
    char want[4200];
    snprintf(want, sizeof want, "%s: no frame could be decoded", path);
    ck_assert_int_eq(cb_video_open(&v, path, &plain), CEREBRO_OK);
    ck_assert_int_eq(cb_video_next(v, &t), CEREBRO_E_CORRUPT);
    ck_assert_str_eq(cerebro_last_error(), want);
    ck_assert_int_eq(cb_video_next(v, &t), CB_VIDEO_END);
    cb_video_close(v);
    cerebro_image *img = (cerebro_image *)1;
    ck_assert_int_eq(cerebro_video_frame_load(&img, path, 1.0, NULL), CEREBRO_E_CORRUPT);
    ck_assert_ptr_null(img);
    ck_assert_str_eq(cerebro_last_error(), want);
}
END_TEST

/* A codec FFmpeg knows by name but cannot decode here. */
START_TEST(test_no_decoder)
{
    cb_video *v = NULL;
    const char *path = media("avs2.avi");
    ck_assert_int_eq(cb_video_open(&v, path, &plain), CEREBRO_E_UNSUPPORTED);
    ck_assert_ptr_null(v);
    char want[4200];
    snprintf(want, sizeof want, "%s: no decoder in this FFmpeg for the video codec 'avs2'", path);
    ck_assert_str_eq(cerebro_last_error(), want);
    cerebro_image *img = NULL;
    ck_assert_int_eq(cerebro_video_frame_load(&img, path, 0, NULL), CEREBRO_E_UNSUPPORTED);
    ck_assert_str_eq(cerebro_last_error(), want);
}
END_TEST

/* Raw H.264 without time stamps whose frame size doubles after 25 frames:
 * frames come 1/25 s apart in both sizes, and max_pixels stops the larger
 * ones. */
START_TEST(test_size_change)
{
    cb_video *v = NULL;
    double t, times[64];
    uint32_t widths[64];
    size_t n = 0;
    cerebro_status st = cb_video_open(&v, media("size_change.h264"), &plain);
    ck_assert_msg(st == CEREBRO_OK, "%s", cerebro_last_error());
    while ((st = cb_video_next(v, &t)) == CEREBRO_OK) {
        ck_assert_uint_lt(n, 64);
        cerebro_image *img = NULL;
        ck_assert_int_eq(cb_video_rgb(v, &img), CEREBRO_OK);
        widths[n] = cerebro_image_width(img);
        ck_assert_uint_eq(cerebro_image_height(img) * 4, widths[n] * 3);
        cerebro_image_free(img);
        times[n++] = t;
    }
    ck_assert_msg(st == CB_VIDEO_END, "%d %s", st, cerebro_last_error());
    /* After the end, still the end. */
    ck_assert_int_eq(cb_video_next(v, &t), CB_VIDEO_END);
    cb_video_close(v);
    ck_assert_uint_eq(n, 50);
    for (size_t i = 0; i < n; i++) {
        ck_assert_double_eq_tol(times[i], (double)i / 25, 1e-6);
        ck_assert_uint_eq(widths[i], i < 25 ? 320 : 640);
    }

    /* Also when the decoder's threads meet the new size (the index's
     * threads option). */
    for (uint32_t threads = 1; threads <= 4; threads += 3) {
        cb_video_limits lim = plain;
        lim.max_pixels = 320 * 240;
        lim.threads = threads;
        ck_assert_int_eq(cb_video_open(&v, media("size_change.h264"), &lim), CEREBRO_OK);
        n = 0;
        while ((st = cb_video_next(v, &t)) == CEREBRO_OK)
            n++;
        cb_video_close(v);
        ck_assert_msg(st == CEREBRO_E_LIMIT, "%u threads: %d %zu %s", threads, st, n, cerebro_last_error());
        ck_assert_uint_eq(n, 25);
        ck_assert_msg(strstr(cerebro_last_error(), "640x480"), "%s", cerebro_last_error());
    }
}
END_TEST

/* Pixel formats other than yuv420p convert with their colours: 0xC03020
 * in 4:4:4, packed RGB and 10-bit 4:2:0; grey has its luma only. */
START_TEST(test_pixel_formats)
{
    static const struct {
        const char *name;
        int rgb[3];
    } cases[] = {
        {"px_yuv444p.mp4", {192, 48, 32}},
        {"px_rgb24.mov", {192, 48, 32}},
        {"px_yuv420p10le.mkv", {192, 48, 32}},
        {"px_gray.mkv", {89, 89, 89}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cerebro_image *img = NULL;
        cerebro_status st = cerebro_video_frame_load(&img, media(cases[i].name), 0.5, NULL);
        ck_assert_msg(st == CEREBRO_OK, "%s: %s", cases[i].name, cerebro_last_error());
        ck_assert_uint_eq(cerebro_image_width(img), 64);
        ck_assert_uint_eq(cerebro_image_height(img), 48);
        const uint8_t *px = cerebro_image_pixels(img) + (24 * 64 + 32) * 3;
        for (int c = 0; c < 3; c++)
            ck_assert_msg(abs(px[c] - cases[i].rgb[c]) <= 4, "%s: channel %d is %d, not %d", cases[i].name,
                          c, px[c], cases[i].rgb[c]);
        cerebro_image_free(img);
    }
}
END_TEST

/* The small contracts: times print clamped, close takes NULL, a kept
 * frame must have been kept, options are checked. */
START_TEST(test_small_contracts)
{
    char buf[16];
    cb_video_format_time(83.44, buf, sizeof buf);
    ck_assert_str_eq(buf, "00:01:23.4");
    cb_video_format_time(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "00:00:00.0");
    cb_video_format_time(NAN, buf, sizeof buf);
    ck_assert_str_eq(buf, "00:00:00.0");
    cb_video_close(NULL);

    cb_video *v = NULL;
    double t;
    cerebro_image *img = (cerebro_image *)1;
    ck_assert_int_eq(cb_video_open(&v, media("scenes.mp4"), &plain), CEREBRO_OK);
    ck_assert_int_eq(cb_video_next(v, &t), CEREBRO_OK);
    ck_assert_int_eq(cb_video_rgb_kept(v, &img), CEREBRO_E_INTERNAL);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(cerebro_last_error(), "scenes.mp4: no frame was kept"), "%s", cerebro_last_error());
    ck_assert_double_eq_tol(cb_video_frame_period(v), 0.04, 1e-9);
    cb_video_close(v);

    cerebro_image_options o;
    cerebro_image_options_init(&o);
    o.version = 999;
    ck_assert_int_eq(cerebro_video_frame_load(&img, media("scenes.mp4"), 1, &o), CEREBRO_E_INVALID);
    ck_assert_ptr_null(img);
}
END_TEST

static Suite *video_suite(void)
{
    Suite *s = suite_create("video");
    TCase *tc = tcase_create("video");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_formats_decode_and_sample);
    tcase_add_test(tc, test_interval);
    tcase_add_test(tc, test_scene_score);
    tcase_add_test(tc, test_colour_cut);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_sound_longer_than_picture);
    tcase_add_test(tc, test_time_limit);
    tcase_add_test(tc, test_frame_load_matches_ffmpeg);
    tcase_add_test(tc, test_frame_load_errors);
    tcase_add_test(tc, test_frame_load_threads);
    tcase_add_test(tc, test_frame_load_not_reached);
    tcase_add_test(tc, test_no_frame);
    tcase_add_test(tc, test_no_decoder);
    tcase_add_test(tc, test_size_change);
    tcase_add_test(tc, test_pixel_formats);
    tcase_add_test(tc, test_small_contracts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(video_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
