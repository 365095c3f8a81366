/* Decoding video files with FFmpeg (libavformat, libavcodec, libswscale):
 * one video stream, frames in presentation order, a wall-clock deadline that
 * also reaches into the demuxer, frame sizes checked before allocation, and
 * FFmpeg's log kept off stderr. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"
#include "image/image.h"
#include "video/video.h"

/* Damaged packets in a row after which a file is given up as garbage. */
enum { MAX_BAD_PACKETS = 64 };

struct cb_video {
    char *path;
    cb_video_limits limits;
    double deadline;         /* monotonic seconds, 0: none */
    AVFormatContext *fmt;
    AVCodecContext *codec;
    AVPacket *packet;
    AVFrame *frame;          /* the current frame */
    AVFrame *kept;           /* a reference cb_video_keep() took, or empty */
    int stream;              /* index of the video stream */
    double time_base;        /* seconds per pts unit */
    int64_t start_pts;       /* pts of time 0 */
    int have_start;
    double duration;         /* of the video stream (else the file), -1: unknown */
    double frame_period;     /* seconds a frame shows, from the stream's frame rate (else 1/25) */
    double file_duration;    /* of the whole file (else the video), -1: unknown */
    double data_end;         /* latest end time of any packet read, -1: none */
    double last_time;        /* of the last frame returned, -1 before the first */
    int flushing;            /* the demuxer ended: draining the decoder */
    int ended;               /* no more frames */
    int bad_packets;         /* damaged packets in a row */
    char damage[256];        /* first damage seen, reported at the end */
    /* A frame size the decoder refused (over max_pixels), width << 32 |
     * height, 0: none; set by whichever thread of the decoder met it. */
    _Atomic uint64_t refused;
    struct SwsContext *sws_scene, *sws_rgb;
};

/* ---- FFmpeg's log ---------------------------------------------------------- */

/* FFmpeg logs from whatever thread runs a codec; the last error message of
 * each thread is kept to explain a failure, and nothing reaches stderr. */
static _Thread_local char ff_last_log[256];
/* Errors a demuxer logged on this thread: one that skips damaged bytes to
 * the next readable packet (Matroska's resync) says so only in its log. */
static _Thread_local unsigned ff_demux_errors;

/* The codec context a log line comes from, directly or as the parent of a
 * helper's context (av_image_check_size2 logs as "imgutils"). */
static const AVCodecContext *log_codec(void *avcl)
{
    for (int depth = 0; avcl && depth < 2; depth++) {
        const AVClass *cls = *(const AVClass **)avcl;
        if (!cls)
            return NULL;
        if (cls == avcodec_get_class())
            return avcl;
        if (!cls->parent_log_context_offset)
            return NULL;
        avcl = *(void **)((uint8_t *)avcl + cls->parent_log_context_offset);
    }
    return NULL;
}

/* A decoder meeting a frame larger than its max_pixels refuses the packet
 * as invalid data and says why only in its log, from whichever of its
 * threads met the frame: the size is noted on the cb_video (the codec's
 * opaque, which FFmpeg copies to its thread contexts) so that the end is
 * the frame-size limit, not damage. */
static void note_refused_size(void *avcl, const char *line)
{
    unsigned w, h;
    const char *m = strstr(line, "Picture size ");
    const AVCodecContext *c;
    if (!m || !strstr(m, " exceeds ") || sscanf(m, "Picture size %ux%u", &w, &h) != 2)
        return;
    if ((c = log_codec(avcl)) && c->opaque)
        atomic_store(&((cb_video *)c->opaque)->refused, (uint64_t)w << 32 | h);
}

