/* One event loop: its epoll, its listener, its timers, its database
 * connections and its free lists. A loop runs on its own thread and shares
 * nothing mutable with the others, so nothing here takes a lock.
 *
 * The order of one turn: wait for events (no longer than the next timer),
 * run what gave up its last turn, dispatch the events, run what they woke,
 * fire the due timers and run what those woke, then free the connections
 * closed during the turn. Freeing last means an event later in the same
 * batch can never point at a freed or reused connection. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "proc.h"

/* ---- spare buffers ---- */

int evloop_spare_take(struct evloop_spares *s, struct http_buf *b, size_t min)
{
    if (b->data)
        return 0;
    if (s->n > 0) {
        *b = s->items[--s->n];
        b->len = 0;
        return 0;
    }
    http_buf_init(b);
    return http_buf_reserve(b, min);
}

void evloop_spare_give(struct evloop_spares *s, struct http_buf *b)
{
    if (!b->data)
        return;
    if (s->n == s->cap && s->n < EVLOOP_MAX_SPARES) {
        int cap = s->cap ? s->cap * 2 : 64;
        struct http_buf *items = realloc(s->items, (size_t)cap * sizeof(*items));
        if (items) {
            s->items = items;
            s->cap = cap;
        }
    }
    if (s->n < s->cap)
        s->items[s->n++] = *b;
    else
        http_buf_free(b); /* the excess of a burst, or no room to keep it */
    http_buf_init(b);
}

