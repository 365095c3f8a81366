/* cerebro_index_add_embeddings(): vectors encoded elsewhere (another
 * process, another machine) stored with their files' metadata, checked
 * against the index's model, in one transaction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "index/rows.h"
#include "index/walk.h"
#include "model/model.h"

/* Items one call may carry (a batch of a distributed run is a few hundred). */
#define MAX_ITEMS 10000000u

typedef struct put_item {
    const cerebro_embedding *e;
    char *key; /* the store key of e->path */
    size_t order;
} put_item;

static int compare_items(const void *a, const void *b)
{
    const put_item *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static cerebro_status check_item(const cerebro_embedding *e, size_t i, uint32_t dim)
{
    if (e->version != CEREBRO_EMBEDDING_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "items[%zu]: unknown version %u", i, e->version);
    if (!e->path || !e->path[0])
        return cb_fail(CEREBRO_E_INVALID, "items[%zu]: no path", i);
    if (e->kind > CEREBRO_ITEM_VIDEO_FRAME || e->reserved != 0)
        return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): unknown kind %u", e->path, i, e->kind);
    if (e->size < 0)
        return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): negative size", e->path, i);
    if (e->status != CEREBRO_OK) {
        if (e->status > 0 || e->vector)
            return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): a failed file (status %d) takes no vector",
                           e->path, i, (int)e->status);
        return CEREBRO_OK;
    }
    if (!e->vector)
        return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): no vector", e->path, i);
    double ss = 0;
    for (uint32_t k = 0; k < dim; k++)
        ss += (double)e->vector[k] * e->vector[k];
    if (!(ss > 0) || !isfinite(ss))
        return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): the vector is zero or not finite", e->path, i);
    if (e->kind == CEREBRO_ITEM_VIDEO_FRAME && !(e->timestamp >= 0 && isfinite(e->timestamp)))
        return cb_fail(CEREBRO_E_INVALID, "%s (items[%zu]): a video frame needs a timestamp >= 0", e->path, i);
    return CEREBRO_OK;
}

/* A file's items [0, n): one for an image or a failed file, frames of one
 * video otherwise. */
static cerebro_status check_group(const put_item *g, size_t n)
{
    const cerebro_embedding *first = g[0].e;
    for (size_t i = 1; i < n; i++) {
        const cerebro_embedding *e = g[i].e;
        if (first->kind != CEREBRO_ITEM_VIDEO_FRAME || e->kind != CEREBRO_ITEM_VIDEO_FRAME ||
            first->status != CEREBRO_OK || e->status != CEREBRO_OK)
            return cb_fail(CEREBRO_E_INVALID,
                           "%s (items[%zu] and items[%zu]): only the frames of a video share a path",
                           e->path, g[0].order, g[i].order);
    }
    return CEREBRO_OK;
}

static int all_zero(const uint8_t *h)
{
    for (int i = 0; i < 32; i++)
        if (h[i])
            return 0;
    return 1;
}

/* Writes the groups of the sorted items in one transaction. */
static cerebro_status write_groups(cerebro_index *idx, put_item *items, size_t n, cerebro_add_stats *stats)
{
    uint32_t dim = idx->dim;
    float *vecs = NULL;
    double *times = NULL;
    size_t cap = 0;
    cb_rows r;
    cerebro_add_stats s = {0};
    int committed = 0;
    cerebro_status st = cb_rows_begin(idx, 1, &r);

    for (size_t start = 0, end; st == CEREBRO_OK && start < n; start = end) {
        for (end = start + 1; end < n && strcmp(items[end].key, items[start].key) == 0;)
            end++;
        size_t m = end - start;
        const cerebro_embedding *e = items[start].e;
        int failed = e->status != CEREBRO_OK;
        if (!failed && m > cap) {
            float *v = realloc(vecs, m * dim * sizeof *v);
            double *t = v ? realloc(times, m * sizeof *t) : NULL;
            vecs = v ? v : vecs;
            if (!v || !t) {
                st = cb_fail(CEREBRO_E_NOMEM, "out of memory for %zu vectors", m);
                break;
            }
            times = t;
            cap = m;
        }
        for (size_t i = 0; !failed && i < m; i++) {
            const cerebro_embedding *f = items[start + i].e;
            float *row = vecs + i * dim;
            memcpy(row, f->vector, dim * sizeof *row);
            cb_normalize_rows(row, 1, dim);
            times[i] = f->kind == CEREBRO_ITEM_VIDEO_FRAME ? f->timestamp : -1.0;
        }
        cb_file_row row = {items[start].key, e->size, e->mtime_ns, all_zero(e->hash) ? NULL : e->hash,
                           e->kind, e->width, e->height, (int)e->status,
                           failed ? (e->error ? e->error : cerebro_status_string(e->status)) : NULL,
                           (int64_t)time(NULL)};
        int64_t file_id, mtime;
        if ((st = cb_rows_find(&r, row.path, &file_id, &mtime)) != CEREBRO_OK ||
            (st = cb_rows_write(&r, &row, file_id, vecs, times, failed ? 0 : m)) != CEREBRO_OK)
            break;
        if (failed)
            s.failed++;
        else if (file_id >= 0)
            s.updated++;
        else
            s.added++;
        if (!failed && e->kind == CEREBRO_ITEM_VIDEO_FRAME)
            s.frames += m;
    }
    free(vecs);
    free(times);
    if (st != CEREBRO_OK) {
        cb_rows_abort(&r);
        return st;
    }
    st = cb_rows_commit(&r, &committed);
    if (committed) {
        s.version = 1;
        *stats = s;
    }
    return st;
}

