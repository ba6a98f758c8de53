/* The id table of an event-loop engine: what holds a request in flight
 * (async's jobs, coro's coroutines), by id, so that a database answer finds
 * its holder by the tag its query was sent with. A tag is the holder's id
 * and a generation: the holder bumps the generation whenever a query ends
 * (answered, timed out, abandoned), so a late answer's tag misses. Ids are
 * handed out in order and never reused; a holder is made once and lives on
 * a free list between requests. Header only: every function is a few lines,
 * and the tag's two are on the path of every answer. One table per loop,
 * touched only by its thread. */
#ifndef OVERLAP_EVLOOP_IDS_H
#define OVERLAP_EVLOOP_IDS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* a tag is id | generation << 18: 262,144 holders per loop (requests in
 * flight at once), and 16,384 generations before one comes round again */
#define EVLOOP_ID_BITS  18
#define EVLOOP_MAX_IDS  (1u << EVLOOP_ID_BITS)
#define EVLOOP_GEN_MASK ((1u << (32 - EVLOOP_ID_BITS)) - 1)
#define EVLOOP_IDS_MIN  64 /* the table's first size */

struct evloop_ids {
    void **items; /* by id */
    uint32_t n, cap;
};

static inline uint32_t evloop_tag(uint32_t id, uint32_t gen)
{
    return id | gen << EVLOOP_ID_BITS;
}

/* The generation after gen: a tag made with gen now misses. */
static inline uint32_t evloop_gen_next(uint32_t gen)
{
    return (gen + 1) & EVLOOP_GEN_MASK;
}

/* Room for one more holder: 0, or -ENOMEM when memory or the ids ran out. */
static inline int evloop_ids_reserve(struct evloop_ids *t)
{
    if (t->n == EVLOOP_MAX_IDS)
        return -ENOMEM;
    if (t->n < t->cap)
        return 0;
    uint32_t cap = t->cap ? t->cap * 2 : EVLOOP_IDS_MIN;
    void **items = realloc(t->items, cap * sizeof(*items));
    if (!items)
        return -ENOMEM;
    t->items = items;
    t->cap = cap;
    return 0;
}

/* Adds item, after evloop_ids_reserve: its id. */
static inline uint32_t evloop_ids_add(struct evloop_ids *t, void *item)
{
    t->items[t->n] = item;
    return t->n++;
}

/* The holder whose id the tag carries, or NULL; the caller compares the
 * whole tag, generation included, with the holder's. */
static inline void *evloop_ids_find(const struct evloop_ids *t, uint32_t tag)
{
    uint32_t id = tag & (EVLOOP_MAX_IDS - 1);
    return id < t->n ? t->items[id] : NULL;
}

/* Frees the table, not the holders (the engine frees those first). */
static inline void evloop_ids_free(struct evloop_ids *t)
{
    free(t->items);
    t->items = NULL;
    t->n = t->cap = 0;
}

#endif
