/* cerebro_index_merge(): other stores of the same model copied into this
 * one (shards indexed apart, on other machines or by other processes). Each
 * source is read in one snapshot, file by file with its items; the newer
 * version of a path wins. Batches of files are committed as add commits
 * them, and the ANN is rebuilt once at the end from the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "index/rows.h"
#include "index/walk.h"

/* Files per transaction, and the most sources one call takes. */
enum { MERGE_BATCH = 4096, MAX_SOURCES = 4096 };

typedef struct source {
    char *dir;
    sqlite3 *db;
} source;

/* Opens a source read-only and checks it holds vectors of this index's
 * model, dimension and store format. */
static cerebro_status open_source(cerebro_index *idx, const char *dir, source *s)
{
    char id[128], name[160], buf[64];
    int found = 0, have_name = 0;
    cerebro_status st;
    const cerebro_model *m = idx->model;

    if ((st = cb_absolute_path(dir, &s->dir)) != CEREBRO_OK) {
        cb_error_prefix(dir);
        return st;
    }
    if (strcmp(s->dir, idx->dir) == 0)
        return cb_fail(CEREBRO_E_INVALID, "%s: cannot merge a store into itself", dir);
    if ((st = cb_store_open_db(s->dir, 1, 0, &s->db)) != CEREBRO_OK)
        return st;
    if ((st = cb_meta_get(s->db, "model_id", id, sizeof id, &found)) != CEREBRO_OK)
        return st;
    if (!found)
        return cb_fail(CEREBRO_E_NOT_FOUND, "%s: not a libcerebro index (no model recorded)", dir);
    if (cb_meta_get(s->db, "model_name", name, sizeof name, &have_name) != CEREBRO_OK || !have_name)
        snprintf(name, sizeof name, "?");
    if (strcmp(id, cerebro_model_id(m)) != 0)
        return cb_fail(CEREBRO_E_MISMATCH,
                       "%s was indexed with model '%s' (id %.12s); %s holds model '%s' (id %.12s): only "
                       "stores of the same model merge",
                       dir, name, id, idx->dir, cerebro_model_name(m), cerebro_model_id(m));
    if ((st = cb_meta_get(s->db, "dim", buf, sizeof buf, &found)) != CEREBRO_OK)
        return st;
    if (!found || strtoul(buf, NULL, 10) != idx->dim)
        return cb_fail(CEREBRO_E_MISMATCH, "%s holds %s-dimensional vectors; %s holds %u", dir,
                       found ? buf : "?", idx->dir, idx->dim);
    if ((st = cb_meta_get(s->db, "format_version", buf, sizeof buf, &found)) != CEREBRO_OK)
        return st;
    if (!found || atoi(buf) != CB_STORE_FORMAT_VERSION)
        return cb_fail(CEREBRO_E_MISMATCH, "%s: store format %s; this library merges format %d", dir,
                       found ? buf : "?", CB_STORE_FORMAT_VERSION);
    return CEREBRO_OK;
}

/* One source file being gathered: its row and its items. */
typedef struct gathered {
    int64_t id;
    char *path, *error;
    uint8_t hash[32];
    int has_hash;
    cb_file_row row;
    float *vecs;
    double *times;
    size_t n, cap;
} gathered;

static void gathered_reset(gathered *g)
{
    free(g->path);
    free(g->error);
    g->path = g->error = NULL;
    g->n = 0;
    g->id = -1;
}

