/* Relevance: how far a hit's score stands above the query's own background.
 *
 * A cosine score means little on its own: one text query scores 0.30 against
 * everything, another 0.12 against its best match. What separates a match from
 * the rest is how far its score stands out of the scores the same query gets
 * against the whole collection. So a hit's relevance is the standard score
 *
 *     relevance = (score - mean) / sd
 *
 * where mean and sd are those of the query's scores over the store's vectors:
 * all of them in a store of up to CB_BACKGROUND_SAMPLE items (exact), a uniform
 * sample of that many in a larger one (ANN structures are then in use and
 * return only the top k; a sample of 4,096 puts the mean within sd/64 and sd
 * within about 1.1 % of their values over the whole store). Below
 * CB_BACKGROUND_MIN items the background is too small to say anything: no
 * relevance (NAN), no cutoff.
 *
 * The best of N unrelated items stands further out the more items there
 * are (with the default model, a nonsense query's best hit sits ~2.1 sd out
 * in a store of 50 items, ~2.9 in one of 18,000), so one threshold on the
 * bare standard score would hide real matches in a small store and let
 * nonsense through in a large one. Relevance is therefore adjusted for the
 * store's size N:
 *
 *     relevance = (score - mean) / sd
 *                 - CB_RELEVANCE_SIZE_SLOPE * (sqrt(2 ln N) - sqrt(2 ln CB_RELEVANCE_SIZE_REF))
 *
 * sqrt(2 ln N) is how the largest of N normal draws grows; the slope is fitted
 * to how the default model's nonsense maxima grow from 50 to 18,362 items,
 * and a store of CB_RELEVANCE_SIZE_REF items keeps its bare standard score
 * (`python3 -m cerebro_train relevance`, models/MODEL_CARD.md "Relevance
 * cutoff"). The term is the same for every hit of a search: it moves the
 * cutoff, never the order.
 *
 * A bundle may carry its own calibration (config.json "relevance": the
 * slope and the threshold `cerebro_train relevance` measured for that
 * model); the threshold then moves every relevance by
 * CEREBRO_MIN_RELEVANCE_DEFAULT - threshold, so that the library's default
 * cutoff is the threshold measured for the model in use:
 *
 *     relevance = (score - mean) / sd - slope * (sqrt(2 ln N) - sqrt(2 ln REF))
 *                 - (threshold - CEREBRO_MIN_RELEVANCE_DEFAULT)
 *
 * Without one, slope CB_RELEVANCE_SIZE_SLOPE and threshold
 * CEREBRO_MIN_RELEVANCE_DEFAULT: the numbers measured for the default model
 * of November 2026, which carries no record (writing one would change its
 * content hash, its id, and orphan the stores made with it).
 *
 * A search under a path prefix ranks only the items below it: N is their
 * count (at least CB_BACKGROUND_MIN, the smallest store measured), while
 * the background stays the whole store's.
 *
 * The background is drawn lazily by the first search after the store
 * changed: at once for a small store (every change matters), for a sampled
 * one when the item count moved by more than an eighth since the draw. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "index/store.h"
#include "model/model.h"

void cb_background_free(cerebro_index *idx)
{
    free(idx->bg_x);
    idx->bg_x = NULL;
    idx->bg_n = 0;
    idx->bg_generation = -1;
}

/* Still describes the store as the state the caller holds has it? */
static int background_fresh(const cerebro_index *idx, uint64_t items)
{
    if (idx->bg_generation < 0)
        return 0;
    if (idx->bg_generation == idx->generation)
        return 1;
    if (items <= CB_BACKGROUND_SAMPLE || idx->bg_store_n <= CB_BACKGROUND_SAMPLE)
        return 0;
    uint64_t a = items, b = idx->bg_store_n, diff = a > b ? a - b : b - a;
    return diff * 8 <= b;
}

static cerebro_status read_vector(const cerebro_index *idx, sqlite3_stmt *q, float *out)
{
    if (sqlite3_column_bytes(q, 0) != (int)(idx->dim * sizeof(float)))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: a stored vector has the wrong size", idx->dir);
    memcpy(out, sqlite3_column_blob(q, 0), idx->dim * sizeof(float));
    return CEREBRO_OK;
}