cerebro_status cerebro_index_add_embeddings(cerebro_index *idx, const char *model_id, uint32_t dim,
                                            const cerebro_embedding *items, size_t n,
                                            cerebro_add_stats *stats)
{
    cerebro_add_stats s = {1, 0, 0, 0, 0, 0, 0, 0};
    put_item *sorted = NULL;
    size_t keys = 0;
    cerebro_status st = CEREBRO_OK;

    if (stats)
        *stats = s;
    if (!idx || !model_id || (!items && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_add_embeddings: NULL argument");
    if (idx->readonly)
        return cb_fail(CEREBRO_E_INVALID, "%s: index opened read-only", idx->dir);
    if (dim != idx->dim || strcmp(model_id, cerebro_model_id(idx->model)) != 0)
        return cb_fail(CEREBRO_E_MISMATCH,
                       "%s holds %u-dimensional vectors of model '%s' (id %.12s); the embeddings given are "
                       "%u-dimensional from model id %.12s",
                       idx->dir, idx->dim, cerebro_model_name(idx->model), cerebro_model_id(idx->model), dim,
                       model_id);
    if (n > MAX_ITEMS)
        return cb_fail(CEREBRO_E_LIMIT, "cerebro_index_add_embeddings: %zu items; at most %u a call", n,
                       MAX_ITEMS);
    if (n == 0)
        return CEREBRO_OK;
    for (size_t i = 0; i < n; i++)
        if ((st = check_item(&items[i], i, dim)) != CEREBRO_OK)
            return st;
    if (!(sorted = calloc(n, sizeof *sorted)))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory for %zu items", n);
    for (keys = 0; keys < n; keys++) {
        const char *path = items[keys].path;
        sorted[keys].e = &items[keys];
        sorted[keys].order = keys;
        /* An absolute path is the key as given: the file may live on a
         * machine where this one cannot resolve it. */
        if (path[0] == '/') {
            if (!(sorted[keys].key = strdup(path))) {
                st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                break;
            }
        } else if ((st = cb_absolute_path(path, &sorted[keys].key)) != CEREBRO_OK) {
            cb_error_prefix(path);
            break;
        }
    }
    if (st == CEREBRO_OK) {
        qsort(sorted, n, sizeof *sorted, compare_items);
        for (size_t start = 0, end; st == CEREBRO_OK && start < n; start = end) {
            for (end = start + 1; end < n && strcmp(sorted[end].key, sorted[start].key) == 0;)
                end++;
            st = check_group(sorted + start, end - start);
        }
    }
    if (st == CEREBRO_OK) {
        pthread_mutex_lock(&idx->write_lock);
        st = write_groups(idx, sorted, n, &s);
        if (st == CEREBRO_OK)
            st = cb_index_restructure(idx);
        if (st == CEREBRO_OK)
            st = cb_index_save_ann(idx);
        pthread_mutex_unlock(&idx->write_lock);
    }
    for (size_t i = 0; i < keys; i++)
        free(sorted[i].key);
    free(sorted);
    if (stats)
        *stats = s;
    return st;
}
