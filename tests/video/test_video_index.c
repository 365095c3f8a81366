/* Indexing videos through the public API (libcerebro.so as a user links
 * it), on videos tests/video/gen_videos.sh writes with ffmpeg: the frame of
 * the second scene is found with its timestamp by an image query (any model)
 * and by a text query (the bundled default model; also "a blue circle" after
 * a cut of colour alone), still scenes keep one frame, re-runs decode
 * nothing, a changed video replaces its frames, removal takes every frame,
 * damaged files keep what decodes and record an error naming the file, and
 * the per-file time limit holds. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

static char path_buf[16][4096];
static int path_next;

static const char *fmt_path(const char *a, const char *b)
{
    char *p = path_buf[path_next++ % 16];
    snprintf(p, sizeof path_buf[0], "%s/%s", a, b);
    return p;
}

static const char *media(const char *name)
{
    const char *dir = getenv("CEREBRO_VIDEO_MEDIA");
    const char *p = fmt_path(dir ? dir : "media", name);
    ck_assert_msg(access(p, R_OK) == 0, "%s is missing: the video_media fixture writes it", p);
    return p;
}

/* A fresh, empty, absolute scratch folder (valid for the next 7 calls). */
static const char *scratch(const char *name)
{
    const char *base = getenv("CEREBRO_TEST_TMP");
    static char dirs[8][4096];
    static int next_dir;
    char cwd[2048];
    char *dir = dirs[next_dir++ % 8];
    if (!base || base[0] != '/') {
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(dir, 4096, "%s/%s/video-%s", cwd, base ? base : "tmp", name);
    } else {
        snprintf(dir, 4096, "%s/video-%s", base, name);
    }
    rm_rf(dir);
    mkdirs(dir);
    struct stat st;
    ck_assert_msg(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "cannot make %s", dir);
    return dir;
}

