/* Request mode, both sides of the hand-off. The front end is one thread (the
 * main one) that accepts connections and holds every connection that is
 * between requests, as in Apache's event MPM or Tomcat NIO. It reads and
 * parses request heads (so a queued request's `queue` phase starts when its
 * head was complete), puts whole requests into the bounded queue, answers 503
 * at once when the queue is full, and takes connections back from workers
 * through the return list. A worker serves the queued request and any
 * pipelined ones behind it, then hands the connection back. Only the front
 * end closes connections, so its list of held connections needs no lock.
 *
 * Connection fds are registered EPOLLONESHOT: a connection reported readable
 * is disarmed until the front end re-arms it, so it never fires while a
 * worker owns it. Timeouts (idle, slow header, linger) are found by scanning
 * the held connections every SCAN_NS, not per event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_internal.h"

#define SCAN_NS 100000000ULL /* timeouts are checked ten times a second */

/* What the poller hands back for the fds that are not connections. Events
 * are told apart by these addresses, not by kind: anything else is a
 * connection, whose watch is the first member of its struct pool__conn. */
static struct evloop_watch listen_tag, stop_tag, wake_tag;

struct front_end {
    struct pool *pool;
    int epfd;
    struct evloop_list held; /* connections the front end holds */
    int nbusy;               /* connections queued or with a worker */
    bool stopping, accepting;
    uint64_t accept_resume_at, next_scan, grace_end;
    struct http_buf out; /* 503s and parse errors written from this thread */
};

/* ---- the list of held connections ---- */

/* Holds c unless it is held already. */
static void hold(struct front_end *fe, struct pool__conn *c)
{
    if (evloop_list_empty(&c->link))
        evloop_list_push(&fe->held, &c->link);
}

/* Closes c, held or not (a connection in no list is linked to itself). */
static void drop(struct pool__conn *c)
{
    evloop_list_remove(&c->link);
    pool__conn_free(c);
}

static void drop_all_held(struct front_end *fe)
{
    while (!evloop_list_empty(&fe->held))
        drop(pool__conn_of(fe->held.next));
}

/* ---- waiting in the poller ---- */

/* Waits for readable input (or EOF) with the write side already shut. */
static void start_linger(struct front_end *fe, struct pool__conn *c, uint64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->state = POOL_CONN_LINGER;
    c->deadline = now + EVLOOP_LINGER_NS;
    if (fe->stopping || pool__conn_watch(fe->epfd, c, false) < 0) {
        drop(c);
        return;
    }
    hold(fe, c);
}

/* Waits for c's next bytes. The deadline is left as it is: it was set when
 * the connection came back or its request began, and reading part of a head
 * must not extend it (a client trickling bytes still meets the header
 * timeout). */
static void rearm_idle(struct front_end *fe, struct pool__conn *c)
{
    c->state = POOL_CONN_IDLE;
    if (fe->stopping && c->in_len == 0) {
        drop(c); /* between requests: nothing in flight to finish */
        return;
    }
    if (pool__conn_watch(fe->epfd, c, false) < 0) {
        drop(c);
        return;
    }
    hold(fe, c);
}

/* ---- requests in, 503s out ---- */

/* The queue is full: answer at once, and keep the connection if its client
 * asked to. Returns false if the connection was closed. */
static bool shed(struct front_end *fe, struct pool__conn *c, uint64_t now)
{
    struct pool *p = fe->pool;
    bool keep = c->req.keep_alive && !fe->stopping;
    atomic_fetch_add_explicit(&p->shed, 1, memory_order_relaxed);
    if (pool__write_error_now(&fe->out, c->fd, &c->req, 503, "queue full", keep) < 0) {
        drop(c);
        return false;
    }
    pool__conn_consume(c);
    if (!keep) {
        start_linger(fe, c, now);
        return false;
    }
    return true;
}

/* Queues c's ready request: true if queued, and then c belongs to the
 * workers and must not be touched; false if the queue is full. */
static bool dispatch(struct front_end *fe, struct pool__conn *c)
{
    evloop_list_remove(&c->link); /* held or not */
    c->state = POOL_CONN_QUEUED;
    fe->nbusy++;
    if (pool__queue_push(&fe->pool->queue, c) == 0)
        return true;
    fe->nbusy--;
    c->state = POOL_CONN_IDLE;
    hold(fe, c);
    return false;
}

