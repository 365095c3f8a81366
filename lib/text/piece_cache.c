/* A per-call memo of BPE results: piece bytes -> ids. Each encode call owns
 * its cache, so the shared tokenizer stays immutable and lock-free; long
 * texts repeat words often enough for it to pay (bench/bench_tokenizer). */
#include <stdlib.h>
#include <string.h>

#include "text.h"

enum {
    CACHE_SLOTS = 4096,       /* power of two; at most half are used */
    CACHE_BYTES = 32 * 1024,  /* piece bytes kept */
    CACHE_IDS = 8 * 1024,     /* ids kept */
    CACHE_MAX_PIECE = 64      /* longer pieces are rare: not kept */
};

typedef struct cache_slot {
    uint64_t hash;
    uint32_t bytes_off, ids_off;
    uint16_t len, n_ids; /* len == 0: free */
} cache_slot;

struct cb_piece_cache {
    cache_slot slots[CACHE_SLOTS];
    size_t used, bytes_len, ids_len;
    uint8_t bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
};

cb_piece_cache *cb_piece_cache_new(void)
{
    cb_piece_cache *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c->slots, 0, sizeof c->slots);
    c->used = c->bytes_len = c->ids_len = 0;
    return c;
}

void cb_piece_cache_free(cb_piece_cache *cache)
{
    free(cache);
}

static cache_slot *find(const cb_piece_cache *c, const uint8_t *bytes, size_t len, uint64_t hash)
{
    for (size_t i = hash & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const cache_slot *s = &c->slots[i];
        if (s->len == 0 ||
            (s->hash == hash && s->len == len && memcmp(c->bytes + s->bytes_off, bytes, len) == 0))
            return (cache_slot *)s;
    }
}

const int32_t *cb_piece_cache_get(const cb_piece_cache *cache, const uint8_t *bytes, size_t len,
                                  size_t *n)
{
    const cache_slot *s;

    if (len == 0 || len > CACHE_MAX_PIECE)
        return NULL;
    s = find(cache, bytes, len, cb_hash_bytes(bytes, len));
    if (s->len == 0)
        return NULL;
    *n = s->n_ids;
    return cache->ids + s->ids_off;
}

void cb_piece_cache_put(cb_piece_cache *cache, const uint8_t *bytes, size_t len,
                        const int32_t *ids, size_t n)
{
    uint64_t hash;
    cache_slot *s;

    if (len == 0 || len > CACHE_MAX_PIECE || n > len || cache->used >= CACHE_SLOTS / 2 ||
        CACHE_BYTES - cache->bytes_len < len || CACHE_IDS - cache->ids_len < n)
        return;
    hash = cb_hash_bytes(bytes, len);
    s = find(cache, bytes, len, hash);
    if (s->len != 0)
        return;
    s->hash = hash;
    s->len = (uint16_t)len;
    s->n_ids = (uint16_t)n;
    s->bytes_off = (uint32_t)cache->bytes_len;
    s->ids_off = (uint32_t)cache->ids_len;
    memcpy(cache->bytes + cache->bytes_len, bytes, len);
    memcpy(cache->ids + cache->ids_len, ids, n * sizeof *ids);
    cache->bytes_len += len;
    cache->ids_len += n;
    cache->used++;
}
