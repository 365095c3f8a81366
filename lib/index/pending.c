/* cerebro_index_pending(): what cerebro_index_add() would encode now, for a
 * caller that encodes elsewhere (a cluster) and commits the vectors with
 * cerebro_index_add_embeddings(). The walk is add's own (walk.c); a file
 * counts as unchanged under the same first test add makes (size and mtime). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "index/store.h"
#include "index/walk.h"
#include "video/video.h"

/* A file the walk found. */
typedef struct found {
    char *path;
    int64_t size, mtime_ns;
} found;

typedef struct pending_job {
    uint32_t flags;
    cerebro_pending_fn fn;
    void *user;
    found *files;
    size_t n, cap;
    int nomem, stopped;
} pending_job;

static void on_file(void *user, const char *path, const struct stat *st)
{
    pending_job *j = user;
    if (j->nomem)
        return;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 1024;
        found *g = realloc(j->files, cap * sizeof *g);
        if (!g) {
            j->nomem = 1;
            return;
        }
        j->files = g;
        j->cap = cap;
    }
    found *f = &j->files[j->n];
    f->size = (int64_t)st->st_size;
    f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    if (!(f->path = strdup(path)))
        j->nomem = 1;
    else
        j->n++;
}

static int compare_found(const void *a, const void *b)
{
    return strcmp(((const found *)a)->path, ((const found *)b)->path);
}

/* Looks each file up (in path order, once even when reached twice) and
 * reports the ones the store does not have unchanged. */
static cerebro_status report_files(pending_job *j, sqlite3 *db, uint64_t *unchanged)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(db, "SELECT size, mtime_ns FROM files WHERE path = ?", &q);

    if (j->n > 1)
        qsort(j->files, j->n, sizeof *j->files, compare_found);
    for (size_t i = 0; i < j->n && st == CEREBRO_OK && !j->stopped; i++) {
        const found *f = &j->files[i];
        if (i > 0 && strcmp(f->path, j->files[i - 1].path) == 0)
            continue;
        sqlite3_bind_text(q, 1, f->path, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q), same = 0;
        if (rc == SQLITE_ROW)
            same = sqlite3_column_int64(q, 0) == f->size && sqlite3_column_int64(q, 1) == f->mtime_ns;
        sqlite3_reset(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            st = cb_sql_fail(db, f->path);
            break;
        }
        if (same) {
            (*unchanged)++;
            continue;
        }
        uint32_t kind = !(j->flags & CEREBRO_ADD_NO_VIDEO) && cb_is_video_name(f->path) ? CEREBRO_ITEM_VIDEO_FRAME
                                                                                        : CEREBRO_ITEM_IMAGE;
        if (j->fn(j->user, f->path, f->size, f->mtime_ns, kind, CEREBRO_OK, NULL))
            j->stopped = 1;
    }
    sqlite3_finalize(q);
    return st;
}

static void on_error(void *user, const char *path, cerebro_status status, const char *message)
{
    pending_job *j = user;
    if (!j->stopped && j->fn(j->user, path, -1, 0, CEREBRO_ITEM_IMAGE, status, message))
        j->stopped = 1;
}

static cerebro_status pending(cerebro_index *idx, const char *const *paths, size_t n, uint32_t flags,
                              const char *const *exclude, size_t n_exclude, cerebro_pending_fn fn, void *user,
                              uint64_t *unchanged)
{
    pending_job j;
    cb_walk w = {flags, on_file, on_error, &j, exclude, n_exclude, 0};
    cerebro_status st = CEREBRO_OK, root_st = CEREBRO_OK;
    size_t visited = 0;
    uint64_t same = 0;
    sqlite3 *db;

    if (unchanged)
        *unchanged = 0;
    if (!idx || !fn || (!paths && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_pending: NULL argument");
    if (flags & ~(CEREBRO_ADD_NO_RECURSE | CEREBRO_ADD_HIDDEN | CEREBRO_ADD_FOLLOW_SYMLINKS | CEREBRO_ADD_NO_VIDEO))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_pending: unknown flags 0x%x", flags);
    for (size_t i = 0; i < n; i++)
        if (!paths[i])
            return cb_fail(CEREBRO_E_INVALID, "cerebro_index_pending: paths[%zu] is NULL", i);
    memset(&j, 0, sizeof j);
    j.flags = flags;
    j.fn = fn;
    j.user = user;
    for (size_t i = 0; i < n && !j.stopped && !j.nomem; i++) {
        cerebro_status s = cb_walk_root(&w, paths[i], NULL);
        if (s == CEREBRO_OK) {
            visited++;
            continue;
        }
        root_st = s;
        on_error(&j, paths[i], s, cerebro_last_error());
    }
    if (j.nomem)
        st = cb_fail(CEREBRO_E_NOMEM, "cerebro_index_pending: out of memory after %zu files", j.n);
    if (st == CEREBRO_OK && !j.stopped && (st = cb_index_reader(idx, &db)) == CEREBRO_OK) {
        st = report_files(&j, db, &same);
        cb_index_reader_done(idx, db);
    }
    for (size_t i = 0; i < j.n; i++)
        free(j.files[i].path);
    free(j.files);
    if (unchanged)
        *unchanged = same;
    if (st != CEREBRO_OK)
        return st;
    if (j.stopped)
        return cb_fail(CEREBRO_E_CANCELLED, "cerebro_index_pending: stopped by the callback");
    if (visited == 0 && n > 0)
        return cb_fail(root_st, "nothing to index: none of the %zu paths could be read", n);
    return CEREBRO_OK;
}

cerebro_status cerebro_index_pending(cerebro_index *idx, const char *const *paths, size_t n, uint32_t flags,
                                     cerebro_pending_fn fn, void *user, uint64_t *unchanged)
{
    return pending(idx, paths, n, flags, NULL, 0, fn, user, unchanged);
}

cerebro_status cerebro_index_pending_opts(cerebro_index *idx, const char *const *paths, size_t n,
                                          const cerebro_add_options *opts, cerebro_pending_fn fn, void *user,
                                          uint64_t *unchanged)
{
    cerebro_status st;
    const char *const *exclude;
    size_t n_exclude;

    if (!opts)
        return pending(idx, paths, n, 0, NULL, 0, fn, user, unchanged);
    if ((st = cb_check_add_options(opts)) != CEREBRO_OK) {
        if (unchanged)
            *unchanged = 0;
        return st;
    }
    exclude = cb_add_exclude(opts, &n_exclude);
    return pending(idx, paths, n, opts->flags, exclude, n_exclude, fn, user, unchanged);
}
