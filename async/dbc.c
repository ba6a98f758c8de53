/* Async's side of the loop's database connections (evloop/dbc.c keeps them
 * up, with backoff, and picks one round robin). A query goes out tagged with
 * its job's id and generation, and the job (job.c) parks on that
 * connection's list until the tagged answer, a timeout (504) or the
 * connection's death resumes it. Answers arrive in any order; while no
 * connection is up, query steps get 503 at once. */
#include <errno.h>

#include "async_int.h"

/* The answer tagged res->tag, for a job parked on d (ctx); stale tags (the
 * query timed out, or its job moved on) find nothing and are dropped. */
void async__db_on_answer(void *ctx, const struct db_result *res)
{
    struct evloop_dbc *d = ctx;
    struct job *j = async__job_find(async__loop_of(d->ev), res->tag);
    if (j && j->db == d)
        async__job_on_answer(j, res);
}

/* d died with the job on link parked: it sends its query once more
 * (async__job_on_db_lost, which unlinks it). */
void async__db_on_lost(struct evloop_dbc *d, struct evloop_list *link)
{
    async__job_on_db_lost(evloop_container(link, struct job, db_link));
}

int async__db_send(struct loop *lp, uint32_t tag, int query, struct evloop_dbc **sent_on)
{
    struct evloop *ev = &lp->ev;
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(ev->cfg->wl, query, &ev->rng, params), err = -ENOTCONN;
    struct evloop_dbc *d = NULL;
    for (int attempt = 0; attempt < 2 && err < 0; attempt++) {
        if (!(d = evloop_db_pick(ev, ev->now)))
            return -503;
        err = db_async_send(d->a, tag, (uint16_t)query, params, n);
        if (err == -EINVAL)
            return -500;
        if (err < 0)
            evloop_db_fail(d, err); /* found dead: the next attempt takes another */
    }
    if (err < 0)
        return -503;
    if (evloop_db_watch_output(d) < 0) {
        evloop_db_fail(d, -EIO);
        return -503;
    }
    *sent_on = d;
    return 0;
}
