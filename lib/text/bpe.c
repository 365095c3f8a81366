/* Byte-level BPE with CLIP's vocabulary and merge order.
 *
 * Symbols are identified by their vocabulary id. As in CLIP, where the
 * vocabulary is a Python dict built from a list, a string listed twice keeps
 * its last id, and a merge pair listed twice keeps its last rank; symbols
 * are compared through those canonical ids, so string equality is kept.
 *
 * CLIP merges, at each step, every occurrence (left to right) of the
 * adjacent pair with the lowest rank. Short words do exactly that over an
 * array that remembers each pair's rank; longer ones use a heap of
 * (rank, position) entries popped one rank at a time, entries made stale by
 * earlier merges skipped, so a word of n bytes costs O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text.h"

#define DEAD_SYMBOL UINT32_MAX
#define EMPTY_KEY UINT64_MAX

typedef struct pair_slot {
    uint64_t key; /* left id << 32 | right id, EMPTY_KEY when free */
    uint32_t rank;
    uint32_t merged;
} pair_slot;

struct cb_bpe {
    pair_slot *pairs;
    size_t pair_mask;
    uint32_t base[256][2]; /* byte -> id, [1]: with "</w>" */
};

/* ---- hashing ------------------------------------------------------------ */

uint64_t cb_hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static size_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t table_size_for(size_t n)
{
    size_t size = 64;
    while (size < 2 * n)
        size <<= 1;
    return size;
}

/* ---- the vocabulary while building: string -> id, last one wins ---------- */

typedef struct str_slot {
    uint64_t hash;
    size_t off, len; /* into the arena; len == SIZE_MAX when free */
    uint32_t id;
} str_slot;

typedef struct str_map {
    str_slot *slots;
    size_t mask;
    char *arena;
    size_t arena_len, arena_cap;
} str_map;

static int str_map_init(str_map *m, size_t n, size_t arena_cap)
{
    size_t size = table_size_for(n);

    m->slots = malloc(size * sizeof *m->slots);
    m->arena = malloc(arena_cap);
    m->mask = size - 1;
    m->arena_len = 0;
    m->arena_cap = arena_cap;
    if (!m->slots || !m->arena)
        return -1;
    for (size_t i = 0; i < size; i++)
        m->slots[i].len = SIZE_MAX;
    return 0;
}

static void str_map_free(str_map *m)
{
    free(m->slots);
    free(m->arena);
}

static str_slot *str_map_find(const str_map *m, const char *s, size_t len, uint64_t hash)
{
    for (size_t i = mix64(hash) & m->mask;; i = (i + 1) & m->mask) {
        str_slot *slot = &m->slots[i];
        if (slot->len == SIZE_MAX ||
            (slot->hash == hash && slot->len == len && memcmp(m->arena + slot->off, s, len) == 0))
            return slot;
    }
}

/* Maps the concatenation a + b to id (replacing an earlier id). The caller
 * sized the table and arena for every string it adds. */
static void str_map_set(str_map *m, const char *a, size_t alen, const char *b, size_t blen,
                        uint32_t id)
{
    char *s = m->arena + m->arena_len;
    str_slot *slot;
    uint64_t hash;

    memcpy(s, a, alen);
    memcpy(s + alen, b, blen);
    hash = cb_hash_bytes((const uint8_t *)s, alen + blen);
    slot = str_map_find(m, s, alen + blen, hash);
    if (slot->len == SIZE_MAX) {
        slot->hash = hash;
        slot->off = m->arena_len;
        slot->len = alen + blen;
        m->arena_len += alen + blen;
    }
    slot->id = id;
}

static int str_map_get(const str_map *m, const char *s, size_t len, uint32_t *id)
{
    str_slot *slot = str_map_find(m, s, len, cb_hash_bytes((const uint8_t *)s, len));
    if (slot->len == SIZE_MAX)
        return 0;
    *id = slot->id;
    return 1;
}

/* ---- merges ------------------------------------------------------------- */

static const char END_OF_WORD[] = "</w>";
enum { END_OF_WORD_LEN = 4 };

