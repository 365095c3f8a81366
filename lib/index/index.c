/* cerebro_index: opening a store, keeping the ANN in step with SQLite,
 * removal, stats. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "index/store.h"
#include "index/walk.h"

/* Retune once the collection has changed by more than 1/RETUNE_DRIFT. */
#define RETUNE_DRIFT 5

static void ann_file(const cerebro_index *idx, int64_t generation, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/ann-%" PRId64 ".faiss", idx->dir, generation);
}

static cerebro_status check_options(const cerebro_index_options *o)
{
    if (o->version < 1 || o->version > CEREBRO_INDEX_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "index options: unknown version %u", o->version);
    if (o->flags & ~(CEREBRO_INDEX_CREATE | CEREBRO_INDEX_READONLY))
        return cb_fail(CEREBRO_E_INVALID, "index options: unknown flags 0x%x", o->flags);
    if (o->factory && strlen(o->factory) >= sizeof(((cerebro_index *)0)->factory))
        return cb_fail(CEREBRO_E_LIMIT, "index options: factory string longer than %zu bytes",
                       sizeof(((cerebro_index *)0)->factory) - 1);
    if (o->version >= 2 && !(o->recall_target == 0 || (o->recall_target > 0 && o->recall_target <= 1)))
        return cb_fail(CEREBRO_E_INVALID, "index options: recall_target %g is not in (0, 1] (0: the store's own)",
                       o->recall_target);
    return CEREBRO_OK;
}

/* A factory string that names its search parameters is used as given. */
static int tunable(const cerebro_index *idx)
{
    return !idx->readonly && !strchr(idx->factory, '|');
}

/* Every stored vector and its id, in id order (malloc'd arrays). */
static cerebro_status load_vectors(const cerebro_index *idx, sqlite3 *db, float **xp, int64_t **idsp,
                                   size_t *np)
{
    sqlite3_stmt *q = NULL;
    size_t n = 0, cap = 0;
    float *x = NULL;
    int64_t *ids = NULL;
    cerebro_status st = cb_sql_prepare(db, "SELECT id, vector FROM items ORDER BY id", &q);
    int rc = SQLITE_DONE;

    while (st == CEREBRO_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(q, 1) != (int)(idx->dim * sizeof(float))) {
            st = cb_fail(CEREBRO_E_CORRUPT, "%s: item %lld has a %d-byte vector; expected %u floats",
                         idx->dir, (long long)sqlite3_column_int64(q, 0), sqlite3_column_bytes(q, 1),
                         idx->dim);
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            float *nx = realloc(x, ncap * idx->dim * sizeof(float));
            int64_t *nids = nx ? realloc(ids, ncap * sizeof(int64_t)) : NULL;
            if (nx)
                x = nx;
            if (!nx || !nids) {
                st = cb_fail(CEREBRO_E_NOMEM, "%s: out of memory loading %zu vectors", idx->dir, ncap);
                break;
            }
            ids = nids;
            cap = ncap;
        }
        ids[n] = sqlite3_column_int64(q, 0);
        memcpy(x + n * idx->dim, sqlite3_column_blob(q, 1), idx->dim * sizeof(float));
        n++;
    }
    if (st == CEREBRO_OK && rc != SQLITE_DONE)
        st = cb_sql_fail(db, "loading vectors");
    sqlite3_finalize(q);
    if (st != CEREBRO_OK) {
        free(x);
        free(ids);
        return st;
    }
    *xp = x;
    *idsp = ids;
    *np = n;
    return CEREBRO_OK;
}

/* Measures recall@10 of an approximate ANN against exact search over the
 * same vectors and records it with the generation it describes. Uses the
 * writer's connection: the caller holds write_lock (or is opening). */
static void store_recall(cerebro_index *idx, double recall)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.4f", recall);
    cb_meta_set(idx->db, "recall_at_10", buf);
    snprintf(buf, sizeof buf, "%" PRId64, idx->generation);
    cb_meta_set(idx->db, "recall_generation", buf);
}

