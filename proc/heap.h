/* The deadline heap every loop in overlap keeps (the engines' timeouts, the
 * database's held answers, the load generator's think times): a binary
 * min-heap of intrusive nodes, each of which knows its own index, so a node
 * is moved or removed in O(log n) without a search. Equal deadlines leave in
 * the order they were set (a sequence number breaks ties), so answers held
 * for the same instant go out first come, first served. */
#ifndef OVERLAP_HEAP_H
#define OVERLAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in whatever waits; recover the owner with heap_entry(). */
struct heap_node {
    uint64_t deadline;
    uint64_t seq;  /* the order nodes were set in: ties leave first come, first served */
    ptrdiff_t pos; /* index in the heap, -1 when not in one */
};

struct heap {
    struct heap_node **items;
    size_t len, cap;
    uint64_t seq;
};

#define heap_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

void heap_init(struct heap *h);
void heap_free(struct heap *h);
/* Room for n nodes in all, so that heap_set cannot fail below it: 0 or -ENOMEM. */
int heap_reserve(struct heap *h, size_t n);
void heap_node_init(struct heap_node *x);

/* Inserts x with deadline, or moves it there if it is already in the heap.
 * 0, or -ENOMEM (x is then not in the heap). */
int heap_set(struct heap *h, struct heap_node *x, uint64_t deadline);
/* Takes x out; nothing if it is not in the heap. */
void heap_remove(struct heap *h, struct heap_node *x);

static inline bool heap_contains(const struct heap_node *x)
{
    return x->pos >= 0;
}

/* The earliest node, or NULL. */
struct heap_node *heap_min(const struct heap *h);
/* The earliest deadline, or UINT64_MAX when empty. */
uint64_t heap_next(const struct heap *h);
/* Removes and returns the earliest node if its deadline is <= now, else NULL. */
struct heap_node *heap_pop_due(struct heap *h, uint64_t now);

#endif
