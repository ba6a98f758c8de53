/* Connection mode: the classic blocking server. The acceptor (the main
 * thread) queues each new connection; a worker takes it and owns it from
 * accept to close, waiting in poll(2) for its next request. With --workers 0
 * every connection gets a thread of its own instead of a queue slot.
 *
 * A worker waits on its connection and on the stop eventfd together, so
 * SIGINT/SIGTERM wakes it: it finishes the request it is serving, then closes
 * the connection instead of waiting for another. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "pool_internal.h"

/* Shuts the write side and reads until EOF, so the client gets the last
 * response before the close (closing with unread input would reset it). */
static void linger_close(struct pool__conn *c)
{
    char sink[4096];
    uint64_t deadline = proc_now_ns() + POOL_LINGER_NS;
    shutdown(c->fd, SHUT_WR);
    for (;;) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        uint64_t now = proc_now_ns();
        if (n == 0 || (errno != EAGAIN && errno != EINTR) || now >= deadline)
            break;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
    }
    pool__conn_free(c);
}

/* Waits until c is readable: 1, or 0 when it timed out or the server is
 * stopping with no request begun, or -1 on error. */
static int wait_readable(struct pool__conn *c)
{
    struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                            {.fd = proc_stop_fd(), .events = POLLIN}};
    for (;;) {
        bool begun = c->in_len > 0 || c->head_len > 0;
        if (proc_stopping() && !begun)
            return 0;
        uint64_t now = proc_now_ns();
        if (now >= c->deadline)
            return 0;
        int n = poll(pfd, 2, (int)((c->deadline - now) / 1000000) + 1);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0 && pfd[0].revents)
            return 1;
        if (n > 0 && pfd[1].revents)
            pfd[1].fd = -1; /* stopping: from now on wait only for the request begun */
    }
}

/* Serves c until it closes, times out or the server stops. */
static void serve_connection(struct pool__worker *w, struct pool__conn *c)
{
    const struct serve_config *cfg = w->pool->cfg;
    pool__conn_arm(c, cfg, proc_now_ns());
    for (;;) {
        int r = pool__conn_advance(c, proc_now_ns());
        if (r == POOL_READY) {
            int keep = pool__serve_one(w, c);
            if (keep <= 0) {
                if (keep == 0)
                    linger_close(c);
                else
                    pool__conn_free(c);
                return;
            }
            pool__conn_consume(c);
            pool__conn_arm(c, cfg, proc_now_ns());
            continue;
        }
        if (r < 0) {
            pool__write_error_now(&w->out, c->fd, NULL, -r, NULL, false);
            linger_close(c);
            return;
        }
        ssize_t n = pool__conn_read(c, cfg, proc_now_ns());
        if (n == -EAGAIN && wait_readable(c) == 1)
            continue;
        if (n <= 0) {
            pool__conn_free(c);
            return;
        }
    }
}

void pool__connection_worker(struct pool__worker *w)
{
    struct pool__conn *c;
    while ((c = pool__queue_pop(&w->pool->queue)))
        serve_connection(w, c);
}

/* --workers 0: one thread per connection, with a worker of its own. */
struct own_thread {
    struct pool__worker w;
    struct pool__conn *c;
};

static void *connection_thread(void *arg)
{
    struct own_thread *t = arg;
    struct pool *p = t->w.pool;
    serve_connection(&t->w, t->c);
    pool__worker_free(&t->w);
    free(t);
    pthread_mutex_lock(&p->live_mu);
    if (--p->live == 0)
        pthread_cond_broadcast(&p->live_cv);
    pthread_mutex_unlock(&p->live_mu);
    return NULL;
}

static int spawn_thread(struct pool *p, struct pool__conn *c)
{
    struct own_thread *t = malloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    pool__worker_init(&t->w, p, -1);
    t->c = c;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&p->live_mu);
    p->live++;
    pthread_mutex_unlock(&p->live_mu);
    int err = pthread_create(&t->w.thread, &attr, connection_thread, t);
    pthread_attr_destroy(&attr);
    if (err) {
        pthread_mutex_lock(&p->live_mu);
        p->live--;
        pthread_mutex_unlock(&p->live_mu);
        pool__worker_free(&t->w);
        free(t);
        return -err;
    }
    return 0;
}

/* No worker can take c: answer 503 before reading its request, and close. */
static void refuse(struct pool *p, struct pool__conn *c, struct http_buf *out)
{
    char sink[4096];
    atomic_fetch_add_explicit(&p->shed, 1, memory_order_relaxed);
    pool__write_error_now(out, c->fd, NULL, 503, "queue full", false);
    shutdown(c->fd, SHUT_WR);
    while (read(c->fd, sink, sizeof(sink)) > 0)
        ; /* what has arrived is read, so the close does not reset the 503 */
    pool__conn_free(c);
}

static void accept_all(struct pool *p, struct http_buf *out)
{
    int one = 1;
    pool__note_backlog(p);
    for (;;) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                poll(NULL, 0, 100); /* out of descriptors: let some close first */
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct pool__conn *c = pool__conn_new(fd);
        if (!c) {
            close(fd);
            continue;
        }
        int err = p->nworkers ? pool__queue_push(&p->queue, c) : spawn_thread(p, c);
        if (err < 0)
            refuse(p, c, out);
    }
}

/* Waits for the per-connection threads to finish: 0, or 1 if some still run
 * after the grace period. */
static int wait_threads(struct pool *p)
{
    uint64_t end = proc_now_ns() + p->cfg->db_timeout_ns + POOL_SHUTDOWN_GRACE_NS;
    struct timespec ts;
    int left;
    pthread_mutex_lock(&p->live_mu);
    while (p->live > 0 && proc_now_ns() < end) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->live_cv, &p->live_mu, &ts);
    }
    left = p->live;
    pthread_mutex_unlock(&p->live_mu);
    return left > 0;
}

int pool__run_connection_mode(struct pool *p)
{
    struct http_buf out;
    struct pollfd pfd[2] = {{.fd = p->listen_fd, .events = POLLIN},
                            {.fd = proc_stop_fd(), .events = POLLIN}};
    http_buf_init(&out);
    while (!proc_stopping()) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents && !proc_stopping())
            accept_all(p, &out);
    }
    http_buf_free(&out);
    close(p->listen_fd); /* new clients are refused, not left in the backlog */
    p->listen_fd = -1;
    return p->nworkers ? 0 : wait_threads(p);
}