static void ff_log(void *avcl, int level, const char *fmt, va_list ap)
{
    int prefix = 1;
    if (level > AV_LOG_ERROR)
        return;
    const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
    if (cls && (cls->get_category ? cls->get_category(avcl) : cls->category) == AV_CLASS_CATEGORY_DEMUXER)
        ff_demux_errors++;
    av_log_format_line2(avcl, level, fmt, ap, ff_last_log, sizeof ff_last_log, &prefix);
    size_t n = strlen(ff_last_log);
    while (n > 0 && (ff_last_log[n - 1] == '\n' || ff_last_log[n - 1] == ' '))
        ff_last_log[--n] = '\0';
    note_refused_size(avcl, ff_last_log);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void install_log(void)
{
    av_log_set_callback(ff_log);
}

static int interrupt_cb(void *user)
{
    const cb_video *v = user;
    return v->deadline > 0 && cb_now() > v->deadline;
}

/* FFmpeg's message for an error code, and the last thing it logged. */
static const char *ff_reason(int err, char *buf, size_t cap)
{
    char e[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(err, e, sizeof e);
    if (ff_last_log[0] && !strstr(e, ff_last_log))
        snprintf(buf, cap, "%s (%s)", e, ff_last_log);
    else
        snprintf(buf, cap, "%s", e);
    return buf;
}

int cb_is_video_name(const char *name)
{
    static const char *const exts[] = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"};
    return cb_has_extension(name, exts, sizeof exts / sizeof exts[0]);
}

void cb_video_format_time(double seconds, char *buf, size_t cap)
{
    if (!(seconds >= 0) || seconds > 359999.0)
        seconds = 0;
    long tenths = lround(seconds * 10);
    snprintf(buf, cap, "%02ld:%02ld:%02ld.%ld", tenths / 36000, tenths / 600 % 60, tenths / 10 % 60,
             tenths % 10);
}

/* ---- opening ------------------------------------------------------------- */

static cerebro_status time_limit_error(const cb_video *v)
{
    char at[32];
    cb_video_format_time(v->last_time < 0 ? 0 : v->last_time, at, sizeof at);
    return cb_fail(CEREBRO_E_LIMIT, "%s: stopped after the time limit of %g s per file (decoded up to %s)",
                   v->path, v->limits.time_limit, at);
}

static cerebro_status open_stream(cb_video *v)
{
    char why[512];
    const AVCodec *dec = NULL;
    int err;

    v->fmt->interrupt_callback.callback = interrupt_cb;
    v->fmt->interrupt_callback.opaque = v;
    ff_last_log[0] = '\0';
    if ((err = avformat_open_input(&v->fmt, v->path, NULL, NULL)) < 0) {
        v->fmt = NULL; /* freed by avformat_open_input */
        if (err == AVERROR_EXIT)
            return time_limit_error(v);
        return cb_fail(err == AVERROR(ENOENT) ? CEREBRO_E_NOT_FOUND
                       : err == AVERROR_INVALIDDATA ? CEREBRO_E_FORMAT
                                                    : CEREBRO_E_IO,
                       "%s: not a video FFmpeg can open: %s", v->path, ff_reason(err, why, sizeof why));
    }
    if ((err = avformat_find_stream_info(v->fmt, NULL)) < 0) {
        if (err == AVERROR_EXIT)
            return time_limit_error(v);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: cannot read the streams: %s", v->path,
                       ff_reason(err, why, sizeof why));
    }
    err = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (err == AVERROR_STREAM_NOT_FOUND)
        return cb_fail(CEREBRO_E_FORMAT, "%s: no video stream (%u streams, none of them video)", v->path,
                       v->fmt->nb_streams);
    if (err == AVERROR_DECODER_NOT_FOUND || (err >= 0 && !dec))
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: no decoder in this FFmpeg for the video codec '%s'",
                       v->path, avcodec_get_name(v->fmt->streams[err >= 0 ? err : 0]->codecpar->codec_id));
    if (err < 0)
        return cb_fail(CEREBRO_E_FORMAT, "%s: no usable video stream: %s", v->path,
                       ff_reason(err, why, sizeof why));
    v->stream = err;
    AVStream *s = v->fmt->streams[v->stream];
    /* Attached pictures (cover art in an audio file) are not video. */
    if (s->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return cb_fail(CEREBRO_E_FORMAT, "%s: no video stream (only a cover picture)", v->path);
    AVCodecParameters *par = s->codecpar;
    if (par->width <= 0 || par->height <= 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: the video stream has no frame size", v->path);
    cerebro_status st =
        cb_image_check_limits((uint32_t)par->width, (uint32_t)par->height, v->limits.max_pixels, v->path);
    if (st != CEREBRO_OK)
        return st;
    if (!(v->codec = avcodec_alloc_context3(dec)))
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", v->path);
    if ((err = avcodec_parameters_to_context(v->codec, par)) < 0)
        return cb_fail(CEREBRO_E_FORMAT, "%s: %s", v->path, ff_reason(err, why, sizeof why));
    v->codec->opaque = v;
    v->codec->thread_count = (int)(v->limits.threads ? v->limits.threads : 1);
    /* The decoder checks it before allocating a frame of a new size. */
    if (v->limits.max_pixels && v->limits.max_pixels < INT64_MAX)
        v->codec->max_pixels = (int64_t)v->limits.max_pixels;
    v->codec->pkt_timebase = s->time_base;
    if ((err = avcodec_open2(v->codec, dec, NULL)) < 0)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: cannot open the %s decoder: %s", v->path, dec->name,
                       ff_reason(err, why, sizeof why));
    v->time_base = av_q2d(s->time_base);
    AVRational rate = s->avg_frame_rate.num > 0 && s->avg_frame_rate.den > 0 ? s->avg_frame_rate
                                                                              : s->r_frame_rate;
    v->frame_period = rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 1.0 / 25;
    if (s->start_time != AV_NOPTS_VALUE) {
        v->start_pts = s->start_time;
        v->have_start = 1;
    }
    if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
        v->file_duration = (double)v->fmt->duration / AV_TIME_BASE;
    if (s->duration != AV_NOPTS_VALUE && s->duration > 0)
        v->duration = (double)s->duration * v->time_base;
    else
        v->duration = v->file_duration;
    if (v->file_duration < 0)
        v->file_duration = v->duration;
    return CEREBRO_OK;
}

cerebro_status cb_video_open(cb_video **out, const char *path, const cb_video_limits *limits)
{
    cb_video *v;
    struct stat sb;
    cerebro_status st;

    *out = NULL;
    pthread_once(&log_once, install_log);
    if (stat(path, &sb) != 0)
        return cb_fail(CEREBRO_E_NOT_FOUND, "%s: no such file", path);
    if (!S_ISREG(sb.st_mode))
        return cb_fail(CEREBRO_E_IO, "%s: not a regular file", path);
    if (!(v = calloc(1, sizeof *v)) || !(v->path = strdup(path))) {
        free(v);
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    }
    v->limits = *limits;
    v->duration = v->file_duration = v->data_end = -1;
    v->last_time = -1;
    if (limits->time_limit > 0)
        v->deadline = cb_now() + limits->time_limit;
    if (!(v->fmt = avformat_alloc_context()) || !(v->packet = av_packet_alloc()) ||
        !(v->frame = av_frame_alloc()) || !(v->kept = av_frame_alloc())) {
        cb_video_close(v);
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
    }
    if ((st = open_stream(v)) != CEREBRO_OK) {
        cb_video_close(v);
        return st;
    }
    *out = v;
    return CEREBRO_OK;
}

void cb_video_close(cb_video *v)
{
    if (!v)
        return;
    sws_freeContext(v->sws_scene);
    sws_freeContext(v->sws_rgb);
    av_frame_free(&v->frame);
    av_frame_free(&v->kept);
    av_packet_free(&v->packet);
    avcodec_free_context(&v->codec);
    avformat_close_input(&v->fmt);
    free(v->path);
    free(v);
}

uint32_t cb_video_width(const cb_video *v)
{
    return (uint32_t)v->codec->width;
}

uint32_t cb_video_height(const cb_video *v)
{
    return (uint32_t)v->codec->height;
}

double cb_video_duration(const cb_video *v)
{
    return v->duration;
}

double cb_video_frame_period(const cb_video *v)
{
    return v->frame_period;
}

const char *cb_video_path(const cb_video *v)
{
    return v->path;
}

/* ---- decoding ------------------------------------------------------------ */

static void note_damage(cb_video *v, const char *what, int err)
{
    char why[320], at[32];
    if (v->damage[0])
        return;
    cb_video_format_time(v->last_time < 0 ? 0 : v->last_time, at, sizeof at);
    snprintf(v->damage, sizeof v->damage, "%s after %s: %s", what, at, ff_reason(err, why, sizeof why));
}

/* Remembers how far into the file the data reaches, over every stream:
 * a video shorter than its soundtrack is not a truncated file. */
static void note_packet(cb_video *v, const AVPacket *p)
{
    const AVStream *s = v->fmt->streams[p->stream_index];
    int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    if (ts == AV_NOPTS_VALUE)
        return;
    double t = (double)(ts + (p->duration > 0 ? p->duration : 0)) * av_q2d(s->time_base);
    if (v->fmt->start_time != AV_NOPTS_VALUE)
        t -= (double)v->fmt->start_time / AV_TIME_BASE;
    if (t > v->data_end)
        v->data_end = t;
}

/* The end of the stream: clean, or with damage seen on the way, or with
 * the data ending well before the duration the container declares (a
 * truncated file). */
static cerebro_status end_of_stream(cb_video *v)
{
    char at[32], total[32];
    v->ended = 1;
    uint64_t refused = atomic_load(&v->refused);
    if (refused) {
        cerebro_status st = cb_image_check_limits((uint32_t)(refused >> 32), (uint32_t)refused,
                                                  v->limits.max_pixels, v->path);
        if (st != CEREBRO_OK)
            return st;
    }
    if (v->damage[0])
        return cb_fail(CEREBRO_E_CORRUPT, "%s: damaged video data %s", v->path, v->damage);
    if (v->last_time < 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: no frame could be decoded", v->path);
    /* Packets end within a frame or two of the declared duration; more
     * than 1.5 s (and 5%) missing is data cut off at the end. */
    double d = v->file_duration;
    if (d > 0 && v->data_end >= 0 && v->data_end < d - fmax(1.5, 0.05 * d)) {
        cb_video_format_time(v->last_time, at, sizeof at);
        cb_video_format_time(d, total, sizeof total);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated: frames end at %s of %s", v->path, at, total);
    }
    return CB_VIDEO_END;
}

/* Feeds the decoder one packet of the video stream (or the flush packet
 * at the end of the file). 1: fed, 0: nothing to feed (keep draining),
 * negative: a cerebro_status error. */
static int feed(cb_video *v)
{
    int err;
    if (v->flushing)
        return 0;
    for (;;) {
        if (v->deadline > 0 && cb_now() > v->deadline)
            return time_limit_error(v);
        unsigned demux_errors = ff_demux_errors;
        err = av_read_frame(v->fmt, v->packet);
        if (err == AVERROR_EXIT)
            return time_limit_error(v);
        if (err < 0) {
            if (err != AVERROR_EOF)
                note_damage(v, "read error", err);
            v->flushing = 1;
            avcodec_send_packet(v->codec, NULL);
            return 0;
        }
        /* A packet came, but the demuxer skipped damaged bytes to find it:
         * the frames in them are lost, though every packet decodes. */
        if (ff_demux_errors != demux_errors)
            note_damage(v, "unreadable data skipped", AVERROR_INVALIDDATA);
        note_packet(v, v->packet);
        if (v->packet->stream_index != v->stream) {
            av_packet_unref(v->packet);
            continue;
        }
        err = avcodec_send_packet(v->codec, v->packet);
        av_packet_unref(v->packet);
        if (err >= 0 || err == AVERROR(EAGAIN)) {
            return 1;
        }
        if (err == AVERROR(ENOMEM))
            return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory decoding", v->path);
        if (atomic_load(&v->refused)) {
            /* The frames of the old size still in the decoder come first. */
            v->flushing = 1;
            avcodec_send_packet(v->codec, NULL);
            return 0;
        }
        note_damage(v, "undecodable packet", err);
        if (++v->bad_packets > MAX_BAD_PACKETS)
            return cb_fail(CEREBRO_E_CORRUPT, "%s: damaged video data %s (gave up after %d bad packets)",
                           v->path, v->damage, MAX_BAD_PACKETS);
    }
}

cerebro_status cb_video_next(cb_video *v, double *timestamp)
{
    int err;
    if (v->ended)
        return CB_VIDEO_END;
    for (;;) {
        if (v->deadline > 0 && cb_now() > v->deadline) {
            v->ended = 1;
            return time_limit_error(v);
        }
        err = avcodec_receive_frame(v->codec, v->frame);
        if (err == 0) {
            int64_t pts = v->frame->best_effort_timestamp;
            if (v->frame->width != v->codec->width || v->frame->height != v->codec->height) {
                cerebro_status st = cb_image_check_limits((uint32_t)v->frame->width,
                                                          (uint32_t)v->frame->height,
                                                          v->limits.max_pixels, v->path);
                if (st != CEREBRO_OK) {
                    v->ended = 1;
                    return st;
                }
            }
            if (v->frame->width <= 0 || v->frame->height <= 0)
                continue;
            if (pts == AV_NOPTS_VALUE)
                pts = v->frame->pts;
            /* Without any time stamp, frames are taken as 25 a second. */
            double t = pts == AV_NOPTS_VALUE ? (v->last_time < 0 ? 0 : v->last_time + 1.0 / 25) : 0;
            if (pts != AV_NOPTS_VALUE) {
                if (!v->have_start) {
                    v->start_pts = pts;
                    v->have_start = 1;
                }
                t = (double)(pts - v->start_pts) * v->time_base;
            }
            if (t < 0)
                t = 0;
            v->bad_packets = 0;
            v->last_time = t;
            *timestamp = t;
            return CEREBRO_OK;
        }
        if (err == AVERROR_EOF) {
            cerebro_status st = end_of_stream(v);
            return st;
        }
        if (err != AVERROR(EAGAIN)) {
            /* A decoding error the codec could not conceal: note it and
             * go on with the next packets. */
            note_damage(v, "decoding error", err);
            if (++v->bad_packets > MAX_BAD_PACKETS) {
                v->ended = 1;
                return cb_fail(CEREBRO_E_CORRUPT, "%s: damaged video data %s", v->path, v->damage);
            }
        }
        int fed = feed(v);
        if (fed < 0) {
            v->ended = 1;
            return (cerebro_status)fed;
        }
    }
}

cerebro_status cb_video_seek(cb_video *v, double seconds)
{
    int64_t target = (int64_t)floor(seconds / v->time_base) + (v->have_start ? v->start_pts : 0);
    int err;

    if (seconds <= 0)
        return CEREBRO_OK;
    err = av_seek_frame(v->fmt, v->stream, target, AVSEEK_FLAG_BACKWARD);
    if (err == AVERROR_EXIT)
        return time_limit_error(v);
    if (err < 0)
        return CEREBRO_OK; /* not seekable: decoding from the start still gets there */
    avcodec_flush_buffers(v->codec);
    v->flushing = 0;
    v->ended = 0;
    return CEREBRO_OK;
}

/* ---- pixels ---------------------------------------------------------------- */

/* Colour matrix and range of the frame, so full-range and BT.709 streams
 * come out with the right colours. */
static void set_colorspace(struct SwsContext *sws, const AVFrame *f, int dst_full_range)
{
    int *inv_table, *table, src_range, dst_range, brightness, contrast, saturation;
    if (sws_getColorspaceDetails(sws, &inv_table, &src_range, &table, &dst_range, &brightness,
                                 &contrast, &saturation) < 0)
        return;
    int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)f->colorspace;
    const int *coefs = sws_getCoefficients(cs);
    sws_setColorspaceDetails(sws, coefs, f->color_range == AVCOL_RANGE_JPEG, table, dst_full_range,
                             brightness, contrast, saturation);
}

cerebro_status cb_video_scene_thumb(cb_video *v, uint8_t *thumb)
{
    const AVFrame *f = v->frame;
    uint8_t *dst[4] = {thumb, NULL, NULL, NULL};
    int stride[4] = {CB_SCENE_W, 0, 0, 0};

    v->sws_scene = sws_getCachedContext(v->sws_scene, f->width, f->height, (enum AVPixelFormat)f->format,
                                        CB_SCENE_PIXELS, CB_SCENE_H, AV_PIX_FMT_RGB24, SWS_AREA, NULL,
                                        NULL, NULL);
    if (!v->sws_scene)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: cannot convert pixel format %s", v->path,
                       av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    set_colorspace(v->sws_scene, f, 1);
    sws_scale(v->sws_scene, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    return CEREBRO_OK;
}

cerebro_status cb_video_keep(cb_video *v)
{
    av_frame_unref(v->kept);
    if (av_frame_ref(v->kept, v->frame) < 0)
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", v->path);
    return CEREBRO_OK;
}

static cerebro_status frame_rgb(cb_video *v, const AVFrame *f, cerebro_image **out);

cerebro_status cb_video_rgb(cb_video *v, cerebro_image **out)
{
    return frame_rgb(v, v->frame, out);
}

cerebro_status cb_video_rgb_kept(cb_video *v, cerebro_image **out)
{
    *out = NULL;
    if (!v->kept->buf[0])
        return cb_fail(CEREBRO_E_INTERNAL, "%s: no frame was kept", v->path);
    return frame_rgb(v, v->kept, out);
}

static cerebro_status frame_rgb(cb_video *v, const AVFrame *f, cerebro_image **out)
{
    uint32_t w = (uint32_t)f->width, h = (uint32_t)f->height, d = 1;
    cerebro_image *img;
    cerebro_status st;

    *out = NULL;
    if ((st = cb_image_check_limits(w, h, v->limits.max_pixels, v->path)) != CEREBRO_OK)
        return st;
    /* Like JPEG's scaled IDCT in fast mode: shrink by a power of two while
     * the shortest side stays >= the model's input. */
    while (v->limits.min_short_side && d < 8 && (w < h ? w : h) / (d * 2) >= v->limits.min_short_side)
        d *= 2;
    uint32_t ow = (w + d / 2) / d, oh = (h + d / 2) / d;
    if ((st = cb_image_new(ow, oh, v->limits.max_pixels, v->path, &img)) != CEREBRO_OK)
        return st;
    /* The geometry comes from the frame's real size; the content fills
     * the shrunk pixels. */
    img->full_width = w;
    img->full_height = h;
    img->box[2] = (float)ow;
    img->box[3] = (float)oh;
    int flags = d > 1 ? SWS_AREA : SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
    v->sws_rgb = sws_getCachedContext(v->sws_rgb, f->width, f->height, (enum AVPixelFormat)f->format,
                                      (int)ow, (int)oh, AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
    if (!v->sws_rgb) {
        cerebro_image_free(img);
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: cannot convert pixel format %s", v->path,
                       av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    }
    set_colorspace(v->sws_rgb, f, 1);
    uint8_t *dst[4] = {img->pixels, NULL, NULL, NULL};
    int stride[4] = {(int)(3 * ow), 0, 0, 0};
    sws_scale(v->sws_rgb, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    *out = img;
    return CEREBRO_OK;
}
