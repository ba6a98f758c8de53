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
 * The connections themselves, their backoff and the round robin are the
 * shared loop's (evloop/dbc.c); while none is up, queries get 503 at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro_int.h"

static uint32_t coro_tag(const struct coro *co)
{
    return evloop_tag(co->id, co->gen);
}

/* ---- waking a parked coroutine ---- */

/* Unparks co with outcome w; a later answer to the same query now misses. */
static void unpark(struct loop *lp, struct coro *co, enum wake w)
{
    evloop_timer_cancel(&lp->ev, &co->timeout);
    evloop_list_remove(&co->db_link);
    co->db = NULL;
    co->gen = evloop_gen_next(co->gen);
    co->wake = w;
}

void coro__db_on_timeout(struct evloop_timer *t)
{
    struct coro *co = evloop_container(t, struct coro, timeout);
    unpark(co->loop, co, WAKE_TIMEOUT);
    coro__ready(co->loop, co);
}

/* The answer tagged res->tag on d (ctx). A stale tag (the query timed out,
 * or was sent again elsewhere) is dropped. */
void coro__db_on_answer(void *ctx, const struct db_result *res)
{
    struct evloop_dbc *d = ctx;
    struct loop *lp = coro__loop_of(d->ev);
    struct coro *co = evloop_ids_find(&lp->coros, res->tag);
    if (!co || co->db != d || coro_tag(co) != res->tag)
        return;
    unpark(lp, co, res->status == DB_OK ? WAKE_ROWS : WAKE_DB_ERROR);
    co->res = res;
    coro__resume(lp, co); /* it takes the rows and queues itself at once */
}

/* d died with the coroutine on link parked: it wakes to send its query once more. */
void coro__db_on_lost(struct evloop_dbc *d, struct evloop_list *link)
{
    struct coro *co = evloop_container(link, struct coro, db_link);
    struct loop *lp = coro__loop_of(d->ev);
    unpark(lp, co, WAKE_LOST);
    coro__ready(lp, co);
}

/* ---- the query, as the coroutine sees it ---- */

/* Sends the query on d. 0, or -errno: d is dead (or -EINVAL: parameters
 * the codec refuses). */
static int send_query(struct coro *co, struct evloop_dbc *d, int query,
                      const struct db_value *params, int n)
{
    int err = db_async_send(d->a, coro_tag(co), (uint16_t)query, params, n);
    if (err == 0)
        err = evloop_db_watch_output(d);
    if (err < 0) /* whatever went out is abandoned: its answer must miss */
        co->gen = evloop_gen_next(co->gen);
    return err;
}

/* Suspends co on d until its answer, a timeout or d's death wakes it. */
static enum wake park(struct coro *co, struct evloop_dbc *d)
{
    co->db = d;
    co->wake = WAKE_NONE;
    evloop_list_push(&d->parked, &co->db_link);
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
        status = res->status == DB_EUNAVAILABLE ? -503 : -500;
    } else if (http_body_add(body, co->loop->ev.cfg->wl, request, query, res) < 0) {
        snprintf(reason, cap, "out of memory");
        status = -500;
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
    int n = db_bind_params(lp->ev.cfg->wl, query, &lp->ev.rng, params);
    /* Two attempts, as the pool makes: a connection found dead, or lost
     * while the query was out, costs one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        struct evloop_dbc *d = evloop_db_pick(&lp->ev, proc_now_ns());
        if (!d)
            break;
        if (evloop_timer_set(&lp->ev, &co->timeout, proc_now_ns() + lp->ev.cfg->db_timeout_ns) <
            0) {
            snprintf(reason, cap, "out of memory");
            return -500;
        }
        int err = send_query(co, d, query, params, n);
        if (err < 0)
            evloop_timer_cancel(&lp->ev, &co->timeout);
        if (err == -EINVAL) {
            snprintf(reason, cap, "internal error");
            return -500;
        }
        if (err < 0) {
            evloop_db_fail(d, err);
            continue;
        }
        switch (park(co, d)) {
        case WAKE_ROWS:
        case WAKE_DB_ERROR: return take_answer(co, request, query, body, reason, cap);
        case WAKE_TIMEOUT: snprintf(reason, cap, "database timed out"); return -504;
        case WAKE_LOST:
        case WAKE_NONE: continue;
        }
    }
    snprintf(reason, cap, "database unreachable");
    return -503;
}
