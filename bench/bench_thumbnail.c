/* bench_thumbnail: single-thread thumbnail throughput, as `cerebro serve`
 * makes them: decode, resize the longest side to S (PIL-compatible
 * bicubic), encode JPEG quality 85.
 *
 *   bench_thumbnail [--size S] [--seconds T] FILE...
 *
 * Prints one line per decode mode, full size and CEREBRO_IMAGE_DRAFT (a
 * JPEG decoded at 1/2-1/8 scale inside the IDCT while its shorter side
 * stays >= S):
 *   mode=draft images=N seconds=T images_per_s=X cpu_images_per_s=Y
 * bench_thumbnail.py runs PIL on the same files in the same run. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cerebro/cerebro.h>

static double seconds_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int thumbnail(const char *path, const cerebro_image_options *o, uint32_t size)
{
    cerebro_image *img = NULL, *small = NULL;
    void *jpeg = NULL;
    size_t len = 0;
    cerebro_status st = cerebro_image_load_file(&img, path, o);

    if (st == CEREBRO_OK) {
        uint32_t w = cerebro_image_width(img), h = cerebro_image_height(img);
        uint32_t tw = w >= h ? size : (uint32_t)((uint64_t)w * size / h);
        uint32_t th = w >= h ? (uint32_t)((uint64_t)h * size / w) : size;
        st = cerebro_image_resize(&small, img, tw ? tw : 1, th ? th : 1);
        if (st == CEREBRO_OK)
            st = cerebro_image_encode_jpeg(small, 85, &jpeg, &len);
    }
    cerebro_free(jpeg);
    cerebro_image_free(small);
    cerebro_image_free(img);
    if (st != CEREBRO_OK)
        fprintf(stderr, "bench_thumbnail: %s\n", cerebro_last_error());
    return st == CEREBRO_OK ? 0 : -1;
}

static int bench_mode(char **files, int n, uint32_t size, int draft, double seconds)
{
    cerebro_image_options o;
    long images = 0;
    double t0, c0, elapsed;

    cerebro_image_options_init(&o);
    if (draft) {
        o.size = size;
        o.flags |= CEREBRO_IMAGE_DRAFT;
    }
    for (int i = 0; i < n; i++) /* warms the page cache */
        if (thumbnail(files[i], &o, size) != 0)
            return -1;
    t0 = seconds_of(CLOCK_MONOTONIC);
    c0 = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    do {
        for (int i = 0; i < n; i++)
            if (thumbnail(files[i], &o, size) != 0)
                return -1;
        images += n;
        elapsed = seconds_of(CLOCK_MONOTONIC) - t0;
    } while (elapsed < seconds);
    printf("mode=%s images=%ld seconds=%.3f images_per_s=%.2f cpu_images_per_s=%.2f\n",
           draft ? "draft" : "full", images, elapsed, images / elapsed,
           images / (seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                              {"seconds", required_argument, NULL, 't'},
                                              {NULL, 0, NULL, 0}};
    uint32_t size = 256;
    double seconds = 3;
    int c;

    while ((c = getopt_long(argc, argv, "s:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': size = (uint32_t)atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        default: return 2;
        }
    }
    if (optind >= argc || size < 1 || size > 4096) {
        fprintf(stderr, "usage: bench_thumbnail [--size S (1..4096)] [--seconds T] FILE...\n");
        return 2;
    }
    for (int draft = 0; draft <= 1; draft++)
        if (bench_mode(argv + optind, argc - optind, size, draft, seconds) != 0)
            return 1;
    return 0;
}
