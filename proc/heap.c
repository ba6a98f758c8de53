/* The deadline heap: see heap.h. Ordered by (deadline, seq). */
#include "heap.h"

#include <errno.h>
#include <stdlib.h>

static bool earlier(const struct heap_node *a, const struct heap_node *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct heap *h, size_t i, struct heap_node *x)
{
    h->items[i] = x;
    x->pos = (ptrdiff_t)i;
}

static void sift_up(struct heap *h, size_t i)
{
    struct heap_node *x = h->items[i];
    while (i > 0 && earlier(x, h->items[(i - 1) / 2])) {
        place(h, i, h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, x);
}

static void sift_down(struct heap *h, size_t i)
{
    struct heap_node *x = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && earlier(h->items[c + 1], h->items[c]))
            c++;
        if (!earlier(h->items[c], x))
            break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, x);
}

void heap_init(struct heap *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->seq = 0;
}

void heap_free(struct heap *h)
{
    free(h->items);
    heap_init(h);
}

int heap_reserve(struct heap *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    struct heap_node **items = realloc(h->items, n * sizeof(*items));
    if (!items)
        return -ENOMEM;
    h->items = items;
    h->cap = n;
    return 0;
}

void heap_node_init(struct heap_node *x)
{
    x->deadline = 0;
    x->seq = 0;
    x->pos = -1;
}

int heap_set(struct heap *h, struct heap_node *x, uint64_t deadline)
{
    if (heap_contains(x)) {
        bool up = deadline < x->deadline;
        x->deadline = deadline;
        x->seq = h->seq++;
        if (up)
            sift_up(h, (size_t)x->pos);
        else
            sift_down(h, (size_t)x->pos);
        return 0;
    }
    if (h->len == h->cap && heap_reserve(h, h->cap ? 2 * h->cap : 64) < 0)
        return -ENOMEM;
    x->deadline = deadline;
    x->seq = h->seq++;
    place(h, h->len++, x);
    sift_up(h, (size_t)x->pos);
    return 0;
}

void heap_remove(struct heap *h, struct heap_node *x)
{
    if (!heap_contains(x))
        return;
    size_t i = (size_t)x->pos;
    x->pos = -1;
    struct heap_node *last = h->items[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    if (i > 0 && earlier(last, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

struct heap_node *heap_min(const struct heap *h)
{
    return h->len ? h->items[0] : NULL;
}

uint64_t heap_next(const struct heap *h)
{
    return h->len ? h->items[0]->deadline : UINT64_MAX;
}

struct heap_node *heap_pop_due(struct heap *h, uint64_t now)
{
    struct heap_node *x = heap_min(h);
    if (!x || x->deadline > now)
        return NULL;
    heap_remove(h, x);
    return x;
}
