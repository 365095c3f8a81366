/* The index directory: cerebro.db (SQLite, the source of truth) and the
 * derived ANN file. Internal view of cerebro_index shared by index.c
 * (open, close, remove, stats), add.c (incremental indexing) and search.c. */
#ifndef CEREBRO_STORE_H
#define CEREBRO_STORE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "cerebro/cerebro.h"
#include "index/ann.h"
#include "model/config.h"

#define CB_STORE_FORMAT_VERSION 1
#define CB_READ_POOL 8

/* The statements that write a file's row and its items: cerebro_index_add
 * (add.c) and the stores' copy and put paths (rows.c) share them. */
#define CB_SQL_OLD_ITEMS "SELECT id FROM items WHERE file_id = ?"
#define CB_SQL_DEL_ITEMS "DELETE FROM items WHERE file_id = ?"
#define CB_SQL_UPDATE_FILE                                                                         \
    "UPDATE files SET size = ?2, mtime_ns = ?3, hash = ?4, width = ?5, height = ?6, status = ?7, " \
    "error = ?8, indexed_at = ?9, kind = ?10 WHERE id = ?1"
#define CB_SQL_INSERT_FILE                                                                       \
    "INSERT INTO files(path, size, mtime_ns, hash, width, height, status, error, indexed_at, kind) " \
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
#define CB_SQL_INSERT_ITEM "INSERT INTO items(file_id, timestamp, vector) VALUES(?, ?, ?)"

struct cerebro_index {
    char *dir;
    const cerebro_model *model;
    uint32_t dim;
    int readonly;
    char factory[128];       /* user's factory string, or "" for automatic */
    uint64_t memory_budget;
    double recall_target;    /* what tuning aims at (cerebro_index_options.recall_target) */

    sqlite3 *db;             /* the writer's connection */
    pthread_mutex_t write_lock; /* one writer (add/remove) at a time */

    /* The committed state searches see: writers commit their SQLite
     * transaction and update the ANN while holding this exclusively. */
    pthread_rwlock_t state_lock;
    cb_ann *ann;
    int64_t generation;      /* of the committed state the ANN reflects */
    int64_t saved_generation;/* of the ANN file on disk */

    /* Background of search scores (relevance.c): stored vectors (all of a
     * small store, a sample of a large one) against which a query's scores
     * are standardised. Drawn lazily by the first search that needs it. */
    pthread_rwlock_t bg_lock;
    int64_t bg_generation;   /* state it was drawn from; -1: none yet */
    uint64_t bg_store_n;     /* items in the store then */
    size_t bg_n;             /* vectors in bg_x */
    float *bg_x;             /* bg_n * dim */

    pthread_mutex_t pool_lock; /* idle read-only connections */
    sqlite3 *pool[CB_READ_POOL];
    int pool_n;
};

/* SQLite helpers: each returns E_STORE with SQLite's message on failure;
 * E_IO naming cerebro.db and the system's reason when the disk is full or
 * a read, write or fsync failed; E_CORRUPT, E_NOMEM. */
cerebro_status cb_sql_exec(sqlite3 *db, const char *sql);
cerebro_status cb_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
cerebro_status cb_sql_fail(sqlite3 *db, const char *what);
/* Ends the open transaction, if SQLite has not already rolled it back;
 * leaves the last error (the failure that led here) as it is. */
void cb_sql_rollback(sqlite3 *db);

/* Opens the database file of dir (creating the schema unless readonly). */
cerebro_status cb_store_open_db(const char *dir, int readonly, int create, sqlite3 **out);

/* The query's background (relevance.c): mean and sd of its scores over the
 * store's vectors, all of them up to CB_BACKGROUND_SAMPLE items, a uniform
 * sample beyond, *mean raised by cb_relevance_shift(config, N) * sd, N the
 * items the search ranked (`ranked`: those under a prefix; 0 = all); a hit's
 * relevance is (score - mean) / sd. *sd is 0 when there is none (fewer than
 * CB_BACKGROUND_MIN items, or all alike). The caller holds state_lock for
 * reading and an open read transaction on db. */
