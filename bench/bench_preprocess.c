/* bench_preprocess: single-thread decode + preprocess throughput.
 *
 *   bench_preprocess [--size S] [--mode exact|fast|both] [--seconds T] FILE...
 *
 * Runs cerebro_image_preprocess_file() over the files again and again for
 * at least T seconds (after one untimed pass that warms the page cache)
 * and prints one line per mode:
 *   mode=exact images=N seconds=T images_per_s=X cpu_images_per_s=Y
 * (Y counts this process's CPU time only: steadier on a busy machine).
 * bench_preprocess.py runs PIL + torchvision on the same files in the same
 * run and prints both side by side. */
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

static int run_pass(char **files, int n, const cerebro_image_options *o, float *tensor)
{
    for (int i = 0; i < n; i++) {
        if (cerebro_image_preprocess_file(files[i], o, tensor) != CEREBRO_OK) {
            fprintf(stderr, "bench_preprocess: %s\n", cerebro_last_error());
            return -1;
        }
    }
    return 0;
}

static int bench_mode(char **files, int n, uint32_t size, uint32_t mode, double seconds)
{
    cerebro_image_options o;
    float *tensor;
    long images = 0;
    double t0, c0, elapsed, cpu;

    cerebro_image_options_init(&o);
    o.size = size;
    o.mode = mode;
    tensor = malloc(cerebro_image_tensor_size(&o) * sizeof *tensor);
    if (!tensor)
        return -1;
    if (run_pass(files, n, &o, tensor) != 0)
        goto fail;
    t0 = seconds_of(CLOCK_MONOTONIC);
    c0 = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    do {
        if (run_pass(files, n, &o, tensor) != 0)
            goto fail;
        images += n;
        elapsed = seconds_of(CLOCK_MONOTONIC) - t0;
    } while (elapsed < seconds);
    cpu = seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("mode=%s images=%ld seconds=%.3f images_per_s=%.2f cpu_images_per_s=%.2f\n",
           mode == CEREBRO_PREPROCESS_FAST ? "fast" : "exact", images, elapsed, images / elapsed,
           images / cpu);
    fflush(stdout);
    free(tensor);
    return 0;
fail:
    free(tensor);
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                              {"mode", required_argument, NULL, 'm'},
                                              {"seconds", required_argument, NULL, 't'},
                                              {NULL, 0, NULL, 0}};
    uint32_t size = 224;
    int exact = 1, fast = 1, c;
    double seconds = 3;

    while ((c = getopt_long(argc, argv, "s:m:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': size = (uint32_t)atoi(optarg); break;
        case 'm':
            exact = strcmp(optarg, "fast") != 0;
            fast = strcmp(optarg, "exact") != 0;
            break;
        case 't': seconds = atof(optarg); break;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: bench_preprocess [--size S] [--mode exact|fast|both] "
                        "[--seconds T] FILE...\n");
        return 2;
    }
    if (exact && bench_mode(argv + optind, argc - optind, size, CEREBRO_PREPROCESS_EXACT, seconds))
        return 1;
    if (fast && bench_mode(argv + optind, argc - optind, size, CEREBRO_PREPROCESS_FAST, seconds))
        return 1;
    return 0;
}