static double record_recall(cerebro_index *idx, const cb_ann *ann, const float *x, const int64_t *ids,
                            size_t n)
{
    double recall = -1;
    if (idx->readonly || n == 0 || cb_ann_is_exact(ann) ||
        cb_ann_recall_at_10(ann, x, ids, n, CB_ANN_TUNE_QUERIES, &recall) != CEREBRO_OK)
        return -1;
    store_recall(idx, recall);
    return recall;
}

/* Tunes an approximate ANN to the store's recall target and records what it
 * chose (tuned: "nprobe=37", tuned_count: the collection size then) and the
 * recall it measured; other structures get their recall measured. A
 * failure leaves the parameter as it was: tuning only ever improves on it. */
static void tune_or_measure(cerebro_index *idx, cb_ann *ann, const float *x, const int64_t *ids, size_t n)
{
    cb_ann_tuning t;
    char buf[64];
    if (idx->readonly || n == 0 || cb_ann_is_exact(ann))
        return;
    if (!tunable(idx) ||
        cb_ann_tune(ann, x, ids, n, idx->recall_target, CB_ANN_TUNE_QUERIES, &t) != CEREBRO_OK) {
        record_recall(idx, ann, x, ids, n);
        return;
    }
    store_recall(idx, t.recall);
    /* Structures without a parameter (flat codes) count as tuned too, so
     * that the next add does not measure them again. */
    if (t.parameter[0])
        snprintf(buf, sizeof buf, "%s=%u", t.parameter, t.value);
    else
        buf[0] = '\0';
    cb_meta_set(idx->db, "tuned", buf);
    snprintf(buf, sizeof buf, "%zu", n);
    cb_meta_set(idx->db, "tuned_count", buf);
}

/* An automatic structure whose tuning asks for more than half of its IVF
 * lists is replaced by exact search over the same vectors (faster, and
 * recall 1). The store records the structure it stands for ("exact_for"),
 * so that cb_index_restructure keeps it until the automatic choice changes.
 * Returns the structure to keep; `ann` is freed when replaced. */
static cb_ann *exact_if_faster(cerebro_index *idx, cb_ann *ann, const float *x, const int64_t *ids, size_t n)
{
    cb_ann *flat = NULL;
    char buf[64];
    if (idx->factory[0] || idx->readonly || !cb_ann_exact_is_faster(ann, idx->memory_budget) ||
        cb_ann_build(idx->dim, "Flat", 0, x, ids, n, &flat) != CEREBRO_OK)
        return ann;
    cb_meta_set(idx->db, "exact_for", cb_ann_structure(ann));
    cb_meta_set(idx->db, "tuned", "");
    snprintf(buf, sizeof buf, "%zu", n);
    cb_meta_set(idx->db, "tuned_count", buf);
    store_recall(idx, 1.0);
    cb_ann_free(ann);
    return flat;
}

int cb_structure_same_factory(const char *a, const char *b)
{
    size_t len = strcspn(a, "|");
    return strncmp(a, b, len) == 0 && (b[len] == '\0' || b[len] == '|');
}

int cb_index_exact_stands_for(cerebro_index *idx, const char *have, const char *want)
{
    char buf[256];
    int found = 0;
    if (strcmp(have, "Flat") != 0 ||
        cb_meta_get(idx->db, "exact_for", buf, sizeof buf, &found) != CEREBRO_OK || !found)
        return 0;
    return cb_structure_same_factory(want, buf);
}

cerebro_status cb_index_rebuild_ann(cerebro_index *idx, sqlite3 *db)
{
    size_t n = 0;
    float *x = NULL;
    int64_t *ids = NULL;
    cb_ann *ann = NULL;
    cerebro_status st = load_vectors(idx, db, &x, &ids, &n);

    if (st == CEREBRO_OK)
        st = cb_ann_build(idx->dim, idx->factory[0] ? idx->factory : NULL, idx->memory_budget, x, ids,
                          n, &ann);
    if (st == CEREBRO_OK) {
        tune_or_measure(idx, ann, x, ids, n);
        ann = exact_if_faster(idx, ann, x, ids, n);
    }
    free(x);
    free(ids);
    if (st != CEREBRO_OK)
        return st;
    cb_ann_free(idx->ann);
    idx->ann = ann;
    return CEREBRO_OK;
}

