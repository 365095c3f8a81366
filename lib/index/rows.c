/* File rows and their items written by the writers that bring their own
 * vectors (rows.h). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "index/rows.h"

/* Statements hold read cursors that COMMIT must not meet. */
static void finalize_all(cb_rows *r)
{
    sqlite3_finalize(r->find);
    sqlite3_finalize(r->old_items);
    sqlite3_finalize(r->del_items);
    sqlite3_finalize(r->update_file);
    sqlite3_finalize(r->insert_file);
    sqlite3_finalize(r->insert_item);
    r->find = r->old_items = r->del_items = r->update_file = r->insert_file = r->insert_item = NULL;
}

static void rows_release(cb_rows *r)
{
    finalize_all(r);
    free(r->old_ids);
    free(r->new_ids);
    free(r->vectors);
    memset(r, 0, sizeof *r);
}

cerebro_status cb_rows_begin(cerebro_index *idx, int keep_vectors, cb_rows *r)
{
    sqlite3 *db = idx->db;
    cerebro_status st;

    memset(r, 0, sizeof *r);
    r->idx = idx;
    r->keep_vectors = keep_vectors;
    if ((st = cb_sql_exec(db, "BEGIN IMMEDIATE")) != CEREBRO_OK)
        return st;
    if ((st = cb_sql_prepare(db, "SELECT id, mtime_ns FROM files WHERE path = ?", &r->find)) ||
        (st = cb_sql_prepare(db, CB_SQL_OLD_ITEMS, &r->old_items)) ||
        (st = cb_sql_prepare(db, CB_SQL_DEL_ITEMS, &r->del_items)) ||
        (st = cb_sql_prepare(db, CB_SQL_UPDATE_FILE, &r->update_file)) ||
        (st = cb_sql_prepare(db, CB_SQL_INSERT_FILE, &r->insert_file)) ||
        (st = cb_sql_prepare(db, CB_SQL_INSERT_ITEM, &r->insert_item))) {
        cb_rows_abort(r);
        return st;
    }
    return CEREBRO_OK;
}

cerebro_status cb_rows_find(cb_rows *r, const char *path, int64_t *file_id, int64_t *mtime_ns)
{
    int rc;
    *file_id = -1;
    *mtime_ns = 0;
    sqlite3_bind_text(r->find, 1, path, -1, SQLITE_STATIC);
    rc = sqlite3_step(r->find);
    if (rc == SQLITE_ROW) {
        *file_id = sqlite3_column_int64(r->find, 0);
        *mtime_ns = sqlite3_column_int64(r->find, 1);
    }
    sqlite3_reset(r->find);
    sqlite3_clear_bindings(r->find);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CEREBRO_OK : cb_sql_fail(r->idx->db, path);
}

/* Grows a pair of parallel arrays to hold `need` entries (vectors only
 * when kept). */
static cerebro_status reserve(cb_rows *r, size_t need)
{
    size_t dim = r->idx->dim, cap = r->cap_new;
    if (need <= cap)
        return CEREBRO_OK;
    while (cap < need)
        cap = cap ? cap * 2 : 256;
    int64_t *ids = realloc(r->new_ids, cap * sizeof *ids);
    if (!ids)
        return cb_fail(CEREBRO_E_NOMEM, "out of memory for %zu items", cap);
    r->new_ids = ids;
    if (r->keep_vectors) {
        float *v = realloc(r->vectors, cap * dim * sizeof *v);
        if (!v)
            return cb_fail(CEREBRO_E_NOMEM, "out of memory for %zu vectors", cap);
        r->vectors = v;
    }
    r->cap_new = cap;
    return CEREBRO_OK;
}