/* A lingering connection is readable: read what came and wait for EOF. */
static void on_linger_readable(struct front_end *fe, struct pool__conn *c)
{
    char sink[4096];
    ssize_t n;
    while ((n = read(c->fd, sink, sizeof(sink))) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EINTR) || pool__conn_watch(fe->epfd, c, false) < 0)
        drop(c);
}

/* A held connection is readable: read, and queue each whole request. */
static void on_readable(struct front_end *fe, struct pool__conn *c)
{
    uint64_t now = proc_now_ns();
    for (;;) {
        int r = pool__conn_advance(c, now);
        if (r == POOL_READY) {
            if (dispatch(fe, c) || !shed(fe, c, now))
                return;
            continue;
        }
        if (r < 0) {
            if (pool__write_error_now(&fe->out, c->fd, NULL, -r, NULL, false) < 0)
                drop(c);
            else
                start_linger(fe, c, now);
            return;
        }
        ssize_t n = pool__conn_read(c, fe->pool->cfg, now);
        if (n == -EAGAIN) {
            rearm_idle(fe, c);
            return;
        }
        if (n <= 0) {
            drop(c);
            return;
        }
    }
}

/* Takes a new connection in (ctx is the front end): held, waiting for its
 * first request. */
static void take_in(void *ctx, int fd)
{
    struct front_end *fe = ctx;
    struct pool__conn *c = pool__conn_new(fd);
    if (!c) {
        close(fd);
        return;
    }
    c->state = POOL_CONN_IDLE;
    pool__conn_arm(c, fe->pool->cfg, proc_now_ns());
    if (pool__conn_watch(fe->epfd, c, true) < 0) {
        pool__conn_free(c);
        return;
    }
    hold(fe, c);
}

/* The listener is level-triggered: the front end accepts until the backlog
 * is empty. Out of descriptors, it stops watching the listener, and the scan
 * resumes it after a pause. */
static void on_acceptable(struct front_end *fe)
{
    if (pool__accept_batch(fe->pool, 0, take_in, fe) == POOL_ACCEPT_NO_FDS) {
        evloop_poll_del(fe->epfd, fe->pool->listen_fd);
        fe->accepting = false;
        fe->accept_resume_at = proc_now_ns() + POOL_ACCEPT_PAUSE_NS;
    }
}

/* Workers hand connections back: re-arm the kept ones, close the others. */
static void on_wake(struct front_end *fe)
{
    struct pool *p = fe->pool;
    uint64_t count, now = proc_now_ns();
    if (read(p->wake_fd, &count, sizeof(count)) < 0) {
        /* nothing pending: a spurious wake-up */
    }
    pthread_mutex_lock(&p->ret_mu);
    struct pool__conn *c = p->ret_head;
    p->ret_head = p->ret_tail = NULL;
    pthread_mutex_unlock(&p->ret_mu);
    while (c) {
        struct pool__conn *next = c->qnext;
        fe->nbusy--;
        if (c->state == POOL_CONN_IDLE) {
            pool__conn_arm(c, p->cfg, now);
            /* A pipelined head whose body is still to come: read what is
             * there now, since a client waiting for 100 Continue sends
             * nothing that would wake epoll. */
            if (c->head_len)
                on_readable(fe, c);
            else
                rearm_idle(fe, c);
        } else if (c->state == POOL_CONN_CLOSING)
            start_linger(fe, c, now);
        else
            drop(c);
        c = next;
    }
}

/* SIGINT/SIGTERM: stop accepting and let the requests in flight finish
 * until pool__stop_deadline. The held connections are closed after the
 * current batch of events, which may still name some of them. */
static void on_stop(struct front_end *fe)
{
    fe->stopping = true;
    fe->grace_end = pool__stop_deadline(fe->pool);
    evloop_poll_del(fe->epfd, proc_stop_fd());
    if (fe->accepting)
        evloop_poll_del(fe->epfd, fe->pool->listen_fd);
    fe->accepting = false;
    close(fe->pool->listen_fd); /* new clients are refused, not left in the backlog */
    fe->pool->listen_fd = -1;
}

