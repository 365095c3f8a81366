/* k-NN search by text, image, vector or item, and the results handle. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "index/store.h"
#include "index/walk.h"
#include "model/model.h"
#include "model/pipeline.h"

struct cerebro_results {
    size_t n;
    cerebro_hit *hits;
    float *relevance; /* per hit; NULL: none computed (all NAN) */
    char *strings; /* the hits' paths, NUL-separated */
};

size_t cerebro_results_count(const cerebro_results *r)
{
    return r ? r->n : 0;
}

cerebro_status cerebro_results_get(const cerebro_results *r, size_t i, cerebro_hit *hit)
{
    if (!r || !hit)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_results_get: NULL argument");
    if (i >= r->n)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_results_get: index %zu of %zu results", i, r->n);
    *hit = r->hits[i];
    return CEREBRO_OK;
}

float cerebro_results_relevance(const cerebro_results *r, size_t i)
{
    if (!r || i >= r->n || !r->relevance)
        return NAN;
    return r->relevance[i];
}

void cerebro_results_free(cerebro_results *r)
{
    if (!r)
        return;
    free(r->hits);
    free(r->relevance);
    free(r->strings);
    free(r);
}

cerebro_status cb_results_lookup(sqlite3 *db, const int64_t *ids, const float *scores, size_t n,
                                 int64_t exclude, cerebro_results **out)
{
    sqlite3_stmt *q = NULL;
    cerebro_results *r = calloc(1, sizeof *r);
    size_t used = 0, cap = 0, *offsets = NULL;
    cerebro_status st;

    *out = NULL;
    if (!r || !(r->hits = calloc(n ? n : 1, sizeof *r->hits)) ||
        !(offsets = calloc(n ? n : 1, sizeof *offsets))) {
        cerebro_results_free(r);
        free(offsets);
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory for %zu results", n);
    }
    st = cb_sql_prepare(db, "SELECT files.path, files.width, files.height, items.timestamp, files.kind "
                            "FROM items JOIN files ON files.id = items.file_id WHERE items.id = ?",
                        &q);
    for (size_t i = 0; st == CEREBRO_OK && i < n; i++) {
        if (ids[i] < 0 || ids[i] == exclude)
            continue;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, ids[i]);
        if (sqlite3_step(q) != SQLITE_ROW)
            continue; /* removed since the ANN was built: not a result */
        const char *path = (const char *)sqlite3_column_text(q, 0);
        size_t len = strlen(path) + 1;
        if (used + len > cap) {
            size_t ncap = (cap + len) * 2;
            char *g = realloc(r->strings, ncap);
            if (!g) {
                st = cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
                break;
            }
            r->strings = g;
            cap = ncap;
        }
        memcpy(r->strings + used, path, len);
        cerebro_hit *h = &r->hits[r->n];
        h->id = ids[i];
        h->score = scores ? scores[i] : 1.0f;
        h->width = (uint32_t)sqlite3_column_int(q, 1);
        h->height = (uint32_t)sqlite3_column_int(q, 2);
        h->timestamp = sqlite3_column_double(q, 3);
        h->kind = sqlite3_column_int(q, 4) == CEREBRO_ITEM_VIDEO_FRAME ? CEREBRO_ITEM_VIDEO_FRAME
                                                                      : CEREBRO_ITEM_IMAGE;
        offsets[r->n++] = used;
        used += len;
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < r->n; i++)
        r->hits[i].path = r->strings + offsets[i];
    free(offsets);
    if (st != CEREBRO_OK) {
        cerebro_results_free(r);
        return st;
    }
    *out = r;
    return CEREBRO_OK;
}

static cerebro_status check_search_options(const cerebro_search_options *o, uint32_t *k)
{
    if (o->version < 1 || o->version > CEREBRO_SEARCH_OPTIONS_VERSION)
        return cb_fail(CEREBRO_E_INVALID, "search options: unknown version %u", o->version);
    *k = o->k ? o->k : 10;
    if (o->version >= 2 && isnan(o->min_relevance))
        return cb_fail(CEREBRO_E_INVALID, "search options: min_relevance is not a number");
    if (*k > CEREBRO_MAX_K)
        return cb_fail(CEREBRO_E_LIMIT, "search: k = %u is over the limit of %d", *k, CEREBRO_MAX_K);
    return CEREBRO_OK;
}