/* Copies a generated file into dir under `as`. */
static void copy_file(const char *from, const char *dir, const char *as)
{
    char buf[65536];
    const char *to = fmt_path(dir, as);
    FILE *in = fopen(from, "rb"), *out;
    size_t n;
    ck_assert_msg(in != NULL, "%s: %s", from, strerror(errno));
    out = fopen(to, "wb");
    ck_assert_msg(out != NULL, "%s: %s", to, strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

static cerebro_model *tiny_model(void)
{
    const char *d = getenv("CEREBRO_MODEL_FIXTURES");
    return open_test_model(fmt_path(d ? d : "model-fixtures", "tiny.pt"));
}

static cerebro_index *open_index(const char *dir, const cerebro_model *m)
{
    cerebro_index *idx = NULL;
    OK(cerebro_index_open(&idx, fmt_path(dir, "db"), m, NULL));
    return idx;
}

/* What progress reported for each failed file. */
typedef struct reports {
    int n;
    char path[8][4096];
    char message[8][1024];
    cerebro_status status[8];
} reports;

static int on_progress(void *user, const cerebro_progress *p)
{
    reports *r = user;
    if (p->path && p->status != CEREBRO_OK && r->n < 8) {
        snprintf(r->path[r->n], sizeof r->path[0], "%s", p->path);
        snprintf(r->message[r->n], sizeof r->message[0], "%s", p->message ? p->message : "");
        r->status[r->n++] = p->status;
    }
    return 0;
}

static const char *report_for(const reports *r, const char *name, cerebro_status *st)
{
    for (int i = 0; i < r->n; i++) {
        const char *base = strrchr(r->path[i], '/');
        if (base && strcmp(base + 1, name) == 0) {
            *st = r->status[i];
            return r->message[i];
        }
    }
    return NULL;
}

static cerebro_add_stats add_folder(cerebro_index *idx, const char *dir, cerebro_add_options *o,
                                    reports *r)
{
    cerebro_add_options defaults;
    cerebro_add_stats s;
    if (!o) {
        cerebro_add_options_init(&defaults);
        o = &defaults;
    }
    if (r) {
        memset(r, 0, sizeof *r);
        o->progress = on_progress;
        o->user = r;
    }
    OK(cerebro_index_add(idx, &dir, 1, o, &s));
    return s;
}

static uint64_t item_count(cerebro_index *idx)
{
    cerebro_index_stats s;
    OK(cerebro_index_stats_get(idx, &s));
    return s.count;
}

/* Every hit of a search by the given vector of an item (k large). */
static cerebro_results *everything(cerebro_index *idx)
{
    cerebro_search_options so;
    cerebro_results *r = NULL;
    float q[1024];
    cerebro_index_stats st;
    cerebro_search_options_init(&so);
    so.k = 1000;
    OK(cerebro_index_stats_get(idx, &st));
    ck_assert_uint_le(st.dim, 1024);
    for (uint32_t i = 0; i < st.dim; i++)
        q[i] = 1.0f;
    OK(cerebro_index_search_vector(idx, q, &so, &r));
    return r;
}

/* The timestamps of a file's frames, ascending. */
static size_t frames_of(cerebro_index *idx, const char *name, double *times, int64_t *ids, size_t cap)
{
    cerebro_results *r = everything(idx);
    size_t n = 0;
    for (size_t i = 0; i < cerebro_results_count(r); i++) {
        cerebro_hit h;
        OK(cerebro_results_get(r, i, &h));
        const char *base = strrchr(h.path, '/');
        if (!base || strcmp(base + 1, name) != 0)
            continue;
        ck_assert_uint_lt(n, cap);
        times[n] = h.timestamp;
        if (ids)
            ids[n] = h.id;
        n++;
    }
    cerebro_results_free(r);
    /* insertion sort by time */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
            if (ids) {
                int64_t x = ids[j];
                ids[j] = ids[j - 1];
                ids[j - 1] = x;
            }
        }
    return n;
}

static void expect_top_is_second_scene(cerebro_results *r, const char *query)
{
    cerebro_hit h;
    ck_assert_uint_ge(cerebro_results_count(r), 1);
    OK(cerebro_results_get(r, 0, &h));
    ck_assert_msg(strstr(h.path, "clip") && h.timestamp >= 3.0 && h.timestamp <= 6.0,
                  "%s: top hit %s @ %.3f (score %.3f)", query, h.path, h.timestamp, (double)h.score);
    ck_assert_uint_eq(h.width, 320);
    ck_assert_uint_eq(h.height, 240);
}

START_TEST(test_image_query_finds_scene_two)
{
    static const char *const files[] = {"scenes.mp4", "scenes.webm", "scenes.mkv", "scenes.mov",
                                        "scenes_av1.mkv"};
    cerebro_model *m = tiny_model();
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char skip[4096], name[64];
        snprintf(skip, sizeof skip, "%s/av1_skipped.txt", getenv("CEREBRO_VIDEO_MEDIA"));
        if (strstr(files[f], "av1") && access(skip, R_OK) == 0) {
            printf("skipping %s: this ffmpeg has no AV1 encoder\n", files[f]);
            continue;
        }
        const char *dir = scratch(files[f]);
        const char *ext = strrchr(files[f], '.');
        snprintf(name, sizeof name, "clip%s", ext);
        copy_file(media(files[f]), dir, name);
        cerebro_index *idx = open_index(dir, m);
        cerebro_add_stats s = add_folder(idx, dir, NULL, NULL);
        ck_assert_uint_eq(s.added, 1);
        ck_assert_uint_eq(s.failed, 0);
        ck_assert_uint_eq(s.frames, 2); /* the tiger at 0 s, the frog at 3 s */
        double t[8];
        ck_assert_uint_eq(frames_of(idx, name, t, NULL, 8), 2);
        ck_assert_double_eq_tol(t[0], 0.0, 1e-6);
        ck_assert_double_eq_tol(t[1], 3.0, 1e-6);
        cerebro_results *r = NULL;
        OK(cerebro_index_search_image_file(idx, media("frog_query.png"), NULL, &r));
        expect_top_is_second_scene(r, files[f]);
        cerebro_results_free(r);
        cerebro_index_free(idx);
    }
    cerebro_model_free(m);
}
END_TEST

/* An index in scratch folder `name` of one video, copied there as
 * clip.mp4 and encoded with the bundled default model (*m); two frames
 * must be kept: the first and the cut at 3 s. */
