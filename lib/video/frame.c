/* cerebro_video_frame_load: the frame a video shows at a given time (the
 * server's thumbnails of indexed frames). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/image.h"
#include "video/video.h"

/* Seconds one frame load may take before it is given up (a stalled or
 * pathological file must not hold a server thread for ever). */
#define FRAME_LOAD_TIME_LIMIT 60.0

/* A stored timestamp printed and parsed back may be off by rounding. */
#define TIME_SLACK 1e-3

/* The error of a decode that stopped (status st, message in
 * cerebro_last_error()) before reaching `wanted`, with both times. */
static cerebro_status not_reached(const cb_video *v, cerebro_status st, double wanted, double last)
{
    char why[512], at[32], end[32];
    const char *path = cb_video_path(v);
    size_t n = strlen(path);
    const char *e = cerebro_last_error();
    /* The decoder's message starts with the path too. */
    if (strncmp(e, path, n) == 0 && strncmp(e + n, ": ", 2) == 0)
        e += n + 2;
    snprintf(why, sizeof why, "%s", e);
    cb_video_format_time(wanted, at, sizeof at);
    cb_video_format_time(last, end, sizeof end);
    return cb_fail(st, "%s: no frame at %s: decoding stopped after the frame at %s (%s)", path, at, end, why);
}

cerebro_status cerebro_video_frame_load(cerebro_image **out, const char *path, double timestamp,
                                        const cerebro_image_options *opts)
{
    cb_decode_params params;
    cb_video_limits limits = {0, FRAME_LOAD_TIME_LIMIT, 0, 1};
    cb_video *v = NULL;
    cerebro_status st;
    double t;
    double last = 0;
    int have = 0;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_video_frame_load: out is NULL");
    *out = NULL;
    if (!path)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_video_frame_load: path is NULL");
    if (!isfinite(timestamp) || timestamp < 0)
        return cb_fail(CEREBRO_E_INVALID, "%s: timestamp %g is not a time in the video", path, timestamp);
    if ((st = cb_decode_params_from(opts, 0, &params)) != CEREBRO_OK)
        return st;
    limits.max_pixels = params.max_pixels;
    if ((st = cb_video_open(&v, path, &limits)) != CEREBRO_OK)
        return st;
    if ((st = cb_video_seek(v, timestamp)) != CEREBRO_OK)
        goto done;
    /* Decode forward from the key frame before it: the frame shown at t is
     * the last one that starts at or before t. Frames are only referenced
     * on the way; the one shown is converted at the end. */
    while ((st = cb_video_next(v, &t)) == CEREBRO_OK) {
        if (t > timestamp + TIME_SLACK && have)
            break;
        if ((st = cb_video_keep(v)) != CEREBRO_OK)
            goto done;
        have = 1;
        last = t;
        if (t > timestamp + TIME_SLACK)
            break; /* the stream starts after t: its first frame is what shows */
    }
    /* The kept frame is the one shown at t when a later frame came, when
     * the stream ended cleanly (past the end the last frame stays), or when
     * t falls within the kept frame's own time. Damage or the end after
     * that does not matter; before it (a truncated file, a damaged one,
     * the time limit) the frame at t is unknown: not an earlier one. */
    if (have && (st == CEREBRO_OK || st == CB_VIDEO_END ||
                 timestamp <= last + cb_video_frame_period(v) + TIME_SLACK))
        st = cb_video_rgb_kept(v, out);
    else if (have)
        st = not_reached(v, st, timestamp, last);
    else if (st == CB_VIDEO_END)
        st = cb_fail(CEREBRO_E_CORRUPT, "%s: no frame could be decoded", path);
done:
    cb_video_close(v);
    return st;
}