static void on_event(struct front_end *fe, struct evloop_watch *x)
{
    struct pool__conn *c = (struct pool__conn *)x;
    if (x == &listen_tag)
        on_acceptable(fe);
    else if (x == &stop_tag)
        on_stop(fe);
    else if (x == &wake_tag)
        on_wake(fe);
    else if (c->state == POOL_CONN_LINGER)
        on_linger_readable(fe, c);
    else
        on_readable(fe, c);
}

/* Closes held connections past their deadline; resumes accepting. */
static void scan(struct front_end *fe, uint64_t now)
{
    fe->next_scan = now + SCAN_NS;
    for (struct evloop_list *n = fe->held.next, *next; n != &fe->held; n = next) {
        next = n->next;
        struct pool__conn *c = pool__conn_of(n);
        if (now >= c->deadline)
            drop(c);
    }
    if (!fe->accepting && !fe->stopping && now >= fe->accept_resume_at)
        fe->accepting = evloop_poll_add(fe->epfd, fe->pool->listen_fd, EPOLLIN, &listen_tag) == 0;
}

/* ---- the front end's life ---- */

static int front_end_init(struct front_end *fe, struct pool *p)
{
    memset(fe, 0, sizeof(*fe));
    fe->pool = p;
    evloop_list_init(&fe->held);
    http_buf_init(&fe->out);
    fe->epfd = evloop_poll_create();
    if (fe->epfd < 0)
        return fe->epfd;
    int err = evloop_poll_add(fe->epfd, p->listen_fd, EPOLLIN, &listen_tag);
    if (!err)
        err = evloop_poll_add(fe->epfd, proc_stop_fd(), EPOLLIN, &stop_tag);
    if (!err)
        err = evloop_poll_add(fe->epfd, p->wake_fd, EPOLLIN, &wake_tag);
    fe->accepting = err == 0;
    return err;
}

static void front_end_free(struct front_end *fe)
{
    drop_all_held(fe);
    if (fe->epfd >= 0)
        close(fe->epfd);
    http_buf_free(&fe->out);
}

/* Runs until stopped: true once every request in flight has finished,
 * false when the stop's deadline came with some still running (then the
 * workers cannot be joined). */
static bool front_end_loop(struct front_end *fe)
{
    struct epoll_event ev[EVLOOP_MAX_EVENTS];
    for (;;) {
        uint64_t now = proc_now_ns();
        if (fe->stopping && fe->nbusy == 0)
            return true;
        if (fe->stopping && now >= fe->grace_end)
            return false;
        if (now >= fe->next_scan)
            scan(fe, now);
        int timeout_ms = (int)((fe->next_scan - now) / 1000000) + 1;
        int n = evloop_poll_wait(fe->epfd, ev, EVLOOP_MAX_EVENTS, timeout_ms);
        bool was_stopping = fe->stopping;
        for (int i = 0; i < n; i++)
            on_event(fe, ev[i].data.ptr);
        if (fe->stopping && !was_stopping)
            drop_all_held(fe);
    }
}

int pool__run_request_mode(struct pool *p, bool *unfinished)
{
    struct front_end fe;
    int err = front_end_init(&fe, p);
    if (err < 0)
        fprintf(stderr, "overlap serve: epoll: %s\n", strerror(-err));
    else
        *unfinished = !front_end_loop(&fe);
    front_end_free(&fe);
    return err;
}

/* ---- the worker side ---- */

/* The worker is done with c: hand it back to the front end. The eventfd is
 * written only when the list was empty, since the front end drains the whole
 * list on each wake-up. */
static void hand_back(struct pool *p, struct pool__conn *c)
{
    uint64_t one = 1;
    c->qnext = NULL;
    pthread_mutex_lock(&p->ret_mu);
    bool was_empty = !p->ret_head;
    if (p->ret_tail)
        p->ret_tail->qnext = c;
    else
        p->ret_head = c;
    p->ret_tail = c;
    pthread_mutex_unlock(&p->ret_mu);
    if (was_empty && write(p->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is already non-zero: the front end will wake */
    }
}

void pool__request_worker(struct pool__worker *w)
{
    struct pool__conn *c;
    while ((c = pool__queue_pop(&w->pool->queue))) {
        c->state = pool__serve_ready(w, c); /* what the front end does with it next */
        hand_back(w->pool, c);
    }
}