/* Ids of the items under a path prefix, ascending: the range
 * [prefix, prefix with its last byte incremented) of the path index. */
static cerebro_status prefix_ids(sqlite3 *db, const char *prefix, int64_t **ids, size_t *n)
{
    sqlite3_stmt *q;
    size_t len = strlen(prefix), cap = 0;
    char *upper = malloc(len + 1);
    cerebro_status st;

    *ids = NULL;
    *n = 0;
    if (!upper)
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    memcpy(upper, prefix, len + 1);
    while (len > 0 && (unsigned char)upper[len - 1] == 0xff)
        upper[--len] = '\0';
    int unbounded = len == 0;
    if (!unbounded)
        upper[len - 1] = (char)((unsigned char)upper[len - 1] + 1);
    st = cb_sql_prepare(db, unbounded ? "SELECT items.id FROM items JOIN files ON files.id = items.file_id "
                                        "WHERE files.path >= ?1 ORDER BY items.id"
                                      : "SELECT items.id FROM items JOIN files ON files.id = items.file_id "
                                        "WHERE files.path >= ?1 AND files.path < ?2 ORDER BY items.id",
                        &q);
    if (st == CEREBRO_OK) {
        sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
        if (!unbounded)
            sqlite3_bind_text(q, 2, upper, -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (*n == cap) {
                int64_t *g = realloc(*ids, (cap = cap ? cap * 2 : 256) * sizeof **ids);
                if (!g) {
                    st = cb_fail(CEREBRO_E_NOMEM, "out of memory");
                    break;
                }
                *ids = g;
            }
            (*ids)[(*n)++] = sqlite3_column_int64(q, 0);
        }
        if (st == CEREBRO_OK && rc != SQLITE_DONE)
            st = cb_sql_fail(db, prefix);
        sqlite3_finalize(q);
    }
    free(upper);
    return st;
}

/* The prefix as stored paths spell it: absolute, so "safari/2024/" given
 * from the collection's parent folder matches. A trailing slash is kept.
 * Folders that no longer exist cannot be resolved, yet the store may still
 * hold files from them: such a prefix is joined to the current folder as
 * written. NULL only when out of memory. */
static char *prefix_key(const char *prefix)
{
    size_t len = strlen(prefix);
    char *abs, *out, cwd[PATH_MAX];
    if (prefix[0] == '/' || len == 0)
        return strdup(prefix);
    if (cb_absolute_path(prefix, &abs) != CEREBRO_OK) {
        if (!getcwd(cwd, sizeof cwd))
            snprintf(cwd, sizeof cwd, "%s", "."); /* matches nothing stored: no results */
        if ((out = malloc(strlen(cwd) + len + 2)))
            sprintf(out, "%s/%s", cwd, prefix);
        return out;
    }
    if (prefix[len - 1] != '/')
        return abs;
    out = malloc(strlen(abs) + 2);
    if (out)
        sprintf(out, "%s/", abs);
    free(abs);
    return out;
}

/* Gives every hit its relevance (relevance.c) and, when min > 0, drops the
 * hits below it. Hits of a store too small to have a background keep NAN
 * and are never dropped. ranked: the items the search chose among (those
 * under a prefix; 0 = the whole store). */
