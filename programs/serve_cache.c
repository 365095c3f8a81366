/* A thread-safe LRU map from strings to byte blobs, bounded by entries and
 * bytes: the server's cache of query embeddings and of thumbnails. One
 * mutex guards it; every operation is a hash lookup plus a list splice,
 * short enough that readers do not need anything finer. */
#define _XOPEN_SOURCE 700

#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct entry {
    struct entry *prev, *next; /* recency list, most recent first */
    struct entry *chain;       /* hash bucket */
    uint64_t hash;
    size_t size;               /* value bytes */
    size_t cost;               /* key + value + bookkeeping */
    unsigned char *value;
    char key[];
} entry;

struct serve_lru {
    pthread_mutex_t lock;
    entry **buckets;
    size_t n_buckets; /* a power of two */
    entry *head, *tail;
    size_t entries, bytes, max_entries, max_bytes;
    uint64_t hits, misses;
};

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3u;
    return h;
}

serve_lru *serve_lru_new(size_t max_entries, size_t max_bytes)
{
    serve_lru *lru = calloc(1, sizeof *lru);
    size_t n = 16;

    if (!lru || max_entries == 0)
        goto fail;
    while (n < 2 * max_entries && n < ((size_t)1 << 20))
        n *= 2;
    if (!(lru->buckets = calloc(n, sizeof *lru->buckets)))
        goto fail;
    lru->n_buckets = n;
    lru->max_entries = max_entries;
    lru->max_bytes = max_bytes;
    pthread_mutex_init(&lru->lock, NULL);
    return lru;
fail:
    free(lru);
    return NULL;
}

void serve_lru_free(serve_lru *lru)
{
    if (!lru)
        return;
    for (entry *e = lru->head, *next; e; e = next) {
        next = e->next;
        free(e->value);
        free(e);
    }
    pthread_mutex_destroy(&lru->lock);
    free(lru->buckets);
    free(lru);
}

static entry **find_slot(serve_lru *lru, const char *key, uint64_t h)
{
    entry **slot = &lru->buckets[h & (lru->n_buckets - 1)];
    while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
        slot = &(*slot)->chain;
    return slot;
}

static void unlink_recency(serve_lru *lru, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        lru->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        lru->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(serve_lru *lru, entry *e)
{
    e->prev = NULL;
    e->next = lru->head;
    if (lru->head)
        lru->head->prev = e;
    lru->head = e;
    if (!lru->tail)
        lru->tail = e;
}

/* Unlinks e from its bucket and the list and frees it. */
static void drop(serve_lru *lru, entry *e)
{
    entry **slot = find_slot(lru, e->key, e->hash);
    *slot = e->chain;
    unlink_recency(lru, e);
    lru->entries--;
    lru->bytes -= e->cost;
    free(e->value);
    free(e);
}

int serve_lru_get(serve_lru *lru, const char *key, void **data, size_t *size)
{
    uint64_t h = hash_key(key);
    entry *e;
    int hit = 0;

    *data = NULL;
    *size = 0;
    pthread_mutex_lock(&lru->lock);
    if ((e = *find_slot(lru, key, h)) && (*data = malloc(e->size ? e->size : 1))) {
        memcpy(*data, e->value, e->size);
        *size = e->size;
        unlink_recency(lru, e);
        push_front(lru, e);
        hit = 1;
    }
    if (hit)
        lru->hits++;
    else
        lru->misses++;
    pthread_mutex_unlock(&lru->lock);
    return hit;
}

void serve_lru_put(serve_lru *lru, const char *key, const void *data, size_t size)
{
    size_t klen = strlen(key), cost = sizeof(entry) + klen + 1 + size;
    uint64_t h = hash_key(key);
    entry *e, *old;

    if (cost > lru->max_bytes || !(e = malloc(sizeof *e + klen + 1)))
        return;
    if (!(e->value = malloc(size ? size : 1))) {
        free(e);
        return;
    }
    memcpy(e->value, data, size);
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->size = size;
    e->cost = cost;
    pthread_mutex_lock(&lru->lock);
    if ((old = *find_slot(lru, key, h)))
        drop(lru, old);
    while (lru->tail && (lru->entries + 1 > lru->max_entries || lru->bytes + cost > lru->max_bytes))
        drop(lru, lru->tail);
    e->chain = NULL;
    *find_slot(lru, key, h) = e;
    push_front(lru, e);
    lru->entries++;
    lru->bytes += cost;
    pthread_mutex_unlock(&lru->lock);
}

void serve_lru_stats_get(serve_lru *lru, serve_lru_stats *out)
{
    pthread_mutex_lock(&lru->lock);
    out->entries = lru->entries;
    out->bytes = lru->bytes;
    out->hits = lru->hits;
    out->misses = lru->misses;
    pthread_mutex_unlock(&lru->lock);
}