static cerebro_index *index_clip_default_model(const char *video, const char *name, cerebro_model **m)
{
    const char *path = getenv("CEREBRO_DEFAULT_MODEL");
    *m = open_test_model(path ? path : "models/default.pt");
    const char *dir = scratch(name);
    copy_file(media(video), dir, "clip.mp4");
    cerebro_index *idx = open_index(dir, *m);
    cerebro_add_stats s = add_folder(idx, dir, NULL, NULL);
    ck_assert_uint_eq(s.frames, 2);
    return idx;
}

START_TEST(test_text_query_default_model)
{
    /* The bundled model is weak: of the eight example animals it names six
     * right as the top hit, the frog among them, but not the tiger; "a frog"
     * must rank the frog scene's frame above the tiger's. */
    cerebro_model *m;
    cerebro_index *idx = index_clip_default_model("scenes.mp4", "text", &m);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_text(idx, "a frog", NULL, &r));
    expect_top_is_second_scene(r, "a frog");
    cerebro_results_free(r);
    OK(cerebro_index_search_image_file(idx, media("frog_query.png"), NULL, &r));
    expect_top_is_second_scene(r, "frog_query.png");
    cerebro_results_free(r);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_colour_cut_default_model)
{
    /* A red disc, then a blue one of the same brightness: both scenes are
     * indexed, and each colour's query finds its own. */
    cerebro_model *m;
    cerebro_index *idx = index_clip_default_model("colour_cut.mp4", "colour", &m);
    cerebro_results *r = NULL;
    OK(cerebro_index_search_text(idx, "a blue circle", NULL, &r));
    expect_top_is_second_scene(r, "a blue circle");
    cerebro_results_free(r);
    OK(cerebro_index_search_text(idx, "a red circle", NULL, &r));
    cerebro_hit h;
    OK(cerebro_results_get(r, 0, &h));
    ck_assert_msg(h.timestamp < 3.0, "a red circle: top hit @ %.3f", h.timestamp);
    cerebro_results_free(r);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* Indexes still.mp4 alone into a fresh index with `o` and checks that the
 * frames kept are n, `step` seconds apart from 0. */
static void expect_still_frames(cerebro_model *m, const char *name, const cerebro_add_options *o, size_t n,
                                double step)
{
    const char *dir = scratch(name);
    cerebro_add_options opts = *o;
    double t[64];
    copy_file(media("still.mp4"), dir, "still.mp4");
    cerebro_index *idx = open_index(dir, m);
    cerebro_add_stats s = add_folder(idx, dir, &opts, NULL);
    ck_assert_msg(s.frames == n, "%s: %llu frames, want %zu", name, (unsigned long long)s.frames, n);
    ck_assert_uint_eq(frames_of(idx, "still.mp4", t, NULL, 64), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(t[i], step * (double)i, 1e-6);
    cerebro_index_free(idx);
}

START_TEST(test_still_scene_dedup_and_limits)
{
    cerebro_model *m = tiny_model();
    cerebro_add_options o;
    cerebro_add_options_init(&o);
    /* 60 s of one still picture, a frame offered every 5 s: all twelve are
     * the same picture, so one is kept. */
    o.frame_interval = 5;
    expect_still_frames(m, "still", &o, 1, 0);
    /* Without de-duplication (threshold 1) all twelve stay. */
    o.dedup_threshold = 1.0f;
    expect_still_frames(m, "still-nodedup", &o, 12, 5.0);
    /* max_frames 4 spreads four frames over the 60 s. */
    o.max_frames = 4;
    expect_still_frames(m, "still-max", &o, 4, 15.0);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_incremental_and_changed)
{
    cerebro_model *m = tiny_model();
    const char *dir = scratch("incremental");
    double t[16];
    int64_t ids[16], new_ids[16];
    cerebro_add_options all;
    /* The tiny model's random weights make unlike pictures look alike:
     * keep every sampled frame (de-duplication has its own test). */
    cerebro_add_options_init(&all);
    all.dedup_threshold = 1.0f;
    copy_file(media("scenes.mp4"), dir, "clip.mp4");
    copy_file(media("frog_query.png"), dir, "frog.png");
    cerebro_index *idx = open_index(dir, m);
    cerebro_add_stats s = add_folder(idx, dir, &all, NULL);
    ck_assert_uint_eq(s.added, 2);
    ck_assert_uint_eq(s.frames, 2);
    ck_assert_uint_eq(item_count(idx), 3);
    ck_assert_uint_eq(frames_of(idx, "clip.mp4", t, ids, 16), 2);

    /* Unchanged: nothing decoded, nothing committed. */
    s = add_folder(idx, dir, &all, NULL);
    ck_assert_uint_eq(s.skipped, 2);
    ck_assert_uint_eq(s.added + s.updated + s.failed + s.frames, 0);
    /* Touched, same bytes: the hash says unchanged. */
    ck_assert_int_eq(utimensat(AT_FDCWD, fmt_path(dir, "clip.mp4"), NULL, 0), 0);
    s = add_folder(idx, dir, &all, NULL);
    ck_assert_uint_eq(s.skipped, 2);
    ck_assert_uint_eq(s.frames, 0);
    ck_assert_uint_eq(frames_of(idx, "clip.mp4", t, new_ids, 16), 2);
    ck_assert(new_ids[0] == ids[0] && new_ids[1] == ids[1]);

    /* Changed: elephant, owl, lion, 2 s each; the old frames go. */
    copy_file(media("changed.mp4"), dir, "clip.mp4");
    s = add_folder(idx, dir, &all, NULL);
    ck_assert_uint_eq(s.updated, 1);
    ck_assert_uint_eq(s.skipped, 1);
    ck_assert_uint_eq(s.frames, 3);
    ck_assert_uint_eq(frames_of(idx, "clip.mp4", t, new_ids, 16), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(t[i], 2.0 * i, 1e-6);
    for (int i = 0; i < 2; i++) {
        cerebro_results *r = NULL;
        ck_assert_int_eq(cerebro_index_get(idx, ids[i], &r), CEREBRO_E_NOT_FOUND);
    }
    ck_assert_uint_eq(item_count(idx), 4);

    /* Removal by path takes every frame. */
    OK(cerebro_index_remove_path(idx, fmt_path(dir, "clip.mp4")));
    ck_assert_uint_eq(item_count(idx), 1);
    ck_assert_uint_eq(frames_of(idx, "clip.mp4", t, NULL, 16), 0);
    cerebro_index_free(idx);

    /* CEREBRO_ADD_NO_VIDEO leaves videos in folders alone. */
    dir = scratch("novideo");
    copy_file(media("scenes.mp4"), dir, "clip.mp4");
    idx = open_index(dir, m);
    cerebro_add_options o;
    cerebro_add_options_init(&o);
    o.flags = CEREBRO_ADD_NO_VIDEO;
    s = add_folder(idx, dir, &o, NULL);
    ck_assert_uint_eq(s.added + s.failed + s.frames, 0);
    ck_assert_uint_eq(item_count(idx), 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_damaged_files)
{
    cerebro_model *m = tiny_model();
    const char *dir = scratch("damaged");
    reports r;
    cerebro_status st = CEREBRO_OK;
    const char *msg;
    double t[64];
    copy_file(media("truncated.mkv"), dir, "truncated.mkv");
    copy_file(media("audio_only.mp4"), dir, "audio_only.mp4");
    copy_file(media("garbage.mp4"), dir, "garbage.mp4");
    cerebro_index *idx = open_index(dir, m);
    cerebro_add_options o;
    cerebro_add_options_init(&o);
    o.frame_interval = 1;
    o.dedup_threshold = 1.0f;
    cerebro_add_stats s = add_folder(idx, dir, &o, &r);
    ck_assert_uint_eq(s.failed, 3);
    ck_assert_uint_eq(s.added, 0);

    msg = report_for(&r, "audio_only.mp4", &st);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(st, CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(msg, "audio_only.mp4: no video stream"), "%s", msg);

    msg = report_for(&r, "garbage.mp4", &st);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(st, CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(msg, "garbage.mp4"), "%s", msg);

    /* The truncated file keeps the frames that decoded (one a second). */
    msg = report_for(&r, "truncated.mkv", &st);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(st, CEREBRO_E_CORRUPT);
    ck_assert_msg(strstr(msg, "truncated.mkv: truncated") && strstr(msg, "kept"), "%s", msg);
    size_t n = frames_of(idx, "truncated.mkv", t, NULL, 64);
    ck_assert_uint_eq(s.frames, n);
    ck_assert_msg(n >= 2 && n < 12, "%zu frames kept", n);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(t[i], (double)i, 1e-6);

    cerebro_index_stats is;
    OK(cerebro_index_stats_get(idx, &is));
    ck_assert_uint_eq(is.failed, 3);
    /* A re-run does not try them again. */
    s = add_folder(idx, dir, &o, &r);
    ck_assert_uint_eq(s.skipped, 3);
    ck_assert_uint_eq(s.failed + s.frames, 0);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

START_TEST(test_time_limit)
{
    cerebro_model *m = tiny_model();
    const char *dir = scratch("time-limit");
    reports r;
    cerebro_status st = CEREBRO_OK;
    copy_file(media("still.mp4"), dir, "still.mp4");
    cerebro_index *idx = open_index(dir, m);
    cerebro_add_options o;
    cerebro_add_options_init(&o);
    o.file_time_limit = -1;
    ck_assert_int_eq(cerebro_index_add(idx, &dir, 1, &o, NULL), CEREBRO_E_INVALID);
    o.file_time_limit = 0.5;
    o.dedup_threshold = 1.5f;
    ck_assert_int_eq(cerebro_index_add(idx, &dir, 1, &o, NULL), CEREBRO_E_INVALID);
    o.dedup_threshold = 0;
    o.file_time_limit = 1e-6; /* over before the first frame */
    cerebro_add_stats s = add_folder(idx, dir, &o, &r);
    ck_assert_uint_eq(s.failed, 1);
    const char *msg = report_for(&r, "still.mp4", &st);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(st, CEREBRO_E_LIMIT);
    ck_assert_msg(strstr(msg, "still.mp4: stopped after the time limit"), "%s", msg);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

/* Cancels at the first interim report of a video. */
typedef struct ticks {
    int partial;
    uint64_t done_at_first;
    char path[4096];
} ticks;

static int cancel_on_tick(void *user, const cerebro_progress *p)
{
    ticks *t = user;
    if (!p->partial)
        return 0;
    if (t->partial++ == 0) {
        t->done_at_first = p->done;
        snprintf(t->path, sizeof t->path, "%s", p->path ? p->path : "");
    }
    return 1;
}

/* A long video reports while it decodes (still.mp4: 300 frames, so at least
 * one report at frame 250 however fast the machine), and a cancel there stops
 * at once: the image before it stays committed, the video is not indexed,
 * and the next run indexes it whole. */
START_TEST(test_cancel_while_decoding)
{
    cerebro_model *m = tiny_model();
    const char *dir = scratch("cancel");
    copy_file(media("still.mp4"), dir, "still.mp4");
    copy_file(media("frog_query.png"), dir, "frog.png");
    cerebro_index *idx = open_index(dir, m);
    cerebro_add_options o;
    ticks t = {0, 0, ""};
    cerebro_add_options_init(&o);
    o.progress = cancel_on_tick;
    o.user = &t;
    o.frame_interval = 1;
    ck_assert_int_eq(cerebro_index_add(idx, &dir, 1, &o, NULL), CEREBRO_E_CANCELLED);
    ck_assert_msg(strstr(cerebro_last_error(), "cancelled"), "%s", cerebro_last_error());
    ck_assert_int_eq(t.partial, 1);
    ck_assert_uint_eq(t.done_at_first, 1);
    ck_assert_msg(strstr(t.path, "/still.mp4"), "%s", t.path);
    ck_assert_uint_eq(item_count(idx), 1);
    cerebro_add_stats s = add_folder(idx, dir, NULL, NULL);
    ck_assert_uint_eq(s.added, 1);
    ck_assert_uint_eq(s.skipped, 1);
    ck_assert_uint_gt(s.frames, 0);
    ck_assert_uint_eq(item_count(idx), 1 + s.frames);
    cerebro_index_free(idx);
    cerebro_model_free(m);
}
END_TEST

static Suite *video_index_suite(void)
{
    Suite *s = suite_create("video_index");
    TCase *tc = tcase_create("video_index");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_image_query_finds_scene_two);
    tcase_add_test(tc, test_text_query_default_model);
    tcase_add_test(tc, test_colour_cut_default_model);
    tcase_add_test(tc, test_still_scene_dedup_and_limits);
    tcase_add_test(tc, test_incremental_and_changed);
    tcase_add_test(tc, test_damaged_files);
    tcase_add_test(tc, test_time_limit);
    tcase_add_test(tc, test_cancel_while_decoding);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(video_index_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
