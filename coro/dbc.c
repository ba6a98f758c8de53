/* The loop's database connections, and the one call a coroutine makes on
 * them: coro__db_query, which sends a tagged query on the next connection
 * that is up (round robin), parks the coroutine on that connection and
 * suspends it. Answers arrive in any order on any connection; the tag finds
 * the coroutine, and its generation makes a late answer to a query that
 * already timed out miss.
 *
 * An answer resumes its coroutine inside the decoder's callback, just long
 * enough to append the rows to its body (they live only during the
 * callback), and the coroutine then queues itself to go on after the batch:
 * no request code ever runs inside the database client. A timeout (504) or a
 * lost connection (sent once more, then 503) queues it the same way.
 *
 * A dead connection is retried from a timer with exponential backoff; while
 * none is up, queries get 503 at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro_int.h"

#define TAG_GEN_MASK ((1u << (32 - CORO_ID_BITS)) - 1)

static uint32_t coro_tag(const struct coro *co)
{
    return co->id | (co->gen << CORO_ID_BITS);
}

/* ---- waking a parked coroutine ---- */

/* Unparks co with outcome w; a later answer to the same query now misses. */
static void unpark(struct loop *lp, struct coro *co, enum wake w)
{
    coro__timer_cancel(lp, &co->timeout);
    coro__list_remove(&co->db_link);
    co->db = NULL;
    co->gen = (co->gen + 1) & TAG_GEN_MASK;
    co->wake = w;
}

void coro__db_on_timeout(struct timer *t)
{
    struct coro *co = coro__container(t, struct coro, timeout);
    unpark(co->loop, co, WAKE_TIMEOUT);
    coro__ready(co->loop, co);
}

/* ---- connections ---- */

static int watch_events(struct dbc *d, bool want_write)
{
    uint32_t ev = EPOLLIN | (want_write ? EPOLLOUT : 0);
    int err = coro__poll_mod(d->loop->epfd, db_async_fd(d->a), ev, &d->watch);
    if (err == 0)
        d->want_write = want_write;
    return err;
}

static void drop_client(struct dbc *d)
{
    coro__poll_del(d->loop->epfd, db_async_fd(d->a));
    db_async_close(d->a);
    d->a = NULL;
}

/* Starts a connect that never blocks: EPOLLOUT reports its end and
 * coro__db_on_event its outcome; queries sent meanwhile wait in the
 * client's queue. */
static int db_connect(struct dbc *d)
{
    struct loop *lp = d->loop;
    int err = db_async_open(lp->cfg->db_addr, &d->a);
    if (err < 0)
        return err;
    err = coro__poll_add(lp->epfd, db_async_fd(d->a), EPOLLIN, &d->watch);
    if (err < 0) {
        db_async_close(d->a);
        d->a = NULL;
        return err;
    }
    d->want_write = false;
    if (!db_async_connecting(d->a))
        d->backoff_ns = CORO_BACKOFF_MIN;
    if (db_async_want_write(d->a) && (err = watch_events(d, true)) < 0)
        drop_client(d);
    return err;
}

static void schedule_reconnect(struct dbc *d)
{
    struct loop *lp = d->loop;
    if (coro__timer_set(lp, &d->reconnect, lp->now + d->backoff_ns) < 0)
        return;
    d->backoff_ns *= 2;
    if (d->backoff_ns > CORO_BACKOFF_MAX)
        d->backoff_ns = CORO_BACKOFF_MAX;
}

static void on_reconnect(struct timer *t)
{
    struct dbc *d = coro__container(t, struct dbc, reconnect);
    if (d->loop->stopping || d->a)
        return;
    if (db_connect(d) < 0)
        schedule_reconnect(d);
}

/* The connection is dead: every coroutine parked on it wakes to send its
 * query once more. A connection that was up is reopened at once (a restarted
 * database); one whose connect failed waits out its backoff, or a refusing
 * database would be asked again on every turn. */
static void db_fail(struct dbc *d, int err)
{
    struct loop *lp = d->loop;
    if (!d->a)
        return;
    bool was_up = !db_async_connecting(d->a);
    if (was_up)
        fprintf(stderr, "overlap serve: loop %d: database connection %d lost: %s\n", lp->id,
                d->index, strerror(-err));
    drop_client(d);
    while (!coro__list_empty(&d->parked)) {
        struct coro *co = coro__container(d->parked.next, struct coro, db_link);
        unpark(lp, co, WAKE_LOST);
        coro__ready(lp, co);
    }
    lp->last_connect = lp->now;
    if (!was_up || db_connect(d) < 0)
        schedule_reconnect(d);
}

/* The answer tagged res->tag. A stale tag (the query timed out, or was sent
 * again elsewhere) is dropped. */
static void on_result(void *ctx, const struct db_result *res)
{
    struct dbc *d = ctx;
    struct loop *lp = d->loop;
    uint32_t id = res->tag & (CORO_MAX - 1);
    if (id >= lp->ncoros)
        return;
    struct coro *co = lp->coros[id];
    if (co->db != d || coro_tag(co) != res->tag)
        return;
    unpark(lp, co, res->status == DB_OK ? WAKE_ROWS : WAKE_DB_ERROR);
    co->res = res;
    coro__resume(lp, co); /* it takes the rows and queues itself at once */
}

