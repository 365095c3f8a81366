/* Incremental indexing: walk the given paths, skip unchanged files (size and
 * mtime, then content hash), follow moved files (same content under a new
 * path keeps its vectors), drop vanished ones, and encode the rest through
 * the model pipeline, committing bounded transactions (commit_every files,
 * or what came in within COMMIT_SECONDS) so a killed process loses at most
 * the transaction in flight. Videos come after the
 * images, one at a time: each video's frames and its file row are one
 * transaction, so a killed process never leaves half a video. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core.h"
#include "core/sha256.h"
#include "image/image.h"
#include "index/frames.h"
#include "index/store.h"
#include "index/walk.h"
#include "model/pipeline.h"
#include "video/video.h"

/* A pipeline status meaning "same bytes as stored: keep the vectors". */
#define CB_ITEM_UNCHANGED ((cerebro_status)1)

enum { DEFAULT_BATCH = 32, DEFAULT_COMMIT = 256, MAX_BATCH = 1024, MAX_EXCLUDE = 256, MAX_PATTERN = 1024 };

/* A transaction stays open at most this long, whatever commit_every says:
 * a slow model still commits (and reports progress) every second. */
#define COMMIT_SECONDS 1.0

/* A file row under one of the roots, as the store has it. */
typedef struct known {
    char *path;
    int64_t file_id;
    int64_t size, mtime_ns;
    int status;
    uint8_t hash[32];
    int has_hash;
    int seen;
    size_t root_len; /* the folder given it was found under: path + root_len is below it */
} known;

/* A file to (re)encode. */
typedef struct candidate {
    char *path;
    int64_t size, mtime_ns;
    int64_t file_id; /* -1: new */
    uint8_t old_hash[32];
    int has_old_hash;
    uint8_t hash[32]; /* filled by the worker */
    uint32_t width, height;
    int video;        /* decoded as a video: one row per kept frame */
    cerebro_status outcome; /* written, not committed yet: reported once committed */
    char *error;            /* its message when it failed (malloc'd) */
} candidate;

typedef struct add_job {
    cerebro_index *idx;
    const cerebro_add_options *opts;
    cerebro_add_stats stats;
    known *known;
    size_t n_known, cap_known;
    candidate *cand;
    size_t n_cand, cap_cand;
    cb_decode_params params;
    cerebro_image_options iopts;
    uint64_t done, total;
    size_t n_videos; /* video candidates, indexed after the images */
    int cancelled;
} add_job;

static int64_t mtime_ns_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Calls the user's progress callback (partial: `path` is still being
 * worked on); remembers a request to cancel. */
static void report(add_job *j, const char *path, cerebro_status status, const char *message,
                   uint32_t partial)
{
    if (!j->opts->progress)
        return;
    cerebro_progress p = {1, partial, j->done, j->total, j->stats.added + j->stats.updated,
                          j->stats.skipped, j->stats.failed, path, status, message};
    if (j->opts->progress(j->opts->user, &p))
        j->cancelled = 1;
}

static void progress(add_job *j, const char *path, cerebro_status status, const char *message)
{
    report(j, path, status, message, 0);
}

/* ---- what the store knows ------------------------------------------------ */

static int compare_known(const void *a, const void *b)
{
    return strcmp(((const known *)a)->path, ((const known *)b)->path);
}

static cerebro_status load_known(add_job *j, const char *root)
{
    sqlite3_stmt *q;
    size_t len = strlen(root);
    char *lo = malloc(len + 2), *hi = malloc(len + 2);
    cerebro_status st = CEREBRO_OK;

    if (!lo || !hi) {
        free(lo);
        free(hi);
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    }
    /* The root itself and everything under root + "/" ('0' follows '/'). */
    sprintf(lo, "%s/", strcmp(root, "/") == 0 ? "" : root);
    sprintf(hi, "%s0", strcmp(root, "/") == 0 ? "" : root);
    st = cb_sql_prepare(j->idx->db,
                        "SELECT id, path, size, mtime_ns, status, hash FROM files "
                        "WHERE path = ?1 OR (path >= ?2 AND path < ?3)",
                        &q);
    if (st == CEREBRO_OK) {
        sqlite3_bind_text(q, 1, root, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, hi, -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (j->n_known == j->cap_known) {
                size_t cap = j->cap_known ? j->cap_known * 2 : 256;
                known *g = realloc(j->known, cap * sizeof *g);
                if (!g) {
                    st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                    break;
                }
                j->known = g;
                j->cap_known = cap;
            }
            known *k = &j->known[j->n_known];
            memset(k, 0, sizeof *k);
            k->file_id = sqlite3_column_int64(q, 0);
            k->path = strdup((const char *)sqlite3_column_text(q, 1));
            k->root_len = len;
            k->size = sqlite3_column_int64(q, 2);
            k->mtime_ns = sqlite3_column_int64(q, 3);
            k->status = sqlite3_column_int(q, 4);
            if (sqlite3_column_bytes(q, 5) == 32) {
                memcpy(k->hash, sqlite3_column_blob(q, 5), 32);
                k->has_hash = 1;
            }
            if (!k->path) {
                st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                break;
            }
            j->n_known++;
        }
        /* A read error must not pass for the end of the rows: the files
         * missed would be taken for new ones. */
        if (st == CEREBRO_OK && rc != SQLITE_DONE)
            st = cb_sql_fail(j->idx->db, root);
        sqlite3_finalize(q);
    }
    free(lo);
    free(hi);
    return st;
}

