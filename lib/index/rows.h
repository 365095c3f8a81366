/* Writing whole files (a file row and its items) into the store inside one
 * transaction, for the writers that bring their own vectors: precomputed
 * embeddings (put.c) and store merges (merge.c). */
#ifndef CEREBRO_ROWS_H
#define CEREBRO_ROWS_H

#include <stdint.h>

#include "index/store.h"

/* One file's row as the files table holds it. */
typedef struct cb_file_row {
    const char *path;     /* the store key (absolute) */
    int64_t size, mtime_ns;
    const uint8_t *hash;  /* 32 bytes, or NULL (unknown) */
    uint32_t kind;        /* cerebro_item_kind of its items */
    uint32_t width, height;
    int status;           /* 0, or the cerebro_status it failed with */
    const char *error;    /* message of a failed file, or NULL */
    int64_t indexed_at;   /* seconds since the epoch */
} cb_file_row;

/* An open write transaction on idx->db and what it changed so far. With
 * keep_vectors the new vectors are kept for the ANN (cb_rows_commit adds
 * them); without, the caller rebuilds the ANN after its last commit. */
typedef struct cb_rows {
    cerebro_index *idx;
    int keep_vectors;
    sqlite3_stmt *find, *old_items, *del_items, *update_file, *insert_file, *insert_item;
    int64_t *old_ids;     /* items replaced */
    size_t n_old, cap_old;
    int64_t *new_ids;     /* items written, with their vectors when kept */
    float *vectors;
    size_t n_new, cap_new;
} cb_rows;

/* BEGIN IMMEDIATE and the statements. Caller holds idx->write_lock. */
cerebro_status cb_rows_begin(cerebro_index *idx, int keep_vectors, cb_rows *r);

/* The file row stored under path: *file_id (-1 when absent) and its mtime. */
cerebro_status cb_rows_find(cb_rows *r, const char *path, int64_t *file_id, int64_t *mtime_ns);

/* Writes f with its n items (vecs: n * dim floats, times: n timestamps or
 * NULL for -1), replacing the row file_id (from cb_rows_find; -1: new)
 * and its items. */
cerebro_status cb_rows_write(cb_rows *r, const cb_file_row *f, int64_t file_id, const float *vecs,
                             const double *times, size_t n);

/* Commits through cb_index_commit() (the ANN follows when vectors were
 * kept) and ends the transaction; cb_rows_abort() rolls it back. Both
 * release everything; *committed is set when the SQLite commit happened
 * (even if the ANN then failed). */
cerebro_status cb_rows_commit(cb_rows *r, int *committed);
void cb_rows_abort(cb_rows *r);

#endif
