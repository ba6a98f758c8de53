/* Request mode's front end: one thread that accepts connections and holds
 * every connection that is between requests, as in Apache's event MPM or
 * Tomcat NIO. It reads and parses request heads (so a queued request's
 * `queue` phase starts when its head was complete), puts whole requests into
 * the bounded queue, answers 503 at once when the queue is full, and takes
 * connections back from workers through the return list. It alone closes
 * connections, so its list of held connections needs no lock.
 *
 * Connection fds are registered EPOLLONESHOT: a connection reported readable
 * is disarmed until the poller re-arms it, so it never fires while a worker
 * owns it. Timeouts (idle, slow header, linger) are found by scanning the
 * held connections every SCAN_NS, not per event. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "pool_internal.h"

#define MAX_EVENTS      256
#define SCAN_NS         100000000ULL /* timeouts are checked ten times a second */
#define ACCEPT_PAUSE_NS 100000000ULL /* out of descriptors: stop accepting this long */

/* epoll's data.ptr for the fds that are not connections */
static char listen_tag, stop_tag, wake_tag;

struct poller {
    struct pool *pool;
    int epfd;
    struct pool__conn held; /* list head: connections the poller holds */
    int nbusy;              /* connections queued or with a worker */
    bool stopping, accepting;
    uint64_t accept_resume_at, next_scan, grace_end;
    struct http_buf out; /* 503s and parse errors written from this thread */
};

/* ---- the list of held connections ---- */

static void hold(struct poller *pl, struct pool__conn *c)
{
    c->next = pl->held.next;
    c->prev = &pl->held;
    pl->held.next->prev = c;
    pl->held.next = c;
}