void coro__db_on_event(struct dbc *d, uint32_t events)
{
    int err = 0;
    if (!d->a)
        return;
    bool connecting = db_async_connecting(d->a);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        err = db_async_on_readable(d->a, on_result, d);
    if (err == 0 && (events & EPOLLOUT))
        err = db_async_on_writable(d->a);
    if (err == 0 && connecting && !db_async_connecting(d->a))
        d->backoff_ns = CORO_BACKOFF_MIN; /* up: the next failure starts the backoff anew */
    if (err == 0 && d->want_write != db_async_want_write(d->a))
        err = watch_events(d, db_async_want_write(d->a));
    if (err < 0)
        db_fail(d, err);
}

/* The next connection that is up, round robin. With none up, one is reopened
 * at once if no attempt was made in the last CORO_BACKOFF_MIN, so requests
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
    uint64_t now = proc_now_ns();
    if (now - lp->last_connect < CORO_BACKOFF_MIN)
        return NULL;
    lp->last_connect = now;
    struct dbc *d = &lp->dbs[lp->next_db];
    if (db_connect(d) < 0)
        return NULL;
    coro__timer_cancel(lp, &d->reconnect);
    return d;
}

/* ---- the query, as the coroutine sees it ---- */

/* Sends the query on d. 0, or -errno: d is dead (or -EINVAL: parameters
 * the codec refuses). */
static int send_query(struct coro *co, struct dbc *d, int query, const struct db_value *params,
                      int n)
{
    int err = db_async_send(d->a, coro_tag(co), (uint16_t)query, params, n);
    if (err == 0 && !d->want_write && db_async_want_write(d->a))
        err = watch_events(d, true);
    if (err < 0) /* whatever went out is abandoned: its answer must miss */
        co->gen = (co->gen + 1) & TAG_GEN_MASK;
    return err;
}

/* Suspends co on d until its answer, a timeout or d's death wakes it. */
static enum wake park(struct coro *co, struct dbc *d)
{
    co->db = d;
    co->wake = WAKE_NONE;
    coro__list_push(&d->parked, &co->db_link);
    coro__suspend(co);
    return co->wake;
}

/* co was resumed inside the decoder's callback with res: takes what it needs
 * and leaves the callback, to go on after the batch. */
static int take_answer(struct coro *co, int request, int query, struct http_buf *body, char *reason,
                       size_t cap)
{
    const struct db_result *res = co->res;
    int status = 0;
    co->res = NULL;
    if (co->wake == WAKE_DB_ERROR) {
        snprintf(reason, cap, "%s", res->message);
        status = res->status == DB_EUNAVAILABLE ? 503 : 500;
    } else if (http_body_add(body, co->loop->cfg->wl, request, query, res) < 0) {
        snprintf(reason, cap, "out of memory");
        status = 500;
    }
    coro__ready(co->loop, co);
    coro__suspend(co);
    return status;
}

int coro__db_query(struct coro *co, int request, int query, struct http_buf *body, char *reason,
                   size_t cap)
{
    struct loop *lp = co->loop;
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(lp->cfg->wl, query, &lp->rng, params);
    /* Two attempts, as the pool makes: a connection found dead, or lost
     * while the query was out, costs one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        struct dbc *d = pick_db(lp);
        if (!d)
            break;
        if (coro__timer_set(lp, &co->timeout, proc_now_ns() + lp->cfg->db_timeout_ns) < 0) {
            snprintf(reason, cap, "out of memory");
            return 500;
        }
        int err = send_query(co, d, query, params, n);
        if (err < 0)
            coro__timer_cancel(lp, &co->timeout);
        if (err == -EINVAL) {
            snprintf(reason, cap, "internal error");
            return 500;
        }
        if (err < 0) {
            db_fail(d, err);
            continue;
        }
        switch (park(co, d)) {
        case WAKE_ROWS:
        case WAKE_DB_ERROR: return take_answer(co, request, query, body, reason, cap);
        case WAKE_TIMEOUT: snprintf(reason, cap, "database timed out"); return 504;
        case WAKE_LOST:
        case WAKE_NONE: continue;
        }
    }
    snprintf(reason, cap, "database unreachable");
    return 503;
}

/* ---- setup and teardown ---- */

/* Opens every connection it can; the others retry from a timer, so a server
 * started before its database comes up answers 503 until it does. */
int coro__db_open_all(struct loop *lp)
{
    lp->ndbs = lp->cfg->db_conns;
    lp->dbs = calloc((size_t)lp->ndbs, sizeof(*lp->dbs));
    if (!lp->dbs)
        return -ENOMEM;
    for (int i = 0; i < lp->ndbs; i++) {
        struct dbc *d = &lp->dbs[i];
        d->watch.kind = WATCH_DB;
        d->loop = lp;
        d->index = i;
        d->backoff_ns = CORO_BACKOFF_MIN;
        coro__timer_init(&d->reconnect, on_reconnect);
        coro__list_init(&d->parked);
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

void coro__db_close_all(struct loop *lp)
{
    for (int i = 0; i < lp->ndbs; i++)
        if (lp->dbs[i].a)
            db_async_close(lp->dbs[i].a);
    free(lp->dbs);
    lp->dbs = NULL;
    lp->ndbs = 0;
}