cerebro_status cb_index_retune_ann(cerebro_index *idx, int force)
{
    char buf[64];
    int found = 0;
    size_t n = 0;
    float *x = NULL;
    int64_t *ids = NULL;
    cerebro_status st;

    if (!tunable(idx) || cb_ann_is_exact(idx->ann))
        return CEREBRO_OK;
    if (!force) {
        /* Nothing recorded: tuned before this library tuned, or a failure. */
        uint64_t count = cb_ann_count(idx->ann), tuned = 0;
        if ((st = cb_meta_get(idx->db, "tuned_count", buf, sizeof buf, &found)) != CEREBRO_OK)
            return st;
        if (found)
            tuned = strtoull(buf, NULL, 10);
        uint64_t drift = count > tuned ? count - tuned : tuned - count;
        if (found && drift * RETUNE_DRIFT <= tuned)
            return CEREBRO_OK;
    }
    if ((st = load_vectors(idx, idx->db, &x, &ids, &n)) != CEREBRO_OK)
        return st;
    /* Searches read the parameter while tuning changes it. */
    pthread_rwlock_wrlock(&idx->state_lock);
    if (n == cb_ann_count(idx->ann)) {
        tune_or_measure(idx, idx->ann, x, ids, n);
        idx->ann = exact_if_faster(idx, idx->ann, x, ids, n);
        idx->saved_generation = -1; /* the file keeps the parameter (or the structure) */
    }
    pthread_rwlock_unlock(&idx->state_lock);
    free(x);
    free(ids);
    return CEREBRO_OK;
}

/* Deletes the ANN files (and leftover temporary files) of every generation
 * but the current one: no open reads them again, since the store names the
 * generation whose file it wants. */
