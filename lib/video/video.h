/* Video frames for indexing and thumbnails (lib/video): decoding with
 * FFmpeg (decode.c), choosing which frames to keep (sample.c) and the
 * public single-frame loader (frame.c). Nothing here includes FFmpeg's
 * headers, so the index area does not depend on them. */
#ifndef CEREBRO_VIDEO_H
#define CEREBRO_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A status meaning "no more frames, the stream ended cleanly". */
#define CB_VIDEO_END ((cerebro_status)1)

/* The thumbnail that scene changes are scored on: CB_SCENE_PIXELS x
 * CB_SCENE_H pixels of packed RGB, so that a cut between two pictures of
 * equal brightness and different colour is seen (a grey thumbnail missed
 * it). CB_SCENE_W is a row's width in bytes: a thumbnail is
 * CB_SCENE_W * CB_SCENE_H = CB_SCENE_BYTES bytes. */
#define CB_SCENE_PIXELS 64
#define CB_SCENE_H 36
#define CB_SCENE_W (CB_SCENE_PIXELS * 3)
#define CB_SCENE_BYTES (CB_SCENE_W * CB_SCENE_H)

typedef struct cb_video cb_video;

typedef struct cb_video_limits {
    uint64_t max_pixels;     /* per frame, checked before any frame buffer is allocated */
    double time_limit;       /* wall-clock seconds from open (0: none); enforced in the
                                decode loop and, through FFmpeg's interrupt callback,
                                inside a stalled demuxer read */
    uint32_t min_short_side; /* > 0: cb_video_rgb() may shrink frames by 2, 4 or 8 as long
                                as the shortest side stays >= this (fast preprocessing) */
    uint32_t threads;        /* decoder threads (0: 1) */
} cb_video_limits;

/* Opens `path` and its best video stream. Errors name the file: E_NOT_FOUND,
 * E_IO, E_FORMAT (not a container FFmpeg knows, no video stream, no
 * decoder for the codec), E_LIMIT (frame size), E_NOMEM. */
cerebro_status cb_video_open(cb_video **out, const char *path, const cb_video_limits *limits);
void cb_video_close(cb_video *v);

/* Size the stream declares, and its duration in seconds (-1: unknown). */
uint32_t cb_video_width(const cb_video *v);
uint32_t cb_video_height(const cb_video *v);
double cb_video_duration(const cb_video *v);
/* Seconds one frame shows: 1 / the stream's frame rate (1/25 when the
 * container gives none). */
double cb_video_frame_period(const cb_video *v);
/* The file's path as given to cb_video_open (for messages). */
const char *cb_video_path(const cb_video *v);

/* Decodes the next frame; *timestamp gets its time in seconds from the
 * start of the stream. Returns CEREBRO_OK, CB_VIDEO_END, or an error:
 * E_CORRUPT (damaged or truncated data: the frames before it stand),
 * E_LIMIT (time limit, frame size), E_IO. After an error no more frames
 * come. Damaged packets the decoder can skip, and damaged bytes the
 * demuxer skips to reach the next packet (it logs an error), are
 * remembered and reported as E_CORRUPT at the end instead of CB_VIDEO_END.
 * A frame over max_pixels after a size change ends the stream with E_LIMIT
 * once the frames before it are out. */
cerebro_status cb_video_next(cb_video *v, double *timestamp);

/* The current frame as the scene thumbnail (CB_SCENE_BYTES bytes of RGB,
 * in the stream's colour matrix and range). */
cerebro_status cb_video_scene_thumb(cb_video *v, uint8_t *thumb);

/* The current frame as an RGB image (possibly shrunk, see min_short_side;
 * the image's full_width/full_height are the frame's size). */
cerebro_status cb_video_rgb(cb_video *v, cerebro_image **out);

/* Keeps a reference to the current frame (no copy), replacing the one kept
 * before, so that it can be converted after later frames were decoded. */
cerebro_status cb_video_keep(cb_video *v);
/* The kept frame as cb_video_rgb() would give it. */
cerebro_status cb_video_rgb_kept(cb_video *v, cerebro_image **out);

/* Positions the stream so that the next frames decoded lead up to
 * `seconds` (a seek to the key frame at or before it). */
cerebro_status cb_video_seek(cb_video *v, double seconds);

/* 1 if the file name has a video extension (.mp4 .m4v .mov .mkv .webm .avi). */
int cb_is_video_name(const char *name);

/* ---- choosing frames (sample.c) ---------------------------------------- */

typedef struct cb_sampler {
    double interval;    /* keep a frame at least this often (seconds) */
    float threshold;    /* scene-change score that keeps a frame */
    int have_prev;
    double last_kept;   /* timestamp of the last frame taken */
    double prev_diff;   /* mean absolute difference of the previous pair */
    uint8_t prev[CB_SCENE_BYTES];
} cb_sampler;

void cb_sampler_init(cb_sampler *s, double interval, float threshold);

/* Scene-change score of a frame's thumbnail against the previous one, in
 * [0, 1]: the mean absolute difference over every pixel and colour channel
 * (0..255) less its change from the previous pair's, over 100, the way
 * FFmpeg's `scene` score is defined (a sum over all planes) -- a cut scores
 * high, steady motion (a pan) does not. A cut that changes every channel
 * by 30 levels scores 0.3, the default threshold. */
float cb_scene_score(cb_sampler *s, const uint8_t *thumb);

/* Feeds one decoded frame; 1 if it should be kept: the first frame, a
 * scene change (score >= threshold), or `interval` seconds since the last
 * frame kept. */
int cb_sampler_take(cb_sampler *s, double timestamp, const uint8_t *thumb);

/* "00:01:23.4" into buf (at least 16 bytes). */
void cb_video_format_time(double seconds, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