static void unhold(struct pool__conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void drop(struct poller *pl, struct pool__conn *c)
{
    if (c->prev)
        unhold(c);
    pool__conn_free(c);
}

/* ---- epoll, the poller's six small functions ---- */

static int watch(struct poller *pl, int op, int fd, void *ptr, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    return epoll_ctl(pl->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int arm(struct poller *pl, struct pool__conn *c, int op)
{
    return watch(pl, op, c->fd, c, EPOLLIN | EPOLLRDHUP | EPOLLONESHOT);
}

/* Waits for readable input (or EOF) with the write side already shut. */
static void start_linger(struct poller *pl, struct pool__conn *c, uint64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->state = POOL_CONN_LINGER;
    c->deadline = now + POOL_LINGER_NS;
    if (pl->stopping || arm(pl, c, EPOLL_CTL_MOD) < 0) {
        drop(pl, c);
        return;
    }
    if (!c->prev)
        hold(pl, c);
}

/* Waits for c's next bytes. The deadline is left as it is: it was set when
 * the connection came back or its request began, and reading part of a head
 * must not extend it (a client trickling bytes still meets the header
 * timeout). */
static void rearm_idle(struct poller *pl, struct pool__conn *c)
{
    c->state = POOL_CONN_IDLE;
    if (pl->stopping && c->in_len == 0) {
        drop(pl, c); /* between requests: nothing in flight to finish */
        return;
    }
    if (arm(pl, c, EPOLL_CTL_MOD) < 0) {
        drop(pl, c);
        return;
    }
    if (!c->prev)
        hold(pl, c);
}

/* ---- requests in, 503s out ---- */

/* The queue is full: answer at once, and keep the connection if its client
 * asked to. Returns false if the connection was closed. */
static bool shed(struct poller *pl, struct pool__conn *c, uint64_t now)
{
    struct pool *p = pl->pool;
    bool keep = c->req.keep_alive && !pl->stopping;
    atomic_fetch_add_explicit(&p->shed, 1, memory_order_relaxed);
    if (pool__write_error_now(&pl->out, c->fd, &c->req, 503, "queue full", keep) < 0) {
        drop(pl, c);
        return false;
    }
    pool__conn_consume(c);
    if (!keep) {
        start_linger(pl, c, now);
        return false;
    }
    return true;
}

/* Queues c's ready request: true if queued, and then c belongs to the
 * workers and must not be touched; false if the queue is full. */
static bool dispatch(struct poller *pl, struct pool__conn *c)
{
    if (c->prev)
        unhold(c);
    c->state = POOL_CONN_QUEUED;
    pl->nbusy++;
    if (pool__queue_push(&pl->pool->queue, c) == 0)
        return true;
    pl->nbusy--;
    c->state = POOL_CONN_IDLE;
    hold(pl, c);
    return false;
}

/* A held connection is readable: read, and queue each whole request. */
static void on_readable(struct poller *pl, struct pool__conn *c)
{
    uint64_t now = proc_now_ns();
    if (c->state == POOL_CONN_LINGER) {
        char sink[4096];
        ssize_t n;
        while ((n = read(c->fd, sink, sizeof(sink))) > 0)
            ;
        if (n == 0 || (errno != EAGAIN && errno != EINTR) || arm(pl, c, EPOLL_CTL_MOD) < 0)
            drop(pl, c);
        return;
    }
    for (;;) {
        int r = pool__conn_advance(c, now);
        if (r == POOL_READY) {
            if (dispatch(pl, c))
                return;
            if (!shed(pl, c, now))
                return;
            continue;
        }
        if (r < 0) {
            if (pool__write_error_now(&pl->out, c->fd, NULL, -r, NULL, false) < 0)
                drop(pl, c);
            else
                start_linger(pl, c, now);
            return;
        }
        ssize_t n = pool__conn_read(c, pl->pool->cfg, now);
        if (n == -EAGAIN) {
            rearm_idle(pl, c);
            return;
        }
        if (n <= 0) {
            drop(pl, c);
            return;
        }
    }
}

static void on_acceptable(struct poller *pl)
{
    int one = 1;
    for (;;) {
        int fd = accept4(pl->pool->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: let some close before trying again */
                watch(pl, EPOLL_CTL_DEL, pl->pool->listen_fd, NULL, 0);
                pl->accepting = false;
                pl->accept_resume_at = proc_now_ns() + ACCEPT_PAUSE_NS;
            }
            return; /* EAGAIN, or a connection that died in the backlog */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct pool__conn *c = pool__conn_new(fd);
        if (!c) {
            close(fd);
            continue;
        }
        c->state = POOL_CONN_IDLE;
        pool__conn_arm(c, pl->pool->cfg, proc_now_ns());
        if (arm(pl, c, EPOLL_CTL_ADD) < 0) {
            pool__conn_free(c);
            continue;
        }
        hold(pl, c);
    }
}

/* Workers hand connections back: re-arm the kept ones, close the others. */
static void on_wake(struct poller *pl)
{
    struct pool *p = pl->pool;
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
        pl->nbusy--;
        if (c->state == POOL_CONN_IDLE) {
            pool__conn_arm(c, pl->pool->cfg, now);
            rearm_idle(pl, c);
        } else if (c->state == POOL_CONN_CLOSING)
            start_linger(pl, c, now);
        else
            drop(pl, c);
        c = next;
    }
}

/* SIGINT/SIGTERM: stop accepting and let the requests in flight finish
 * within the grace period. The held connections are closed after the current
 * batch of events, which may still name some of them. */
static void on_stop(struct poller *pl)
{
    pl->stopping = true;
    pl->grace_end = proc_now_ns() + pl->pool->cfg->db_timeout_ns + POOL_SHUTDOWN_GRACE_NS;
    watch(pl, EPOLL_CTL_DEL, proc_stop_fd(), NULL, 0);
    if (pl->accepting)
        watch(pl, EPOLL_CTL_DEL, pl->pool->listen_fd, NULL, 0);
    pl->accepting = false;
    close(pl->pool->listen_fd); /* new clients are refused, not left in the backlog */
    pl->pool->listen_fd = -1;
}

static void drop_all_held(struct poller *pl)
{
    while (pl->held.next != &pl->held)
        drop(pl, pl->held.next);
}

/* Closes held connections past their deadline; resumes accepting. */
static void scan(struct poller *pl, uint64_t now)
{
    pl->next_scan = now + SCAN_NS;
    for (struct pool__conn *c = pl->held.next, *next; c != &pl->held; c = next) {
        next = c->next;
        if (now >= c->deadline)
            drop(pl, c);
    }
    if (!pl->accepting && !pl->stopping && now >= pl->accept_resume_at)
        pl->accepting = watch(pl, EPOLL_CTL_ADD, pl->pool->listen_fd, &listen_tag, EPOLLIN) == 0;
}

static int poller_init(struct poller *pl, struct pool *p)
{
    memset(pl, 0, sizeof(*pl));
    pl->pool = p;
    pl->held.next = pl->held.prev = &pl->held;
    http_buf_init(&pl->out);
    pl->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (pl->epfd < 0)
        return -errno;
    int err = watch(pl, EPOLL_CTL_ADD, p->listen_fd, &listen_tag, EPOLLIN);
    if (!err)
        err = watch(pl, EPOLL_CTL_ADD, proc_stop_fd(), &stop_tag, EPOLLIN);
    if (!err)
        err = watch(pl, EPOLL_CTL_ADD, p->wake_fd, &wake_tag, EPOLLIN);
    pl->accepting = err == 0;
    return err;
}

static void poller_free(struct poller *pl)
{
    drop_all_held(pl);
    if (pl->epfd >= 0)
        close(pl->epfd);
    http_buf_free(&pl->out);
}

/* Runs until stopped and drained (0), or until the grace period ran out
 * with requests still in flight (1: workers cannot be joined). */
static int poller_loop(struct poller *pl)
{
    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        uint64_t now = proc_now_ns();
        if (pl->stopping && pl->nbusy == 0)
            return 0;
        if (pl->stopping && now >= pl->grace_end)
            return 1;
        if (now >= pl->next_scan)
            scan(pl, now);
        int timeout_ms = (int)((pl->next_scan - now) / 1000000) + 1;
        int n = epoll_wait(pl->epfd, ev, MAX_EVENTS, timeout_ms);
        bool was_stopping = pl->stopping;
        for (int i = 0; i < n; i++) {
            void *ptr = ev[i].data.ptr;
            if (ptr == &listen_tag)
                on_acceptable(pl);
            else if (ptr == &stop_tag)
                on_stop(pl);
            else if (ptr == &wake_tag)
                on_wake(pl);
            else
                on_readable(pl, ptr);
        }
        if (pl->stopping && !was_stopping)
            drop_all_held(pl);
    }
}

int pool__run_request_mode(struct pool *p)
{
    struct poller pl;
    int err = poller_init(&pl, p);
    if (err < 0) {
        fprintf(stderr, "overlap serve: epoll: %s\n", strerror(-err));
        poller_free(&pl);
        return -1;
    }
    int leftover = poller_loop(&pl);
    poller_free(&pl);
    return leftover;
}
