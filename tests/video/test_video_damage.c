/* Videos a user may have that are not whole videos: a folder, an audio file
 * whose only picture is its cover, an H.264 Matroska file with bytes in its
 * middle overwritten. Each gives the status and message a user reads, and
 * the frames before damage are kept. The damaged copies are made here from
 * tests/video's generated media (CEREBRO_VIDEO_MEDIA); the cover file by
 * the ffmpeg program. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "video/video.h"

static const cb_video_limits plain = {100000000u, 0, 0, 1};

static const char *media(const char *name)
{
    static char buf[4][2048];
    static int i;
    const char *dir = getenv("CEREBRO_VIDEO_MEDIA");
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir ? dir : "media", name);
    return b;
}

static const char *scratch(const char *name)
{
    static char buf[4][2048];
    static int i;
    const char *tmp = getenv("CEREBRO_TEST_TMP");
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%s/video_damage", tmp ? tmp : "/tmp");
    mkdir(tmp ? tmp : "/tmp", 0755);
    mkdir(b, 0755);
    snprintf(b, sizeof buf[0], "%s/video_damage/%s", tmp ? tmp : "/tmp", name);
    return b;
}

/* Decodes to the end: frames in *n, the last status (CB_VIDEO_END when whole). */
static cerebro_status decode_all(const char *path, size_t *n)
{
    cb_video *v = NULL;
    double t;
    cerebro_status st = cb_video_open(&v, path, &plain);

    *n = 0;
    ck_assert_msg(st == CEREBRO_OK, "%s: %s", path, cerebro_last_error());
    while ((st = cb_video_next(v, &t)) == CEREBRO_OK)
        (*n)++;
    cb_video_close(v);
    return st;
}

START_TEST(test_a_folder_is_not_a_video)
{
    const char *dir = scratch("");
    cb_video *v = (cb_video *)&dir;
    cerebro_image *img = NULL;

    ck_assert_int_eq(cb_video_open(&v, dir, &plain), CEREBRO_E_IO);
    ck_assert_msg(strstr(cerebro_last_error(), ": not a regular file"), "%s", cerebro_last_error());
    ck_assert_ptr_null(v);
    ck_assert_int_eq(cerebro_video_frame_load(&img, dir, 0, NULL), CEREBRO_E_IO);
    ck_assert_ptr_null(img);
}
END_TEST

START_TEST(test_only_a_cover_picture)
{
    const char *path = scratch("cover.mp3");
    char cmd[8192];
    cb_video *v = NULL;
    cerebro_image *img = NULL;
    const char *images = getenv("CEREBRO_SAMPLE_IMAGES");

    /* One second of a tone with frog.png as its cover. */
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i sine=duration=1 -i '%s/frog.png' "
             "-map 0:a -map 1:v -c:a libmp3lame -c:v mjpeg -disposition:v attached_pic '%s'",
             images ? images : "examples/images", path);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    ck_assert_int_eq(cb_video_open(&v, path, &plain), CEREBRO_E_FORMAT);
    ck_assert_msg(strstr(cerebro_last_error(), "cover.mp3: no video stream (only a cover picture)"), "%s",
                  cerebro_last_error());
    ck_assert_ptr_null(v);
    ck_assert_int_eq(cerebro_video_frame_load(&img, path, 0, NULL), CEREBRO_E_FORMAT);
    ck_assert_ptr_null(img);
}
END_TEST

/* Writes `name` into the scratch folder: the generated `source` with the
 * middle fifth of its bytes replaced by noise. */
static const char *damage_middle(const char *source, const char *name)
{
    const char *whole = media(source), *path = scratch(name);
    size_t size;
    FILE *f = fopen(whole, "rb");
    unsigned char *data;
    uint32_t seed = 5;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    size = (size_t)ftell(f);
    rewind(f);
    data = malloc(size);
    ck_assert_uint_eq(fread(data, 1, size, f), size);
    fclose(f);
    for (size_t i = size * 2 / 5; i < size * 3 / 5; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (unsigned char)(seed >> 16);
    }
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
    return path;
}

START_TEST(test_damaged_middle)
{
    const char *path = damage_middle("scenes.mkv", "damaged.mkv");
    size_t n_whole, n;

    ck_assert_int_eq(decode_all(media("scenes.mkv"), &n_whole), CB_VIDEO_END);
    ck_assert_uint_eq(n_whole, 150); /* 6 s at 25 frames/s */
    ck_assert_int_eq(decode_all(path, &n), CEREBRO_E_CORRUPT);
    /* Where and what, in the user's words: "damaged.mkv: damaged video data
     * undecodable packet after 00:00:02.2: Invalid data ...". The frames
     * before the damage were decoded. */
    ck_assert_msg(strstr(cerebro_last_error(), "damaged.mkv: damaged video data "), "%s", cerebro_last_error());
    ck_assert_msg(strstr(cerebro_last_error(), " after 00:00:0"), "%s", cerebro_last_error());
    ck_assert_msg(n > 25 && n < n_whole, "%zu frames of %zu", n, n_whole);
}
END_TEST

/* VP9 in WebM: the demuxer skips the noise to the next cluster and every
 * packet it returns decodes (98 of 150 frames), so only the demuxer's
 * resync tells of the damage. */
START_TEST(test_damaged_middle_webm)
{
    const char *path = damage_middle("scenes.webm", "damaged.webm");
    size_t n_whole, n;

    ck_assert_int_eq(decode_all(media("scenes.webm"), &n_whole), CB_VIDEO_END);
    ck_assert_uint_eq(n_whole, 150);
    ck_assert_int_eq(decode_all(path, &n), CEREBRO_E_CORRUPT);
    const char *want = "damaged.webm: damaged video data unreadable data skipped after 00:00:0";
    ck_assert_msg(strstr(cerebro_last_error(), want), "%s", cerebro_last_error());
    ck_assert_msg(n > 25 && n < n_whole, "%zu frames of %zu", n, n_whole);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("video_damage");
    TCase *tc = tcase_create("damage");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_a_folder_is_not_a_video);
    tcase_add_test(tc, test_only_a_cover_picture);
    tcase_add_test(tc, test_damaged_middle);
    tcase_add_test(tc, test_damaged_middle_webm);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
