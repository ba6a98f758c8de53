/* One event loop: its epoll, its listener, its deadline heap, its database
 * connections, its coroutines and its free lists. A loop runs on its own
 * thread and shares nothing mutable with the others, so nothing here takes a
 * lock.
 *
 * The order of one turn: wait for events (no longer than the next timer),
 * resume the coroutines that gave up their last turn, dispatch the events,
 * resume the coroutines they made ready, fire the due timers and resume
 * those they woke, then free the connections closed during the turn. Freeing
 * last means an event later in the same batch never points at a freed or
 * reused connection. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro_int.h"

void coro__list_init(struct list *head)
{
    head->prev = head->next = head;
}

void coro__list_push(struct list *head, struct list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

void coro__list_remove(struct list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

/* ---- timers: nodes of the loop's deadline heap ---- */

void coro__timer_init(struct timer *t, void (*fire)(struct timer *t))
{
    heap_node_init(&t->node);
    t->fire = fire;
}

int coro__timer_set(struct loop *lp, struct timer *t, uint64_t deadline)
{
    return heap_set(&lp->timers, &t->node, deadline);
}

void coro__timer_cancel(struct loop *lp, struct timer *t)
{
    heap_remove(&lp->timers, &t->node);
}

static void fire_timers(struct loop *lp)
{
    struct heap_node *n;
    while ((n = heap_pop_due(&lp->timers, lp->now))) {
        struct timer *t = heap_entry(n, struct timer, node);
        t->fire(t);
    }
}

/* ---- spare buffers: input and output buffers come back here when their
 * connection no longer holds bytes, so an idle connection holds no buffer
 * and the request path stops allocating after warm-up. ---- */

int coro__spare_take(struct spares *s, struct http_buf *b, size_t min)
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

