/* The loop's database connections and its requests in flight. Each loop owns
 * --db-conns non-blocking connections; a query step goes to the next one that
 * is up (round robin), tagged with its job's id and generation, and the job
 * parks on that connection's list until the tagged answer, a timeout (504) or
 * the connection's death (503) resumes it. Answers arrive in any order.
 *
 * A dead connection is retried from a timer with exponential backoff; while
 * none is up, query steps get 503 at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_int.h"

#define TAG_GEN_MASK ((1u << (32 - ASYNC_JOB_ID_BITS)) - 1)

static uint32_t job_tag(const struct job *j)
{
    return j->id | (j->gen << ASYNC_JOB_ID_BITS);
}

/* ---- jobs: made once, reused forever, found by id from a tag ---- */

static void on_job_timeout(struct timer *t);

struct job *async__job_get(struct loop *lp)
{
    struct job *j = lp->free_jobs_head;
    if (j) {
        lp->free_jobs_head = (struct job *)j->conn;
        j->conn = NULL;
        return j;
    }
    if (lp->njobs == ASYNC_MAX_JOBS)
        return NULL;
    if (lp->njobs == lp->jobs_cap) {
        uint32_t cap = lp->jobs_cap ? lp->jobs_cap * 2 : 64;
        struct job **jobs = realloc(lp->jobs, cap * sizeof(*jobs));
        if (!jobs)
            return NULL;
        lp->jobs = jobs;
        lp->jobs_cap = cap;
    }
    j = calloc(1, sizeof(*j) + (1 + lp->max_steps) * sizeof(j->phase_ns[0]));
    if (!j)
        return NULL;
    j->id = lp->njobs;
    j->loop = lp;
    async__timer_init(&j->timeout, on_job_timeout);
    async__list_init(&j->db_link);
    async__list_init(&j->ready_link);
    http_buf_init(&j->body);
    lp->jobs[lp->njobs++] = j;
    return j;
}

void async__job_release(struct loop *lp, struct job *j)
{
    heap_remove(&lp->timers, &j->timeout.node);
    async__list_remove(&j->db_link);
    async__list_remove(&j->ready_link);
    j->ready = false;
    j->parked = false;
    j->db = NULL;
    j->gen = (j->gen + 1) & TAG_GEN_MASK; /* a late answer to its last query now misses */
    j->conn = (struct conn *)lp->free_jobs_head;
    lp->free_jobs_head = j;
}

/* Unparks j with an outcome (0: run on from j->step) and queues it to run after this batch of
 * events, outside the database connection's callbacks. */
static void job_wake(struct loop *lp, struct job *j, int error, const char *reason)
{
    heap_remove(&lp->timers, &j->timeout.node);
    async__list_remove(&j->db_link);
    j->parked = false;
    j->db = NULL;
    j->gen = (j->gen + 1) & TAG_GEN_MASK;
    j->error = error;
    j->reason = reason;
    if (!j->ready) {
        j->ready = true;
        async__list_push(&lp->ready, &j->ready_link);
    }
}

static void on_job_timeout(struct timer *t)
{
    struct job *j = async__container(t, struct job, timeout);
    job_wake(j->loop, j, 504, "database timed out");
}

/* ---- connections ---- */

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
 * (on another connection, or this one reopened at once), as the pool does,
 * so a database restart between two requests costs no error; a job whose
 * retry dies too gets 503. Walking the parked list costs O(its queries in
 * flight), once per failure. */
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
    while (!async__list_empty(&d->parked)) {
        struct job *j = async__container(d->parked.next, struct job, db_link);
        bool retry = !j->retried;
        j->retried = true;
        job_wake(lp, j, retry ? 0 : 503, retry ? NULL : "database unreachable");
    }
    lp->last_connect = lp->now;
    /* A connection that was up is reopened at once (a restarted database);
     * one whose connect failed waits out its backoff, or a refusing database
     * would be asked again on every turn of the loop. */
    if (!was_up || db_connect(d) < 0)
        schedule_reconnect(d);
}

/* The answer tagged res->tag: stale tags (the query timed out, or the job was
 * released) are dropped. The result is rendered into the job's body here,
 * because it is valid only during this call; the job runs on after the batch. */
static void on_result(void *ctx, const struct db_result *res)
{
    struct dbc *d = ctx;
    struct loop *lp = d->loop;
    uint32_t id = res->tag & (ASYNC_MAX_JOBS - 1);
    if (id >= lp->njobs)
        return;
    struct job *j = lp->jobs[id];
    if (!j->parked || j->db != d || job_tag(j) != res->tag)
        return;
    const struct wl_step *s = &lp->cfg->wl->requests[j->request].steps[j->step];
    if (res->status != DB_OK) {
        /* The message lives only during this call: keep it in the body
         * buffer, which an error response does not use. */
        j->body.len = 0;
        if (http_buf_append(&j->body, res->message, strlen(res->message) + 1) < 0)
            job_wake(lp, j, 500, "out of memory");
        else
            job_wake(lp, j, res->status == DB_EUNAVAILABLE ? 503 : 500, j->body.data);
        return;
    }
    if (j->conn && http_body_add(&j->body, lp->cfg->wl, j->request, s->query, res) < 0) {
        job_wake(lp, j, 500, "out of memory");
        return;
    }
    uint64_t now = proc_now_ns(); /* the query step is done: its phase is the wait */
    j->phase_ns[1 + j->step++] = now - j->mark;
    j->mark = now;
    j->retried = false;
    job_wake(lp, j, 0, NULL);
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

int async__db_send(struct loop *lp, struct job *j)
{
    const struct wl_workload *wl = lp->cfg->wl;
    const struct wl_step *s = &wl->requests[j->request].steps[j->step];
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(wl, s->query, &lp->rng, params), err = -ENOTCONN;
    struct dbc *d = NULL;
    for (int attempt = 0; attempt < 2 && err < 0; attempt++) {
        if (!(d = pick_db(lp)))
            return 503;
        err = db_async_send(d->a, job_tag(j), (uint16_t)s->query, params, n);
        if (err == -EINVAL)
            return 500;
        if (err < 0)
            db_fail(d, err); /* found dead: the next attempt takes another */
    }
    if (err < 0)
        return 503;
    if (heap_set(&lp->timers, &j->timeout.node, lp->now + lp->cfg->db_timeout_ns) < 0)
        return 500;
    if (!d->want_write && db_async_want_write(d->a) && watch_events(d, true) < 0) {
        heap_remove(&lp->timers, &j->timeout.node);
        db_fail(d, -EIO);
        return 503;
    }
    j->parked = true;
    j->db = d;
    async__list_push(&d->parked, &j->db_link);
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