static cerebro_status gather_row(gathered *g, sqlite3_stmt *q)
{
    g->id = sqlite3_column_int64(q, 0);
    g->path = strdup((const char *)sqlite3_column_text(q, 1));
    g->error = sqlite3_column_type(q, 9) == SQLITE_NULL ? NULL : strdup((const char *)sqlite3_column_text(q, 9));
    if (!g->path || (sqlite3_column_type(q, 9) != SQLITE_NULL && !g->error))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    g->has_hash = sqlite3_column_bytes(q, 4) == 32;
    if (g->has_hash)
        memcpy(g->hash, sqlite3_column_blob(q, 4), 32);
    cb_file_row row = {g->path, sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3),
                       g->has_hash ? g->hash : NULL, (uint32_t)sqlite3_column_int(q, 5),
                       (uint32_t)sqlite3_column_int(q, 6), (uint32_t)sqlite3_column_int(q, 7),
                       sqlite3_column_int(q, 8), g->error, sqlite3_column_int64(q, 10)};
    g->row = row;
    return CEREBRO_OK;
}

static cerebro_status gather_item(gathered *g, sqlite3_stmt *q, uint32_t dim, const char *dir)
{
    if (sqlite3_column_type(q, 12) == SQLITE_NULL)
        return CEREBRO_OK; /* a file without items (a failed one) */
    if (sqlite3_column_bytes(q, 12) != (int)(dim * sizeof(float)))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: an item of %s has a %d-byte vector; expected %u floats", dir,
                       g->path, sqlite3_column_bytes(q, 12), dim);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        float *v = realloc(g->vecs, cap * dim * sizeof *v);
        double *t = v ? realloc(g->times, cap * sizeof *t) : NULL;
        g->vecs = v ? v : g->vecs;
        if (!v || !t)
            return cb_fail(CEREBRO_E_NOMEM, "out of memory");
        g->times = t;
        g->cap = cap;
    }
    memcpy(g->vecs + g->n * dim, sqlite3_column_blob(q, 12), dim * sizeof(float));
    g->times[g->n++] = sqlite3_column_double(q, 11);
    return CEREBRO_OK;
}

typedef struct merge_job {
    cerebro_index *idx;
    cb_rows rows;
    int open;            /* a transaction is open */
    size_t in_batch;     /* files written in it */
    cerebro_add_stats pending, stats; /* counted once committed */
    int changed;         /* something was committed */
} merge_job;

static cerebro_status commit_batch(merge_job *m)
{
    int committed = 0;
    cerebro_status st;
    if (!m->open)
        return CEREBRO_OK;
    m->open = 0;
    st = cb_rows_commit(&m->rows, &committed);
    if (committed) {
        m->stats.added += m->pending.added;
        m->stats.updated += m->pending.updated;
        m->stats.skipped += m->pending.skipped;
        m->stats.failed += m->pending.failed;
        m->stats.frames += m->pending.frames;
        m->changed = 1;
    }
    memset(&m->pending, 0, sizeof m->pending);
    m->in_batch = 0;
    return st;
}

/* Writes one gathered file unless this store has a version as new. */
static cerebro_status put_file(merge_job *m, const gathered *g)
{
    int64_t file_id, mtime;
    cerebro_status st;

    if (!m->open) {
        if ((st = cb_rows_begin(m->idx, 0, &m->rows)) != CEREBRO_OK)
            return st;
        m->open = 1;
    }
    if ((st = cb_rows_find(&m->rows, g->path, &file_id, &mtime)) != CEREBRO_OK)
        return st;
    if (file_id >= 0 && mtime >= g->row.mtime_ns) {
        m->pending.skipped++;
        return CEREBRO_OK;
    }
    if ((st = cb_rows_write(&m->rows, &g->row, file_id, g->vecs, g->times, g->n)) != CEREBRO_OK)
        return st;
    if (g->row.status != 0)
        m->pending.failed++;
    else if (file_id >= 0)
        m->pending.updated++;
    else
        m->pending.added++;
    if (g->row.kind == CEREBRO_ITEM_VIDEO_FRAME)
        m->pending.frames += g->n;
    if (++m->in_batch >= MERGE_BATCH)
        return commit_batch(m);
    return CEREBRO_OK;
}