/* CLIP's byte alphabet: printable Latin-1 bytes stand for themselves, the
 * others take U+0100, U+0101, ... in byte order. Fills each byte's UTF-8
 * form and the vocabulary order (printable bytes first). */
static void byte_alphabet(uint8_t utf8[256][2], uint8_t utf8_len[256], uint8_t order[256])
{
    uint32_t next_cp = 256;
    size_t n = 0;

    for (uint32_t b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (printable)
            order[n++] = (uint8_t)b;
    }
    for (uint32_t b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        uint32_t cp = printable ? b : next_cp++;
        if (!printable)
            order[n++] = (uint8_t)b;
        utf8_len[b] = (uint8_t)cb_utf8_put(cp, utf8[b]);
    }
}

static int is_field_space(char c)
{
    /* Python's str.split() separators within ASCII. */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}

typedef struct merge_line {
    const char *left, *right;
    size_t left_len, right_len;
} merge_line;

/* Splits the line text[0, len) into exactly two fields. */
static int split_merge(const char *text, size_t len, merge_line *m)
{
    const char *fields[3];
    size_t lens[3], nf = 0, i = 0;

    while (i < len) {
        size_t start;
        while (i < len && is_field_space(text[i]))
            i++;
        if (i == len)
            break;
        start = i;
        while (i < len && !is_field_space(text[i]))
            i++;
        if (nf == 3)
            return -1;
        fields[nf] = text + start;
        lens[nf++] = i - start;
    }
    if (nf != 2)
        return -1;
    m->left = fields[0];
    m->left_len = lens[0];
    m->right = fields[1];
    m->right_len = lens[1];
    return 0;
}

static pair_slot *pair_find(const cb_bpe *bpe, uint64_t key)
{
    for (size_t i = mix64(key) & bpe->pair_mask;; i = (i + 1) & bpe->pair_mask) {
        pair_slot *slot = &bpe->pairs[i];
        if (slot->key == key || slot->key == EMPTY_KEY)
            return slot;
    }
}

/* Parses n_merges lines; fills the vocabulary map and the parsed lines. */
static cerebro_status parse_merges(const char *lines, size_t len, uint32_t n_merges,
                                   merge_line *parsed)
{
    size_t pos = 0;

    for (uint32_t r = 0; r < n_merges; r++) {
        const char *nl;
        size_t line_len;

        if (pos >= len)
            return cb_fail(CEREBRO_E_FORMAT, "merges: %u merges needed, the text has %u", n_merges,
                           r);
        nl = memchr(lines + pos, '\n', len - pos);
        line_len = nl ? (size_t)(nl - (lines + pos)) : len - pos;
        if (split_merge(lines + pos, line_len, &parsed[r]) != 0)
            return cb_fail(CEREBRO_E_FORMAT, "merges line %u: expected 'left right', got '%.*s'",
                           r + 2, (int)(line_len > 60 ? 60 : line_len), lines + pos);
        pos += line_len + 1;
    }
    return CEREBRO_OK;
}