/* Sorts the known rows and drops duplicates (overlapping roots). */
static void finish_known(add_job *j)
{
    size_t w = 0;
    if (j->n_known > 1) /* qsort/bsearch take no NULL base, even for 0 items */
        qsort(j->known, j->n_known, sizeof *j->known, compare_known);
    for (size_t i = 0; i < j->n_known; i++) {
        if (w > 0 && j->known[w - 1].file_id == j->known[i].file_id) {
            free(j->known[i].path);
            continue;
        }
        j->known[w++] = j->known[i];
    }
    j->n_known = w;
}

static known *find_known(add_job *j, const char *path)
{
    known key = {0};
    key.path = (char *)path;
    if (j->n_known == 0)
        return NULL;
    return bsearch(&key, j->known, j->n_known, sizeof *j->known, compare_known);
}

/* ---- walking ---------------------------------------------------------------- */

static void add_candidate(add_job *j, const char *path, const struct stat *st, const known *k,
                          int video)
{
    if (j->n_cand == j->cap_cand) {
        size_t cap = j->cap_cand ? j->cap_cand * 2 : 256;
        candidate *g = realloc(j->cand, cap * sizeof *g);
        if (!g)
            return;
        j->cand = g;
        j->cap_cand = cap;
    }
    candidate *c = &j->cand[j->n_cand];
    memset(c, 0, sizeof *c);
    if (!(c->path = strdup(path)))
        return;
    c->size = (int64_t)st->st_size;
    c->mtime_ns = mtime_ns_of(st);
    c->file_id = k ? k->file_id : -1;
    c->video = video;
    if (k && k->has_hash) {
        memcpy(c->old_hash, k->hash, 32);
        c->has_old_hash = 1;
    }
    j->n_cand++;
}

static void on_file(void *user, const char *path, const struct stat *st)
{
    add_job *j = user;
    known *k = find_known(j, path);

    if (k && k->seen)
        return; /* reached twice through overlapping roots: counted once */
    j->total++;
    if (k) {
        k->seen = 1;
        if (k->size == (int64_t)st->st_size && k->mtime_ns == mtime_ns_of(st)) {
            j->stats.skipped++; /* unchanged, or failed before and unchanged */
            j->done++;
            return;
        }
    }
    add_candidate(j, path, st, k, !(j->opts->flags & CEREBRO_ADD_NO_VIDEO) && cb_is_video_name(path));
}

static void on_walk_error(void *user, const char *path, cerebro_status status, const char *message)
{
    add_job *j = user;
    j->total++;
    j->done++;
    j->stats.failed++;
    progress(j, path, status, message);
}

static int compare_candidates(const void *a, const void *b)
{
    return strcmp(((const candidate *)a)->path, ((const candidate *)b)->path);
}

/* New files reached through two overlapping roots appear twice. */
static void dedupe_candidates(add_job *j)
{
    size_t w = 0;
    if (j->n_cand > 1)
        qsort(j->cand, j->n_cand, sizeof *j->cand, compare_candidates);
    for (size_t i = 0; i < j->n_cand; i++) {
        if (w > 0 && strcmp(j->cand[w - 1].path, j->cand[i].path) == 0) {
            free(j->cand[i].path);
            j->total--;
            continue;
        }
        j->cand[w++] = j->cand[i];
    }
    j->n_cand = w;
}

/* ---- moved and vanished files ---------------------------------------------- */

static int compare_size(const void *a, const void *b)
{
    const known *x = *(known *const *)a, *y = *(known *const *)b;
    return (x->size > y->size) - (x->size < y->size);
}

/* Rows under the roots that were not seen and no longer exist. Files that
 * still exist but were not walked (hidden, excluded) stay. A new file with
 * the content of a vanished one takes over its row: same vectors, new path.
 * What remains vanished is deleted. */
/* A known file under an exclude pattern of this run (relative to the
 * folder given it was found under). */
static int excluded_known(const add_job *j, const known *k)
{
    size_t n;
    const char *const *exclude = cb_add_exclude(j->opts, &n);
    const char *below = k->path + k->root_len;
    if (!n || strlen(k->path) <= k->root_len)
        return 0;
    while (*below == '/')
        below++;
    return cb_path_excluded(exclude, n, below);
}

