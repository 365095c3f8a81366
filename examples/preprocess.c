/* cerebro-preprocess: decode images and turn them into the model's input
 * tensor, the way libcerebro does before encoding.
 *
 *   cerebro-preprocess [--size S] [--fast] [--out FILE] IMAGE...
 *
 * Prints each image's decoded size and per-channel statistics of the
 * normalised tensor; --out appends the CHW float32 tensors to FILE. One bad
 * file is reported and skipped; the exit status is 1 if any file failed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cerebro/cerebro.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cerebro-preprocess [--size S] [--fast] [--out FILE] IMAGE...\n"
               "  --size S    model input side (default 224)\n"
               "  --fast      allow scaled JPEG decoding (fast mode)\n"
               "  --out FILE  write the CHW float32 tensors to FILE\n"
               "  --version   print the library version\n");
}

static void print_stats(const char *path, const cerebro_image *img, const float *t, uint32_t s)
{
    size_t plane = (size_t)s * s;
    printf("%s: %ux%u -> 3x%ux%u", path, cerebro_image_width(img), cerebro_image_height(img), s, s);
    for (int c = 0; c < 3; c++) {
        const float *p = t + c * plane;
        float lo = p[0], hi = p[0];
        double sum = 0;
        for (size_t i = 0; i < plane; i++) {
            lo = p[i] < lo ? p[i] : lo;
            hi = p[i] > hi ? p[i] : hi;
            sum += p[i];
        }
        printf("  %c[min %.3f max %.3f mean %.3f]", "RGB"[c], lo, hi, sum / (double)plane);
    }
    printf("\n");
}

/* Decodes once to report the size, then preprocesses from the file so the
 * fast path (scaled decode) is exercised exactly as indexing uses it. */
static int process(const char *path, const cerebro_image_options *opts, float *tensor, FILE *out)
{
    cerebro_image *img = NULL;
    if (cerebro_image_load_file(&img, path, opts) != CEREBRO_OK ||
        cerebro_image_preprocess_file(path, opts, tensor) != CEREBRO_OK) {
        fprintf(stderr, "cerebro-preprocess: %s\n", cerebro_last_error());
        cerebro_image_free(img);
        return 1;
    }
    print_stats(path, img, tensor, opts->size);
    cerebro_image_free(img);
    if (out && fwrite(tensor, sizeof(float), cerebro_image_tensor_size(opts), out) !=
                   cerebro_image_tensor_size(opts)) {
        fprintf(stderr, "cerebro-preprocess: write failed\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                              {"fast", no_argument, NULL, 'f'},
                                              {"out", required_argument, NULL, 'o'},
                                              {"version", no_argument, NULL, 'V'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    cerebro_image_options opts;
    const char *out_path = NULL;
    FILE *out = NULL;
    float *tensor;
    int c, failed = 0;

    cerebro_image_options_init(&opts);
    while ((c = getopt_long(argc, argv, "s:fo:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': opts.size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'f': opts.mode = CEREBRO_PREPROCESS_FAST; break;
        case 'o': out_path = optarg; break;
        case 'V': printf("libcerebro %s\n", cerebro_version_string()); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc || opts.size < 1 || opts.size > 4096) {
        usage(stderr);
        return 2;
    }
    tensor = malloc(cerebro_image_tensor_size(&opts) * sizeof(float));
    if (!tensor)
        return 1;
    if (out_path && !(out = fopen(out_path, "wb"))) {
        perror(out_path);
        free(tensor);
        return 1;
    }
    for (int i = optind; i < argc; i++)
        failed |= process(argv[i], &opts, tensor, out);
    if (out && fclose(out) != 0)
        failed = 1;
    free(tensor);
    return failed;
}