static void delete_old_ann_files(const cerebro_index *idx)
{
    char keep[64], path[4096];
    struct dirent *e;
    DIR *d = opendir(idx->dir);

    if (!d)
        return;
    snprintf(keep, sizeof keep, "ann-%" PRId64 ".faiss", idx->generation);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "ann-", 4) == 0 && strcmp(e->d_name, keep) != 0 &&
            (strstr(e->d_name, ".faiss") || strstr(e->d_name, ".tmp"))) {
            snprintf(path, sizeof path, "%s/%s", idx->dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

cerebro_status cb_index_save_ann(cerebro_index *idx)
{
    char path[4096];
    cerebro_status st = CEREBRO_OK;

    if (idx->readonly)
        return CEREBRO_OK;
    pthread_rwlock_rdlock(&idx->state_lock);
    if (idx->saved_generation != idx->generation) {
        /* Old files first: on a nearly full disk their space is what lets
         * the new one fit (an index of a million 512-d vectors is 2 GB). */
        delete_old_ann_files(idx);
        ann_file(idx, idx->generation, path, sizeof path);
        st = cb_ann_write(idx->ann, path);
        if (st == CEREBRO_OK)
            idx->saved_generation = idx->generation;
    }
    pthread_rwlock_unlock(&idx->state_lock);
    if (st == CEREBRO_OK)
        delete_old_ann_files(idx);
    return st;
}

cerebro_status cb_index_commit(cerebro_index *idx, const int64_t *old_ids, size_t n_old,
                               const float *vectors, const int64_t *new_ids, size_t n_new)
{
    char gen[32];
    cerebro_status st;
    size_t removed = 0;

    snprintf(gen, sizeof gen, "%" PRId64, idx->generation + 1);
    if ((st = cb_meta_set(idx->db, "generation", gen)) != CEREBRO_OK) {
        cb_sql_rollback(idx->db);
        return st;
    }
    pthread_rwlock_wrlock(&idx->state_lock);
    if (sqlite3_exec(idx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        st = cb_sql_fail(idx->db, "commit");
        cb_sql_rollback(idx->db);
        pthread_rwlock_unlock(&idx->state_lock);
        return st;
    }
    idx->generation++;
    if (n_old)
        st = cb_ann_remove(idx->ann, old_ids, n_old, &removed);
    if (st == CEREBRO_OK && n_new)
        st = cb_ann_add(idx->ann, vectors, new_ids, n_new);
    if (st != CEREBRO_OK) /* e.g. a structure that cannot remove: start again from the store */
        st = cb_index_rebuild_ann(idx, idx->db);
    pthread_rwlock_unlock(&idx->state_lock);
    return st;
}

/* A new store records its model; an existing one must have been built with
 * the same model. */
static cerebro_status check_model(cerebro_index *idx)
{
    char stored_id[128], stored_name[160], buf[64];
    int found, have_name;
    const cerebro_model *m = idx->model;
    cerebro_status st = cb_meta_get(idx->db, "model_id", stored_id, sizeof stored_id, &found);

    if (st != CEREBRO_OK)
        return st;
    if (!found) {
        if (idx->readonly)
            return cb_fail(CEREBRO_E_NOT_FOUND, "%s: not a libcerebro index (no model recorded)", idx->dir);
        snprintf(buf, sizeof buf, "%d", CB_STORE_FORMAT_VERSION);
        if ((st = cb_sql_exec(idx->db, "BEGIN IMMEDIATE")) != CEREBRO_OK)
            return st;
        st = cb_meta_set(idx->db, "format_version", buf);
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "model_id", cerebro_model_id(m));
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "model_name", cerebro_model_name(m));
        snprintf(buf, sizeof buf, "%u", idx->dim);
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "dim", buf);
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "model_config", cerebro_model_config_json(m));
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "generation", "0");
        if (st == CEREBRO_OK)
            st = cb_meta_set(idx->db, "factory", idx->factory);
        if (st == CEREBRO_OK)
            st = cb_sql_exec(idx->db, "COMMIT");
        if (st != CEREBRO_OK)
            cb_sql_rollback(idx->db);
        return st;
    }
    if (strcmp(stored_id, cerebro_model_id(m)) != 0) {
        if (cb_meta_get(idx->db, "model_name", stored_name, sizeof stored_name, &have_name) != CEREBRO_OK ||
            !have_name)
            snprintf(stored_name, sizeof stored_name, "?");
        return cb_fail(CEREBRO_E_MISMATCH,
                       "%s was indexed with model '%s' (id %.12s); the model given is '%s' (id %.12s): "
                       "open it with that model, or index into a new directory",
                       idx->dir, stored_name, stored_id, cerebro_model_name(m), cerebro_model_id(m));
    }
    if ((st = cb_meta_get(idx->db, "format_version", buf, sizeof buf, &found)) != CEREBRO_OK)
        return st;
    if (!found || atoi(buf) != CB_STORE_FORMAT_VERSION)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: store format %s; this library reads format %d",
                       idx->dir, found ? buf : "?", CB_STORE_FORMAT_VERSION);
    return CEREBRO_OK;
}

static cerebro_status count_items(sqlite3 *db, uint64_t *n)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(db, "SELECT COUNT(*) FROM items", &q);
    if (st != CEREBRO_OK)
        return st;
    if (sqlite3_step(q) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(q, 0);
    else
        st = cb_sql_fail(db, "counting items");
    sqlite3_finalize(q);
    return st;
}

/* Sets idx->recall_target: the one asked for (> 0), else the one the store
 * recorded, else the default; records it. *changed: the store had another. */
static cerebro_status load_recall_target(cerebro_index *idx, double requested, int *changed)
{
    char buf[64];
    int found = 0;
    cerebro_status st = cb_meta_get(idx->db, "recall_target", buf, sizeof buf, &found);
    double stored = found ? strtod(buf, NULL) : 0;

    *changed = 0;
    if (st != CEREBRO_OK)
        return st;
    if (!(stored > 0 && stored <= 1))
        found = 0;
    idx->recall_target = requested > 0 ? requested : found ? stored : CEREBRO_INDEX_RECALL_TARGET_DEFAULT;
    *changed = found && stored != idx->recall_target;
    if (idx->readonly || (found && !*changed))
        return CEREBRO_OK;
    snprintf(buf, sizeof buf, "%.17g", idx->recall_target);
    return cb_meta_set(idx->db, "recall_target", buf);
}