static cerebro_status settle_vanished(add_job *j)
{
    cerebro_index *idx = j->idx;
    int64_t *gone = NULL, *old_items = NULL;
    known **vanished = NULL;
    size_t n_gone = 0, n_old = 0, cap_old = 0, moved = 0, n_vanished = 0;
    sqlite3_stmt *q = NULL;
    cerebro_status st;
    struct stat sb;

    gone = malloc((j->n_known ? j->n_known : 1) * sizeof *gone);
    vanished = malloc((j->n_known ? j->n_known : 1) * sizeof *vanished);
    if (!gone || !vanished) {
        free(gone);
        free(vanished);
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < j->n_known; i++) {
        known *k = &j->known[i];
        if (k->seen)
            continue;
        /* Gone, or no longer a file (replaced by a folder, a FIFO, a broken
         * link), or left out by an exclude pattern. Files that exist but
         * were not walked otherwise (hidden, not recursed into, an
         * unreadable folder) stay. */
        if ((stat(k->path, &sb) == 0 ? S_ISREG(sb.st_mode) : (errno != ENOENT && errno != ENOTDIR)) &&
            !excluded_known(j, k))
            continue;
        k->seen = -1; /* vanished */
        vanished[n_vanished++] = k;
    }
    if (n_vanished > 1)
        qsort(vanished, n_vanished, sizeof *vanished, compare_size);
    if ((st = cb_sql_exec(idx->db, "BEGIN IMMEDIATE")) != CEREBRO_OK)
        goto done;
    /* Moves: only a new file of the same size can carry the same content. */
    for (size_t c = 0; c < j->n_cand && st == CEREBRO_OK; c++) {
        candidate *cd = &j->cand[c];
        uint8_t digest[32];
        int hashed = 0;
        if (cd->file_id >= 0)
            continue;
        /* The vanished rows of the same size, found by binary search. */
        size_t lo = 0, hi = n_vanished;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (vanished[mid]->size < cd->size)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < n_vanished && vanished[i]->size == cd->size; i++) {
            known *k = vanished[i];
            if (k->seen != -1 || !k->has_hash || k->status != 0)
                continue;
            if (!hashed && cb_sha256_file(cd->path, digest) != CEREBRO_OK)
                break;
            hashed = 1;
            if (memcmp(digest, k->hash, 32) != 0)
                continue;
            if ((st = cb_sql_prepare(idx->db, "UPDATE files SET path = ?, mtime_ns = ? WHERE id = ?", &q)) !=
                CEREBRO_OK)
                break;
            sqlite3_bind_text(q, 1, cd->path, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, cd->mtime_ns);
            sqlite3_bind_int64(q, 3, k->file_id);
            if (sqlite3_step(q) != SQLITE_DONE)
                st = cb_sql_fail(idx->db, cd->path);
            sqlite3_finalize(q);
            q = NULL;
            k->seen = 1;
            cd->file_id = -2; /* handled */
            moved++;
            break;
        }
    }
    for (size_t i = 0; i < j->n_known && st == CEREBRO_OK; i++) {
        if (j->known[i].seen == -1)
            gone[n_gone++] = j->known[i].file_id;
    }
    if (st == CEREBRO_OK && n_gone > 0) {
        sqlite3_stmt *items = NULL;
        st = cb_sql_prepare(idx->db, "SELECT id FROM items WHERE file_id = ?", &items);
        if (st == CEREBRO_OK)
            st = cb_sql_prepare(idx->db, "DELETE FROM files WHERE id = ?", &q);
        for (size_t i = 0; i < n_gone && st == CEREBRO_OK; i++) {
            sqlite3_reset(items);
            sqlite3_bind_int64(items, 1, gone[i]);
            int rc;
            while ((rc = sqlite3_step(items)) == SQLITE_ROW) {
                if (n_old == cap_old) {
                    int64_t *g = realloc(old_items, (cap_old = cap_old ? cap_old * 2 : 64) * sizeof *g);
                    if (!g) {
                        st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                        break;
                    }
                    old_items = g;
                }
                old_items[n_old++] = sqlite3_column_int64(items, 0);
            }
            if (st == CEREBRO_OK && rc != SQLITE_DONE)
                st = cb_sql_fail(idx->db, "removing vanished files");
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, gone[i]);
            if (st == CEREBRO_OK && sqlite3_step(q) != SQLITE_DONE)
                st = cb_sql_fail(idx->db, "removing vanished files");
        }
        sqlite3_finalize(items);
        sqlite3_finalize(q);
        q = NULL;
    }
    int64_t generation = idx->generation;
    if (st == CEREBRO_OK && (n_gone > 0 || moved > 0))
        st = cb_index_commit(idx, old_items, n_old, NULL, NULL, 0);
    else
        cb_sql_rollback(idx->db); /* nothing changed, or failed */
    if (idx->generation != generation) { /* counted once committed */
        j->stats.updated += moved;
        j->stats.removed += n_gone;
        j->done += moved;
    }
done:
    free(gone);
    free(vanished);
    free(old_items);
    return st;
}

/* ---- encoding and committing ------------------------------------------------ */

typedef struct encode_job {
    add_job *j;
    candidate **items; /* the candidates still to encode */
    size_t n;
    size_t commit_every;
    struct pending *t; /* the transaction consume_batch keeps open */
} encode_job;

static cerebro_status prepare_candidate(void *user, size_t i, float *tensor, char *msg, size_t cap)
{
    encode_job *e = user;
    candidate *c = e->items[i];
    uint8_t *data = NULL;
    size_t size = 0;
    cerebro_image *img = NULL;
    cerebro_status st = cb_read_file(c->path, e->j->iopts.max_file_bytes, &data, &size);

    if (st == CEREBRO_OK && (st = cb_sha256(data, size, c->hash)) != CEREBRO_OK)
        cb_error_prefix(c->path);
    if (st == CEREBRO_OK) {
        if (c->has_old_hash && memcmp(c->hash, c->old_hash, 32) == 0) {
            free(data);
            return CB_ITEM_UNCHANGED; /* touched, not changed */
        }
        st = cb_image_decode(data, size, c->path, &e->j->params, &img);
    }
    free(data);
    if (st == CEREBRO_OK) {
        c->width = img->full_width;
        c->height = img->full_height;
        st = cerebro_image_preprocess(img, &e->j->iopts, tensor);
        if (st != CEREBRO_OK)
            cb_error_prefix(c->path);
    }
    cerebro_image_free(img);
    if (st != CEREBRO_OK)
        snprintf(msg, cap, "%s", cerebro_last_error());
    return st;
}

