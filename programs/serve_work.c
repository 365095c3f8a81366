/* cerebro serve, slow work off MHD's threads. MHD's thread pool binds each
 * connection to one thread, so a request that decodes a 12 MP photo for a
 * thumbnail would hold up every other connection of that thread, searches
 * included. Such a request is suspended instead and its work queued for
 * these workers; its answer is queued when MHD resumes the connection. */
#define _XOPEN_SOURCE 700

#include <stdlib.h>

#include "serve.h"

typedef struct job {
    struct job *next;
    request *r;
    struct MHD_Connection *c;
    serve_job_fn fn;
    void *arg;
} job;

struct serve_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    job *head, *tail;
    int stopping;
    size_t n;
    pthread_t threads[];
};

/* Marks the request answered and hands it back to MHD. */
static void finish(job *j)
{
    __atomic_store_n(&j->r->deferred, SERVE_DEFER_DONE, __ATOMIC_RELEASE);
    MHD_resume_connection(j->c);
    free(j->arg);
    free(j);
}

static void *work(void *cls)
{
    serve_workers *w = cls;

    for (;;) {
        job *j;
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->ready, &w->lock);
        if (!(j = w->head)) {
            pthread_mutex_unlock(&w->lock);
            return NULL;
        }
        if (!(w->head = j->next))
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        j->fn(j->r, j->c, j->arg);
        finish(j);
    }
}

serve_workers *serve_workers_start(unsigned n)
{
    serve_workers *w = calloc(1, sizeof *w + n * sizeof w->threads[0]);

    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->ready, NULL);
    for (; w->n < n; w->n++)
        if (pthread_create(&w->threads[w->n], NULL, work, w) != 0)
            break;
    if (w->n == 0) {
        serve_workers_stop(w);
        return NULL;
    }
    return w;
}

enum MHD_Result serve_defer(request *r, struct MHD_Connection *c, serve_job_fn fn, void *arg)
{
    serve_workers *w = r->srv->workers;
    job *j = w ? malloc(sizeof *j) : NULL;

    if (!j) { /* no workers (or no memory): do it here */
        fn(r, c, arg);
        free(arg);
        return r->status ? MHD_YES : MHD_NO;
    }
    j->next = NULL;
    j->r = r;
    j->c = c;
    j->fn = fn;
    j->arg = arg;
    r->deferred = SERVE_DEFER_RUNNING;
    MHD_suspend_connection(c);
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        serve_send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping");
        finish(j);
        return MHD_YES;
    }
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->ready);
    pthread_mutex_unlock(&w->lock);
    return MHD_YES;
}

void serve_workers_stop(serve_workers *w)
{
    job *queued;

    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    queued = w->head;
    w->head = w->tail = NULL;
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->lock);
    /* What never started is answered now: MHD cannot stop with suspended
     * connections. */
    while (queued) {
        job *next = queued->next;
        serve_send_error(queued->r, queued->c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping");
        finish(queued);
        queued = next;
    }
    for (size_t i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->ready);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