/* Loads the ANN file of the current generation, or rebuilds it. */
static cerebro_status load_ann(cerebro_index *idx, const char *requested_factory)
{
    char buf[160], path[4096];
    int found;
    uint64_t items = 0;
    cerebro_status st = cb_meta_get(idx->db, "generation", buf, sizeof buf, &found);

    if (st != CEREBRO_OK)
        return st;
    idx->generation = found ? strtoll(buf, NULL, 10) : 0;
    if ((st = cb_meta_get(idx->db, "factory", buf, sizeof buf, &found)) != CEREBRO_OK)
        return st;
    snprintf(idx->factory, sizeof idx->factory, "%.127s", found ? buf : "");
    int refactor = requested_factory && strcmp(requested_factory, idx->factory) != 0;
    if (refactor)
        snprintf(idx->factory, sizeof idx->factory, "%s", requested_factory);
    if ((st = count_items(idx->db, &items)) != CEREBRO_OK)
        return st;
    ann_file(idx, idx->generation, path, sizeof path);
    if (!refactor && cb_ann_read(path, &idx->ann) == CEREBRO_OK) {
        if (cb_ann_count(idx->ann) == items && cb_ann_dim(idx->ann) == idx->dim) {
            idx->saved_generation = idx->generation;
            return CEREBRO_OK;
        }
        cb_ann_free(idx->ann); /* stale or foreign: the store is the truth */
        idx->ann = NULL;
    }
    /* Missing, stale (a crash after a commit) or a new structure asked for.
     * A new structure is recorded only once it was built: a factory string
     * FAISS refuses must not make every later open fail. */
    idx->saved_generation = -1;
    if ((st = cb_index_rebuild_ann(idx, idx->db)) != CEREBRO_OK)
        return st;
    if (refactor && !idx->readonly && (st = cb_meta_set(idx->db, "factory", idx->factory)) != CEREBRO_OK)
        return st;
    /* The file only saves the next open a rebuild: when it cannot be
     * written (a full disk) the index still opens, searches what the store
     * holds and tries to save again when it is freed or next changed. */
    cb_index_save_ann(idx);
    return CEREBRO_OK;
}

cerebro_status cerebro_index_open(cerebro_index **out, const char *dir, const cerebro_model *model,
                                  const cerebro_index_options *opts)
{
    cerebro_index_options defaults;
    cerebro_index *idx;
    cerebro_status st;
    struct stat sb;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_open: out is NULL");
    *out = NULL;
    if (!dir || !model)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_open: dir and model are required");
    if (!opts) {
        cerebro_index_options_init(&defaults);
        opts = &defaults;
    }
    if ((st = check_options(opts)) != CEREBRO_OK)
        return st;
    int readonly = (opts->flags & CEREBRO_INDEX_READONLY) != 0;
    int create = !readonly && (opts->flags & CEREBRO_INDEX_CREATE);
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || !create)
            return cb_fail(CEREBRO_E_NOT_FOUND, "%s: no such index directory", dir);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return cb_fail(CEREBRO_E_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        return cb_fail(CEREBRO_E_INVALID, "%s: not a directory", dir);
    }
    if (!(idx = calloc(1, sizeof *idx)))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    pthread_mutex_init(&idx->write_lock, NULL);
    pthread_mutex_init(&idx->pool_lock, NULL);
    pthread_rwlock_init(&idx->state_lock, NULL);
    pthread_rwlock_init(&idx->bg_lock, NULL);
    idx->bg_generation = -1;
    idx->model = model;
    idx->dim = cerebro_model_dim(model);
    idx->readonly = readonly;
    idx->memory_budget = opts->memory_budget;
    if ((st = cb_absolute_path(dir, &idx->dir)) != CEREBRO_OK)
        goto fail;
    int retarget = 0;
    if ((st = cb_store_open_db(idx->dir, readonly, create, &idx->db)) != CEREBRO_OK ||
        (st = check_model(idx)) != CEREBRO_OK ||
        (st = load_recall_target(idx, opts->version >= 2 ? opts->recall_target : 0, &retarget)) != CEREBRO_OK ||
        (st = load_ann(idx, opts->factory)) != CEREBRO_OK)
        goto fail;
    /* A new target, or a structure not tuned since the store last changed
     * by a fifth (or written by a library that did not tune). */
    if (!readonly && cb_index_retune_ann(idx, retarget) == CEREBRO_OK)
        cb_index_save_ann(idx);
    *out = idx;
    return CEREBRO_OK;
