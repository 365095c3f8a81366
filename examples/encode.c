/* cerebro-encode: embed texts and images with a model and print how well
 * each image matches each text (cosine similarity), i.e. zero-shot
 * classification in twenty lines of library calls.
 *
 *   cerebro-encode --model MODEL.pt [--vocab BPE] [--text T]... IMAGE...
 *
 * Without --text, prints each image's embedding norm and first values. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cerebro/cerebro.h>

static void report(void *user, size_t index, cerebro_status status, const char *message)
{
    (void)user;
    (void)index;
    (void)status;
    fprintf(stderr, "cerebro-encode: skipped: %s\n", message);
}

static float dot(const float *a, const float *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"model", required_argument, NULL, 'm'},
                                              {"vocab", required_argument, NULL, 'v'},
                                              {"text", required_argument, NULL, 't'},
                                              {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *texts[64];
    size_t n_texts = 0;
    cerebro_model_options mo;
    cerebro_model *model = NULL;
    int c, rc = 1;

    cerebro_model_options_init(&mo);
    while ((c = getopt_long(argc, argv, "m:v:t:", longopts, NULL)) != -1) {
        if (c == 'm')
            model_path = optarg;
        else if (c == 'v')
            mo.vocab_path = optarg;
        else if (c == 't' && n_texts < 64)
            texts[n_texts++] = optarg;
        else {
            fprintf(stderr, "usage: cerebro-encode --model MODEL.pt [--vocab BPE] [--text T]... IMAGE...\n");
            return 2;
        }
    }
    if (!model_path || optind >= argc) {
        fprintf(stderr, "usage: cerebro-encode --model MODEL.pt [--vocab BPE] [--text T]... IMAGE...\n");
        return 2;
    }
    if (cerebro_model_open(&model, model_path, &mo) != CEREBRO_OK) {
        fprintf(stderr, "cerebro-encode: %s\n", cerebro_last_error());
        return 1;
    }
    size_t dim = cerebro_model_dim(model), n_images = (size_t)(argc - optind);
    float *img = malloc(n_images * dim * sizeof *img), *txt = malloc((n_texts + 1) * dim * sizeof *txt);
    cerebro_status *status = malloc(n_images * sizeof *status);
    cerebro_encode_options eo;
    cerebro_encode_options_init(&eo);
    eo.on_error = report;
    printf("model %s (%s), %zu dimensions\n", cerebro_model_name(model), cerebro_model_id(model), dim);
    if (!img || !txt || !status ||
        cerebro_model_encode_image_files(model, (const char *const *)argv + optind, n_images, &eo, img,
                                         status) != CEREBRO_OK ||
        cerebro_model_encode_text(model, texts, n_texts, txt) != CEREBRO_OK) {
        fprintf(stderr, "cerebro-encode: %s\n", cerebro_last_error());
        goto done;
    }
    for (size_t i = 0; i < n_images; i++) {
        if (status[i] != CEREBRO_OK)
            continue;
        const float *v = img + i * dim;
        printf("%s:", argv[optind + i]);
        if (n_texts == 0)
            printf(" [%.4f, %.4f, %.4f, ...]", v[0], v[1], v[2]);
        size_t best = 0;
        for (size_t t = 0; t < n_texts; t++) {
            float s = dot(v, txt + t * dim, dim);
            best = s > dot(v, txt + best * dim, dim) ? t : best;
            printf("  \"%s\" %.3f", texts[t], s);
        }
        if (n_texts)
            printf("  -> %s", texts[best]);
        printf("\n");
    }
    rc = 0;
done:
    free(img);
    free(txt);
    free(status);
    cerebro_model_free(model);
    return rc;
}
