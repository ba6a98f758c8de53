/* The loop's database connections. Each loop owns --db-conns non-blocking
 * connections; a query goes to the next one that is up (round robin, see
 * evloop_db_pick), tagged by the engine, and the engine's request parks on
 * that connection's list until the tagged answer (ops->db_answer), a timeout
 * or the connection's death (ops->db_lost) wakes it. Answers arrive in any
 * order.
 *
 * A dead connection is retried from a timer with exponential backoff; while
 * none is up, queries get 503 at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"

/* A connect may replace the client's socket (PostgreSQL's libpq does, trying
 * another address): closing the old one took it out of epoll, so a socket
 * epoll does not know is added. */
static int watch_events(struct evloop_dbc *d, bool want_write)
{
    uint32_t events = EPOLLIN | (want_write ? EPOLLOUT : 0);
    int err = evloop_poll_mod(d->ev->epfd, db_async_fd(d->a), events, &d->watch);
    if (err == -ENOENT)
        err = evloop_poll_add(d->ev->epfd, db_async_fd(d->a), events, &d->watch);
    if (err == 0)
        d->want_write = want_write;
    return err;
}

static void drop_client(struct evloop_dbc *d)
{
    evloop_poll_del(d->ev->epfd, db_async_fd(d->a));
    db_async_close(d->a);
    d->a = NULL;
}

/* Starts a connect that never blocks: EPOLLOUT reports its end and
 * evloop_db_on_event its outcome; queries sent meanwhile wait in the
 * client's queue. */
static int db_connect(struct evloop_dbc *d)
{
    struct evloop *ev = d->ev;
    int err = db_async_open_wl(ev->cfg->db_addr, ev->cfg->wl, &d->a);
    if (err < 0)
        return err;
    err = evloop_poll_add(ev->epfd, db_async_fd(d->a), EPOLLIN, &d->watch);
    if (err < 0) {
        db_async_close(d->a);
        d->a = NULL;
        return err;
    }
    d->want_write = false;
    if (!db_async_connecting(d->a))
        d->backoff_ns = EVLOOP_BACKOFF_MIN;
    if (db_async_want_write(d->a) && (err = watch_events(d, true)) < 0)
        drop_client(d);
    return err;
}

static void schedule_reconnect(struct evloop_dbc *d)
{
    struct evloop *ev = d->ev;
    if (evloop_timer_set(ev, &d->reconnect, ev->now + d->backoff_ns) < 0)
        return;
    d->backoff_ns *= 2;
    if (d->backoff_ns > EVLOOP_BACKOFF_MAX)
        d->backoff_ns = EVLOOP_BACKOFF_MAX;
}

static void on_reconnect(struct evloop_timer *t)
{
    struct evloop_dbc *d = evloop_container(t, struct evloop_dbc, reconnect);
    if (d->ev->stopping || d->a)
        return;
    if (db_connect(d) < 0)
        schedule_reconnect(d);
}

/* Each request parked on d is handed to the engine, which sends its query
 * once more, so a database restart between two requests costs no error.
 * Walking the parked list costs O(its queries in flight), once per failure.
 * A connection that was up is reopened at once (a restarted database); one
 * whose connect failed waits out its backoff, or a refusing database would
 * be asked again on every turn of the loop. */
void evloop_db_fail(struct evloop_dbc *d, int err)
{
    struct evloop *ev = d->ev;
    if (!d->a)
        return;
    bool was_up = !db_async_connecting(d->a);
    if (was_up)
        fprintf(stderr, "overlap serve: loop %d: database connection %d lost: %s\n", ev->id,
                d->index, strerror(-err));
    drop_client(d);
    while (!evloop_list_empty(&d->parked))
        ev->ops->db_lost(d, d->parked.next);
    ev->last_connect = ev->now;
    if (!was_up || db_connect(d) < 0)
        schedule_reconnect(d);
}