/* Statements one batch commit uses. */
typedef struct batch_sql {
    sqlite3_stmt *old_items, *del_items, *update_meta, *update_file, *insert_file, *insert_item;
} batch_sql;

/* A file touched but not changed (same bytes): only size and mtime move. */
#define SQL_UPDATE_META "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?"

static cerebro_status batch_sql_prepare(sqlite3 *db, batch_sql *b)
{
    cerebro_status st;
    memset(b, 0, sizeof *b);
    if ((st = cb_sql_prepare(db, CB_SQL_OLD_ITEMS, &b->old_items)) ||
        (st = cb_sql_prepare(db, CB_SQL_DEL_ITEMS, &b->del_items)) ||
        (st = cb_sql_prepare(db, SQL_UPDATE_META, &b->update_meta)) ||
        (st = cb_sql_prepare(db, CB_SQL_UPDATE_FILE, &b->update_file)) ||
        (st = cb_sql_prepare(db, CB_SQL_INSERT_FILE, &b->insert_file)) ||
        (st = cb_sql_prepare(db, CB_SQL_INSERT_ITEM, &b->insert_item)))
        return st;
    return CEREBRO_OK;
}

static void batch_sql_free(batch_sql *b)
{
    sqlite3_finalize(b->old_items);
    sqlite3_finalize(b->del_items);
    sqlite3_finalize(b->update_meta);
    sqlite3_finalize(b->update_file);
    sqlite3_finalize(b->insert_file);
    sqlite3_finalize(b->insert_item);
}

static int step_done(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE;
}

/* What a file's items are (files.kind). */
enum { KIND_IMAGE = 0, KIND_VIDEO = 1 };

/* A growable list of item ids. */
typedef struct id_list {
    int64_t *ids;
    size_t n, cap;
} id_list;

