/* Decode and inference on the same cores. `workers` decode threads stream
 * through the items in order, filling a ring of RING batch slots; the
 * calling thread takes the oldest complete batch, runs the model on it and
 * hands it to the consumer (SQLite commits, progress) while the decode
 * threads go on filling the other slots.
 *
 * Two ways to share the cores, chosen per batch:
 * - while decode threads still have items to prepare (decoding is the
 *   slower stage, as with a small model), the batch runs on the calling
 *   thread alone, with one OpenMP and one OpenBLAS thread, beside them: no
 *   thread of the model waits at a barrier, and the cores never idle. On
 *   2 cores (tiny bundle, 500x375 JPEGs) this indexes at 4,000-4,300
 *   images/s against 3,600-3,700 when the two took turns.
 * - once they have filled the ring (the model is the slower stage, as with
 *   ViT-B/32) or run out of items, the batch takes all the model's threads
 *   and the decode threads take no new item until it is done: the model's
 *   own threads (libgomp, OpenBLAS) meet at a barrier after every operator,
 *   and a barrier waits for the thread that a busy decoder keeps off its
 *   core (with decoders beside it, the tiny bundle's forward pass took 4-6
 *   times its CPU time in wall time).
 * Decoding never waits on a batch boundary (a thread that finishes the
 * last item of one batch goes on with the next) nor on the consumer; it
 * waits only for a forward pass on all threads, or when every slot holds a
 * batch the model has not taken yet. Successful tensors are packed to the
 * front of a batch before the forward pass so failed items cost nothing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "model/model.h"
#include "model/pipeline.h"

/* Three slots: one being encoded and consumed, one being filled, one for
 * decode threads that run ahead (the consumer's commit, a batch that
 * decodes faster than the model runs). */
enum { MAX_WORKERS = 64, RING = 3 };

typedef struct slot {
    size_t batch;   /* which batch the slot holds (index into the item stream / bs) */
    size_t count;   /* items of that batch */
    size_t done;    /* items prepared so far */
    float *pixels;  /* bs * per */
    cerebro_status *status;
    char (*msg)[CB_PIPELINE_MSG_CAP];
} slot;

typedef struct ring {
    const cb_pipeline *p;
    size_t bs, per, n_batches;
    slot s[RING];
    pthread_mutex_t lock;
    pthread_cond_t filled; /* a batch became complete (the calling thread waits) */
    pthread_cond_t freed;  /* a slot became free (decode threads wait) */
    size_t next;           /* next item to hand out */
    int encoding;          /* a forward pass on all the model's threads: decode threads take no new item */
    int stop;              /* the consumer or the model failed: hand out nothing more */
    double decode_cpu;     /* CPU seconds the decode threads spent preparing items */
    size_t decoded;        /* items they prepared */
} ring;

/* CPU seconds of the calling thread. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Takes the next item, waiting until the slot of its batch is free; returns
 * 0 when there is nothing left to do. */