static cerebro_status apply_relevance(cerebro_index *idx, sqlite3 *db, const float *query, float min,
                                      uint64_t ranked, cerebro_results *r)
{
    double mean, sd;
    cerebro_status st;
    size_t kept = 0;

    if (r->n == 0)
        return CEREBRO_OK;
    if (!(r->relevance = malloc(r->n * sizeof *r->relevance)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
    if ((st = cb_background(idx, db, query, ranked, &mean, &sd)) != CEREBRO_OK)
        return st;
    for (size_t i = 0; i < r->n; i++)
        r->relevance[i] = sd > 0 ? (float)((r->hits[i].score - mean) / sd) : NAN;
    if (!(min > 0))
        return CEREBRO_OK;
    for (size_t i = 0; i < r->n; i++) {
        if (r->relevance[i] < min) /* false for NAN */
            continue;
        r->hits[kept] = r->hits[i];
        r->relevance[kept++] = r->relevance[i];
    }
    r->n = kept;
    return CEREBRO_OK;
}

/* Searches with a normalised query vector. exclude: an item id to leave out
 * (search by id), or -1. */
static cerebro_status search(cerebro_index *idx, const float *query, const cerebro_search_options *opts,
                             int64_t exclude, cerebro_results **out)
{
    cerebro_search_options defaults;
    sqlite3 *db = NULL;
    int64_t *allowed = NULL, *ids = NULL;
    float *scores = NULL;
    size_t n_allowed = 0;
    uint32_t k = 10;
    cerebro_status st;

    if (!opts) {
        cerebro_search_options_init(&defaults);
        opts = &defaults;
    }
    if ((st = check_search_options(opts, &k)) != CEREBRO_OK)
        return st;
    uint32_t want = k + (exclude >= 0);
    ids = malloc(want * sizeof *ids);
    scores = malloc(want * sizeof *scores);
    if (!ids || !scores) {
        st = cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
        goto done;
    }
    if ((st = cb_index_reader(idx, &db)) != CEREBRO_OK)
        goto done;
    pthread_rwlock_rdlock(&idx->state_lock);
    /* One read transaction: the lookups see the state the ANN reflects. */
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (opts->prefix) {
        char *key = prefix_key(opts->prefix);
        st = key ? prefix_ids(db, key, &allowed, &n_allowed)
                 : cb_fail(CEREBRO_E_NOMEM, "search: out of memory for the prefix");
        free(key);
    }
    if (st == CEREBRO_OK) {
        cb_ann_filter filter = {allowed, n_allowed};
        if (opts->prefix && n_allowed == 0)
            st = cb_results_lookup(db, ids, scores, 0, exclude, out);
        else if ((st = cb_ann_search(idx->ann, query, 1, want, opts->prefix ? &filter : NULL, scores,
                                     ids)) == CEREBRO_OK)
            st = cb_results_lookup(db, ids, scores, want, exclude, out);
        /* Searching by id asked for one extra hit; drop it if the item
         * itself was not among them. */
        if (st == CEREBRO_OK && (*out)->n > k)
            (*out)->n = k;
        if (st == CEREBRO_OK)
            st = apply_relevance(idx, db, query, opts->version >= 2 ? opts->min_relevance : 0,
                                 opts->prefix ? n_allowed : 0, *out);
        if (st != CEREBRO_OK) {
            cerebro_results_free(*out);
            *out = NULL;
        }
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    pthread_rwlock_unlock(&idx->state_lock);
    cb_index_reader_done(idx, db);
done:
    free(allowed);
    free(ids);
    free(scores);
    return st;
}

cerebro_status cerebro_index_search_vector(cerebro_index *idx, const float *vector,
                                           const cerebro_search_options *opts, cerebro_results **out)
{
    float *q;
    cerebro_status st;

    if (out)
        *out = NULL;
    if (!idx || !vector || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_search_vector: NULL argument");
    if (!(q = malloc(idx->dim * sizeof *q)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
    memcpy(q, vector, idx->dim * sizeof *q);
    cb_normalize_rows(q, 1, idx->dim);
    st = search(idx, q, opts, -1, out);
    free(q);
    return st;
}

cerebro_status cerebro_index_search_text(cerebro_index *idx, const char *text,
                                         const cerebro_search_options *opts, cerebro_results **out)
{
    float *q;
    cerebro_status st;

    if (out)
        *out = NULL;
    if (!idx || !text || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_search_text: NULL argument");
    if (!(q = malloc(idx->dim * sizeof *q)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
    st = cerebro_model_encode_text(idx->model, &text, 1, q);
    if (st == CEREBRO_OK)
        st = search(idx, q, opts, -1, out);
    free(q);
    return st;
}

/* Keeps the message the batch encoder reports for a failed file. */
static void keep_message(void *user, size_t index, cerebro_status status, const char *message)
{
    CB_UNUSED(index);
    CB_UNUSED(status);
    snprintf(user, CB_PIPELINE_MSG_CAP, "%s", message);
}

static cerebro_status search_encoded_image(cerebro_index *idx, const void *data, size_t size,
                                           const char *path, const cerebro_search_options *opts,
                                           cerebro_results **out)
{
    cerebro_encode_options eo;
    char message[CB_PIPELINE_MSG_CAP] = "";
    float *q;
    cerebro_status st, item = CEREBRO_OK;

    if (!(q = malloc(idx->dim * sizeof *q)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
    cerebro_encode_options_init(&eo);
    eo.on_error = keep_message;
    eo.user = message;
    if (path)
        st = cerebro_model_encode_image_files(idx->model, &path, 1, &eo, q, &item);
    else
        st = cerebro_model_encode_image_memory(idx->model, data, size, &eo, q);
    if (st == CEREBRO_OK && item != CEREBRO_OK)
        st = cb_fail(item, "%s", message);
    if (st == CEREBRO_OK)
        st = search(idx, q, opts, -1, out);
    free(q);
    return st;
}

cerebro_status cerebro_index_search_image_file(cerebro_index *idx, const char *path,
                                               const cerebro_search_options *opts, cerebro_results **out)
{
    if (out)
        *out = NULL;
    if (!idx || !path || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_search_image_file: NULL argument");
    return search_encoded_image(idx, NULL, 0, path, opts, out);
}

cerebro_status cerebro_index_search_image_memory(cerebro_index *idx, const void *data, size_t size,
                                                 const cerebro_search_options *opts,
                                                 cerebro_results **out)
{
    if (out)
        *out = NULL;
    if (!idx || !data || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_search_image_memory: NULL argument");
    return search_encoded_image(idx, data, size, NULL, opts, out);
}

/* The stored vector of an item, read in `db`. */
static cerebro_status item_vector(cerebro_index *idx, sqlite3 *db, int64_t id, float *out)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(db, "SELECT vector FROM items WHERE id = ?", &q);
    if (st != CEREBRO_OK)
        return st;
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) != SQLITE_ROW)
        st = cb_fail(CEREBRO_E_NOT_FOUND, "item %lld is not in the index", (long long)id);
    else if (sqlite3_column_bytes(q, 0) != (int)(idx->dim * sizeof(float)))
        st = cb_fail(CEREBRO_E_CORRUPT, "item %lld: stored vector has the wrong size", (long long)id);
    else
        memcpy(out, sqlite3_column_blob(q, 0), idx->dim * sizeof(float));
    sqlite3_finalize(q);
    return st;
}

cerebro_status cerebro_index_get_vector(cerebro_index *idx, int64_t id, float *out)
{
    sqlite3 *db;
    cerebro_status st;

    if (!idx || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_get_vector: NULL argument");
    if ((st = cb_index_reader(idx, &db)) != CEREBRO_OK)
        return st;
    st = item_vector(idx, db, id, out);
    cb_index_reader_done(idx, db);
    return st;
}

cerebro_status cerebro_index_search_id(cerebro_index *idx, int64_t id,
                                       const cerebro_search_options *opts, cerebro_results **out)
{
    float *q;
    cerebro_status st;

    if (out)
        *out = NULL;
    if (!idx || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_search_id: NULL argument");
    if (!(q = malloc(idx->dim * sizeof *q)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory");
    st = cerebro_index_get_vector(idx, id, q);
    if (st == CEREBRO_OK)
        st = search(idx, q, opts, id, out);
    free(q);
    return st;
}

cerebro_status cerebro_index_get(cerebro_index *idx, int64_t id, cerebro_results **out)
{
    sqlite3 *db;
    float one = 1.0f;
    cerebro_status st;

    if (out)
        *out = NULL;
    if (!idx || !out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_index_get: NULL argument");
    if ((st = cb_index_reader(idx, &db)) != CEREBRO_OK)
        return st;
    st = cb_results_lookup(db, &id, &one, 1, -1, out);
    cb_index_reader_done(idx, db);
    if (st == CEREBRO_OK && (*out)->n == 0) {
        cerebro_results_free(*out);
        *out = NULL;
        st = cb_fail(CEREBRO_E_NOT_FOUND, "item %lld is not in the index", (long long)id);
    }
    return st;
}