fail:
    cerebro_index_free(idx);
    return st;
}

void cerebro_index_free(cerebro_index *idx)
{
    if (!idx)
        return;
    if (idx->ann && idx->db)
        cb_index_save_ann(idx);
    cb_ann_free(idx->ann);
    for (int i = 0; i < idx->pool_n; i++)
        sqlite3_close(idx->pool[i]);
    sqlite3_close(idx->db);
    pthread_rwlock_destroy(&idx->state_lock);
    cb_background_free(idx);
    pthread_rwlock_destroy(&idx->bg_lock);
    pthread_mutex_destroy(&idx->pool_lock);
    pthread_mutex_destroy(&idx->write_lock);
    free(idx->dir);
    free(idx);
}

/* The ids of the items a removal takes, gathered over a batch: the ANN
 * drops them all in one commit. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} id_list;

/* Inside the caller's transaction: removes the items selected by `sql_items`
 * with `text_key` (a path) or `id_key` bound, and the file row when a path
 * is given (a file without vectors, a failed one, is removed by path too).
 * Appends their ids to `ids`. E_NOT_FOUND, with nothing changed, when there
 * was nothing to remove. */
static cerebro_status remove_step(cerebro_index *idx, const char *sql_items, int64_t id_key,
                                  const char *text_key, const char *what, id_list *ids)
{
    sqlite3_stmt *q = NULL;
    size_t first = ids->n;
    cerebro_status st = CEREBRO_OK;
    int rc;

    if ((st = cb_sql_prepare(idx->db, sql_items, &q)) != CEREBRO_OK)
        return st;
    if (text_key)
        sqlite3_bind_text(q, 1, text_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, id_key);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (ids->n == ids->cap) {
            size_t cap = ids->cap ? ids->cap * 2 : 16;
            int64_t *g = realloc(ids->v, cap * sizeof *g);
            if (!g) {
                st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                goto out;
            }
            ids->v = g;
            ids->cap = cap;
        }
        ids->v[ids->n++] = sqlite3_column_int64(q, 0);
    }
    if (rc != SQLITE_DONE) {
        st = cb_sql_fail(idx->db, what);
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if ((st = cb_sql_prepare(idx->db, text_key ? "DELETE FROM files WHERE path = ?" : "DELETE FROM items WHERE id = ?",
                             &q)) != CEREBRO_OK)
        goto out;
    if (text_key)
        sqlite3_bind_text(q, 1, text_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, id_key);
    if (sqlite3_step(q) != SQLITE_DONE)
        st = cb_sql_fail(idx->db, what);
    else if (sqlite3_changes(idx->db) == 0)
        st = CEREBRO_E_NOT_FOUND;
out:
    sqlite3_finalize(q);
    if (st != CEREBRO_OK)
        ids->n = first;
    return st;
}

static const char sql_items_of_path[] = "SELECT items.id FROM items JOIN files ON files.id = items.file_id "
                                        "WHERE files.path = ?";

/* One path of a batch: as this machine resolves it (a relative path, "..",
 * a linked folder); else, for an absolute path, as given: the file's folder
 * is gone, or it was indexed on another machine (add_embeddings stores
 * absolute paths as given). */
static cerebro_status remove_path_step(cerebro_index *idx, const char *path, id_list *ids)
{
    cerebro_status st = CEREBRO_E_NOT_FOUND;
    char *key;

    if (cb_absolute_path(path, &key) == CEREBRO_OK) {
        st = remove_step(idx, sql_items_of_path, 0, key, path, ids);
        int again = st == CEREBRO_E_NOT_FOUND && path[0] == '/' && strcmp(key, path) != 0;
        free(key);
        if (!again)
            return st;
    } else if (path[0] != '/') {
        return CEREBRO_E_NOT_FOUND;
    }
    return remove_step(idx, sql_items_of_path, 0, path, path, ids);
}