void evloop_db_on_event(struct evloop_dbc *d, uint32_t events)
{
    int err = 0;
    if (!d->a)
        return;
    bool connecting = db_async_connecting(d->a);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        err = db_async_on_readable(d->a, d->ev->ops->db_answer, d);
    if (err == 0 && d->a && (events & EPOLLOUT))
        err = db_async_on_writable(d->a);
    if (err == 0 && connecting && !db_async_connecting(d->a))
        d->backoff_ns = EVLOOP_BACKOFF_MIN; /* up: the next failure starts the backoff anew */
    /* while connecting, the socket itself may have changed */
    if (err == 0 && (connecting || d->want_write != db_async_want_write(d->a)))
        err = watch_events(d, db_async_want_write(d->a));
    if (err < 0)
        evloop_db_fail(d, err);
}

/* With none up, one is reopened at once if no attempt was made in the last
 * EVLOOP_BACKOFF_MIN, so requests find a restarted database without waiting
 * out the backoff, and a database that stays down costs at most one attempt
 * per interval. */
struct evloop_dbc *evloop_db_pick(struct evloop *ev, uint64_t now)
{
    for (int i = 0; i < ev->ndbs; i++) {
        struct evloop_dbc *d = &ev->dbs[ev->next_db];
        ev->next_db = (ev->next_db + 1) % ev->ndbs;
        if (d->a)
            return d;
    }
    if (now - ev->last_connect < EVLOOP_BACKOFF_MIN)
        return NULL;
    ev->last_connect = now;
    struct evloop_dbc *d = &ev->dbs[ev->next_db];
    if (db_connect(d) < 0)
        return NULL;
    evloop_timer_cancel(ev, &d->reconnect);
    return d;
}

int evloop_db_watch_output(struct evloop_dbc *d)
{
    if (!d->want_write && db_async_want_write(d->a))
        return watch_events(d, true);
    return 0;
}

/* Opens every connection it can; the others retry from a timer, so a server
 * started before overlap db comes up answers 503 until it does. A
 * PostgreSQL address is checked first (db_check): the server does not start
 * on one that cannot be reached. */
int evloop_db_open_all(struct evloop *ev)
{
    const struct serve_config *cfg = ev->cfg;
    char msg[512];
    int err;
    /* a database that cannot run the workload (PostgreSQL's: unreachable,
     * its SQL refused, the budget too small) stops the start, once */
    if (ev->id == 0 &&
        (err = db_check(cfg->db_addr, cfg->wl, serve_db_connections(cfg), msg, sizeof(msg))) < 0) {
        fprintf(stderr, "overlap serve: database %s: %s\n", cfg->db_addr, msg);
        return -ECANCELED; /* said: the start ends without another line */
    }
    ev->ndbs = serve_loop_db_conns(cfg, ev->id);
    ev->dbs = calloc((size_t)ev->ndbs, sizeof(*ev->dbs));
    if (!ev->dbs)
        return -ENOMEM;
    for (int i = 0; i < ev->ndbs; i++) {
        struct evloop_dbc *d = &ev->dbs[i];
        d->watch.kind = EVLOOP_WATCH_DB;
        d->ev = ev;
        d->index = i;
        d->backoff_ns = EVLOOP_BACKOFF_MIN;
        evloop_timer_init(&d->reconnect, on_reconnect);
        evloop_list_init(&d->parked);
        err = db_connect(d);
        if (err < 0) {
            if (i == 0 && ev->id == 0)
                fprintf(stderr, "overlap serve: database %s: %s (retrying)\n", ev->cfg->db_addr,
                        strerror(-err));
            schedule_reconnect(d);
        }
    }
    return 0;
}

void evloop_db_close_all(struct evloop *ev)
{
    for (int i = 0; i < ev->ndbs; i++)
        if (ev->dbs[i].a)
            db_async_close(ev->dbs[i].a);
    free(ev->dbs);
    ev->dbs = NULL;
    ev->ndbs = 0;
}
