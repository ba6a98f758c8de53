/* The timer heap: a binary min-heap of deadlines in which every timer knows
 * its own index, so a timer can be moved or cancelled in O(log n) without a
 * search. Each loop owns one; idle, header and database timeouts all live in
 * it, so no event ever scans the connections to find who timed out. */
#include <errno.h>
#include <stdlib.h>

#include "async_int.h"

void async__timer_init(struct timer *t, timer_fn fire)
{
    t->deadline = 0;
    t->index = -1;
    t->fire = fire;
}

static void place(struct timer_heap *h, int i, struct timer *t)
{
    h->items[i] = t;
    t->index = i;
}

static void sift_up(struct timer_heap *h, int i)
{
    struct timer *t = h->items[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (h->items[parent]->deadline <= t->deadline)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, int i)
{
    struct timer *t = h->items[i];
    for (;;) {
        int child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->items[child + 1]->deadline < h->items[child]->deadline)
            child++;
        if (t->deadline <= h->items[child]->deadline)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

static int grow(struct timer_heap *h)
{
    int cap = h->cap ? h->cap * 2 : 64;
    struct timer **items = realloc(h->items, cap * sizeof(*items));
    if (!items)
        return -ENOMEM;
    h->items = items;
    h->cap = cap;
    return 0;
}

int async__timer_set(struct timer_heap *h, struct timer *t, uint64_t deadline)
{
    if (t->index >= 0) {
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            sift_up(h, t->index);
        else
            sift_down(h, t->index);
        return 0;
    }
    if (h->n == h->cap && grow(h) < 0)
        return -ENOMEM;
    t->deadline = deadline;
    place(h, h->n++, t);
    sift_up(h, t->index);
    return 0;
}

void async__timer_cancel(struct timer_heap *h, struct timer *t)
{
    int i = t->index;
    if (i < 0)
        return;
    t->index = -1;
    struct timer *last = h->items[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    if (i > 0 && h->items[(i - 1) / 2]->deadline > last->deadline)
        sift_up(h, i);
    else
        sift_down(h, i);
}

uint64_t async__timer_next(const struct timer_heap *h)
{
    return h->n ? h->items[0]->deadline : UINT64_MAX;
}

struct timer *async__timer_pop_due(struct timer_heap *h, uint64_t now)
{
    if (!h->n || h->items[0]->deadline > now)
        return NULL;
    struct timer *t = h->items[0];
    async__timer_cancel(h, t);
    return t;
}

void async__timer_heap_free(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