static cerebro_status build_tables(cb_bpe *bpe, const merge_line *merges, uint32_t n_merges,
                                   uint32_t sot, uint32_t eot)
{
    uint8_t utf8[256][2], utf8_len[256], order[256];
    size_t arena = 256 * 2 * (2 + END_OF_WORD_LEN) + 64, longest = 0;
    str_map vocab;
    cerebro_status st = CEREBRO_OK;

    for (uint32_t r = 0; r < n_merges; r++) {
        size_t joined = merges[r].left_len + merges[r].right_len;
        arena += joined;
        longest = joined > longest ? joined : longest;
    }
    arena += longest; /* scratch for looking up one joined merge */
    if (str_map_init(&vocab, CB_BPE_BYTE_SYMBOLS + n_merges + CB_BPE_SPECIALS, arena) != 0) {
        str_map_free(&vocab);
        return cb_fail(CEREBRO_E_NOMEM, "merges: out of memory for %u merges", n_merges);
    }
    byte_alphabet(utf8, utf8_len, order);
    for (uint32_t k = 0; k < 256; k++) {
        const char *s = (const char *)utf8[order[k]];
        str_map_set(&vocab, s, utf8_len[order[k]], "", 0, k);
        str_map_set(&vocab, s, utf8_len[order[k]], END_OF_WORD, END_OF_WORD_LEN, 256 + k);
    }
    for (uint32_t r = 0; r < n_merges; r++)
        str_map_set(&vocab, merges[r].left, merges[r].left_len, merges[r].right,
                    merges[r].right_len, CB_BPE_BYTE_SYMBOLS + r);
    str_map_set(&vocab, "<|startoftext|>", 15, "", 0, sot);
    str_map_set(&vocab, "<|endoftext|>", 13, "", 0, eot);

    for (uint32_t b = 0; b < 256; b++) {
        char s[2 + END_OF_WORD_LEN];
        memcpy(s, utf8[b], utf8_len[b]);
        memcpy(s + utf8_len[b], END_OF_WORD, END_OF_WORD_LEN);
        str_map_get(&vocab, s, utf8_len[b], &bpe->base[b][0]);
        str_map_get(&vocab, s, utf8_len[b] + END_OF_WORD_LEN, &bpe->base[b][1]);
    }

    bpe->pair_mask = table_size_for(n_merges) - 1;
    bpe->pairs = malloc((bpe->pair_mask + 1) * sizeof *bpe->pairs);
    if (!bpe->pairs) {
        st = cb_fail(CEREBRO_E_NOMEM, "merges: out of memory for %u merges", n_merges);
        goto done;
    }
    for (size_t i = 0; i <= bpe->pair_mask; i++)
        bpe->pairs[i].key = EMPTY_KEY;
    for (uint32_t r = 0; r < n_merges; r++) {
        const merge_line *m = &merges[r];
        char *joined = vocab.arena + vocab.arena_len;
        uint32_t left, right, merged;
        pair_slot *slot;

        /* A pair whose halves are not vocabulary strings never occurs. */
        if (!str_map_get(&vocab, m->left, m->left_len, &left) ||
            !str_map_get(&vocab, m->right, m->right_len, &right))
            continue;
        /* The arena was sized with room for one more joined merge. */
        memcpy(joined, m->left, m->left_len);
        memcpy(joined + m->left_len, m->right, m->right_len);
        if (!str_map_get(&vocab, joined, m->left_len + m->right_len, &merged))
            continue; /* cannot happen: every joined merge was added above */
        slot = pair_find(bpe, (uint64_t)left << 32 | right);
        slot->key = (uint64_t)left << 32 | right;
        slot->rank = r;
        slot->merged = merged;
    }
done:
    str_map_free(&vocab);
    return st;
}

cerebro_status cb_bpe_build(const char *lines, size_t len, uint32_t n_merges, uint32_t sot,
                            uint32_t eot, cb_bpe **out)
{
    merge_line *parsed = NULL;
    cb_bpe *bpe = NULL;
    cerebro_status st;

    *out = NULL;
    bpe = calloc(1, sizeof *bpe);
    parsed = malloc((n_merges ? n_merges : 1) * sizeof *parsed);
    if (!bpe || !parsed) {
        st = cb_fail(CEREBRO_E_NOMEM, "merges: out of memory for %u merges", n_merges);
        goto fail;
    }
    st = parse_merges(lines, len, n_merges, parsed);
    if (st == CEREBRO_OK)
        st = build_tables(bpe, parsed, n_merges, sot, eot);
    if (st != CEREBRO_OK)
        goto fail;
    free(parsed);
    *out = bpe;
    return CEREBRO_OK;
fail:
    free(parsed);
    cb_bpe_free(bpe);
    return st;
}

void cb_bpe_free(cb_bpe *bpe)
{
    if (!bpe)
        return;
    free(bpe->pairs);
    free(bpe);
}

/* ---- ids ---------------------------------------------------------------- */

