/* The coro engine as the shared loop (evloop/) sees it: what each event,
 * timeout and queued coroutine runs, and coro_run, which builds and runs the
 * loops through evloop_serve (one loop per --loops, each on its own thread
 * with its own SO_REUSEPORT listener, loop 0 on the caller's) until
 * SIGINT/SIGTERM and every loop has let its requests in flight finish.
 * In a turn: the coroutines that gave up the last one resume first (the
 * loop's deferred list), then the events, then those an answer woke (its
 * ready list), then the timers, then those a timeout woke. The loop's thread
 * keeps its own stack as a fiber, the one every coroutine switches back to. */
#include "coro.h"
#include "coro_int.h"

/* On the loop's own thread: its stack becomes the loop's fiber. */
static void loop_thread_start(struct evloop *ev)
{
    coro__fiber_init_thread(&coro__loop_of(ev)->fiber);
}

/* Every coroutine, suspended wherever it was, and the closed connections
 * some still held. */
static void loop_free(struct evloop *ev)
{
    coro__free_all(coro__loop_of(ev));
}

static const struct evloop_engine coro_engine = {
    .loop_size = sizeof(struct loop),
    .seed = 0x636f726f6c6f6f70ULL,
    .ops =
        {
            .accepted = coro__conn_accepted,
            .conn_event = coro__conn_on_event,
            .conn_stop = coro__conn_stop,
            .conn_timeout = coro__conn_timeout,
            .run_deferred = coro__run_queued,
            .run_ready = coro__run_queued,
            .db_answer = coro__db_on_answer,
            .db_lost = coro__db_on_lost,
        },
    .thread_start = loop_thread_start,
    .free = loop_free,
};

int coro_run(const struct serve_config *cfg)
{
    return evloop_serve(cfg, &coro_engine);
}
