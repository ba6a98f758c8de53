/* The coro engine's side of its event loop (evloop/): what the shared turn
 * calls. Before the events of a wakeup, the coroutines that gave up their
 * last turn resume (lp->later); after the events, and again after the
 * timers, those an answer or a timeout woke (lp->ready). The loop's thread
 * keeps its own stack as a fiber, the one every coroutine switches back to. */
#include <stdlib.h>
#include <string.h>

#include "coro_int.h"

static void on_accepted(struct evloop *ev, int fd)
{
    coro__conn_accepted(coro__loop_of(ev), fd);
}

static bool has_work(struct evloop *ev)
{
    struct loop *lp = coro__loop_of(ev);
    return !evloop_list_empty(&lp->later) || !evloop_list_empty(&lp->ready);
}

static void run_later(struct evloop *ev)
{
    struct loop *lp = coro__loop_of(ev);
    coro__run_ready(lp, &lp->later);
}

static void run_ready(struct evloop *ev)
{
    struct loop *lp = coro__loop_of(ev);
    coro__run_ready(lp, &lp->ready);
}

static const struct evloop_ops coro_ops = {
    .accepted = on_accepted,
    .conn_event = coro__conn_on_event,
    .conn_stop = coro__conn_stop,
    .conn_timeout = coro__conn_timeout,
    .has_work = has_work,
    .run_deferred = run_later,
    .run_ready = run_ready,
    .db_answer = coro__db_on_answer,
    .db_lost = coro__db_on_lost,
};

static void *loop_main(void *arg)
{
    struct loop *lp = arg;
    coro__fiber_init_thread(&lp->fiber); /* on the loop's own thread: its stack */
    evloop_run(&lp->ev);
    return NULL;
}

/* On the main thread, before the loop's thread starts. */
static int loop_init(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd)
{
    struct loop *lp = coro__loop_of(ev);
    memset(lp, 0, sizeof(*lp));
    evloop_list_init(&lp->ready);
    evloop_list_init(&lp->later);
    return evloop_init(ev, id, cfg, listen_fd, &coro_ops, 0x636f726f6c6f6f70ULL);
}

/* On the main thread, after the loop's thread ended. */
static void loop_free(struct evloop *ev)
{
    struct loop *lp = coro__loop_of(ev);
    while (!evloop_list_empty(&ev->conns))
        coro__conn_close(evloop_container(ev->conns.next, struct conn, io.link));
    evloop_reap_dead(ev);
    coro__free_all(lp); /* and the closed connections they still held */
    evloop_free(ev);
}

const struct evloop_engine coro__engine = {
    .loop_size = sizeof(struct loop),
    .init = loop_init,
    .main = loop_main,
    .free = loop_free,
};
