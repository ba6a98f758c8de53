/* The async engine as the shared loop (evloop/) sees it: what each event,
 * timeout and queued node runs, and async_run, which builds and runs the
 * loops through evloop_serve (one loop per --loops, each on its own thread
 * with its own SO_REUSEPORT listener, loop 0 on the caller's) until
 * SIGINT/SIGTERM and every loop has let its requests in flight finish.
 * In a turn: the connections that used up their budget in the last one run
 * on (async__conn_run_deferred), then the events, then the jobs a database
 * answer woke (async__job_run_ready), then the timers, then the jobs a
 * timeout woke. */
#include "async.h"
#include "async_int.h"

/* On the main thread, after evloop_init: jobs are sized for the longest request. */
static int loop_init(struct evloop *ev)
{
    struct loop *lp = async__loop_of(ev);
    for (int i = 0; i < ev->cfg->wl->nrequests; i++)
        if (ev->cfg->wl->requests[i].nsteps > lp->max_steps)
            lp->max_steps = ev->cfg->wl->requests[i].nsteps;
    return 0;
}

static void loop_free(struct evloop *ev)
{
    async__jobs_free(async__loop_of(ev));
}

static const struct evloop_engine async_engine = {
    .loop_size = sizeof(struct loop),
    .seed = 0x6f7665726c6170ULL,
    .ops =
        {
            .accepted = async__conn_accepted,
            .conn_event = async__conn_on_event,
            .conn_stop = async__conn_stop,
            .conn_timeout = async__conn_timeout,
            .run_deferred = async__conn_run_deferred,
            .run_ready = async__job_run_ready,
            .db_answer = async__db_on_answer,
            .db_lost = async__db_on_lost,
        },
    .init = loop_init,
    .free = loop_free,
};

int async_run(const struct serve_config *cfg)
{
    return evloop_serve(cfg, &async_engine);
}

int async_run_on(const struct serve_config *cfg, const struct evloop_backend *backend)
{
    struct evloop_engine engine = async_engine;
    engine.backend = backend;
    return evloop_serve(cfg, &engine);
}