/* xorshift64*: the sample is the same for the same store. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Draws the background of a store holding `items` vectors into x (cap rows). */
static cerebro_status draw(const cerebro_index *idx, sqlite3 *db, uint64_t items, float *x, size_t cap,
                           size_t *n)
{
    sqlite3_stmt *q = NULL;
    cerebro_status st;
    int rc;

    *n = 0;
    if (items <= cap) {
        if ((st = cb_sql_prepare(db, "SELECT vector FROM items", &q)) != CEREBRO_OK)
            return st;
        while (st == CEREBRO_OK && *n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW)
            if ((st = read_vector(idx, q, x + *n * idx->dim)) == CEREBRO_OK)
                (*n)++;
        sqlite3_finalize(q);
        return st;
    }
    /* Uniform ids between the smallest and the largest, kept when an item
     * has that id: one index seek per draw, never a scan of the vectors of
     * a large store. Ids freed by removals are drawn again (mapping a free
     * id to the next item would weigh the item after a gap by the gap's
     * width). At most 64 draws a sample: a store with fewer than one id
     * in 64 still in use gets a smaller sample. */
    int64_t lo = 0, hi = 0;
    if ((st = cb_sql_prepare(db, "SELECT MIN(id), MAX(id) FROM items", &q)) != CEREBRO_OK)
        return st;
    if (sqlite3_step(q) == SQLITE_ROW) {
        lo = sqlite3_column_int64(q, 0);
        hi = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    if ((st = cb_sql_prepare(db, "SELECT vector FROM items WHERE id = ?", &q)) != CEREBRO_OK)
        return st;
    uint64_t state = 0x9e3779b97f4a7c15ull, span = (uint64_t)(hi - lo) + 1;
    for (size_t draws = 0; st == CEREBRO_OK && *n < cap && draws < 64 * cap; draws++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, lo + (int64_t)(next_random(&state) % span));
        if (sqlite3_step(q) == SQLITE_ROW && (st = read_vector(idx, q, x + *n * idx->dim)) == CEREBRO_OK)
            (*n)++;
    }
    sqlite3_finalize(q);
    return st;
}

/* Makes the background current; called with bg_lock held for writing. */
static cerebro_status refresh(cerebro_index *idx, sqlite3 *db, uint64_t items)
{
    size_t cap = items < CB_BACKGROUND_SAMPLE ? (size_t)items : CB_BACKGROUND_SAMPLE, n = 0;
    float *x = NULL;
    cerebro_status st = CEREBRO_OK;

    if (cap && !(x = malloc(cap * idx->dim * sizeof *x)))
        return cb_fail(CEREBRO_E_NOMEM, "search: out of memory for the relevance background");
    if (cap && (st = draw(idx, db, items, x, cap, &n)) != CEREBRO_OK) {
        free(x);
        return st;
    }
    cb_normalize_rows(x, n, idx->dim);
    free(idx->bg_x);
    idx->bg_x = x;
    idx->bg_n = n;
    idx->bg_store_n = items;
    idx->bg_generation = idx->generation;
    return CEREBRO_OK;
}

double cb_relevance_shift(const cb_model_config *c, uint64_t items)
{
    double slope = CB_RELEVANCE_SIZE_SLOPE, threshold = CEREBRO_MIN_RELEVANCE_DEFAULT;
    if (c->has_relevance) {
        slope = c->relevance_slope;
        threshold = c->relevance_threshold;
    }
    double size = items < 2 ? 0
                            : slope * (sqrt(2 * log((double)items)) -
                                       sqrt(2 * log((double)CB_RELEVANCE_SIZE_REF)));
    return size + (threshold - (double)CEREBRO_MIN_RELEVANCE_DEFAULT);
}

cerebro_status cb_background(cerebro_index *idx, sqlite3 *db, const float *query, uint64_t ranked,
                             double *mean_out, double *sd_out)
{
    uint64_t items = cb_ann_count(idx->ann);
    cerebro_status st = CEREBRO_OK;

    *mean_out = *sd_out = 0;
    if (items < CB_BACKGROUND_MIN)
        return CEREBRO_OK;
    pthread_rwlock_rdlock(&idx->bg_lock);
    while (!background_fresh(idx, items)) {
        pthread_rwlock_unlock(&idx->bg_lock);
        pthread_rwlock_wrlock(&idx->bg_lock);
        if (!background_fresh(idx, items))
            st = refresh(idx, db, items);
        pthread_rwlock_unlock(&idx->bg_lock);
        if (st != CEREBRO_OK)
            return st;
        pthread_rwlock_rdlock(&idx->bg_lock);
    }
    /* Mean and variance in double, one pass (Welford). */
    double mean = 0, m2 = 0;
    size_t m = idx->bg_n;
    for (size_t j = 0; j < m; j++) {
        const float *x = idx->bg_x + j * idx->dim;
        float dot = 0;
        for (uint32_t d = 0; d < idx->dim; d++)
            dot += query[d] * x[d];
        double delta = dot - mean;
        mean += delta / (double)(j + 1);
        m2 += delta * (dot - mean);
    }
    pthread_rwlock_unlock(&idx->bg_lock);
    double sd = m >= CB_BACKGROUND_MIN ? sqrt(m2 / (double)m) : 0;
    if (sd > 1e-6) { /* else every item alike: nothing stands out */
        /* The best of the items the search ranked: all of them, or those
         * under a prefix (never fewer than the smallest measured store). */
        uint64_t n = ranked && ranked < items ? ranked : items;
        if (n < CB_BACKGROUND_MIN)
            n = CB_BACKGROUND_MIN;
        *mean_out = mean + cb_relevance_shift(&idx->model->config, n) * sd;
        *sd_out = sd;
    }
    return CEREBRO_OK;
}
