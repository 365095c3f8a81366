/* cerebro serve, deadlines on connections. libmicrohttpd has one timeout
 * per connection, and it counts inactivity: a client that sends a byte now
 * and then keeps a connection forever, and an idle keep-alive connection
 * gets as long as one that is halfway through its request. The guard adds
 * wall-clock deadlines on top:
 *   - a new connection must deliver a complete request head (after the TLS
 *     handshake, if any) within head_timeout seconds of being accepted;
 *   - after an answer, a kept-alive connection must deliver its next
 *     complete head within idle_timeout seconds.
 * While a request is being answered no deadline runs (MHD's inactivity
 * timeout still does). A thread checks the deadlines a few times a second
 * and shuts down the socket of a connection past its deadline; MHD then
 * sees the end of the stream and closes it in its own thread.
 *
 * Why shutdown() from another thread is safe: MHD calls the
 * connection-closed notification before it closes the descriptor, and the
 * notification takes the guard's lock, under which the thread also calls
 * shutdown(); so the descriptor shut down is always this connection's. */
#define _XOPEN_SOURCE 700

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "serve.h"

#define TICK_NS (200 * 1000 * 1000) /* how often deadlines are checked */

typedef struct guarded {
    struct guarded *prev, *next;
    MHD_socket fd;
    double deadline; /* cli_now() by which a head must be complete; 0: none */
    int cut;         /* shut down already */
} guarded;

struct serve_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    guarded *head;
    double head_timeout, idle_timeout;
    uint64_t open, cut;
    int stopping, running;
    pthread_t thread;
};

static void *sweep(void *cls)
{
    serve_guard *g = cls;
    struct timespec until;

    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        double now = cli_now();
        for (guarded *x = g->head; x; x = x->next) {
            if (x->deadline > 0 && now > x->deadline && !x->cut) {
                shutdown(x->fd, SHUT_RDWR);
                x->cut = 1;
                g->cut++;
            }
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

serve_guard *serve_guard_start(double head_timeout, double idle_timeout)
{
    serve_guard *g = calloc(1, sizeof *g);

    if (!g)
        return NULL;
    g->head_timeout = head_timeout;
    g->idle_timeout = idle_timeout;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->thread, NULL, sweep, g) != 0) {
        serve_guard_stop(g);
        return NULL;
    }
    g->running = 1;
    return g;
}

void serve_guard_stop(serve_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    if (g->running)
        pthread_join(g->thread, NULL);
    /* MHD has closed every connection by now (its daemon is stopped). */
    while (g->head) {
        guarded *next = g->head->next;
        free(g->head);
        g->head = next;
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void *serve_guard_opened(serve_guard *g, MHD_socket fd)
{
    guarded *x = calloc(1, sizeof *x);

    if (!x) /* no deadline for it, but MHD's inactivity timeout still holds */
        return NULL;
    x->fd = fd;
    pthread_mutex_lock(&g->lock);
    x->deadline = cli_now() + g->head_timeout;
    if ((x->next = g->head))
        x->next->prev = x;
    g->head = x;
    g->open++;
    pthread_mutex_unlock(&g->lock);
    return x;
}

void serve_guard_closed(serve_guard *g, void *conn)
{
    guarded *x = conn;

    if (!x)
        return;
    pthread_mutex_lock(&g->lock);
    if (x->prev)
        x->prev->next = x->next;
    else
        g->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    g->open--;
    pthread_mutex_unlock(&g->lock);
    free(x);
}

static void set_deadline(serve_guard *g, void *conn, double seconds)
{
    guarded *x = conn;

    if (!x)
        return;
    pthread_mutex_lock(&g->lock);
    x->deadline = seconds > 0 ? cli_now() + seconds : 0;
    pthread_mutex_unlock(&g->lock);
}

void serve_guard_head_done(serve_guard *g, void *conn)
{
    set_deadline(g, conn, 0);
}

void serve_guard_answered(serve_guard *g, void *conn)
{
    set_deadline(g, conn, g->idle_timeout);
}

void serve_guard_counts(serve_guard *g, uint64_t *open, uint64_t *cut)
{
    pthread_mutex_lock(&g->lock);
    *open = g->open;
    *cut = g->cut;
    pthread_mutex_unlock(&g->lock);
}