/* Every file of one source, with its items, in one read snapshot. */
static cerebro_status merge_source(merge_job *m, const source *s)
{
    sqlite3_stmt *q = NULL;
    gathered g;
    int rc = SQLITE_DONE;
    cerebro_status st;
    uint32_t dim = m->idx->dim;

    memset(&g, 0, sizeof g);
    g.id = -1;
    if ((st = cb_sql_exec(s->db, "BEGIN")) != CEREBRO_OK)
        return st;
    st = cb_sql_prepare(s->db,
                        "SELECT f.id, f.path, f.size, f.mtime_ns, f.hash, f.kind, f.width, f.height, f.status, "
                        "f.error, f.indexed_at, i.timestamp, i.vector FROM files f LEFT JOIN items i "
                        "ON i.file_id = f.id ORDER BY f.id, i.id",
                        &q);
    while (st == CEREBRO_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        if (id != g.id) {
            if (g.id >= 0 && (st = put_file(m, &g)) != CEREBRO_OK)
                break;
            gathered_reset(&g);
            if ((st = gather_row(&g, q)) != CEREBRO_OK)
                break;
        }
        st = gather_item(&g, q, dim, s->dir);
    }
    if (st == CEREBRO_OK && rc != SQLITE_DONE)
        st = cb_sql_fail(s->db, s->dir);
    if (st == CEREBRO_OK && g.id >= 0)
        st = put_file(m, &g);
    sqlite3_finalize(q);
    cb_sql_exec(s->db, "COMMIT");
    gathered_reset(&g);
    free(g.vecs);
    free(g.times);
    return st;
}

/* The ANN of everything committed, once: rebuilt from the store with the
 * structure its size calls for, tuned, and written. */
static cerebro_status rebuild_ann(cerebro_index *idx)
{
    cerebro_status st;
    pthread_rwlock_wrlock(&idx->state_lock);
    st = cb_index_rebuild_ann(idx, idx->db);
    pthread_rwlock_unlock(&idx->state_lock);
    idx->saved_generation = -1;
    if (st == CEREBRO_OK)
        st = cb_index_save_ann(idx);
    return st;
}

cerebro_status cerebro_index_merge(cerebro_index *idx, const char *const *dirs, size_t n,
                                   cerebro_add_stats *stats)
{
    source *src = NULL;
    merge_job m;
    cerebro_status st = CEREBRO_OK;

    memset(&m, 0, sizeof m);
    m.idx = idx;
    m.stats.version = 1;
    if (stats)
        *stats = m.stats;
    if (!idx || (!dirs && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_merge: NULL argument");
    if (idx->readonly)
        return cb_fail(CEREBRO_E_INVALID, "%s: index opened read-only", idx->dir);
    if (n > MAX_SOURCES)
        return cb_fail(CEREBRO_E_LIMIT, "cerebro_index_merge: %zu stores; at most %d a call", n, MAX_SOURCES);
    if (n == 0)
        return CEREBRO_OK;
    if (!(src = calloc(n, sizeof *src)))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    /* Every source is checked before anything is written. */
    for (size_t i = 0; i < n && st == CEREBRO_OK; i++)
        st = dirs[i] ? open_source(idx, dirs[i], &src[i])
                     : cb_fail(CEREBRO_E_INVALID, "cerebro_index_merge: dirs[%zu] is NULL", i);
    if (st == CEREBRO_OK) {
        pthread_mutex_lock(&idx->write_lock);
        for (size_t i = 0; i < n && st == CEREBRO_OK; i++)
            st = merge_source(&m, &src[i]);
        if (st == CEREBRO_OK)
            st = commit_batch(&m);
        else if (m.open)
            cb_rows_abort(&m.rows);
        /* What was committed is searched, failure or not. */
        if (m.changed) {
            cerebro_status s2 = rebuild_ann(idx);
            if (st == CEREBRO_OK)
                st = s2;
        }
        pthread_mutex_unlock(&idx->write_lock);
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_close(src[i].db);
        free(src[i].dir);
    }
    free(src);
    if (stats)
        *stats = m.stats;
    return st;
}
