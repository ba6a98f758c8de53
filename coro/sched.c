/* Coroutines and their turns. A coroutine is a fiber that serves one
 * connection's requests at a time (coro__serve) and, between connections,
 * waits on its loop's free list with its stack kept warm. Every switch is
 * between the loop and one coroutine, never from one coroutine to another,
 * so what runs next is decided by the loop alone.
 *
 * A coroutine is resumed from four places only: coro__start (a whole head,
 * at once), the loop's ready list (a timeout, a lost database connection,
 * the rest of a request after its answer), its deferred list (its
 * connection used up its budget last turn), and a database answer, which
 * resumes it just long enough to take the rows out of the decoder (see
 * dbc.c). */
#include <errno.h>
#include <stdlib.h>

#include "coro_int.h"

/* Each coroutine's whole life: serve a connection, let it go, wait to be
 * handed the next. It never returns, so its stack never unwinds. */
static void coro_main(void *arg)
{
    struct coro *co = arg;
    for (;;) {
        coro__serve(co);
        co->done = true;
        coro__suspend(co); /* the loop puts it back on the free list */
    }
}

static struct coro *coro_new(struct loop *lp)
{
    if (evloop_ids_reserve(&lp->coros) < 0)
        return NULL;
    struct coro *co = calloc(1, sizeof(*co));
    if (!co)
        return NULL;
    co->loop = lp;
    evloop_list_init(&co->run_link);
    evloop_list_init(&co->db_link);
    evloop_timer_init(&co->timeout, coro__db_on_timeout);
    http_buf_init(&co->body);
    co->id = evloop_ids_add(&lp->coros, co);
    return co;
}

/* A coroutine with a stack: a free one whose stack is warm, else a free one
 * given a fresh stack, else a new one. NULL when no stack can be mapped. */
static struct coro *coro_take(struct loop *lp)
{
    struct coro *co = lp->free_coros;
    if (co && co->fiber.map) {
        lp->free_coros = co->next_free;
        lp->nfree_stacks--;
        return co;
    }
    co = lp->bare_coros;
    if (co)
        lp->bare_coros = co->next_free;
    else if (!(co = coro_new(lp)))
        return NULL;
    if (coro__fiber_create(&co->fiber, lp->ev.cfg->stack_size, coro_main, co) < 0) {
        co->next_free = lp->bare_coros;
        lp->bare_coros = co;
        return NULL;
    }
    return co;
}

/* Back to the free list. Past CORO_KEEP_STACKS free stacks, the stack and
 * the body buffer are given back to the system: a burst of waiting requests
 * does not keep its memory for ever. */
static void coro_put(struct loop *lp, struct coro *co)
{
    co->conn = NULL;
    co->done = false;
    if (lp->nfree_stacks < CORO_KEEP_STACKS) {
        co->next_free = lp->free_coros;
        lp->free_coros = co;
        lp->nfree_stacks++;
        return;
    }
    coro__fiber_destroy(&co->fiber);
    http_buf_free(&co->body);
    co->next_free = lp->bare_coros;
    lp->bare_coros = co;
}

int coro__start(struct loop *lp, struct conn *c, const struct coro__head *h)
{
    struct coro *co = coro_take(lp);
    if (!co)
        return -ENOMEM;
    co->conn = c;
    co->head = *h;
    c->co = co;
    if (c->budget == 0) { /* this connection had its share of the turn */
        c->budget = CORO_BUDGET;
        co->queued = true;
        evloop_defer(&lp->ev, &co->run_link);
        return 0;
    }
    /* At once, as async runs a request inline: the head is hot in the
     * cache, and a burst of short requests reuses one warm stack. The
     * coroutine may let go of c before this returns, and c's next request
     * may start from there: each such nesting spends the connection's
     * budget, so the depth is bounded by CORO_BUDGET. */
    coro__resume(lp, co);
    return 0;
}

void coro__resume(struct loop *lp, struct coro *co)
{
    coro__fiber_switch(&lp->fiber, &co->fiber);
    if (co->done) {
        struct conn *c = co->conn;
        coro_put(lp, co);
        coro__conn_release(c);
    }
}

void coro__suspend(struct coro *co)
{
    coro__fiber_switch(&co->fiber, &co->loop->fiber);
}

void coro__yield_turn(struct coro *co)
{
    struct loop *lp = co->loop;
    co->queued = true;
    evloop_defer(&lp->ev, &co->run_link);
    coro__suspend(co);
}

void coro__ready(struct loop *lp, struct coro *co)
{
    if (co->queued)
        return;
    co->queued = true;
    evloop_ready(&lp->ev, &co->run_link);
}

/* A coroutine the loop took off its deferred or ready list: it goes on. */
void coro__run_queued(struct evloop_list *node)
{
    struct coro *co = evloop_container(node, struct coro, run_link);
    co->queued = false;
    coro__resume(co->loop, co);
}

/* At teardown, after the loop's thread ended: every coroutine, suspended
 * wherever it was, and the closed connections some still held. */
void coro__free_all(struct loop *lp)
{
    for (uint32_t i = 0; i < lp->coros.n; i++) {
        struct coro *co = lp->coros.items[i];
        if (co->conn)
            free(co->conn); /* closed already: the loop closed every connection */
        coro__fiber_destroy(&co->fiber);
        http_buf_free(&co->body);
        free(co);
    }
    evloop_ids_free(&lp->coros);
    lp->free_coros = lp->bare_coros = NULL;
}
