/* The encoding pipeline shared by batch file encoding and indexing:
 * decode workers prepare batch i+1 while the model runs batch i; the
 * consumer sees each batch's embeddings and per-item statuses in order. */
#ifndef CEREBRO_PIPELINE_H
#define CEREBRO_PIPELINE_H

#include <stddef.h>

#include "cerebro/cerebro.h"

#define CB_PIPELINE_MSG_CAP 512

/* Fills `tensor` (3*S*S floats) for item i, or returns an error status with
 * the message written into msg. Called from worker threads, concurrently
 * for different i. */
typedef cerebro_status (*cb_prepare_fn)(void *user, size_t i, float *tensor, char *msg,
                                        size_t msg_cap);

/* Receives items [start, start + count): emb holds count rows of dim
 * floats (zero rows for failed items), status/msg each item's outcome.
 * Called on the pipeline's calling thread, in order. A non-OK return stops
 * the pipeline and is returned (e.g. E_CANCELLED). */
typedef cerebro_status (*cb_consume_fn)(void *user, size_t start, size_t count, const float *emb,
                                        const cerebro_status *status,
                                        const char (*msg)[CB_PIPELINE_MSG_CAP]);

typedef struct cb_pipeline {
    const cerebro_model *model;
    size_t n;          /* items */
    size_t batch;      /* items per forward pass (> 0) */
    uint32_t workers;  /* decode threads (> 0) */
    cb_prepare_fn prepare;
    cb_consume_fn consume;
    void *user;
} cb_pipeline;

cerebro_status cb_pipeline_run(const cb_pipeline *p);

#endif
