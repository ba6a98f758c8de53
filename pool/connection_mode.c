/* Connection mode: the classic blocking server. The acceptor (the main
 * thread) queues each new connection; a worker takes it and owns it from
 * accept to close, waiting in poll(2) for its next request. With --workers 0
 * every connection gets a thread of its own instead of a queue slot.
 *
 * A worker waits on its connection and on the stop eventfd together, so
 * SIGINT/SIGTERM wakes it: it finishes the request it is serving, then closes
 * the connection instead of waiting for another. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_internal.h"

/* Shuts the write side and reads until EOF, so the client gets the last
 * response before the close (closing with unread input would reset it). */
static void linger_close(struct pool__conn *c)
{
    char sink[4096];
    uint64_t deadline = proc_now_ns() + EVLOOP_LINGER_NS;
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

/* Waits until c is readable: true, or false when it timed out, the server
 * is stopping with no request begun, or poll failed. */
static bool wait_readable(struct pool__conn *c)
{
    struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                            {.fd = proc_stop_fd(), .events = POLLIN}};
    for (;;) {
        bool begun = c->in_len > 0 || c->head_len > 0;
        if (proc_stopping() && !begun)
            return false;
        uint64_t now = proc_now_ns();
        if (now >= c->deadline)
            return false;
        int n = poll(pfd, 2, (int)((c->deadline - now) / 1000000) + 1);
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0 && pfd[0].revents)
            return true;
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
            enum pool__conn_state next = pool__serve_one(w, c);
            if (next == POOL_CONN_CLOSING) {
                linger_close(c);
                return;
            }
            if (next == POOL_CONN_DEAD) {
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
        if (n == -EAGAIN && wait_readable(c))
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

/* The acceptor: the pool, and a buffer for its 503s. */
struct acceptor {
    struct pool *pool;
    struct http_buf out;
};

/* A new connection (ctx is the acceptor) goes to the queue, or with
 * --workers 0 to a thread of its own; when neither can take it, a 503. */
static void hand_over(void *ctx, int fd)
{
    struct acceptor *a = ctx;
    struct pool *p = a->pool;
    struct pool__conn *c = pool__conn_new(fd);
    if (!c) {
        close(fd);
        return;
    }
    int err = p->nworkers ? pool__queue_push(&p->queue, c) : spawn_thread(p, c);
    if (err < 0)
        refuse(p, c, &a->out);
}

/* Waits for the per-connection threads to finish: true, or false if some
 * still run at the stop's deadline. */
static bool wait_threads(struct pool *p)
{
    uint64_t end = pool__stop_deadline(p);
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
    return left == 0;
}

/* The main thread accepts until SIGINT/SIGTERM: the listener is
 * level-triggered, and each wakeup empties the backlog. Out of descriptors,
 * it sleeps a pause (nothing else waits on this thread) before the next
 * wakeup. */
int pool__run_connection_mode(struct pool *p, bool *unfinished)
{
    struct acceptor a = {.pool = p};
    struct pollfd pfd[2] = {{.fd = p->listen_fd, .events = POLLIN},
                            {.fd = proc_stop_fd(), .events = POLLIN}};
    http_buf_init(&a.out);
    while (!proc_stopping()) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents && !proc_stopping() &&
            pool__accept_batch(p, 0, hand_over, &a) == POOL_ACCEPT_NO_FDS)
            poll(NULL, 0, (int)(POOL_ACCEPT_PAUSE_NS / 1000000)); /* let some close first */
    }
    http_buf_free(&a.out);
    close(p->listen_fd); /* new clients are refused, not left in the backlog */
    p->listen_fd = -1;
    *unfinished = p->nworkers == 0 && !wait_threads(p);
    return 0;
}
