/* The approximate-nearest-neighbour index: FAISS behind a C interface
 * (lib/index/faiss_shim.cpp is the only file that includes FAISS). Vectors
 * are L2-normalised float32, similarity is inner product (= cosine), ids
 * are the store's row ids. No C++ exception crosses this interface. */
#ifndef CEREBRO_ANN_H
#define CEREBRO_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cb_ann cb_ann;

/* Writes into buf the FAISS factory string libcerebro uses for n vectors of
 * `dim` dimensions under memory_budget bytes (0 = unlimited): exact "Flat"
 * below ~100k vectors, an approximate structure above, a compressed one
 * when the budget demands. */
void cb_ann_choose(uint64_t n, uint32_t dim, uint64_t memory_budget, char *buf, size_t cap);

/* Builds an index from a factory string (NULL: cb_ann_choose(n, ...)) and
 * the given vectors: trains it when the structure needs training (on a
 * sample of x), then adds all n vectors with their ids. n may be 0 for
 * structures that need no training. Errors: E_INVALID (bad factory string,
 * with FAISS's message), E_NOMEM, E_STORE. */
cerebro_status cb_ann_build(uint32_t dim, const char *factory, uint64_t memory_budget,
                            const float *x, const int64_t *ids, size_t n, cb_ann **out);

/* Adds vectors to a built index. */
cerebro_status cb_ann_add(cb_ann *ann, const float *x, const int64_t *ids, size_t n);

/* Removes ids; *removed gets how many were present. E_UNSUPPORTED when the
 * structure cannot remove (e.g. HNSW): the caller rebuilds instead. */
cerebro_status cb_ann_remove(cb_ann *ann, const int64_t *ids, size_t n, size_t *removed);

/* Restricts a search to a set of ids (sorted ascending, unique), applied
 * inside FAISS through an IDSelector, never by over-fetching. */
typedef struct cb_ann_filter {
    const int64_t *ids;
    size_t n;
} cb_ann_filter;

/* k-NN for nq queries: scores/ids are nq*k, best first; missing results
 * have id -1. filter may be NULL. Safe to call from many threads at once
 * (the caller serialises writers). */
cerebro_status cb_ann_search(const cb_ann *ann, const float *queries, size_t nq, uint32_t k,
                             const cb_ann_filter *filter, float *scores, int64_t *ids);

/* Persists atomically: write to path.tmp, fsync, rename over path, fsync
 * the directory. A crash leaves either the old or the new file. */
cerebro_status cb_ann_write(const cb_ann *ann, const char *path);
/* Reads a file written by cb_ann_write. E_NOT_FOUND if absent, E_CORRUPT
 * if unreadable (the caller rebuilds from the store). */
cerebro_status cb_ann_read(const char *path, cb_ann **out);

uint64_t cb_ann_count(const cb_ann *ann);
uint32_t cb_ann_dim(const cb_ann *ann);
/* The factory string this index was built from. */
const char *cb_ann_structure(const cb_ann *ann);
/* Approximate bytes of memory the index holds. */
uint64_t cb_ann_memory(const cb_ann *ann);
/* 1 for exact structures (recall is 1 by construction). */
int cb_ann_is_exact(const cb_ann *ann);
/* 1 for an IVF structure with uncompressed vectors whose nprobe is more
 * than half of its lists, when an exact structure over the same vectors fits
 * memory_budget (0: no limit): exact search is then the faster one. */
int cb_ann_exact_is_faster(const cb_ann *ann, uint64_t memory_budget);

/* recall@10 of this index against exact search over the same vectors:
 * x/ids are all n stored vectors; a seeded sample of `queries` of them
 * (the same sample for the same n) serve as queries, each leaving itself
 * out of both the exact and the approximate top 10, so a query never
 * counts finding itself. */
cerebro_status cb_ann_recall_at_10(const cb_ann *ann, const float *x, const int64_t *ids, size_t n,
                                   size_t queries, double *recall);

/* Queries cb_ann_tune uses by default: recall@10 is then estimated from
 * 4000 neighbours (standard error under 0.005 around 0.95). */
#define CB_ANN_TUNE_QUERIES 400

/* What cb_ann_tune measured and chose. */
typedef struct cb_ann_tuning {
    const char *parameter;  /* "nprobe", "efSearch", or "" (nothing to tune) */
    uint32_t before, value; /* the parameter before and after tuning */
    double recall_before;   /* recall@10 at `before` */
    double recall;          /* recall@10 at `value` */
    int reached;            /* 1 when recall >= target */
    uint32_t evaluations;   /* searches of the sample it took */
} cb_ann_tuning;

/* Sets the search parameter of an approximate structure (IVF: nprobe,
 * HNSW: efSearch) to the smallest value whose recall@10 reaches `target`
 * in (0, 1], measured as cb_ann_recall_at_10 measures it (same sample,
 * `queries` of the n stored vectors x/ids, exact search over all of them as
 * the truth), and writes it into the structure string ("IVF512,Flat|
 * nprobe=37"), so cb_ann_write keeps it. When no value reaches the target
 * (compressed codes), the smallest value reaching the best recall there is.
 * Other structures (exact, flat codes) are left as they are, with their
 * recall measured. Deterministic. IVF with uncompressed vectors is tuned
 * from the rank of each true neighbour's list (no search per value); HNSW
 * by searches, whose in-sample recall runs a little above that of new
 * queries (the graph links stored vectors to their neighbours). The caller
 * has exclusive access to ann (searches change the parameter while it
 * runs). Errors: E_INVALID, E_NOMEM, E_STORE. */
cerebro_status cb_ann_tune(cb_ann *ann, const float *x, const int64_t *ids, size_t n, double target,
                           size_t queries, cb_ann_tuning *out);

void cb_ann_free(cb_ann *ann);

#ifdef __cplusplus
}
#endif

#endif
