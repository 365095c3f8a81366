/* Overlapping decode and inference: while the model runs batch i on the
 * calling thread, a prefetch thread drives `workers` decode threads over
 * batch i+1. Successful tensors are packed to the front of a batch before
 * the forward pass so failed items cost nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"
#include "model/pipeline.h"

enum { MAX_WORKERS = 64 };

typedef struct stage {
    const cb_pipeline *p;
    size_t start, count;
    size_t per;        /* floats per tensor */
    float *pixels;     /* batch * per */
    cerebro_status *status;
    char (*msg)[CB_PIPELINE_MSG_CAP];
    atomic_size_t next;
} stage;

static void *stage_worker(void *arg)
{
    stage *s = arg;
    size_t i;
    while ((i = atomic_fetch_add(&s->next, 1)) < s->count) {
        s->msg[i][0] = '\0';
        s->status[i] = s->p->prepare(s->p->user, s->start + i, s->pixels + i * s->per, s->msg[i],
                                     CB_PIPELINE_MSG_CAP);
    }
    return NULL;
}

/* Prepares one batch with p->workers threads (the caller's included). */
static void stage_run(stage *s)
{
    pthread_t tid[MAX_WORKERS];
    uint32_t started = 0;
    atomic_store(&s->next, 0);
    for (uint32_t w = 1; w < s->p->workers && w < MAX_WORKERS; w++) {
        if (pthread_create(&tid[started], NULL, stage_worker, s) == 0)
            started++;
    }
    stage_worker(s);
    for (uint32_t w = 0; w < started; w++)
        pthread_join(tid[w], NULL);
}

static void *stage_main(void *arg)
{
    stage_run(arg);
    return NULL;
}

/* Runs the model on the successful items of a prepared batch; `emb` gets
 * one row per item, zeros for failures. */
static cerebro_status encode_stage(stage *s, float *packed_out, float *emb)
{
    uint32_t dim = cerebro_model_dim(s->p->model);
    size_t ok = 0;
    cerebro_status st;

    for (size_t i = 0; i < s->count; i++) {
        if (s->status[i] != CEREBRO_OK)
            continue;
        if (ok != i)
            memcpy(s->pixels + ok * s->per, s->pixels + i * s->per, s->per * sizeof(float));
        ok++;
    }
    if (ok && (st = cb_model_encode_pixels(s->p->model, s->pixels, ok, ok, packed_out)) != CEREBRO_OK)
        return st;
    for (size_t i = 0, j = 0; i < s->count; i++) {
        if (s->status[i] == CEREBRO_OK)
            memcpy(emb + i * dim, packed_out + j++ * dim, dim * sizeof(float));
        else
            memset(emb + i * dim, 0, dim * sizeof(float));
    }
    return CEREBRO_OK;
}

cerebro_status cb_pipeline_run(const cb_pipeline *p)
{
    cerebro_image_options io;
    stage s[2];
    float *packed = NULL, *emb = NULL;
    cerebro_status st = CEREBRO_OK;
    size_t bs = p->batch, dim = cerebro_model_dim(p->model);

    cerebro_model_image_options(p->model, &io);
    memset(s, 0, sizeof s);
    for (int i = 0; i < 2; i++) {
        s[i].p = p;
        s[i].per = cerebro_image_tensor_size(&io);
        s[i].pixels = malloc(bs * s[i].per * sizeof(float));
        s[i].status = malloc(bs * sizeof(cerebro_status));
        s[i].msg = malloc(bs * sizeof *s[i].msg);
        if (!s[i].pixels || !s[i].status || !s[i].msg)
            st = CEREBRO_E_NOMEM;
    }
    packed = malloc(bs * dim * sizeof(float));
    emb = malloc(bs * dim * sizeof(float));
    if (st != CEREBRO_OK || !packed || !emb) {
        st = cb_fail(CEREBRO_E_NOMEM, "encoding pipeline: out of memory for a batch of %zu", bs);
        goto done;
    }

    s[0].start = 0;
    s[0].count = p->n < bs ? p->n : bs;
    stage_run(&s[0]);
    for (size_t cur = 0; s[cur].count > 0; cur ^= 1) {
        stage *now = &s[cur], *next = &s[cur ^ 1];
        pthread_t pf;
        int overlapping = 0;

        next->start = now->start + now->count;
        next->count = p->n - next->start < bs ? p->n - next->start : bs;
        if (next->count > 0) {
            overlapping = pthread_create(&pf, NULL, stage_main, next) == 0;
            if (!overlapping)
                stage_run(next);
        }
        st = encode_stage(now, packed, emb);
        if (st == CEREBRO_OK)
            st = p->consume(p->user, now->start, now->count, emb, now->status,
                            (const char(*)[CB_PIPELINE_MSG_CAP])now->msg);
        if (overlapping)
            pthread_join(pf, NULL);
        if (st != CEREBRO_OK)
            goto done;
    }
done:
    for (int i = 0; i < 2; i++) {
        free(s[i].pixels);
        free(s[i].status);
        free(s[i].msg);
    }
    free(packed);
    free(emb);
    return st;
}
