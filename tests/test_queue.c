/* The pool's bounded FIFO (pool/queue.c) on its own: entries leave in the
 * order they came, a full queue refuses at once, an empty one makes workers
 * wait until a push or the stop sentinel wakes them, and under many
 * producers and consumers every entry is handed out exactly once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pool_internal.h"

/* A worker that never wakes would hang a test: the timeout turns it into a
 * failure. */
TestSuite(queue, .timeout = 60);

/* Entries are bare connections: the queue links them through qnext and never
 * looks inside them, so no socket is needed. */
static struct pool__conn *items_new(int n)
{
    struct pool__conn *items = calloc((size_t)n, sizeof(*items));
    cr_assert_not_null(items);
    for (int i = 0; i < n; i++)
        items[i].fd = -1;
    return items;
}

/* Waits until n workers block in pool__queue_pop (no deadline of its own:
 * the suite's timeout is the limit). */
static void wait_for_waiters(struct pool__queue *q, int n)
{
    while (pool__queue_waiting(q) != n)
        poll(NULL, 0, 1);
}

/* A worker that takes one entry and says what it got. */
struct taker {
    struct pool__queue *q;
    pthread_t thread;
    struct pool__conn *got;
    atomic_bool returned;
};

static void *take_one(void *arg)
{
    struct taker *t = arg;
    t->got = pool__queue_pop(t->q);
    atomic_store(&t->returned, true);
    return NULL;
}

static void taker_start(struct taker *t, struct pool__queue *q)
{
    t->q = q;
    t->got = NULL;
    atomic_init(&t->returned, false);
    cr_assert_eq(pthread_create(&t->thread, NULL, take_one, t), 0);
}

Test(queue, entries_leave_in_the_order_they_came)
{
    struct pool__queue q;
    struct pool__conn *items = items_new(6);
    pool__queue_init(&q, 6);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pool__queue_push(&q, &items[i]), 0);
    cr_assert_eq(pool__queue_pop(&q), &items[0]);
    cr_assert_eq(pool__queue_pop(&q), &items[1]);
    cr_assert_eq(pool__queue_push(&q, &items[4]), 0); /* behind the two still queued */
    cr_assert_eq(pool__queue_push(&q, &items[5]), 0);
    for (int i = 2; i < 6; i++)
        cr_assert_eq(pool__queue_pop(&q), &items[i], "entry %d out of order", i);
    cr_assert_eq(q.len, 0);
    pool__queue_destroy(&q);
    free(items);
}

/* A full queue answers at once (the front end sheds with a 503), keeps what
 * it holds untouched, and takes entries again once one has left. */
Test(queue, a_full_queue_refuses_at_once)
{
    struct pool__queue q;
    struct pool__conn *items = items_new(5);
    pool__queue_init(&q, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pool__queue_push(&q, &items[i]), 0);
    cr_assert_eq(pool__queue_push(&q, &items[3]), -EAGAIN);
    cr_assert_eq(pool__queue_push(&q, &items[4]), -EAGAIN);
    cr_assert_eq(q.len, 3);
    cr_assert_eq(pool__queue_pop(&q), &items[0]);
    cr_assert_eq(pool__queue_push(&q, &items[3]), 0);
    cr_assert_eq(pool__queue_push(&q, &items[4]), -EAGAIN);
    for (int i = 1; i < 4; i++)
        cr_assert_eq(pool__queue_pop(&q), &items[i]);
    pool__queue_destroy(&q);
    free(items);
}

/* A worker on an empty queue blocks, and the next push hands it the entry. */
Test(queue, an_empty_queue_makes_a_worker_wait_for_the_next_push)
{
    struct pool__queue q;
    struct pool__conn *items = items_new(1);
    struct taker t;
    pool__queue_init(&q, 4);
    taker_start(&t, &q);
    wait_for_waiters(&q, 1);
    cr_assert_not(atomic_load(&t.returned), "pop returned from an empty queue");
    cr_assert_eq(pool__queue_push(&q, &items[0]), 0);
    pthread_join(t.thread, NULL);
    cr_assert_eq(t.got, &items[0]);
    cr_assert_eq(pool__queue_waiting(&q), 0);
    pool__queue_destroy(&q);
    free(items);
}

