/* One event loop: its epoll, its listener, its timers, its database
 * connections and its free lists. A loop runs on its own thread and shares
 * nothing mutable with the others, so nothing here takes a lock.
 *
 * The order of one turn: wait for events (no longer than the next timer),
 * dispatch them, resume the requests a database answer woke, fire the due
 * timers, then free the connections closed during the turn. Freeing last
 * means an event later in the same batch can never point at a freed or
 * reused connection. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "async_int.h"

void async__list_init(struct list *head)
{
    head->prev = head->next = head;
}

void async__list_push(struct list *head, struct list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

void async__list_remove(struct list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

/* ---- spare buffers: input, output and body buffers return here when their
 * connection or request no longer needs them, so an idle connection holds no
 * buffer at all and the request path stops allocating after warm-up. ---- */

int async__spare_take(struct loop *lp, struct spares *s, struct http_buf *b, size_t min)
{
    if (b->data)
        return 0;
    if (s->n > 0) {
        struct spare_buf sb = s->items[--s->n];
        b->data = sb.data;
        b->cap = sb.cap;
        b->len = 0;
        return 0;
    }
    b->len = b->cap = 0;
    return http_buf_reserve(b, min);
}

void async__spare_give(struct spares *s, struct http_buf *b)
{
    if (!b->data)
        return;
    if (s->n == ASYNC_MAX_SPARES) {
        http_buf_free(b);
        return;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        struct spare_buf *items = realloc(s->items, cap * sizeof(*items));
        if (!items) {
            http_buf_free(b);
            return;
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = (struct spare_buf){b->data, b->cap};
    b->data = NULL;
    b->len = b->cap = 0;
}

static void spares_free(struct spares *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->items[i].data);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

void async__loop_defer_free(struct loop *lp, struct conn *c)
{
    if (lp->ndead == lp->dead_cap) {
        int cap = lp->dead_cap ? lp->dead_cap * 2 : 64;
        struct conn **dead = realloc(lp->dead, cap * sizeof(*dead));
        if (!dead) {
            /* Cannot defer: leak the struct rather than risk a stale event. */
            return;
        }
        lp->dead = dead;
        lp->dead_cap = cap;
    }
    lp->dead[lp->ndead++] = c;
}

/* Connections closed during the turn go to the free list (or are freed when
 * it cannot grow). */
static void reap_dead(struct loop *lp)
{
    for (int i = 0; i < lp->ndead; i++) {
        struct conn *c = lp->dead[i];
        if (lp->nfree_conns == lp->free_conns_cap) {
            int cap = lp->free_conns_cap ? lp->free_conns_cap * 2 : 64;
            struct conn **fc = realloc(lp->free_conns, cap * sizeof(*fc));
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
    struct loop *lp = async__container(t, struct loop, accept_pause);
    if (lp->listen_fd >= 0 && lp->accept_paused &&
        async__poll_add(lp->epfd, lp->listen_fd, EPOLLIN, &lp->listen_watch) == 0)
        lp->accept_paused = false;
}

/* Out of descriptors: proc_shed_accept resets the waiting client with the
 * spare descriptor. If even that fails, the listener rests for a moment: a
 * level-triggered listener that cannot accept would wake the loop forever. */
static bool shed_one(struct loop *lp)
{
    if (proc_shed_accept(lp->listen_fd, &lp->spare_fd))
        return true;
    if (async__poll_del(lp->epfd, lp->listen_fd) == 0) {
        lp->accept_paused = true;
        heap_set(&lp->timers, &lp->accept_pause.node, lp->now + ASYNC_EMFILE_PAUSE);
    }
    return false;
}

/* The listener is level-triggered: a batch is capped so an accept storm
 * cannot starve the open connections, and what is left in the backlog simply
 * wakes the next turn; edge-triggered, a capped batch or a failed accept would
 * lose the wakeup and leave clients waiting in the backlog. */
static void on_acceptable(struct loop *lp)
{
    for (int i = 0; i < ASYNC_ACCEPT_BATCH && lp->listen_fd >= 0; i++) {
        int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            async__conn_accepted(lp, fd);
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
    struct loop *lp = async__container(t, struct loop, stop_deadline);
    lp->done = true;
}

/* SIGINT/SIGTERM: stop accepting, close connections between requests, let
 * requests in flight finish (each then closes its connection), and give up
 * on stragglers after the database timeout and a second. Walking every
 * connection is O(connections), once, at shutdown. */
static void begin_stop(struct loop *lp)
{
    lp->stopping = true;
    async__poll_del(lp->epfd, proc_stop_fd());
    if (lp->listen_fd >= 0) {
        close(lp->listen_fd);
        lp->listen_fd = -1;
    }
    heap_remove(&lp->timers, &lp->accept_pause.node);
    struct list *n, *next;
    for (n = lp->conns.next; n != &lp->conns; n = next) {
        next = n->next;
        async__conn_stop(async__container(n, struct conn, link));
    }
    heap_set(&lp->timers, &lp->stop_deadline.node,
             lp->now + lp->cfg->db_timeout_ns + 1000000000ULL);
}

/* ---- the turn ---- */

static int next_timeout_ms(struct loop *lp)
{
    uint64_t next = heap_next(&lp->timers);
    if (!async__list_empty(&lp->posted))
        return 0; /* work is waiting: only look for events, do not sleep */
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
    case WATCH_CONN: async__conn_on_event((struct conn *)w, ev->events); break;
    case WATCH_DB: async__db_on_event((struct dbc *)w, ev->events); break;
    }
}

/* Each due timer leaves the heap before it fires, so its callback may arm it
 * again; one armed for a deadline already past fires in this same pass. */
static void fire_timers(struct loop *lp)
{
    struct heap_node *x;
    while ((x = heap_pop_due(&lp->timers, lp->now))) {
        struct timer *t = heap_entry(x, struct timer, node);
        t->fire(t);
    }
}

void *async__loop_main(void *arg)
{
    struct loop *lp = arg;
    struct epoll_event events[ASYNC_MAX_EVENTS];
    while (!lp->done) {
        lp->now = proc_now_ns();
        int n = async__poll_wait(lp->epfd, events, ASYNC_MAX_EVENTS, next_timeout_ms(lp));
        if (n < 0) {
            fprintf(stderr, "overlap serve: loop %d: epoll_wait: %s\n", lp->id, strerror(-n));
            break;
        }
        lp->now = proc_now_ns();
        async__conn_run_posted(lp); /* those that yielded last turn go first */
        for (int i = 0; i < n; i++)
            dispatch(lp, &events[i]);
        async__job_resume_ready(lp);
        fire_timers(lp);
        async__job_resume_ready(lp);
        reap_dead(lp);
        if (lp->stopping && lp->nconns == 0)
            lp->done = true;
    }
    return NULL;
}

/* ---- setup and teardown (on the main thread, before the loop's thread
 * starts and after it ends) ---- */

int async__loop_init(struct loop *lp, int id, const struct serve_config *cfg, int listen_fd)
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
    for (int i = 0; i < cfg->wl->nrequests; i++)
        if (cfg->wl->requests[i].nsteps > lp->max_steps)
            lp->max_steps = cfg->wl->requests[i].nsteps;
    async__timer_init(&lp->accept_pause, on_accept_pause_over);
    async__timer_init(&lp->stop_deadline, on_stop_deadline);
    async__list_init(&lp->conns);
    async__list_init(&lp->ready);
    async__list_init(&lp->posted);
    wl_rng_seed(&lp->rng, (uint64_t)lp->now ^ ((uint64_t)id << 32) ^ 0x6f7665726c6170ULL);
    lp->epfd = async__poll_create();
    if (lp->epfd < 0)
        return lp->epfd;
    int err = async__poll_add(lp->epfd, proc_stop_fd(), EPOLLIN, &lp->stop_watch);
    if (err == 0)
        err = async__poll_add(lp->epfd, listen_fd, EPOLLIN, &lp->listen_watch);
    if (err == 0)
        err = async__db_open_all(lp);
    return err;
}

void async__loop_free(struct loop *lp)
{
    while (!async__list_empty(&lp->conns)) {
        struct conn *c = async__container(lp->conns.next, struct conn, link);
        async__conn_free(c);
    }
    reap_dead(lp);
    async__db_close_all(lp);
    async__jobs_free(lp);
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