#define CB_BACKGROUND_SAMPLE 4096
#define CB_BACKGROUND_MIN 50
/* The store-size adjustment and the model's calibration (relevance.c), in
 * standard deviations: what a store of `items` items subtracts from a hit's
 * standard score. training/cerebro_train/relevance.py fits the slope and
 * uses the same reference; CB_RELEVANCE_SIZE_SLOPE is the fallback for
 * bundles without a "relevance" record. */
#define CB_RELEVANCE_SIZE_REF 2000
#define CB_RELEVANCE_SIZE_SLOPE 0.38
double cb_relevance_shift(const cb_model_config *config, uint64_t items);
cerebro_status cb_background(cerebro_index *idx, sqlite3 *db, const float *query, uint64_t ranked,
                             double *mean, double *sd);
void cb_background_free(cerebro_index *idx);

/* meta table access (value copied into buf; *found 0 when absent). */
cerebro_status cb_meta_get(sqlite3 *db, const char *key, char *buf, size_t cap, int *found);
cerebro_status cb_meta_set(sqlite3 *db, const char *key, const char *value);

/* A read-only connection from the pool (opened on demand). */
cerebro_status cb_index_reader(cerebro_index *idx, sqlite3 **db);
void cb_index_reader_done(cerebro_index *idx, sqlite3 *db);

/* Commits the writer's open transaction and applies the matching ANN
 * change atomically for readers: removes `old_ids`, adds `vectors` with
 * `new_ids`. Bumps the generation in the same transaction. On an ANN
 * failure the ANN is rebuilt from the store. */
cerebro_status cb_index_commit(cerebro_index *idx, const int64_t *old_ids, size_t n_old,
                               const float *vectors, const int64_t *new_ids, size_t n_new);

/* Rebuilds the ANN from the vectors table (structure: idx->factory or the
 * automatic choice) and records recall for approximate structures.
 * Caller holds state_lock exclusively (or is opening). */
cerebro_status cb_index_rebuild_ann(cerebro_index *idx, sqlite3 *db);
/* 1 when two structure strings ("IVF512,Flat|nprobe=37") name the same
 * factory part, whatever their search parameters. */
int cb_structure_same_factory(const char *a, const char *b);
/* 1 when `have` is the exact structure the store chose in place of the
 * automatic structure `want`, whose tuning needed more than half of its IVF
 * lists (recorded as meta "exact_for"). The caller is the writer. */
int cb_index_exact_stands_for(cerebro_index *idx, const char *have, const char *want);

/* Tunes the ANN's search parameter to idx->recall_target again (see
 * cb_ann_tune) when `force`, or when the collection grew or shrank by more
 * than a fifth since it was last tuned, and records the result; the ANN
 * file follows at the next cb_index_save_ann(). Nothing for exact
 * structures, read-only handles or a factory string that names the
 * parameter. Caller holds write_lock, not state_lock. */
cerebro_status cb_index_retune_ann(cerebro_index *idx, int force);

/* Re-chooses the ANN structure when the collection crossed a size
 * threshold of the automatic choice, else retunes it when the collection
 * changed enough since it was tuned (add.c). Caller holds write_lock. */
cerebro_status cb_index_restructure(cerebro_index *idx);

/* Writes the ANN file for the current generation if it is newer than the
 * one on disk, and deletes older files. Caller holds write_lock. */
cerebro_status cb_index_save_ann(cerebro_index *idx);

/* Absolute path under the store's conventions (see walk.h). */
char *cb_index_path_key(const char *path);



/* Builds a results handle for ids/scores (n hits, best first), looking up
 * each item's file; ids no longer in the store are dropped. */
cerebro_status cb_results_lookup(sqlite3 *db, const int64_t *ids, const float *scores, size_t n,
                                 int64_t exclude, cerebro_results **out);
#endif