/* Moves the items of file_id into r->old_ids and deletes them. */
static cerebro_status drop_items(cb_rows *r, int64_t file_id, const char *path)
{
    sqlite3 *db = r->idx->db;
    int rc;
    sqlite3_bind_int64(r->old_items, 1, file_id);
    while ((rc = sqlite3_step(r->old_items)) == SQLITE_ROW) {
        if (r->n_old == r->cap_old) {
            size_t cap = r->cap_old ? r->cap_old * 2 : 64;
            int64_t *g = realloc(r->old_ids, cap * sizeof *g);
            if (!g) {
                sqlite3_reset(r->old_items);
                return cb_fail(CEREBRO_E_NOMEM, "out of memory");
            }
            r->old_ids = g;
            r->cap_old = cap;
        }
        r->old_ids[r->n_old++] = sqlite3_column_int64(r->old_items, 0);
    }
    sqlite3_reset(r->old_items);
    if (rc != SQLITE_DONE)
        return cb_sql_fail(db, path);
    sqlite3_bind_int64(r->del_items, 1, file_id);
    rc = sqlite3_step(r->del_items);
    sqlite3_reset(r->del_items);
    return rc == SQLITE_DONE ? CEREBRO_OK : cb_sql_fail(db, path);
}

cerebro_status cb_rows_write(cb_rows *r, const cb_file_row *f, int64_t file_id, const float *vecs,
                             const double *times, size_t n)
{
    sqlite3 *db = r->idx->db;
    size_t row_bytes = r->idx->dim * sizeof(float);
    sqlite3_stmt *q;
    cerebro_status st;
    int rc;

    if ((st = reserve(r, r->n_new + n)) != CEREBRO_OK)
        return st;
    if (file_id >= 0) {
        if ((st = drop_items(r, file_id, f->path)) != CEREBRO_OK)
            return st;
        q = r->update_file;
        sqlite3_bind_int64(q, 1, file_id);
    } else {
        q = r->insert_file;
        sqlite3_bind_text(q, 1, f->path, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(q, 2, f->size);
    sqlite3_bind_int64(q, 3, f->mtime_ns);
    if (f->hash)
        sqlite3_bind_blob(q, 4, f->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, (int)f->width);
    sqlite3_bind_int(q, 6, (int)f->height);
    sqlite3_bind_int(q, 7, f->status);
    if (f->error)
        sqlite3_bind_text(q, 8, f->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, f->indexed_at);
    sqlite3_bind_int(q, 10, (int)f->kind);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE)
        return cb_sql_fail(db, f->path);
    if (file_id < 0)
        file_id = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(r->insert_item, 1, file_id);
        sqlite3_bind_double(r->insert_item, 2, times ? times[i] : -1.0);
        sqlite3_bind_blob(r->insert_item, 3, vecs + i * r->idx->dim, (int)row_bytes, SQLITE_STATIC);
        rc = sqlite3_step(r->insert_item);
        sqlite3_reset(r->insert_item);
        if (rc != SQLITE_DONE)
            return cb_sql_fail(db, f->path);
        r->new_ids[r->n_new] = sqlite3_last_insert_rowid(db);
        if (r->keep_vectors)
            memcpy(r->vectors + r->n_new * r->idx->dim, vecs + i * r->idx->dim, row_bytes);
        r->n_new++;
    }
    return CEREBRO_OK;
}

cerebro_status cb_rows_commit(cb_rows *r, int *committed)
{
    cerebro_index *idx = r->idx;
    int64_t generation = idx->generation;
    cerebro_status st;

    finalize_all(r);
    if (r->keep_vectors)
        st = cb_index_commit(idx, r->old_ids, r->n_old, r->vectors, r->new_ids, r->n_new);
    else
        st = cb_index_commit(idx, NULL, 0, NULL, NULL, 0);
    *committed = idx->generation != generation;
    rows_release(r);
    return st;
}

void cb_rows_abort(cb_rows *r)
{
    sqlite3 *db = r->idx ? r->idx->db : NULL;
    finalize_all(r);
    if (db)
        cb_sql_rollback(db);
    rows_release(r);
}