cerebro_status cerebro_index_remove_many(cerebro_index *idx, const char *const *paths, size_t n_paths,
                                         const int64_t *ids, size_t n_ids, cerebro_status *statuses,
                                         size_t *removed)
{
    id_list gone = {0};
    size_t n_removed = 0;
    cerebro_status st;
    char what[64];

    if (removed)
        *removed = 0;
    if (!idx || (n_paths && !paths) || (n_ids && !ids))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_remove_many: NULL argument");
    for (size_t i = 0; i < n_paths; i++)
        if (!paths[i])
            return cb_fail(CEREBRO_E_INVALID, "cerebro_index_remove_many: paths[%zu] is NULL", i);
    if (idx->readonly)
        return cb_fail(CEREBRO_E_INVALID, "%s: index opened read-only", idx->dir);
    if (n_paths + n_ids == 0)
        return CEREBRO_OK;
    pthread_mutex_lock(&idx->write_lock);
    if ((st = cb_sql_exec(idx->db, "BEGIN IMMEDIATE")) != CEREBRO_OK)
        goto out;
    for (size_t i = 0; i < n_paths + n_ids; i++) {
        cerebro_status one;
        if (i < n_paths) {
            one = remove_path_step(idx, paths[i], &gone);
        } else {
            snprintf(what, sizeof what, "item %" PRId64, ids[i - n_paths]);
            one = remove_step(idx, "SELECT id FROM items WHERE id = ?", ids[i - n_paths], NULL, what, &gone);
        }
        if (one != CEREBRO_OK && one != CEREBRO_E_NOT_FOUND) {
            st = one;
            goto rollback;
        }
        if (statuses)
            statuses[i] = one;
        n_removed += one == CEREBRO_OK;
    }
    if (n_removed == 0) {
        cb_sql_rollback(idx->db);
        if (n_paths + n_ids == 1)
            st = cb_fail(CEREBRO_E_NOT_FOUND, "%s: not in the index", n_paths ? paths[0] : what);
        else
            st = cb_fail(CEREBRO_E_NOT_FOUND, "none of the %zu paths and ids is in the index", n_paths + n_ids);
        goto out;
    }
    /* Files whose last frame went. */
    if (n_ids && (st = cb_sql_exec(idx->db, "DELETE FROM files WHERE status = 0 AND NOT EXISTS "
                                            "(SELECT 1 FROM items WHERE items.file_id = files.id)")) != CEREBRO_OK)
        goto rollback;
    st = cb_index_commit(idx, gone.v, gone.n, NULL, NULL, 0);
    if (st == CEREBRO_OK && removed)
        *removed = n_removed;
    if (st == CEREBRO_OK)
        st = cb_index_retune_ann(idx, 0);
    if (st == CEREBRO_OK)
        st = cb_index_save_ann(idx);
    goto out;
rollback:
    cb_sql_rollback(idx->db);
out:
    pthread_mutex_unlock(&idx->write_lock);
    free(gone.v);
    return st;
}

cerebro_status cerebro_index_remove_path(cerebro_index *idx, const char *path)
{
    if (!idx || !path)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_remove_path: NULL argument");
    return cerebro_index_remove_many(idx, &path, 1, NULL, 0, NULL, NULL);
}