static int id_list_push(id_list *l, int64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *g = realloc(l->ids, cap * sizeof *g);
        if (!g)
            return -1;
        l->ids = g;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

/* The transaction consume_batch keeps open across batches: one commit (one
 * WAL sync, one ANN update, one round of progress reports) per commit_every
 * files or COMMIT_SECONDS, so SQLite stays off the pipeline's critical
 * path. */
struct pending {
    batch_sql b; /* prepared once per run */
    int prepared, open;
    size_t from, upto; /* items [from, upto) are written, not committed */
    double opened;     /* cb_now() at BEGIN */
    int64_t generation;
    id_list old;       /* the items the written files replace */
    int64_t *new_ids;  /* the new items, one per vector */
    float *vectors;
    size_t n_new, cap_new;
    cerebro_add_stats n; /* counted into the job's stats once committed */
};
typedef struct pending pending;

/* Writes one file's outcome: its row (new or updated) and its n vectors
 * (times: their timestamps, NULL for a still image). The ids of the items
 * it replaces go to `old`, the new ones to new_ids[n]. */
static cerebro_status write_file(add_job *j, batch_sql *b, candidate *c, cerebro_status status,
                                 const char *message, const float *vecs, const double *times, size_t n,
                                 id_list *old, int64_t *new_ids)
{
    sqlite3 *db = j->idx->db;
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *q;

    if (c->file_id >= 0) {
        sqlite3_bind_int64(b->old_items, 1, c->file_id);
        int rc;
        while ((rc = sqlite3_step(b->old_items)) == SQLITE_ROW) {
            if (id_list_push(old, sqlite3_column_int64(b->old_items, 0)) != 0) {
                sqlite3_reset(b->old_items);
                return cb_fail(CEREBRO_E_NOMEM, "out of memory");
            }
        }
        if (rc != SQLITE_DONE) {
            cerebro_status st = cb_sql_fail(db, c->path);
            sqlite3_reset(b->old_items);
            return st;
        }
        sqlite3_reset(b->old_items);
        sqlite3_bind_int64(b->del_items, 1, c->file_id);
        if (!step_done(b->del_items))
            return cb_sql_fail(db, c->path);
        q = b->update_file;
        sqlite3_bind_int64(q, 1, c->file_id);
    } else {
        q = b->insert_file;
        sqlite3_bind_text(q, 1, c->path, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(q, 2, c->size);
    sqlite3_bind_int64(q, 3, c->mtime_ns);
    if (status == CEREBRO_OK || c->hash[0] || c->hash[1])
        sqlite3_bind_blob(q, 4, c->hash, 32, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 4);
    sqlite3_bind_int(q, 5, (int)c->width);
    sqlite3_bind_int(q, 6, (int)c->height);
    sqlite3_bind_int(q, 7, status);
    if (status == CEREBRO_OK)
        sqlite3_bind_null(q, 8);
    else
        sqlite3_bind_text(q, 8, message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 9, now);
    sqlite3_bind_int(q, 10, c->video ? KIND_VIDEO : KIND_IMAGE);
    if (!step_done(q))
        return cb_sql_fail(db, c->path);
    sqlite3_clear_bindings(q);
    if (c->file_id < 0)
        c->file_id = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(b->insert_item, 1, c->file_id);
        sqlite3_bind_double(b->insert_item, 2, times ? times[i] : -1.0);
        sqlite3_bind_blob(b->insert_item, 3, vecs + i * j->idx->dim, (int)(j->idx->dim * sizeof(float)),
                          SQLITE_TRANSIENT);
        if (!step_done(b->insert_item))
            return cb_sql_fail(db, c->path);
        new_ids[i] = sqlite3_last_insert_rowid(db);
    }
    return CEREBRO_OK;
}

static void pending_forget(encode_job *e)
{
    pending *t = e->t;
    for (size_t i = t->from; i < t->upto; i++) {
        free(e->items[i]->error);
        e->items[i]->error = NULL;
    }
    t->open = 0;
    t->from = t->upto = 0;
    t->old.n = 0;
    t->n_new = 0;
    memset(&t->n, 0, sizeof t->n);
}

/* Takes back an open transaction (a failure, or the run stopped). */
static void pending_rollback(encode_job *e)
{
    if (e->t->open)
        cb_sql_rollback(e->j->idx->db);
    pending_forget(e);
}

static void pending_free(encode_job *e)
{
    pending_rollback(e);
    if (e->t->prepared)
        batch_sql_free(&e->t->b);
    free(e->t->old.ids);
    free(e->t->new_ids);
    free(e->t->vectors);
}

static int pending_reserve(pending *t, size_t n, uint32_t dim)
{
    if (n <= t->cap_new)
        return 0;
    size_t cap = t->cap_new ? t->cap_new : 64;
    while (cap < n)
        cap *= 2;
    int64_t *ids = realloc(t->new_ids, cap * sizeof *ids);
    if (ids)
        t->new_ids = ids;
    float *v = ids ? realloc(t->vectors, cap * dim * sizeof *v) : NULL;
    if (!v)
        return -1;
    t->vectors = v;
    t->cap_new = cap;
    return 0;
}

/* Commits the open transaction, then reports each of its files. */
static cerebro_status pending_commit(encode_job *e)
{
    pending *t = e->t;
    add_job *j = e->j;
    cerebro_index *idx = j->idx;
    cerebro_status st = cb_index_commit(idx, t->old.ids, t->old.n, t->vectors, t->new_ids, t->n_new);
    size_t upto = t->upto;

    t->open = 0; /* committed, or rolled back by cb_index_commit */
    if (idx->generation == t->generation) {
        pending_forget(e);
        return st; /* not committed */
    }
    j->stats.added += t->n.added;
    j->stats.updated += t->n.updated;
    j->stats.skipped += t->n.skipped;
    j->stats.failed += t->n.failed;
    /* Committed (even if the ANN then failed): report every file of it,
     * keeping the error for the caller whatever the callback calls. */
    char *error = st != CEREBRO_OK ? strdup(cerebro_last_error()) : NULL;
    for (size_t i = t->from; i < upto; i++) {
        const candidate *c = e->items[i];
        j->done++;
        progress(j, c->path, c->outcome, c->outcome != CEREBRO_OK ? (c->error ? c->error : "failed") : NULL);
    }
    if (error)
        cb_fail(st, "%s", error);
    free(error);
    pending_forget(e);
    /* A request to cancel during the last batch comes too late to matter,
     * unless videos follow. */
    if (st == CEREBRO_OK && j->cancelled && (upto < e->n || j->n_videos > 0))
        st = cb_fail(CEREBRO_E_CANCELLED, "indexing cancelled by the progress callback after %llu files",
                     (unsigned long long)j->done);
    return st;
}

/* Writes one batch into the open transaction (opening one if needed, after
 * committing the open one if the batch would take it past commit_every
 * files) and commits it when it holds commit_every files, is COMMIT_SECONDS
 * old, or the batch is the last one. */
static cerebro_status consume_batch(void *user, size_t start, size_t count, const float *emb,
                                    const cerebro_status *status,
                                    const char (*msg)[CB_PIPELINE_MSG_CAP])
{
    encode_job *e = user;
    pending *t = e->t;
    add_job *j = e->j;
    cerebro_index *idx = j->idx;
    uint32_t dim = idx->dim;
    cerebro_status st = CEREBRO_OK;

    if (!t->prepared) {
        if ((st = batch_sql_prepare(idx->db, &t->b)) != CEREBRO_OK) {
            batch_sql_free(&t->b);
            return st;
        }
        t->prepared = 1;
    }
    /* A transaction never holds more than commit_every files. */
    if (t->open && t->upto - t->from + count > e->commit_every && (st = pending_commit(e)) != CEREBRO_OK)
        return st;
    if (!t->open) {
        if ((st = cb_sql_exec(idx->db, "BEGIN IMMEDIATE")) != CEREBRO_OK)
            return st;
        t->open = 1;
        t->from = t->upto = start;
        t->opened = cb_now();
        t->generation = idx->generation;
    }
    if (pending_reserve(t, t->n_new + count, dim) != 0) {
        st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < count && st == CEREBRO_OK; i++) {
        candidate *c = e->items[start + i];
        t->upto = start + i + 1;
        c->outcome = status[i] == CB_ITEM_UNCHANGED ? CEREBRO_OK : status[i];
        if (status[i] == CB_ITEM_UNCHANGED) {
            sqlite3_bind_int64(t->b.update_meta, 1, c->size);
            sqlite3_bind_int64(t->b.update_meta, 2, c->mtime_ns);
            sqlite3_bind_int64(t->b.update_meta, 3, c->file_id);
            if (!step_done(t->b.update_meta))
                st = cb_sql_fail(idx->db, c->path);
            t->n.skipped++;
            continue;
        }
        int existed = c->file_id >= 0, ok = status[i] == CEREBRO_OK;
        if (!ok)
            c->error = strdup(msg[i]);
        st = write_file(j, &t->b, c, status[i], msg[i], emb + i * dim, NULL, ok ? 1 : 0, &t->old,
                        t->new_ids + t->n_new);
        if (st == CEREBRO_OK && ok) {
            memcpy(t->vectors + t->n_new * dim, emb + i * dim, dim * sizeof(float));
            t->n_new++;
            if (existed)
                t->n.updated++;
            else
                t->n.added++;
        } else if (st == CEREBRO_OK) {
            t->n.failed++;
        }
    }
    if (st != CEREBRO_OK)
        goto fail;
    if (t->upto - t->from >= e->commit_every || t->upto == e->n || cb_now() - t->opened >= COMMIT_SECONDS)
        return pending_commit(e);
    return CEREBRO_OK;
fail:
    pending_rollback(e);
    return st;
}

/* ---- videos ------------------------------------------------------------------ */

/* Commits one video: its file row and every kept frame, replacing what the
 * store had for it, in one transaction. */
static cerebro_status commit_video(add_job *j, candidate *c, cerebro_status status, const char *message,
                                   const cb_frames *f)
{
    cerebro_index *idx = j->idx;
    batch_sql b;
    id_list old = {NULL, 0, 0};
    int64_t *new_ids = malloc((f->n ? f->n : 1) * sizeof *new_ids);
    cerebro_status st;

    if (!new_ids)
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    if ((st = cb_sql_exec(idx->db, "BEGIN IMMEDIATE")) != CEREBRO_OK) {
        free(new_ids);
        return st;
    }
    if ((st = batch_sql_prepare(idx->db, &b)) == CEREBRO_OK)
        st = write_file(j, &b, c, status, message, f->vectors, f->times, f->n, &old, new_ids);
    batch_sql_free(&b);
    if (st == CEREBRO_OK)
        st = cb_index_commit(idx, old.ids, old.n, f->vectors, new_ids, f->n);
    else
        cb_sql_rollback(idx->db);
    free(old.ids);
    free(new_ids);
    return st;
}

/* A video touched but not changed: SQL_UPDATE_META outside a batch. */
static cerebro_status touch_file(add_job *j, const candidate *c)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(j->idx->db, SQL_UPDATE_META, &q);
    if (st != CEREBRO_OK)
        return st;
    sqlite3_bind_int64(q, 1, c->size);
    sqlite3_bind_int64(q, 2, c->mtime_ns);
    sqlite3_bind_int64(q, 3, c->file_id);
    if (sqlite3_step(q) != SQLITE_DONE)
        st = cb_sql_fail(j->idx->db, c->path);
    sqlite3_finalize(q);
    return st;
}

/* The interim report while a video decodes: the caller may cancel it. */
typedef struct video_tick {
    add_job *j;
    const char *path;
} video_tick;

static int on_video_tick(void *user)
{
    video_tick *t = user;
    report(t->j, t->path, CEREBRO_OK, NULL, 1);
    return t->j->cancelled;
}

static cerebro_status index_video(add_job *j, candidate *c, const cb_frame_options *shared)
{
    cb_frame_options own = *shared;
    const cb_frame_options *fo = &own;
    video_tick tick = {j, c->path};
    cb_frames f;
    char message[CB_PIPELINE_MSG_CAP] = "";
    cerebro_status st, item;
    int existed = c->file_id >= 0;

    memset(&f, 0, sizeof f);
    item = cb_sha256_file(c->path, c->hash); /* streamed: videos outgrow any limit */
    if (item == CEREBRO_OK && c->has_old_hash && memcmp(c->hash, c->old_hash, 32) == 0) {
        if ((st = touch_file(j, c)) != CEREBRO_OK)
            return st;
        j->stats.skipped++;
        j->done++;
        progress(j, c->path, CEREBRO_OK, NULL);
        return CEREBRO_OK;
    }
    own.tick = on_video_tick;
    own.tick_user = &tick;
    if (item == CEREBRO_OK)
        item = cb_frames_encode(j->idx->model, c->path, &j->iopts, fo, &f);
    if (item == CEREBRO_E_MODEL || item == CEREBRO_E_NOMEM || item == CEREBRO_E_CANCELLED) {
        cb_frames_free(&f);
        return item; /* the run cannot go on, as for images; or it was cancelled */
    }
    if (item != CEREBRO_OK) {
        char at[32];
        snprintf(message, sizeof message, "%s", cerebro_last_error());
        if (f.n > 0) {
            size_t len = strlen(message);
            cb_video_format_time(f.times[f.n - 1], at, sizeof at);
            snprintf(message + len, sizeof message - len, " (kept %zu frames up to %s)", f.n, at);
        }
    }
    c->width = f.width;
    c->height = f.height;
    int64_t generation = j->idx->generation;
    st = commit_video(j, c, item, message, &f);
    if (j->idx->generation != generation) { /* committed, even if the ANN then failed */
        char *error = st != CEREBRO_OK ? strdup(cerebro_last_error()) : NULL;
        j->stats.frames += f.n;
        if (item != CEREBRO_OK)
            j->stats.failed++;
        else if (existed)
            j->stats.updated++;
        else
            j->stats.added++;
        j->done++;
        progress(j, c->path, item, item != CEREBRO_OK ? message : NULL);
        if (error)
            cb_fail(st, "%s", error);
        free(error);
    }
    cb_frames_free(&f);
    return st;
}

/* Each video in turn, after the images: a video's frames are decoded in
 * order by one decoder (using the decode threads), at most a batch of them
 * preprocessed at a time. */
static cerebro_status index_videos(add_job *j, candidate **videos, size_t n, size_t batch)
{
    cb_frame_options fo;
    cerebro_status st = CEREBRO_OK;
    uint32_t threads = j->opts->n_workers ? j->opts->n_workers : cb_online_cpus();

    cb_frame_options_from(j->opts, (uint32_t)batch, threads, &fo);
    for (size_t i = 0; i < n && st == CEREBRO_OK; i++) {
        if (j->cancelled)
            return cb_fail(CEREBRO_E_CANCELLED, "indexing cancelled by the progress callback after %llu files",
                           (unsigned long long)j->done);
        st = index_video(j, videos[i], &fo);
    }
    return st;
}

const char *const *cb_add_exclude(const cerebro_add_options *o, size_t *n)
{
    *n = o->version >= 2 ? o->n_exclude : 0;
    return *n ? o->exclude : NULL;
}

cerebro_status cb_check_add_options(const cerebro_add_options *o)
{
    if (o->version < 1 || o->version > CEREBRO_ADD_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "add options: unknown version %u", o->version);
    if (o->flags & ~(CEREBRO_ADD_NO_RECURSE | CEREBRO_ADD_HIDDEN | CEREBRO_ADD_FOLLOW_SYMLINKS |
                     CEREBRO_ADD_NO_VIDEO))
        return cb_fail(CEREBRO_E_INVALID, "add options: unknown flags 0x%x", o->flags);
    if (o->mode > CEREBRO_PREPROCESS_FAST)
        return cb_fail(CEREBRO_E_INVALID, "add options: unknown preprocess mode %u", o->mode);
    if (!(o->frame_interval >= 0 && o->frame_interval <= 1e9) ||
        !(o->file_time_limit >= 0 && o->file_time_limit <= 1e9))
        return cb_fail(CEREBRO_E_INVALID, "add options: frame_interval %g / file_time_limit %g must be "
                       "seconds >= 0", o->frame_interval, o->file_time_limit);
    if (!(o->scene_threshold >= 0 && o->scene_threshold <= 1) ||
        !(o->dedup_threshold >= 0 && o->dedup_threshold <= 1))
        return cb_fail(CEREBRO_E_INVALID, "add options: scene_threshold %g / dedup_threshold %g must be "
                       "in [0, 1]", (double)o->scene_threshold, (double)o->dedup_threshold);
    if (o->batch_size > MAX_BATCH || o->commit_every > 100000)
        return cb_fail(CEREBRO_E_LIMIT, "add options: batch_size %u / commit_every %u too large",
                       o->batch_size, o->commit_every);
    if (o->version >= 2) {
        if (o->n_exclude > MAX_EXCLUDE)
            return cb_fail(CEREBRO_E_LIMIT, "add options: %zu exclude patterns (at most %d)", o->n_exclude,
                           MAX_EXCLUDE);
        if (o->n_exclude && !o->exclude)
            return cb_fail(CEREBRO_E_INVALID, "add options: exclude is NULL with n_exclude %zu", o->n_exclude);
        for (size_t i = 0; i < o->n_exclude; i++) {
            if (!o->exclude[i] || !o->exclude[i][0])
                return cb_fail(CEREBRO_E_INVALID, "add options: exclude[%zu] is %s", i,
                               o->exclude[i] ? "empty" : "NULL");
            if (strnlen(o->exclude[i], MAX_PATTERN) >= MAX_PATTERN)
                return cb_fail(CEREBRO_E_LIMIT, "add options: exclude[%zu] is %d bytes or longer", i,
                               MAX_PATTERN);
        }
    }
    return CEREBRO_OK;
}

/* Re-chooses the structure when the collection crossed a size threshold
 * (the factory part: the search parameter is the tuner's), else retunes it
 * when the collection changed enough since it was tuned. */
cerebro_status cb_index_restructure(cerebro_index *idx)
{
    char want[128];
    const char *have;
    cerebro_status st = CEREBRO_OK;
    int rebuilt = 0, same = 1;
    if (!idx->factory[0]) {
        pthread_rwlock_wrlock(&idx->state_lock);
        cb_ann_choose(cb_ann_count(idx->ann), idx->dim, idx->memory_budget, want, sizeof want);
        have = cb_ann_structure(idx->ann);
        same = cb_structure_same_factory(want, have) || cb_index_exact_stands_for(idx, have, want);
        if (!same) {
            st = cb_index_rebuild_ann(idx, idx->db);
            rebuilt = st == CEREBRO_OK;
        }
        pthread_rwlock_unlock(&idx->state_lock);
    }
    if (rebuilt)
        idx->saved_generation = -1; /* the file must follow the new structure */
    if (same)
        st = cb_index_retune_ann(idx, 0);
    return st;
}

static cerebro_status run_add(add_job *j, const char *const *paths, size_t n)
{
    cerebro_index *idx = j->idx;
    cb_walk w = {j->opts->flags, on_file, on_walk_error, j, NULL, 0, 0};
    w.exclude = cb_add_exclude(j->opts, &w.n_exclude);
    char **roots = calloc(n ? n : 1, sizeof *roots);
    cerebro_status st = CEREBRO_OK, root_st = CEREBRO_OK;
    size_t visited = 0;

    if (!roots)
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == CEREBRO_OK; i++) {
        if (!paths[i]) {
            st = cb_fail(CEREBRO_E_INVALID, "cerebro_index_add: paths[%zu] is NULL", i);
            break;
        }
        /* A root that cannot be reached (an unmounted drive, a typo) keeps
         * its indexed files: only what a walk could have seen may vanish. */
        struct stat rs;
        if (cb_absolute_path(paths[i], &roots[i]) == CEREBRO_OK && stat(roots[i], &rs) == 0)
            st = load_known(j, roots[i]);
    }
    finish_known(j);
    for (size_t i = 0; i < n && st == CEREBRO_OK; i++) {
        cerebro_status s = cb_walk_root(&w, paths[i], NULL);
        if (s == CEREBRO_OK) {
            visited++;
            continue;
        }
        root_st = s;
        on_walk_error(j, paths[i], s, cerebro_last_error());
    }
    dedupe_candidates(j);
    if (st == CEREBRO_OK)
        st = settle_vanished(j);
    if (st == CEREBRO_OK) {
        pending t;
        memset(&t, 0, sizeof t);
        encode_job e = {j, malloc((j->n_cand ? j->n_cand : 1) * sizeof(candidate *)), 0, 0, &t};
        size_t m = 0;
        if (!e.items) {
            st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
        } else {
            /* Images first, through the pipeline; the videos after them. */
            for (size_t i = 0; i < j->n_cand; i++)
                if (j->cand[i].file_id != -2 && !j->cand[i].video)
                    e.items[m++] = &j->cand[i];
            e.n = m;
            for (size_t i = 0; i < j->n_cand; i++)
                if (j->cand[i].file_id != -2 && j->cand[i].video)
                    e.items[m + j->n_videos++] = &j->cand[i];
            size_t batch = j->opts->batch_size ? j->opts->batch_size : DEFAULT_BATCH;
            size_t commit = j->opts->commit_every ? j->opts->commit_every : DEFAULT_COMMIT;
            e.commit_every = commit;
            cb_pipeline p = {idx->model,
                             m,
                             batch < commit ? batch : commit,
                             j->opts->n_workers ? j->opts->n_workers : cb_online_cpus(),
                             prepare_candidate,
                             consume_batch,
                             &e};
            progress(j, NULL, CEREBRO_OK, NULL);
            if (!j->cancelled)
                st = e.n > 0 ? cb_pipeline_run(&p) : CEREBRO_OK;
            else
                st = cb_fail(CEREBRO_E_CANCELLED, "indexing cancelled by the progress callback");
            pending_free(&e); /* after a failure: what was not committed goes */
            if (st == CEREBRO_OK)
                st = index_videos(j, e.items + e.n, j->n_videos, p.batch);
            free(e.items);
        }
    }
    cerebro_status saved = st;
    if (st == CEREBRO_OK || st == CEREBRO_E_CANCELLED) {
        /* What was committed is kept and persisted, cancelled or not. */
        cerebro_status s2 = cb_index_restructure(idx);
        if (s2 == CEREBRO_OK)
            s2 = cb_index_save_ann(idx);
        if (st == CEREBRO_OK)
            st = s2;
        else
            cb_fail(saved, "indexing cancelled by the progress callback after %llu files",
                    (unsigned long long)j->done);
    }
    if (st == CEREBRO_OK && visited == 0 && n > 0)
        st = cb_fail(root_st, "nothing to index: none of the %zu paths could be read", n);
    for (size_t i = 0; i < n; i++)
        free(roots[i]);
    free(roots);
    return st;
}