/* Stopping is one sentinel that every waiting worker sees: each returns
 * NULL, none is left blocked (the joins would hang). */
Test(queue, stop_wakes_every_waiting_worker)
{
    enum { WORKERS = 8 };
    struct pool__queue q;
    struct taker t[WORKERS];
    pool__queue_init(&q, 4);
    for (int i = 0; i < WORKERS; i++)
        taker_start(&t[i], &q);
    wait_for_waiters(&q, WORKERS);
    pool__queue_stop(&q);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i].thread, NULL);
        cr_assert_null(t[i].got, "worker %d got an entry from an empty queue", i);
    }
    pool__queue_destroy(&q);
}

/* Shutdown lets the requests already queued be served: the entries come out
 * first, then every pop answers NULL. */
Test(queue, stop_hands_out_the_queued_entries_first)
{
    struct pool__queue q;
    struct pool__conn *items = items_new(3);
    pool__queue_init(&q, 4);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pool__queue_push(&q, &items[i]), 0);
    pool__queue_stop(&q);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pool__queue_pop(&q), &items[i]);
    cr_assert_null(pool__queue_pop(&q));
    cr_assert_null(pool__queue_pop(&q));
    pool__queue_destroy(&q);
    free(items);
}

/* ---- many producers, many consumers ---- */

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 10000, CAP = 16 };

struct stress {
    struct pool__queue q;
    struct pool__conn *items; /* producer p pushes items[p * PER_PRODUCER + k] in k order */
    atomic_int seen[PRODUCERS * PER_PRODUCER];
    atomic_int out_of_order; /* a consumer saw a producer's entries out of order */
};

struct producer {
    struct stress *s;
    int index;
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    struct pool__conn *mine = &pr->s->items[pr->index * PER_PRODUCER];
    for (int k = 0; k < PER_PRODUCER; k++)
        while (pool__queue_push(&pr->s->q, &mine[k]) == -EAGAIN)
            sched_yield(); /* full: the consumers are behind */
    return NULL;
}

/* Counts every entry it takes. The queue is one FIFO, so the entries one
 * consumer takes from one producer must come in that producer's order. */
static void *consume(void *arg)
{
    struct stress *s = arg;
    int last[PRODUCERS];
    struct pool__conn *c;
    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    while ((c = pool__queue_pop(&s->q))) {
        int i = (int)(c - s->items);
        int p = i / PER_PRODUCER, k = i % PER_PRODUCER;
        atomic_fetch_add(&s->seen[i], 1);
        if (k <= last[p])
            atomic_fetch_add(&s->out_of_order, 1);
        last[p] = k;
    }
    return NULL;
}

Test(queue, many_producers_and_consumers_pass_every_entry_exactly_once)
{
    struct stress *s = calloc(1, sizeof(*s));
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    struct producer pr[PRODUCERS];
    cr_assert_not_null(s);
    s->items = items_new(PRODUCERS * PER_PRODUCER);
    pool__queue_init(&s->q, CAP);
    for (int i = 0; i < CONSUMERS; i++)
        cr_assert_eq(pthread_create(&cons[i], NULL, consume, s), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i] = (struct producer){.s = s, .index = i};
        cr_assert_eq(pthread_create(&prod[i], NULL, produce, &pr[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    pool__queue_stop(&s->q); /* after the last push: consumers drain, then exit */
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(cons[i], NULL);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        cr_assert_eq(atomic_load(&s->seen[i]), 1, "entry %d taken %d times", i,
                     atomic_load(&s->seen[i]));
    cr_assert_eq(atomic_load(&s->out_of_order), 0);
    cr_assert_eq(s->q.len, 0);
    pool__queue_destroy(&s->q);
    free(s->items);
    free(s);
}
