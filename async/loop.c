/* The async engine's side of its event loop (evloop/): what the shared turn
 * calls. After the events of a wakeup, and again after its timers, the jobs
 * a database answer or a timeout woke resume (async__job_resume_ready);
 * before them, the connections that used up their budget in the last turn
 * run on (async__conn_run_posted). */
#include <stdlib.h>
#include <string.h>

#include "async_int.h"

static void on_accepted(struct evloop *ev, int fd)
{
    async__conn_accepted(async__loop_of(ev), fd);
}

static bool has_work(struct evloop *ev)
{
    return !evloop_list_empty(&async__loop_of(ev)->posted);
}

static void run_posted(struct evloop *ev)
{
    async__conn_run_posted(async__loop_of(ev));
}

static void resume_ready(struct evloop *ev)
{
    async__job_resume_ready(async__loop_of(ev));
}

static const struct evloop_ops async_ops = {
    .accepted = on_accepted,
    .conn_event = async__conn_on_event,
    .conn_stop = async__conn_stop,
    .conn_timeout = async__conn_timeout,
    .has_work = has_work,
    .run_deferred = run_posted,
    .run_ready = resume_ready,
    .db_answer = async__db_on_answer,
    .db_lost = async__db_on_lost,
};

static void *loop_main(void *arg)
{
    evloop_run(arg);
    return NULL;
}

/* On the main thread, before the loop's thread starts. */
static int loop_init(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd)
{
    struct loop *lp = async__loop_of(ev);
    memset(lp, 0, sizeof(*lp));
    for (int i = 0; i < cfg->wl->nrequests; i++)
        if (cfg->wl->requests[i].nsteps > lp->max_steps)
            lp->max_steps = cfg->wl->requests[i].nsteps;
    evloop_list_init(&lp->ready);
    evloop_list_init(&lp->posted);
    return evloop_init(ev, id, cfg, listen_fd, &async_ops, 0x6f7665726c6170ULL);
}

/* On the main thread, after the loop's thread ended. */
static void loop_free(struct evloop *ev)
{
    struct loop *lp = async__loop_of(ev);
    while (!evloop_list_empty(&ev->conns))
        async__conn_free(evloop_container(ev->conns.next, struct conn, io.link));
    evloop_reap_dead(ev);
    async__jobs_free(lp);
    evloop_free(ev);
}

const struct evloop_engine async__engine = {
    .loop_size = sizeof(struct loop),
    .init = loop_init,
    .main = loop_main,
    .free = loop_free,
};