cerebro_status cerebro_index_remove_id(cerebro_index *idx, int64_t id)
{
    if (!idx)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_remove_id: index is NULL");
    return cerebro_index_remove_many(idx, NULL, 0, &id, 1, NULL, NULL);
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

cerebro_status cerebro_index_refresh(cerebro_index *idx, int *changed)
{
    char buf[64], path[4096];
    int found = 0;
    int64_t generation = 0, current;
    uint64_t items = 0;
    sqlite3 *db;
    cb_ann *ann = NULL, *old;
    cerebro_status st;

    if (changed)
        *changed = 0;
    if (!idx)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_refresh: index is NULL");
    if (!idx->readonly)
        return CEREBRO_OK; /* this handle's own commits keep it current */
    if ((st = cb_index_reader(idx, &db)) != CEREBRO_OK)
        return st;
    pthread_rwlock_rdlock(&idx->state_lock);
    current = idx->generation;
    pthread_rwlock_unlock(&idx->state_lock);
    /* The generation and, only when it moved (counting a large store is
     * not free and a server asks every few seconds), the item count from
     * one snapshot: the ANN file of that generation must hold exactly that
     * many vectors. */
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    st = cb_meta_get(db, "generation", buf, sizeof buf, &found);
    generation = found ? strtoll(buf, NULL, 10) : 0;
    if (st == CEREBRO_OK && generation != current)
        st = count_items(db, &items);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    cb_index_reader_done(idx, db);
    if (st != CEREBRO_OK || generation == current)
        return st;
    /* The writer saves the ANN file of a generation when its add() call
     * ends; until then (or if a newer one already replaced it) keep
     * searching the state loaded before, and try again next time. */
    ann_file(idx, generation, path, sizeof path);
    if (cb_ann_read(path, &ann) != CEREBRO_OK)
        return CEREBRO_OK;
    if (cb_ann_count(ann) != items || cb_ann_dim(ann) != idx->dim) {
        cb_ann_free(ann);
        return CEREBRO_OK;
    }
    pthread_rwlock_wrlock(&idx->state_lock);
    old = idx->ann;
    idx->ann = ann;
    idx->generation = generation;
    idx->saved_generation = generation;
    pthread_rwlock_unlock(&idx->state_lock);
    cb_ann_free(old);
    if (changed)
        *changed = 1;
    return CEREBRO_OK;
}

cerebro_status cerebro_index_stats_get(cerebro_index *idx, cerebro_index_stats *out)
{
    char buf[128];
    int found;
    sqlite3 *db;
    cerebro_status st;

    if (!idx || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    out->version = 1;
    out->dim = idx->dim;
    if ((st = cb_index_reader(idx, &db)) != CEREBRO_OK)
        return st;
    pthread_rwlock_rdlock(&idx->state_lock);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    out->count = (uint64_t)scalar(db, "SELECT COUNT(*) FROM items");
    out->files = (uint64_t)scalar(db, "SELECT COUNT(*) FROM files WHERE status = 0");
    out->failed = (uint64_t)scalar(db, "SELECT COUNT(*) FROM files WHERE status != 0");
    out->memory_bytes = cb_ann_memory(idx->ann);
    snprintf(out->structure, sizeof out->structure, "%s", cb_ann_structure(idx->ann));
    out->recall_at_10 = 1.0;
    if (!cb_ann_is_exact(idx->ann)) {
        /* Approximate structures grow by additions after their last build:
         * measure again when the store has changed since, unless a writer
         * is busy (then report the last measurement). */
        int have = cb_meta_get(db, "recall_generation", buf, sizeof buf, &found) == CEREBRO_OK && found;
        double measured = -1; /* not measured */
        if ((!have || strtoll(buf, NULL, 10) != idx->generation) && !idx->readonly &&
            pthread_mutex_trylock(&idx->write_lock) == 0) {
            float *x = NULL;
            int64_t *ids = NULL;
            size_t n = 0;
            if (load_vectors(idx, db, &x, &ids, &n) == CEREBRO_OK)
                measured = record_recall(idx, idx->ann, x, ids, n);
            free(x);
            free(ids);
            pthread_mutex_unlock(&idx->write_lock);
        }
        if (measured < 0 && cb_meta_get(db, "recall_at_10", buf, sizeof buf, &found) == CEREBRO_OK &&
            found)
            measured = atof(buf);
        out->recall_at_10 = measured;
    }
    if (cb_meta_get(db, "model_id", buf, sizeof buf, &found) == CEREBRO_OK && found)
        snprintf(out->model_id, sizeof out->model_id, "%.71s", buf);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    pthread_rwlock_unlock(&idx->state_lock);
    cb_index_reader_done(idx, db);
    return CEREBRO_OK;
}