void coro__spare_give(struct spares *s, struct http_buf *b)
{
    if (!b->data)
        return;
    if (s->n == s->cap && s->n < CORO_MAX_SPARES) {
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

static void spares_free(struct spares *s)
{
    for (int i = 0; i < s->n; i++)
        http_buf_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* ---- connections closed during the turn ---- */

void coro__loop_defer_free(struct loop *lp, struct conn *c)
{
    if (lp->ndead == lp->dead_cap) {
        int cap = lp->dead_cap ? lp->dead_cap * 2 : 64;
        struct conn **dead = realloc(lp->dead, (size_t)cap * sizeof(*dead));
        if (!dead)
            return; /* leak the struct rather than risk a stale event */
        lp->dead = dead;
        lp->dead_cap = cap;
    }
    lp->dead[lp->ndead++] = c;
}

/* Closed connections go to the free list, or are freed when it cannot grow. */
static void reap_dead(struct loop *lp)
{
    for (int i = 0; i < lp->ndead; i++) {
        struct conn *c = lp->dead[i];
        if (lp->nfree_conns == lp->free_conns_cap) {
            int cap = lp->free_conns_cap ? lp->free_conns_cap * 2 : 64;
            struct conn **fc = realloc(lp->free_conns, (size_t)cap * sizeof(*fc));
            if (!fc) {
                free(c);
                continue;
            }
            lp->free_conns = fc;
            lp->free_conns_cap = cap;
        }
        lp->free_conns[lp->nfree_conns++] = c;
    }
    lp->ndead = 0;
}

/* ---- accepting ---- */

static void on_accept_pause_over(struct timer *t)
{
    struct loop *lp = coro__container(t, struct loop, accept_pause);
    if (lp->listen_fd >= 0 && lp->accept_paused &&
        coro__poll_add(lp->epfd, lp->listen_fd, EPOLLIN, &lp->listen_watch) == 0)
        lp->accept_paused = false;
}

/* Out of descriptors: proc_shed_accept resets the waiting client with the
 * spare descriptor. If even that fails, the listener rests for a moment: a
 * level-triggered listener that cannot accept would wake the loop forever. */
static bool shed_one(struct loop *lp)
{
    if (proc_shed_accept(lp->listen_fd, &lp->spare_fd))
        return true;
    if (coro__poll_del(lp->epfd, lp->listen_fd) == 0) {
        lp->accept_paused = true;
        coro__timer_set(lp, &lp->accept_pause, lp->now + CORO_EMFILE_PAUSE);
    }
    return false;
}

/* The listener is level-triggered and a wakeup accepts at most a batch: what
 * is left in the backlog wakes the next turn, so an accept storm cannot
 * starve the connections already open. */
static void on_acceptable(struct loop *lp)
{
    for (int i = 0; i < CORO_ACCEPT_BATCH && lp->listen_fd >= 0; i++) {
        int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            coro__conn_accepted(lp, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
            shed_one(lp))
            continue;
        return; /* EAGAIN: the backlog is empty (or the listener rests) */
    }
}

/* ---- stopping ---- */

static void on_stop_deadline(struct timer *t)
{
    struct loop *lp = coro__container(t, struct loop, stop_deadline);
    lp->done = true;
}

/* SIGINT/SIGTERM: stop accepting, close the connections between requests,
 * let the requests in flight finish (each then closes its connection), and
 * give up on stragglers after the database timeout and a second. Walking
 * every connection is O(connections), once, at shutdown. */
static void begin_stop(struct loop *lp)
{
    lp->stopping = true;
    coro__poll_del(lp->epfd, proc_stop_fd());
    if (lp->listen_fd >= 0) {
        close(lp->listen_fd);
        lp->listen_fd = -1;
    }
    coro__timer_cancel(lp, &lp->accept_pause);
    struct list *n, *next;
    for (n = lp->conns.next; n != &lp->conns; n = next) {
        next = n->next;
        coro__conn_stop(coro__container(n, struct conn, link));
    }
    coro__timer_set(lp, &lp->stop_deadline, lp->now + lp->cfg->db_timeout_ns + 1000000000ULL);
}

/* ---- the turn ---- */

static int next_timeout_ms(struct loop *lp)
{
    if (!coro__list_empty(&lp->later) || !coro__list_empty(&lp->ready))
        return 0; /* work is waiting: only look for events, do not sleep */
    uint64_t next = heap_next(&lp->timers);
    if (next == UINT64_MAX)
        return -1;
    if (next <= lp->now)
        return 0;
    uint64_t ms = (next - lp->now + 999999) / 1000000; /* round up: never wake early */
    return ms > 60000 ? 60000 : (int)ms;
}

static void dispatch(struct loop *lp, struct epoll_event *ev)
{
    struct watch *w = ev->data.ptr;
    switch (w->kind) {
    case WATCH_STOP: begin_stop(lp); break;
    case WATCH_LISTENER: on_acceptable(lp); break;
    case WATCH_CONN: coro__conn_on_event((struct conn *)w, ev->events); break;
    case WATCH_DB: coro__db_on_event((struct dbc *)w, ev->events); break;
    }
}

void *coro__loop_main(void *arg)
{
    struct loop *lp = arg;
    struct epoll_event events[CORO_MAX_EVENTS];
    coro__fiber_init_thread(&lp->fiber); /* on the loop's own thread: its stack */
    while (!lp->done) {
        lp->now = proc_now_ns();
        int n = coro__poll_wait(lp->epfd, events, CORO_MAX_EVENTS, next_timeout_ms(lp));
        if (n < 0) {
            fprintf(stderr, "overlap serve: loop %d: epoll_wait: %s\n", lp->id, strerror(-n));
            break;
        }
        lp->now = proc_now_ns();
        coro__run_ready(lp, &lp->later); /* those that yielded last turn go first */
        for (int i = 0; i < n; i++)
            dispatch(lp, &events[i]);
        coro__run_ready(lp, &lp->ready);
        fire_timers(lp);
        coro__run_ready(lp, &lp->ready);
        reap_dead(lp);
        if (lp->stopping && lp->nconns == 0)
            lp->done = true;
    }
    return NULL;
}

/* ---- setup and teardown (on the main thread, before the loop's thread
 * starts and after it ends) ---- */

int coro__loop_init(struct loop *lp, int id, const struct serve_config *cfg, int listen_fd)
{
    memset(lp, 0, sizeof(*lp));
    lp->id = id;
    lp->cfg = cfg;
    lp->listen_fd = listen_fd;
    lp->stop_watch.kind = WATCH_STOP;
    lp->listen_watch.kind = WATCH_LISTENER;
    lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    lp->now = proc_now_ns();
    heap_init(&lp->timers);
    coro__timer_init(&lp->accept_pause, on_accept_pause_over);
    coro__timer_init(&lp->stop_deadline, on_stop_deadline);
    coro__list_init(&lp->conns);
    coro__list_init(&lp->ready);
    coro__list_init(&lp->later);
    wl_rng_seed(&lp->rng, lp->now ^ ((uint64_t)id << 32) ^ 0x636f726f6c6f6f70ULL);
    lp->epfd = coro__poll_create();
    if (lp->epfd < 0)
        return lp->epfd;
    int err = coro__poll_add(lp->epfd, proc_stop_fd(), EPOLLIN, &lp->stop_watch);
    if (err == 0)
        err = coro__poll_add(lp->epfd, listen_fd, EPOLLIN, &lp->listen_watch);
    if (err == 0)
        err = coro__db_open_all(lp);
    return err;
}

void coro__loop_free(struct loop *lp)
{
    while (!coro__list_empty(&lp->conns))
        coro__conn_close(coro__container(lp->conns.next, struct conn, link));
    reap_dead(lp);
    coro__free_all(lp); /* and the closed connections they still held */
    coro__db_close_all(lp);
    for (int i = 0; i < lp->nfree_conns; i++)
        free(lp->free_conns[i]);
    free(lp->free_conns);
    free(lp->dead);
    spares_free(&lp->in_spares);
    spares_free(&lp->out_spares);
    heap_free(&lp->timers);
    if (lp->listen_fd >= 0)
        close(lp->listen_fd);
    if (lp->spare_fd >= 0)
        close(lp->spare_fd);
    if (lp->epfd >= 0)
        close(lp->epfd);
}