int cb_ids_reserve(cb_ids *ids, size_t extra)
{
    size_t cap = ids->cap ? ids->cap : 64;
    int32_t *v;

    if (extra <= ids->cap - ids->n)
        return 0;
    if (extra > SIZE_MAX / sizeof *v / 2 - ids->n)
        return -1;
    while (cap - ids->n < extra)
        cap *= 2;
    v = realloc(ids->v, cap * sizeof *v);
    if (!v)
        return -1;
    ids->v = v;
    ids->cap = cap;
    return 0;
}

void cb_ids_free(cb_ids *ids)
{
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

/* ---- one word ------------------------------------------------------------ */

/* Heap entries order by rank, then position: rank << 32 | left index. */
typedef uint64_t heap_key;

void cb_bpe_work_free(cb_bpe_work *work)
{
    free(work->sym);
    free(work->next);
    free(work->prev);
    free(work->heap);
    free(work->batch);
    memset(work, 0, sizeof *work);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t cap2 = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return 0;
    while (cap2 < need)
        cap2 *= 2;
    q = realloc(*p, cap2 * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = cap2;
    return 0;
}

static int work_reserve(cb_bpe_work *w, size_t len)
{
    size_t cap = w->cap;

    if (len <= w->cap)
        return 0;
    if (grow((void **)&w->sym, &cap, len, sizeof *w->sym) != 0)
        return -1;
    cap = w->cap;
    if (grow((void **)&w->next, &cap, len, sizeof *w->next) != 0)
        return -1;
    cap = w->cap;
    if (grow((void **)&w->prev, &cap, len, sizeof *w->prev) != 0)
        return -1;
    w->cap = cap;
    return 0;
}

static int heap_push(cb_bpe_work *w, heap_key key)
{
    heap_key *v;
    size_t i;

    if (grow(&w->heap, &w->heap_cap, w->heap_n + 1, sizeof *v) != 0)
        return -1;
    v = w->heap;
    i = w->heap_n++;
    while (i > 0 && v[(i - 1) / 2] > key) {
        v[i] = v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    v[i] = key;
    return 0;
}

static heap_key heap_pop(cb_bpe_work *w)
{
    heap_key *v = w->heap, top = v[0], last = v[--w->heap_n];
    size_t i = 0, n = w->heap_n;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && v[c + 1] < v[c])
            c++;
        if (v[c] >= last)
            break;
        v[i] = v[c];
        i = c;
    }
    if (n > 0)
        v[i] = last;
    return top;
}

static const pair_slot *pair_of(const cb_bpe *bpe, uint32_t left, uint32_t right)
{
    const pair_slot *slot = pair_find(bpe, (uint64_t)left << 32 | right);
    return slot->key == EMPTY_KEY ? NULL : slot;
}

/* Queues the pair starting at node `left` if it has a rank. */
static int push_pair(const cb_bpe *bpe, cb_bpe_work *w, int32_t left)
{
    const pair_slot *p = pair_of(bpe, w->sym[left], w->sym[w->next[left]]);
    return p ? heap_push(w, (heap_key)p->rank << 32 | (uint32_t)left) : 0;
}

/* Merges node `left` with its successor, which must form the pair `p`. */
static int merge_at(const cb_bpe *bpe, cb_bpe_work *w, int32_t left, const pair_slot *p)
{
    int32_t right = w->next[left];

    w->sym[left] = p->merged;
    w->sym[right] = DEAD_SYMBOL;
    w->next[left] = w->next[right];
    if (w->next[left] >= 0)
        w->prev[w->next[left]] = left;
    if (w->prev[left] >= 0 && push_pair(bpe, w, w->prev[left]) != 0)
        return -1;
    if (w->next[left] >= 0 && push_pair(bpe, w, left) != 0)
        return -1;
    return 0;
}

/* Words up to this many bytes take the array path: the rank of each
 * adjacent pair is kept, and a step scans them for the lowest. */
enum { SHORT_WORD = 32 };
#define NO_RANK UINT32_MAX

static void rank_pair(const cb_bpe *bpe, const uint32_t *sym, size_t i, uint32_t *rank,
                      uint32_t *merged)
{
    const pair_slot *p = pair_of(bpe, sym[i], sym[i + 1]);
    rank[i] = p ? p->rank : NO_RANK;
    merged[i] = p ? p->merged : 0;
}

static int bpe_short(const cb_bpe *bpe, const uint8_t *bytes, size_t len, cb_ids *out)
{
    uint32_t sym[SHORT_WORD], rank[SHORT_WORD], merged[SHORT_WORD];
    uint8_t fresh[SHORT_WORD];
    size_t n = len;

    for (size_t i = 0; i < n; i++)
        sym[i] = bpe->base[bytes[i]][i + 1 == n];
    for (size_t i = 0; i + 1 < n; i++)
        rank_pair(bpe, sym, i, rank, merged);
    while (n > 1) {
        uint32_t best = NO_RANK;
        size_t m = 0;

        for (size_t i = 0; i + 1 < n; i++)
            best = rank[i] < best ? rank[i] : best;
        if (best == NO_RANK)
            break;
        /* Merge every occurrence left to right, keeping the ranks of pairs
         * whose symbols did not change. */
        for (size_t i = 0; i < n; m++) {
            if (i + 1 < n && rank[i] == best) {
                sym[m] = merged[i];
                fresh[m] = 1;
                i += 2;
            } else {
                sym[m] = sym[i];
                rank[m] = rank[i];
                merged[m] = merged[i];
                fresh[m] = 0;
                i++;
            }
        }
        n = m;
        for (size_t i = 0; i + 1 < n; i++)
            if (fresh[i] || fresh[i + 1])
                rank_pair(bpe, sym, i, rank, merged);
    }
    if (cb_ids_reserve(out, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        out->v[out->n++] = (int32_t)sym[i];
    return 0;
}

int cb_bpe_word(const cb_bpe *bpe, const uint8_t *bytes, size_t len, cb_bpe_work *w, cb_ids *out)
{
    if (len <= SHORT_WORD)
        return bpe_short(bpe, bytes, len, out);
    return cb_bpe_word_heap(bpe, bytes, len, w, out);
}

int cb_bpe_word_heap(const cb_bpe *bpe, const uint8_t *bytes, size_t len, cb_bpe_work *w,
                     cb_ids *out)
{
    if (len == 1) {
        if (cb_ids_reserve(out, 1) != 0)
            return -1;
        out->v[out->n++] = (int32_t)bpe->base[bytes[0]][1];
        return 0;
    }
    if (len > INT32_MAX || work_reserve(w, len) != 0)
        return -1;
    w->heap_n = 0;
    for (size_t i = 0; i < len; i++) {
        w->sym[i] = bpe->base[bytes[i]][i + 1 == len];
        w->next[i] = i + 1 < len ? (int32_t)(i + 1) : -1;
        w->prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < len; i++)
        if (push_pair(bpe, w, (int32_t)i) != 0)
            return -1;
    while (w->heap_n > 0) {
        uint32_t rank = (uint32_t)(((heap_key *)w->heap)[0] >> 32);
        size_t nb = 0;

        /* Every occurrence of this rank's pair, left to right, before any
         * pair the merges create (which never has this rank). */
        while (w->heap_n > 0 && (uint32_t)(((heap_key *)w->heap)[0] >> 32) == rank) {
            if (grow(&w->batch, &w->batch_cap, nb + 1, sizeof(int32_t)) != 0)
                return -1;
            ((int32_t *)w->batch)[nb++] = (int32_t)(uint32_t)heap_pop(w);
        }
        for (size_t k = 0; k < nb; k++) {
            int32_t left = ((int32_t *)w->batch)[k];
            const pair_slot *p;
            if (w->sym[left] == DEAD_SYMBOL || w->next[left] < 0)
                continue;
            p = pair_of(bpe, w->sym[left], w->sym[w->next[left]]);
            if (!p || p->rank != rank)
                continue;
            if (merge_at(bpe, w, left, p) != 0)
                return -1;
        }
    }
    if (cb_ids_reserve(out, len) != 0)
        return -1;
    for (int32_t i = 0; i >= 0; i = w->next[i])
        out->v[out->n++] = (int32_t)w->sym[i];
    return 0;
}