static void spares_free(struct evloop_spares *s)
{
    for (int i = 0; i < s->n; i++)
        http_buf_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* ---- connections closed during the turn ---- */

void evloop_defer_free(struct evloop *ev, void *c)
{
    if (ev->ndead == ev->dead_cap) {
        int cap = ev->dead_cap ? ev->dead_cap * 2 : 64;
        void **dead = realloc(ev->dead, (size_t)cap * sizeof(*dead));
        if (!dead)
            return; /* leak the struct rather than risk a stale event */
        ev->dead = dead;
        ev->dead_cap = cap;
    }
    ev->dead[ev->ndead++] = c;
}

/* Closed connections go to the free list, or are freed when it cannot grow. */
void evloop_reap_dead(struct evloop *ev)
{
    for (int i = 0; i < ev->ndead; i++) {
        void *c = ev->dead[i];
        if (ev->nfree_conns == ev->free_conns_cap) {
            int cap = ev->free_conns_cap ? ev->free_conns_cap * 2 : 64;
            void **fc = realloc(ev->free_conns, (size_t)cap * sizeof(*fc));
            if (!fc) {
                free(c);
                continue;
            }
            ev->free_conns = fc;
            ev->free_conns_cap = cap;
        }
        ev->free_conns[ev->nfree_conns++] = c;
    }
    ev->ndead = 0;
}

/* ---- accepting ---- */

static void on_accept_pause_over(struct evloop_timer *t)
{
    struct evloop *ev = evloop_container(t, struct evloop, accept_pause);
    if (ev->listen_fd >= 0 && ev->accept_paused &&
        evloop_poll_add(ev->epfd, ev->listen_fd, EPOLLIN, &ev->listen_watch) == 0)
        ev->accept_paused = false;
}

/* Out of descriptors: proc_shed_accept resets the waiting client with the
 * spare descriptor. If even that fails, the listener rests for a moment: a
 * level-triggered listener that cannot accept would wake the loop forever. */
static bool shed_one(struct evloop *ev)
{
    if (proc_shed_accept(ev->listen_fd, &ev->spare_fd))
        return true;
    if (evloop_poll_del(ev->epfd, ev->listen_fd) == 0) {
        ev->accept_paused = true;
        evloop_timer_set(ev, &ev->accept_pause, ev->now + EVLOOP_EMFILE_PAUSE);
    }
    return false;
}

/* The listener is level-triggered: a batch is capped so an accept storm
 * cannot starve the open connections, and what is left in the backlog simply
 * wakes the next turn; edge-triggered, a capped batch or a failed accept would
 * lose the wakeup and leave clients waiting in the backlog. */
static void on_acceptable(struct evloop *ev)
{
    for (int i = 0; i < EVLOOP_ACCEPT_BATCH && ev->listen_fd >= 0; i++) {
        int fd = accept4(ev->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            ev->ops->accepted(ev, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
            shed_one(ev))
            continue;
        return; /* EAGAIN: the backlog is empty (or the listener rests) */
    }
}

/* ---- stopping ---- */

static void on_stop_deadline(struct evloop_timer *t)
{
    struct evloop *ev = evloop_container(t, struct evloop, stop_deadline);
    ev->done = true;
}

/* SIGINT/SIGTERM: stop accepting, close connections between requests, let
 * requests in flight finish (each then closes its connection), and give up
 * on stragglers after the database timeout and EVLOOP_STOP_GRACE_NS. Walking
 * every connection is O(connections), once, at shutdown. */
static void begin_stop(struct evloop *ev)
{
    ev->stopping = true;
    evloop_poll_del(ev->epfd, proc_stop_fd());
    if (ev->listen_fd >= 0) {
        close(ev->listen_fd);
        ev->listen_fd = -1;
    }
    evloop_timer_cancel(ev, &ev->accept_pause);
    struct evloop_list *n, *next;
    for (n = ev->conns.next; n != &ev->conns; n = next) {
        next = n->next;
        ev->ops->conn_stop(evloop_container(n, struct evloop_conn, link));
    }
    evloop_timer_set(ev, &ev->stop_deadline,
                     ev->now + ev->cfg->db_timeout_ns + EVLOOP_STOP_GRACE_NS);
}

/* ---- the turn ---- */

static int next_timeout_ms(struct evloop *ev)
{
    if (!evloop_list_empty(&ev->deferred) || !evloop_list_empty(&ev->ready))
        return 0; /* work is waiting: only look for events, do not sleep */
    uint64_t next = heap_next(&ev->timers);
    if (next == UINT64_MAX)
        return -1;
    if (next <= ev->now)
        return 0;
    uint64_t ms = (next - ev->now + 999999) / 1000000; /* round up: never wake early */
    return ms > 60000 ? 60000 : (int)ms;
}

static void dispatch(struct evloop *ev, struct epoll_event *e)
{
    struct evloop_watch *w = e->data.ptr;
    switch (w->kind) {
    case EVLOOP_WATCH_STOP: begin_stop(ev); break;
    case EVLOOP_WATCH_LISTENER: on_acceptable(ev); break;
    case EVLOOP_WATCH_CONN: ev->ops->conn_event((struct evloop_conn *)w, e->events); break;
    case EVLOOP_WATCH_DB: evloop_db_on_event((struct evloop_dbc *)w, e->events); break;
    }
}

/* Each due timer leaves the heap before it fires, so its callback may arm it
 * again; one armed for a deadline already past fires in this same pass. */
static void fire_timers(struct evloop *ev)
{
    struct heap_node *x;
    while ((x = heap_pop_due(&ev->timers, ev->now))) {
        struct evloop_timer *t = heap_entry(x, struct evloop_timer, node);
        t->fire(t);
    }
}

/* What was deferred in the last turn, each once: what defers itself again
 * waits for the next turn. */
static void run_deferred(struct evloop *ev)
{
    struct evloop_list batch;
    evloop_list_init(&batch);
    evloop_list_splice(&batch, &ev->deferred);
    while (!evloop_list_empty(&batch)) {
        struct evloop_list *node = batch.next;
        evloop_list_remove(node);
        ev->ops->run_deferred(node);
    }
}

/* What was woken, until none is left: running one may wake another. */
static void run_ready(struct evloop *ev)
{
    while (!evloop_list_empty(&ev->ready)) {
        struct evloop_list *node = ev->ready.next;
        evloop_list_remove(node);
        ev->ops->run_ready(node);
    }
}

void evloop_run(struct evloop *ev)
{
    struct epoll_event events[EVLOOP_MAX_EVENTS];
    const struct evloop_backend *b = ev->engine->backend;
    if (ev->engine->thread_start)
        ev->engine->thread_start(ev);
    while (!ev->done) {
        ev->now = proc_now_ns();
        int n = b ? b->wait(ev, next_timeout_ms(ev))
                  : evloop_poll_wait(ev->epfd, events, EVLOOP_MAX_EVENTS, next_timeout_ms(ev));
        if (n < 0) {
            fprintf(stderr, "overlap serve: loop %d: %s: %s\n", ev->id, b ? "wait" : "epoll_wait",
                    strerror(-n));
            break;
        }
        ev->now = proc_now_ns();
        run_deferred(ev); /* those that yielded last turn go first */
        if (b)
            n = b->dispatch(ev, events, EVLOOP_MAX_EVENTS); /* completions, then epoll's */
        for (int i = 0; i < n; i++)
            dispatch(ev, &events[i]);
        run_ready(ev);
        fire_timers(ev);
        run_ready(ev);
        evloop_reap_dead(ev);
        if (ev->stopping && ev->nconns == 0)
            ev->done = true;
    }
}

/* ---- setup and teardown (on the main thread, before the loop's thread
 * starts and after it ends) ---- */

int evloop_init(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd,
                const struct evloop_engine *engine)
{
    memset(ev, 0, sizeof(*ev));
    ev->id = id;
    ev->cfg = cfg;
    ev->engine = engine;
    ev->ops = &engine->ops;
    ev->listen_fd = listen_fd;
    ev->stop_watch.kind = EVLOOP_WATCH_STOP;
    ev->listen_watch.kind = EVLOOP_WATCH_LISTENER;
    ev->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ev->now = proc_now_ns();
    heap_init(&ev->timers);
    evloop_timer_init(&ev->accept_pause, on_accept_pause_over);
    evloop_timer_init(&ev->stop_deadline, on_stop_deadline);
    evloop_list_init(&ev->conns);
    evloop_list_init(&ev->deferred);
    evloop_list_init(&ev->ready);
    wl_rng_seed(&ev->rng, ev->now ^ ((uint64_t)id << 32) ^ engine->seed);
    ev->epfd = evloop_poll_create();
    if (ev->epfd < 0)
        return ev->epfd;
    int err = evloop_poll_add(ev->epfd, proc_stop_fd(), EPOLLIN, &ev->stop_watch);
    if (err == 0)
        err = evloop_poll_add(ev->epfd, listen_fd, EPOLLIN, &ev->listen_watch);
    if (err == 0)
        err = evloop_db_open_all(ev);
    if (err == 0 && engine->backend)
        err = engine->backend->init(ev);
    return err;
}

void evloop_free(struct evloop *ev)
{
    evloop_reap_dead(ev);
    if (ev->engine && ev->engine->backend && ev->io)
        ev->engine->backend->free(ev);
    evloop_db_close_all(ev);
    for (int i = 0; i < ev->nfree_conns; i++)
        free(ev->free_conns[i]);
    free(ev->free_conns);
    free(ev->dead);
    spares_free(&ev->in_spares);
    spares_free(&ev->out_spares);
    heap_free(&ev->timers);
    if (ev->listen_fd >= 0)
        close(ev->listen_fd);
    if (ev->spare_fd >= 0)
        close(ev->spare_fd);
    if (ev->epfd >= 0)
        close(ev->epfd);
}
