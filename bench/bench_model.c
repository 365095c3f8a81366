/* bench_model: encoder throughput of libcerebro on one bundle.
 *
 *   bench_model BUNDLE [--threads N] [--batch B] [--seconds S] [--precision fp32|bf16|auto]
 *
 * Prints one "name value unit" line per figure: image encode on
 * preprocessed batches, and short text queries encoded with only their real
 * tokens versus padded to the context length. bench_model.py runs PyTorch
 * on the same bundle in the same run and prints both side by side. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cerebro/cerebro.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Smallest cosine between the fp32 and bf16 embeddings of the batch. */
static double bf16_cosine_min(const char *path, uint32_t threads, const float *pixels, size_t batch,
                              size_t dim)
{
    cerebro_model *m[2] = {NULL, NULL};
    float *e[2] = {malloc(batch * dim * sizeof(float)), malloc(batch * dim * sizeof(float))};
    double worst = 2;
    for (int i = 0; i < 2; i++) {
        cerebro_model_options o;
        cerebro_model_options_init(&o);
        o.n_threads = threads;
        o.precision = i ? CEREBRO_PRECISION_BF16 : CEREBRO_PRECISION_FP32;
        if (!e[i] || cerebro_model_open(&m[i], path, &o) != CEREBRO_OK ||
            cerebro_model_encode_preprocessed(m[i], pixels, batch, e[i]) != CEREBRO_OK)
            goto done;
    }
    worst = 1;
    for (size_t r = 0; r < batch; r++) {
        double dot = 0;
        for (size_t j = 0; j < dim; j++)
            dot += (double)e[0][r * dim + j] * e[1][r * dim + j];
        worst = dot < worst ? dot : worst;
    }
done:
    for (int i = 0; i < 2; i++) {
        cerebro_model_free(m[i]);
        free(e[i]);
    }
    return worst;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_model: %s: %s\n", what, cerebro_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"threads", required_argument, NULL, 't'},
                                              {"batch", required_argument, NULL, 'b'},
                                              {"seconds", required_argument, NULL, 's'},
                                              {"precision", required_argument, NULL, 'p'},
                                              {NULL, 0, NULL, 0}};
    cerebro_model_options mo;
    cerebro_model *m = NULL;
    cerebro_image_options io;
    size_t batch = 16;
    double seconds = 5;
    int c;

    cerebro_model_options_init(&mo);
    mo.precision = CEREBRO_PRECISION_FP32;
    while ((c = getopt_long(argc, argv, "t:b:s:p:", longopts, NULL)) != -1) {
        switch (c) {
        case 't': mo.n_threads = (uint32_t)atoi(optarg); break;
        case 'b': batch = (size_t)atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'p':
            mo.precision = strcmp(optarg, "bf16") == 0   ? CEREBRO_PRECISION_BF16
                           : strcmp(optarg, "auto") == 0 ? CEREBRO_PRECISION_AUTO
                                                         : CEREBRO_PRECISION_FP32;
            break;
        default: return 2;
        }
    }
    if (optind >= argc || batch < 1) {
        fprintf(stderr, "usage: bench_model BUNDLE [--threads N] [--batch B] [--seconds S] [--precision fp32|bf16|auto]\n");
        return 2;
    }
    double t_open = now();
    if (cerebro_model_open(&m, argv[optind], &mo) != CEREBRO_OK)
        return fail("open");
    printf("open %.3f s\n", now() - t_open);
    printf("bf16 %d chosen\n", cerebro_model_precision(m) == CEREBRO_PRECISION_BF16);
    cerebro_model_image_options(m, &io);
    size_t per = cerebro_image_tensor_size(&io), dim = cerebro_model_dim(m);
    float *pixels = malloc(batch * per * sizeof(float)), *out = malloc(batch * dim * sizeof(float));
    srand(1);
    for (size_t i = 0; i < batch * per; i++)
        pixels[i] = (float)rand() / RAND_MAX * 4 - 2;

    /* Images: one warm-up batch, then as many batches as fit in `seconds`. */
    if (cerebro_model_encode_preprocessed(m, pixels, batch, out) != CEREBRO_OK)
        return fail("encode images");
    size_t images = 0;
    double t0 = now();
    while (now() - t0 < seconds) {
        if (cerebro_model_encode_preprocessed(m, pixels, batch, out) != CEREBRO_OK)
            return fail("encode images");
        images += batch;
    }
    printf("image_encode %.2f img/s\n", images / (now() - t0));

    /* Text: queries of 1..8 word tokens, each encoded alone (as a
     * search-as-you-type request is), with and without padding. */
    uint32_t ctx = cerebro_model_context_length(m);
    int32_t tokens[4096];
    for (int pass = 0; pass < 2; pass++) {
        size_t queries = 0;
        t0 = now();
        while (now() - t0 < seconds / 2) {
            for (int words = 1; words <= 8; words++) {
                size_t len = pass == 0 ? (size_t)words + 2 : ctx;
                memset(tokens, 0, ctx * sizeof *tokens);
                tokens[0] = 49406;
                for (int w = 1; w <= words; w++)
                    tokens[w] = 320 + w * 7;
                tokens[words + 1] = 49407;
                if (cerebro_model_encode_tokens(m, tokens, 1, len, out) != CEREBRO_OK)
                    return fail("encode text");
                queries++;
            }
        }
        printf("%s %.2f queries/s\n", pass == 0 ? "text_short" : "text_padded", queries / (now() - t0));
    }
    if (mo.precision == CEREBRO_PRECISION_AUTO)
        printf("bf16_cosine_min %.6f cos\n", bf16_cosine_min(argv[optind], mo.n_threads, pixels, batch, dim));
    free(pixels);
    free(out);
    cerebro_model_free(m);
    return 0;
}