cerebro_status cerebro_index_add(cerebro_index *idx, const char *const *paths, size_t n,
                                 const cerebro_add_options *opts, cerebro_add_stats *stats)
{
    cerebro_add_options defaults;
    add_job j;
    cerebro_status st;

    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->version = 1;
    }
    if (!idx || (!paths && n))
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_add: NULL argument");
    if (idx->readonly)
        return cb_fail(CEREBRO_E_INVALID, "%s: index opened read-only", idx->dir);
    if (!opts) {
        cerebro_add_options_init(&defaults);
        opts = &defaults;
    }
    if ((st = cb_check_add_options(opts)) != CEREBRO_OK)
        return st;
    memset(&j, 0, sizeof j);
    j.idx = idx;
    j.opts = opts;
    j.stats.version = 1;
    cerebro_model_image_options(idx->model, &j.iopts);
    j.iopts.mode = opts->mode;
    if ((st = cb_decode_params_from(&j.iopts, opts->mode == CEREBRO_PREPROCESS_FAST, &j.params)) != CEREBRO_OK)
        return st;
    pthread_mutex_lock(&idx->write_lock);
    st = run_add(&j, paths, n);
    pthread_mutex_unlock(&idx->write_lock);
    for (size_t i = 0; i < j.n_known; i++)
        free(j.known[i].path);
    for (size_t i = 0; i < j.n_cand; i++)
        free(j.cand[i].path);
    free(j.known);
    free(j.cand);
    if (stats)
        *stats = j.stats;
    return st;
}
