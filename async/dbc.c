/* The loop's database connections. Each loop owns --db-conns non-blocking
 * connections; a query goes to the next one that is up (round robin), tagged
 * with its job's id and generation, and the job (job.c) parks on that
 * connection's list until the tagged answer, a timeout (504) or the
 * connection's death resumes it. Answers arrive in any order.
 *
 * A dead connection is retried from a timer with exponential backoff; while
 * none is up, query steps get 503 at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_int.h"

static void on_reconnect(struct timer *t);

static int watch_events(struct dbc *d, bool want_write)
{
    uint32_t ev = EPOLLIN | (want_write ? EPOLLOUT : 0);
    int err = async__poll_mod(d->loop->epfd, db_async_fd(d->a), ev, &d->watch);
    if (err == 0)
        d->want_write = want_write;
    return err;
}

static int db_connect(struct dbc *d)
{
    struct loop *lp = d->loop;
    int err = db_async_open(lp->cfg->db_addr, &d->a);
    if (err < 0)
        return err;
    err = async__poll_add(lp->epfd, db_async_fd(d->a), EPOLLIN, &d->watch);
    if (err < 0) {
        db_async_close(d->a);
        d->a = NULL;
        return err;
    }
    d->want_write = false;
    if (!db_async_connecting(d->a))
        d->backoff_ns = ASYNC_BACKOFF_MIN;
    /* The connect is usually still under way (db_async_open never blocks):
     * EPOLLOUT reports its end, and async__db_on_event its outcome. Queries
     * sent meanwhile wait in the client's queue. */
    if (db_async_want_write(d->a) && (err = watch_events(d, true)) < 0) {
        async__poll_del(lp->epfd, db_async_fd(d->a));
        db_async_close(d->a);
        d->a = NULL;
        return err;
    }
    return 0;
}

static void schedule_reconnect(struct dbc *d)
{
    struct loop *lp = d->loop;
    if (heap_set(&lp->timers, &d->reconnect.node, lp->now + d->backoff_ns) < 0)
        return;
    d->backoff_ns *= 2;
    if (d->backoff_ns > ASYNC_BACKOFF_MAX)
        d->backoff_ns = ASYNC_BACKOFF_MAX;
}

static void on_reconnect(struct timer *t)
{
    struct dbc *d = async__container(t, struct dbc, reconnect);
    if (d->loop->stopping || d->a)
        return;
    if (db_connect(d) < 0)
        schedule_reconnect(d);
}

/* The connection is dead. Each job parked on it sends its query once more
 * (async__job_on_db_lost), so a database restart between two requests costs
 * no error. Walking the parked list costs O(its queries in flight), once per
 * failure. */
static void db_fail(struct dbc *d, int err)
{
    struct loop *lp = d->loop;
    if (!d->a)
        return;
    bool was_up = !db_async_connecting(d->a);
    if (was_up)
        fprintf(stderr, "overlap serve: loop %d: database connection %d lost: %s\n", lp->id,
                d->index, strerror(-err));
    async__poll_del(lp->epfd, db_async_fd(d->a));
    db_async_close(d->a);
    d->a = NULL;
    while (!async__list_empty(&d->parked))
        async__job_on_db_lost(async__container(d->parked.next, struct job, db_link));
    lp->last_connect = lp->now;
    /* A connection that was up is reopened at once (a restarted database);
     * one whose connect failed waits out its backoff, or a refusing database
     * would be asked again on every turn of the loop. */
    if (!was_up || db_connect(d) < 0)
        schedule_reconnect(d);
}

/* The answer tagged res->tag, for a job parked on d; stale tags (the query
 * timed out, or its job moved on) find nothing and are dropped. */
static void on_result(void *ctx, const struct db_result *res)
{
    struct dbc *d = ctx;
    struct job *j = async__job_find(d->loop, res->tag);
    if (j && j->db == d)
        async__job_on_answer(j, res);
}

void async__db_on_event(struct dbc *d, uint32_t events)
{
    int err = 0;
    if (!d->a)
        return;
    bool connecting = db_async_connecting(d->a);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        err = db_async_on_readable(d->a, on_result, d);
    if (err == 0 && d->a && (events & EPOLLOUT))
        err = db_async_on_writable(d->a);
    if (err == 0 && connecting && !db_async_connecting(d->a))
        d->backoff_ns = ASYNC_BACKOFF_MIN; /* up: the next failure starts the backoff anew */
    if (err == 0 && d->want_write != db_async_want_write(d->a))
        err = watch_events(d, db_async_want_write(d->a));
    if (err < 0)
        db_fail(d, err);
}

/* The next connection that is up, round robin. With none up, one is reopened
 * at once if no attempt was made in the last ASYNC_BACKOFF_MIN, so requests
 * find a restarted database without waiting out the backoff, and a database
 * that stays down costs at most one attempt per interval. */
static struct dbc *pick_db(struct loop *lp)
{
    for (int i = 0; i < lp->ndbs; i++) {
        struct dbc *d = &lp->dbs[lp->next_db];
        lp->next_db = (lp->next_db + 1) % lp->ndbs;
        if (d->a)
            return d;
    }
    if (lp->now - lp->last_connect < ASYNC_BACKOFF_MIN)
        return NULL;
    lp->last_connect = lp->now;
    struct dbc *d = &lp->dbs[lp->next_db];
    if (db_connect(d) < 0)
        return NULL;
    heap_remove(&lp->timers, &d->reconnect.node);
    return d;
}

int async__db_send(struct loop *lp, uint32_t tag, int query, struct dbc **sent_on)
{
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(lp->cfg->wl, query, &lp->rng, params), err = -ENOTCONN;
    struct dbc *d = NULL;
    for (int attempt = 0; attempt < 2 && err < 0; attempt++) {
        if (!(d = pick_db(lp)))
            return 503;
        err = db_async_send(d->a, tag, (uint16_t)query, params, n);
        if (err == -EINVAL)
            return 500;
        if (err < 0)
            db_fail(d, err); /* found dead: the next attempt takes another */
    }
    if (err < 0)
        return 503;
    if (!d->want_write && db_async_want_write(d->a) && watch_events(d, true) < 0) {
        db_fail(d, -EIO);
        return 503;
    }
    *sent_on = d;
    return 0;
}

/* Opens every connection it can; the others retry from a timer, so a server
 * started before its database comes up answers 503 until it does. */
int async__db_open_all(struct loop *lp)
{
    lp->ndbs = lp->cfg->db_conns;
    lp->dbs = calloc(lp->ndbs, sizeof(*lp->dbs));
    if (!lp->dbs)
        return -ENOMEM;
    for (int i = 0; i < lp->ndbs; i++) {
        struct dbc *d = &lp->dbs[i];
        d->watch.kind = WATCH_DB;
        d->loop = lp;
        d->index = i;
        d->backoff_ns = ASYNC_BACKOFF_MIN;
        async__timer_init(&d->reconnect, on_reconnect);
        async__list_init(&d->parked);
        int err = db_connect(d);
        if (err < 0) {
            if (i == 0 && lp->id == 0)
                fprintf(stderr, "overlap serve: database %s: %s (retrying)\n", lp->cfg->db_addr,
                        strerror(-err));
            schedule_reconnect(d);
        }
    }
    return 0;
}

void async__db_close_all(struct loop *lp)
{
    for (int i = 0; i < lp->ndbs; i++)
        if (lp->dbs[i].a)
            db_async_close(lp->dbs[i].a);
    free(lp->dbs);
    lp->dbs = NULL;
    lp->ndbs = 0;
}
