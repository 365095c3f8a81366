/* Tokenizer throughput: encodes every text of each input file repeatedly for
 * a fixed time and prints tokens/s. bench_tokenizer.py runs it next to the
 * Python reference on the same texts.
 *
 *   bench_tokenizer MERGES [--threads N] [--seconds S] [--context L] FILE...
 *
 * FILE holds one text per line as "T <hex of its UTF-8>" (the format of
 * tests/text/gen_corpus.py; other lines are ignored). Each thread encodes the
 * whole file in a loop; figures are totals over threads. tokens_per_s is
 * over wall time, tokens_per_cpu_s over the process's CPU time (steadier on
 * a shared machine). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cerebro/cerebro.h"

typedef struct text {
    char *bytes;
    size_t len;
} text;

typedef struct workload {
    text *texts;
    size_t n;
} workload;

typedef struct job {
    const cerebro_tokenizer *tok;
    const workload *w;
    double seconds;
    uint32_t context;
    uint64_t texts, tokens;
    int failed;
} job;

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

static int load(const char *path, workload *w)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, room = 0;
    ssize_t got;

    if (!f) {
        perror(path);
        return -1;
    }
    w->texts = NULL;
    w->n = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        text *t;
        if (line[0] != 'T' || got < 3)
            continue;
        if (w->n == room) {
            room = room ? 2 * room : 1024;
            w->texts = realloc(w->texts, room * sizeof *w->texts);
            if (!w->texts)
                return -1;
        }
        t = &w->texts[w->n++];
        t->len = (size_t)(got - 3) / 2;
        t->bytes = malloc(t->len + 1);
        if (!t->bytes)
            return -1;
        for (size_t i = 0; i < t->len; i++)
            t->bytes[i] = (char)(hex(line[2 + 2 * i]) * 16 + hex(line[3 + 2 * i]));
    }
    free(line);
    fclose(f);
    return 0;
}

static void *run(void *arg)
{
    job *j = arg;
    size_t cap = 1 << 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    double end = now() + j->seconds;

    if (!ids) {
        j->failed = 1;
        return NULL;
    }
    do {
        for (size_t i = 0; i < j->w->n; i++) {
            size_t n = 0;
            const text *t = &j->w->texts[i];
            cerebro_status st;
            while ((st = cerebro_tokenizer_encode(j->tok, t->bytes, t->len, j->context, ids, cap,
                                                  &n)) == CEREBRO_E_LIMIT &&
                   n > cap) {
                free(ids);
                cap = n;
                if (!(ids = malloc(cap * sizeof *ids))) {
                    j->failed = 1;
                    return NULL;
                }
            }
            if (st != CEREBRO_OK) {
                fprintf(stderr, "text %zu: %s\n", i, cerebro_last_error());
                j->failed = 1;
                break;
            }
            j->tokens += n;
            j->texts++;
        }
    } while (!j->failed && now() < end);
    free(ids);
    return NULL;
}

int main(int argc, char **argv)
{
    cerebro_tokenizer *tok = NULL;
    int threads = 1, first_file = 0;
    double seconds = 2.0, t0;
    uint32_t context = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MERGES [--threads N] [--seconds S] [--context L] FILE...\n",
                argv[0]);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc)
            context = (uint32_t)atoi(argv[++i]);
        else if (!first_file)
            first_file = i;
    }
    if (threads < 1 || threads > 256 || !first_file) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    t0 = now();
    if (cerebro_tokenizer_open(&tok, argv[1]) != CEREBRO_OK) {
        fprintf(stderr, "%s\n", cerebro_last_error());
        return 1;
    }
    printf("load_ms=%.1f\n", (now() - t0) * 1e3);
    for (int i = first_file; i < argc; i++) {
        workload w;
        pthread_t tid[256];
        job jobs[256];
        uint64_t texts = 0, tokens = 0;
        double start, cpu_start;
        int failed = 0;

        if (argv[i][0] == '-') {
            i++;
            continue;
        }
        if (load(argv[i], &w) != 0 || w.n == 0) {
            fprintf(stderr, "%s: no texts\n", argv[i]);
            return 1;
        }
        start = now();
        cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){tok, &w, seconds, context, 0, 0, 0};
            pthread_create(&tid[t], NULL, run, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            texts += jobs[t].texts;
            tokens += jobs[t].tokens;
            failed |= jobs[t].failed;
        }
        if (failed)
            return 1;
        {
            double elapsed = now() - start;
            double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
            const char *name = strrchr(argv[i], '/');
            printf("file=%s threads=%d texts=%llu tokens=%llu seconds=%.3f tokens_per_s=%.0f "
                   "tokens_per_cpu_s=%.0f us_per_text=%.3f\n",
                   name ? name + 1 : argv[i], threads, (unsigned long long)texts,
                   (unsigned long long)tokens, elapsed, (double)tokens / elapsed,
                   (double)tokens / cpu, cpu * 1e6 / (double)texts);
        }
        for (size_t k = 0; k < w.n; k++)
            free(w.texts[k].bytes);
        free(w.texts);
    }
    cerebro_tokenizer_free(tok);
    return 0;
}