static int take(ring *r, size_t *item, slot **out)
{
    pthread_mutex_lock(&r->lock);
    for (;;) {
        if (r->stop || r->next >= r->p->n) {
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        size_t b = r->next / r->bs;
        slot *s = &r->s[b % RING];
        if (s->batch == b && !r->encoding) {
            *item = r->next++;
            *out = s;
            pthread_mutex_unlock(&r->lock);
            return 1;
        }
        pthread_cond_wait(&r->freed, &r->lock);
    }
}

static void *decode_thread(void *arg)
{
    ring *r = arg;
    size_t i;
    slot *s;
    while (take(r, &i, &s)) {
        size_t k = i % r->bs;
        s->msg[k][0] = '\0';
        double t0 = thread_cpu();
        s->status[k] = r->p->prepare(r->p->user, i, s->pixels + k * r->per, s->msg[k], CB_PIPELINE_MSG_CAP);
        double spent = thread_cpu() - t0;
        pthread_mutex_lock(&r->lock);
        r->decode_cpu += spent;
        r->decoded++;
        if (++s->done == s->count)
            pthread_cond_signal(&r->filled);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* Gives a slot to the batch RING places later (nothing when that is past
 * the end). Called with the lock held. */
static void recycle(ring *r, slot *s)
{
    size_t b = s->batch + RING;
    s->batch = b;
    s->done = 0;
    s->count = b < r->n_batches ? (b + 1 < r->n_batches ? r->bs : r->p->n - b * r->bs) : 0;
    pthread_cond_broadcast(&r->freed);
}

/* 1 while a slot other than `s` still waits for items (its batch exists and
 * is not complete): decode threads have work. Called with the lock held. */
static int decoders_busy(const ring *r, const slot *s)
{
    for (int i = 0; i < RING; i++)
        if (&r->s[i] != s && r->s[i].done < r->s[i].count)
            return 1;
    return 0;
}

/* Runs the model on the successful items of a prepared batch; `emb` gets
 * one row per item, zeros for failures; *encoded the number it ran on. */
static cerebro_status encode_slot(const ring *r, slot *s, int alone, float *packed_out, float *emb,
                                  size_t *encoded)
{
    uint32_t dim = cerebro_model_dim(r->p->model);
    size_t ok = 0;
    cerebro_status st;

    for (size_t i = 0; i < s->count; i++) {
        if (s->status[i] != CEREBRO_OK)
            continue;
        if (ok != i)
            memcpy(s->pixels + ok * r->per, s->pixels + i * r->per, r->per * sizeof(float));
        ok++;
    }
    *encoded = ok;
    if (ok && (st = cb_model_encode_pixels_on(r->p->model, s->pixels, ok, ok, alone, packed_out)) !=
                  CEREBRO_OK)
        return st;
    for (size_t i = 0, j = 0; i < s->count; i++) {
        if (s->status[i] == CEREBRO_OK)
            memcpy(emb + i * dim, packed_out + j++ * dim, dim * sizeof(float));
        else
            memset(emb + i * dim, 0, dim * sizeof(float));
    }
    return CEREBRO_OK;
}

static cerebro_status ring_alloc(ring *r)
{
    cerebro_image_options io;
    cerebro_model_image_options(r->p->model, &io);
    r->per = cerebro_image_tensor_size(&io);
    for (int i = 0; i < RING; i++) {
        slot *s = &r->s[i];
        /* Slot i first holds batch i; recycle() counts from there. */
        s->batch = (size_t)i;
        s->count = (size_t)i < r->n_batches ? ((size_t)i + 1 < r->n_batches ? r->bs : r->p->n - i * r->bs) : 0;
        if (s->count == 0)
            continue; /* fewer batches than slots */
        s->pixels = malloc(r->bs * r->per * sizeof(float));
        s->status = malloc(r->bs * sizeof(cerebro_status));
        s->msg = malloc(r->bs * sizeof *s->msg);
        if (!s->pixels || !s->status || !s->msg)
            return cb_fail(CEREBRO_E_NOMEM, "encoding pipeline: out of memory for a batch of %zu", r->bs);
    }
    return CEREBRO_OK;
}

cerebro_status cb_pipeline_run(const cb_pipeline *p)
{
    ring r;
    pthread_t tid[MAX_WORKERS];
    uint32_t started = 0, want = p->workers < MAX_WORKERS ? p->workers : MAX_WORKERS;
    float *packed = NULL, *emb = NULL;
    cerebro_status st;
    size_t dim = cerebro_model_dim(p->model);

    if (p->n == 0)
        return CEREBRO_OK;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.bs = p->batch;
    r.n_batches = (p->n + r.bs - 1) / r.bs;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.filled, NULL);
    pthread_cond_init(&r.freed, NULL);
    st = ring_alloc(&r);
    packed = malloc(r.bs * dim * sizeof(float));
    emb = malloc(r.bs * dim * sizeof(float));
    if (st == CEREBRO_OK && (!packed || !emb))
        st = cb_fail(CEREBRO_E_NOMEM, "encoding pipeline: out of memory for a batch of %zu", r.bs);
    for (uint32_t w = 0; st == CEREBRO_OK && w < (want ? want : 1); w++) {
        if (pthread_create(&tid[started], NULL, decode_thread, &r) == 0)
            started++;
    }
    if (st == CEREBRO_OK && started == 0)
        st = cb_fail(CEREBRO_E_INTERNAL, "encoding pipeline: cannot start a decode thread");

    double model_item = 0; /* one model thread's seconds per item, latest batch */
    for (size_t b = 0; st == CEREBRO_OK && b < r.n_batches; b++) {
        slot *s = &r.s[b % RING];
        pthread_mutex_lock(&r.lock);
        while (s->done < s->count)
            pthread_cond_wait(&r.filled, &r.lock);
        /* The top of the file: alone beside busy decode threads, when
         * there are as many of them as the model has other threads and one
         * thread of the model keeps up with them. With T threads, alone
         * runs at min(T / (d + m), 1 / m) items a second and taking turns
         * at best at T / (d + m) (d, m: one thread's seconds per item to
         * decode, to encode), so alone wins while (T - 1) m <= d. The
         * first batch runs on all threads and gives the first m. */
        const uint32_t threads = p->model->threads;
        const double d = r.decoded ? r.decode_cpu / (double)r.decoded : 0;
        int alone = model_item > 0 && (double)(threads - 1) * model_item <= d && started + 1 >= threads &&
                    decoders_busy(&r, s);
        r.encoding = !alone;
        pthread_mutex_unlock(&r.lock);
        const double wall0 = cb_now(), cpu0 = thread_cpu();
        size_t encoded = 0;
        st = encode_slot(&r, s, alone, packed, emb, &encoded);
        /* Per item the model ran on (failed files cost it nothing). alone:
         * this thread's CPU; all threads: they ran in step, no decoder beside. */
        if (encoded > 0)
            model_item = (alone ? thread_cpu() - cpu0 : (cb_now() - wall0) * threads) / (double)encoded;
        pthread_mutex_lock(&r.lock);
        r.encoding = 0;
        pthread_cond_broadcast(&r.freed);
        pthread_mutex_unlock(&r.lock);
        if (st == CEREBRO_OK)
            st = p->consume(p->user, b * r.bs, s->count, emb, s->status,
                            (const char(*)[CB_PIPELINE_MSG_CAP])s->msg);
        pthread_mutex_lock(&r.lock);
        if (st == CEREBRO_OK)
            recycle(&r, s);
        pthread_mutex_unlock(&r.lock);
    }

    pthread_mutex_lock(&r.lock);
    r.stop = 1; /* after a failure: the items not handed out yet stay undone */
    pthread_cond_broadcast(&r.freed);
    pthread_mutex_unlock(&r.lock);
    for (uint32_t w = 0; w < started; w++)
        pthread_join(tid[w], NULL);
    for (int i = 0; i < RING; i++) {
        free(r.s[i].pixels);
        free(r.s[i].status);
        free(r.s[i].msg);
    }
    free(packed);
    free(emb);
    pthread_cond_destroy(&r.filled);
    pthread_cond_destroy(&r.freed);
    pthread_mutex_destroy(&r.lock);
    return st;
}
